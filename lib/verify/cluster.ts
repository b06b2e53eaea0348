/**
 * A real Kubernetes control plane on this machine: etcd and kube-apiserver
 * built from tools/kube (see scripts/kube/build.sh), started on loopback
 * only, on free ports, with a fresh etcd data directory per run.
 *
 *  - RBAC authorization, a static admin token (system:masters) in a
 *    --token-auth-file, ServiceAccount signing keys (TokenRequest works);
 *  - a self-signed CA (openssl) whose serving certificate names 127.0.0.1,
 *    localhost and kubernetes.default.svc: `caFile` is what clients trust;
 *  - the default admission plugins of the release, PodSecurity included;
 *  - no controller-manager and no scheduler: nothing creates the `default`
 *    ServiceAccounts, Pods stay Pending, Deployments make no ReplicaSets.
 *
 * Processes are stopped by their PID (process group), never by name.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const BUILD_SH = path.join(ROOT, 'scripts', 'kube', 'build.sh');
const BINARIES = ['etcd', 'kube-apiserver', 'kubectl'] as const;
/** The cluster's Service CIDR; the `kubernetes` Service gets its first address. */
export const SERVICE_CIDR = '10.0.0.0/24';
export const ADMIN_TOKEN_USER = 'test-admin';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cachedBinDir: string | undefined;
let chosenBinDir: string | undefined;
/** Runs the binaries in `dir` from now on (the verify command finds them itself: ./binaries.ts). */
export function useBinDir(dir: string): void {
  chosenBinDir = dir;
}
/**
 * Where the binaries are: the folder given to useBinDir, else KUBE_BIN_DIR,
 * else KUBEBUILDER_ASSETS (controller-runtime envtest's layout: etcd,
 * kube-apiserver and kubectl in one folder), else where scripts/kube/build.sh
 * puts them: ${XDG_CACHE_HOME:-~/.cache}/cdk8s-patterns/kube/<key>, the key
 * being the one scripts/gobin/key.sh computes (build.sh --dir asks it).
 */
export function binDir(): string {
  if (chosenBinDir) return chosenBinDir;
  if (process.env.KUBE_BIN_DIR) return process.env.KUBE_BIN_DIR;
  if (process.env.KUBEBUILDER_ASSETS) return process.env.KUBEBUILDER_ASSETS;
  cachedBinDir ??= execFileSync('bash', [BUILD_SH, '--dir'], { encoding: 'utf8' }).trim().split('\n').pop()!;
  return cachedBinDir;
}

/** The path of one binary; fails with the command that builds it when it is missing. */
export function binary(name: (typeof BINARIES)[number]): string {
  const file = path.join(binDir(), name);
  if (!fs.existsSync(file)) {
    throw new Error(
      `${file} is missing: run \`bash scripts/kube/build.sh\` (npm test runs it first) to build etcd, kube-apiserver and kubectl from tools/kube`,
    );
  }
  return file;
}

/**
 * Ports handed out by freePort and not yet released, across processes: one
 * file per port in PORT_DIR holding the owner's PID. freePort asks the kernel
 * for a free port (listen on port 0) and then has to close that socket, since
 * the port is for another program (etcd, kube-apiserver, nginx) to bind; until
 * that program binds, nothing stops a second jest worker from being handed the
 * same port. The reservation file does: a port reserved by a live process is
 * never handed out again (a dead owner's reservation is taken over). What it
 * cannot stop, some other program taking the port in that window, shows up as
 * "address already in use" when the program binds: KubeCluster starts again on
 * other ports then (see PortInUseError).
 */
const PORT_DIR = path.join(os.tmpdir(), 'cdk8s-patterns-ports');
const reservedHere = new Set<number>();
let releaseOnExit = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reserves `port` for this process; false when a live process holds it. */
function reserve(port: number): boolean {
  fs.mkdirSync(PORT_DIR, { recursive: true, mode: 0o1777 });
  const file = path.join(PORT_DIR, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      reservedHere.add(port);
      if (!releaseOnExit) {
        releaseOnExit = true;
        process.on('exit', () => {
          for (const p of reservedHere) releasePort(p);
        });
      }
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(fs.readFileSync(file, 'utf8') || '0');
      if (owner === process.pid || (owner > 0 && alive(owner))) return false;
      fs.rmSync(file, { force: true }); // its owner is gone
    }
  }
  return false;
}

/** Gives back a port from freePort (once the program that bound it has stopped). */
export function releasePort(port: number): void {
  if (!reservedHere.delete(port)) return;
  try {
    fs.rmSync(path.join(PORT_DIR, String(port)), { force: true });
  } catch {
    /* gone */
  }
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A free TCP port on 127.0.0.1 for another program to bind, reserved for this
 * process until releasePort() or exit (see PORT_DIR). A server in this process
 * binds port 0 and reads its port back instead.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = await kernelPort();
    if (reserve(port)) return port;
  }
  throw new Error(`no free port: 100 ports from the kernel were all reserved in ${PORT_DIR}`);
}

/** A program could not bind its port (someone else took it after freePort): start again on other ports. */
export class PortInUseError extends Error {}

/** The outcome of a child process: its exit code (null when a signal ended it), signal, stdout and stderr. */
export interface ProcessResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Written to stdin, then stdin is closed; without it stdin is /dev/null. */
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** SIGKILL to the child after this long (the result then has signal SIGKILL). @default 60000 */
  readonly timeoutMs?: number;
}

/**
 * Runs a program to its exit. The exit is the result: stdin gets data only
 * when there is input, and a write error on it (EPIPE when the program exits
 * without reading, as `kubectl auth can-i` does) is not an error of the run.
 * A program that cannot be started gives code 127 and the reason in stderr.
 */
export function runProcess(file: string, args: readonly string[], options: RunOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let spawnError: Error | undefined;
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    // A broken pipe on any stream only means the program stopped reading or exited: its exit code says how it went.
    for (const s of [child.stdin, child.stdout, child.stderr])
      s?.on('error', () => {
        /* the exit decides */
      });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60000);
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8') + (spawnError ? `${file}: ${spawnError.message}\n` : '');
      resolve({ code: spawnError ? 127 : code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/** The outcome of one kubectl call. */
export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ClusterOptions {
  /** Parent of the run's directory (certificates, etcd data, logs). @default - os.tmpdir() */
  readonly baseDir?: string;
  /** Serve watches from etcd directly (`--watch-cache=false`), so an etcd compaction is what expires them. @default true */
  readonly watchCache?: boolean;
  /** kube-apiserver's own periodic etcd compaction; 0 turns it off so a test decides when to compact. @default '5m0s' (the release default) */
  readonly etcdCompactionInterval?: string;
  /** Log progress (start-up timings) to stderr. @default false */
  readonly verbose?: boolean;
  /**
   * Pod Security enforced on every namespace by the admission configuration
   * (PodSecurityConfiguration defaults: enforce and warn, version latest);
   * namespace labels still set their own level.
   * @default - none: the release default (privileged) where no label says otherwise
   */
  readonly podSecurity?: 'restricted' | 'baseline';
}

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
}

/** etcd + kube-apiserver, started by start(), stopped by stop(). */
export class KubeCluster {
  /** Starts etcd and kube-apiserver and waits until /readyz answers 200. */
  public static async start(options: ClusterOptions = {}): Promise<KubeCluster> {
    const cluster = new KubeCluster(options);
    try {
      await cluster.boot();
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  /** The run's directory: pki/, etcd/, logs. Removed by stop(). */
  public readonly dir: string;
  /** The CA that signed the serving certificate (PEM file). */
  public readonly caFile: string;
  /** A kubeconfig for the admin token (system:masters). */
  public readonly kubeconfig: string;
  /** The admin bearer token. */
  public readonly adminToken = crypto.randomBytes(24).toString('hex');
  public host = '127.0.0.1';
  public port = 0;
  public etcdUrl = '';
  /** Milliseconds from start() until kube-apiserver was ready. */
  public startupMs = 0;
  private etcd?: Proc;
  private apiserver?: Proc;
  private readonly extra = new Set<Proc>();
  /** The ports from freePort this cluster binds, released by stop(). */
  private readonly ports: number[] = [];
  private readonly apiserverArgs: string[] = [];
  private readonly onExit = () => this.killAll();

  private constructor(private readonly options: ClusterOptions) {
    this.dir = fs.mkdtempSync(path.join(options.baseDir ?? os.tmpdir(), 'kube-'));
    this.caFile = path.join(this.dir, 'pki', 'ca.crt');
    this.kubeconfig = path.join(this.dir, 'kubeconfig');
  }

  /** https://127.0.0.1:<port> */
  public get server(): string {
    return `https://${this.host}:${this.port}`;
  }

  /** The CA certificate (PEM). */
  public get ca(): string {
    return fs.readFileSync(this.caFile, 'utf8');
  }

  /** The version kube-apiserver reports (/version gitVersion). */
  public async version(): Promise<string> {
    const r = await this.request('GET', '/version');
    return JSON.parse(r.body).gitVersion;
  }

  /** Runs kubectl as the admin (or `--as` someone, given in args) against this cluster. */
  public async kubectl(args: string[], input?: string, timeoutMs = 60000): Promise<KubectlResult> {
    const r = await runProcess(binary('kubectl'), ['--kubeconfig', this.kubeconfig, ...args], {
      input,
      timeoutMs,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.dir },
    });
    // a signal (the timeout's SIGKILL) counts as a failure, as execFile reported it
    return {
      code: r.code ?? 1,
      stdout: r.stdout,
      stderr: r.signal ? `${r.stderr}kubectl ${args.join(' ')}: killed by ${r.signal} after ${timeoutMs} ms\n` : r.stderr,
    };
  }

  /** kubectl that throws (with its stderr) unless it exits 0. */
  public async kubectlOk(args: string[], input?: string): Promise<string> {
    const r = await this.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** One HTTPS request to the API server as the admin (or with `token`). */
  public request(
    method: string,
    urlPath: string,
    body?: unknown,
    token = this.adminToken,
    contentType = 'application/json',
  ): Promise<{ status: number; body: string; headers: Record<string, any> }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const req = https.request(
        `${this.server}${urlPath}`,
        {
          method,
          ca: this.ca,
          agent: false,
          timeout: 60000,
          headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(payload ? { 'Content-Type': contentType } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${urlPath}`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Stops kube-apiserver only (SIGTERM to its PID); etcd keeps its data. */
  public async stopApiServer(): Promise<void> {
    if (this.apiserver) await stopProc(this.apiserver);
    this.apiserver = undefined;
  }

  /** Starts kube-apiserver again on the same port, certificates and etcd. */
  public async startApiServer(): Promise<void> {
    if (this.apiserver) throw new Error('kube-apiserver is already running');
    this.apiserver = this.spawn('kube-apiserver', binary('kube-apiserver'), this.apiserverArgs);
    await this.waitReady(this.apiserver, this.port);
  }

  /**
   * A second kube-apiserver on the same etcd (as in an HA control plane),
   * with the same certificates and tokens, on its own port.
   */
  public async startExtraApiServer(): Promise<{ server: string; stop: () => Promise<void> }> {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      this.ports.push(port);
      const args = this.apiserverArgs.map((a) => (a === `--secure-port=${this.port}` ? `--secure-port=${port}` : a));
      const proc = this.spawn(`kube-apiserver-${port}`, binary('kube-apiserver'), args);
      this.extra.add(proc);
      try {
        await this.waitReady(proc, port);
      } catch (e) {
        await stopProc(proc);
        this.extra.delete(proc);
        if (!(e instanceof PortInUseError) || attempt >= 5) throw e;
        continue;
      }
      return {
        server: `https://${this.host}:${port}`,
        stop: async () => {
          await stopProc(proc);
          this.extra.delete(proc);
        },
      };
    }
  }

  /** The etcd revision now (etcd's gRPC gateway, /v3/kv/range). */
  public async etcdRevision(): Promise<number> {
    const r = await postJson(`${this.etcdUrl}/v3/kv/range`, { key: Buffer.from('/registry/').toString('base64'), limit: 1 });
    return Number(r.header.revision);
  }

  /** Compacts etcd's history up to `revision` (default: now), as kube-apiserver's compactor does. */
  public async compactEtcd(revision?: number): Promise<number> {
    const rev = revision ?? (await this.etcdRevision());
    await postJson(`${this.etcdUrl}/v3/kv/compaction`, { revision: String(rev), physical: true });
    return rev;
  }

  /** Stops kube-apiserver and etcd by PID and removes the run's directory. */
  public async stop(): Promise<void> {
    process.removeListener('exit', this.onExit);
    await Promise.all([...this.extra].map(stopProc));
    this.extra.clear();
    await this.stopApiServer();
    if (this.etcd) await stopProc(this.etcd);
    this.etcd = undefined;
    this.ports.forEach(releasePort);
    this.ports.length = 0;
    if (!process.env.KUBE_KEEP_DIR) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** The tail of a component's log, for failure messages. */
  public logTail(name = 'kube-apiserver', lines = 40): string {
    try {
      return fs
        .readFileSync(path.join(this.dir, `${name}.log`), 'utf8')
        .split('\n')
        .slice(-lines)
        .join('\n');
    } catch {
      return '';
    }
  }

  private log(msg: string): void {
    if (this.options.verbose) process.stderr.write(`kube: ${msg}\n`);
  }

  private async boot(): Promise<void> {
    const t0 = Date.now();
    for (const b of BINARIES) binary(b);
    process.on('exit', this.onExit);
    this.pki();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.bootOnFreePorts(t0);
        break;
      } catch (e) {
        if (!(e instanceof PortInUseError) || attempt >= 5) throw e;
        this.log(`${e.message}; starting again on other ports`);
        await this.stopApiServer();
        if (this.etcd) await stopProc(this.etcd);
        this.etcd = undefined;
        this.ports.forEach(releasePort);
        this.ports.length = 0;
        this.apiserverArgs.length = 0;
        fs.rmSync(path.join(this.dir, 'etcd'), { recursive: true, force: true });
      }
    }
    fs.writeFileSync(
      this.kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: test',
        '  cluster:',
        `    server: ${this.server}`,
        `    certificate-authority: ${this.caFile}`,
        'users:',
        '- name: admin',
        '  user:',
        `    token: ${this.adminToken}`,
        'contexts:',
        '- name: test',
        '  context: {cluster: test, user: admin}',
        'current-context: test',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    this.startupMs = Date.now() - t0;
    this.log(`kube-apiserver ready at ${this.server} in ${this.startupMs} ms`);
  }

  private async bootOnFreePorts(t0: number): Promise<void> {
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    this.ports.push(etcdPort, peerPort, apiPort);
    this.port = apiPort;
    this.etcdUrl = `http://127.0.0.1:${etcdPort}`;
    // a name of its own, so the readiness check knows it reached this etcd and not another one on a reused port
    const etcdName = `test-${crypto.randomBytes(6).toString('hex')}`;
    this.etcd = this.spawn('etcd', binary('etcd'), [
      `--name=${etcdName}`,
      `--data-dir=${path.join(this.dir, 'etcd')}`,
      `--listen-client-urls=${this.etcdUrl}`,
      `--advertise-client-urls=${this.etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=${etcdName}=http://127.0.0.1:${peerPort}`,
      '--initial-cluster-state=new',
      // a throw-away data dir: durability buys nothing here
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await this.waitHttp(this.etcd, `${this.etcdUrl}/health`, (s, b) => s === 200 && /"health":\s*"true"/.test(b), 60000);
    const members = await postJson(`${this.etcdUrl}/v3/cluster/member/list`, {});
    if (!(members.members ?? []).some((m: { name?: string }) => m.name === etcdName)) {
      throw new PortInUseError(`another etcd answers on port ${etcdPort}`);
    }
    this.log(`etcd ready in ${Date.now() - t0} ms`);
    const pki = path.join(this.dir, 'pki');
    this.apiserverArgs.push(
      `--etcd-servers=${this.etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${pki}/apiserver.crt`,
      `--tls-private-key-file=${pki}/apiserver.key`,
      `--client-ca-file=${pki}/ca.crt`,
      `--token-auth-file=${pki}/tokens.csv`,
      '--authorization-mode=RBAC',
      '--anonymous-auth=false',
      // as kubeadm and managed clusters do: privileged Pods are Pod Security's to refuse
      '--allow-privileged=true',
      `--service-account-key-file=${pki}/sa.pub`,
      `--service-account-signing-key-file=${pki}/sa.key`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      `--watch-cache=${this.options.watchCache ?? true}`,
      ...(this.options.etcdCompactionInterval !== undefined ? [`--etcd-compaction-interval=${this.options.etcdCompactionInterval}`] : []),
      ...(this.options.podSecurity ? [`--admission-control-config-file=${this.admissionConfig(this.options.podSecurity)}`] : []),
      '--profiling=false',
      '--v=1',
    );
    this.apiserver = this.spawn('kube-apiserver', binary('kube-apiserver'), this.apiserverArgs);
    await this.waitReady(this.apiserver, apiPort);
  }

  /** An AdmissionConfiguration whose PodSecurity defaults hold every namespace without labels to `level`. */
  private admissionConfig(level: 'restricted' | 'baseline'): string {
    const file = path.join(this.dir, 'admission.yaml');
    fs.writeFileSync(
      file,
      [
        'apiVersion: apiserver.config.k8s.io/v1',
        'kind: AdmissionConfiguration',
        'plugins:',
        '- name: PodSecurity',
        '  configuration:',
        '    apiVersion: pod-security.admission.config.k8s.io/v1',
        '    kind: PodSecurityConfiguration',
        '    defaults:',
        `      enforce: ${level}`,
        '      enforce-version: latest',
        `      warn: ${level}`,
        '      warn-version: latest',
        `      audit: ${level}`,
        '      audit-version: latest',
        '    exemptions: {usernames: [], runtimeClasses: [], namespaces: []}',
        '',
      ].join('\n'),
    );
    return file;
  }

  private pki(): void {
    const dir = path.join(this.dir, 'pki');
    fs.mkdirSync(dir, { recursive: true });
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    ssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=cdk8s-patterns-test-ca',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    fs.writeFileSync(
      path.join(dir, 'apiserver.ext'),
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,' +
          'DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local',
        '',
      ].join('\n'),
    );
    ssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=kube-apiserver',
      '-keyout',
      'apiserver.key',
      '-out',
      'apiserver.csr',
    );
    ssl(
      'x509',
      '-req',
      '-in',
      'apiserver.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      'apiserver.ext',
      '-out',
      'apiserver.crt',
    );
    ssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key');
    ssl('pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
    fs.writeFileSync(path.join(dir, 'tokens.csv'), `${this.adminToken},${ADMIN_TOKEN_USER},${ADMIN_TOKEN_USER},"system:masters"\n`, { mode: 0o600 });
  }

  private spawn(name: string, file: string, args: string[]): Proc {
    const log = path.join(this.dir, `${name}.log`);
    const fd = fs.openSync(log, 'a');
    const child = spawn(file, args, { stdio: ['ignore', fd, fd], detached: true, env: { PATH: '/usr/bin:/bin', HOME: this.dir } });
    fs.closeSync(fd);
    return { name, child, log };
  }

  private async waitReady(proc: Proc, port: number): Promise<void> {
    const t0 = Date.now();
    await this.waitHttp(proc, `https://127.0.0.1:${port}/readyz`, (s) => s === 200, 90000);
    this.log(`${proc.name} ready in ${Date.now() - t0} ms`);
  }

  private async waitHttp(proc: Proc, url: string, ok: (status: number, body: string) => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: string;
    for (;;) {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        if (/address already in use/.test(tail(proc.log))) throw new PortInUseError(`${proc.name} could not bind its port: address already in use`);
        throw new Error(`${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}):\n${tail(proc.log)}`);
      }
      try {
        const r = await get(url, url.startsWith('https:') ? { ca: this.ca, token: this.adminToken } : {});
        if (ok(r.status, r.body)) return;
        last = `${r.status} ${r.body.slice(0, 500)}`;
      } catch (e) {
        last = String(e);
      }
      if (Date.now() > deadline) throw new Error(`${proc.name} not ready at ${url} after ${timeoutMs} ms (${last}):\n${tail(proc.log)}`);
      await sleep(200);
    }
  }

  private killAll(): void {
    for (const p of [...this.extra, this.apiserver, this.etcd]) {
      if (p && p.child.exitCode === null)
        try {
          process.kill(-p.child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
    }
  }
}

function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** SIGTERM to the process group, SIGKILL after 10 s; resolves on exit. */
async function stopProc(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  try {
    process.kill(-p.child.pid!, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-p.child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 10000);
  await exited;
  clearTimeout(timer);
}

function get(url: string, opts: { ca?: string; token?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const options = { ca: opts.ca, agent: false, timeout: 3000, headers: opts.token ? { Authorization: `Bearer ${opts.token}` } : {} };
    const onResponse = (res: http.IncomingMessage) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    };
    const req = url.startsWith('https:') ? https.get(url, options, onResponse) : http.get(url, options, onResponse);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function postJson(url: string, body: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, timeout: 60000, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c;
      });
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`${url}: ${res.statusCode} ${text}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
