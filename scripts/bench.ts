/**
 * `npm run bench`: synth cost and KvProxy throughput, latency, API load and
 * memory, with a naive relay baseline measured side by side in the same run.
 * Prints tables with progress and step timings, and writes the report as JSON
 * to bench/latest.json. Numbers are never asserted: these machines are shared
 * and noisy, so every figure is a median over repeated runs.
 *
 *   npm run bench                 # everything (a few minutes)
 *   npm run bench -- --quick      # fewer repetitions and shorter loads
 *   npm run bench -- --only=kv-log,kv-memory,kv-ryw   # some parts, in isolation
 *   BENCH_REPS=9 npm run bench -- --only=kv-log          # more runs per log mode
 *
 * Parts: synth, package (the consumer app synthesized from the packed tarball,
 * beside a trivial one-object app and npm run synth), scaling, kv (reads vs the naive relay, writes), memory (RSS by
 * ConfigMap count), kv-log (GET throughput by KV_ACCESS_LOG), kv-memory (RSS
 * with 1,000 ConfigMaps of 100 keys, idle and after one GET of each), kv-ryw
 * (three replicas: write through one, read it through another with ?min-index), kv-latency (the
 * figures the tests await instead of timing: a blocking read woken by a change,
 * the catch-up after an API outage, a blocking read answered on SIGTERM and the exit),
 * kv-ceiling (GET at 64 connections beside a bare Node http server answering the same bytes, the seed's Flask proxy and
 * etcd's v3 JSON gateway answering the same data (scripts/bench/anchors.ts), and beside
 * BENCH_PROXY_BASELINE, other copies of the server's server.js, comma-separated, e.g. a previous commit's),
 * kv-consul (one key by the native GET vs Consul's GET /v1/kv and ?raw, interleaved).
 * With --only, bench/latest.* are left alone and the report goes to stdout.
 */
import { ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import autocannon from 'autocannon';
import { KV_PROXY_NODE_FLAGS, KV_PROXY_WRITABLE_LABEL } from '../lib/kv-proxy';
import { Anchor, kvProxyRatios, startEtcdGateway, startSeed, Target } from './bench/anchors';
import { benchPackageSynth } from './bench/package-synth';
import { freePort } from '../lib/verify/cluster';

const ROOT = path.join(__dirname, '..');
const QUICK = process.argv.includes('--quick');
const SYNTH_RUNS = QUICK ? 3 : 5;
const LOAD_RUNS = QUICK ? 1 : 3;
const LOAD_SECONDS = QUICK ? 2 : 3;
const SCALE_NS = QUICK ? [10, 100] : [10, 100, 1000];
const ONLY = (process.argv.find((a) => a.startsWith('--only=')) ?? '')
  .slice('--only='.length)
  .split(',')
  .filter((x) => x !== '');
const PARTS = ['synth', 'package', 'scaling', 'kv', 'memory', 'kv-log', 'kv-memory', 'kv-ryw', 'kv-latency', 'kv-ceiling', 'kv-consul'];
for (const part of ONLY) if (!PARTS.includes(part)) throw new Error(`--only: unknown part "${part}", use ${PARTS.join(', ')}`);
const wanted = (part: string) => ONLY.length === 0 || ONLY.includes(part);
const started = Date.now();

// ------------------------------------------------------------ utilities ---

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function step<T>(label: string, fn: () => Promise<T> | T): Promise<T> {
  const t = Date.now();
  process.stderr.write(`[bench +${((t - started) / 1000).toFixed(1)}s] ${label} ...\n`);
  const r = await fn();
  process.stderr.write(`[bench +${((Date.now() - started) / 1000).toFixed(1)}s] ${label} done in ${((Date.now() - t) / 1000).toFixed(1)}s\n`);
  return r;
}

function table(title: string, head: string[], rows: Array<Array<string | number>>): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  return [`\n${title}`, line(head), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...rows.map((r) => line(r.map(String)))].join('\n');
}

interface ChildRun {
  wallMs: number;
  maxRssMiB: number;
  stdout: string;
}

/** Runs a node child with ts-node, measuring wall time and peak RSS. */
function runNode(args: string[], env: Record<string, string>): ChildRun {
  const rssFile = path.join(os.tmpdir(), `bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['-r', path.join(__dirname, 'bench', 'maxrss.js'), '-r', 'ts-node/register', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, BENCH_RSS_FILE: rssFile },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${r.stderr}`);
  const maxRssMiB = Number(fs.readFileSync(rssFile, 'utf8')) / 1024;
  fs.rmSync(rssFile, { force: true });
  return { wallMs, maxRssMiB, stdout: r.stdout };
}

// ---------------------------------------------------------------- synth ---

async function benchSynth() {
  const runs: ChildRun[] = [];
  for (let i = 0; i < SYNTH_RUNS; i++) {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-synth-'));
    runs.push(runNode(['main.ts'], { CDK8S_OUTDIR: out }));
    fs.rmSync(out, { recursive: true, force: true });
  }
  return {
    command: 'node -r ts-node/register main.ts (what `npm run synth` runs)',
    runs: runs.length,
    medianWallMs: round(median(runs.map((r) => r.wallMs)), 0),
    minWallMs: round(Math.min(...runs.map((r) => r.wallMs)), 0),
    maxWallMs: round(Math.max(...runs.map((r) => r.wallMs)), 0),
    medianPeakRssMiB: round(median(runs.map((r) => r.maxRssMiB))),
    targetMs: 2000,
  };
}

async function benchScaling() {
  const rows: any[] = [];
  for (const pattern of ['static-site', 'kv-proxy']) {
    for (const n of SCALE_NS) {
      const reps = n >= 1000 ? Math.min(3, SYNTH_RUNS) : SYNTH_RUNS;
      const runs: Array<ChildRun & { objects: number; synthMs: number }> = [];
      for (let i = 0; i < reps; i++) {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-scale-'));
        const r = await step(`synth ${n} × ${pattern} (run ${i + 1}/${reps})`, () =>
          runNode(['scripts/bench/scale-app.ts'], { BENCH_N: String(n), BENCH_PATTERN: pattern, BENCH_OUTDIR: out }),
        );
        fs.rmSync(out, { recursive: true, force: true });
        runs.push({ ...r, ...JSON.parse(r.stdout.trim().split('\n').pop()!) });
      }
      const wall = median(runs.map((r) => r.wallMs));
      const inproc = median(runs.map((r) => r.synthMs));
      rows.push({
        pattern,
        n,
        objects: runs[0].objects,
        runs: reps,
        medianWallMs: round(wall, 0),
        medianSynthMs: round(inproc, 0),
        medianPeakRssMiB: round(median(runs.map((r) => r.maxRssMiB))),
        msPerObject: round(inproc / runs[0].objects, 3),
      });
    }
  }
  return rows;
}

// -------------------------------------------------------------- KvProxy ---

/** The Kubernetes API stand-in in its own process (scripts/bench/api-child.js), driven over IPC. */
class ApiProcess {
  private readonly child: ChildProcess;
  private next = 0;
  private readonly pending = new Map<number, { ok: (v: any) => void; ko: (e: Error) => void }>();
  public url = '';
  constructor() {
    this.child = fork(path.join(__dirname, 'bench', 'api-child.js'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child.on('message', (m: any) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) p?.ko(new Error(m.error));
      else p?.ok(m.result);
    });
  }
  call(op: string, ...args: unknown[]): Promise<any> {
    const id = this.next++;
    return new Promise((ok, ko) => {
      this.pending.set(id, { ok, ko });
      this.child.send({ id, op, args });
    });
  }
  async start() {
    this.url = await this.call('start');
    return this;
  }
  async stop() {
    await this.call('stop');
    await new Promise((r) => (this.child.exitCode !== null ? r(null) : this.child.once('exit', r)));
  }
}

/** The naive relay baseline in its own process. */
async function startNaive(apiUrl: string) {
  const child = spawn(process.execPath, [path.join(__dirname, 'bench', 'naive-child.js'), apiUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line: string = await new Promise((ok) => child.stdout!.once('data', (d) => ok(String(d))));
  return {
    url: JSON.parse(line).url as string,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

const TOKEN = 'bench-read-token-0123456789abcdef';
/** The label that opts a ConfigMap in to writes through the proxy (by default it writes no other). */
const WRITABLE = Object.fromEntries([KV_PROXY_WRITABLE_LABEL.split('=')]);
const WRITE_TOKEN = 'bench-write-token-0123456789abcdef';

async function startProxy(apiUrl: string, extraEnv: Record<string, string> = {}, logFile?: string, server?: string) {
  const tokens = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-tokens-'));
  // stdout to a file, as a container runtime takes it, without loading this process
  const out = logFile ? fs.openSync(logFile, 'w') : 'ignore';
  fs.writeFileSync(path.join(tokens, 'read-tokens'), `${TOKEN}\n`);
  fs.writeFileSync(path.join(tokens, 'write-tokens'), `${WRITE_TOKEN}\n`);
  const port = await freePort(); // reserved, so two benchmark or test processes never pick the same one
  // The node flags the construct runs the proxy with; BENCH_PROXY_NODE_FLAGS (space-separated,
  // may be empty) to try others. BENCH_PROXY_SERVER: another copy of the server (a previous commit's).
  const flags =
    process.env.BENCH_PROXY_NODE_FLAGS !== undefined
      ? process.env.BENCH_PROXY_NODE_FLAGS.split(' ').filter((f) => f !== '')
      : [...KV_PROXY_NODE_FLAGS];
  const child = spawn(
    process.execPath,
    [...flags, server || process.env.BENCH_PROXY_SERVER || path.join(ROOT, 'lib', 'kv-proxy', 'server', 'server.js')],
    {
      env: {
        PATH: process.env.PATH ?? '',
        PORT: String(port),
        KUBE_API_URL: apiUrl,
        KV_NAMESPACES: 'bench',
        KV_TOKENS_DIR: tokens,
        KV_WRITE_ENABLED: 'true',
        ...extraEnv,
      },
      stdio: ['ignore', out, 'pipe'],
    },
  );
  if (typeof out === 'number') fs.closeSync(out);
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`proxy exited: ${stderr}`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`proxy not ready after 15 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      fs.rmSync(tokens, { recursive: true, force: true });
    },
  };
}

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function load(url: string, connections: number, headers: Record<string, string>, seconds = LOAD_SECONDS, request?: Target['request']) {
  const r = await autocannon({ url, connections, duration: seconds, headers, pipelining: 1, ...request });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx + r.errors, total: r.requests.total };
}

async function benchKvProxy() {
  const api = await new ApiProcess().start();
  const data: Record<string, string> = {};
  for (let i = 0; i < 100; i++) data[`key-${String(i).padStart(3, '0')}`] = `value-${i}-${'x'.repeat(32)}`;
  await api.call('setConfigMap', 'bench', 'flags', data);

  const proxy = await startProxy(api.url);
  const naive = await startNaive(api.url);
  const naiveUrl = naive.url;

  const reads: any[] = [];
  try {
    for (const connections of [1, 16, 64]) {
      for (const [label, base, headers] of [
        ['kv-proxy (watch cache)', proxy.url, { authorization: `Bearer ${TOKEN}` }],
        ['naive relay (seed design)', naiveUrl, {}],
      ] as const) {
        const runs = [];
        let apiCalls = 0;
        let gets = 0;
        for (let i = 0; i < LOAD_RUNS; i++) {
          const before = await api.call('countCalls');
          const r = await step(`GET ${label} at ${connections} connection(s) (run ${i + 1}/${LOAD_RUNS})`, () =>
            load(`${base}/kv/bench/flags`, connections, headers),
          );
          apiCalls += (await api.call('countCalls')) - before;
          gets += r.total;
          runs.push(r);
        }
        reads.push({
          server: label,
          connections,
          runs: runs.length,
          medianRps: round(median(runs.map((r) => r.rps)), 0),
          medianP50Ms: median(runs.map((r) => r.p50)),
          medianP99Ms: median(runs.map((r) => r.p99)),
          non2xx: runs.reduce((s, r) => s + r.non2xx, 0),
          apiCallsPer1000Gets: round((apiCalls / Math.max(1, gets)) * 1000, 2),
        });
      }
    }

    // writes: 32 concurrent writers × 50 distinct keys into one ConfigMap
    const writes = await step('32 concurrent writers × 50 keys', async () => {
      // labeled for the proxy: by default it writes only ConfigMaps that carry KV_PROXY_WRITABLE_LABEL
      await api.call('setConfigMap', 'bench', 'writes', {}, WRITABLE);
      await new Promise((r) => setTimeout(r, 300));
      const t = Date.now();
      let errors = 0;
      await Promise.all(
        Array.from({ length: 32 }, async (_, w) => {
          for (let k = 0; k < 50; k++) {
            const res = await fetch(`${proxy.url}/kv/bench/writes/w${w}-k${k}`, {
              method: 'PUT',
              headers: { 'authorization': `Bearer ${WRITE_TOKEN}`, 'content-type': 'text/plain' },
              body: `v${w}-${k}`,
            });
            if (res.status >= 300) errors++;
            await res.arrayBuffer();
          }
        }),
      );
      const seconds = (Date.now() - t) / 1000;
      const stored: number = await api.call('dataKeys', 'bench', 'writes');
      return {
        writers: 32,
        keysPerWriter: 50,
        seconds: round(seconds, 2),
        writesPerSecond: round(1600 / seconds, 0),
        errors,
        keysStored: stored,
        lostKeys: 1600 - stored,
      };
    });

    return { reads, writes };
  } finally {
    await proxy.stop();
    await naive.stop();
    await api.stop();
  }
}

async function benchMemory() {
  const rows = [];
  for (const n of [1, 100, 1000]) {
    const api = await new ApiProcess().start();
    await api.call('seedConfigMaps', 'bench', n, 10, 48);
    const proxy = await step(`proxy RSS with ${n} ConfigMap(s) cached`, () => startProxy(api.url));
    await new Promise((r) => setTimeout(r, 1500));
    const samples = [];
    for (let i = 0; i < 5; i++) {
      samples.push(rssMiB(proxy.pid));
      await new Promise((r) => setTimeout(r, 200));
    }
    rows.push({ configMaps: n, keysEach: 10, medianRssMiB: round(median(samples)) });
    await proxy.stop();
    await api.stop();
  }
  return rows;
}

/** GET throughput at 64 connections by KV_ACCESS_LOG, interleaved runs; stdout to a file. */
async function benchKvLog() {
  const api = await new ApiProcess().start();
  const data: Record<string, string> = {};
  for (let i = 0; i < 100; i++) data[`key-${String(i).padStart(3, '0')}`] = `value-${i}-${'x'.repeat(32)}`;
  await api.call('setConfigMap', 'bench', 'flags', data);
  // "off, again" is the same as "off": how far apart two identical setups land is the noise floor.
  const modes = [
    ['default (errors)', {}],
    ['off', { KV_ACCESS_LOG: 'off' }],
    ['all', { KV_ACCESS_LOG: 'all' }],
    ['off, again', { KV_ACCESS_LOG: 'off' }],
  ] as const;
  const runs = new Map<string, number[]>(modes.map(([m]) => [m, []]));
  // CPU per request is steadier than req/s on a shared machine: both are reported.
  const cpu = new Map<string, number[]>(modes.map(([m]) => [m, []]));
  const logBytes = new Map<string, number>(modes.map(([m]) => [m, 0]));
  const reps = Number(process.env.BENCH_REPS) || (QUICK ? 2 : 5);
  try {
    for (let i = 0; i < reps; i++) {
      for (const [mode, env] of modes) {
        const logFile = path.join(os.tmpdir(), `bench-kv-log-${process.pid}.log`);
        const proxy = await startProxy(api.url, env, logFile);
        try {
          await load(`${proxy.url}/kv/bench/flags`, 64, { authorization: `Bearer ${TOKEN}` }, 1); // warm-up
          const cpuBefore = cpuSeconds(proxy.pid);
          const r = await step(`GET at 64 connections, log ${mode} (run ${i + 1}/${reps})`, () =>
            load(`${proxy.url}/kv/bench/flags`, 64, { authorization: `Bearer ${TOKEN}` }),
          );
          runs.get(mode)!.push(r.rps);
          cpu.get(mode)!.push(((cpuSeconds(proxy.pid) - cpuBefore) * 1e6) / Math.max(1, r.total));
        } finally {
          await proxy.stop();
          logBytes.set(mode, logBytes.get(mode)! + fs.statSync(logFile).size);
          fs.rmSync(logFile, { force: true });
        }
      }
    }
  } finally {
    await api.stop();
  }
  const off = median(runs.get('off')!);
  const offCpu = median(cpu.get('off')!);
  return modes.map(([mode]) => ({
    accessLog: mode,
    runs: reps,
    medianRps: round(median(runs.get(mode)!), 0),
    vsOff: round(median(runs.get(mode)!) / off, 3),
    cpuMicrosPerRequest: round(median(cpu.get(mode)!), 1),
    cpuVsOff: round(median(cpu.get(mode)!) / offCpu, 3),
    logMiBPerRun: round(logBytes.get(mode)! / reps / 2 ** 20, 2),
  }));
}

/** RSS with 1,000 ConfigMaps of 100 keys (about 7.7 KB of JSON each) cached: idle, and after one GET of each. */
async function benchKvMemory() {
  const api = await new ApiProcess().start();
  const configMaps = 1000;
  // key-0 .. key-99 with 64-byte values: about 7.7 KB as JSON
  await api.call('seedConfigMaps', 'bench', configMaps, 100, 64);
  const jsonBytes: number = await api.call('jsonBytes', 'bench', 'cm-0000');
  const proxy = await step(`proxy with ${configMaps} ConfigMaps × 100 keys`, () => startProxy(api.url));
  const sample = async () => {
    const xs = [];
    for (let i = 0; i < 5; i++) {
      xs.push(rssMiB(proxy.pid));
      await new Promise((r) => setTimeout(r, 200));
    }
    return round(median(xs));
  };
  try {
    await new Promise((r) => setTimeout(r, 1500));
    const idle = await sample();
    await step(`GET each of the ${configMaps} ConfigMaps once`, async () => {
      for (let i = 0; i < configMaps; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, async (_, j) => {
            const res = await fetch(`${proxy.url}/kv/bench/cm-${String(i + j).padStart(4, '0')}`, { headers: { authorization: `Bearer ${TOKEN}` } });
            if (res.status !== 200) throw new Error(`GET answered ${res.status}`);
            await res.arrayBuffer();
          }),
        );
      }
    });
    await new Promise((r) => setTimeout(r, 1000));
    const afterGets = await sample();
    // what the proxy says it holds (kv_proxy_memory_bytes)
    const text = await (await fetch(`${proxy.url}/metrics`)).text();
    const kind = (k: string) => round(Number(new RegExp(`^kv_proxy_memory_bytes\\{kind="${k}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20);
    return {
      configMaps,
      keysEach: 100,
      jsonBytesEach: jsonBytes,
      idleRssMiB: idle,
      afterOneGetEachRssMiB: afterGets,
      targetMiB: 80,
      heapUsedMiB: kind('heap_used'),
      heapTotalMiB: kind('heap_total'),
      externalMiB: kind('external'),
    };
  } finally {
    await proxy.stop();
    await api.stop();
  }
}

/**
 * Three replicas against one API server whose watch delivers events on time,
 * then 50 ms late: write through replica A, read through B at once, plain and
 * with ?min-index.
 */
async function benchKvRyw() {
  const rows = [];
  for (const delay of [0, 50]) rows.push(await benchKvRywWith(delay));
  return rows;
}

async function benchKvRywWith(watchDelayMs: number) {
  const api = await new ApiProcess().start();
  await api.call('setConfigMap', 'bench', 'ryw', { v: '0' }, WRITABLE);
  await api.call('setEventDelay', watchDelayMs);
  const replicas = [await startProxy(api.url), await startProxy(api.url), await startProxy(api.url)];
  const n = QUICK ? 50 : 200;
  const latencies: number[] = [];
  const writeLatencies: number[] = [];
  let stalePlain = 0;
  let wrong = 0;
  try {
    await step(`${n} writes through one replica, each read through another (watch ${watchDelayMs} ms late)`, async () => {
      for (let i = 1; i <= n; i++) {
        const [a, b] = [replicas[i % 3], replicas[(i + 1) % 3]];
        const t0 = process.hrtime.bigint();
        const w = await fetch(`${a.url}/kv/bench/ryw/v`, { method: 'PUT', headers: { authorization: `Bearer ${WRITE_TOKEN}` }, body: String(i) });
        await w.arrayBuffer();
        const index = w.headers.get('x-kv-index')!;
        const t1 = process.hrtime.bigint();
        const plain = await (await fetch(`${b.url}/kv/bench/ryw/v`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
        if (plain !== String(i)) stalePlain++;
        const t2 = process.hrtime.bigint();
        const fresh = await (await fetch(`${b.url}/kv/bench/ryw/v?min-index=${index}`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
        const t3 = process.hrtime.bigint();
        if (fresh !== String(i)) wrong++;
        writeLatencies.push(Number(t1 - t0) / 1e6);
        latencies.push(Number(t3 - t2) / 1e6);
      }
    });
  } finally {
    for (const r of replicas) await r.stop();
    await api.stop();
  }
  const p = (xs: number[], q: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
  return {
    replicas: 3,
    writes: n,
    watchDelayMs,
    writeP50Ms: round(median(writeLatencies), 2),
    minIndexReadP50Ms: round(median(latencies), 2),
    minIndexReadP99Ms: round(p(latencies, 0.99), 2),
    plainReadsStale: stalePlain,
    minIndexReadsStale: wrong,
  };
}

/** GET with the read token; resolves with the body text and the ms it took. */
async function timedGet(url: string): Promise<{ ms: number; text: string; status: number; index: string }> {
  const t0 = process.hrtime.bigint();
  const r = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
  const text = await r.text();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, text, status: r.status, index: r.headers.get('x-kv-index') ?? '' };
}

async function blockingReadsHeld(url: string): Promise<void> {
  for (const deadline = Date.now() + 30000; Date.now() < deadline;) {
    const m = /^kv_proxy_blocking_reads_in_flight (\d+)/m.exec(await (await fetch(`${url}/metrics`)).text());
    if (Number(m?.[1] ?? 0) >= 1) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('no blocking read held after 30 s');
}

/**
 * What the tests await instead of timing, measured here as medians: a blocking
 * read woken by a change (from the change's IPC call to the answer), the
 * catch-up after an API outage (from the API's return until the change made
 * meanwhile is served), and on SIGTERM the answer to a blocking read and the exit.
 */
async function benchKvLatency() {
  const n = QUICK ? 5 : 15;
  const api = await new ApiProcess().start();
  await api.call('setConfigMap', 'bench', 'lat', { v: '0' });
  const proxy = await startProxy(api.url);
  const wake: number[] = [];
  const catchUp: number[] = [];
  try {
    await step(`${n} blocking reads woken by a change`, async () => {
      for (let i = 1; i <= n; i++) {
        const { index } = await timedGet(`${proxy.url}/kv/bench/lat`);
        const pending = timedGet(`${proxy.url}/kv/bench/lat/v?index=${index}&wait=60s`);
        await blockingReadsHeld(proxy.url);
        const t0 = process.hrtime.bigint();
        await api.call('setConfigMap', 'bench', 'lat', { v: String(i) });
        const r = await pending;
        if (r.text !== String(i)) throw new Error(`blocking read answered ${r.text}, expected ${i}`);
        wake.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    });
    await step(`${Math.max(3, Math.floor(n / 3))} API outages, each with a change made meanwhile`, async () => {
      for (let i = 1; i <= Math.max(3, Math.floor(n / 3)); i++) {
        await api.call('pause');
        for (const deadline = Date.now() + 30000; ;) {
          const r = await fetch(`${proxy.url}/kv/bench/lat`, { headers: { authorization: `Bearer ${TOKEN}` } });
          await r.arrayBuffer();
          if (r.headers.get('x-kv-stale') === 'true') break;
          if (Date.now() > deadline) throw new Error('the proxy never noticed the outage');
          await new Promise((res) => setTimeout(res, 20));
        }
        await api.call('setConfigMap', 'bench', 'lat', { v: `outage-${i}` });
        const t0 = process.hrtime.bigint();
        await api.call('resume');
        for (const deadline = Date.now() + 60000; ;) {
          if ((await timedGet(`${proxy.url}/kv/bench/lat/v`)).text === `outage-${i}`) break;
          if (Date.now() > deadline) throw new Error('the proxy did not catch up in 60 s');
          await new Promise((res) => setTimeout(res, 5));
        }
        catchUp.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    });
  } finally {
    await proxy.stop();
  }
  const answerOnTerm: number[] = [];
  const exitOnTerm: number[] = [];
  try {
    await step(`${Math.max(3, Math.floor(n / 3))} SIGTERMs with a blocking read held`, async () => {
      for (let i = 0; i < Math.max(3, Math.floor(n / 3)); i++) {
        const p = await startProxy(api.url);
        const { index } = await timedGet(`${p.url}/kv/bench/lat`);
        const pending = timedGet(`${p.url}/kv/bench/lat?index=${index}&wait=60s`);
        await blockingReadsHeld(p.url);
        const t0 = process.hrtime.bigint();
        const exited = p.stop().then(() => Number(process.hrtime.bigint() - t0) / 1e6);
        await pending;
        answerOnTerm.push(Number(process.hrtime.bigint() - t0) / 1e6);
        exitOnTerm.push(await exited);
      }
    });
  } finally {
    await api.stop();
  }
  const max = (xs: number[]) => round(Math.max(...xs), 1);
  return [
    { what: 'blocking read woken by a change', runs: wake.length, medianMs: round(median(wake), 1), maxMs: max(wake) },
    { what: 'catch-up after an API outage', runs: catchUp.length, medianMs: round(median(catchUp), 1), maxMs: max(catchUp) },
    { what: 'SIGTERM: blocking read answered', runs: answerOnTerm.length, medianMs: round(median(answerOnTerm), 1), maxMs: max(answerOnTerm) },
    { what: 'SIGTERM: process exited', runs: exitOnTerm.length, medianMs: round(median(exitOnTerm), 1), maxMs: max(exitOnTerm) },
  ];
}

/** A bare Node http server answering every request with this body and these headers (scripts/bench/bare-child.js). */
async function startBare(body: Buffer, headers: Record<string, string>) {
  const file = path.join(os.tmpdir(), `bench-bare-${process.pid}.body`);
  fs.writeFileSync(file, body);
  const child = spawn(process.execPath, [path.join(__dirname, 'bench', 'bare-child.js'), file, JSON.stringify(headers)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line: string = await new Promise((ok) => child.stdout!.once('data', (d) => ok(String(d))));
  return {
    url: JSON.parse(line).url as string,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      fs.rmSync(file, { force: true });
    },
  };
}

/**
 * GET of a 100-key ConfigMap at 64 connections: KvProxy beside a bare Node http
 * server answering the same bytes (the ceiling), the seed's Flask proxy and etcd's
 * v3 JSON gateway answering the same data (./bench/anchors.ts), and beside BENCH_PROXY_BASELINE
 * (other copies of server.js, comma-separated) when given; interleaved runs, medians.
 */
async function benchKvCeiling() {
  const loadBefore = round(os.loadavg()[0], 2); // other work on the machine: the figures compare only within one run
  const api = await new ApiProcess().start();
  const data: Record<string, string> = {};
  for (let i = 0; i < 100; i++) data[`key-${String(i).padStart(3, '0')}`] = `value-${i}-${'x'.repeat(32)}`;
  await api.call('setConfigMap', 'bench', 'flags', data);
  const proxy = await startProxy(api.url);
  const baselineServers = (process.env.BENCH_PROXY_BASELINE ?? '').split(',').filter((x) => x !== '');
  const baselines = [];
  for (const server of baselineServers) baselines.push({ server, ...(await startProxy(api.url, {}, undefined, server)) });
  // the same bytes: the body and every header the proxy answers, but Date, Connection and Keep-Alive (Node adds those)
  const sample = await fetch(`${proxy.url}/kv/bench/flags`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = Buffer.from(await sample.arrayBuffer());
  const headers: Record<string, string> = {};
  sample.headers.forEach((v, k) => {
    if (!['date', 'connection', 'keep-alive'].includes(k)) headers[k] = v;
  });
  const bare = await startBare(body, headers);
  const anchors: Anchor[] = [];
  const auth = { authorization: `Bearer ${TOKEN}` };
  const kvPath = '/kv/bench/flags';
  const servers: Target[] = [
    { label: 'bare node http (same bytes)', url: bare.url + kvPath, headers: {}, pid: bare.pid, bodyBytes: body.length },
    { label: 'kv-proxy', url: proxy.url + kvPath, headers: auth, pid: proxy.pid, bodyBytes: body.length },
    ...baselines.map((b) => ({ label: `baseline ${b.server}`, url: b.url + kvPath, headers: auth, pid: b.pid, bodyBytes: body.length })),
  ];
  const reps = Number(process.env.BENCH_REPS) || (QUICK ? 2 : 5);
  const runs = new Map<string, Array<{ rps: number; p50: number; p99: number; non2xx: number; cpuMicros: number }>>();
  try {
    // the seed's proxy and etcd's gateway, answering the same data (./bench/anchors.ts)
    anchors.push(await step("start the seed's Flask app.py", () => startSeed(api.url, 'bench', 'flags', body)));
    anchors.push(await step('start etcd', () => startEtcdGateway(kvPath, body)));
    servers.push(...anchors);
    for (const s of servers) runs.set(s.label, []);
    for (let i = 0; i < reps; i++) {
      // a different server first in every round: no server always follows the same one
      const order = servers.map((_, k) => servers[(k + i) % servers.length]);
      for (const { label, url, headers: h, pid, request, load: ownLoad } of order) {
        const run = (seconds: number) => ownLoad?.(64, seconds) ?? load(url, 64, h, seconds, request);
        await run(1); // warm-up
        const cpuBefore = cpuSeconds(pid);
        const r = await step(`${request?.method ?? 'GET'} ${label} at 64 connections (run ${i + 1}/${reps})`, () => run(LOAD_SECONDS));
        // CPU per request is steadier than req/s on a shared machine: both are reported
        runs.get(label)!.push({ ...r, cpuMicros: ((cpuSeconds(pid) - cpuBefore) * 1e6) / Math.max(1, r.total) });
      }
    }
  } finally {
    await proxy.stop();
    for (const b of baselines) await b.stop();
    await bare.stop();
    for (const a of anchors) await a.stop();
    await api.stop();
  }
  const bareRps = median(runs.get(servers[0].label)!.map((r) => r.rps));
  const bareCpu = median(runs.get(servers[0].label)!.map((r) => r.cpuMicros));
  const kvRps = median(runs.get('kv-proxy')!.map((r) => r.rps));
  const rows = servers.map(({ label, bodyBytes }) => {
    const rs = runs.get(label)!;
    const rps = median(rs.map((r) => r.rps));
    return {
      server: label,
      runs: rs.length,
      bodyBytes,
      medianRps: round(rps, 0),
      vsBare: round(rps / bareRps, 3),
      kvProxyOver: round(kvRps / rps, 2),
      medianP50Ms: round(median(rs.map((r) => r.p50))),
      medianP99Ms: round(median(rs.map((r) => r.p99))),
      non2xx: rs.reduce((s, r) => s + r.non2xx, 0),
      cpuMicrosPerRequest: round(median(rs.map((r) => r.cpuMicros)), 1),
      cpuVsBare: round(median(rs.map((r) => r.cpuMicros)) / bareCpu, 3),
    };
  });
  const ratios = kvProxyRatios(rows, servers[0].label, anchors);
  const loadAverage1m = { before: loadBefore, after: round(os.loadavg()[0], 2) };
  return { bodyBytes: body.length, rows, ratios, loadAverage1m, anchors: Object.fromEntries(anchors.map((a) => [a.label, a.notes])) };
}

// ----------------------------------------------------------------- main ---

/**
 * One key of a 100-key ConfigMap, read the native way (GET /kv/<ns>/<cm>/<key>, text) and
 * Consul's way (GET /v1/kv/<ns>/<cm>/<key>: JSON with base64 Value; and ?raw), from one
 * proxy, at 1 and 64 connections, runs interleaved so load drifts hit all three alike.
 */
async function benchKvConsul() {
  const api = await new ApiProcess().start();
  const data: Record<string, string> = {};
  for (let i = 0; i < 100; i++) data[`key-${String(i).padStart(3, '0')}`] = `value-${i}-${'x'.repeat(32)}`;
  await api.call('setConfigMap', 'bench', 'flags', data);
  const proxy = await startProxy(api.url);
  const ways = [
    ['native GET /kv/bench/flags/key-042', `${proxy.url}/kv/bench/flags/key-042`, { authorization: `Bearer ${TOKEN}` }],
    ['Consul GET /v1/kv/bench/flags/key-042', `${proxy.url}/v1/kv/bench/flags/key-042`, { 'x-consul-token': TOKEN }],
    ['Consul GET /v1/kv/bench/flags/key-042?raw', `${proxy.url}/v1/kv/bench/flags/key-042?raw`, { 'x-consul-token': TOKEN }],
  ] as const;
  const reps = Number(process.env.BENCH_REPS) || (QUICK ? 2 : 5);
  const rows = [];
  try {
    for (const connections of [1, 64]) {
      const runs = new Map<string, Array<{ rps: number; p50: number; p99: number; cpu: number; non2xx: number }>>(ways.map(([w]) => [w, []]));
      for (let i = 0; i < reps; i++) {
        for (const [way, url, headers] of ways) {
          await load(url, connections, headers, 1); // warm-up
          const cpuBefore = cpuSeconds(proxy.pid);
          const r = await step(`${way} at ${connections} connection(s) (run ${i + 1}/${reps})`, () => load(url, connections, headers));
          runs.get(way)!.push({ ...r, cpu: ((cpuSeconds(proxy.pid) - cpuBefore) * 1e6) / Math.max(1, r.total) });
        }
      }
      const nativeRps = median(runs.get(ways[0][0])!.map((r) => r.rps));
      const nativeCpu = median(runs.get(ways[0][0])!.map((r) => r.cpu));
      for (const [way] of ways) {
        const rs = runs.get(way)!;
        rows.push({
          read: way,
          connections,
          runs: rs.length,
          medianRps: round(median(rs.map((r) => r.rps)), 0),
          vsNative: round(median(rs.map((r) => r.rps)) / nativeRps, 3),
          medianP50Ms: median(rs.map((r) => r.p50)),
          medianP99Ms: median(rs.map((r) => r.p99)),
          cpuMicrosPerRequest: round(median(rs.map((r) => r.cpu)), 1),
          cpuVsNative: round(median(rs.map((r) => r.cpu)) / nativeCpu, 3),
          non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
        });
      }
    }
  } finally {
    await proxy.stop();
    await api.stop();
  }
  return rows;
}

async function main() {
  const machine = {
    date: new Date().toISOString().slice(0, 10),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? '?',
    memoryGiB: round(os.totalmem() / 2 ** 30),
    node: process.version,
    quick: QUICK,
  };
  const synth = wanted('synth') ? await step('whole-app synth', benchSynth) : undefined;
  const pkg = wanted('package')
    ? await step('synth from the packed tarball', () => benchPackageSynth(SYNTH_RUNS, (m) => process.stderr.write(`[bench] package: ${m}\n`)))
    : undefined;
  const scaling = wanted('scaling') ? await step('synth scaling', benchScaling) : undefined;
  const kv = wanted('kv') ? await step('KvProxy reads and writes', benchKvProxy) : undefined;
  const memory = wanted('memory') ? await step('KvProxy memory', benchMemory) : undefined;
  const accessLog = wanted('kv-log') ? await step('KvProxy GET throughput by access log mode', benchKvLog) : undefined;
  const memory100 = wanted('kv-memory') ? await step('KvProxy RSS with 1,000 ConfigMaps of 100 keys', benchKvMemory) : undefined;
  const readYourWrites = wanted('kv-ryw') ? await step('KvProxy read-your-writes across three replicas', benchKvRyw) : undefined;
  const latency = wanted('kv-latency') ? await step('KvProxy latencies the tests await', benchKvLatency) : undefined;
  const ceiling = wanted('kv-ceiling') ? await step('KvProxy GET beside a bare Node http server', benchKvCeiling) : undefined;
  const consul = wanted('kv-consul') ? await step('KvProxy one key: native GET vs Consul GET', benchKvConsul) : undefined;
  const report = {
    machine,
    synth,
    package: pkg,
    scaling,
    kvProxy: { ...kv, memory, accessLog, memory100, readYourWrites, latency, ceiling, consul },
  };

  const out: string[] = [];
  out.push(
    `cdk8s-patterns benchmark, ${machine.date}, ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ` +
      `node ${machine.node}${QUICK ? ' (quick)' : ''}${ONLY.length ? ` (only ${ONLY.join(', ')})` : ''}`,
  );
  if (synth) {
    out.push(
      table(
        'Whole-app synth (target ≤ 2000 ms median)',
        ['runs', 'median ms', 'min ms', 'max ms', 'peak RSS MiB'],
        [[synth.runs, synth.medianWallMs, synth.minWallMs, synth.maxWallMs, synth.medianPeakRssMiB]],
      ),
    );
  }
  if (pkg) {
    out.push(
      table(
        `Synth as a library user runs it (tarball ${round(pkg.tarballBytes / 1024)} kB, ${pkg.tarballFiles} files; interleaved runs)`,
        ['app', 'command', 'runs', 'median ms', 'min ms', 'max ms'],
        pkg.timings.map((t) => [t.what, t.command, t.runs, t.medianMs, t.minMs, t.maxMs]),
      ),
    );
  }
  if (scaling) {
    out.push(
      table(
        'Synth scaling (wall includes node start-up; target 1,000 StaticSites ≤ 10 s)',
        ['pattern', 'N', 'objects', 'runs', 'median wall ms', 'median synth ms', 'peak RSS MiB', 'ms/object'],
        scaling.map((r: any) => [r.pattern, r.n, r.objects, r.runs, r.medianWallMs, r.medianSynthMs, r.medianPeakRssMiB, r.msPerObject]),
      ),
    );
  }
  if (kv) {
    out.push(
      table(
        `KvProxy GET of a 100-key ConfigMap, ${LOAD_SECONDS} s per run (targets: ≥ 10,000 req/s at 64 connections, p99 ` +
          `≤ 5 ms, ≤ 1 API call per 1,000 GETs)`,
        ['server', 'connections', 'runs', 'median req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'API calls / 1,000 GETs'],
        kv.reads.map((r: any) => [r.server, r.connections, r.runs, r.medianRps, r.medianP50Ms, r.medianP99Ms, r.non2xx, r.apiCallsPer1000Gets]),
      ),
    );
    const ratios = [1, 16, 64].map((c) => {
      const a = kv.reads.find((r: any) => r.connections === c && r.server.startsWith('kv-proxy'));
      const b = kv.reads.find((r: any) => r.connections === c && r.server.startsWith('naive'));
      return [c, round(a.medianRps / Math.max(1, b.medianRps), 2), b.apiCallsPer1000Gets, a.apiCallsPer1000Gets];
    });
    out.push(table('KvProxy vs naive relay', ['connections', 'throughput ratio', 'naive API calls / 1,000', 'kv-proxy API calls / 1,000'], ratios));
    out.push(
      table(
        'Writes: 32 concurrent writers × 50 distinct keys into one ConfigMap (lost keys must be 0)',
        ['seconds', 'writes/s', 'errors', 'keys stored', 'lost keys'],
        [[kv.writes.seconds, kv.writes.writesPerSecond, kv.writes.errors, kv.writes.keysStored, kv.writes.lostKeys]],
      ),
    );
  }
  if (memory) {
    out.push(
      table(
        'KvProxy RSS (target ≤ 64 MiB with 1,000 ConfigMaps)',
        ['ConfigMaps cached', 'keys each', 'median RSS MiB'],
        memory.map((r) => [r.configMaps, r.keysEach, r.medianRssMiB]),
      ),
    );
  }
  if (accessLog) {
    out.push(
      table(
        `KvProxy GET at 64 connections by KV_ACCESS_LOG, ${LOAD_SECONDS} s per run, interleaved (target: default costs ≤ 5% vs off)`,
        ['KV_ACCESS_LOG', 'runs', 'median req/s', 'req/s vs off', 'proxy CPU µs/request', 'CPU vs off', 'log MiB per run'],
        accessLog.map((r) => [r.accessLog, r.runs, r.medianRps, r.vsOff, r.cpuMicrosPerRequest, r.cpuVsOff, r.logMiBPerRun]),
      ),
    );
  }
  if (memory100) {
    out.push(
      table(
        'KvProxy RSS with 1,000 ConfigMaps of 100 keys cached (target ≤ 80 MiB after one GET of each)',
        ['ConfigMaps', 'keys each', 'JSON bytes each', 'idle RSS MiB', 'after one GET each MiB', 'heap used / total MiB', 'external MiB'],
        [
          [
            memory100.configMaps,
            memory100.keysEach,
            memory100.jsonBytesEach,
            memory100.idleRssMiB,
            memory100.afterOneGetEachRssMiB,
            `${memory100.heapUsedMiB} / ${memory100.heapTotalMiB}`,
            memory100.externalMiB,
          ],
        ],
      ),
    );
  }
  if (readYourWrites) {
    out.push(
      table(
        'Read-your-writes: 3 replicas, one API server; write through one, read at once through another',
        ['watch delay ms', 'writes', 'write p50 ms', 'min-index read p50 ms', 'p99 ms', 'plain reads stale', 'min-index reads stale'],
        readYourWrites.map((r) => [
          r.watchDelayMs,
          r.writes,
          r.writeP50Ms,
          r.minIndexReadP50Ms,
          r.minIndexReadP99Ms,
          r.plainReadsStale,
          r.minIndexReadsStale,
        ]),
      ),
    );
  }
  if (latency) {
    out.push(
      table(
        'KvProxy latencies the tests await instead of asserting (stand-in API in its own process)',
        ['what', 'runs', 'median ms', 'max ms'],
        latency.map((r) => [r.what, r.runs, r.medianMs, r.maxMs]),
      ),
    );
  }
  if (ceiling) {
    out.push(
      table(
        `KvProxy GET of a 100-key ConfigMap (${ceiling.bodyBytes} bytes) at 64 connections beside a bare Node http ` +
          `server answering the same bytes, ${LOAD_SECONDS} s per run, interleaved (target: ≥ 0.8 × bare)`,
        [
          'server',
          'runs',
          'body bytes',
          'median req/s',
          'vs bare',
          'kv-proxy ÷ this',
          'p50 ms',
          'p99 ms',
          'non-2xx',
          'server CPU µs/request',
          'CPU vs bare',
        ],
        ceiling.rows.map((r) => [
          r.server,
          r.runs,
          r.bodyBytes,
          r.medianRps,
          r.vsBare,
          r.kvProxyOver,
          r.medianP50Ms,
          r.medianP99Ms,
          r.non2xx,
          r.cpuMicrosPerRequest,
          r.cpuVsBare,
        ]),
      ),
    );
    const { kvProxyOverBare, kvProxyOverSeed, kvProxyOverEtcdGateway } = ceiling.ratios;
    const { before, after } = ceiling.loadAverage1m;
    out.push(
      `\nKvProxy req/s over: bare Node ${kvProxyOverBare}, the seed ${kvProxyOverSeed}, etcd's gateway ${kvProxyOverEtcdGateway}` +
        ` (medians, same run; load average ${before} before, ${after} after, on ${machine.cpus} CPUs)`,
    );
    for (const [label, notes] of Object.entries(ceiling.anchors)) out.push(...notes.map((n) => `${label}: ${n}`));
  }
  if (consul) {
    out.push(
      table(
        `KvProxy GET of one key: native vs Consul API, ${LOAD_SECONDS} s per run, interleaved (target: Consul no slower than native)`,
        ['read', 'connections', 'runs', 'median req/s', 'req/s vs native', 'p50 ms', 'p99 ms', 'proxy CPU µs/request', 'CPU vs native', 'non-2xx'],
        consul.map((r) => [
          r.read,
          r.connections,
          r.runs,
          r.medianRps,
          r.vsNative,
          r.medianP50Ms,
          r.medianP99Ms,
          r.cpuMicrosPerRequest,
          r.cpuVsNative,
          r.non2xx,
        ]),
      ),
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);

  if (ONLY.length > 0) return;
  const dir = path.join(ROOT, 'bench');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'latest.md'), `${out.join('\n')}\n`);
  process.stderr.write(`[bench] report written to bench/latest.json and bench/latest.md in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e.stack ?? e}\n`);
  process.exitCode = 1;
});
