/**
 * Command-line manners of the repository's scripts: `npm run synth` says what
 * it wrote, `cdk8s synth` runs offline without a stack trace, and `npm run
 * diff` / `npm run check:dist` / `npm run api` answer --help and refuse
 * unknown flags with exit status 2 (instead of, say, "no changes").
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
const TS_NODE = ['-r', 'ts-node/register'];
const CDK8S = path.join(path.dirname(require.resolve('cdk8s-cli/package.json')), 'bin', 'cdk8s');

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
}

describe.each([
  ['diff', 'scripts/review/diff.ts', /^usage: npm run diff /m],
  ['check:dist', 'scripts/check-dist.ts', /^usage: npm run check:dist /m],
  ['api', 'scripts/api.ts', /^usage: npm run api /m],
])('npm run %s', (_name, script, usage) => {
  test('--help prints the usage and exits 0', () => {
    const r = run([...TS_NODE, script, '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(usage);
    expect(r.stdout).toMatch(/exit|--check/);
  });

  test('an unknown flag is refused with the usage and exit status 2', () => {
    const r = run([...TS_NODE, script, '--frmo', 'HEAD']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--frmo/);
    expect(r.stderr).toMatch(usage);
    expect(r.stdout).toBe('');
  });
});

test('npm run diff refuses --to without --from', () => {
  const r = run([...TS_NODE, 'scripts/review/diff.ts', '--to', 'HEAD']);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/--to needs --from/);
});

test('npm run check:dist refuses a folder that does not exist', () => {
  const r = run([...TS_NODE, 'scripts/check-dist.ts', 'no-such-dist']);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/no-such-dist is not a folder/);
});

describe('synth', () => {
  let out: string;
  beforeAll(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-synth-'));
  });
  afterAll(() => {
    fs.rmSync(out, { recursive: true, force: true });
  });

  test('`npm run synth` says what it wrote: one line per file, then a summary', () => {
    const dir = fs.mkdtempSync(path.join(out, 'npm-'));
    const r = run([...TS_NODE, 'main.ts'], { CDK8S_OUTDIR: dir });
    expect(r.status).toBe(0);
    const listed = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('  - '))
      .map((l) => l.slice(4));
    const written = ['argocd', 'dev', 'prod'].flatMap((env) => fs.readdirSync(path.join(dir, env)).map((f) => path.join(dir, env, f)));
    expect(listed.sort()).toEqual(written.sort());
    expect(r.stdout).toContain(`synth: wrote ${written.length} manifest files under ${dir}/`);
    // diagrams describe the committed dist/ only: a synth elsewhere leaves docs/diagrams alone
    expect(r.stdout).not.toContain('diagrams');
  }, 120_000);

  test('`cdk8s synth` runs offline without a stack trace (CDK8S_CHECK_UPGRADE=false) and lists what it wrote', () => {
    // an unreachable registry stands in for "offline"
    const r = run([CDK8S, 'synth', '--output', out], { CDK8S_CHECK_UPGRADE: 'false', npm_config_registry: 'http://127.0.0.1:9/', HOME: out });
    expect(r.status).toBe(0);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stdout).toContain(path.join(out, 'dev', '0001-static-site.k8s.yaml'));
    expect(fs.existsSync(path.join(out, 'argocd', 'applications.k8s.yaml'))).toBe(true);
  }, 120_000);
});
