import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Chart, Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { GeneralPurposeRunnerChart } from '../charts/general-purpose-runner';
import { RUNNER_PRESETS } from '../lib/general-purpose-runner/presets';
import { validateCronSchedule } from '../lib/general-purpose-runner/schedule';
import { ARCHIVE_SOURCE_PATH, resolveScriptBundle, ScriptBundle, ScriptRuntime } from '../lib/script-bundle';
import {
  resolveScriptCronJob,
  resolveScriptJob,
  resolveScriptService,
  ScriptCronJob,
  ScriptCronJobProps,
  ScriptJob,
  ScriptJobProps,
  ScriptService,
  ScriptServiceProps,
} from '../lib/script-workloads';
import { DEFAULT_RESOURCES } from '../lib/security';
import { assertValid, K8sObject } from '../lib/testing';
import { Files } from '../lib/workload';
import { findAll, findContainer, findObject, synthObjects, testChart } from './support/synth';
import { secretRef } from './support/refs';

const FIXTURES = path.join(__dirname, 'fixtures', 'general-purpose-runner');
const HELLO = Files.fromContent({ 'hello.py': 'print("hello")\n' });
const text = (v: string) => kplus.EnvValue.fromValue(v);

function service(props: Partial<ScriptServiceProps>, namespace: string = 'test'): { runner: ScriptService; objects: K8sObject[] } {
  const chart = testChart(namespace);
  const runner = new ScriptService(chart, 'Runner', { files: HELLO, ...props });
  return { runner, objects: synthObjects(chart) };
}

function job(props: Partial<ScriptJobProps>, namespace: string = 'test'): { runner: ScriptJob; objects: K8sObject[] } {
  const chart = testChart(namespace);
  const runner = new ScriptJob(chart, 'Runner', { files: HELLO, ...props });
  return { runner, objects: synthObjects(chart) };
}

function cron(props: Partial<ScriptCronJobProps>, namespace: string = 'test'): { runner: ScriptCronJob; objects: K8sObject[] } {
  const chart = testChart(namespace);
  const runner = new ScriptCronJob(chart, 'Runner', { files: HELLO, schedule: '@hourly', ...props });
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

describe('ScriptService defaults', () => {
  test('one inline python script becomes a hardened Deployment (2 replicas, spread, PDB) + Service on the python runtime', () => {
    // GIVEN only a script
    const { runner, objects } = service({});
    const r = resolveScriptService({ files: HELLO }, 'test');
    // THEN every default is resolved
    expect(r).toMatchObject({ port: 8080, replicas: 2, expose: { servicePort: 80, serviceType: 'ClusterIP' } });
    expect(r.bundle).toMatchObject({
      name: 'runner',
      runtime: ScriptRuntime.PYTHON,
      image: 'python:3.12.8-slim-bookworm',
      entrypoint: 'hello.py',
      command: ['python3', '/opt/app/hello.py'],
      args: [],
      mountPath: '/opt/app',
      workingDir: '/opt/app',
      security: { user: 65532, group: 65532, fsGroup: 65532 },
      writableTmp: true,
      allowWildcardRules: false,
      resources: DEFAULT_RESOURCES,
      service: { port: 8080 },
    });
    expect(r.bundle.service!.healthPath).toBeUndefined();
    expect(runner).toMatchObject({
      name: 'runner',
      image: 'python:3.12.8-slim-bookworm',
      port: 8080,
      servicePort: 80,
      replicas: 2,
      labels: {
        'app.kubernetes.io/name': 'general-purpose-runner',
        'app.kubernetes.io/instance': 'runner',
        'app.kubernetes.io/component': 'server',
        'app.kubernetes.io/managed-by': 'cdk8s',
      },
      selector: { 'app.kubernetes.io/name': 'general-purpose-runner', 'app.kubernetes.io/instance': 'runner' },
    });
    expect(runner.bundle.archiveConfigMap).toBeUndefined();
    expect(runner.bundle.serviceAccount).toBeUndefined();
    expect(runner.ingress).toBeUndefined();
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ConfigMap/runner-scripts',
      'Deployment/runner',
      'Service/runner',
      'NetworkPolicy/runner',
      'PodDisruptionBudget/runner',
    ]);
    // the NetworkPolicy: same-namespace pods to the port; egress to DNS only (allowEgressTo declares the rest)
    expect(findObject(objects, 'NetworkPolicy', 'runner').spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'general-purpose-runner', 'app.kubernetes.io/instance': 'runner' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 8080 }] }],
      egress: [
        {
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    });
    expect(findObject(objects, 'PodDisruptionBudget', 'runner').spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'general-purpose-runner', 'app.kubernetes.io/instance': 'runner' } },
    });

    const cm = findObject(objects, 'ConfigMap', 'runner-scripts');
    expect(cm.data).toEqual({ 'hello.py': 'print("hello")\n' });
    const dep = findObject(objects, 'Deployment', 'runner');
    expect(dep.spec.replicas).toBe(2);
    const spec = podSpec(dep);
    expect(spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]).toEqual({
      weight: 100,
      podAffinityTerm: {
        topologyKey: 'kubernetes.io/hostname',
        labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'general-purpose-runner', 'app.kubernetes.io/instance': 'runner' } },
      },
    });
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.serviceAccountName).toBeUndefined();
    expect(spec.initContainers).toBeUndefined();
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 });
    expect(spec.volumes).toEqual([
      { name: 'scripts', configMap: { name: 'runner-scripts', defaultMode: 0o444 } },
      { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
    ]);
    const c = findContainer(dep, 'runner');
    expect(c.image).toBe('python:3.12.8-slim-bookworm');
    expect(c.command).toEqual(['python3', '/opt/app/hello.py']);
    expect(c.args).toBeUndefined();
    expect(c.workingDir).toBe('/opt/app');
    expect(c.env).toEqual([
      { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
      { name: 'PYTHONUNBUFFERED', value: '1' },
      { name: 'PORT', value: '8080' },
    ]);
    expect(c.volumeMounts).toEqual([
      { name: 'scripts', mountPath: '/opt/app', readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
    expect(c.ports).toEqual([{ containerPort: 8080, name: 'http' }]);
    // without a health path readiness is the TCP check; a liveness probe would be the same check, so there is none
    expect(c.readinessProbe.tcpSocket).toEqual({ port: 8080 });
    expect(c.livenessProbe).toBeUndefined();
    expect(c.resources).toEqual({
      requests: { 'cpu': '50m', 'memory': '64Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '500m', 'memory': '128Mi', 'ephemeral-storage': '0.25Gi' },
    });
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      runAsUser: 65532,
      capabilities: { drop: ['ALL'] },
    });
    const svc = findObject(objects, 'Service', 'runner');
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080 }]);
    expect(dep.metadata.labels).toMatchObject({
      'app.kubernetes.io/name': 'general-purpose-runner',
      'app.kubernetes.io/instance': 'runner',
      'app.kubernetes.io/component': 'server',
      'app.kubernetes.io/managed-by': 'cdk8s',
    });
    expect(dep.metadata.labels!['app.kubernetes.io/part-of']).toBeUndefined();
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('replicas 1: no spread and no PodDisruptionBudget', () => {
    const { objects } = service({ replicas: 1 });
    expect(podSpec(findObject(objects, 'Deployment', 'runner')).affinity).toBeUndefined();
    expect(findAll(objects, 'PodDisruptionBudget')).toEqual([]);
  });

  test('ScriptJob: backoffLimit 2, activeDeadline 10 min, ttlAfterFinished 1 day, restartPolicy Never, no Service', () => {
    const { runner, objects } = job({});
    expect(resolveScriptJob({ files: HELLO })).toMatchObject({ backoffLimit: 2, activeDeadline: 600, ttlAfterFinished: 86400 });
    expect(runner.job).toBeInstanceOf(kplus.Job);
    expect(runner.labels['app.kubernetes.io/component']).toBe('job');
    // a NetworkPolicy that lets nothing in and only DNS out
    expect(findObject(objects, 'NetworkPolicy', 'runner').spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'general-purpose-runner', 'app.kubernetes.io/instance': 'runner' } },
      policyTypes: ['Ingress', 'Egress'],
      egress: [
        {
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    });
    const j = findObject(objects, 'Job', 'runner');
    expect(j.spec).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 86400 });
    expect(podSpec(j).restartPolicy).toBe('Never');
    const c = findContainer(j, 'runner');
    expect(c.ports).toBeUndefined();
    expect(c.readinessProbe).toBeUndefined();
    expect(c.env.map((e: any) => e.name)).not.toContain('PORT');
    expect(findAll(objects, 'Service')).toEqual([]);
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('ScriptCronJob: Forbid, startingDeadline 5 min, 3/1 jobs retained, activeDeadline 10 min, the schedule kept verbatim', () => {
    const { runner, objects } = cron({ schedule: '@hourly' });
    expect(runner.labels['app.kubernetes.io/component']).toBe('cronjob');
    expect(resolveScriptCronJob({ files: HELLO, schedule: '@hourly' })).toMatchObject({
      schedule: '@hourly',
      concurrencyPolicy: 'Forbid',
      startingDeadline: 300,
      successfulJobsRetained: 3,
      failedJobsRetained: 1,
      backoffLimit: 2,
      activeDeadline: 600,
      timeZone: undefined,
    });
    const c = findObject(objects, 'CronJob', 'runner');
    expect(c.spec).toMatchObject({
      schedule: '@hourly',
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 300,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      suspend: false,
    });
    expect(c.spec.timeZone).toBeUndefined();
    expect(c.spec.jobTemplate.spec).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 600 });
    expect(c.spec.jobTemplate.spec.ttlSecondsAfterFinished).toBeUndefined();
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('runtimes: node runs as uid 10000, busybox has no /tmp, both with their pinned images', () => {
    const node = job({ runtime: ScriptRuntime.NODE, files: Files.fromContent({ 'main.js': 'console.log(1)\n' }) });
    expect(resolveScriptBundle({ runtime: ScriptRuntime.NODE, files: Files.fromContent({ 'main.js': 'console.log(1)\n' }) })).toMatchObject({
      image: 'node:22.12.0-bookworm-slim',
      security: { user: 10000, group: 10000 },
      command: ['node', '/opt/app/main.js'],
      writableTmp: true,
    });
    expect(findContainer(findObject(node.objects, 'Job', 'runner'), 'runner').securityContext).toMatchObject({ runAsUser: 10000, runAsGroup: 10000 });
    const bb = job({ runtime: ScriptRuntime.BUSYBOX, files: Files.fromContent({ 'run.sh': 'echo hi\n' }) });
    expect(bb.runner.image).toBe('busybox:1.36.1');
    expect(bb.runner.bundle.command).toEqual(['sh', '/opt/app/run.sh']);
    expect(podSpec(findObject(bb.objects, 'Job', 'runner')).volumes.map((v: any) => v.name)).toEqual(['scripts']);
    expect(findContainer(findObject(bb.objects, 'Job', 'runner'), 'runner').env).toBeUndefined();
    for (const p of Object.values(RUNNER_PRESETS)) expect(p.image).toMatch(/:\d+\.\d+\.\d+(-[a-z0-9]+)*$/);
  });

  test('a custom image needs a command; it gets a writable /tmp and uid 65532', () => {
    const props = { image: 'ruby:3.3.6-slim-bookworm', command: ['ruby', '/opt/app/main.rb'], files: Files.fromContent({ 'main.rb': 'puts 1\n' }) };
    const r = resolveScriptBundle(props);
    expect(r.runtime).toBeUndefined();
    expect(r.entrypoint).toBeUndefined();
    expect(r).toMatchObject({ security: { user: 65532 }, writableTmp: true, command: ['ruby', '/opt/app/main.rb'] });
    const { objects } = service(props);
    expect(findContainer(findObject(objects, 'Deployment', 'runner'), 'runner').env).toEqual([{ name: 'PORT', value: '8080' }]);
  });
});

describe('scripts, env and options', () => {
  test('files come from inline content, paths and a directory; nested paths map through items', () => {
    const { runner, objects } = service({
      files: Files.of(
        Files.fromContent({ 'lib/util.py': 'X = 1\n' }),
        Files.fromPaths([path.join(FIXTURES, 'python-app', 'main.py')]),
        Files.fromDirectory(path.join(FIXTURES, 'bundle-src', 'python')),
      ),
      entrypoint: 'main.py',
    });
    expect(runner.bundle.files.map((s) => [s.path, s.key])).toEqual([
      ['greetings/__init__.py', 'greetings____init__.py'],
      ['greetings/formal.py', 'greetings__formal.py'],
      ['greetings/wording.txt', 'greetings__wording.txt'],
      ['lib/util.py', 'lib__util.py'],
      ['main.py', 'main.py'],
    ]);
    const cm = findObject(objects, 'ConfigMap', 'runner-scripts');
    expect(cm.data['main.py']).toBe(fs.readFileSync(path.join(FIXTURES, 'python-app', 'main.py'), 'utf8'));
    const vol = podSpec(findObject(objects, 'Deployment', 'runner')).volumes.find((v: any) => v.name === 'scripts');
    expect(vol.configMap.items).toEqual(
      expect.arrayContaining([
        { key: 'lib__util.py', path: 'lib/util.py' },
        { key: 'main.py', path: 'main.py' },
      ]),
    );
    expect(vol.configMap.items).toHaveLength(5);
    expect(() => assertValid(objects)).not.toThrow();
  });

  test("args and a literal env; env from a ConfigMap and a Secret; the user's env wins over the runtime's", () => {
    const chart = testChart();
    const settings = new kplus.ConfigMap(chart, 'Settings', { metadata: { name: 'settings' }, data: { greeting: 'Hi' } });
    const secret = kplus.Secret.fromSecretName(chart, 'Creds', 'creds');
    new ScriptService(chart, 'Runner', {
      files: HELLO,
      args: ['Universe'],
      envVariables: {
        GREETING: kplus.EnvValue.fromConfigMap(settings, 'greeting'),
        TOKEN: kplus.EnvValue.fromSecretValue({ secret, key: 'token' }),
        TARGET: text('Universe'),
        PYTHONUNBUFFERED: text('0'),
      },
    });
    const objects = synthObjects(chart);
    const c = findContainer(findObject(objects, 'Deployment', 'runner'), 'runner');
    expect(c.args).toEqual(['Universe']);
    expect(c.env).toEqual([
      { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
      { name: 'PYTHONUNBUFFERED', value: '0' },
      { name: 'PORT', value: '8080' },
      { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'settings', key: 'greeting' } } },
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } },
      { name: 'TARGET', value: 'Universe' },
    ]);
    expect(() => assertValid(objects)).toThrow(/refers to Secret "creds"/);
    expect(() => assertValid(objects, { external: ['Secret/test/creds'] })).not.toThrow();
  });

  test('service options: replicas, ports, HTTP probes, an Ingress with a class and TLS, a PodDisruptionBudget', () => {
    const { runner, objects } = service({
      replicas: 3,
      port: 5000,
      servicePort: 8080,
      healthPath: '/healthz',
      ingress: { host: 'hello.example.com', path: '/api', className: 'nginx', tlsSecret: secretRef('hello-tls') },
    });
    expect(runner.ingress).toBeInstanceOf(kplus.Ingress);
    expect(runner).toMatchObject({ port: 5000, servicePort: 8080, replicas: 3 });
    expect(findObject(objects, 'PodDisruptionBudget', 'runner').spec.maxUnavailable).toBe(1);
    expect(findObject(objects, 'Ingress', 'runner').spec.tls).toEqual([{ hosts: ['hello.example.com'], secretName: 'hello-tls' }]);
    const dep = findObject(objects, 'Deployment', 'runner');
    expect(dep.spec.replicas).toBe(3);
    const c = findContainer(dep, 'runner');
    expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz', port: 5000, scheme: 'HTTP' });
    // liveness: the cheaper TCP check over a longer threshold, never the same probe as readiness
    expect(c.livenessProbe).toEqual({ tcpSocket: { port: 5000 }, periodSeconds: 10, failureThreshold: 6 });
    expect(c.env).toContainEqual({ name: 'PORT', value: '5000' });
    const ing = findObject(objects, 'Ingress', 'runner');
    expect(ing.spec.ingressClassName).toBe('nginx');
    expect(ing.spec.rules).toEqual([
      {
        host: 'hello.example.com',
        http: { paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'runner', port: { number: 8080 } } } }] },
      },
    ]);
    expect(() => assertValid(objects, { external: ['Secret/test/hello-tls'] })).not.toThrow();
  });

  test('an Ingress defaults to path "/" and the cluster default class', () => {
    const ing = findObject(service({ ingress: { host: 'hello.example.com' } }).objects, 'Ingress', 'runner');
    expect(ing.spec.ingressClassName).toBeUndefined();
    expect(ing.spec.rules[0].http.paths[0].path).toBe('/');
  });

  test('cron options and custom paths, securityContext, resources merged over the defaults', () => {
    const { objects } = cron({
      schedule: '0 9 * * MON-FRI',
      timeZone: 'Europe/Berlin',
      mountPath: '/srv/scripts',
      workingDir: '/tmp',
      securityContext: { user: 11234 },
      concurrencyPolicy: kplus.ConcurrencyPolicy.REPLACE,
      startingDeadline: Duration.minutes(1),
      successfulJobsRetained: 1,
      failedJobsRetained: 5,
      backoffLimit: 0,
      activeDeadline: Duration.seconds(30),
      resources: { cpu: { request: kplus.Cpu.millis(10), limit: kplus.Cpu.millis(100) } },
    });
    const c = findObject(objects, 'CronJob', 'runner');
    expect(c.spec).toMatchObject({
      schedule: '0 9 * * MON-FRI',
      timeZone: 'Europe/Berlin',
      concurrencyPolicy: 'Replace',
      startingDeadlineSeconds: 60,
      successfulJobsHistoryLimit: 1,
      failedJobsHistoryLimit: 5,
    });
    expect(c.spec.jobTemplate.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 30 });
    expect(podSpec(c).securityContext).toMatchObject({ runAsUser: 11234, runAsGroup: 11234, fsGroup: 11234 });
    const ctr = findContainer(c, 'runner');
    expect(ctr.command).toEqual(['python3', '/srv/scripts/hello.py']);
    expect(ctr.workingDir).toBe('/tmp');
    expect(ctr.securityContext).toMatchObject({ runAsUser: 11234, runAsGroup: 11234 });
    // only the CPU was given: memory and ephemeral storage keep the defaults
    expect(ctr.resources).toEqual({
      requests: { 'cpu': '10m', 'memory': '64Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '100m', 'memory': '128Mi', 'ephemeral-storage': '0.25Gi' },
    });
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('securityContext group and fsGroup on a workload construct: the pod and the containers', () => {
    const { objects } = job({ securityContext: { user: 2000, group: 3000, fsGroup: 4000 } });
    const j = findObject(objects, 'Job', 'runner');
    expect(podSpec(j).securityContext).toMatchObject({ runAsUser: 2000, runAsGroup: 3000, fsGroup: 4000 });
    expect(findContainer(j, 'runner').securityContext).toMatchObject({ runAsUser: 2000, runAsGroup: 3000 });
  });

  test('changing a script changes the checksum annotation, so the pods roll', () => {
    const hash = (content: string) =>
      findObject(service({ files: Files.fromContent({ 'hello.py': content }) }).objects, 'Deployment', 'runner').spec.template.metadata.annotations[
        'checksum/scripts'
      ];
    expect(hash('print(1)\n')).toMatch(/^[0-9a-f]{64}$/);
    expect(hash('print(1)\n')).toBe(hash('print(1)\n'));
    expect(hash('print(1)\n')).not.toBe(hash('print(2)\n'));
  });
});

describe('archives', () => {
  test('python: the archive and unpack.py in <name>-bundle, a python3 init container on the same image, PYTHONPATH, read-only in main', () => {
    const archive = path.join(FIXTURES, 'bundles', 'greetings-py.zip');
    const props = { files: Files.fromDirectory(path.join(FIXTURES, 'python-app')), entrypoint: 'main.py', archive };
    expect(resolveScriptBundle(props).archive).toMatchObject({
      mountPath: '/opt/bundle',
      format: 'zip',
      image: 'python:3.12.8-slim-bookworm',
      tool: 'python',
    });
    const { runner, objects } = job(props);
    expect(runner.bundle.archiveConfigMap).toBeInstanceOf(kplus.ConfigMap);
    const cm = findObject(objects, 'ConfigMap', 'runner-bundle');
    expect(cm.binaryData).toEqual({ 'greetings-py.zip': fs.readFileSync(archive).toString('base64') });
    expect(cm.data).toEqual({ 'unpack.py': fs.readFileSync(path.join(__dirname, '..', 'lib', 'general-purpose-runner', 'unpack.py'), 'utf8') });
    const j = findObject(objects, 'Job', 'runner');
    const init = findContainer(j, 'unpack');
    expect(init.image).toBe('python:3.12.8-slim-bookworm');
    expect(init.command).toEqual(['python3', `${ARCHIVE_SOURCE_PATH}/unpack.py`, `${ARCHIVE_SOURCE_PATH}/greetings-py.zip`, '/opt/bundle']);
    expect(init.volumeMounts).toEqual([
      { name: 'bundle-source', mountPath: '/opt/bundle-source', readOnly: true },
      { name: 'bundle', mountPath: '/opt/bundle' },
    ]);
    expect(init.securityContext).toMatchObject({ runAsUser: 65532, readOnlyRootFilesystem: true });
    const c = findContainer(j, 'runner');
    expect(c.volumeMounts).toContainEqual({ name: 'bundle', mountPath: '/opt/bundle', readOnly: true });
    expect(c.env).toContainEqual({ name: 'PYTHONPATH', value: '/opt/bundle' });
    expect(j.spec.template.metadata.annotations['checksum/bundle']).toMatch(/^[0-9a-f]{64}$/);
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('node: GNU tar for tar.gz on the node image, busybox unzip for zip; an explicit unpackImage uses tar/unzip', () => {
    const js = { runtime: ScriptRuntime.NODE, files: Files.fromContent({ 'main.js': 'console.log(1)\n' }) };
    const tgz = job({ ...js, archive: path.join(FIXTURES, 'bundles', 'greetings-js.tar.gz') });
    const tarInit = findContainer(findObject(tgz.objects, 'Job', 'runner'), 'unpack');
    expect(tarInit.image).toBe('node:22.12.0-bookworm-slim');
    expect(tarInit.command).toEqual([
      'tar',
      '-x',
      '-z',
      '-m',
      '-o',
      '--skip-old-files',
      '-f',
      '/opt/bundle-source/greetings-js.tar.gz',
      '-C',
      '/opt/bundle',
    ]);
    expect(findContainer(findObject(tgz.objects, 'Job', 'runner'), 'runner').env).toContainEqual({ name: 'NODE_PATH', value: '/opt/bundle' });
    expect(findObject(tgz.objects, 'ConfigMap', 'runner-bundle').data).toBeUndefined();
    const zip = job({ ...js, archive: path.join(FIXTURES, 'bundles', 'greetings-js.zip') });
    const unzip = findContainer(findObject(zip.objects, 'Job', 'runner'), 'unpack');
    expect(unzip.image).toBe('busybox:1.36.1');
    expect(unzip.command).toEqual(['unzip', '-q', '-o', '/opt/bundle-source/greetings-js.zip', '-d', '/opt/bundle']);
    expect(unzip.securityContext).toMatchObject({ runAsUser: 10000 });
    const mirror = job({
      archive: path.join(FIXTURES, 'bundles', 'greetings-js.tar.gz'),
      unpackImage: 'registry.example.com/busybox:1.36.1',
      archiveMountPath: '/srv/lib',
    });
    const mirrored = findContainer(findObject(mirror.objects, 'Job', 'runner'), 'unpack');
    expect(mirrored.image).toBe('registry.example.com/busybox:1.36.1');
    expect(mirrored.command).toEqual(['tar', '-x', '-z', '-m', '-o', '-f', '/opt/bundle-source/greetings-js.tar.gz', '-C', '/srv/lib']);
    for (const o of [tgz.objects, zip.objects, mirror.objects]) expect(() => assertValid(o)).not.toThrow();
  });

  test('an archive just under the 1 MiB ConfigMap limit is accepted', () => {
    const header = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
    const size = 1024 * 1024 - 'runner-bundle'.length - 'big.zip'.length - 8000;
    const file = scratchFile('big.zip', Buffer.concat([header, Buffer.alloc(size - 4)]));
    const { objects } = job({ runtime: ScriptRuntime.BUSYBOX, files: Files.fromContent({ 'run.sh': 'echo hi\n' }), archive: file });
    expect(() => assertValid(objects)).not.toThrow();
  });
});

describe('Kubernetes API access', () => {
  test('rules: a ServiceAccount, a least-privilege Role and RoleBinding, the token mounted, egress to the API server', () => {
    const { runner, objects } = service({ rules: [{ resources: ['configmaps'], verbs: ['get', 'list'], resourceNames: ['app-config'] }] });
    expect(runner.bundle.serviceAccount).toBeInstanceOf(kplus.ServiceAccount);
    expect(runner.bundle.role).toBeDefined();
    expect(findObject(objects, 'ServiceAccount', 'runner').automountServiceAccountToken).toBe(false);
    expect(findObject(objects, 'Role', 'runner').rules).toEqual([
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'], resourceNames: ['app-config'] },
    ]);
    expect(findObject(objects, 'RoleBinding', 'runner')).toMatchObject({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'runner' },
      subjects: [{ kind: 'ServiceAccount', name: 'runner', namespace: 'test' }],
    });
    const spec = podSpec(findObject(objects, 'Deployment', 'runner'));
    expect(spec.serviceAccountName).toBe('runner');
    expect(spec.automountServiceAccountToken).toBe(true);
    expect(findObject(objects, 'NetworkPolicy', 'runner').spec.egress).toEqual([
      {
        ports: [
          { protocol: 'UDP', port: 53 },
          { protocol: 'TCP', port: 53 },
        ],
      },
      {
        ports: [
          { protocol: 'TCP', port: 443 },
          { protocol: 'TCP', port: 6443 },
        ],
      },
    ]);
    expect(findAll(objects, 'ClusterRole')).toEqual([]);
    // the RBAC objects come before the workload, as the API server wants them
    expect(objects.map((o) => o.kind)).toEqual([
      'ConfigMap',
      'ServiceAccount',
      'Role',
      'RoleBinding',
      'Deployment',
      'Service',
      'NetworkPolicy',
      'PodDisruptionBudget',
    ]);
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('clusterRules (listing namespaces): a ClusterRole named <namespace>-<name>, without a namespace', () => {
    const { runner, objects } = service({ name: 'ns-lister', clusterRules: [{ resources: ['namespaces'], verbs: ['list'] }] }, 'tools');
    expect(runner.bundle.clusterRole).toBeDefined();
    const role = findObject(objects, 'ClusterRole', 'tools-ns-lister');
    expect(role.metadata.namespace).toBeUndefined();
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['namespaces'], verbs: ['list'] }]);
    const binding = findObject(objects, 'ClusterRoleBinding', 'tools-ns-lister');
    expect(binding.metadata.namespace).toBeUndefined();
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'ns-lister', namespace: 'tools' }]);
    expect(findAll(objects, 'Role')).toEqual([]);
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('apiServerCidrs and apiServerPorts narrow the egress rule to the API server', () => {
    const { objects } = job({ rules: [{ resources: ['pods'], verbs: ['get'] }], apiServerCidrs: ['10.96.0.1/32'], apiServerPorts: [6443] });
    expect(findObject(objects, 'NetworkPolicy', 'runner').spec.egress[1]).toEqual({
      to: [{ ipBlock: { cidr: '10.96.0.1/32' } }],
      ports: [{ protocol: 'TCP', port: 6443 }],
    });
  });

  test('wildcards pass only with allowWildcardRules', () => {
    const { objects } = service({ rules: [{ apiGroups: ['apps'], resources: ['*'], verbs: ['*'] }], allowWildcardRules: true });
    expect(findObject(objects, 'Role', 'runner').rules[0]).toEqual({ apiGroups: ['apps'], resources: ['*'], verbs: ['*'] });
  });
});

describe('ScriptBundle on a workload of your own', () => {
  test('a StatefulSet gets the container, the scripts ConfigMap, the volumes, the checksum and the RBAC; its own pod settings stay', () => {
    // GIVEN a StatefulSet built with cdk8s-plus
    const chart = testChart('apps');
    const sts = new kplus.StatefulSet(chart, 'Db', {
      metadata: { name: 'db' },
      service: new kplus.Service(chart, 'DbSvc', { metadata: { name: 'db' }, clusterIP: 'None', ports: [{ port: 5432 }] }),
      securityContext: { user: 999, group: 999, fsGroup: 999 },
    });
    // WHEN a bundle attaches to it
    const bundle = new ScriptBundle(chart, 'Backup', {
      workload: sts,
      name: 'backup',
      runtime: ScriptRuntime.BUSYBOX,
      files: Files.fromContent({ 'backup.sh': 'echo backup\n' }),
      rules: [{ resources: ['configmaps'], verbs: ['get'] }],
    });
    const objects = synthObjects(chart);
    // THEN the StatefulSet runs the script as the bundle's container with the bundle's ServiceAccount
    const s = findObject(objects, 'StatefulSet', 'db');
    const c = findContainer(s, 'backup');
    expect(c).toMatchObject({ image: 'busybox:1.36.1', command: ['sh', '/opt/app/backup.sh'], workingDir: '/opt/app' });
    expect(c.securityContext).toMatchObject({ runAsUser: 65532, runAsGroup: 65532, readOnlyRootFilesystem: true });
    expect(s.spec.template.spec.securityContext).toMatchObject({ runAsUser: 999, fsGroup: 999 });
    expect(s.spec.template.spec.volumes).toEqual([{ name: 'scripts', configMap: { name: 'backup-scripts', defaultMode: 0o444 } }]);
    expect(s.spec.template.spec.serviceAccountName).toBe('backup');
    expect(s.spec.template.spec.automountServiceAccountToken).toBe(true);
    expect(s.spec.template.metadata.annotations['checksum/scripts']).toMatch(/^[0-9a-f]{64}$/);
    expect(bundle.configMap.name).toBe('backup-scripts');
    expect(findObject(objects, 'ConfigMap', 'backup-scripts').metadata.labels).toEqual({
      'app.kubernetes.io/name': 'general-purpose-runner',
      'app.kubernetes.io/instance': 'backup',
      'app.kubernetes.io/managed-by': 'cdk8s',
    });
    expect(findObject(objects, 'RoleBinding', 'backup').subjects).toEqual([{ kind: 'ServiceAccount', name: 'backup', namespace: 'apps' }]);
    // the bundle's objects come before the workload
    expect(objects.findIndex((o) => o.kind === 'ConfigMap')).toBeLessThan(objects.findIndex((o) => o.kind === 'StatefulSet'));
  });

  test('fails when the workload is not a cdk8s-plus workload, or fsGroup is given (the pod is yours)', () => {
    const chart = testChart();
    expect(() => new ScriptBundle(chart, 'B', { workload: {} as kplus.Deployment, files: HELLO })).toThrow(
      /^workload must be a cdk8s-plus workload \(kplus.Deployment, StatefulSet, DaemonSet, Job, CronJob or Pod\), got object$/,
    );
    const dep = new kplus.Deployment(chart, 'D', {});
    expect(() => new ScriptBundle(chart, 'C', { workload: dep, files: HELLO, securityContext: { fsGroup: 3 } })).toThrow(
      /^securityContext.fsGroup is not a setting here: use user or group \(fsGroup is set on the pod\)$/,
    );
  });

  test('fails when rules are given for a workload that already runs as another ServiceAccount', () => {
    const chart = testChart();
    const sa = new kplus.ServiceAccount(chart, 'Sa', { metadata: { name: 'mine' } });
    const dep = new kplus.Deployment(chart, 'D', { serviceAccount: sa, automountServiceAccountToken: true });
    expect(() => new ScriptBundle(chart, 'B', { workload: dep, files: HELLO, rules: [{ resources: ['pods'], verbs: ['get'] }] })).toThrow(
      /^rules need the pod to run as the ServiceAccount "runner", but the workload already runs as "mine": grant that ServiceAccount/,
    );
  });
});

describe('validation', () => {
  const fails: Array<[string, () => unknown, RegExp]> = [
    ['there is no file', () => service({ files: Files.fromContent({}) }), /^files must contain at least one file: Files.fromPaths/],
    ['files is not Files', () => service({ files: { 'a.py': 'x' } as never }), /^files must be Files \(Files.fromDirectory\(dir\)/],
    ['files is left out', () => service({ files: undefined }), /^files is required: Files.fromDirectory\(dir\)/],
    ['the entrypoint is not among the files', () => service({ entrypoint: 'main.py' }), /entrypoint "main.py" is not among the files \(hello.py\)/],
    [
      'several files and no entrypoint',
      () => service({ files: Files.fromContent({ 'hello.py': 'print(1)\n', 'b.py': 'print(2)\n' }) }),
      /entrypoint is required when there are 2 files \(b.py, hello.py\)/,
    ],
    [
      'command and entrypoint are both set',
      () => service({ entrypoint: 'hello.py', command: ['python3', 'hello.py'] }),
      /command and entrypoint conflict/,
    ],
    [
      'the command names an interpreter the runtime lacks',
      () => service({ runtime: ScriptRuntime.NODE, command: ['python3', '/opt/app/hello.py'] }),
      /command "python3" conflicts with runtime "node": its image node:22.12.0-bookworm-slim has node, npm, npx, corepack, sh, bash, not python3/,
    ],
    [
      'busybox is asked for bash',
      () => service({ runtime: ScriptRuntime.BUSYBOX, command: ['/bin/bash', '-c', 'x'] }),
      /command "\/bin\/bash" conflicts with runtime "busybox"/,
    ],
    ['a custom image has no command', () => service({ image: 'ruby:3.3.6-slim-bookworm' }), /command is required with a custom image \(no runtime\)/],
    ['the command is empty', () => service({ command: [] }), /command must name a program, got \[\]/],
    ['the runtime is unknown', () => service({ runtime: 'perl' as never }), /runtime must be one of "python", "node", "busybox", got "perl"/],
    [
      'the runtime is in the wrong case',
      () => service({ runtime: 'Python' as never }),
      /runtime must be one of "python", "node", "busybox", got "Python" \(did you mean "python"\?\)/,
    ],
    ['the image floats', () => service({ image: 'python:latest', runtime: ScriptRuntime.PYTHON }), /image must not use the floating "latest" tag/],
    ['the schedule has 6 fields', () => cron({ schedule: '0 0 * * * *' }), /schedule must have 5 fields .* got 6 in "0 0 \* \* \* \*"/],
    ['the schedule hour is out of range', () => cron({ schedule: '0 24 * * *' }), /schedule hour must be 0-23, got 24 in "0 24 \* \* \*"/],
    ['the schedule is not cron at all', () => cron({ schedule: 'every day' }), /schedule must have 5 fields/],
    [
      'a ScriptCronJob has no schedule',
      () => cron({ schedule: undefined }),
      /^schedule must be a cron expression like "\*\/15 \* \* \* \*" .*got undefined$/,
    ],
    ['schedule is given to a ScriptJob', () => job({ schedule: '@daily' } as never), /^ScriptJob props has no option "schedule": the options are /],
    ['port is given to a ScriptJob', () => job({ port: 8080 } as never), /^ScriptJob props has no option "port"/],
    [
      'ttlAfterFinished is given to a ScriptCronJob',
      () => cron({ ttlAfterFinished: Duration.minutes(1) } as never),
      /^ScriptCronJob props has no option "ttlAfterFinished"/,
    ],
    ['backoffLimit is given to a ScriptService', () => service({ backoffLimit: 1 } as never), /^ScriptService props has no option "backoffLimit"/],
    ['an ingress is given to a ScriptJob', () => job({ ingress: { host: 'x.example.com' } } as never), /^ScriptJob props has no option "ingress"/],
    [
      'startingDeadline is below 10 s',
      () => cron({ startingDeadline: Duration.seconds(5) }),
      /^startingDeadline must be between 10 and 2147483647 seconds, got 5 s$/,
    ],
    [
      'activeDeadline is a fraction of a second',
      () => job({ activeDeadline: Duration.millis(1500) }),
      /^activeDeadline must be a whole number of seconds, got 1500 ms$/,
    ],
    [
      'activeDeadline is a number',
      () => job({ activeDeadline: 600 as never }),
      /^activeDeadline must be a cdk8s Duration such as Duration.seconds\(30\), got 600$/,
    ],
    ['ttlAfterFinished is a number', () => job({ ttlAfterFinished: 60 as never }), /^ttlAfterFinished must be a cdk8s Duration/],
    ['successfulJobsRetained is above 100', () => cron({ successfulJobsRetained: 101 }), /^successfulJobsRetained must be an integer 0-100, got 101/],
    [
      'the time zone is not a name',
      () => cron({ timeZone: 'UTC+2 ' }),
      /timeZone must be an IANA time zone such as "Europe\/Berlin" or "Etc\/UTC", got "UTC\+2 "/,
    ],
    ['a CronJob name is longer than 52', () => cron({ name: 'a'.repeat(53) }), /name must be at most 52 characters for a CronJob/],
    ['the name is not a DNS label', () => service({ name: 'My_Runner' }), /name must be a DNS-1123 label/],
    [
      'a rule has a wildcard verb',
      () => service({ clusterRules: [{ resources: ['namespaces'], verbs: ['*'] }] }),
      /clusterRules\[0\].verbs must not contain "\*" \(it grants far more than a script needs\): list the verbs or set allowWildcardRules: true/,
    ],
    [
      'a rule has a wildcard resource',
      () => service({ rules: [{ resources: ['*'], verbs: ['get'] }] }),
      /rules\[0\].resources must not contain "\*"/,
    ],
    ['a rule has no verbs', () => service({ rules: [{ resources: ['pods'], verbs: [] }] }), /rules\[0\].verbs must list at least one value/],
    [
      'a rule has a bad verb',
      () => service({ rules: [{ resources: ['pods'], verbs: ['Get'] }] }),
      /rules\[0\].verbs\[0\] must be an RBAC verb \(get, list, watch, .*\), got "Get"/,
    ],
    ['rules is empty', () => service({ rules: [] }), /rules must list at least one rule when set/],
    ['an env name is invalid', () => service({ envVariables: { '1BAD': text('x') } }), /envVariables name must be a valid environment variable name/],
    [
      'an env value is a string',
      () => service({ envVariables: { GREETING: 'Hi' as never } }),
      /^envVariables "GREETING" must be a kplus.EnvValue \(EnvValue.fromValue\("..."\), fromSecretValue, fromConfigMap...\), got string "Hi"$/,
    ],
    [
      'an env value is a number',
      () => service({ envVariables: { RETRIES: 3 as never } }),
      /envVariables "RETRIES" must be a kplus.EnvValue .*got number 3/,
    ],
    ['a file path climbs out', () => service({ files: Files.fromContent({ '../x.py': '' }) }), /path must be a relative path .* got "..\/x.py"/],
    [
      'a file is given twice',
      () => service({ files: Files.of(Files.fromContent({ 'main.py': '' }), Files.fromPaths([path.join(FIXTURES, 'python-app', 'main.py')])) }),
      /^files path "main.py" is given twice: by files source \[0\] content and by files source \[1\] path \[0\] ".*main.py"/,
    ],
    [
      'a file does not exist',
      () => service({ files: Files.fromPaths(['/nonexistent/x.py']) }),
      /files path \[0\] "\/nonexistent\/x.py" does not exist/,
    ],
    ['the directory does not exist', () => service({ files: Files.fromDirectory('/nonexistent') }), /files directory "\/nonexistent" does not exist/],
    [
      'a script is not UTF-8',
      () => service({ files: Files.fromPaths([scratchFile('bin.py', Buffer.from([0xff, 0xfe, 0x00]))]) }),
      /files file "bin.py" \(from files path \[0\] ".*bin.py"\) must be UTF-8 text, got bytes that are not valid UTF-8/,
    ],
    ['a script is inline bytes', () => service({ files: Files.fromContent({ 'a.py': Buffer.from('x') }) }), /files content "a.py" must be a string/],
    [
      'the files exceed 1 MiB',
      () => service({ files: Files.fromContent({ 'big.py': 'x'.repeat(1024 * 1024) }) }),
      new RegExp(
        'files is 1.00 MiB \\(1048582 bytes\\), more than the 1.00 MiB \\(1048576 bytes\\) a ConfigMap can hold ' +
          '\\(largest files: big.py 1.00 MiB \\(1048576 bytes\\)\\): ship large files in an archive or an image',
      ),
    ],
    [
      'the archive exceeds 1 MiB',
      () => job({ archive: scratchFile('big.zip', Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(1024 * 1024)])) }),
      new RegExp(
        'archive is 1.00 MiB \\(\\d+ bytes\\), more than the 1.00 MiB \\(1048576 bytes\\) a ConfigMap can hold ' +
          '\\(largest files: big.zip 1.00 MiB \\(1048580 bytes\\).*\\): ship large dependencies in an image or a volume',
      ),
    ],
    [
      'the archive has an unknown extension',
      () => service({ archive: scratchFile('b.rar', 'x') }),
      /archive must be a .zip, .tar, .tar.gz or .tgz file/,
    ],
    [
      'the archive is not what its name says',
      () => service({ archive: scratchFile('b.zip', 'not a zip') }),
      /archive ".*b.zip" is not a zip archive/,
    ],
    ['the archive does not exist', () => service({ archive: '/nonexistent/b.zip' }), /archive "\/nonexistent\/b.zip" does not exist/],
    [
      'the archive mount overlaps the scripts',
      () => service({ archive: path.join(FIXTURES, 'bundles', 'greetings-py.zip'), archiveMountPath: '/opt/app/lib' }),
      /archiveMountPath must not overlap mountPath \("\/opt\/app"\), got "\/opt\/app\/lib"/,
    ],
    [
      'an archive option is set without an archive',
      () => service({ archiveMountPath: '/opt/b' }),
      /archiveMountPath only applies with archive, got archiveMountPath "\/opt\/b" without an archive/,
    ],
    ['the scripts mount overlaps /tmp', () => service({ mountPath: '/tmp/app' }), /mountPath must not overlap the writable \/tmp, got "\/tmp\/app"/],
    ['the mount path is relative', () => service({ mountPath: 'app' }), /mountPath must be an absolute path/],
    ['the ingress has TLS but no host', () => service({ ingress: { tlsSecret: secretRef('x-tls') } }), /ingress.tlsSecret needs ingress.host/],
    [
      'the entrypoint script is empty',
      () => service({ files: Files.fromContent({ 'main.py': '' }) }),
      /entrypoint script "main.py" must not be empty, got ""/,
    ],
    [
      'the entrypoint script is only white space',
      () => service({ files: Files.fromContent({ 'main.py': ' \n', 'lib/__init__.py': '' }), entrypoint: 'main.py' }),
      /entrypoint script "main.py" must not be empty/,
    ],
    ['the entrypoint is empty', () => service({ entrypoint: '' }), /entrypoint must not be empty, got ""/],
    ['a prop is misspelled', () => service({ replica: 2 } as never), /ScriptService props has no option "replica" \(did you mean "replicas"\?\)/],
    [
      'a prop of the first API is given',
      () => service({ scripts: { 'a.py': 'x' } } as never),
      /^ScriptService props has no option "scripts": use files: Files.fromContent\(\{...\}\)$/,
    ],
    [
      'mode is given',
      () => job({ mode: 'job' } as never),
      /^ScriptJob props has no option "mode": use the construct of that kind: ScriptService, ScriptJob or ScriptCronJob$/,
    ],
    [
      'an RBAC rule field is misspelled',
      () => service({ rules: [{ resources: ['pods'], verb: ['get'] }] } as never),
      /rules\[0\] has no option "verb" \(did you mean "verbs"\?\)/,
    ],
    ['the command is a blank program', () => service({ command: [' '] }), /command must name a program/],
    ['the time zone is unknown', () => cron({ timeZone: 'Mars/Olympus_Mons' }), /timeZone must be an IANA time zone .* got "Mars\/Olympus_Mons"/],
    [
      "the time zone is in the wrong case (the cluster's tz database is case-sensitive)",
      () => cron({ timeZone: 'europe/berlin' }),
      /timeZone must be an IANA time zone in its exact case, got "europe\/berlin" \(did you mean "Europe\/Berlin"\?\)/,
    ],
    [
      'the time zone UTC is in lower case',
      () => cron({ timeZone: 'utc' }),
      /timeZone must be an IANA time zone in its exact case, got "utc" \(did you mean "UTC"\?\)/,
    ],
    [
      'an RBAC verb is misspelled',
      () => service({ rules: [{ resources: ['pods'], verbs: ['get', 'lsit'] }] }),
      /rules\[0\].verbs\[1\] must be an RBAC verb .* got "lsit"/,
    ],
    [
      'the concurrency policy is in the wrong case',
      () => cron({ concurrencyPolicy: 'forbid' as kplus.ConcurrencyPolicy }),
      /concurrencyPolicy must be one of "Allow", "Forbid", "Replace", got "forbid" \(did you mean "Forbid"\?\)/,
    ],
    [
      'the serviceType is in the wrong case',
      () => service({ serviceType: 'nodeport' as kplus.ServiceType }),
      /serviceType must be one of .* got "nodeport" \(did you mean "NodePort"\?\)/,
    ],
    [
      'a CPU request is above its limit',
      () => service({ resources: { cpu: { request: kplus.Cpu.millis(800), limit: kplus.Cpu.millis(500) } } }),
      /resources.cpu.request must not exceed resources.cpu.limit, got request 800m and limit 500m/,
    ],
    [
      'a merged CPU request is above the limit given',
      () => service({ resources: { cpu: { limit: kplus.Cpu.millis(20) } } }),
      /resources.cpu.request must not exceed resources.cpu.limit, got request 50m and limit 20m \(after merging the given resources/,
    ],
    [
      'a memory request is above its limit',
      () => service({ resources: { memory: { request: Size.gibibytes(1), limit: Size.mebibytes(512) } } }),
      /resources.memory.request must not exceed resources.memory.limit, got request 1048576Ki and limit 524288Ki/,
    ],
    [
      'the port is privileged (the scripts run as non-root)',
      () => service({ port: 80 }),
      /port must be an integer 1024-65535 \(the container runs as non-root without NET_BIND_SERVICE\), got 80/,
    ],
    [
      'the health path is not a path',
      () => service({ healthPath: 'healthz' }),
      /healthPath must be an absolute URL path like "\/" or "\/healthz" .*got "healthz"/,
    ],
    ['the port is out of range', () => service({ port: 70000 }), /port must be an integer 1024-65535 .*got 70000/],
    ['replicas is above 1000', () => service({ replicas: 1001 }), /^replicas must be an integer 0-1000, got 1001/],
    [
      'apiServerCidrs is given without rules',
      () => job({ apiServerCidrs: ['10.0.0.1/32'] }),
      /^apiServerCidrs only applies with rules or clusterRules \(a pod with an API token\), got \["10.0.0.1\/32"\] without them$/,
    ],
    [
      'apiServerPorts is given with networkPolicy false',
      () => service({ rules: [{ resources: ['pods'], verbs: ['get'] }], apiServerPorts: [443], networkPolicy: false }),
      /^apiServerPorts only applies to the NetworkPolicy, got \[443\] with networkPolicy false$/,
    ],
    [
      'envVariables PORT contradicts the port',
      () => service({ port: 8080, envVariables: { PORT: text('9000') } }),
      /^envVariables PORT must match port \(the Service targets port 8080\), got PORT "9000": set port to "9000" instead of envVariables PORT/,
    ],
  ];
  test.each(fails)('fails when %s', (_why, make, message) => {
    expect(make).toThrow(message);
  });

  test('fails when clusterRules are asked for in a chart without a namespace', () => {
    const chart = new Chart(Testing.app(), 'nons');
    expect(() => new ScriptService(chart, 'R', { files: HELLO, clusterRules: [{ resources: ['namespaces'], verbs: ['list'] }] })).toThrow(
      /clusterRules need the chart to have a namespace/,
    );
  });

  test('accepts envVariables PORT equal to the port, and any PORT on a ScriptJob', () => {
    expect(() => service({ port: 9000, envVariables: { PORT: text('9000') } })).not.toThrow();
    expect(() => job({ envVariables: { PORT: text('1') } })).not.toThrow();
  });
});

describe('validateCronSchedule', () => {
  test.each([
    '*/15 * * * *',
    '0 9 * * 1-5',
    '0 9 * * MON-FRI',
    '0,30 8-18/2 1,15 jan-jun,DEC sun',
    '5/10 * ? * *',
    '0 0 1 1 *',
    '59 23 31 12 6',
    '@hourly',
    '@daily',
    '@midnight',
    '@weekly',
    '@monthly',
    '@yearly',
    '@annually',
    '  1 2 3 4 5  ',
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
  beforeAll(() => {
    objects = synthObjects(new GeneralPurposeRunnerChart(Testing.app(), 'gpr'));
  });

  test('synthesizes the reviewed manifests', () => {
    expect(objects).toMatchSnapshot();
  });

  test('passes the gate with nothing out of band', () => {
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('runs the four programs in namespace general-purpose-runner, with one replica each server and no image built', () => {
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
    for (const name of ['greeter', 'namespaces-api']) expect(findObject(objects, 'Deployment', name).spec.replicas).toBe(1);
    const images = new Set(objects.flatMap((o) => (podSpecOf(o)?.containers ?? []).map((c: any) => c.image)));
    expect([...images].sort()).toEqual(['busybox:1.36.1', 'python:3.12.8-slim-bookworm']);
    // the greeter: target from args, greeting from env
    const greeter = findContainer(findObject(objects, 'Deployment', 'greeter'), 'greeter');
    expect(greeter.command).toEqual(['python3', '/opt/app/greeter.py']);
    expect(greeter.args).toEqual(['Universe']);
    expect(greeter.env).toEqual(
      expect.arrayContaining([
        { name: 'GREETING', value: 'Hi' },
        { name: 'PORT', value: '8080' },
      ]),
    );
    expect(greeter.readinessProbe.httpGet).toEqual({ path: '/', port: 8080, scheme: 'HTTP' });
    expect(findContainer(findObject(objects, 'Deployment', 'namespaces-api'), 'namespaces-api').readinessProbe.httpGet.path).toBe('/healthz');
    const scripts = path.join(__dirname, '..', 'charts', 'scripts', 'general-purpose-runner');
    expect(findObject(objects, 'ConfigMap', 'greeter-scripts').data).toEqual({
      'greeter.py': fs.readFileSync(path.join(scripts, 'greeter.py'), 'utf8'),
      'serving.py': fs.readFileSync(path.join(scripts, 'serving.py'), 'utf8'),
    });
    // list namespaces, and nothing more, with a token only there
    expect(findObject(objects, 'ClusterRole', 'general-purpose-runner-namespaces-api').rules).toEqual([
      { apiGroups: [''], resources: ['namespaces'], verbs: ['list'] },
    ]);
    for (const o of objects.filter((x) => ['Deployment', 'Job', 'CronJob'].includes(x.kind))) {
      expect([o.metadata.name, podSpec(o).automountServiceAccountToken]).toEqual([o.metadata.name, o.metadata.name === 'namespaces-api']);
    }
    // the checks point at the greeter's Service
    expect(findContainer(findObject(objects, 'Job', 'greeter-smoke-test'), 'greeter-smoke-test').env).toEqual(
      expect.arrayContaining([
        { name: 'TARGET_URL', value: 'http://greeter:80/' },
        { name: 'EXPECT', value: 'Hi, Universe!' },
      ]),
    );
    expect(findObject(objects, 'Job', 'greeter-smoke-test').spec.activeDeadlineSeconds).toBe(120);
    expect(findObject(objects, 'CronJob', 'greeter-monitor').spec.schedule).toBe('*/5 * * * *');
    expect(findObject(objects, 'CronJob', 'greeter-monitor').spec.jobTemplate.spec.activeDeadlineSeconds).toBe(60);
    expect(findContainer(findObject(objects, 'CronJob', 'greeter-monitor'), 'greeter-monitor').command).toEqual([
      'sh',
      '/opt/app/greeter_monitor.sh',
    ]);
    for (const o of objects) expect(o.metadata.labels?.['app.kubernetes.io/part-of']).toBe('general-purpose-runner');
  });

  test('props change the greeting, target, port, replicas, Ingress, schedule and namespace', () => {
    const objs = synthObjects(
      new GeneralPurposeRunnerChart(Testing.app(), 'gpr', {
        namespace: 'tools',
        greeting: 'Hello',
        target: 'World',
        port: 5000,
        replicas: 2,
        greeterIngress: { host: 'greeter.example.com' },
        monitorSchedule: '@hourly',
      }),
    );
    const greeter = findContainer(findObject(objs, 'Deployment', 'greeter'), 'greeter');
    expect(greeter.args).toEqual(['World']);
    expect(greeter.env).toEqual(
      expect.arrayContaining([
        { name: 'GREETING', value: 'Hello' },
        { name: 'PORT', value: '5000' },
      ]),
    );
    expect(findObject(objs, 'Deployment', 'greeter').spec.replicas).toBe(2);
    expect(findObject(objs, 'PodDisruptionBudget', 'namespaces-api').spec.maxUnavailable).toBe(1);
    expect(findObject(objs, 'Ingress', 'greeter').spec.rules[0].host).toBe('greeter.example.com');
    expect(findObject(objs, 'CronJob', 'greeter-monitor').spec.schedule).toBe('@hourly');
    expect(findContainer(findObject(objs, 'Job', 'greeter-smoke-test'), 'greeter-smoke-test').env).toContainEqual({
      name: 'EXPECT',
      value: 'Hello, World!',
    });
    expect(findObject(objs, 'ClusterRoleBinding', 'tools-namespaces-api').subjects).toEqual([
      { kind: 'ServiceAccount', name: 'namespaces-api', namespace: 'tools' },
    ]);
    expect(() => assertValid(objs)).not.toThrow();
  });
});

function podSpecOf(o: K8sObject): any {
  return o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec?.template?.spec;
}

describe('ScriptCronJob snapshot', () => {
  test('a CronJob with an archive, nested scripts and API access', () => {
    const { objects } = cron({
      name: 'report',
      runtime: ScriptRuntime.PYTHON,
      schedule: '30 2 * * *',
      files: Files.fromContent({ 'report.py': 'import lib.fmt\n', 'lib/fmt.py': 'X = 1\n' }),
      entrypoint: 'report.py',
      archive: path.join(FIXTURES, 'bundles', 'greetings-py.zip'),
      rules: [{ resources: ['configmaps'], verbs: ['get'], resourceNames: ['report-settings'] }],
    });
    expect(objects).toMatchSnapshot();
    expect(findObject(objects, 'CronJob', 'report').spec.jobTemplate.spec.template.spec.serviceAccountName).toBe('report');
    expect(() => assertValid(objects)).not.toThrow();
  });
});

describe('ScriptBundle: room on the workload', () => {
  test("fails when the workload has a container of the bundle's name, or a volume the bundle needs (a second bundle)", () => {
    const chart = testChart();
    const dep = new kplus.Deployment(chart, 'D', { containers: [{ name: 'runner', image: 'busybox:1.36.1' }] });
    expect(() => new ScriptBundle(chart, 'A', { workload: dep, files: HELLO })).toThrow(
      /^name needs the container name "runner", but the workload already has a container "runner": give the bundle another name$/,
    );
    new ScriptBundle(chart, 'B', { workload: dep, name: 'first', files: HELLO });
    expect(() => new ScriptBundle(chart, 'C', { workload: dep, name: 'second', files: HELLO })).toThrow(
      /^ScriptBundle "second" needs the volume names scripts, tmp, but the workload already has "scripts", "tmp": one ScriptBundle/,
    );
    const own = new kplus.Deployment(chart, 'E', {});
    const tmp = kplus.Volume.fromEmptyDir(chart, 'T', 'tmp');
    own.addContainer({ name: 'app', image: 'busybox:1.36.1', volumeMounts: [{ path: '/tmp', volume: tmp }] });
    expect(() => new ScriptBundle(chart, 'F', { workload: own, files: HELLO })).toThrow(
      /already has "tmp": one ScriptBundle per workload, and rename a volume of your own$/,
    );
    expect(() => new ScriptBundle(chart, 'G', { workload: own, files: HELLO, writableTmp: false })).not.toThrow();
  });
});
