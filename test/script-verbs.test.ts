/**
 * The verbs of ScriptBundle, ScriptService, ScriptJob and ScriptCronJob: each
 * gives the same error as its prop for the same bad input, and the same YAML
 * as its prop for good input (a verb is the prop's first call, made later).
 */
import { Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { RbacRule, ScriptBundle, ScriptRuntime } from '../lib/script-bundle';
import { ScriptCronJob, ScriptJob, ScriptService, ScriptServiceProps } from '../lib/script-workloads';
import { K8sObject } from '../lib/testing';
import { Files } from '../lib/workload';
import { findContainer, findObject, synthObjects, testChart } from './support/synth';
import { secretRef } from './support/refs';

const MAIN = Files.fromContent({ 'main.py': 'print("hi")\n' });
const EXTRA = Files.fromContent({ 'lib/util.py': 'X = 1\n', 'settings.json': '{}\n' });
const text = (v: string) => kplus.EnvValue.fromValue(v);

type Kind = 'service' | 'job' | 'cron' | 'bundle';
const KINDS: Kind[] = ['service', 'job', 'cron', 'bundle'];

interface Verbs {
  addFiles(files: Files): void;
  addEnv(name: string, value: kplus.EnvValue): void;
  allow(rule: RbacRule): void;
  allowClusterWide(rule: RbacRule): void;
}

/** One construct of `kind` with the common props `props`, in a chart of namespace `namespace` (none: a chart without one). */
function make(kind: Kind, props: Partial<ScriptServiceProps> = {}, namespace: string | null = 'test'): { chart: Chart; c: Verbs } {
  const chart = namespace === null ? new Chart(Testing.app(), 'nons') : testChart(namespace);
  const base = { name: 'scripts', files: MAIN, entrypoint: 'main.py', ...props };
  switch (kind) {
    case 'service':
      return { chart, c: new ScriptService(chart, 'S', base) };
    case 'job':
      return { chart, c: new ScriptJob(chart, 'S', base as never) };
    case 'cron':
      return { chart, c: new ScriptCronJob(chart, 'S', { ...base, schedule: '@daily' } as never) };
    case 'bundle': {
      const workload = new kplus.Deployment(chart, 'W', { metadata: { name: 'mine' } });
      return { chart, c: new ScriptBundle(chart, 'S', { workload, ...base } as never) };
    }
  }
}

/** The error `fn` throws (the test fails when it throws none). */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error, got none');
}

/** Synthesizes the chart a verb was called on, and the chart of the prop, for comparison. */
function sameYaml(viaVerb: Chart, viaProp: Chart): [K8sObject[], K8sObject[]] {
  return [synthObjects(viaVerb), synthObjects(viaProp)];
}

describe.each(KINDS)("%s: the verbs give the props' YAML", (kind) => {
  test('addFiles(files) = files: Files.of(...), nested paths and the checksum included', () => {
    const verb = make(kind);
    verb.c.addFiles(EXTRA);
    const [a, b] = sameYaml(verb.chart, make(kind, { files: Files.of(MAIN, EXTRA) }).chart);
    expect(a).toEqual(b);
    expect(findObject(a, 'ConfigMap', 'scripts-scripts').data).toEqual({
      'main.py': 'print("hi")\n',
      'lib__util.py': 'X = 1\n',
      'settings.json': '{}\n',
    });
    expect(JSON.stringify(a)).toContain('"path":"lib/util.py"');
  });

  test('addEnv(name, value) = envVariables', () => {
    const verb = make(kind);
    verb.c.addEnv('GREETING', text('Hi'));
    verb.c.addEnv('PYTHONUNBUFFERED', text('0'));
    const [a, b] = sameYaml(verb.chart, make(kind, { envVariables: { GREETING: text('Hi'), PYTHONUNBUFFERED: text('0') } }).chart);
    expect(a).toEqual(b);
  });

  test('allow(rule) = rules: the ServiceAccount, Role, RoleBinding, token and (on the workload constructs) egress to the API server', () => {
    const rule = { resources: ['configmaps'], verbs: ['get'] };
    const verb = make(kind);
    verb.c.allow(rule);
    verb.c.allow({ apiGroups: ['apps'], resources: ['deployments'], verbs: ['list'] });
    const [a, b] = sameYaml(verb.chart, make(kind, { rules: [rule, { apiGroups: ['apps'], resources: ['deployments'], verbs: ['list'] }] }).chart);
    expect(a).toEqual(b);
    expect(findObject(a, 'Role', 'scripts').rules).toHaveLength(2);
    expect(JSON.stringify(a)).toContain('"serviceAccountName":"scripts"');
  });

  test('allowClusterWide(rule) = clusterRules', () => {
    const rule = { resources: ['namespaces'], verbs: ['list'] };
    const verb = make(kind);
    verb.c.allowClusterWide(rule);
    const [a, b] = sameYaml(verb.chart, make(kind, { clusterRules: [rule] }).chart);
    expect(a).toEqual(b);
    expect(findObject(a, 'ClusterRole', 'test-scripts').rules).toEqual([{ apiGroups: [''], resources: ['namespaces'], verbs: ['list'] }]);
  });
});

describe.each(KINDS)("%s: the verbs give the props' errors", (kind) => {
  // the prop is given the same files (and main.py, where the message counts every file's bytes)
  const big = Files.fromContent({ 'big.py': 'x'.repeat(1024 * 1024) });
  test.each<[string, Files, Files]>([
    ['a path climbs out', Files.fromContent({ '../x.py': 'x' }), Files.fromContent({ '../x.py': 'x' })],
    ['inline bytes', Files.fromContent({ 'a.bin': Buffer.from([1]) }), Files.fromContent({ 'a.bin': Buffer.from([1]) })],
    ['not Files', { 'a.py': 'x' } as never, { 'a.py': 'x' } as never],
    ['too much for a ConfigMap', big, Files.of(MAIN, big)],
  ])('addFiles: %s', (_why, files, propFiles) => {
    expect(errorOf(() => make(kind).c.addFiles(files))).toBe(errorOf(() => make(kind, { files: propFiles })));
  });

  test('addFiles: a path given twice names it, as files does', () => {
    expect(() => make(kind).c.addFiles(Files.fromContent({ 'main.py': 'x' }))).toThrow(
      /^files path "main.py" is given twice: by files content and by files content$/,
    );
    expect(() => make(kind, { files: Files.of(MAIN, Files.fromContent({ 'main.py': 'x' })) })).toThrow(
      /^files path "main.py" is given twice: by files source \[0\] content and by files source \[1\] content$/,
    );
  });

  test.each<[string, string, kplus.EnvValue]>([
    ['a name that is not an env name', '1BAD', text('x')],
    ['a plain string', 'GREETING', 'Hi' as never],
    ['a number', 'RETRIES', 3 as never],
  ])('addEnv: %s', (_why, name, value) => {
    expect(errorOf(() => make(kind).c.addEnv(name, value))).toBe(errorOf(() => make(kind, { envVariables: { [name]: value } })));
  });

  test.each<[string, RbacRule]>([
    ['a wildcard verb', { resources: ['pods'], verbs: ['*'] }],
    ['a misspelt verb', { resources: ['pods'], verbs: ['lsit'] }],
    ['deployments in the core group', { resources: ['deployments'], verbs: ['get'] }],
    ['a cluster-scoped resource', { resources: ['namespaces'], verbs: ['list'] }],
    ['a misspelt field', { resources: ['pods'], verb: ['get'] } as never],
  ])('allow: %s', (_why, rule) => {
    const viaProp = errorOf(() => make(kind, { rules: [rule] }));
    expect(viaProp).toMatch(/^rules\[0\]/);
    expect(errorOf(() => make(kind).c.allow(rule))).toBe(viaProp);
  });

  test('allow: a rule after others is named by its index in rules', () => {
    const c = make(kind, { rules: [{ resources: ['pods'], verbs: ['get'] }] }).c;
    expect(errorOf(() => c.allow({ resources: ['pods'], verbs: ['*'] }))).toBe(
      errorOf(() =>
        make(kind, {
          rules: [
            { resources: ['pods'], verbs: ['get'] },
            { resources: ['pods'], verbs: ['*'] },
          ],
        }),
      ),
    );
  });

  test('allowClusterWide: a chart without a namespace, and a wildcard resource', () => {
    const rule = { resources: ['namespaces'], verbs: ['list'] };
    expect(errorOf(() => make(kind, {}, null).c.allowClusterWide(rule))).toBe(errorOf(() => make(kind, { clusterRules: [rule] }, null)));
    const wild = { resources: ['*'], verbs: ['list'] };
    expect(errorOf(() => make(kind).c.allowClusterWide(wild))).toBe(errorOf(() => make(kind, { clusterRules: [wild] })));
  });
});

describe('ScriptService: envVariables PORT', () => {
  test('addEnv(PORT) refuses what envVariables refuses, and gives the same YAML for the port itself', () => {
    const svc = () => new ScriptService(testChart(), 'S', { files: MAIN, port: 8080 });
    expect(errorOf(() => svc().addEnv('PORT', text('9000')))).toBe(
      errorOf(
        () =>
          new ScriptService(testChart(), 'S', {
            files: MAIN,
            port: 8080,
            envVariables: { PORT: text('9000') },
          }),
      ),
    );
    const secret = kplus.Secret.fromSecretName(testChart(), 'X', 'x');
    expect(() => svc().addEnv('PORT', kplus.EnvValue.fromSecretValue({ secret, key: 'port' }))).toThrow(
      /^envVariables PORT must not come from a Secret or ConfigMap/,
    );
    const viaVerb = svc();
    viaVerb.addEnv('PORT', text('8080'));
    const viaProp = new ScriptService(testChart(), 'S', { files: MAIN, port: 8080, envVariables: { PORT: text('8080') } });
    expect(synthObjects(Chart.of(viaVerb))).toEqual(synthObjects(Chart.of(viaProp)));
  });
});

describe('ScriptService: the exposure verbs', () => {
  const peer: k8s.NetworkPolicyPeer = { namespaceSelector: { matchLabels: { team: 'a' } } };
  const service = (props: Partial<ScriptServiceProps> = {}) => new ScriptService(testChart(), 'S', { name: 'api', files: MAIN, ...props });
  // in the order of kind and name: a verb's object comes after the objects made at construction
  const key = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
  const objects = (c: Construct) => synthObjects(Chart.of(c)).sort((a, b) => key(a).localeCompare(key(b)));

  test('allowFrom(peer) = networkPolicy.allowFrom', () => {
    const viaVerb = service();
    viaVerb.allowFrom(peer);
    expect(objects(viaVerb)).toEqual(objects(service({ networkPolicy: { allowFrom: [peer] } })));
    expect(errorOf(() => service().allowFrom({} as never))).toBe(errorOf(() => service({ networkPolicy: { allowFrom: [{} as never] } })));
  });

  test('allowFromNamespaces(...ns) = networkPolicy.allowFromNamespaces', () => {
    const viaVerb = service();
    viaVerb.allowFromNamespaces('web', 'monitoring');
    expect(objects(viaVerb)).toEqual(objects(service({ networkPolicy: { allowFromNamespaces: ['web', 'monitoring'] } })));
    expect(errorOf(() => service().allowFromNamespaces('Bad_NS'))).toBe(
      errorOf(() => service({ networkPolicy: { allowFromNamespaces: ['Bad_NS'] } })),
    );
  });

  test('exposeViaIngress(options) = ingress, labels included', () => {
    const tls = secretRef('api-tls');
    const viaVerb = service();
    const ingress = viaVerb.exposeViaIngress({ host: 'api.example.com', tlsSecret: tls });
    expect(viaVerb.ingress).toBe(ingress);
    const via = objects(viaVerb);
    expect(via).toEqual(objects(service({ ingress: { host: 'api.example.com', tlsSecret: tls } })));
    expect(findObject(via, 'Ingress', 'api').metadata.labels).toMatchObject({
      'app.kubernetes.io/instance': 'api',
      'app.kubernetes.io/component': 'server',
    });
    expect(errorOf(() => service().exposeViaIngress({ tlsSecret: tls }))).toBe(errorOf(() => service({ ingress: { tlsSecret: tls } })));
    expect(() => viaVerb.exposeViaIngress({ host: 'b.example.com' })).toThrow(
      /^ingress is already set \(host "api.example.com"\): one Ingress per workload/,
    );
  });
});

describe('a ScriptBundle on a workload of your own', () => {
  test('addFiles after construction updates the ConfigMap, the volume items and the checksum the pods roll on', () => {
    const chart = testChart();
    const workload = new kplus.Job(chart, 'J', { metadata: { name: 'once' } });
    const bundle = new ScriptBundle(chart, 'B', {
      workload,
      name: 'once',
      runtime: ScriptRuntime.BUSYBOX,
      files: Files.fromContent({ 'run.sh': 'echo 1\n' }),
    });
    const before = findObject(synthObjects(chart), 'Job', 'once').spec.template.metadata.annotations['checksum/scripts'];
    bundle.addFiles(Files.fromContent({ 'lib/x.sh': 'echo x\n' }));
    const job = findObject(synthObjects(chart), 'Job', 'once');
    expect(job.spec.template.metadata.annotations['checksum/scripts']).not.toBe(before);
    expect(job.spec.template.spec.volumes[0].configMap.items).toEqual([
      { key: 'lib__x.sh', path: 'lib/x.sh' },
      { key: 'run.sh', path: 'run.sh' },
    ]);
    expect(bundle.files.map((f) => f.path)).toEqual(['lib/x.sh', 'run.sh']);
    expect(findContainer(job, 'once').command).toEqual(['sh', '/opt/app/run.sh']);
  });
});
