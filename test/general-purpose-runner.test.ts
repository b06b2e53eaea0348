import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Chart, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { GeneralPurposeRunnerChart } from '../charts/general-purpose-runner';
import {
  BUNDLE_SOURCE_PATH, GeneralPurposeRunner, GeneralPurposeRunnerProps, RUNNER_PRESETS, RunnerMode, validateCronSchedule,
} from '../lib/general-purpose-runner';
import { DEFAULT_RESOURCES } from '../lib/security';
import { assertValid, K8sObject } from '../lib/testing';
import { findAll, findContainer, findObject, synthObjects, testChart } from './support/synth';
import { secretRef } from './support/refs';

const FIXTURES = path.join(__dirname, 'fixtures', 'general-purpose-runner');
const HELLO = { 'hello.py': 'print("hello")\n' };

function synth(props: GeneralPurposeRunnerProps, namespace: string = 'test'): { runner: GeneralPurposeRunner; objects: K8sObject[] } {
  const chart = testChart(namespace);
  const runner = new GeneralPurposeRunner(chart, 'Runner', props);
  return { runner, objects: synthObjects(chart) };
}

function podSpec(o: K8sObject): any {
  return o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec.template.spec;
}

const scratchDirs: string[] = [];
afterAll(() => scratchDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function scratchFile(name: string, content: Buffer | string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpr-unit-'));
  scratchDirs.push(dir);
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

describe('GeneralPurposeRunner defaults', () => {
  test('one inline python script becomes a hardened Deployment + Service on the python preset', () => {
    // GIVEN only a script
    const { runner, objects } = synth({ scripts: HELLO });
    // THEN every default is resolved and visible
    expect(runner).toMatchObject({
      name: 'runner', mode: RunnerMode.SERVICE, preset: 'python', image: 'python:3.12.8-slim-bookworm', entrypoint: 'hello.py',
      command: ['python3', '/opt/app/hello.py'], args: [], mountPath: '/opt/app', workingDir: '/opt/app', user: 65532,
      writableTmp: true, port: 8080, servicePort: 80, serviceType: 'ClusterIP', replicas: 1, allowWildcardRules: false,
      resources: DEFAULT_RESOURCES,
      labels: {
        'app.kubernetes.io/name': 'general-purpose-runner', 'app.kubernetes.io/instance': 'runner',
        'app.kubernetes.io/component': 'server', 'app.kubernetes.io/managed-by': 'cdk8s',
      },
      selector: { 'app.kubernetes.io/name': 'general-purpose-runner', 'app.kubernetes.io/instance': 'runner' },
    });
    for (const unset of ['healthCheckPath', 'backoffLimit', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished', 'schedule', 'timeZone', 'concurrencyPolicy'] as const) {
      expect(runner[unset]).toBeUndefined();
    }
    expect(runner.podDisruptionBudget).toBeUndefined();
    expect(runner.networkPolicy).toBeDefined();
    expect(runner.bundleConfigMap).toBeUndefined();
    expect(runner.serviceAccount).toBeUndefined();
    expect(runner.ingress).toBeUndefined();
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(['ConfigMap/runner-scripts', 'Deployment/runner', 'NetworkPolicy/runner', 'Service/runner']);
    // the NetworkPolicy: same-namespace pods to the port; egress to DNS only (allowEgressTo declares the rest)
    expect(findObject(objects, 'NetworkPolicy', 'runner').spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'general-purpose-runner', 'app.kubernetes.io/instance': 'runner' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 8080 }] }],
      egress: [{ ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] }],
    });

    const cm = findObject(objects, 'ConfigMap', 'runner-scripts');
    expect(cm.data).toEqual(HELLO);
    const dep = findObject(objects, 'Deployment', 'runner');
    expect(dep.spec.replicas).toBe(1);
    const spec = podSpec(dep);
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.serviceAccountName).toBeUndefined();
    expect(spec.initContainers).toBeUndefined();
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 });
    expect(spec.volumes).toEqual([
      { name: 'scripts', configMap: { name: 'runner-scripts', defaultMode: 0o444 } },
      { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
    ]);
    const c = findContainer(dep, 'runner');
    expect(c.command).toEqual(['python3', '/opt/app/hello.py']);
    expect(c.args).toBeUndefined();
    expect(c.workingDir).toBe('/opt/app');
    expect(c.env).toEqual([
      { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
      { name: 'PYTHONUNBUFFERED', value: '1' },
      { name: 'PORT', value: '8080' },
    ]);
    expect(c.volumeMounts).toEqual([{ name: 'scripts', mountPath: '/opt/app', readOnly: true }, { name: 'tmp', mountPath: '/tmp' }]);
    expect(c.ports).toEqual([{ containerPort: 8080, name: 'http' }]);
    // without a health path readiness is the TCP check; a liveness probe would be the same check, so there is none
    expect(c.readinessProbe.tcpSocket).toEqual({ port: 8080 });
    expect(c.livenessProbe).toBeUndefined();
    expect(c.resources).toEqual({ requests: { cpu: '50m', memory: '64Mi', 'ephemeral-storage': '0.0625Gi' }, limits: { cpu: '500m', memory: '128Mi', 'ephemeral-storage': '0.25Gi' } });
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsUser: 65532, capabilities: { drop: ['ALL'] } });
    const svc = findObject(objects, 'Service', 'runner');
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080 }]);
    expect(dep.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'general-purpose-runner', 'app.kubernetes.io/instance': 'runner', 'app.kubernetes.io/component': 'server', 'app.kubernetes.io/managed-by': 'cdk8s' });
    expect(dep.metadata.labels!['app.kubernetes.io/part-of']).toBeUndefined();
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('job mode: backoffLimit 2, activeDeadlineSeconds 600, ttlSecondsAfterFinished 86400, restartPolicy Never, no Service', () => {
    const { runner, objects } = synth({ mode: RunnerMode.JOB, scripts: HELLO });
    expect(runner.job).toBeDefined();
    expect(runner.service).toBeUndefined();
    expect(runner).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 86400 });
    expect(runner.port).toBeUndefined();
    // a NetworkPolicy that lets nothing in and only DNS out
    expect(findObject(objects, 'NetworkPolicy', 'runner').spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'general-purpose-runner', 'app.kubernetes.io/instance': 'runner' } },
      policyTypes: ['Ingress', 'Egress'],
      egress: [{ ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] }],
    });
    const job = findObject(objects, 'Job', 'runner');
    expect(job.spec).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 86400 });
    expect(podSpec(job).restartPolicy).toBe('Never');
    const c = findContainer(job, 'runner');
    expect(c.ports).toBeUndefined();
    expect(c.readinessProbe).toBeUndefined();
    expect(c.env.map((e: any) => e.name)).not.toContain('PORT');
    expect(findAll(objects, 'Service')).toEqual([]);
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('cronjob mode from a schedule: Forbid, startingDeadlineSeconds 300, history 3/1, the schedule kept verbatim', () => {
    const { runner, objects } = synth({ scripts: HELLO, schedule: '@hourly' });
    expect(runner.mode).toBe('cronjob');
    expect(runner).toMatchObject({
      schedule: '@hourly', concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 300, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1,
      backoffLimit: 2, activeDeadlineSeconds: 600,
    });
    expect(runner.timeZone).toBeUndefined();
    expect(runner.ttlSecondsAfterFinished).toBeUndefined();
    const cron = findObject(objects, 'CronJob', 'runner');
    expect(cron.spec).toMatchObject({
      schedule: '@hourly', concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 300,
      successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1, suspend: false,
    });
    expect(cron.spec.timeZone).toBeUndefined();
    expect(cron.spec.jobTemplate.spec).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 600 });
    expect(cron.spec.jobTemplate.spec.ttlSecondsAfterFinished).toBeUndefined();
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('presets: node runs as uid 10000 (above 10000), busybox has no /tmp, both with their pinned images', () => {
    const node = synth({ preset: 'node', scripts: { 'main.js': 'console.log(1)\n' }, mode: RunnerMode.JOB });
    expect(node.runner).toMatchObject({ image: 'node:22.12.0-bookworm-slim', user: 10000, command: ['node', '/opt/app/main.js'], writableTmp: true });
    expect(findContainer(findObject(node.objects, 'Job', 'runner'), 'runner').securityContext).toMatchObject({ runAsUser: 10000, runAsGroup: 10000 });
    const bb = synth({ preset: 'busybox', scripts: { 'run.sh': 'echo hi\n' }, mode: RunnerMode.JOB });
    expect(bb.runner).toMatchObject({ image: 'busybox:1.36.1', user: 65532, command: ['sh', '/opt/app/run.sh'], writableTmp: false });
    expect(podSpec(findObject(bb.objects, 'Job', 'runner')).volumes.map((v: any) => v.name)).toEqual(['scripts']);
    expect(findContainer(findObject(bb.objects, 'Job', 'runner'), 'runner').env).toBeUndefined();
    for (const p of Object.values(RUNNER_PRESETS)) expect(p.image).toMatch(/:\d+\.\d+\.\d+(-[a-z0-9]+)*$/);
  });

  test('a custom image needs a command; it gets a writable /tmp and uid 65532', () => {
    const { runner, objects } = synth({ image: 'ruby:3.3.6-slim-bookworm', command: ['ruby', '/opt/app/main.rb'], scripts: { 'main.rb': 'puts 1\n' } });
    expect(runner.preset).toBeUndefined();
    expect(runner).toMatchObject({ user: 65532, writableTmp: true, command: ['ruby', '/opt/app/main.rb'] });
    expect(runner.entrypoint).toBeUndefined();
    expect(findContainer(findObject(objects, 'Deployment', 'runner'), 'runner').env).toEqual([{ name: 'PORT', value: '8080' }]);
  });
});

describe('GeneralPurposeRunner scripts, env and options', () => {
  test('scripts come from inline content, files and a directory; nested paths map through items', () => {
    const { runner, objects } = synth({
      scripts: { 'lib/util.py': 'X = 1\n' },
      scriptFiles: [path.join(FIXTURES, 'python-app', 'main.py')],
      scriptDirectory: path.join(FIXTURES, 'bundle-src', 'python'),
      entrypoint: 'main.py',
    });
    expect(runner.scripts.map((s) => [s.path, s.key])).toEqual([
      ['greetings/__init__.py', 'greetings____init__.py'], ['greetings/formal.py', 'greetings__formal.py'], ['greetings/wording.txt', 'greetings__wording.txt'],
      ['lib/util.py', 'lib__util.py'], ['main.py', 'main.py'],
    ]);
    const cm = findObject(objects, 'ConfigMap', 'runner-scripts');
    expect(cm.data['main.py']).toBe(fs.readFileSync(path.join(FIXTURES, 'python-app', 'main.py'), 'utf8'));
    const vol = podSpec(findObject(objects, 'Deployment', 'runner')).volumes.find((v: any) => v.name === 'scripts');
    expect(vol.configMap.items).toEqual(expect.arrayContaining([{ key: 'lib__util.py', path: 'lib/util.py' }, { key: 'main.py', path: 'main.py' }]));
    expect(vol.configMap.items).toHaveLength(5);
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('seed 003: args and a literal env; env from a ConfigMap and a Secret; user env wins', () => {
    const chart = testChart();
    const settings = new kplus.ConfigMap(chart, 'Settings', { metadata: { name: 'settings' }, data: { greeting: 'Hi' } });
    const secret = kplus.Secret.fromSecretName(chart, 'Creds', 'creds');
    new GeneralPurposeRunner(chart, 'Runner', {
      scripts: HELLO, args: ['Universe'],
      env: {
        GREETING: kplus.EnvValue.fromConfigMap(settings, 'greeting'),
        TOKEN: kplus.EnvValue.fromSecretValue({ secret, key: 'token' }),
        TARGET: 'Universe',
        PYTHONUNBUFFERED: '0',
      },
    });
    const objects = synthObjects(chart);
    const c = findContainer(findObject(objects, 'Deployment', 'runner'), 'runner');
    expect(c.args).toEqual(['Universe']);
    expect(c.env).toEqual(expect.arrayContaining([
      { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'settings', key: 'greeting' } } },
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } },
      { name: 'TARGET', value: 'Universe' },
      { name: 'PYTHONUNBUFFERED', value: '0' },
    ]));
    expect(c.env.filter((e: any) => e.name === 'PYTHONUNBUFFERED')).toHaveLength(1);
    expect(() => assertValid(objects)).toThrow(/refers to Secret "creds"/);
    expect(() => assertValid(objects, { external: ['Secret/test/creds'] })).not.toThrow();
  });

  test('service options: replicas, ports, HTTP probes, an Ingress with a class and TLS, a PodDisruptionBudget', () => {
    const { runner, objects } = synth({
      scripts: HELLO, replicas: 2, port: 5000, servicePort: 8080, healthCheckPath: '/healthz',
      ingress: { host: 'hello.example.com', path: '/api', className: 'nginx', tlsSecret: secretRef('hello-tls') },
    });
    expect(runner.ingress).toBeDefined();
    expect(findObject(objects, 'PodDisruptionBudget', 'runner').spec).toEqual({
      maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'general-purpose-runner', 'app.kubernetes.io/instance': 'runner' } },
    });
    expect(findObject(objects, 'Ingress', 'runner').spec.tls).toEqual([{ hosts: ['hello.example.com'], secretName: 'hello-tls' }]);
    const dep = findObject(objects, 'Deployment', 'runner');
    expect(dep.spec.replicas).toBe(2);
    const c = findContainer(dep, 'runner');
    expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz', port: 5000, scheme: 'HTTP' });
    // liveness: the cheaper TCP check over a longer threshold, never the same probe as readiness
    expect(c.livenessProbe).toEqual({ tcpSocket: { port: 5000 }, periodSeconds: 10, failureThreshold: 6 });
    expect(c.env).toContainEqual({ name: 'PORT', value: '5000' });
    const ing = findObject(objects, 'Ingress', 'runner');
    expect(ing.spec.ingressClassName).toBe('nginx');
    expect(ing.spec.rules).toEqual([{ host: 'hello.example.com', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'runner', port: { number: 8080 } } } } ] } }]);
    expect(() => assertValid(objects, { external: ['Secret/test/hello-tls'] })).not.toThrow();
  });

  test('an Ingress defaults to path "/" and the cluster default class', () => {
    const ing = findObject(synth({ scripts: HELLO, ingress: { host: 'hello.example.com' } }).objects, 'Ingress', 'runner');
    expect(ing.spec.ingressClassName).toBeUndefined();
    expect(ing.spec.rules[0].http.paths[0].path).toBe('/');
  });

  test('batch options and custom paths, user, resources', () => {
    const { objects } = synth({
      scripts: HELLO, schedule: '0 9 * * MON-FRI', timeZone: 'Europe/Berlin', mountPath: '/srv/scripts', workingDir: '/tmp', user: 11234,
      concurrencyPolicy: kplus.ConcurrencyPolicy.REPLACE, startingDeadlineSeconds: 60, successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 5,
      backoffLimit: 0, activeDeadlineSeconds: 30,
      resources: { cpu: { request: kplus.Cpu.millis(10), limit: kplus.Cpu.millis(100) }, memory: DEFAULT_RESOURCES.memory },
    });
    const cron = findObject(objects, 'CronJob', 'runner');
    expect(cron.spec).toMatchObject({
      schedule: '0 9 * * MON-FRI', timeZone: 'Europe/Berlin', concurrencyPolicy: 'Replace', startingDeadlineSeconds: 60,
      successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 5,
    });
    expect(cron.spec.jobTemplate.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 30 });
    const c = findContainer(cron, 'runner');
    expect(c.command).toEqual(['python3', '/srv/scripts/hello.py']);
    expect(c.workingDir).toBe('/tmp');
    expect(c.securityContext).toMatchObject({ runAsUser: 11234, runAsGroup: 11234 });
    expect(c.resources).toEqual({ requests: { cpu: '10m', memory: '64Mi', 'ephemeral-storage': '0.0625Gi' }, limits: { cpu: '100m', memory: '128Mi', 'ephemeral-storage': '0.25Gi' } });
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('changing a script changes the checksum annotation, so the pods roll', () => {
    const hash = (content: string) => podSpecAnnotations(synth({ scripts: { 'hello.py': content } }).objects)['checksum/scripts'];
    expect(hash('print(1)\n')).toMatch(/^[0-9a-f]{64}$/);
    expect(hash('print(1)\n')).toBe(hash('print(1)\n'));
    expect(hash('print(1)\n')).not.toBe(hash('print(2)\n'));
  });
});

function podSpecAnnotations(objects: K8sObject[]): Record<string, string> {
  return findObject(objects, 'Deployment', 'runner').spec.template.metadata.annotations;
}

describe('GeneralPurposeRunner bundles', () => {
  test('python: the bundle and unpack.py in <name>-bundle, a python3 init container on the same image, PYTHONPATH, read-only in main', () => {
    const bundle = path.join(FIXTURES, 'bundles', 'greetings-py.zip');
    const { runner, objects } = synth({ mode: RunnerMode.JOB, scriptDirectory: path.join(FIXTURES, 'python-app'), entrypoint: 'main.py', bundle });
    expect(runner).toMatchObject({ bundleMountPath: '/opt/bundle', bundleFormat: 'zip', bootstrapImage: 'python:3.12.8-slim-bookworm', unpackTool: 'python' });
    const cm = findObject(objects, 'ConfigMap', 'runner-bundle');
    expect(cm.binaryData).toEqual({ 'greetings-py.zip': fs.readFileSync(bundle).toString('base64') });
    expect(cm.data).toEqual({ 'unpack.py': fs.readFileSync(path.join(__dirname, '..', 'lib', 'general-purpose-runner', 'unpack.py'), 'utf8') });
    const job = findObject(objects, 'Job', 'runner');
    const init = findContainer(job, 'unpack');
    expect(init.image).toBe('python:3.12.8-slim-bookworm');
    expect(init.command).toEqual(['python3', `${BUNDLE_SOURCE_PATH}/unpack.py`, `${BUNDLE_SOURCE_PATH}/greetings-py.zip`, '/opt/bundle']);
    expect(init.volumeMounts).toEqual([{ name: 'bundle-source', mountPath: '/opt/bundle-source', readOnly: true }, { name: 'bundle', mountPath: '/opt/bundle' }]);
    expect(init.securityContext).toMatchObject({ runAsUser: 65532, readOnlyRootFilesystem: true });
    const c = findContainer(job, 'runner');
    expect(c.volumeMounts).toContainEqual({ name: 'bundle', mountPath: '/opt/bundle', readOnly: true });
    expect(c.env).toContainEqual({ name: 'PYTHONPATH', value: '/opt/bundle' });
    expect(job.spec.template.metadata.annotations['checksum/bundle']).toMatch(/^[0-9a-f]{64}$/);
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('node: GNU tar for tar.gz on the node image, busybox unzip for zip; an explicit bootstrapImage uses tar/unzip', () => {
    const js = { preset: 'node' as const, mode: RunnerMode.JOB as const, scripts: { 'main.js': 'console.log(1)\n' } };
    const tgz = synth({ ...js, bundle: path.join(FIXTURES, 'bundles', 'greetings-js.tar.gz') });
    const tarInit = findContainer(findObject(tgz.objects, 'Job', 'runner'), 'unpack');
    expect(tarInit.image).toBe('node:22.12.0-bookworm-slim');
    expect(tarInit.command).toEqual(['tar', '-x', '-z', '-m', '-o', '--skip-old-files', '-f', '/opt/bundle-source/greetings-js.tar.gz', '-C', '/opt/bundle']);
    expect(findContainer(findObject(tgz.objects, 'Job', 'runner'), 'runner').env).toContainEqual({ name: 'NODE_PATH', value: '/opt/bundle' });
    expect(findObject(tgz.objects, 'ConfigMap', 'runner-bundle').data).toBeUndefined();
    const zip = synth({ ...js, bundle: path.join(FIXTURES, 'bundles', 'greetings-js.zip') });
    const unzip = findContainer(findObject(zip.objects, 'Job', 'runner'), 'unpack');
    expect(unzip.image).toBe('busybox:1.36.1');
    expect(unzip.command).toEqual(['unzip', '-q', '-o', '/opt/bundle-source/greetings-js.zip', '-d', '/opt/bundle']);
    expect(unzip.securityContext).toMatchObject({ runAsUser: 10000 });
    const mirror = synth({ mode: RunnerMode.JOB, scripts: HELLO, bundle: path.join(FIXTURES, 'bundles', 'greetings-js.tar.gz'), bootstrapImage: 'registry.example.com/busybox:1.36.1', bundleMountPath: '/srv/lib' });
    const mirrored = findContainer(findObject(mirror.objects, 'Job', 'runner'), 'unpack');
    expect(mirrored.image).toBe('registry.example.com/busybox:1.36.1');
    expect(mirrored.command).toEqual(['tar', '-x', '-z', '-m', '-o', '-f', '/opt/bundle-source/greetings-js.tar.gz', '-C', '/srv/lib']);
    for (const o of [tgz.objects, zip.objects, mirror.objects]) expect(() => assertValid(o)).not.toThrow();
  });

  test('a bundle just under the 1 MiB ConfigMap limit is accepted', () => {
    const header = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
    const size = 1024 * 1024 - 'runner-bundle'.length - 'big.zip'.length - 8000;
    const file = scratchFile('big.zip', Buffer.concat([header, Buffer.alloc(size - 4)]));
    const { objects } = synth({ mode: RunnerMode.JOB, preset: 'busybox', scripts: { 'run.sh': 'echo hi\n' }, bundle: file });
    expect(() => assertValid(objects)).not.toThrow();
  });
});

describe('GeneralPurposeRunner Kubernetes API access', () => {
  test('rules: a ServiceAccount, a least-privilege Role and RoleBinding, and the token mounted', () => {
    const { runner, objects } = synth({ scripts: HELLO, rules: [{ resources: ['configmaps'], verbs: ['get', 'list'], resourceNames: ['app-config'] }] });
    expect(runner.serviceAccount).toBeDefined();
    expect(findObject(objects, 'ServiceAccount', 'runner').automountServiceAccountToken).toBe(false);
    expect(findObject(objects, 'Role', 'runner').rules).toEqual([{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'], resourceNames: ['app-config'] }]);
    expect(findObject(objects, 'RoleBinding', 'runner')).toMatchObject({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'runner' },
      subjects: [{ kind: 'ServiceAccount', name: 'runner', namespace: 'test' }],
    });
    const spec = podSpec(findObject(objects, 'Deployment', 'runner'));
    expect(spec.serviceAccountName).toBe('runner');
    expect(spec.automountServiceAccountToken).toBe(true);
    expect(findAll(objects, 'ClusterRole')).toEqual([]);
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('clusterRules (seed 000 lists namespaces): a ClusterRole named <namespace>-<name>, without a namespace', () => {
    const { runner, objects } = synth({ scripts: HELLO, name: 'ns-lister', clusterRules: [{ resources: ['namespaces'], verbs: ['list'] }] }, 'tools');
    expect(runner.clusterRole).toBeDefined();
    const role = findObject(objects, 'ClusterRole', 'tools-ns-lister');
    expect(role.metadata.namespace).toBeUndefined();
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['namespaces'], verbs: ['list'] }]);
    const binding = findObject(objects, 'ClusterRoleBinding', 'tools-ns-lister');
    expect(binding.metadata.namespace).toBeUndefined();
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'ns-lister', namespace: 'tools' }]);
    expect(findAll(objects, 'Role')).toEqual([]);
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('wildcards pass only with allowWildcardRules', () => {
    const { objects } = synth({ scripts: HELLO, rules: [{ apiGroups: ['apps'], resources: ['*'], verbs: ['*'] }], allowWildcardRules: true });
    expect(findObject(objects, 'Role', 'runner').rules[0]).toEqual({ apiGroups: ['apps'], resources: ['*'], verbs: ['*'] });
  });
});

describe('GeneralPurposeRunner validation', () => {
  const fails: Array<[string, () => GeneralPurposeRunnerProps, RegExp]> = [
    ['there is no script', () => ({}), /scripts must contain at least one file: set scripts, scriptFiles or scriptDirectory/],
    ['the entrypoint is not among the scripts', () => ({ scripts: HELLO, entrypoint: 'main.py' }), /entrypoint "main.py" is not among the scripts \(hello.py\)/],
    ['several scripts and no entrypoint', () => ({ scripts: { ...HELLO, 'b.py': 'print(2)\n' } }), /entrypoint is required when there are 2 scripts \(b.py, hello.py\)/],
    ['command and entrypoint are both set', () => ({ scripts: HELLO, entrypoint: 'hello.py', command: ['python3', 'hello.py'] }), /command and entrypoint conflict/],
    ['the command names an interpreter the preset lacks', () => ({ preset: 'node', scripts: HELLO, command: ['python3', '/opt/app/hello.py'] }),
      /command "python3" conflicts with preset "node": its image node:22.12.0-bookworm-slim has node, npm, npx, corepack, sh, bash, not python3/],
    ['busybox is asked for bash', () => ({ preset: 'busybox', scripts: HELLO, command: ['/bin/bash', '-c', 'x'] }), /command "\/bin\/bash" conflicts with preset "busybox"/],
    ['a custom image has no command', () => ({ image: 'ruby:3.3.6-slim-bookworm', scripts: HELLO }), /command is required with a custom image \(no preset\)/],
    ['the command is empty', () => ({ scripts: HELLO, command: [] }), /command must name a program, got \[\]/],
    ['the preset is unknown', () => ({ scripts: HELLO, preset: 'perl' as any }), /preset must be one of "python", "node", "busybox", got "perl"/],
    ['the image floats', () => ({ scripts: HELLO, image: 'python:latest', preset: 'python' }), /image must not use the floating "latest" tag/],
    ['the schedule has 6 fields', () => ({ scripts: HELLO, schedule: '0 0 * * * *' }), /schedule must have 5 fields .* got 6 in "0 0 \* \* \* \*"/],
    ['the schedule hour is out of range', () => ({ scripts: HELLO, schedule: '0 24 * * *' }), /schedule hour must be 0-23, got 24 in "0 24 \* \* \*"/],
    ['the schedule is not cron at all', () => ({ scripts: HELLO, schedule: 'every day' }), /schedule must have 5 fields/],
    ['mode cronjob has no schedule', () => ({ scripts: HELLO, mode: RunnerMode.CRONJOB }), /schedule is required in mode "cronjob"/],
    ['schedule is set in job mode', () => ({ scripts: HELLO, mode: RunnerMode.JOB, schedule: '@daily' }), /schedule only applies to mode "cronjob", got mode "job"/],
    ['port is set in job mode', () => ({ scripts: HELLO, mode: RunnerMode.JOB, port: 80 }), /port only applies to mode "service", got mode "job"/],
    ['ttlSecondsAfterFinished is set on a CronJob', () => ({ scripts: HELLO, schedule: '@daily', ttlSecondsAfterFinished: 60 }), /ttlSecondsAfterFinished only applies to mode "job", got mode "cronjob"/],
    ['backoffLimit is set on a service', () => ({ scripts: HELLO, backoffLimit: 1 }), /backoffLimit only applies to mode "job" or "cronjob", got mode "service"/],
    ['the mode is unknown', () => ({ scripts: HELLO, mode: 'daemon' as any }), /mode must be one of "service", "job", "cronjob", got "daemon"/],
    ['startingDeadlineSeconds is below 10', () => ({ scripts: HELLO, schedule: '@daily', startingDeadlineSeconds: 5 }), /startingDeadlineSeconds must be an integer of at least 10, got 5/],
    ['the time zone is not a name', () => ({ scripts: HELLO, schedule: '@daily', timeZone: 'UTC+2 ' }), /timeZone must be an IANA time zone such as "Europe\/Berlin" or "Etc\/UTC", got "UTC\+2 "/],
    ['a CronJob name is longer than 52', () => ({ scripts: HELLO, schedule: '@daily', name: 'a'.repeat(53) }), /name must be at most 52 characters for a CronJob/],
    ['the name is not a DNS label', () => ({ scripts: HELLO, name: 'My_Runner' }), /name must be a DNS-1123 label/],
    ['a rule has a wildcard verb', () => ({ scripts: HELLO, clusterRules: [{ resources: ['namespaces'], verbs: ['*'] }] }),
      /clusterRules\[0\].verbs must not contain "\*" \(it grants far more than a script needs\): list the verbs or set allowWildcardRules: true/],
    ['a rule has a wildcard resource', () => ({ scripts: HELLO, rules: [{ resources: ['*'], verbs: ['get'] }] }), /rules\[0\].resources must not contain "\*"/],
    ['a rule has no verbs', () => ({ scripts: HELLO, rules: [{ resources: ['pods'], verbs: [] }] }), /rules\[0\].verbs must list at least one value/],
    ['a rule has a bad verb', () => ({ scripts: HELLO, rules: [{ resources: ['pods'], verbs: ['Get'] }] }), /rules\[0\].verbs\[0\] must be an RBAC verb \(get, list, watch, .*\), got "Get"/],
    ['rules is empty', () => ({ scripts: HELLO, rules: [] }), /rules must list at least one rule when set/],
    ['an env name is invalid', () => ({ scripts: HELLO, env: { '1BAD': 'x' } }), /env name must be a valid environment variable name/],
    ['a script path climbs out', () => ({ scripts: { '../x.py': '' } }), /scripts path must be a relative path .* got "..\/x.py"/],
    ['a script is given twice', () => ({ scripts: { 'main.py': '' }, scriptFiles: [path.join(FIXTURES, 'python-app', 'main.py')] }), /scripts path "main.py" is given twice: by scripts and by scriptFiles\[0\] ".*main.py"/],
    ['a script file does not exist', () => ({ scriptFiles: ['/nonexistent/x.py'] }), /scriptFiles\[0\] "\/nonexistent\/x.py" does not exist/],
    ['the script directory does not exist', () => ({ scriptDirectory: '/nonexistent' }), /scriptDirectory "\/nonexistent" does not exist/],
    ['a script is not UTF-8', () => ({ scriptFiles: [scratchFile('bin.py', Buffer.from([0xff, 0xfe, 0x00]))] }), /scripts file "bin.py" \(from scriptFiles\[0\] ".*bin.py"\) must be UTF-8 text, got bytes that are not valid UTF-8/],
    ['the scripts exceed 1 MiB', () => ({ scripts: { 'big.py': 'x'.repeat(1024 * 1024) } }), /scripts is 1.00 MiB \(1048582 bytes\), more than the 1.00 MiB \(1048576 bytes\) a ConfigMap can hold \(largest files: big.py 1.00 MiB \(1048576 bytes\)\): ship large files in a bundle or an image/],
    ['the bundle exceeds 1 MiB', () => ({ scripts: HELLO, mode: RunnerMode.JOB, bundle: scratchFile('big.zip', Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(1024 * 1024)])) }),
      /bundle is 1.00 MiB \(\d+ bytes\), more than the 1.00 MiB \(1048576 bytes\) a ConfigMap can hold \(largest files: big.zip 1.00 MiB \(1048580 bytes\).*\): ship large dependencies in an image or a volume/],
    ['the bundle has an unknown extension', () => ({ scripts: HELLO, bundle: scratchFile('b.rar', 'x') }), /bundle must be a .zip, .tar, .tar.gz or .tgz file/],
    ['the bundle is not what its name says', () => ({ scripts: HELLO, bundle: scratchFile('b.zip', 'not a zip') }), /bundle ".*b.zip" is not a zip archive/],
    ['the bundle does not exist', () => ({ scripts: HELLO, bundle: '/nonexistent/b.zip' }), /bundle "\/nonexistent\/b.zip" does not exist/],
    ['the bundle mount overlaps the scripts', () => ({ scripts: HELLO, bundle: path.join(FIXTURES, 'bundles', 'greetings-py.zip'), bundleMountPath: '/opt/app/lib' }),
      /bundleMountPath must not overlap mountPath \("\/opt\/app"\), got "\/opt\/app\/lib"/],
    ['the scripts mount overlaps /tmp', () => ({ scripts: HELLO, mountPath: '/tmp/app' }), /mountPath must not overlap the writable \/tmp, got "\/tmp\/app"/],
    ['the mount path is relative', () => ({ scripts: HELLO, mountPath: 'app' }), /mountPath must be an absolute path/],
    ['the ingress has TLS but no host', () => ({ scripts: HELLO, ingress: { tlsSecret: secretRef('x-tls') } }), /ingress.tlsSecret needs ingress.host/],
    ['an ingress is set in job mode', () => ({ scripts: HELLO, mode: RunnerMode.JOB, ingress: { host: 'x.example.com' } }), /ingress only applies to mode "service", got mode "job"/],
    ['an env value is a number (it would be emitted with no value)', () => ({ scripts: HELLO, env: { RETRIES: 3 as unknown as string } }),
      /env "RETRIES" must be a string or a kplus.EnvValue .*got number 3/],
    ['an env value is a boolean', () => ({ scripts: HELLO, env: { DEBUG: true as unknown as string } }), /env "DEBUG" must be a string or a kplus.EnvValue .*got boolean true/],
    ['the entrypoint script is empty', () => ({ scripts: { 'main.py': '' } }), /entrypoint script "main.py" must not be empty, got ""/],
    ['the entrypoint script is only white space', () => ({ scripts: { 'main.py': ' \n', 'lib/__init__.py': '' }, entrypoint: 'main.py' }), /entrypoint script "main.py" must not be empty/],
    ['the scripts map is empty', () => ({ scripts: {} }), /scripts must contain at least one file/],
    ['the entrypoint is empty', () => ({ scripts: HELLO, entrypoint: '' }), /entrypoint must not be empty, got ""/],
    ['a bundle option is set without a bundle', () => ({ scripts: HELLO, bundleMountPath: '/opt/b' }), /bundleMountPath only applies with bundle, got bundleMountPath "\/opt\/b" without a bundle/],
    ['a prop is misspelled', () => ({ scripts: HELLO, replica: 2 }) as never, /GeneralPurposeRunner props has no option "replica" \(did you mean "replicas"\?\)/],
    ['a prop of the old API is given', () => ({ scripts: HELLO, ingressHost: 'a.example.com' }) as never, /GeneralPurposeRunner props has no option "ingressHost"/],
    ['an RBAC rule field is misspelled', () => ({ scripts: HELLO, rules: [{ resources: ['pods'], verb: ['get'] }] }) as never, /rules\[0\] has no option "verb" \(did you mean "verbs"\?\)/],
    ['the command is a blank program', () => ({ scripts: HELLO, command: [' '] }), /command must name a program/],
    ['the time zone is unknown', () => ({ scripts: HELLO, schedule: '@daily', timeZone: 'Mars/Olympus_Mons' }), /timeZone must be an IANA time zone .* got "Mars\/Olympus_Mons"/],
    ['the time zone is in the wrong case (the cluster\'s tz database is case-sensitive)', () => ({ scripts: HELLO, schedule: '@daily', timeZone: 'europe/berlin' }),
      /timeZone must be an IANA time zone in its exact case, got "europe\/berlin" \(did you mean "Europe\/Berlin"\?\)/],
    ['the time zone UTC is in lower case', () => ({ scripts: HELLO, schedule: '@daily', timeZone: 'utc' }), /timeZone must be an IANA time zone in its exact case, got "utc" \(did you mean "UTC"\?\)/],
    ['the time zone is a misspelled city', () => ({ scripts: HELLO, schedule: '@daily', timeZone: 'Europe/Berln' }), /timeZone must be an IANA time zone .* got "Europe\/Berln"/],
    ['an RBAC verb is misspelled', () => ({ scripts: HELLO, rules: [{ resources: ['pods'], verbs: ['get', 'lsit'] }] }), /rules\[0\].verbs\[1\] must be an RBAC verb .* got "lsit"/],
    ['the mode is in the wrong case', () => ({ scripts: HELLO, mode: 'Job' as RunnerMode }), /mode must be one of "service", "job", "cronjob", got "Job" \(did you mean "job"\?\)/],
    ['the preset is in the wrong case', () => ({ scripts: HELLO, preset: 'Python' as 'python' }), /preset must be one of "python", "node", "busybox", got "Python" \(did you mean "python"\?\)/],
    ['the concurrency policy is in the wrong case', () => ({ scripts: HELLO, schedule: '@daily', concurrencyPolicy: 'forbid' as kplus.ConcurrencyPolicy }),
      /concurrencyPolicy must be one of "Allow", "Forbid", "Replace", got "forbid" \(did you mean "Forbid"\?\)/],
    ['the serviceType is in the wrong case', () => ({ scripts: HELLO, serviceType: 'nodeport' as kplus.ServiceType }), /serviceType must be one of .* got "nodeport" \(did you mean "NodePort"\?\)/],
    ['a CPU request is above its limit', () => ({ scripts: HELLO, resources: { cpu: { request: kplus.Cpu.millis(800), limit: kplus.Cpu.millis(500) } } }),
      /resources.cpu.request must not exceed resources.cpu.limit, got request 800m and limit 500m/],
    ['a memory request is above its limit', () => ({ scripts: HELLO, resources: { memory: { request: Size.gibibytes(1), limit: Size.mebibytes(512) } } }),
      /resources.memory.request must not exceed resources.memory.limit, got request 1048576Ki and limit 524288Ki/],
    ['a script file entry is left out', () => ({ scriptFiles: [undefined as unknown as string] }), /scriptFiles\[0\] is required/],
    ['the port is privileged (the runner runs as non-root)', () => ({ scripts: HELLO, port: 80 }), /port must be an integer 1024-65535 \(the container runs as non-root without NET_BIND_SERVICE\), got 80/],
    ['the health check path is not a path', () => ({ scripts: HELLO, healthCheckPath: 'healthz' }), /healthCheckPath must be an absolute URL path like "\/" or "\/healthz" .*got "healthz"/],
    ['the port is out of range', () => ({ scripts: HELLO, port: 70000 }), /port must be an integer 1024-65535 .*got 70000/],
  ];
  test.each(fails)('fails when %s', (_why, props, message) => {
    expect(() => synth(props())).toThrow(message);
  });

  test('fails when clusterRules are asked for in a chart without a namespace', () => {
    const chart = new Chart(Testing.app(), 'nons');
    expect(() => new GeneralPurposeRunner(chart, 'R', { scripts: HELLO, clusterRules: [{ resources: ['namespaces'], verbs: ['list'] }] }))
      .toThrow(/clusterRules need the chart to have a namespace/);
  });
});

describe('validateCronSchedule', () => {
  test.each([
    '*/15 * * * *', '0 9 * * 1-5', '0 9 * * MON-FRI', '0,30 8-18/2 1,15 jan-jun,DEC sun', '5/10 * ? * *', '0 0 1 1 *', '59 23 31 12 6',
    '@hourly', '@daily', '@midnight', '@weekly', '@monthly', '@yearly', '@annually', '  1 2 3 4 5  ',
  ])('accepts "%s"', (s) => {
    expect(validateCronSchedule(s)).toBe(s);
  });
  test.each([
    ['', /must be a cron expression/],
    ['* * * *', /must have 5 fields/],
    ['60 * * * *', /minute must be 0-59, got 60/],
    ['* * 0 * *', /day of month must be 1-31, got 0/],
    ['* * * 13 *', /month must be 1-12, got 13/],
    ['* * * * 7', /day of week must be 0-6, got 7/],
    ['* * * foo *', /month must be a number 1-12 or a name \(jan, .*\), got "foo"/],
    ['* * * * mon-', /day of week must be a value, range \(a-b\), list \(a,b\) or step/],
    ['*/0 * * * *', /minute step must be an integer 1-59, got "0"/],
    ['*/x * * * *', /minute step must be an integer 1-59, got "x"/],
    ['30-10 * * * *', /minute range must go from low to high, got "30-10"/],
    ['1,,2 * * * *', /minute must be a value, range/],
    ['1/2/3 * * * *', /minute must be a value, range/],
    ['@every 5m', /macro must be one of @yearly/],
    ['@reboot', /macro must be one of/],
    ['TZ=UTC 0 * * * *', /must not carry a time zone .* set timeZone instead/],
  ])('refuses "%s"', (s, message) => {
    expect(() => validateCronSchedule(s)).toThrow(message);
  });
});

describe('GeneralPurposeRunnerChart', () => {
  let objects: K8sObject[];
  beforeAll(() => { objects = synthObjects(new GeneralPurposeRunnerChart(Testing.app(), 'gpr')); });

  test('synthesizes the reviewed manifests', () => {
    expect(objects).toMatchSnapshot();
  });

  test('passes the gate with nothing out of band', () => {
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('reproduces the seeds in namespace general-purpose-runner, with no image built', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace ?? '-'}/${o.metadata.name}`).sort()).toEqual([
      'ClusterRole/-/general-purpose-runner-namespaces-api',
      'ClusterRoleBinding/-/general-purpose-runner-namespaces-api',
      'ConfigMap/general-purpose-runner/greeter-monitor-scripts',
      'ConfigMap/general-purpose-runner/greeter-scripts',
      'ConfigMap/general-purpose-runner/greeter-smoke-test-scripts',
      'ConfigMap/general-purpose-runner/namespaces-api-scripts',
      'CronJob/general-purpose-runner/greeter-monitor',
      'Deployment/general-purpose-runner/greeter',
      'Deployment/general-purpose-runner/namespaces-api',
      'Job/general-purpose-runner/greeter-smoke-test',
      'NetworkPolicy/general-purpose-runner/greeter',
      'NetworkPolicy/general-purpose-runner/greeter-monitor',
      'NetworkPolicy/general-purpose-runner/greeter-smoke-test',
      'NetworkPolicy/general-purpose-runner/namespaces-api',
      'Service/general-purpose-runner/greeter',
      'Service/general-purpose-runner/namespaces-api',
      'ServiceAccount/general-purpose-runner/namespaces-api',
    ]);
    const images = new Set(objects.flatMap((o) => { const s = o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec?.template?.spec; return (s?.containers ?? []).map((c: any) => c.image); }));
    expect([...images].sort()).toEqual(['busybox:1.36.1', 'python:3.12.8-slim-bookworm']);
    // seed 003: target from args, greeting from env
    const greeter = findContainer(findObject(objects, 'Deployment', 'greeter'), 'greeter');
    expect(greeter.command).toEqual(['python3', '/opt/app/greeter.py']);
    expect(greeter.args).toEqual(['Universe']);
    expect(greeter.env).toEqual(expect.arrayContaining([{ name: 'GREETING', value: 'Hi' }, { name: 'PORT', value: '8080' }]));
    expect(greeter.readinessProbe.httpGet).toEqual({ path: '/', port: 8080, scheme: 'HTTP' });
    expect(findContainer(findObject(objects, 'Deployment', 'namespaces-api'), 'namespaces-api').readinessProbe.httpGet.path).toBe('/healthz');
    const scripts = path.join(__dirname, '..', 'charts', 'scripts', 'general-purpose-runner');
    expect(findObject(objects, 'ConfigMap', 'greeter-scripts').data).toEqual({
      'greeter.py': fs.readFileSync(path.join(scripts, 'greeter.py'), 'utf8'),
      'serving.py': fs.readFileSync(path.join(scripts, 'serving.py'), 'utf8'),
    });
    // seed 000: list namespaces, and nothing more, with a token only there
    expect(findObject(objects, 'ClusterRole', 'general-purpose-runner-namespaces-api').rules).toEqual([{ apiGroups: [''], resources: ['namespaces'], verbs: ['list'] }]);
    for (const o of objects.filter((x) => ['Deployment', 'Job', 'CronJob'].includes(x.kind))) {
      expect([o.metadata.name, podSpec(o).automountServiceAccountToken]).toEqual([o.metadata.name, o.metadata.name === 'namespaces-api']);
    }
    // the checks point at the greeter's Service
    expect(findContainer(findObject(objects, 'Job', 'greeter-smoke-test'), 'greeter-smoke-test').env).toEqual(expect.arrayContaining([
      { name: 'TARGET_URL', value: 'http://greeter:80/' }, { name: 'EXPECT', value: 'Hi, Universe!' },
    ]));
    expect(findObject(objects, 'CronJob', 'greeter-monitor').spec.schedule).toBe('*/5 * * * *');
    expect(findContainer(findObject(objects, 'CronJob', 'greeter-monitor'), 'greeter-monitor').command).toEqual(['sh', '/opt/app/greeter_monitor.sh']);
    for (const o of objects) expect(o.metadata.labels?.['app.kubernetes.io/part-of']).toBe('general-purpose-runner');
  });

  test('props change the greeting, target, port, Ingress, schedule and namespace', () => {
    const objs = synthObjects(new GeneralPurposeRunnerChart(Testing.app(), 'gpr', {
      namespace: 'tools', greeting: 'Hello', target: 'World', port: 5000, greeterIngress: { host: 'greeter.example.com' }, monitorSchedule: '@hourly',
    }));
    const greeter = findContainer(findObject(objs, 'Deployment', 'greeter'), 'greeter');
    expect(greeter.args).toEqual(['World']);
    expect(greeter.env).toEqual(expect.arrayContaining([{ name: 'GREETING', value: 'Hello' }, { name: 'PORT', value: '5000' }]));
    expect(findObject(objs, 'Ingress', 'greeter').spec.rules[0].host).toBe('greeter.example.com');
    expect(findObject(objs, 'CronJob', 'greeter-monitor').spec.schedule).toBe('@hourly');
    expect(findContainer(findObject(objs, 'Job', 'greeter-smoke-test'), 'greeter-smoke-test').env).toContainEqual({ name: 'EXPECT', value: 'Hello, World!' });
    expect(findObject(objs, 'ClusterRoleBinding', 'tools-namespaces-api').subjects).toEqual([{ kind: 'ServiceAccount', name: 'namespaces-api', namespace: 'tools' }]);
    expect(() => assertValid(objs)).not.toThrow();
  });
});

describe('GeneralPurposeRunner snapshot', () => {
  test('a CronJob with a bundle, nested scripts and API access', () => {
    const { objects } = synth({
      name: 'report', preset: 'python', schedule: '30 2 * * *',
      scripts: { 'report.py': 'import lib.fmt\n', 'lib/fmt.py': 'X = 1\n' }, entrypoint: 'report.py',
      bundle: path.join(FIXTURES, 'bundles', 'greetings-py.zip'),
      rules: [{ resources: ['configmaps'], verbs: ['get'], resourceNames: ['report-settings'] }],
    });
    expect(objects).toMatchSnapshot();
    expect(() => assertValid(objects)).not.toThrow();
  });
});
