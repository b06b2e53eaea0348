import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { validateCronSchedule } from '../lib/general-purpose-runner/schedule';
import { ScriptRuntime } from '../lib/script-bundle';
import { ScriptCronJob, ScriptCronJobProps, ScriptJob, ScriptJobProps, ScriptService, ScriptServiceProps } from '../lib/script-workloads';
import { Files } from '../lib/workload';
import { validateImage } from '../lib/image';
import { ImmutableConfigInit, ImmutableConfigInitProps, ImmutableConfigMap, ImmutableConfigMapProps } from '../lib/immutable-config-init';
import { KvProxy, KvProxyProps } from '../lib/kv-proxy';
import { SidecarDeployment, SidecarDeploymentProps } from '../lib/sidecar-workloads';
import { StaticSite, StaticSiteProps } from '../lib/static-site';
import { K8sObject, validateObjects } from '../lib/testing';
import { nearestName, validateKnownProps, validateResources } from '../lib/validate';
import { emptyDir, sizedEmptyDir } from './fixtures/sidecar-pod/volumes';
import { secretRef } from './support/refs';
import { findObject, synthObjects, testChart } from './support/synth';

/**
 * Issue 19, item 9: every mistake a user can make through the API gets an
 * error at synth time naming the prop, the value and what is allowed. One
 * `fails when ...` per mistake, and beside the refusals the nearest valid
 * input, so a rule that refuses too much fails here too.
 */

const HELLO = { 'index.html': '<h1>hello</h1>' };
const SITE = { files: Files.fromContent(HELLO) };
const APP = { name: 'app', image: 'busybox:1.36.1', command: ['httpd', '-f', '-p', '8080'], ports: [{ number: 8080, name: 'http' }] };

function site(props: Partial<StaticSiteProps>): K8sObject[] {
  const chart = testChart();
  new StaticSite(chart, 'Site', { ...SITE, ...props } as StaticSiteProps);
  return synthObjects(chart);
}

function kv(props: Partial<KvProxyProps>): K8sObject[] {
  const chart = testChart('kv');
  new KvProxy(chart, 'Kv', { namespaces: ['default'], ...props } as KvProxyProps);
  return synthObjects(chart);
}

function pod(props: Partial<SidecarDeploymentProps>): K8sObject[] {
  const chart = testChart();
  new SidecarDeployment(chart, 'Pod', { app: APP, ...props } as SidecarDeploymentProps);
  return synthObjects(chart);
}

const MAIN = Files.fromContent({ 'main.py': 'print("hi")\n' });

function runner(props: Partial<ScriptServiceProps>): K8sObject[] {
  const chart = testChart();
  new ScriptService(chart, 'Runner', { files: MAIN, ...props });
  return synthObjects(chart);
}

function scriptJob(props: Partial<ScriptJobProps>): K8sObject[] {
  const chart = testChart();
  new ScriptJob(chart, 'Runner', { files: MAIN, ...props });
  return synthObjects(chart);
}

function scriptCron(props: Partial<ScriptCronJobProps>): K8sObject[] {
  const chart = testChart();
  new ScriptCronJob(chart, 'Runner', { files: MAIN, schedule: '@daily', ...props });
  return synthObjects(chart);
}

function configInit(props: Partial<ImmutableConfigInitProps>): K8sObject[] {
  const chart = testChart();
  const workload = new kplus.Deployment(chart, 'App', { containers: [{ name: 'app', image: 'busybox:1.36.1' }] });
  new ImmutableConfigInit(chart, 'Config', {
    workload,
    mountPath: '/config',
    image: 'busybox:1.36.1',
    configPaths: ['/etc/app'],
    ...props,
  } as ImmutableConfigInitProps);
  return synthObjects(chart);
}

function configMap(props: Partial<ImmutableConfigMapProps>): K8sObject[] {
  const chart = testChart();
  const workload = new kplus.Deployment(chart, 'App', { containers: [{ name: 'app', image: 'busybox:1.36.1' }] });
  const files = Files.fromContent({ 'app.cfg': 'x = 1\n' });
  new ImmutableConfigMap(chart, 'Config', { workload, mountPath: '/config', files, ...props } as ImmutableConfigMapProps);
  return synthObjects(chart);
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bad-input-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function dir(name: string, files: Record<string, string | Buffer> = {}): string {
  const d = path.join(tmp, name);
  fs.mkdirSync(d, { recursive: true });
  for (const [f, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
    fs.writeFileSync(path.join(d, f), content);
  }
  return d;
}

describe('cron schedules', () => {
  test.each([
    ['*/60 * * * *', /schedule minute step must be an integer 1-59, got "60" in "\*\/60 \* \* \* \*"/],
    ['0 */24 * * *', /schedule hour step must be an integer 1-23, got "24"/],
    ['0 0 1 */12 *', /schedule month step must be an integer 1-11, got "12"/],
    ['99999999999999999999 * * * *', /schedule minute must be 0-59, got 9999999999\.\.\. in/],
  ])('fails when a field is out of range: %s', (schedule, message) => {
    expect(() => validateCronSchedule(schedule)).toThrow(message);
  });

  test.each([
    [
      '0 0 30 2 *',
      /schedule day of month 30 never occurs in month 2 \(the longest of those months has 29 days\), got "0 0 30 2 \*": the CronJob would never run/,
    ],
    ['0 0 31 4 *', /schedule day of month 31 never occurs in month 4 \(the longest of those months has 30 days\)/],
    ['0 0 31 apr,jun,sep,nov *', /day of month 31 never occurs in month apr,jun,sep,nov/],
    ['0 0 30-31 feb *', /day of month 30-31 never occurs in month feb/],
  ])('fails when the date never occurs: %s', (schedule, message) => {
    expect(() => validateCronSchedule(schedule)).toThrow(message);
  });

  test.each([
    '0 0 29 2 *', // leap years
    '0 0 31 1-4 *', // January and March have a 31st
    '0 0 30 2 1', // day of month and day of week both restricted: cron runs on either, so every Monday in February
    '*/59 * * * *',
  ])('accepts a schedule that fires: %s', (schedule) => {
    expect(validateCronSchedule(schedule)).toBe(schedule);
  });

  test('fails when a ScriptCronJob schedule never occurs', () => {
    expect(() => scriptCron({ schedule: '0 3 31 11 *' })).toThrow(/schedule day of month 31 never occurs in month 11/);
  });
});

describe('resources', () => {
  test('fails when CPU is below 1m', () => {
    expect(() => site({ resources: { cpu: { request: kplus.Cpu.millis(0.5) } } })).toThrow(
      /resources\.cpu\.request must be whole millicores of at least 1m \(Cpu\.millis\(1\) or more\), got "0\.5m"/,
    );
    expect(() => runner({ resources: { cpu: { limit: kplus.Cpu.units(0.0001) } } })).toThrow(
      /resources\.cpu\.limit must be whole millicores of at least 1m.*got "0\.0001"/,
    );
    expect(() => kv({ resources: { cpu: { limit: kplus.Cpu.millis(0) } } })).toThrow(
      /resources\.cpu\.limit must be whole millicores of at least 1m.*got "0m"/,
    );
  });

  test('fails when CPU is NaN or negative', () => {
    expect(() => validateResources({ cpu: { request: kplus.Cpu.millis(NaN) } }, 'resources')).toThrow(
      /resources\.cpu\.request must be whole millicores of at least 1m.*got "NaNm"/,
    );
    expect(() => validateResources({ cpu: { request: kplus.Cpu.millis(-5) } }, 'resources')).toThrow(/got "-5m"/);
  });

  test('fails when a memory or ephemeral-storage limit is zero', () => {
    expect(() => site({ resources: { memory: { limit: Size.mebibytes(0) } } })).toThrow(
      /resources\.memory\.limit must be above zero \(a zero limit kills the container at start; omit the limit instead\), got 0Ki/,
    );
    expect(() => pod({ app: { ...APP, resources: { ephemeralStorage: { limit: Size.kibibytes(0) } } } })).toThrow(
      /app\.resources\.ephemeralStorage\.limit must be above zero/,
    );
  });

  test('fails when a size is not finite', () => {
    expect(() => configInit({ resources: { memory: { request: Size.mebibytes(NaN) } } })).toThrow(
      /resources\.memory\.request must be a finite size such as Size\.mebibytes\(64\), got NaNKi/,
    );
    expect(() => validateResources({ memory: { limit: Size.mebibytes(Infinity) } }, 'resources')).toThrow(
      /resources\.memory\.limit must be a finite size/,
    );
  });

  test('fails when resources has an unknown field', () => {
    expect(() => site({ resources: { mem: {} } as never })).toThrow(
      /resources has no option "mem" \(did you mean "memory"\?\): the options are cpu, memory, ephemeralStorage/,
    );
    expect(() => site({ resources: { cpu: { requests: kplus.Cpu.millis(10) } } as never })).toThrow(
      /resources\.cpu has no option "requests" \(did you mean "request"\?\)/,
    );
  });

  test('fails when KvProxy resources are of the wrong type (they were not checked at all)', () => {
    expect(() => kv({ resources: { cpu: { limit: '500m' } } as never })).toThrow(
      /resources\.cpu\.limit must be a Cpu such as Cpu\.millis\(100\), got "500m"/,
    );
  });

  test('accepts 1m of CPU and a small memory limit', () => {
    expect(() =>
      validateResources({ cpu: { request: kplus.Cpu.millis(1), limit: kplus.Cpu.units(1) }, memory: { limit: Size.mebibytes(8) } }, 'resources'),
    ).not.toThrow();
  });
});

describe('image references', () => {
  test('fails when the repository has uppercase letters', () => {
    expect(() => validateImage('MyOrg/app:1.0.0')).toThrow(
      /image repository must be lowercase, got "MyOrg\/app" in "MyOrg\/app:1\.0\.0" \(did you mean "myorg\/app:1\.0\.0"\?\)/,
    );
    expect(() => validateImage('ghcr.io/org/App:1.0.0', 'app.image')).toThrow(/app\.image repository must be lowercase, got "ghcr\.io\/org\/App"/);
    expect(() => site({ image: 'Nginx:1.27.3' })).toThrow(/image repository must be lowercase, got "Nginx"/);
  });

  test('accepts an uppercase registry host and an uppercase tag', () => {
    expect(validateImage('Registry.Example.com/org/app:V1.0')).toBe('Registry.Example.com/org/app:V1.0');
  });

  test.each(['node:22', 'node:lts', 'node:22-alpine', 'node:22.12-alpine', 'mirror.example.com/library/node:24-slim'])(
    'fails when KvProxy runs a floating Node tag: %s',
    (image) => {
      expect(() => kv({ image })).toThrow(
        new RegExp(
          `image must pin a full Node\\.js version x\\.y\\.z in its tag \\(e\\.g\\. "node:24\\.13\\.0-alpine"\\) or a ` +
            `digest, got "${image.replace(/\./g, '\\.')}"`,
        ),
      );
    },
  );

  test('accepts KvProxy on a full Node version or a digest', () => {
    expect(() => kv({ image: 'node:22.12.0-alpine' })).not.toThrow();
    expect(() => kv({ image: `node@sha256:${'a'.repeat(64)}` })).not.toThrow();
  });
});

describe('label selectors', () => {
  test('fails when a NetworkPolicy peer has a label value of 64 characters', () => {
    expect(() => site({ networkPolicy: { allowFrom: [{ podSelector: { matchLabels: { app: 'x'.repeat(64) } } }] } })).toThrow(
      new RegExp(
        String.raw`networkPolicy\.allowFrom\[0\]\.podSelector\.matchLabels "app" must be a valid label value \(at most 63 letters, ` +
          String.raw`digits, '-', '_' or '\.', starting and ending with an alphanumeric\), got "x{64}"`,
      ),
    );
  });

  test('fails when a NetworkPolicy peer has a label value with a space or a bad key', () => {
    expect(() => runner({ networkPolicy: { allowFrom: [{ namespaceSelector: { matchLabels: { team: 'a b' } } }] } })).toThrow(
      /networkPolicy\.allowFrom\[0\]\.namespaceSelector\.matchLabels "team" must be a valid label value.*got "a b"/,
    );
    expect(() => site({ networkPolicy: { allowFrom: [{ podSelector: { matchLabels: { 'bad key!': 'a' } } }] } })).toThrow(
      /networkPolicy\.allowFrom\[0\]\.podSelector\.matchLabels key must be a qualified name such as "app\.kubernetes\.io\/name", got "bad key!"/,
    );
  });

  test('fails when a matchExpression is malformed', () => {
    const peer = (e: object) => site({ networkPolicy: { allowFrom: [{ podSelector: { matchExpressions: [e as never] } }] } });
    expect(() => peer({ key: 'app', operator: 'in', values: ['a'] })).toThrow(
      /matchExpressions\[0\]\.operator must be one of "In", "NotIn", "Exists", "DoesNotExist", got "in" \(did you mean "In"\?\)/,
    );
    expect(() => peer({ key: 'app', operator: 'In', values: [] })).toThrow(
      /matchExpressions\[0\]\.values must list at least one value with operator In, got \[\]/,
    );
    expect(() => peer({ key: 'app', operator: 'Exists', values: ['a'] })).toThrow(/matchExpressions\[0\]\.values must be empty with operator Exists/);
    expect(() => peer({ key: 'app', operator: 'In', values: ['-a'] })).toThrow(
      /matchExpressions\[0\]\.values\[0\] must be a valid label value.*got "-a"/,
    );
  });

  test('fails when a peer has an unknown field', () => {
    expect(() => site({ networkPolicy: { allowFrom: [{ podSelecter: {} } as never] } })).toThrow(
      /networkPolicy\.allowFrom\[0\] must set podSelector, namespaceSelector or ipBlock/,
    );
    expect(() => site({ networkPolicy: { allowFrom: [{ podSelector: {}, namespaceSelecter: {} } as never] } })).toThrow(
      /networkPolicy\.allowFrom\[0\] has no option "namespaceSelecter" \(did you mean "namespaceSelector"\?\)/,
    );
  });

  test('fails when KvProxy metricsAllowFrom has an invalid label value', () => {
    expect(() =>
      kv({ metricsPort: 9090, metricsAllowFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'Monitoring Stack' } } }] }),
    ).toThrow(
      /metricsAllowFrom\[0\]\.namespaceSelector\.matchLabels "kubernetes\.io\/metadata\.name" must be a valid label value.*got "Monitoring Stack"/,
    );
  });

  test('fails when a ScriptService partOf is not a label value, naming partOf', () => {
    expect(() => runner({ partOf: 'my app' })).toThrow(/^partOf must be a valid label value.*got "my app"/);
  });
});

describe('the gate', () => {
  const policy = (selector: object): K8sObject => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'np', namespace: 'test' },
    spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: selector }] }] },
  });

  test('fails when a NetworkPolicy peer selector has an invalid label value', () => {
    const violations = validateObjects([policy({ matchLabels: { app: 'x'.repeat(64) } })]).filter((v) => v.rule === 'selector-labels');
    expect(violations.map((v) => v.message)).toEqual([
      `spec.ingress[0].from[0].podSelector.matchLabels "app" has invalid label value "${'x'.repeat(64)}" (at most 63 ` +
        `alphanumerics, "-", "_", ".", starting and ending with an alphanumeric)`,
    ]);
    expect(violations[0].object).toBe('NetworkPolicy/test/np');
  });

  test('fails when a matchExpression has an invalid value, a bad key or values against its operator', () => {
    const messages = validateObjects([
      policy({
        matchExpressions: [
          { key: 'app', operator: 'In', values: ['a b'] },
          { key: 'bad key', operator: 'Exists' },
          { key: 'tier', operator: 'NotIn', values: [] },
        ],
      }),
    ])
      .filter((v) => v.rule === 'selector-labels')
      .map((v) => v.message);
    expect(messages).toEqual([
      'spec.ingress[0].from[0].podSelector.matchExpressions[0].values[0] has invalid label value "a b"',
      'spec.ingress[0].from[0].podSelector.matchExpressions[1] key "bad key" is not a valid qualified name',
      'spec.ingress[0].from[0].podSelector.matchExpressions[2] operator NotIn needs at least one value',
    ]);
  });

  test('fails when a Service selector has an invalid label value', () => {
    const service: K8sObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's', namespace: 'test' },
      spec: { selector: { app: 'a/b' }, ports: [{ port: 80 }] },
    };
    expect(
      validateObjects([service])
        .filter((v) => v.rule === 'selector-labels')
        .map((v) => v.message),
    ).toEqual([
      'spec.selector "app" has invalid label value "a/b" (at most 63 alphanumerics, "-", "_", ".", starting and ending with an alphanumeric)',
    ]);
  });

  test('accepts the selectors the constructs write', () => {
    const objects = site({
      replicas: 2,
      networkPolicy: { allowFrom: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['a', 'b'] }] } }] },
    });
    expect(validateObjects(objects).filter((v) => v.rule === 'selector-labels')).toEqual([]);
  });
});

describe('KvProxy', () => {
  test('fails when metricsAllowFrom is given while networkPolicy is false', () => {
    expect(() => kv({ metricsPort: 9090, networkPolicy: false, metricsAllowFrom: [{ podSelector: {} }] })).toThrow(
      new RegExp(
        String.raw`metricsAllowFrom is set but networkPolicy is false: it only shapes the NetworkPolicy in front of metricsPort, ` +
          String.raw`which is not created; remove metricsAllowFrom or enable networkPolicy`,
      ),
    );
  });

  test('fails when metricsAllowFrom is empty', () => {
    expect(() => kv({ metricsPort: 9090, metricsAllowFrom: [] })).toThrow(
      /metricsAllowFrom must list at least one peer \(omit it for the proxy's own namespace\), got \[\]/,
    );
  });

  test('fails when the wait is longer than the common ingress read timeout of 60 s', () => {
    expect(() => kv({ maxWait: Duration.seconds(90), ingress: { host: 'kv.example.com' } })).toThrow(
      /maxWait must be below the Ingress read timeout \(60 s, the common default\), got 90 s: long polls would end in a 504/,
    );
    expect(() => kv({ maxWait: Duration.minutes(1), ingress: {} })).toThrow(/maxWait must be below the Ingress read timeout \(60 s/);
  });

  test('fails when the wait is longer than the timeout the user acknowledged', () => {
    expect(() => kv({ maxWait: Duration.seconds(90), ingressReadTimeout: Duration.seconds(75), ingress: {} })).toThrow(
      /maxWait must be below the Ingress read timeout \(75 s, ingressReadTimeout\), got 90 s/,
    );
    const annotations = { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '80' };
    expect(() => kv({ maxWait: Duration.seconds(90), ingress: { annotations } })).toThrow(
      /maxWait must be below the Ingress read timeout \(80 s, from nginx\.ingress\.kubernetes\.io\/proxy-read-timeout\), got 90 s/,
    );
  });

  test('fails when the nginx read-timeout annotation is not a number of seconds', () => {
    expect(() => kv({ ingress: { annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '2m' } } })).toThrow(
      /ingress\.annotations "nginx\.ingress\.kubernetes\.io\/proxy-read-timeout" must be a number of seconds such as "120", got "2m"/,
    );
  });

  test('fails when ingressReadTimeout is given without an ingress, or is out of range', () => {
    expect(() => kv({ ingressReadTimeout: Duration.minutes(2) })).toThrow(
      /ingressReadTimeout only applies with ingress, got 120 s without an ingress/,
    );
    expect(() => kv({ ingressReadTimeout: Duration.seconds(0), ingress: {} })).toThrow(
      /ingressReadTimeout must be between 1 and 86400 seconds, got 0 s/,
    );
  });

  test('accepts a long wait the user acknowledged, by the prop or by the nginx annotation', () => {
    expect(() => kv({ maxWait: Duration.seconds(90), ingressReadTimeout: Duration.minutes(2), ingress: {} })).not.toThrow();
    const objects = kv({ maxWait: Duration.seconds(90), ingress: { annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '120' } } });
    expect(findObject(objects, 'Ingress', 'kv-proxy').metadata.annotations).toEqual({ 'nginx.ingress.kubernetes.io/proxy-read-timeout': '120' });
    expect(() => kv({ maxWait: Duration.minutes(5) })).not.toThrow(); // no ingress: nothing in front times out
  });

  test.each([kplus.ServiceType.NODE_PORT, kplus.ServiceType.LOAD_BALANCER])(
    'fails when a write-enabled KvProxy is behind a cleartext %s',
    (serviceType) => {
      expect(() => kv({ writes: true, serviceType })).toThrow(
        new RegExp(
          `serviceType must be ClusterIP when writes is true, got "${serviceType}": ` +
            `a ${serviceType} Service carries the bearer tokens ` +
            'and the writes in cleartext; expose it through ingress with ingress\\.tlsSecret instead',
        ),
      );
    },
  );

  test('accepts a read-only KvProxy behind a NodePort', () => {
    expect(findObject(kv({ serviceType: kplus.ServiceType.NODE_PORT }), 'Service', 'kv-proxy').spec.type).toBe('NodePort');
  });
});

describe('probes', () => {
  test('fails when a probe is on a port the container does not serve', () => {
    expect(() => pod({ app: { ...APP, readiness: kplus.Probe.fromHttpGet('/healthz', { port: 9090 }) } })).toThrow(
      /app\.readiness port must be a port that "app" serves \(app\.ports: 8080\), got 9090: probe a declared port or add 9090 to app\.ports/,
    );
    expect(() =>
      pod({ sidecars: [{ name: 'side', image: 'busybox:1.36.1', ports: [{ number: 9000 }], liveness: kplus.Probe.fromTcpSocket({ port: 8080 }) }] }),
    ).toThrow(/sidecars\[0\]\.liveness port must be a port that "side" serves \(sidecars\[0\]\.ports: 9000\), got 8080/);
  });

  test("fails when a probe names no port (cdk8s-plus probes port 80, not the container's first port)", () => {
    expect(() => pod({ app: { ...APP, readiness: kplus.Probe.fromHttpGet('/') } })).toThrow(
      new RegExp(
        String.raw`app\.readiness port must be a port that "app" serves \(app\.ports: 8080\), got 80 \(cdk8s-plus probes port 80 ` +
          String.raw`when the probe names no port\): give the probe \{ port: 8080 \}`,
      ),
    );
    expect(() => pod({ app: { name: 'app', image: 'busybox:1.36.1', startup: kplus.Probe.fromTcpSocket() }, serviceTargetPort: 8080 })).toThrow(
      new RegExp(
        String.raw`app\.startup port must be a port that "app" serves \(app\.ports: none\), got 80 \(cdk8s-plus probes port 80 when ` +
          String.raw`the probe names no port\): probe a declared port or add 80 to app\.ports`,
      ),
    );
  });

  test('fails when a probe is not a kplus.Probe', () => {
    expect(() => pod({ app: { ...APP, readiness: { httpGet: { path: '/', port: 8080 } } as never } })).toThrow(
      /app\.readiness must be a kplus\.Probe/,
    );
  });

  test('accepts a probe on a declared port and a command probe', () => {
    const objects = pod({ app: { ...APP, readiness: kplus.Probe.fromHttpGet('/', { port: 8080 }), liveness: kplus.Probe.fromCommand(['true']) } });
    const app = findObject(objects, 'Deployment', 'sidecar-pod').spec.template.spec.containers.find((c: any) => c.name === 'app');
    expect(app.readinessProbe.httpGet.port).toBe(8080);
  });
});

describe('RBAC rules', () => {
  test('fails when a rule names deployments in the core group', () => {
    expect(() => scriptJob({ rules: [{ resources: ['deployments'], verbs: ['get'] }] })).toThrow(
      /rules\[0\]\.resources\[0\] "deployments" is in API group "apps", got apiGroups \["" \(core\)\]: add "apps" to apiGroups/,
    );
  });

  test('fails when a rule names a core resource or a subresource in another group', () => {
    expect(() => runner({ rules: [{ apiGroups: ['apps'], resources: ['pods/log'], verbs: ['get'] }] })).toThrow(
      /rules\[0\]\.resources\[0\] "pods\/log" is in API group "" \(core\), got apiGroups \["apps"\]/,
    );
    expect(() => runner({ clusterRules: [{ apiGroups: ['apps'], resources: ['deployments', 'ingresses'], verbs: ['list'] }] })).toThrow(
      new RegExp(
        String.raw`clusterRules\[0\]\.resources\[1\] "ingresses" is in API group "networking\.k8s\.io", got apiGroups \["apps"\]: ` +
          String.raw`add "networking\.k8s\.io" to apiGroups or give it a rule of its own`,
      ),
    );
  });

  test('fails when a namespaced rule names a cluster-scoped resource', () => {
    expect(() => runner({ rules: [{ resources: ['namespaces'], verbs: ['list'] }] })).toThrow(
      new RegExp(
        String.raw`rules\[0\]\.resources must name namespaced resources \(rules become a Role in the runner's namespace\), got the ` +
          String.raw`cluster-scoped "namespaces": move the rule to clusterRules`,
      ),
    );
  });

  test('accepts rules in their groups, several groups at once, custom resources and wildcard groups', () => {
    expect(() =>
      runner({
        rules: [
          { apiGroups: ['', 'apps'], resources: ['pods', 'deployments'], verbs: ['get'] },
          { apiGroups: ['example.com'], resources: ['widgets'], verbs: ['get'] },
          { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['list'] },
        ],
        clusterRules: [{ resources: ['namespaces'], verbs: ['list'] }],
      }),
    ).not.toThrow();
  });
});

describe('env PORT', () => {
  test('fails when a ScriptService envVariables PORT contradicts the Service target port', () => {
    expect(() => runner({ port: 8080, envVariables: { PORT: kplus.EnvValue.fromValue('9000') } })).toThrow(
      /envVariables PORT must match port \(the Service targets port 8080\), got PORT "9000": set port to "9000" instead of envVariables PORT/,
    );
    expect(() => runner({ envVariables: { PORT: kplus.EnvValue.fromValue('8081') } })).toThrow(
      /envVariables PORT must match port \(the Service targets port 8080\), got PORT "8081"/,
    );
  });

  test('fails when a SidecarDeployment app env PORT contradicts the port the Service or the auth proxy sends to', () => {
    expect(() => pod({ app: { ...APP, envVariables: { PORT: kplus.EnvValue.fromValue('9000') } } })).toThrow(
      /app\.envVariables PORT must be 8080 \(the Service targets the app's port 8080\), got "9000": the app would listen where no traffic arrives/,
    );
    expect(() =>
      pod({ app: { ...APP, envVariables: { PORT: kplus.EnvValue.fromValue('9000') } }, authProxy: { htpasswd: secretRef('site-users') } }),
    ).toThrow(/app\.envVariables PORT must be 8080 \(the auth proxy forwards to the app's port 8080\), got "9000"/);
  });

  test('accepts env PORT equal to the target, and any PORT in a Job', () => {
    expect(() => runner({ port: 9000, envVariables: { PORT: kplus.EnvValue.fromValue('9000') } })).not.toThrow();
    expect(() => scriptJob({ envVariables: { PORT: kplus.EnvValue.fromValue('1') } })).not.toThrow();
  });
});

describe('StaticSite content', () => {
  test('fails when a text file is not valid UTF-8 (nginx serves it as charset=utf-8)', () => {
    const latin1 = dir('latin1', { 'index.html': '<p>ok</p>', 'css/site.css': Buffer.from('p::after { content: "\xe9" }', 'latin1') });
    expect(() => site({ files: Files.fromDirectory(latin1) })).toThrow(
      /files entry "css\/site\.css" \(from files directory ".*latin1"\) is text\/css but not valid UTF-8, .*: re-save it as UTF-8/,
    );
    expect(() => site({ files: Files.fromContent({ 'index.html': Buffer.from([0x3c, 0xe9, 0x3e]) }) })).toThrow(
      /files entry "index\.html" \(from files content\) is text\/html but not valid UTF-8/,
    );
  });

  test('accepts non-UTF-8 bytes in binary types and unknown types', () => {
    const files = Files.fromContent({ ...HELLO, 'logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff]), 'data.bin': Buffer.from([0xff, 0xfe]) });
    const objects = site({ files });
    expect(Object.keys(findObject(objects, 'ConfigMap', 'static-site-content').binaryData).sort()).toEqual(['data.bin', 'logo.png']);
  });

  test.each([
    '.env',
    '.env.production',
    'certs/server.pem',
    'tls.key',
    'keys/id_rsa',
    'id_ed25519',
    '.git/config',
    'cert.p12',
    '.htpasswd',
    '.npmrc',
    '.aws/credentials',
  ])('fails when the content has the secret-looking file %s', (file) => {
    expect(() => site({ files: Files.fromContent({ ...HELLO, [file]: 'secret' }) })).toThrow(
      new RegExp(
        `files entry "${file.replace(/\./g, '\\.')}" \\(from files content\\) looks like a secret and would be served to anyone: ` +
          'remove it from the files, or set allowSecretFiles: true if it is meant to be public',
      ),
    );
  });

  test('fails when a content folder holds a private key', () => {
    const leaky = dir('leaky', { 'index.html': '<p>ok</p>', 'id_rsa': '-----BEGIN OPENSSH PRIVATE KEY-----' });
    expect(() => site({ files: Files.fromDirectory(leaky) })).toThrow(/files entry "id_rsa" \(from files directory ".*leaky"\) looks like a secret/);
  });

  test('accepts secret-looking files with allowSecretFiles, and public keys and .well-known without it', () => {
    const objects = site({ allowSecretFiles: true, files: Files.fromContent({ ...HELLO, '.env': 'PUBLIC=1' }) });
    expect(findObject(objects, 'ConfigMap', 'static-site-content').data['.env']).toBe('PUBLIC=1');
    const publicFiles = Files.fromContent({ ...HELLO, 'id_rsa.pub': 'ssh-rsa AAAA', '.well-known/security.txt': 'Contact: x', 'keyboard.html': 'k' });
    expect(() => site({ files: publicFiles })).not.toThrow();
    expect(() => site({ allowSecretFiles: 'yes' as never })).toThrow(/allowSecretFiles must be true or false, got "yes"/);
  });

  test('fails when the content folder is empty, naming the folder', () => {
    const empty = dir('empty-site');
    expect(() => site({ files: Files.fromDirectory(empty) })).toThrow(
      new RegExp(`files directory "${empty}" \\(${empty}\\) has no files: add at least one file`),
    );
  });

  test('fails when an ImmutableConfigMap files folder is empty, naming it', () => {
    const empty = dir('empty-config');
    expect(() => configMap({ files: Files.fromDirectory(empty) })).toThrow(
      new RegExp(`files directory "${empty}" \\(${empty}\\) has no files: add at least one file`),
    );
  });
});

describe('two mounts at one path', () => {
  test('fails when two volumes are mounted at one path, saying how to fix it', () => {
    const [a, b] = [sizedEmptyDir('a'), sizedEmptyDir('b')];
    expect(() =>
      pod({
        app: {
          ...APP,
          volumeMounts: [
            { volume: a, path: '/data' },
            { volume: b, path: '/data' },
          ],
        },
      }),
    ).toThrow(
      new RegExp(
        String.raw`app\.volumeMounts\[1\]\.path must not repeat a mount path of app "app", got "\/data" twice: give each mount its ` +
          String.raw`own path, or mount one volume there and the other below it \(e\.g\. with subPath for a single file\)`,
      ),
    );
  });

  test('fails when a mount at /tmp clashes with writableTmp, saying which to drop', () => {
    expect(() => pod({ app: { ...APP, writableTmp: true, volumeMounts: [{ volume: sizedEmptyDir('a'), path: '/tmp' }] } })).toThrow(
      /writableTmp already mounts a volume at "\/tmp": remove this mount or set writableTmp to false/,
    );
  });
});

describe('unknown options', () => {
  test('fails when an option is misspelt, suggesting the nearest name', () => {
    expect(() => site({ flies: 'site' } as never)).toThrow(/StaticSite props has no option "flies" \(did you mean "files"\?\)/);
    expect(() => kv({ namespace: 'x' } as never)).toThrow(/KvProxy props has no option "namespace" \(did you mean "namespaces"\?\)/);
    expect(() => scriptCron({ scheduel: '@daily' } as never)).toThrow(/ScriptCronJob props has no option "scheduel" \(did you mean "schedule"\?\)/);
    expect(() => pod({ sidecar: [] } as never)).toThrow(/SidecarDeployment props has no option "sidecar" \(did you mean "sidecars"\?\)/);
    expect(() => configInit({ mountPahh: '/x' } as never)).toThrow(
      /ImmutableConfigInit props has no option "mountPahh" \(did you mean "mountPath"\?\)/,
    );
  });

  test('suggests by edit distance beyond two for long names, and nothing for names far from every option', () => {
    expect(nearestName('maxWaitSecs', ['maxWaitSeconds', 'maxBodyBytes'])).toBe('maxWaitSeconds');
    expect(nearestName('helthCheckPth', ['healthCheckPath', 'port'])).toBe('healthCheckPath');
    expect(nearestName('colour', ['replicas', 'image'])).toBeUndefined();
    expect(() => validateKnownProps({ colour: 1 }, { replicas: true, image: true }, 'props')).toThrow(
      /^props has no option "colour": the options are replicas, image$/,
    );
  });
});

describe('ExternalName', () => {
  test("fails when serviceType is ExternalName, with the library's own message", () => {
    for (const make of [
      () => site({ serviceType: kplus.ServiceType.EXTERNAL_NAME }),
      () => kv({ serviceType: kplus.ServiceType.EXTERNAL_NAME }),
      () => pod({ serviceType: kplus.ServiceType.EXTERNAL_NAME }),
      () => runner({ serviceType: kplus.ServiceType.EXTERNAL_NAME }),
    ]) {
      expect(make).toThrow(
        new RegExp(
          String.raw`^serviceType must be ClusterIP, NodePort or LoadBalancer, got "ExternalName": an ExternalName Service is a DNS ` +
            String.raw`alias for a name outside the cluster and cannot send traffic to this workload$`,
        ),
      );
    }
  });

  test('fails when serviceType is misspelt, listing only the types a workload can use', () => {
    expect(() => site({ serviceType: 'clusterip' as never })).toThrow(
      /serviceType must be one of "ClusterIP", "NodePort", "LoadBalancer", got "clusterip" \(did you mean "ClusterIP"\?\)/,
    );
  });
});

describe('further bad input found by trying', () => {
  test('fails when a response header value is empty (an empty cache control stays allowed: it is documented as "send none")', () => {
    expect(() => site({ responseHeaders: { 'X-Frame-Options': ' ' } })).toThrow(
      /responseHeaders "X-Frame-Options" must not be empty \(nginx would send no header; remove the entry instead\), got " "/,
    );
    expect(() => site({ htmlCacheControl: '', assetCacheControl: '' })).not.toThrow();
  });

  test('fails when a SidecarDeployment container command or args are not lists of strings, or command is empty', () => {
    expect(() => pod({ app: { ...APP, command: 'httpd' as never } })).toThrow(/app\.command must be a list of strings, got "httpd"/);
    expect(() => pod({ app: { ...APP, args: [1] as never } })).toThrow(/app\.args must be a list of strings, got \[1\]/);
    expect(() => pod({ app: { ...APP, command: [] } })).toThrow(/app\.command must name a program \(omit it for the image's entrypoint\), got \[\]/);
  });

  test('fails when a SidecarDeployment imagePullPolicy is not one of the policies', () => {
    expect(() => pod({ app: { ...APP, imagePullPolicy: 'sometimes' as never } })).toThrow(
      /app\.imagePullPolicy must be one of "Always", "IfNotPresent", "Never", got "sometimes"/,
    );
  });

  test('fails when a SidecarDeployment emptyDir sizeLimit is zero or not finite', () => {
    const scratch = (size: Size) => {
      const v = emptyDir('scratch', { sizeLimit: size });
      return { volumes: [v], app: { ...APP, volumeMounts: [{ volume: v, path: '/s' }] } };
    };
    expect(() => pod(scratch(Size.mebibytes(0)))).toThrow(
      /volumes\[0\] "scratch" sizeLimit must be a whole number of MiB, at least 1 MiB \(cdk8s-plus writes emptyDir sizes in MiB; .*\), got 0Mi/,
    );
    expect(() => pod(scratch(Size.mebibytes(NaN)))).toThrow(/sizeLimit must be a whole number of MiB.*got NaNMi/);
    // a volume only mounted (not listed in volumes) is checked as the mount's volume
    const zero = emptyDir('zero', { sizeLimit: Size.mebibytes(0) });
    expect(() => pod({ app: { ...APP, volumeMounts: [{ volume: zero, path: '/z' }] } })).toThrow(
      /app\.volumeMounts\[0\]\.volume "zero" sizeLimit must be a whole number of MiB.*got 0Mi/,
    );
  });

  test('fails when an emptyDir sizeLimit is not a whole number of MiB (cdk8s-plus refuses it where the volume is made)', () => {
    expect(() => emptyDir('scratch', { sizeLimit: Size.kibibytes(512) })).toThrow(/cannot be converted into a whole number of mebibytes/);
    expect(() => emptyDir('scratch', { sizeLimit: Size.kibibytes(1536) })).toThrow(/cannot be converted into a whole number of mebibytes/);
  });

  test('fails when a bound has no upper limit, saying "at least" instead of printing the largest safe integer', () => {
    expect(() => scriptCron({ startingDeadline: Duration.seconds(5) })).toThrow(
      /^startingDeadline must be between 10 and 2147483647 seconds, got 5 s$/,
    );
  });

  test('fails when networkPolicy is null (from JavaScript) instead of silently creating the default policy', () => {
    expect(() => site({ networkPolicy: null as never })).toThrow(/networkPolicy must be NetworkPolicyOptions or false, got null/);
  });

  test('fails when an ipBlock except is not inside its cidr', () => {
    expect(() => site({ networkPolicy: { allowFrom: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['192.168.0.0/16'] } }] } })).toThrow(
      new RegExp(
        String.raw`networkPolicy\.allowFrom\[0\]\.ipBlock\.except\[0\] must be a strict subset of ipBlock\.cidr "10\.0\.0\.0\/8" ` +
          String.raw`\(the API server refuses it otherwise\), got "192\.168\.0\.0\/16"`,
      ),
    );
    expect(() => site({ networkPolicy: { allowFrom: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.0.0/8'] } }] } })).toThrow(
      /except\[0\] must be a strict subset/,
    );
    expect(() => site({ networkPolicy: { allowFrom: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }] } })).not.toThrow();
  });

  test('fails when a KvProxy labelSelector has an empty set, which the API server refuses', () => {
    expect(() => kv({ labelSelector: 'app in ()' })).toThrow(
      /labelSelector must list at least one value in "app in \(\)" \(the API server refuses an empty set\), got "app in \(\)"/,
    );
  });

  test('fails when a SidecarDeployment port has a host port, an unknown protocol or a non-TCP Service target', () => {
    expect(() => pod({ app: { ...APP, ports: [{ number: 8080, hostPort: 80 }] } })).toThrow(
      /app\.ports\[0\] must not set hostPort or hostIp \(Pod Security "baseline" forbids host ports/,
    );
    expect(() => pod({ app: { ...APP, ports: [{ number: 8080, protocol: 'tcp' as never }] } })).toThrow(
      /app\.ports\[0\]\.protocol must be one of "TCP", "UDP", "SCTP", got "tcp" \(did you mean "TCP"\?\)/,
    );
    expect(() => pod({ app: { ...APP, ports: [{ number: 8080, protocol: kplus.Protocol.UDP }] } })).toThrow(
      /serviceTargetPort 8080 must be a TCP port \(the Service and the NetworkPolicy speak TCP\), got protocol UDP/,
    );
    expect(() => pod({ app: { ...APP, ports: [{ number: 8080, nmae: 'http' } as never] } })).toThrow(
      /app\.ports\[0\] has no option "nmae" \(did you mean "name"\?\)/,
    );
  });

  test('fails when the auth proxy forwards to a port the app does not serve', () => {
    expect(() => pod({ authProxy: { htpasswd: secretRef('site-users'), upstreamPort: 9999 } })).toThrow(
      new RegExp(
        String.raw`authProxy\.upstreamPort must be a port the app "app" serves \(app\.ports: 8080\), got 9999: the proxy would ` +
          String.raw`forward to a port nothing listens on`,
      ),
    );
  });

  test("fails when the entrypoint is a script for another runtime's interpreter", () => {
    expect(() => runner({ runtime: ScriptRuntime.NODE, files: Files.fromContent({ 'main.py': 'print(1)\n' }) })).toThrow(
      /entrypoint "main\.py" is a Python script, but runtime "node" runs node: choose runtime ScriptRuntime\.PYTHON or set command/,
    );
    expect(() => runner({ files: Files.fromContent({ 'job.sh': 'echo hi\n' }) })).toThrow(
      /entrypoint "job\.sh" is a shell script, but runtime "python" runs python3: choose runtime ScriptRuntime\.BUSYBOX or set command/,
    );
    expect(() => runner({ runtime: ScriptRuntime.BUSYBOX, files: Files.fromContent({ 'job.sh': 'echo hi\n' }) })).not.toThrow();
  });

  test('fails when ImmutableConfigInit gets a plain object as workload, describing it', () => {
    const chart = testChart();
    expect(() => new ImmutableConfigInit(chart, 'Config', { workload: {} as never, mountPath: '/config', image: 'busybox:1.36.1' })).toThrow(
      /workload must be a cdk8s-plus workload \(Deployment, Job, StatefulSet, DaemonSet, CronJob or Pod\), got a plain object \{\}/,
    );
  });
});
