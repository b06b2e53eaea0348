import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import {
  Files,
  hardenedContainer,
  hardenedPodProps,
  ImmutableConfigMap,
  KvProxy,
  recommendedLabels,
  ScriptCronJob,
  ScriptJob,
  ScriptService,
  SidecarBarePod,
  SidecarDeployment,
  StaticSite,
  WorkloadPolicy,
} from '../lib';
// internals, tested through their modules (not part of the public entry)
import { resolveExpose } from '../lib/expose';
import { addChecksumAnnotation, contentHash } from '../lib/hash';
import { parseImage, validateImage } from '../lib/image';
import { applyLabels, selectorLabels, selectPods } from '../lib/labels';
import { DEFAULT_RUN_AS_USER } from '../lib/security';
import {
  configMapSize,
  MAX_CONFIGMAP_BYTES,
  validateAbsolutePath,
  validateConfigMapKey,
  validateDnsLabel,
  validateEnvVariables,
  validateOneOf,
  validatePort,
  validateQualifiedName,
  validateRbacVerb,
  validateRelativePath,
  validateResources,
  validateTimeZone,
  validateUnprivilegedPort,
} from '../lib/validate';
// internal helpers, not part of the public entry
import { isUtf8Text, readLocalDirectory, readLocalFile, toConfigMapData } from '../lib/files';
import { validateList } from '../lib/validate';
import { isConfigMapKeyText, pathIsWithin } from '../lib/validate';
import { assertValid, K8sObject } from '../lib/testing';
import { findContainer, findObject, synthObjects, testChart } from './support/synth';

describe('image references', () => {
  test('accepts tags, digests and registries with ports', () => {
    expect(parseImage('nginx:1.27')).toEqual({ registry: undefined, repository: 'nginx', tag: '1.27', digest: undefined });
    expect(parseImage('nginxinc/nginx-unprivileged:1.27.3-alpine').repository).toBe('nginxinc/nginx-unprivileged');
    expect(parseImage('registry.k8s.io/git-sync/git-sync:v4.4.0')).toMatchObject({
      registry: 'registry.k8s.io',
      repository: 'git-sync/git-sync',
      tag: 'v4.4.0',
    });
    expect(parseImage('localhost:5000/app@sha256:' + 'a'.repeat(64))).toMatchObject({
      registry: 'localhost:5000',
      digest: 'sha256:' + 'a'.repeat(64),
    });
    expect(validateImage('busybox:1.36.1')).toBe('busybox:1.36.1');
  });
  test('fails when the image has no tag or digest', () => {
    expect(() => validateImage('nginx')).toThrow(/image must be pinned with a tag or a digest, got "nginx"/);
  });
  test('fails when the image uses latest', () => {
    expect(() => validateImage('nginx:latest', 'configImage')).toThrow(/configImage must not use the floating "latest" tag/);
  });
  test('fails when the reference is malformed', () => {
    expect(() => validateImage('nginx:1.0:2')).toThrow(/valid image reference/);
    expect(() => validateImage('NGINX:1.0')).toThrow(/image repository must be lowercase, got "NGINX" in "NGINX:1.0" \(did you mean "nginx:1.0"\?\)/);
    expect(() => validateImage('')).toThrow(/non-empty/);
  });
});

describe('input validation helpers', () => {
  test('ports', () => {
    expect(validatePort(8080, 'port')).toBe(8080);
    expect(() => validatePort(0, 'port')).toThrow(/port must be an integer port 1-65535, got 0/);
    expect(() => validatePort(70000, 'servicePort')).toThrow(/servicePort must be an integer port 1-65535, got 70000/);
  });
  test('names and keys', () => {
    expect(() => validateDnsLabel('Hello', 'name')).toThrow(/name must be a DNS-1123 label.*got "Hello"/);
    expect(() => validateDnsLabel('a'.repeat(64), 'name')).toThrow(/at most 63/);
    expect(() => validateConfigMapKey('a/b', 'key')).toThrow(/valid ConfigMap key/);
    expect(() => validateConfigMapKey('..', 'key')).toThrow(/valid ConfigMap key/);
    expect(validateConfigMapKey('site.css', 'key')).toBe('site.css');
  });
  test('qualified names and relative paths', () => {
    expect(validateQualifiedName('nginx.ingress.kubernetes.io/proxy-read-timeout', 'key')).toBe('nginx.ingress.kubernetes.io/proxy-read-timeout');
    expect(() => validateQualifiedName('Bad Key', 'ingressAnnotations key', 'a.io/b')).toThrow(
      /ingressAnnotations key must be a qualified name such as "a.io\/b", got "Bad Key"/,
    );
    expect(() => validateQualifiedName(`x/${'a'.repeat(64)}`, 'key')).toThrow(/qualified name/);
    expect(validateRelativePath('lib/util.py', 'entrypoint')).toBe('lib/util.py');
    expect(() => validateRelativePath('../etc/passwd', 'entrypoint')).toThrow(/entrypoint must be a relative path/);
    expect(() => validateRelativePath('/abs', 'entrypoint')).toThrow(/no leading "\/"/);
    expect(isConfigMapKeyText('site.css')).toBe(true);
    expect(isConfigMapKeyText('a b')).toBe(false);
  });
  test('paths', () => {
    expect(validateAbsolutePath('/config', 'mountPath')).toBe('/config');
    expect(() => validateAbsolutePath('config', 'mountPath')).toThrow(/mountPath must be an absolute path/);
    expect(() => validateAbsolutePath('/a/../etc', 'mountPath')).toThrow(/normalised/);
    expect(pathIsWithin('/config/app', '/config')).toBe(true);
    expect(pathIsWithin('/configs', '/config')).toBe(false);
  });
  test('ConfigMap size counts keys and decoded binary bytes', () => {
    expect(configMapSize({ ab: 'xyz' }, { c: Buffer.from([1, 2]) })).toBe(2 + 3 + 1 + 2);
    expect(configMapSize({}, { c: Buffer.from([1, 2]).toString('base64') })).toBe(3);
  });
});

describe('content hash', () => {
  test('is stable under key order and changes with content', () => {
    expect(contentHash({ a: '1', b: '2' })).toBe(contentHash({ b: '2', a: '1' }));
    expect(contentHash({ a: '1' })).not.toBe(contentHash({ a: '2' }));
    expect(contentHash({ a: '1' })).toMatch(/^[0-9a-f]{16}$/);
  });
  test('checksum annotation lands on the pod template', () => {
    const chart = testChart();
    const d = new kplus.Deployment(chart, 'd', { containers: [hardenedContainer({ image: 'nginx:1.27' })] });
    const hash = addChecksumAnnotation(d, 'content', { 'index.html': 'hi' });
    const dep = findObject(synthObjects(chart), 'Deployment');
    expect(dep.spec.template.metadata.annotations['checksum/content']).toBe(hash);
    expect(hash).toHaveLength(64);
  });
});

describe('recommended labels', () => {
  test('defaults instance to name and sets managed-by', () => {
    expect(recommendedLabels({ name: 'web', component: 'server', partOf: 'shop' })).toEqual({
      'app.kubernetes.io/name': 'web',
      'app.kubernetes.io/instance': 'web',
      'app.kubernetes.io/component': 'server',
      'app.kubernetes.io/part-of': 'shop',
      'app.kubernetes.io/managed-by': 'cdk8s',
    });
  });
  test('fails when a value is not a label value', () => {
    expect(() => recommendedLabels({ name: 'my app' })).toThrow(/labels name must be a valid label value/);
  });
  test('applyLabels reaches objects and pod templates', () => {
    const chart = testChart();
    new kplus.Deployment(chart, 'd', { containers: [hardenedContainer({ image: 'nginx:1.27' })] });
    new kplus.ConfigMap(chart, 'cm', { data: { a: 'b' } });
    applyLabels(chart, recommendedLabels({ name: 'web' }));
    const objects = synthObjects(chart);
    expect(findObject(objects, 'ConfigMap').metadata.labels!['app.kubernetes.io/name']).toBe('web');
    expect(findObject(objects, 'Deployment').spec.template.metadata.labels['app.kubernetes.io/managed-by']).toBe('cdk8s');
  });
});

describe('hardened defaults', () => {
  test('a cdk8s-plus Deployment built with them and WorkloadPolicy passes PSS restricted and the whole gate', () => {
    // GIVEN a Deployment with the hardened container and pod props, under the library's policy
    const chart = testChart();
    const web = new kplus.Deployment(chart, 'web', {
      metadata: { name: 'web' },
      ...hardenedPodProps(),
      containers: [hardenedContainer({ name: 'web', image: 'nginx:1.27', portNumber: 8080 })],
    });
    new WorkloadPolicy(chart, 'policy', { workload: web, name: 'web', port: 8080 });
    // WHEN synthesized
    const objects = synthObjects(chart);
    // THEN every default is there
    const dep = findObject(objects, 'Deployment');
    const c = findContainer(dep, 'web');
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: DEFAULT_RUN_AS_USER,
      runAsGroup: DEFAULT_RUN_AS_USER,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    // portNumber becomes the port named http, without cdk8s-plus's default TCP startupProbe
    expect(c.ports).toEqual([{ containerPort: 8080, name: 'http' }]);
    expect(c.startupProbe).toBeUndefined();
    // ephemeral storage: DEFAULT_EPHEMERAL_STORAGE (64 MiB requested, 256 MiB at most), written as the fractional GiB cdk8s-plus-28 needs
    expect(c.resources).toEqual({
      requests: { 'cpu': '50m', 'memory': '64Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '500m', 'memory': '128Mi', 'ephemeral-storage': '0.25Gi' },
    });
    expect(dep.spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(dep.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 });
    // the policy's selector, Service, NetworkPolicy and PDB (2 replicas: cdk8s-plus's default) make the whole gate pass
    expect(dep.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'web', 'app.kubernetes.io/instance': 'web' } });
    expect(objects.map((o) => o.kind).sort()).toEqual(['Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Service']);
    expect(() => assertValid(objects)).not.toThrow();
  });
  test('resources given in part are merged over the defaults field by field', () => {
    const props = hardenedContainer({ image: 'nginx:1.27', resources: { cpu: { limit: kplus.Cpu.millis(1000) } } });
    expect(props.resources!.cpu!.request!.amount).toBe('50m');
    expect(props.resources!.cpu!.limit!.amount).toBe('1000m');
    expect(props.resources!.memory!.limit!.toMebibytes()).toBe(128);
    expect(() => hardenedContainer({ name: 'web', image: 'nginx:1.27', resources: { cpu: { limit: kplus.Cpu.millis(20) } } })).toThrow(
      /container "web" resources.cpu.request must not exceed container "web" resources.cpu.limit, got request 50m and limit 20m \(after merging/,
    );
  });
  test('overrides win field by field', () => {
    const props = hardenedContainer({ image: 'nginx:1.27', securityContext: { user: 101 }, imagePullPolicy: kplus.ImagePullPolicy.ALWAYS });
    expect(props.securityContext!).toMatchObject({ user: 101, group: 101, readOnlyRootFilesystem: true });
    expect(props.imagePullPolicy).toBe(kplus.ImagePullPolicy.ALWAYS);
  });
  test('fails when the image is not pinned or the user is root', () => {
    expect(() => hardenedContainer({ name: 'web', image: 'nginx' })).toThrow(/container "web" image must be pinned/);
    expect(() => hardenedContainer({ image: 'nginx:1.27' }, { user: 0 })).toThrow(/container.user must be an integer 1-2147483647, got 0/);
  });
});

describe('imports/', () => {
  test('`npm run import` reproduces imports/k8s.ts byte for byte, offline, from the vendored 1.28 schema', () => {
    const root = path.join(__dirname, '..');
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'import-'));
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'import-k8s.js')], {
      cwd: root,
      env: { ...process.env, IMPORT_OUTDIR: out },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('Importing k8s v1.28.0');
    expect(fs.readFileSync(path.join(out, 'k8s.ts')).equals(fs.readFileSync(path.join(root, 'imports', 'k8s.ts')))).toBe(true);
    fs.rmSync(out, { recursive: true, force: true });
  });
});

describe('one label and selector policy (lib/labels.ts)', () => {
  // GIVEN the same five constructs (and ImmutableConfigMap's Flask workload) built under two different construct ids
  function build(id: string) {
    const chart = testChart('apps');
    const scope = new Construct(chart, id);
    new StaticSite(scope, `Site${id}`, { name: 'site', files: Files.fromContent({ 'index.html': '<h1>hi</h1>' }) });
    new KvProxy(scope, `Kv${id}`, { namespaces: ['apps'] });
    new SidecarDeployment(scope, `Pod${id}`, { name: 'shop', app: { name: 'app', image: 'busybox:1.36.1', ports: [{ number: 8080 }] } });
    new SidecarBarePod(scope, `BarePod${id}`, { name: 'bare', app: { name: 'app', image: 'busybox:1.36.1', ports: [{ number: 8080 }] } });
    const main = Files.fromContent({ 'main.py': 'print(1)\n' });
    new ScriptService(scope, `Web${id}`, { name: 'web', files: main, replicas: 2 });
    new ScriptJob(scope, `Job${id}`, { name: 'once', files: main });
    new ScriptCronJob(scope, `Cron${id}`, { name: 'tick', schedule: '@hourly', files: main });
    // the user's own workload, labelled and selected the library's way (as the immutable-config charts do)
    const labels = recommendedLabels({ name: 'flask', instance: 'flask' });
    const deployment = new kplus.Deployment(scope, `Flask${id}`, { metadata: { name: 'flask' }, select: false, ...hardenedPodProps() });
    selectPods(deployment, selectorLabels(labels));
    applyLabels(deployment, labels);
    deployment.addContainer(hardenedContainer({ name: 'app', image: 'busybox:1.36.1' }));
    new ImmutableConfigMap(scope, `Config${id}`, { workload: deployment, mountPath: '/config', files: Files.fromContent({ 'app.cfg': 'x=1\n' }) });
    return synthObjects(chart);
  }
  /** Every selector, affinity term and pod label, by object. */
  function selectors(objects: K8sObject[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const o of objects) {
      const template = o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template : o.kind === 'Pod' ? o : o.spec?.template;
      out[`${o.kind}/${o.metadata.name}`] = {
        selector: o.spec?.selector,
        podSelector: o.spec?.podSelector,
        podLabels: template?.metadata?.labels,
        affinity: template?.spec?.affinity,
      };
    }
    return out;
  }

  test('renaming a construct id changes no selector, pod label or affinity term (Deployment selectors are immutable)', () => {
    // WHEN the construct ids differ
    const before = build('Blue');
    const after = build('Green');
    // THEN nothing that selects pods changed
    expect(selectors(after)).toEqual(selectors(before));
    // and the test can fail: it would see cdk8s-plus's construct-path label
    expect(JSON.stringify(before)).not.toContain('cdk8s.io/metadata.addr');
    const plain = testChart();
    new kplus.Deployment(plain, 'X', { containers: [{ image: 'busybox:1.36.1' }] });
    expect(JSON.stringify(synthObjects(plain))).toContain('cdk8s.io/metadata.addr');
  });

  test('every object carries the recommended labels; selectors are exactly name (the pattern) + instance (the name prop)', () => {
    const objects = build('Blue');
    for (const o of objects) {
      expect(o.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'cdk8s' });
      expect(Object.keys(o.metadata.labels!)).toEqual(expect.arrayContaining(['app.kubernetes.io/name', 'app.kubernetes.io/instance']));
    }
    expect(findObject(objects, 'Deployment', 'site').spec.selector).toEqual({
      matchLabels: { 'app.kubernetes.io/name': 'static-site', 'app.kubernetes.io/instance': 'site' },
    });
    expect(findObject(objects, 'Deployment', 'kv-proxy').spec.selector).toEqual({
      matchLabels: { 'app.kubernetes.io/name': 'kv-proxy', 'app.kubernetes.io/instance': 'kv-proxy' },
    });
    expect(findObject(objects, 'Deployment', 'shop').spec.selector).toEqual({
      matchLabels: { 'app.kubernetes.io/name': 'sidecar-pod', 'app.kubernetes.io/instance': 'shop' },
    });
    expect(findObject(objects, 'Deployment', 'web').spec.selector).toEqual({
      matchLabels: { 'app.kubernetes.io/name': 'general-purpose-runner', 'app.kubernetes.io/instance': 'web' },
    });
    expect(findObject(objects, 'NetworkPolicy', 'bare').spec.podSelector.matchLabels).toEqual({
      'app.kubernetes.io/name': 'sidecar-pod',
      'app.kubernetes.io/instance': 'bare',
    });
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && (o.metadata.name ?? '').startsWith('flask-config-'))!;
    expect(configMap.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'immutable-config', 'app.kubernetes.io/instance': 'flask-config' });
  });

  test('selectorLabels picks name and instance; selectPods refuses a Deployment that selects by the construct path', () => {
    expect(selectorLabels(recommendedLabels({ name: 'x', instance: 'y', component: 'z' }))).toEqual({
      'app.kubernetes.io/name': 'x',
      'app.kubernetes.io/instance': 'y',
    });
    expect(() => selectorLabels({ 'app.kubernetes.io/name': 'x' })).toThrow(/labels must include "app.kubernetes.io\/instance" to select pods/);
    const chart = testChart();
    const d = new kplus.Deployment(chart, 'D', { containers: [{ image: 'busybox:1.36.1' }] });
    expect(() => selectPods(d, { a: 'b' })).toThrow(/must be created with select: false/);
  });
});

describe('one way to expose a workload (lib/expose.ts)', () => {
  test('resolves the shared defaults', () => {
    expect(resolveExpose({}, 2)).toEqual({
      serviceType: 'ClusterIP',
      servicePort: 80,
      ingress: undefined,
      networkPolicy: { allowFromNamespaces: undefined, allowFrom: [], ingressControllerNamespace: 'ingress-nginx' },
      podDisruptionBudget: { maxUnavailable: 1 },
    });
    expect(resolveExpose({}, 1).podDisruptionBudget).toBeUndefined();
    expect(resolveExpose({ podDisruptionBudget: {} }, 1).podDisruptionBudget).toEqual({ maxUnavailable: 1 });
    expect(resolveExpose({ networkPolicy: false, podDisruptionBudget: false }, 3)).toMatchObject({
      networkPolicy: undefined,
      podDisruptionBudget: undefined,
    });
    expect(resolveExpose({ ingress: {} }, 1).ingress).toEqual({
      path: '/',
      host: undefined,
      className: undefined,
      tlsSecret: undefined,
      annotations: undefined,
    });
  });
  test('fails when a PodDisruptionBudget is asked for a bare Pod, or expose options are malformed', () => {
    expect(() => resolveExpose({ podDisruptionBudget: {} }, undefined)).toThrow(/podDisruptionBudget applies to Deployments only/);
    expect(() => resolveExpose({ podDisruptionBudget: { maxUnavailable: 0 } }, 2)).toThrow(
      /podDisruptionBudget.maxUnavailable must be an integer 1-1000, got 0/,
    );
    expect(() => resolveExpose({ networkPolicy: true as never }, 2)).toThrow(/networkPolicy must be NetworkPolicyOptions or false, got true/);
    expect(() => resolveExpose({ ingress: true as never }, 2)).toThrow(/ingress must be an object of IngressOptions, got true/);
    expect(() => resolveExpose({ servicePort: 0 }, 2)).toThrow(/servicePort must be an integer port 1-65535, got 0/);
  });
});

describe('one files → ConfigMap helper (lib/files.ts)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'files-helper-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('one key encoding, one UTF-8 test, sorted output', () => {
    const out = toConfigMapData(
      [
        { path: 'css/site.css', bytes: Buffer.from('a{}'), origin: 'x' },
        { path: 'img.bin', bytes: Buffer.from([0xff, 0xfe]), origin: 'x' },
        { path: 'a__b.txt', bytes: Buffer.from('1'), origin: 'x' },
        { path: 'a/b.txt', bytes: Buffer.from('2'), origin: 'x' },
      ],
      'files',
    );
    expect(out.files.map((f) => [f.path, f.binary])).toEqual([
      ['a/b.txt', false],
      ['a__b.txt', false],
      ['css/site.css', false],
      ['img.bin', true],
    ]);
    expect(out.data['css__site.css']).toBe('a{}');
    expect(out.binaryData['img.bin']).toBe(Buffer.from([0xff, 0xfe]).toString('base64'));
    // paths that would share a key get distinct keys
    expect(new Set(out.files.map((f) => f.key)).size).toBe(4);
    expect(isUtf8Text(Buffer.from('héllo'))).toBe(true);
    expect(isUtf8Text(Buffer.from([0xc3]))).toBe(false);
  });
  test('fails when a file is missing, unreadable as asked, too large or binary where text is required, naming the prop', () => {
    expect(() => readLocalFile(path.join(dir, 'nope.txt'), 'scriptFiles[0]')).toThrow(/scriptFiles\[0\] ".*nope.txt" does not exist/);
    expect(() => readLocalDirectory(path.join(dir, 'nope'), 'contentDir')).toThrow(/contentDir ".*nope" does not exist/);
    fs.symlinkSync(path.join(dir, 'gone'), path.join(dir, 'dangling'));
    expect(() => readLocalDirectory(dir, 'contentDir')).toThrow(/contentDir entry ".*dangling" does not exist/);
    expect(() => readLocalFile(undefined as unknown as string, 'bundle')).toThrow(/bundle is required/);
    expect(() => toConfigMapData([{ path: 'a.py', bytes: Buffer.from([0xff]), origin: 'scripts' }], 'scripts', { binary: false })).toThrow(
      /scripts file "a.py" \(from scripts\) must be UTF-8 text/,
    );
    expect(() => toConfigMapData([{ path: 'big', bytes: Buffer.alloc(MAX_CONFIGMAP_BYTES), origin: 'x' }], 'content')).toThrow(
      /content is 1.00 MiB \(1048579 bytes\), more than the 1.00 MiB \(1048576 bytes\) a ConfigMap can hold/,
    );
  });
});

describe('shared validators (lib/validate.ts)', () => {
  test('required props say "is required", not "got undefined"', () => {
    expect(() => validateDnsLabel(undefined as unknown as string, 'name')).toThrow(/^name is required$/);
    expect(() => validatePort(undefined as unknown as number, 'port')).toThrow(/^port is required$/);
    expect(() => validateImage(undefined as unknown as string, 'image')).toThrow(/^image is required$/);
  });
  test('fails when a port is privileged, a time zone unknown, a verb misspelled, an enum in the wrong case, requests above limits', () => {
    expect(() => validateUnprivilegedPort(80, 'port')).toThrow(
      /port must be an integer 1024-65535 \(the container runs as non-root without NET_BIND_SERVICE\), got 80/,
    );
    expect(validateTimeZone('Europe/Berlin', 'timeZone')).toBe('Europe/Berlin');
    expect(validateTimeZone('Etc/UTC', 'timeZone')).toBe('Etc/UTC');
    expect(validateTimeZone('US/Eastern', 'timeZone')).toBe('US/Eastern');
    expect(() => validateTimeZone('us/eastern', 'timeZone')).toThrow(/timeZone must be an IANA time zone in its exact case, got "us\/eastern"/);
    expect(() => validateTimeZone('Europe/Berlinn', 'timeZone')).toThrow(/timeZone must be an IANA time zone/);
    expect(validateRbacVerb('deletecollection', 'verbs')).toBe('deletecollection');
    expect(() => validateRbacVerb('gett', 'verbs')).toThrow(/verbs must be an RBAC verb .* got "gett"/);
    expect(() => validateOneOf('clusterip' as kplus.ServiceType, kplus.ServiceType, 'serviceType')).toThrow(/did you mean "ClusterIP"/);
    expect(() => validateResources({ cpu: { request: kplus.Cpu.units(2), limit: kplus.Cpu.millis(1500) } }, 'resources')).toThrow(
      /resources.cpu.request must not exceed resources.cpu.limit, got request 2 and limit 1500m/,
    );
    expect(validateResources({ cpu: { request: kplus.Cpu.millis(500), limit: kplus.Cpu.units(1) } }, 'resources')).toBeDefined();
    expect(() => validateEnvVariables({ N: 1 }, 'env')).toThrow(/env "N" must be a kplus.EnvValue .*got number 1/);
    expect(() => validateEnvVariables({ N: undefined }, 'env')).toThrow(/env "N" must be a kplus.EnvValue .*got undefined$/);
    // a number given as a string is shown as a string, not as the number it looks like
    expect(() => validatePort('8080' as never, 'port')).toThrow(/port must be an integer port 1-65535, got "8080"/);
    expect(() => validateResources({ cpu: { request: '100m' } } as never, 'resources')).toThrow(
      /resources.cpu.request must be a Cpu such as Cpu.millis\(100\), got "100m"/,
    );
    expect(() => validateResources({ memory: { limit: 128 } } as never, 'resources')).toThrow(
      /resources.memory.limit must be a Size such as Size.mebibytes\(64\), got 128/,
    );
    expect(() => validateList({ name: 'x' } as never, 'volumes')).toThrow(/volumes must be a list, got \{"name":"x"\}/);
    expect(validateList(undefined, 'volumes')).toEqual([]);
  });
});
