/**
 * `npm run bench` part "kv-ceiling": the two anchors KvProxy's GET is compared with in the same run,
 * beside the bare Node server, each answering the same ConfigMap data:
 *  - the seed's proxy as written: the Flask `app.py` listing of the KV seed document
 *    (../shared/seeds/004_*.txt), extracted from the document at bench time and run with Debian's
 *    python3, python3-flask and python3-kubernetes (scripts/install-system-deps.sh) against the
 *    bench's Kubernetes API stand-in, through a kubeconfig in KUBECONFIG (outside a cluster the seed
 *    falls back to load_kube_config()). The one change: its port, see seedChanges;
 *  - etcd's v3 JSON gateway: a throw-away etcd (the binary scripts/kube/build.sh builds and caches)
 *    holding the KvProxy's answer under one key, read with `POST /v3/kv/range`.
 * Each anchor checks once, before any load, that it answers the same data as the KvProxy.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { binary, freePort, releasePort } from '../../lib/verify/cluster';

const ROOT = path.join(__dirname, '..', '..');
/** Where the seed documents are: BENCH_SEEDS_DIR, else ../shared/seeds beside the repository. */
const SEEDS_DIR = process.env.BENCH_SEEDS_DIR || path.join(ROOT, '..', 'shared', 'seeds');
/** The KV seed document (the one with the Flask/Web version of the ConfigMap proxy). */
const SEED_DOC_PREFIX = '004_';
/** The first line of the seed's Flask listing, app.py. */
const SEED_APP_START = 'from flask import Flask, request, jsonify';
/** Debian's interpreter, where python3-flask and python3-kubernetes are installed (not a pyenv or venv python3). */
const PYTHON = '/usr/bin/python3';

/** One server of the kv-ceiling part: the URL loaded, how, and the process whose CPU is counted. */
export interface Target {
  readonly label: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  /** The process that serves: its CPU per request is reported. */
  readonly pid: number;
  /** POST and its body, for etcd's gateway; GET otherwise. */
  readonly request?: { readonly method: 'POST'; readonly body: string };
  /** Bytes of one answer's body. */
  readonly bodyBytes: number;
  /** Its own load generator, for a server autocannon cannot measure (see loadNewConnectionEach); autocannon otherwise. */
  readonly load?: (connections: number, seconds: number) => Promise<LoadResult>;
}

/** What one load run measured, the shape bench.ts takes from autocannon. */
export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  total: number;
}

export interface Anchor extends Target {
  /** What runs and what was changed to run it, for the report. */
  readonly notes: string[];
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * GET `url` over `connections` concurrent loops for `seconds`, a new connection per request, for a server
 * that closes every connection after one answer (`Connection: close`, as Werkzeug's development server
 * does). autocannon writes its next request on the closing connection, sends it again on a new one and
 * then pairs answers with older requests, so its latencies for such a server grow through the run (its
 * count of answers is right). Here every latency is one request's, send to last byte; errors count as non-2xx.
 */
export async function loadNewConnectionEach(url: string, connections: number, seconds: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let non2xx = 0;
  const once = () =>
    new Promise<void>((resolve) => {
      const t = process.hrtime.bigint();
      const fail = () => {
        non2xx++;
        resolve();
      };
      const req = http.get(url, { agent: false }, (res) => {
        res.on('data', () => {
          /* drained */
        });
        res.on('error', fail);
        res.on('end', () => {
          if (res.statusCode === 200) latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
          else non2xx++;
          resolve();
        });
      });
      req.setTimeout(10000, () => req.destroy(new Error('timeout')));
      req.on('error', fail);
    });
  const t0 = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) await once();
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const sorted = latencies.sort((a, b) => a - b);
  const q = (p: number) => (sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] * 10) / 10 : NaN);
  return { rps: latencies.length / elapsed, p50: q(0.5), p99: q(0.99), non2xx, total: latencies.length + non2xx };
}

/** The seed's Flask app.py: the one ```python block of the KV seed document that starts with the Flask import. */
export function extractSeedApp(document: string): string {
  const blocks = [...document.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => b.startsWith(SEED_APP_START));
  if (blocks.length !== 1) {
    throw new Error(`seed document: expected one \`\`\`python block starting with "${SEED_APP_START}", found ${blocks.length}`);
  }
  return blocks[0];
}

/** The KV seed document's path and text. */
export function readSeedDocument(): { file: string; text: string } {
  const names = fs.existsSync(SEEDS_DIR) ? fs.readdirSync(SEEDS_DIR).filter((n) => n.startsWith(SEED_DOC_PREFIX)) : [];
  if (names.length !== 1) throw new Error(`expected one ${SEED_DOC_PREFIX}*.txt in ${SEEDS_DIR} (set BENCH_SEEDS_DIR), found ${names.length}`);
  const file = path.join(SEEDS_DIR, names[0]);
  return { file, text: fs.readFileSync(file, 'utf8') };
}

/**
 * The seed's app with its port replaced, the only change: it is written for port 5001, which another
 * run of this benchmark or any other program may hold; a port reserved with freePort cannot clash.
 * Everything else (debug=True and so Werkzeug's reloader and debugger, host 0.0.0.0) runs as written.
 */
export function seedChanges(app: string, port: number): { source: string; changes: string[] } {
  const written = 'port=5001';
  const count = app.split(written).length - 1;
  if (count !== 1) throw new Error(`seed app.py: expected "${written}" once, found it ${count} times`);
  return { source: app.replace(written, `port=${port}`), changes: [`"${written}" -> "port=${port}" (a free port reserved by the bench)`] };
}

function processExited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** SIGTERM to the child's process group (a reloader and its server), SIGKILL after 5 s. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = processExited(child);
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      /* gone */
    }
  };
  kill('SIGTERM');
  const timer = setTimeout(() => kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
  kill('SIGKILL'); // a server child the reloader left behind
}

function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Waits until `probe` answers true; fails with the log when the process exits or after `timeoutMs`. */
async function waitFor(child: ChildProcess, log: string, what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}):\n${tail(log)}`);
    }
    try {
      if (await probe()) return;
    } catch (e) {
      last = String((e as Error).message);
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs / 1000} s (${last}):\n${tail(log)}`);
    await sleep(200);
  }
}

/** The one child of `pid` (Werkzeug's reloader runs the server in a child), else `pid` itself. */
function servingPid(pid: number): number {
  try {
    const children = fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter((x) => x !== '');
    return children.length === 1 ? Number(children[0]) : pid;
  } catch {
    return pid;
  }
}

/**
 * The seed's Flask app as written (but its port), reading ConfigMap `namespace/name` from the Kubernetes
 * API at `apiUrl`; `expected` is the KvProxy's answer for it, which the seed's must equal as JSON.
 */
export async function startSeed(apiUrl: string, namespace: string, name: string, expected: Buffer): Promise<Anchor> {
  const probe = spawnSync(PYTHON, ['-c', 'import flask, kubernetes'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    throw new Error(
      `${PYTHON} cannot run the seed (it needs python3-flask and python3-kubernetes): ` +
        `run \`bash scripts/install-system-deps.sh\`\n${probe.stderr ?? probe.error}`,
    );
  }
  const doc = readSeedDocument();
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-seed-'));
  const { source, changes } = seedChanges(extractSeedApp(doc.text), port);
  fs.writeFileSync(path.join(dir, 'app.py'), source);
  const kubeconfig = path.join(dir, 'kubeconfig');
  fs.writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: bench',
      '  cluster:',
      `    server: ${apiUrl}`,
      'users:',
      '- name: bench',
      '  user: {}',
      'contexts:',
      '- name: bench',
      '  context: {cluster: bench, user: bench}',
      'current-context: bench',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const log = path.join(dir, 'app.log');
  const fd = fs.openSync(log, 'a');
  // no KUBERNETES_SERVICE_HOST: load_incluster_config() fails and the seed loads KUBECONFIG, as it does outside a cluster
  const child = spawn(PYTHON, ['app.py'], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { PATH: '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', KUBECONFIG: kubeconfig, PYTHONDONTWRITEBYTECODE: '1' },
  });
  fs.closeSync(fd);
  const url = `http://127.0.0.1:${port}/kv/${namespace}/${name}`;
  const stop = async () => {
    await stopGroup(child);
    releasePort(port);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    let body = Buffer.alloc(0);
    let closes = false;
    await waitFor(
      child,
      log,
      'the seed app.py',
      async () => {
        const r = await fetch(url);
        body = Buffer.from(await r.arrayBuffer());
        closes = r.headers.get('connection') === 'close';
        if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${body.subarray(0, 200)}`);
        return true;
      },
      60000,
    );
    if (!isDeepStrictEqual(JSON.parse(body.toString('utf8')), JSON.parse(expected.toString('utf8')))) {
      throw new Error(`the seed's GET ${url} answers other data than the KvProxy: ${body.subarray(0, 200)}`);
    }
    return {
      label: 'seed app.py (Flask, as written)',
      url,
      headers: {},
      pid: servingPid(child.pid!),
      bodyBytes: body.length,
      stop,
      load: closes ? (connections, seconds) => loadNewConnectionEach(url, connections, seconds) : undefined,
      notes: [
        `${path.relative(ROOT, doc.file)}: the \`\`\`python block starting "${SEED_APP_START}", run by ${PYTHON} with Debian's ` +
          "python3-flask and python3-kubernetes, KUBECONFIG pointing at the bench's Kubernetes API stand-in (one API GET per request)",
        ...changes.map((c) => `changed at extraction: ${c}`),
        ...(closes
          ? [
              'it answers "Connection: close" (no keep-alive): loaded with a new connection per request (loadNewConnectionEach), ' +
                'as autocannon mismatches answers and requests then',
            ]
          : []),
      ],
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function postJson(url: string, body: unknown): Promise<{ status: number; text: string }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, text: await r.text() };
}

/** A throw-away etcd holding `value` under `key`, loaded through its v3 JSON gateway: `POST /v3/kv/range`. */
export async function startEtcdGateway(key: string, value: Buffer): Promise<Anchor> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-etcd-'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${clientPort}`;
  // a name of its own, so the readiness check knows it reached this etcd and not another one on a reused port
  const etcdName = `bench-${crypto.randomBytes(6).toString('hex')}`;
  const log = path.join(dir, 'etcd.log');
  const fd = fs.openSync(log, 'a');
  const child = spawn(
    binary('etcd'),
    [
      `--name=${etcdName}`,
      `--data-dir=${path.join(dir, 'data')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=${etcdName}=http://127.0.0.1:${peerPort}`,
      '--initial-cluster-state=new',
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    { detached: true, stdio: ['ignore', fd, fd], env: { PATH: '/usr/bin:/bin', HOME: dir } },
  );
  fs.closeSync(fd);
  const stop = async () => {
    await stopGroup(child);
    releasePort(clientPort);
    releasePort(peerPort);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      child,
      log,
      'etcd',
      async () => {
        const members = await postJson(`${etcdUrl}/v3/cluster/member/list`, {});
        return members.status === 200 && (JSON.parse(members.text).members ?? []).some((m: { name?: string }) => m.name === etcdName);
      },
      60000,
    );
    const b64Key = Buffer.from(key).toString('base64');
    const put = await postJson(`${etcdUrl}/v3/kv/put`, { key: b64Key, value: value.toString('base64') });
    if (put.status !== 200) throw new Error(`etcd put ${key}: ${put.status} ${put.text}`);
    const range = await postJson(`${etcdUrl}/v3/kv/range`, { key: b64Key });
    const kvs = range.status === 200 ? (JSON.parse(range.text).kvs ?? []) : [];
    if (kvs.length !== 1 || !Buffer.from(kvs[0].value, 'base64').equals(value)) {
      throw new Error(`etcd range ${key} does not answer the value put: ${range.status} ${range.text.slice(0, 200)}`);
    }
    return {
      label: 'etcd v3 JSON gateway (POST /v3/kv/range)',
      url: `${etcdUrl}/v3/kv/range`,
      headers: { 'content-type': 'application/json' },
      request: { method: 'POST', body: JSON.stringify({ key: b64Key }) },
      pid: child.pid!,
      bodyBytes: Buffer.byteLength(range.text),
      stop,
      notes: [`etcd ${etcdVersion()} (${binary('etcd')}), --unsafe-no-fsync, the KvProxy's answer (${value.length} bytes) under key ${key}`],
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

function etcdVersion(): string {
  const r = spawnSync(binary('etcd'), ['--version'], { encoding: 'utf8' });
  return /etcd Version: (\S+)/.exec(r.stdout ?? '')?.[1] ?? '?';
}

/**
 * KvProxy's median req/s over each other server's (the rows' kvProxyOver): the ratios to the bare Node
 * server (the ceiling), the seed and etcd's gateway, all from the same interleaved run.
 */
export function kvProxyRatios(rows: ReadonlyArray<{ server: string; kvProxyOver: number }>, bare: string, anchors: Anchor[]) {
  const over = (label: string | undefined) => rows.find((r) => r.server === label)?.kvProxyOver ?? null;
  return {
    kvProxyOverBare: over(bare),
    kvProxyOverSeed: over(anchors.find((a) => a.label.startsWith('seed'))?.label),
    kvProxyOverEtcdGateway: over(anchors.find((a) => a.label.startsWith('etcd'))?.label),
  };
}
