/**
 * `npm run bench` part "package": synth cost as a library user sees it.
 * Packs this repository (`npm pack`, which builds), installs the tarball into
 * a copy of test/fixtures/consumer (the app using all five patterns),
 * compiles it, then times, interleaved run by run:
 *  - the consumer app from compiled JavaScript (`node main.js`), and the same
 *    through the cdk8s CLI (`cdk8s synth`, whose cdk8s.yaml runs `node main.js`);
 *  - a trivial one-object cdk8s app in the same node_modules (the floor:
 *    node start-up plus loading cdk8s);
 *  - this repository's `npm run synth` (`node -r ts-node/register main.ts`).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const CDK8S_CLI = path.join(path.dirname(require.resolve('cdk8s-cli/package.json')), 'bin', 'cdk8s');

const TRIVIAL_APP = `const { App, Chart, ApiObject } = require('cdk8s');
const app = new App();
const chart = new Chart(app, 'trivial');
new ApiObject(chart, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'trivial' }, data: { a: 'b' } });
app.synth();
`;

export interface SynthTiming {
  readonly what: string;
  readonly command: string;
  readonly runs: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}
export interface PackageSynthReport {
  readonly tarballBytes: number;
  readonly tarballFiles: number;
  readonly timings: SynthTiming[];
}

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function timeMs(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): number {
  const t = process.hrtime.bigint();
  sh(cmd, args, cwd, env);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function benchPackageSynth(runs: number, log: (msg: string) => void = () => undefined): PackageSynthReport {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-package-'));
  try {
    log('npm pack');
    const pack = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', work], ROOT))[0];
    const app = path.join(work, 'app');
    fs.cpSync(path.join(ROOT, 'test', 'fixtures', 'consumer'), app, { recursive: true });
    log('npm install the tarball into the consumer app');
    sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', path.join(work, pack.filename)], app);
    log('compile the consumer app');
    // strictness is proven by test/consumer.test.ts; here only the JavaScript matters
    sh(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', '.', '--skipLibCheck'], app);
    fs.writeFileSync(path.join(app, 'trivial.js'), TRIVIAL_APP);
    const cases = [
      { what: 'trivial one-object cdk8s app', command: 'node trivial.js', cwd: app, args: ['trivial.js'] },
      { what: 'consumer app, all five patterns, from the tarball', command: 'node main.js', cwd: app, args: ['main.js'] },
      { what: 'the same through the cdk8s CLI', command: 'CDK8S_CHECK_UPGRADE=false cdk8s synth', cwd: app, args: [CDK8S_CLI, 'synth'] },
      {
        what: "this repository's app (dev, prod, argocd)",
        command: 'node -r ts-node/register main.ts',
        cwd: ROOT,
        args: ['-r', 'ts-node/register', 'main.ts'],
      },
    ];
    const samples = cases.map(() => [] as number[]);
    for (let i = 0; i < runs; i++) {
      cases.forEach((c, j) => {
        const out = fs.mkdtempSync(path.join(work, 'out-'));
        samples[j]!.push(timeMs(process.execPath, c.args, c.cwd, { CDK8S_OUTDIR: out, CDK8S_OUTPUT: out, CDK8S_CHECK_UPGRADE: 'false' }));
        fs.rmSync(out, { recursive: true, force: true });
      });
      log(`run ${i + 1}/${runs}`);
    }
    const r1 = (x: number) => Math.round(x);
    return {
      tarballBytes: pack.size,
      tarballFiles: pack.entryCount,
      timings: cases.map((c, j) => ({
        what: c.what,
        command: c.command,
        runs,
        medianMs: r1(median(samples[j]!)),
        minMs: r1(Math.min(...samples[j]!)),
        maxMs: r1(Math.max(...samples[j]!)),
      })),
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const report = benchPackageSynth(Number(process.env.BENCH_RUNS ?? 5), (m) => process.stderr.write(`[package] ${m}\n`));
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}
