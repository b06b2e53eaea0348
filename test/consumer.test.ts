/**
 * The package as others install it: `npm pack` (which builds), the tarball
 * installed into a cdk8s app of its own (test/fixtures/consumer: cdk8s,
 * cdk8s-plus-28 and constructs at caret ranges, nothing else of ours),
 * type-checked with the strictest flags, synthesized with `cdk8s synth` and
 * with plain `node`, checked with the package's own gate, and kvctl run from
 * the consumer's node_modules/.bin.
 */
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Yaml } from 'cdk8s';
import { K8sObject } from '../lib/testing';

const ROOT = path.join(__dirname, '..');
const FIXTURE = path.join(__dirname, 'fixtures', 'consumer');
const TSC = require.resolve('typescript/bin/tsc');
const CDK8S = path.join(path.dirname(require.resolve('cdk8s-cli/package.json')), 'bin', 'cdk8s');
const MAX_TARBALL_BYTES = 300 * 1024;

interface PackResult {
  filename: string;
  size: number;
  entryCount: number;
  files: Array<{ path: string; size: number }>;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 180_000 });
}

function ok(r: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}${r.error ? ` (${r.error.message})` : ''}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/**
 * The errors of a tsc run that are not cdk8s-plus-28's own. cdk8s-plus-28's
 * declarations do not compile under exactOptionalPropertyTypes (its classes
 * declare `resourceName?: string` against `resourceName: string` interfaces);
 * those, with their indented continuation lines, are the only output allowed.
 * Anything else counts: an error in any other file, an error without a file
 * position (a TS5xxx configuration error), a crash, a kill by the timeout. The
 * exit status must say the same: 0 without errors, 1 or 2 (diagnostics
 * reported) with them, never anything else.
 */
function tscProblems(r: SpawnSyncReturns<string>): string[] {
  const problems: string[] = [];
  if (r.error) problems.push(`tsc did not run: ${r.error.message}`);
  if (r.signal) problems.push(`tsc was killed by ${r.signal}`);
  if (r.stderr.trim()) problems.push(`stderr: ${r.stderr.trim()}`);
  let allowed = 0;
  let inAllowed = false;
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    if (/^node_modules\/cdk8s-plus-28\/\S*\(\d+,\d+\): error TS\d+: /.test(line)) {
      allowed++;
      inAllowed = true;
    } else if (inAllowed && /^\s/.test(line)) {
      // the continuation of an allowed error's message
    } else if (/^Found \d+ errors? in /.test(line) || /^Errors\s+Files$/.test(line) || /^\s+\d+\s+node_modules\/cdk8s-plus-28\//.test(line)) {
      inAllowed = false; // tsc's summary of the allowed errors
    } else {
      inAllowed = false;
      problems.push(line);
    }
  }
  const statusOk = allowed === 0 ? r.status === 0 : r.status === 1 || r.status === 2;
  if (!statusOk) problems.push(`exit status ${r.status} with ${allowed} allowed error(s)`);
  return problems;
}

let work: string;
let app: string;
let pack: PackResult;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-patterns-consumer-'));
  // prepack builds lib/ into build/ first; the build logs on stderr, so stdout is the JSON
  const packed = ok(run('npm', ['pack', '--json', '--pack-destination', work], ROOT), 'npm pack');
  pack = JSON.parse(packed.stdout)[0];
  app = path.join(work, 'app');
  fs.cpSync(FIXTURE, app, { recursive: true });
  ok(run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', path.join(work, pack.filename)], app), 'npm install');
}, 300_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  test(`is at most ${MAX_TARBALL_BYTES / 1024} kB and holds compiled JS, declarations, runtime assets and kvctl`, () => {
    expect(pack.size).toBeLessThanOrEqual(MAX_TARBALL_BYTES);
    const files = pack.files.map((f) => f.path);
    for (const f of [
      'package.json',
      'README.md',
      'CHANGELOG.md',
      'bin/kvctl.js',
      'build/index.js',
      'build/index.d.ts',
      'build/testing/index.js',
      'build/testing/index.d.ts',
      'build/kv-proxy/server/server.js',
      'build/sidecar-pod/restart-on-change.sh',
      'build/sidecar-pod/signal-app.sh',
      'build/general-purpose-runner/unpack.py',
    ]) {
      expect(files).toContain(f);
    }
  });

  test(
    'holds no tests, dist/, bench/, imports/, TypeScript sources or the official schema; ' +
      'of scripts/ and tools/ only the Go module verify builds from',
    () => {
      const files = pack.files.map((f) => f.path);
      expect(files.filter((f) => /^(test|dist|bench|imports|schemas|charts|config|docs|lib)\//.test(f))).toEqual([]);
      // cdk8s-patterns verify builds etcd, kube-apiserver and kubectl from these (never binaries)
      expect(files.filter((f) => /^(scripts|tools)\//.test(f)).sort()).toEqual([
        'scripts/gobin/key.sh',
        'scripts/kube/build.sh',
        'tools/kube/ARGO_CD_VERSION',
        'tools/kube/etcd/main.go',
        'tools/kube/go.mod',
        'tools/kube/go.sum',
      ]);
      expect(files.filter((f) => /\.test\.|(?<!\.d)\.ts$/.test(f))).toEqual([]);
      expect(files.filter((f) => /_definitions\.json$/.test(f))).toEqual([]);
    },
  );

  test('ships the kv-proxy server byte for byte as reviewed, not as tsc re-emits it', () => {
    const unpacked = path.join(app, 'node_modules', 'cdk8s-patterns', 'build', 'kv-proxy', 'server');
    const mine = fs
      .readdirSync(path.join(ROOT, 'lib', 'kv-proxy', 'server'))
      .filter((f) => f.endsWith('.js'))
      .sort();
    expect(
      fs
        .readdirSync(unpacked)
        .filter((f) => f.endsWith('.js'))
        .sort(),
    ).toEqual(mine);
    for (const f of mine) {
      expect(fs.readFileSync(path.join(unpacked, f), 'utf8')).toBe(fs.readFileSync(path.join(ROOT, 'lib', 'kv-proxy', 'server', f), 'utf8'));
    }
  });
});

describe('a cdk8s app that installs it', () => {
  test('gets one copy of cdk8s, cdk8s-plus-28 and constructs: its own (peer dependencies)', () => {
    const installed = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8'));
    expect(Object.keys(installed.dependencies).sort()).toEqual(['cdk8s', 'cdk8s-patterns', 'cdk8s-plus-28', 'constructs']);
    const nested = path.join(app, 'node_modules', 'cdk8s-patterns', 'node_modules');
    for (const peer of ['cdk8s', 'cdk8s-plus-28', 'constructs']) {
      expect(fs.existsSync(path.join(nested, peer))).toBe(false);
      expect(fs.existsSync(path.join(app, 'node_modules', peer, 'package.json'))).toBe(true);
    }
  });

  test('type-checks with strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess and skipLibCheck: false', () => {
    const tsconfig = JSON.parse(fs.readFileSync(path.join(app, 'tsconfig.json'), 'utf8')).compilerOptions;
    expect(tsconfig).toMatchObject({ strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, skipLibCheck: false });
    const r = run(process.execPath, [TSC, '-p', '.'], app);
    // every file but cdk8s-plus-28's own declarations, ours and the app's, must be clean (tscProblems)
    expect(tscProblems(r)).toEqual([]);
    expect(fs.existsSync(path.join(app, 'main.js'))).toBe(true);
    expect(fs.existsSync(path.join(app, 'check.js'))).toBe(true);
  }, 120_000);

  test('type-checks under Node16 module resolution too (package "exports")', () => {
    const r = run(process.execPath, [TSC, '-p', '.', '--noEmit', '--module', 'node16', '--moduleResolution', 'node16'], app);
    expect(tscProblems(r)).toEqual([]);
  }, 120_000);

  test('synthesizes with plain node and with `cdk8s synth` (offline, no stack trace) to the same YAML', () => {
    const byNode = ok(run(process.execPath, ['main.js'], app), 'node main.js');
    expect(byNode.stderr).toBe('');
    const cli = ok(run(process.execPath, [CDK8S, 'synth', '--output', 'dist-cli'], app, { CDK8S_CHECK_UPGRADE: 'false' }), 'cdk8s synth');
    expect(cli.stderr).not.toMatch(/^\s+at /m);
    expect(cli.stdout).toContain('dist-cli/platform.k8s.yaml');
    expect(fs.readFileSync(path.join(app, 'dist-cli', 'platform.k8s.yaml'), 'utf8')).toBe(
      fs.readFileSync(path.join(app, 'dist', 'platform.k8s.yaml'), 'utf8'),
    );
  }, 120_000);

  test('uses all five patterns, with the runtime assets read from the package', () => {
    const objects = Yaml.load(path.join(app, 'dist', 'platform.k8s.yaml')) as K8sObject[];
    const names = (kind: string) =>
      objects
        .filter((o) => o.kind === kind)
        .map((o) => o.metadata.name)
        .sort();
    expect(names('Deployment')).toEqual(['api', 'flags', 'hello', 'hot-plug', 'site', 'web']);
    const data = (o: K8sObject) => Object.values<string>(o.data ?? {});
    const configMaps = objects.filter((o) => o.kind === 'ConfigMap');
    const lib = (...p: string[]) => fs.readFileSync(path.join(ROOT, 'lib', ...p), 'utf8');
    // KvProxy: the server's source; SidecarPod hot plug: restart-on-change.sh;
    // ScriptService: the script and, for its archive, unpack.py
    expect(configMaps.flatMap(data)).toEqual(
      expect.arrayContaining([
        lib('kv-proxy', 'server', 'server.js'),
        lib('sidecar-pod', 'restart-on-change.sh'),
        lib('general-purpose-runner', 'unpack.py'),
        fs.readFileSync(path.join(FIXTURE, 'scripts', 'hello.py'), 'utf8'),
      ]),
    );
    // ImmutableConfigInit: the init container copying from the config image
    const web = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'web');
    expect(web?.spec.template.spec.initContainers.map((c: any) => c.image)).toEqual(['registry.example.com/web-config:3.1.0']);
  });

  test('passes the gate of cdk8s-patterns/testing, run by the app itself', () => {
    const r = ok(run(process.execPath, ['check.js', 'dist'], app), 'node check.js');
    expect(r.stdout).toMatch(/^\d+ objects in dist pass the gate$/m);
    // and the gate is real: a broken manifest fails it
    const broken = path.join(app, 'broken');
    fs.mkdirSync(broken);
    fs.writeFileSync(
      path.join(broken, 'pod.yaml'),
      fs.readFileSync(path.join(app, 'dist', 'platform.k8s.yaml'), 'utf8').replace(/readOnlyRootFilesystem: true/, 'readOnlyRootFilesystem: false'),
    );
    const bad = run(process.execPath, ['check.js', 'broken'], app);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/readOnlyRootFilesystem/);
  });

  test('runs the packaged kvctl', () => {
    const r = ok(run(path.join(app, 'node_modules', '.bin', 'kvctl'), ['--help'], app), 'kvctl --help');
    expect(r.stdout + r.stderr).toMatch(/^usage: kvctl /m);
  });
});
