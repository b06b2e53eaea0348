/**
 * `cdk8s-patterns verify` as a platform team runs it: the packed tarball
 * installed into a cdk8s app of its own (test/fixtures/consumer), the bin run
 * from its node_modules/.bin (compiled JS, no ts-node) on the app's own
 * `cdk8s synth` output, and on folders shaped like the ones users bring: a
 * Namespace and its Deployment in one file, a custom resource with and
 * without its CRD, a single file. Every run starts a real etcd and
 * kube-apiserver; the binaries come from the Go module shipped in the package
 * (the same cache key as the repository's build) or from KUBEBUILDER_ASSETS.
 */
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
const FIXTURE = path.join(__dirname, 'fixtures', 'consumer');
const TSC = require.resolve('typescript/bin/tsc');
const CDK8S = path.join(path.dirname(require.resolve('cdk8s-cli/package.json')), 'bin', 'cdk8s');
/** A run starts etcd and kube-apiserver (about 10 s, more on a busy machine) and applies everything twice. */
const RUN_TIMEOUT_MS = 240_000;

/** The environment without any binary folder chosen, so each test says where the binaries come from. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CDK8S_CHECK_UPGRADE: 'false', ...extra };
  for (const k of ['KUBE_BIN_DIR', 'KUBEBUILDER_ASSETS']) if (!(k in extra)) delete env[k];
  return env;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', env, timeout: RUN_TIMEOUT_MS });
}

function ok(r: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}${r.error ? ` (${r.error.message})` : ''}\n${r.stdout}\n${r.stderr}`);
  return r;
}

let work: string;
let app: string;
/** Where the repository's own build (scripts/kube/build.sh) keeps the binaries. */
let repoBinDir: string;

/** Runs the installed bin: `cdk8s-patterns verify <args>` in the app. */
function verify(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): SpawnSyncReturns<string> {
  return run(path.join(app, 'node_modules', '.bin', 'cdk8s-patterns'), ['verify', ...args], app, env);
}

/** Writes `files` (name to YAML) under the app and returns the folder. */
function folder(name: string, files: Record<string, string>): string {
  const dir = path.join(app, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  return name;
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-patterns-verify-bin-'));
  const packed = ok(run('npm', ['pack', '--json', '--pack-destination', work], ROOT), 'npm pack');
  const tarball = JSON.parse(packed.stdout)[0].filename;
  app = path.join(work, 'app');
  fs.cpSync(FIXTURE, app, { recursive: true });
  ok(run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', path.join(work, tarball)], app), 'npm install');
  // the pipeline: compile the app, `cdk8s synth`
  // cdk8s-plus-28's own declarations do not compile under the app's flags (see consumer.test.ts); main.js is emitted anyway
  run(process.execPath, [TSC, '-p', '.'], app);
  ok(run(process.execPath, [CDK8S, 'synth'], app), 'cdk8s synth');
  repoBinDir = ok(run('bash', [path.join(ROOT, 'scripts', 'kube', 'build.sh'), '--dir'], ROOT), 'build.sh --dir').stdout.trim();
}, 400_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** A Deployment; `container` adds to its one container. */
const deploymentYaml = (name: string, namespace: string | undefined, container: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
${namespace ? `  namespace: ${namespace}\n` : ''}spec:
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
        - name: app
          image: registry.example.com/${name}:1.0.0
${container}`;

const RESTRICTED = `          securityContext:
            runAsNonRoot: true
            runAsUser: 10001
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
            seccompProfile: {type: RuntimeDefault}
`;
const PRIVILEGED = `          securityContext:
            privileged: true
`;

/** cert-manager's Certificate CRD, cut down to the fields used here (written for this test; the real one is larger). */
const CERTIFICATE_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: certificates.cert-manager.io
spec:
  group: cert-manager.io
  names: {kind: Certificate, listKind: CertificateList, plural: certificates, singular: certificate, shortNames: [cert, certs]}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          required: [spec]
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              required: [issuerRef, secretName]
              properties:
                secretName: {type: string}
                dnsNames: {type: array, items: {type: string}}
                duration: {type: string}
                issuerRef:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    kind: {type: string}
                    group: {type: string}
            status: {type: object, x-kubernetes-preserve-unknown-fields: true}
`;

/** A Certificate before the Namespace it lives in, in one file. */
const CERTIFICATE = `apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: shop-tls
  namespace: shop
spec:
  secretName: shop-tls
  dnsNames: [shop.example.com]
  issuerRef: {name: letsencrypt, kind: ClusterIssuer, group: cert-manager.io}
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
`;

describe('the packed cdk8s-patterns bin', () => {
  test('--help documents every option, the checks, where the binaries come from and the exit statuses', () => {
    const r = ok(verify(['--help']), 'verify --help');
    for (const option of ['--crds <file|dir>', '--pod-security <mode>', '--can-i', '--no-build', '-h, --help'])
      expect(r.stdout).toContain(`  ${option}`);
    for (const word of ['KUBE_BIN_DIR', 'KUBEBUILDER_ASSETS', 'restricted', 'baseline', 'labels', 'exit status', 'npx cdk8s-patterns verify dist/'])
      expect(r.stdout).toContain(word);
  });

  test('an unknown option or a missing path is a usage error (exit 2)', () => {
    const bad = verify(['--pod-security', 'strict', 'dist']);
    expect([bad.status, bad.stderr]).toEqual([2, expect.stringMatching(/--pod-security must be restricted, baseline or labels, got strict/)]);
    const missing = verify(['nowhere']);
    expect([missing.status, missing.stderr]).toEqual([2, expect.stringMatching(/nowhere: no such file or folder/)]);
  });

  test('without binaries and without building, one message says how to get them (exit 3)', () => {
    const r = verify(['--no-build', 'dist']);
    expect(r.status).toBe(3);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^cdk8s-patterns verify needs etcd, kube-apiserver and kubectl: set KUBEBUILDER_ASSETS .*KUBE_BIN_DIR .*install Go 1\.26\.0 or newer/,
      ),
    ]);
  });

  test(
    "passes the consumer app's own `cdk8s synth` output, with binaries built from the shipped module under the repository's cache key, " +
      'and reports what its ServiceAccounts may do',
    () => {
      const r = verify(['dist/', '--can-i']);
      expect([r.status, r.stderr.match(/^kube: (reusing|using).*$/m)?.[0]]).toEqual([0, expect.any(String)]);
      expect(r.stdout).toContain(`binaries: built with Go`);
      expect(r.stdout).toContain(`(${repoBinDir})`);
      const lines = r.stdout.split('\n');
      expect(lines.filter((l) => /^(ok|FAIL)/.test(l)).map((l) => l.replace(/:.*/, ''))).toEqual([
        'ok    read the input',
        'ok    server-side apply, warnings as errors',
        'ok    a Pod from every workload template is admitted',
        'ok    a second apply changes nothing',
        'ok    what each ServiceAccount may do (--can-i)',
      ]);
      expect(r.stdout).toMatch(/^ok {4}a Pod from every workload template is admitted: 6 Pods \(Pod Security: restricted on every namespace\)$/m);
      expect(r.stdout).toMatch(/namespaces the input uses but does not create, created as a platform would: platform/);
      // KvProxy's ServiceAccount reads and writes ConfigMaps in the namespace it serves
      expect(r.stdout).toMatch(/^ {8}ServiceAccount platform\/flags\S*: .*in platform: [^|]*\bconfigmaps\b/m);
      expect(r.stdout).toMatch(/\nevery check passed\n$/);
    },
    RUN_TIMEOUT_MS,
  );

  describe('on one file holding a Namespace and, before it, a privileged Deployment in it', () => {
    let dir = '';
    beforeAll(() => {
      dir = folder('one-file', {
        'shop.yaml': `${deploymentYaml('web', 'shop', PRIVILEGED)}---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n`,
      });
    });

    test(
      "applies the Namespace first and reports Pod Security's own refusal of the Pod, naming the file and the object (exit 1)",
      () => {
        const r = verify([dir]);
        expect(r.status).toBe(1);
        expect(r.stdout).not.toMatch(/not found/);
        expect(r.stdout).toMatch(/^FAIL {2}server-side apply, warnings as errors: 1 of 2 objects failed$/m);
        expect(r.stdout).toMatch(
          new RegExp(
            String.raw`^ {8}one-file/shop\.yaml: Deployment shop/web: Warning: would violate PodSecurity "restricted:latest": ` +
              String.raw`.*privileged \(container "app" must not set securityContext\.privileged=true\)`,
            'm',
          ),
        );
        expect(r.stdout).toMatch(/^FAIL {2}a Pod from every workload template is admitted: 1 of 1 refused/m);
        expect(r.stdout).toMatch(
          new RegExp(
            String.raw`^ {8}one-file/shop\.yaml: Deployment shop/web: pods "web-deployment-pod" is forbidden: ` +
              String.raw`violates PodSecurity "restricted:latest": .*privileged \(container "app" must not set securityContext\.privileged=true\)`,
            'm',
          ),
        );
      },
      RUN_TIMEOUT_MS,
    );

    test(
      '--pod-security baseline refuses it too, at baseline',
      () => {
        const r = verify(['--pod-security', 'baseline', dir]);
        expect(r.status).toBe(1);
        expect(r.stdout).toMatch(
          new RegExp(
            String.raw`^ {8}one-file/shop\.yaml: Deployment shop/web: pods "web-deployment-pod" is forbidden: ` +
              String.raw`violates PodSecurity "baseline:latest": .*privileged`,
            'm',
          ),
        );
      },
      RUN_TIMEOUT_MS,
    );

    test(
      '--pod-security labels lets the unlabelled namespace be privileged, as a stock cluster does (exit 0)',
      () => {
        const r = verify(['--pod-security', 'labels', dir]);
        expect([r.status, r.stdout]).toEqual([
          0,
          expect.stringMatching(/^ok {4}a Pod from every workload template is admitted: 1 Pod \(Pod Security: namespace labels\)$/m),
        ]);
      },
      RUN_TIMEOUT_MS,
    );
  });

  test(
    'a custom resource passes with its CRD given by --crds, even with its Namespace after it in the same file',
    () => {
      const dir = folder('cr-with-crd', { 'certificate.yaml': CERTIFICATE });
      folder('crds', { 'certificates.yaml': CERTIFICATE_CRD });
      const r = verify(['--crds', 'crds', dir]);
      expect([r.status, r.stdout]).toEqual([
        0,
        expect.stringMatching(/^ok {4}CRDs applied first are Established \(--crds\): 1 CustomResourceDefinition$/m),
      ]);
      expect(r.stdout).toMatch(/^ok {4}server-side apply, warnings as errors: 2 objects$/m);
      expect(r.stdout).toMatch(/^ok {4}a second apply changes nothing: 2 of 2 objects unchanged$/m);
    },
    RUN_TIMEOUT_MS,
  );

  test(
    'a custom resource without its CRD fails with a message naming --crds (exit 1)',
    () => {
      const dir = folder('cr-without-crd', { 'certificate.yaml': CERTIFICATE });
      const r = verify([dir]);
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(
        new RegExp(
          String.raw`^ {8}cr-without-crd/certificate\.yaml: Certificate shop/shop-tls: the server has no Certificate in cert-manager\.io/v1: ` +
            String.raw`if it is a custom resource, give its CustomResourceDefinition with --crds <file\|dir>`,
          'm',
        ),
      );
    },
    RUN_TIMEOUT_MS,
  );

  test(
    "a single file argument is verified, with the binaries from KUBEBUILDER_ASSETS (envtest's layout) and nothing built",
    () => {
      folder('single', { 'app.yaml': deploymentYaml('api', undefined, RESTRICTED), 'ignored.yaml': 'this: [is not read' });
      const emptyCache = fs.mkdtempSync(path.join(work, 'cache-'));
      const r = verify(['--no-build', 'single/app.yaml'], cleanEnv({ KUBEBUILDER_ASSETS: repoBinDir, XDG_CACHE_HOME: emptyCache }));
      expect([r.status, r.stderr]).toEqual([0, '']);
      expect(r.stdout).toMatch(/^binaries: KUBEBUILDER_ASSETS$/m);
      expect(r.stdout).toMatch(/^single\/app\.yaml: kube-apiserver v\d+\.\d+\.\d+/m);
      expect(r.stdout).toMatch(/^ok {4}read the input: 1 file, 1 object$/m);
      expect(r.stdout).toMatch(/^ok {4}a Pod from every workload template is admitted: 1 Pod/m);
      expect(fs.readdirSync(emptyCache)).toEqual([]);
    },
    RUN_TIMEOUT_MS,
  );
});
