import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeKubeApi, PermissionRule } from './fake-kube-api';
import { kvProxyRules } from '../../lib/kv-proxy';

// Test harness for the kv-proxy runtime, run as it runs in the pod: `node server.js`
// with env, against a stand-in Kubernetes API, spoken to over real HTTP.

// KV_PROXY_TEST_SERVER runs the same tests against another copy of the server
// (e.g. the previous commit's, to see a new test fail before its fix).
export const SERVER = process.env.KV_PROXY_TEST_SERVER || path.join(__dirname, '..', '..', 'lib', 'kv-proxy', 'server', 'server.js');
export const READ_TOKEN = 'read-token-3f9a1c';
export const WRITE_TOKEN = 'write-token-7be04d';
export const SA_TOKEN = 'service-account-token-91ac';
export const METRICS_TOKEN = 'metrics-token-5c2e80';

export const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

export interface CallOptions {
  body?: string | Buffer;
  token?: string;
  headers?: Record<string, string>;
}

export function call(method: string, url: string, options: CallOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(options.body));
    // Send the path exactly as given: new URL() would resolve "%2e%2e" and "..".
    const m = /^http:\/\/([^/:]+):(\d+)(\/.*)$/.exec(url);
    if (!m) throw new Error(`bad test url ${url}`);
    const req = http.request({ hostname: m[1], port: Number(m[2]), path: m[3], method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode || 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

export const get = (url: string, token = READ_TOKEN, headers: Record<string, string> = {}) => call('GET', url, { token, headers });
export const post = (url: string, body: unknown, token = WRITE_TOKEN, headers: Record<string, string> = {}) =>
  call('POST', url, {
    token,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', ...headers },
  });
export const put = (url: string, body: string | Buffer, token = WRITE_TOKEN, headers: Record<string, string> = {}) =>
  call('PUT', url, { token, body, headers: { 'Content-Type': 'text/plain', ...headers } });
export const del = (url: string, token = WRITE_TOKEN, headers: Record<string, string> = {}) => call('DELETE', url, { token, headers });

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it gives a value. The bound is generous (30 s: a busy
 * 2-core machine, not a claim about speed); a hang fails with what was awaited.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** One sample of a counter or gauge from the proxy's /metrics (0 when absent); `labels` as written, e.g. `resource="configmaps",type="MODIFIED"`. */
export async function metricValue(url: string, name: string, labels = ''): Promise<number> {
  const text = (await call('GET', `${url}/metrics`)).text;
  const line = text.split('\n').find((l) => l.startsWith(labels ? `${name}{${labels}} ` : `${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** Waits until the proxy holds at least `n` blocking reads (kv_proxy_blocking_reads_in_flight), so a change comes after the read is waiting. */
export function blockingReadsHeld(url: string, n = 1): Promise<true> {
  return waitFor(
    `${n} blocking read(s) held by the proxy (kv_proxy_blocking_reads_in_flight)`,
    async () => (await metricValue(url, 'kv_proxy_blocking_reads_in_flight')) >= n || undefined,
  );
}

/** The kv-proxy child process. */
export class ProxyProcess {
  readonly logs: any[] = [];
  stdout = '';
  stderr = '';
  url = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitCode: number | null | undefined = undefined;

  constructor(readonly proc: ChildProcess) {
    proc.stdout!.setEncoding('utf8');
    proc.stderr!.setEncoding('utf8');
    let buffer = '';
    proc.stdout!.on('data', (chunk: string) => {
      this.stdout += chunk;
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          this.logs.push(JSON.parse(line));
        } catch {
          this.logs.push({ unparsed: line });
        }
      }
    });
    proc.stderr!.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    // 'close', not 'exit': all of its stdout and stderr has been read by then
    this.exited = new Promise((resolve) =>
      proc.on('close', (code, signal) => {
        this.exitCode = code;
        resolve({ code, signal });
      }),
    );
  }

  static spawn(env: Record<string, string>, nodeFlags: readonly string[] = []): ProxyProcess {
    return new ProxyProcess(spawn(process.execPath, [...nodeFlags, SERVER], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  /** nodeFlags: node options before server.js, e.g. the construct's KV_PROXY_NODE_FLAGS. */
  static async start(env: Record<string, string>, { ready = true, nodeFlags = [] as readonly string[] } = {}): Promise<ProxyProcess> {
    const p = ProxyProcess.spawn({ PORT: '0', KV_LISTEN_ADDRESS: '127.0.0.1', ...env }, nodeFlags);
    const port = await waitFor('the proxy to log "listening"', () => {
      if (p.exitCode !== undefined) throw new Error(`proxy exited ${p.exitCode}: ${p.stderr}`);
      return p.logs.find((l) => l.msg === 'listening')?.port as number | undefined;
    });
    p.url = `http://127.0.0.1:${port}`;
    try {
      if (ready)
        await waitFor(`the proxy to answer ${p.url}/readyz with 200`, async () => (await call('GET', `${p.url}/readyz`)).status === 200 || undefined);
    } catch (err) {
      await p.stop();
      throw err;
    }
    return p;
  }

  get running() {
    return this.exitCode === undefined;
  }

  async stop() {
    if (this.running) this.proc.kill('SIGTERM');
    await this.exited;
  }
}

/** The RBAC rules the construct grants, as a permission table for the fake API. */
export function contractRbac(o: { namespaces: string[]; writes?: boolean; discovery?: boolean; names?: string[] }): PermissionRule[] {
  // The construct's own Role rules (applied in every served namespace), so the stand-in grants exactly what a cluster would.
  return kvProxyRules({ writes: !!o.writes, discovery: !!o.discovery, ...(o.names ? { configMapNames: o.names } : {}) }).map((r) => ({
    verbs: [...r.verbs],
    resources: [...(r.resources ?? [])],
    namespaces: o.namespaces,
    ...(r.resourceNames ? { names: [...r.resourceNames] } : {}),
  }));
}

export interface Fixture {
  api: FakeKubeApi;
  proxy: ProxyProcess;
  url: string;
  dir: string;
  tokensDir: string;
  /** Another proxy against the same API server with the same settings (plus env), stopped by close(). */
  another: (env?: Record<string, string>) => Promise<ProxyProcess>;
  close: () => Promise<void>;
}

export async function fixture(
  options: {
    env?: Record<string, string>;
    rbac?: { writes?: boolean; discovery?: boolean; names?: string[] };
    namespaces?: string[];
    seed?: (api: FakeKubeApi) => void;
    ready?: boolean;
    /** How often the stand-in sends watch bookmarks. @default 200 */
    bookmarkIntervalMs?: number;
  } = {},
): Promise<Fixture> {
  const namespaces = options.namespaces || ['default', 'apps'];
  const api = new FakeKubeApi({
    tokens: [SA_TOKEN],
    permissions: contractRbac({ namespaces, ...options.rbac }),
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 200,
  });
  await api.start(0);
  options.seed?.(api);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-proxy-test-'));
  const tokensDir = path.join(dir, 'tokens');
  fs.mkdirSync(tokensDir);
  fs.writeFileSync(path.join(tokensDir, 'read-tokens'), `# readers\n${READ_TOKEN}\n\n`);
  fs.writeFileSync(path.join(tokensDir, 'write-tokens'), `${WRITE_TOKEN}\n`);
  fs.writeFileSync(path.join(dir, 'sa-token'), `${SA_TOKEN}\n`);
  fs.writeFileSync(path.join(tokensDir, 'metrics-tokens'), `${METRICS_TOKEN}\n`);
  const env = {
    KUBE_API_URL: api.url,
    KUBE_TOKEN_FILE: path.join(dir, 'sa-token'),
    KV_TOKENS_DIR: tokensDir,
    KV_NAMESPACES: namespaces.join(','),
    // These tests seed unlabeled ConfigMaps and write them: every served ConfigMap is writable
    // (except those never written); test/kv-proxy-writes.test.ts covers the default, labeled.
    KV_WRITE_SCOPE: 'any',
    ...options.env,
  };
  const others: ProxyProcess[] = [];
  let proxy: ProxyProcess;
  try {
    proxy = await ProxyProcess.start(env, { ready: options.ready !== false });
  } catch (err) {
    await api.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    api,
    proxy,
    url: proxy.url,
    dir,
    tokensDir,
    another: async (more = {}) => {
      const p = await ProxyProcess.start({ ...env, ...more });
      others.push(p);
      return p;
    },
    close: async () => {
      await Promise.all([proxy, ...others].map((p) => p.stop()));
      await api.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Calls the API server refused for lack of permission (not injected faults). */
export function forbiddenCalls(api: FakeKubeApi) {
  return api.calls.filter((c) => c.status === 403 && !c.faulted);
}
