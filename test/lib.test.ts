import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as kplus from 'cdk8s-plus-28';
import {
  addChecksumAnnotation, applyLabels, configMapSize, contentHash, DEFAULT_RUN_AS_USER, hardenedContainer, hardenedPodProps,
  isConfigMapKeyText, parseImage, recommendedLabels, validateAbsolutePath, validateConfigMapKey, validateDnsLabel, validateImage, validatePort, pathIsWithin,
  validateQualifiedName, validateRelativePath,
} from '../lib';
import { assertValid } from '../lib/testing';
import { findContainer, findObject, synthObjects, testChart } from './support/synth';

describe('image references', () => {
  test('accepts tags, digests and registries with ports', () => {
    expect(parseImage('nginx:1.27')).toEqual({ registry: undefined, repository: 'nginx', tag: '1.27', digest: undefined });
    expect(parseImage('nginxinc/nginx-unprivileged:1.27.3-alpine').repository).toBe('nginxinc/nginx-unprivileged');
    expect(parseImage('registry.k8s.io/git-sync/git-sync:v4.4.0')).toMatchObject({ registry: 'registry.k8s.io', repository: 'git-sync/git-sync', tag: 'v4.4.0' });
    expect(parseImage('localhost:5000/app@sha256:' + 'a'.repeat(64))).toMatchObject({ registry: 'localhost:5000', digest: 'sha256:' + 'a'.repeat(64) });
    expect(validateImage('busybox:1.36.1')).toBe('busybox:1.36.1');
  });
  test('fails when the image has no tag or digest', () => {
    expect(() => validateImage('nginx')).toThrow(/image must be pinned with a tag or a digest, got "nginx"/);
  });
  test('fails when the image uses latest', () => {
    expect(() => validateImage('nginx:latest', 'configImage')).toThrow(/configImage must not use the floating "latest" tag/);
  });
  test('fails when the reference is malformed', () => {
    expect(() => validateImage('NGINX:1.0')).toThrow(/valid image reference/);
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
    expect(() => validateQualifiedName('Bad Key', 'ingressAnnotations key', 'a.io/b')).toThrow(/ingressAnnotations key must be a qualified name such as "a.io\/b", got "Bad Key"/);
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
  test('a cdk8s-plus Deployment built with them passes PSS restricted and the whole gate', () => {
    // GIVEN a Deployment with the hardened container and pod props
    const chart = testChart();
    new kplus.Deployment(chart, 'web', {
      ...hardenedPodProps(),
      containers: [hardenedContainer({ name: 'web', image: 'nginx:1.27', portNumber: 8080 })],
    });
    // WHEN synthesized
    const objects = synthObjects(chart);
    // THEN every default is there
    const dep = findObject(objects, 'Deployment');
    const c = findContainer(dep, 'web');
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, runAsNonRoot: true,
      runAsUser: DEFAULT_RUN_AS_USER, runAsGroup: DEFAULT_RUN_AS_USER,
      capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.resources).toEqual({ requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } });
    expect(dep.spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(dep.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 });
    expect(() => assertValid(objects)).not.toThrow();
  });
  test('overrides win field by field', () => {
    const props = hardenedContainer({ image: 'nginx:1.27', securityContext: { user: 101 } , imagePullPolicy: kplus.ImagePullPolicy.ALWAYS });
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
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'import-k8s.js')], { cwd: root, env: { ...process.env, IMPORT_OUTDIR: out }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('Importing k8s v1.28.0');
    expect(fs.readFileSync(path.join(out, 'k8s.ts')).equals(fs.readFileSync(path.join(root, 'imports', 'k8s.ts')))).toBe(true);
    fs.rmSync(out, { recursive: true, force: true });
  });
});
