import { Cron } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { hardenedContainer, hardenedPodProps, WorkloadPolicy } from '../lib';
import { assertValid } from '../lib/testing';
import { secretRef } from './support/refs';
import { findAll, findContainer, findObject, synthObjects, testChart } from './support/synth';

const ADDR = 'cdk8s.io/metadata.addr';
const SELECTOR = { 'app.kubernetes.io/name': 'web', 'app.kubernetes.io/instance': 'web' };

function webDeployment(chart = testChart('apps'), props: Partial<kplus.DeploymentProps> = {}) {
  const web = new kplus.Deployment(chart, 'Web', {
    metadata: { name: 'web' },
    ...hardenedPodProps(),
    containers: [hardenedContainer({ name: 'app', image: 'registry.example.com/web:3.1.0', portNumber: 8080 })],
    ...props,
  });
  return { chart, web };
}

describe('WorkloadPolicy: selectors and labels', () => {
  test('selects by name + instance and removes the construct-path label, even without select: false', () => {
    // GIVEN a Deployment made with cdk8s-plus's default selector (select is true: by the construct path)
    const { chart, web } = webDeployment();
    // WHEN the policy is applied
    new WorkloadPolicy(chart, 'Policy', { workload: web, name: 'web' });
    const dep = findObject(synthObjects(chart), 'Deployment', 'web');
    // THEN neither the selector nor the pod template carries the construct-path label
    expect(dep.spec.selector).toEqual({ matchLabels: SELECTOR });
    expect(dep.spec.template.metadata.labels[ADDR]).toBeUndefined();
    expect(dep.spec.template.metadata.labels).toMatchObject(SELECTOR);
  });

  test('puts the recommended labels on the workload, its pods and every object it makes', () => {
    const { chart, web } = webDeployment(undefined, { replicas: 3 });
    new WorkloadPolicy(chart, 'Policy', { workload: web, name: 'web', component: 'frontend', partOf: 'shop', port: 8080 });
    const objects = synthObjects(chart);
    expect(objects.map((o) => o.kind).sort()).toEqual(['Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Service']);
    for (const o of objects) {
      expect(o.metadata.labels).toEqual({
        ...SELECTOR,
        'app.kubernetes.io/component': 'frontend',
        'app.kubernetes.io/part-of': 'shop',
        'app.kubernetes.io/managed-by': 'cdk8s',
      });
    }
    expect(findObject(objects, 'Deployment').spec.template.metadata.labels).toMatchObject({ 'app.kubernetes.io/component': 'frontend' });
    expect(findObject(objects, 'Service').spec.selector).toEqual(SELECTOR);
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('instance defaults to the workload name; a Job and a CronJob get their pod labels at the right path', () => {
    const chart = testChart('apps');
    const job = new kplus.Job(chart, 'Once', {
      metadata: { name: 'once' },
      ...hardenedPodProps(),
      containers: [hardenedContainer({ name: 'main', image: 'busybox:1.36.1' })],
    });
    const cron = new kplus.CronJob(chart, 'Tick', {
      metadata: { name: 'tick' },
      schedule: Cron.hourly(),
      ...hardenedPodProps(),
      containers: [hardenedContainer({ name: 'main', image: 'busybox:1.36.1' })],
    });
    new WorkloadPolicy(chart, 'OncePolicy', { workload: job, name: 'batch' });
    new WorkloadPolicy(chart, 'TickPolicy', { workload: cron, name: 'batch' });
    const objects = synthObjects(chart);
    expect(findObject(objects, 'Job').spec.template.metadata.labels).toMatchObject({ 'app.kubernetes.io/instance': 'once' });
    const cronLabels = findObject(objects, 'CronJob').spec.jobTemplate.spec.template.metadata.labels;
    expect(cronLabels).toMatchObject({ 'app.kubernetes.io/name': 'batch', 'app.kubernetes.io/instance': 'tick' });
    expect(cronLabels[ADDR]).toBeUndefined();
    // no PodDisruptionBudget, Service or spread for batch workloads; a NetworkPolicy each that lets nothing in (DNS egress)
    expect(objects.map((o) => o.kind).sort()).toEqual(['CronJob', 'Job', 'NetworkPolicy', 'NetworkPolicy']);
    for (const np of findAll(objects, 'NetworkPolicy')) expect(np.spec.ingress).toBeUndefined();
    expect(() => assertValid(objects)).not.toThrow();
  });
});

describe('WorkloadPolicy: probes and hardening', () => {
  test("removes cdk8s-plus's default TCP startupProbe, keeps a startup probe of yours", () => {
    const chart = testChart('apps');
    const web = new kplus.Deployment(chart, 'Web', { metadata: { name: 'web' }, ...hardenedPodProps() });
    // containers added with portNumber directly: cdk8s-plus gives each a TCP startupProbe unless `startup` is set
    web.addContainer({ ...hardenedContainer({ name: 'plain', image: 'busybox:1.36.1' }), portNumber: 8080 });
    web.addContainer({
      ...hardenedContainer({ name: 'own', image: 'busybox:1.36.1' }),
      portNumber: 9090,
      startup: kplus.Probe.fromTcpSocket({ port: 9090, failureThreshold: 30 }),
    });
    new WorkloadPolicy(chart, 'Policy', { workload: web, name: 'web' });
    const dep = findObject(synthObjects(chart), 'Deployment');
    expect(findContainer(dep, 'plain').startupProbe).toBeUndefined();
    expect(findContainer(dep, 'own').startupProbe).toMatchObject({ tcpSocket: { port: 9090 }, failureThreshold: 30 });
  });

  test('refuses at synth a container added later without the hardening, naming the container and the field', () => {
    const { chart, web } = webDeployment();
    new WorkloadPolicy(chart, 'Policy', { workload: web, name: 'web' });
    web.addContainer({ name: 'debug', image: 'busybox:1.36.1', securityContext: { readOnlyRootFilesystem: false } });
    expect(() => synthObjects(chart)).toThrow(
      /WorkloadPolicy "web": container "debug" securityContext.readOnlyRootFilesystem must be true, got false: build it with hardenedContainer/,
    );
    expect(() => synthObjects(chart)).toThrow(/container "debug" securityContext.capabilities.drop must include ALL, got \[\]/);
  });

  test('refuses a pod that mounts the default ServiceAccount token', () => {
    const chart = testChart('apps');
    const web = new kplus.Deployment(chart, 'Web', {
      metadata: { name: 'web' },
      ...hardenedPodProps(),
      automountServiceAccountToken: true,
      containers: [hardenedContainer({ name: 'app', image: 'busybox:1.36.1' })],
    });
    new WorkloadPolicy(chart, 'Policy', { workload: web, name: 'web' });
    expect(() => synthObjects(chart)).toThrow(/pod automountServiceAccountToken must be false without a serviceAccount/);
  });

  test('refuses a port no container serves', () => {
    const { chart, web } = webDeployment();
    new WorkloadPolicy(chart, 'Policy', { workload: web, name: 'web', port: 9000 });
    expect(() => synthObjects(chart)).toThrow(/WorkloadPolicy "web": port 9000 is served by no container \(declared: app \[8080\]\)/);
  });
});

describe('WorkloadPolicy: the defaults policy', () => {
  test.each([
    [1, false],
    [2, true],
    [undefined, true], // cdk8s-plus's own default for a Deployment: 2
  ])('replicas %p: spread over nodes and a PodDisruptionBudget = %p', (replicas, expected) => {
    const { chart, web } = webDeployment(undefined, replicas === undefined ? {} : { replicas });
    new WorkloadPolicy(chart, 'Policy', { workload: web, name: 'web' });
    const objects = synthObjects(chart);
    const affinity = findObject(objects, 'Deployment').spec.template.spec.affinity;
    if (expected) {
      expect(affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toEqual([
        { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: SELECTOR } } },
      ]);
      expect(findObject(objects, 'PodDisruptionBudget').spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: SELECTOR } });
    } else {
      expect(affinity).toBeUndefined();
      expect(findAll(objects, 'PodDisruptionBudget')).toEqual([]);
    }
  });

  test('keeps a node affinity of yours and adds the spread beside it', () => {
    const { chart, web } = webDeployment(undefined, { replicas: 3 });
    web.scheduling.attract(kplus.Node.labeled(kplus.NodeLabelQuery.is('pool', 'web')));
    new WorkloadPolicy(chart, 'Policy', { workload: web, name: 'web', podDisruptionBudget: false });
    const objects = synthObjects(chart);
    const affinity = findObject(objects, 'Deployment').spec.template.spec.affinity;
    expect(affinity.nodeAffinity).toBeDefined();
    expect(affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight).toBe(100);
    expect(findAll(objects, 'PodDisruptionBudget')).toEqual([]);
  });

  test('refuses replicas above 1000, a name that is no label value and a PodDisruptionBudget for a Job', () => {
    const { chart, web } = webDeployment(undefined, { replicas: 1001 });
    expect(() => new WorkloadPolicy(chart, 'Policy', { workload: web, name: 'web' })).toThrow(
      /workload replicas must be an integer 0-1000, got 1001/,
    );
    expect(() => new WorkloadPolicy(chart, 'Named', { workload: web, name: 'My App' })).toThrow(/^name must be a valid label value .*got "My App"/);
    const job = new kplus.Job(chart, 'Once', { ...hardenedPodProps(), containers: [hardenedContainer({ name: 'main', image: 'busybox:1.36.1' })] });
    expect(() => new WorkloadPolicy(chart, 'JobPolicy', { workload: job, name: 'once', podDisruptionBudget: { maxUnavailable: 1 } })).toThrow(
      /podDisruptionBudget applies to Deployments and StatefulSets only, got it for a Job/,
    );
    expect(() => new WorkloadPolicy(chart, 'NoPort', { workload: job, name: 'once2', servicePort: 80 })).toThrow(/servicePort needs port/);
  });

  test('a Service on port 80 targeting the given port, a NetworkPolicy for the namespace', () => {
    const { chart, web } = webDeployment();
    const policy = new WorkloadPolicy(chart, 'Policy', { workload: web, name: 'web', port: 8080 });
    const objects = synthObjects(chart);
    expect(findObject(objects, 'Service').spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080 }]);
    expect(findObject(objects, 'NetworkPolicy').spec.ingress).toEqual([{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 8080 }] }]);
    expect(policy.service).toBeDefined();
    expect(policy.selector).toEqual(SELECTOR);
  });
});

describe('WorkloadPolicy: verbs match their props', () => {
  const peer = { ipBlock: { cidr: '10.0.0.0/8' } };
  const ingress = () => ({ host: 'web.example.com', tlsSecret: secretRef('web-tls') });

  test('allowFrom, allowFromNamespaces and exposeViaIngress give the YAML of the props', () => {
    const byProps = webDeployment();
    new WorkloadPolicy(byProps.chart, 'Policy', {
      workload: byProps.web,
      name: 'web',
      port: 8080,
      networkPolicy: { allowFrom: [peer], allowFromNamespaces: ['shop'] },
      ingress: ingress(),
    });
    const byVerbs = webDeployment();
    const policy = new WorkloadPolicy(byVerbs.chart, 'Policy', { workload: byVerbs.web, name: 'web', port: 8080 });
    policy.allowFrom(peer);
    policy.allowFromNamespaces('shop');
    policy.exposeViaIngress(ingress());
    // the same objects (an Ingress made by the verb comes later in the output)
    const sorted = (chart: typeof byProps.chart) =>
      synthObjects(chart).sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
    expect(sorted(byVerbs.chart)).toEqual(sorted(byProps.chart));
  });

  test('each verb refuses what its prop refuses, with the same message', () => {
    const bad = { ipBlock: { cidr: '10.0.0.0/33' } };
    const viaProp = () =>
      new WorkloadPolicy(webDeployment().chart, 'P', { workload: webDeployment().web, name: 'web', port: 8080, networkPolicy: { allowFrom: [bad] } });
    const policy = new WorkloadPolicy(webDeployment().chart, 'P', { workload: webDeployment().web, name: 'web', port: 8080 });
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(message(() => policy.allowFrom(bad))).toBe(message(viaProp));
    expect(message(() => policy.allowFromNamespaces('Not_A_Namespace'))).toMatch(/networkPolicy.allowFromNamespaces/);
    expect(message(() => policy.exposeViaIngress({ tlsSecret: secretRef('x-tls') }))).toBe(
      message(
        () =>
          new WorkloadPolicy(webDeployment().chart, 'Q', {
            workload: webDeployment().web,
            name: 'web',
            port: 8080,
            ingress: { tlsSecret: secretRef('x-tls') },
          }),
      ),
    );
    policy.exposeViaIngress({ host: 'a.example.com' });
    expect(() => policy.exposeViaIngress({ host: 'b.example.com' })).toThrow(/ingress is already set \(host "a.example.com"\)/);
  });

  test('verbs that need a Service say so without one', () => {
    const { chart, web } = webDeployment();
    const policy = new WorkloadPolicy(chart, 'Policy', { workload: web, name: 'web' });
    expect(() => policy.allowFrom({ podSelector: {} })).toThrow(/allowFrom needs a Service: give WorkloadPolicy a port/);
    expect(() => new WorkloadPolicy(chart, 'Other', { workload: web, name: 'web', networkPolicy: { allowFromNamespaces: ['x'] } })).toThrow(
      /networkPolicy options need port \(they say who may connect to it\)/,
    );
    // egress still grows without a port
    policy.allowEgressTo({ ipBlock: { cidr: '10.1.0.0/16' } }, { ports: [5432] });
    expect(findObject(synthObjects(chart), 'NetworkPolicy').spec.egress).toContainEqual({
      to: [{ ipBlock: { cidr: '10.1.0.0/16' } }],
      ports: [{ protocol: 'TCP', port: 5432 }],
    });
  });

  test('rollOnChange puts a checksum of the content on the pod template, which changes with it', () => {
    const annotation = (content: string) => {
      const { chart, web } = webDeployment();
      new WorkloadPolicy(chart, 'Policy', { workload: web, name: 'web' }).rollOnChange('config', content);
      return findObject(synthObjects(chart), 'Deployment').spec.template.metadata.annotations;
    };
    expect(Object.keys(annotation('a=1'))).toEqual(['checksum/config']);
    expect(annotation('a=1')).toEqual(annotation('a=1'));
    expect(annotation('a=1')).not.toEqual(annotation('a=2'));
    const { chart, web } = webDeployment();
    expect(() => new WorkloadPolicy(chart, 'Policy', { workload: web, name: 'web' }).rollOnChange('', 'x')).toThrow(
      /rollOnChange name must be the name part of an annotation key .*got ""/,
    );
  });
});
