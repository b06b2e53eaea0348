/**
 * Runs the containers of a SYNTHESIZED pod on this host, as the kubelet
 * would as far as a test without a cluster can:
 *
 *  - each container gets its own mount namespace (`unshare -m`) in which its
 *    volumes are bind-mounted at their real mountPaths (read-only when the
 *    manifest says so, ConfigMap/Secret volumes always), the root filesystem
 *    is remounted read-only when readOnlyRootFilesystem is set, and a
 *    mountPath that does not exist on the host gets a read-only tmpfs on its
 *    nearest existing ancestor so the host is never written; where that
 *    ancestor holds what the programs need (/etc, /var, /usr, ...) it gets a
 *    read-only overlay instead, whose upper and work layers live on a tmpfs
 *    the sandbox mounts itself inside the container's mount namespace (so it
 *    works where /tmp or /var/tmp is itself overlayfs, as on containerized CI
 *    runners; overlayfs refuses an overlayfs upper layer), and whose mounts
 *    below the anchor (a container's /etc/hosts, /etc/resolv.conf) are kept;
 *  - volumes are host directories laid out as the kubelet does it (see
 *    ./pod-volumes.ts), shared by all containers of the pod;
 *  - the process runs through `setpriv` as the manifest's runAsUser/runAsGroup
 *    with fsGroup and supplementalGroups, no_new_privs when
 *    allowPrivilegeEscalation is false, no capabilities when they drop ALL,
 *    with exactly the container's env (`env -i`) in its workingDir;
 *  - stdout and stderr are files owned by that user, as runc hands the
 *    container its stdio (so `/dev/stdout` can be opened);
 *  - the pod uses the host's network, or with `network: 'pod'` one network
 *    namespace of its own with POD_IP on its loopback.
 *
 * Binaries are the host's (Debian's), standing in for the images'; an
 * ImageStandIn can add a root filesystem to chroot into. A missing program
 * is an error, never a skip.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { K8sObject } from '../../lib/testing';
import { identityOf, manifestEnv, materializeVolume, podSpec, SERVICE_ACCOUNT_PATH, VolumeContent } from './pod-volumes';

export { mountOf, podSpec, SERVICE_ACCOUNT_PATH } from './pod-volumes';

/** The address a `network: 'pod'` sandbox gives the pod, as a pod IP. */
export const POD_IP = '10.244.0.10';
/** Debian's binaries only (not pyenv shims or /usr/local). */
export const SANDBOX_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
/** Exit status of a container whose sandbox could not be set up (a failed mount, a missing workingDir). */
export const SETUP_FAILED = 125;

const PROBE = path.join(__dirname, 'http-probe.js');
// A tmpfs over these would hide the programs themselves: they get an overlay.
const OVERLAY_ANCHORS = new Set(['/usr', '/etc', '/bin', '/sbin', '/lib', '/lib64', '/var', '/home', '/root', '/boot', '/opt', '/srv']);
// Nothing is mounted over these.
const UNSAFE_ANCHORS = new Set(['/', '/proc', '/sys', '/dev']);

/** Fails with one clear message when a program is missing or the test does not run as root. */
export function requirePrograms(...programs: string[]): void {
  const missing = ['/usr/bin/unshare', '/usr/bin/setpriv', '/usr/bin/env', ...programs].filter((p) => !fs.existsSync(p));
  if (missing.length) {
    throw new Error(`missing ${[...new Set(missing)].join(', ')}: install the Debian packages from scripts/install-system-deps.sh`);
  }
  if (process.getuid?.() !== 0) throw new Error('the runtime proofs need root (mount namespaces, setpriv)');
}

/** A free TCP port on 127.0.0.1 (one implementation, shared with the kube-apiserver harness). */
export { freePort, releasePort } from '../../lib/verify/cluster';

/** Single-quotes a string for sh. */
export function shq(s: string | number): string {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

/**
 * A scratch directory the containers' users can traverse. Under /var/tmp,
 * not /tmp: pods mount their own volumes at /tmp, which would hide it.
 */
export function scratchDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join('/var/tmp', `${prefix}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}

const within = (inner: string, outer: string) => outer === '/' || inner === outer || inner.startsWith(`${outer}/`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A host path as a container sees it. */
export interface SandboxMount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

/** One container process, fully resolved. */
export interface SandboxContainer {
  readonly name: string;
  /** What runs: command + args (or the image's ENTRYPOINT/CMD). */
  readonly argv: string[];
  /** Exactly the environment the process gets. @default - PATH=SANDBOX_PATH, HOME=/ */
  readonly env?: Record<string, string>;
  /** @default / */
  readonly workingDir?: string;
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups. */
  readonly groups: number[];
  readonly mounts: SandboxMount[];
  readonly readOnlyRoot?: boolean;
  readonly noNewPrivs?: boolean;
  /** Empty inheritable and bounding capability sets (capabilities drop ALL). */
  readonly dropCapabilities?: boolean;
  /**
   * A root filesystem to chroot into (an image stand-in); mounts are then
   * relative to it, and it gets /proc and a minimal /dev. It must hold an
   * empty file `/.standin/env`, the mountpoint for the host's env(1).
   * @default - the host's root
   */
  readonly rootfs?: string;
}

/** The sh script that sets up the container's mount namespace, then becomes its process. */
export function containerScript(c: SandboxContainer, scratch?: string): string {
  const fail = (what: string) => `|| fail ${shq(what)}`;
  const lines = [`fail() { echo "sandbox setup failed: $1" >&2; exit ${SETUP_FAILED}; }`];
  const R = c.rootfs ?? '';
  const mounts = [...c.mounts].sort((a, b) => a.target.split('/').length - b.target.split('/').length);
  const anchors: string[] = [];
  const overlays: string[] = [];
  if (R) {
    if (!fs.existsSync(`${R}/.standin/env`)) throw new Error(`rootfs ${R} has no /.standin/env mountpoint`);
    lines.push(
      `mount --bind ${shq(R)} ${shq(R)} ${fail('rootfs bind')}`,
      `mount --bind /usr/bin/env ${shq(`${R}/.standin/env`)} ${fail('env')}`,
      `mount -t proc proc ${shq(`${R}/proc`)} ${fail('/proc')}`,
      `mount -t tmpfs -o mode=0755,size=64k tmpfs ${shq(`${R}/dev`)} ${fail('/dev')}`,
    );
    for (const n of ['null', 'zero', 'random', 'urandom'])
      lines.push(`touch ${shq(`${R}/dev/${n}`)} && mount --bind /dev/${n} ${shq(`${R}/dev/${n}`)} ${fail(`/dev/${n}`)}`);
  } else {
    for (const m of mounts) {
      if (scratch && within(scratch, m.target)) throw new Error(`mount path ${m.target} would hide the scratch directory ${scratch}`);
      if ([...anchors, ...overlays].some((a) => within(m.target, a)) || fs.existsSync(m.target)) continue;
      let anchor = path.dirname(m.target);
      while (!fs.existsSync(anchor)) anchor = path.dirname(anchor);
      anchor = fs.realpathSync(anchor);
      if (UNSAFE_ANCHORS.has(anchor) || (scratch && within(scratch, anchor))) {
        throw new Error(`mount path ${m.target} does not exist on this host and its parent ${anchor} cannot be covered by a tmpfs`);
      }
      if (OVERLAY_ANCHORS.has(anchor)) {
        if (!scratch) throw new Error(`mount path ${m.target} needs an overlay over ${anchor}, which needs the pod's scratch directory`);
        overlays.push(anchor);
      } else {
        anchors.push(anchor);
      }
    }
    for (const a of anchors) lines.push(`mount -t tmpfs -o mode=0755,size=1m sandbox ${shq(a)} ${fail(a)}`);
    if (overlays.length) lines.push(...overlayScript(overlays, `${scratch}/layers`, fail));
  }
  for (const m of mounts) {
    const target = R + m.target;
    const mkTarget = fs.statSync(m.source).isDirectory()
      ? `mkdir -p ${shq(target)}`
      : `mkdir -p ${shq(path.dirname(target))} && touch ${shq(target)}`;
    lines.push(`${mkTarget} && mount --bind ${shq(m.source)} ${shq(target)} ${fail(m.target)}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${shq(target)} ${fail(`${m.target} read-only`)}`);
  }
  // the tmpfs stand-ins for image directories are as read-only as the rest of the image
  for (const a of anchors) lines.push(`mount -o remount,ro ${shq(a)} ${fail(`${a} read-only`)}`);
  for (const a of overlays) lines.push(`mount -o remount,bind,ro ${shq(a)} ${fail(`${a} read-only`)}`);
  if (c.readOnlyRoot) lines.push(`mount -o remount,bind,ro ${shq(R || '/')} ${fail('root read-only')}`);
  const env = Object.entries(c.env ?? { PATH: SANDBOX_PATH, HOME: '/' }).map(([k, v]) => `${k}=${v}`);
  const groups = c.groups.length ? c.groups.join(',') : undefined;
  // `env -C` enters the workingDir as the container's user, as runc does.
  const run = ['-i', '-C', c.workingDir || '/', ...env, ...c.argv];
  const setpriv = ['setpriv', ...(c.noNewPrivs ? ['--no-new-privs'] : [])];
  if (R) {
    // chroot needs CAP_SYS_CHROOT, so the capabilities are not dropped before it; it then drops to a non-root user, which has none.
    const chroot = [...setpriv, '--', 'chroot', `--userspec=${c.uid}:${c.gid}`, `--groups=${groups ?? c.gid}`, R, '/.standin/env', ...run];
    lines.push(`exec ${chroot.map(shq).join(' ')}`);
  } else {
    setpriv.push(`--reuid=${c.uid}`, `--regid=${c.gid}`, groups ? `--groups=${groups}` : '--clear-groups');
    if (c.dropCapabilities) setpriv.push('--inh-caps=-all', '--bounding-set=-all');
    lines.push(`exec ${[...setpriv, '--', '/usr/bin/env', ...run].map(shq).join(' ')}`);
  }
  return lines.join('\n');
}

/** The mount points strictly below `dir` in this mount namespace, outermost first. */
function mountsBelow(dir: string): string[] {
  const unescape = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  return [
    ...new Set(
      fs
        .readFileSync('/proc/self/mounts', 'utf8')
        .split('\n')
        .map((l) => unescape(l.split(' ')[1] ?? ''))
        .filter((m) => m !== dir && within(m, dir)),
    ),
  ];
}

/**
 * Overlays over `dirs` (read-only later), their upper and work layers on a
 * tmpfs mounted at `layers`; mounts below each dir are carried over (bound
 * aside first, then back), since an overlay's lower layer does not show them.
 */
function overlayScript(dirs: string[], layers: string, fail: (what: string) => string): string[] {
  const lines = [`mkdir -p ${shq(layers)} && mount -t tmpfs -o mode=0700,size=64m sandbox-layers ${shq(layers)} ${fail('layers tmpfs')}`];
  dirs.forEach((dir, i) => {
    const L = `${layers}/${i}`;
    const kept = mountsBelow(dir).filter((m) => fs.existsSync(m));
    lines.push(`mkdir -p ${shq(`${L}/upper`)} ${shq(`${L}/work`)} ${shq(`${L}/kept`)}`);
    const keep = kept.map((m, j) => ({ m, aside: `${L}/kept/${j}`, file: !fs.statSync(m).isDirectory() }));
    for (const k of keep)
      lines.push(
        `${k.file ? `touch ${shq(k.aside)}` : `mkdir -p ${shq(k.aside)}`} && mount --bind ${shq(k.m)} ${shq(k.aside)} ${fail(`keep ${k.m}`)}`,
      );
    lines.push(
      `mount -t overlay sandbox-${i} -o ${shq(`lowerdir=${dir},upperdir=${L}/upper,workdir=${L}/work`)} ${shq(dir)} ${fail(`overlay ${dir}`)}`,
    );
    for (const k of keep) lines.push(`mount --bind ${shq(k.aside)} ${shq(k.m)} ${fail(`restore ${k.m}`)}`);
  });
  return lines;
}

/** What the test knows and the manifests do not: how an image starts. */
export interface ImageStandIn {
  readonly entrypoint?: string[] | null;
  readonly cmd?: string[] | null;
  /** The image's environment (before the manifest's). */
  readonly env?: Record<string, string>;
  readonly workingDir?: string;
  /** A root filesystem to chroot into (see SandboxContainer.rootfs). */
  readonly rootfs?: string;
  /** Host directories bound read-only into `rootfs` at the same path (the image's system files). */
  readonly binds?: string[];
}

/** How to run one manifest container. */
export interface ContainerOptions {
  /** @default - the sandbox's `images` for the container's image, else none: the manifest must have a command */
  readonly image?: ImageStandIn;
  /** What the kubelet adds, e.g. KUBERNETES_SERVICE_HOST/PORT. The container's env wins over these. */
  readonly runtimeEnv?: Record<string, string>;
  /** Test-only overrides that win over the manifest; every use is named in the test. */
  readonly envOverrides?: Record<string, string>;
  /** Run this instead of the container's process, like `kubectl exec`. */
  readonly exec?: string[];
  /** Appended to the container's command + args (e.g. `nginx -t`). */
  readonly extraArgs?: string[];
}

export interface RunResult {
  readonly argv: string[];
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A started container. */
export interface RunningContainer {
  readonly container: SandboxContainer;
  readonly process: ChildProcess;
  output(): { stdout: string; stderr: string };
  /** Resolves when stdout or stderr matches; rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** The container's processes named `name` (its main process and descendants), with their ids from /proc. */
  processes(name: string): Array<{ pid: number; uid: string; gid: string; groups: string }>;
  /** Resolves when the container exits by itself. */
  wait(): Promise<RunResult>;
  /** SIGTERM to the main process (as the kubelet sends it), SIGKILL to all after `timeoutMs`; resolves on exit. */
  stop(timeoutMs?: number): Promise<RunResult>;
}

/** One HTTP request made from the pod's network. */
export interface ProbeRequest {
  readonly url: string;
  readonly headers?: Record<string, string>;
}

/** Its outcome: a status and body, or a connection error code. */
export interface ProbeResult {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly error?: string;
}

/** A listening TCP socket. */
export interface Listener {
  readonly address: string;
  readonly port: number;
}

export interface PodSandboxOptions extends VolumeContent {
  /** `'pod'`: a network namespace of the pod's own, POD_IP on its loopback. @default 'host' */
  readonly network?: 'host' | 'pod';
  /** Image stand-ins by the manifest's image reference. @default - none */
  readonly images?: (image: string, sandbox: PodSandbox) => ImageStandIn | undefined;
}

function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const out = [root];
  const walk = (p: number) => {
    for (const [c, pp] of parent)
      if (pp === p) {
        out.push(c);
        walk(c);
      }
  };
  walk(root);
  return out;
}

function hexToIpv4(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.');
}

/** One pod of a synthesized workload: its volumes, its network, its containers. */
export class PodSandbox {
  /** Creates the pod's scratch directory (and network namespace, with `network: 'pod'`). */
  public static async create(objects: K8sObject[], workload: K8sObject, options: PodSandboxOptions = {}): Promise<PodSandbox> {
    requirePrograms(...(options.network === 'pod' ? ['/usr/bin/nsenter', '/usr/bin/busybox'] : []));
    const sandbox = new PodSandbox(objects, workload, options);
    if (options.network !== 'pod') return sandbox;
    const holder = spawn(
      'unshare',
      ['--net', 'sh', '-c', `busybox ip link set lo up && busybox ip addr add ${POD_IP}/32 dev lo && echo ready && exec sleep 600`],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    sandbox.holder = holder;
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`network namespace did not start: ${err}`)), 10000);
      holder.stderr!.on('data', (d) => {
        err += d;
      });
      holder.stdout!.on('data', (d) => {
        if (String(d).includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      holder.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`network namespace exited with ${code}: ${err}`));
      });
    });
    return sandbox;
  }

  /** The pod's scratch directory (volumes, logs); removed by cleanup(). */
  public readonly dir: string;
  public readonly spec: any;
  private readonly volumes = new Map<string, string>();
  private readonly running = new Set<RunningContainer>();
  private holder?: ChildProcess;
  private started = 0;

  private constructor(
    private readonly objects: K8sObject[],
    public readonly workload: K8sObject,
    private readonly options: PodSandboxOptions,
  ) {
    this.spec = podSpec(workload);
    this.dir = scratchDir(`pod-${workload.metadata.name}`);
  }

  /** The host directory behind a volume, created on first use and shared by all containers of the pod. */
  public volumeDir(name: string): string {
    let dir = this.volumes.get(name);
    if (!dir) {
      dir = path.join(this.dir, 'volumes', name === SERVICE_ACCOUNT_PATH ? 'serviceaccount' : name);
      materializeVolume(dir, this.objects, this.workload, name, this.options);
      this.volumes.set(name, dir);
    }
    return dir;
  }

  /** A manifest container (by name, or a modified copy) as the sandbox runs it. */
  public container(nameOrContainer: string | any, opts: ContainerOptions = {}): SandboxContainer {
    const c = typeof nameOrContainer === 'string' ? this.manifestContainer(nameOrContainer) : nameOrContainer;
    const sc = c.securityContext ?? {};
    const image = opts.image ?? this.options.images?.(c.image, this) ?? {};
    const mounts: SandboxMount[] = (c.volumeMounts ?? []).map((m: any) => {
      if (m.subPath !== undefined || m.subPathExpr !== undefined) throw new Error(`subPath mounts are not emulated (${c.name}: ${m.name})`);
      const vol = (this.spec.volumes ?? []).find((v: any) => v.name === m.name);
      // ConfigMap and Secret volumes are read-only, whatever the mount says
      return { source: this.volumeDir(m.name), target: m.mountPath, readOnly: m.readOnly === true || !!vol?.configMap || !!vol?.secret };
    });
    if (this.spec.automountServiceAccountToken === true) {
      mounts.push({ source: this.volumeDir(SERVICE_ACCOUNT_PATH), target: SERVICE_ACCOUNT_PATH, readOnly: true });
    }
    // Kubernetes' rule: `command` replaces ENTRYPOINT (and drops CMD); `args` replaces CMD.
    const argv = opts.exec ?? [
      ...(c.command ? [...c.command, ...(c.args ?? [])] : [...(image.entrypoint ?? []), ...(c.args ?? image.cmd ?? [])]),
      ...(opts.extraArgs ?? []),
    ];
    if (!argv.length) throw new Error(`container "${c.name}" has no command and no image stand-in says what its image runs`);
    const base = { PATH: SANDBOX_PATH, HOME: '/', HOSTNAME: this.workload.metadata.name!, ...image.env, ...opts.runtimeEnv };
    return {
      name: c.name,
      argv,
      env: { ...manifestEnv(this.objects, this.workload, c, base, this.options), ...opts.envOverrides },
      workingDir: c.workingDir || image.workingDir || '/',
      ...identityOf(this.spec, c),
      mounts: [...(image.binds ?? []).map((b) => ({ source: b, target: b, readOnly: true })), ...mounts],
      readOnlyRoot: sc.readOnlyRootFilesystem === true,
      noNewPrivs: sc.allowPrivilegeEscalation === false,
      dropCapabilities: (sc.capabilities?.drop ?? []).includes('ALL'),
      rootfs: image.rootfs,
    };
  }

  /** Starts a container (a manifest container by name or object, or a resolved SandboxContainer). */
  public start(what: string | any, opts: ContainerOptions = {}): RunningContainer {
    const c: SandboxContainer = typeof what !== 'string' && Array.isArray(what.argv) ? what : this.container(what, opts);
    const logs = path.join(this.dir, 'logs');
    fs.mkdirSync(logs, { recursive: true });
    const n = ++this.started;
    const files = { stdout: path.join(logs, `${n}-${c.name}.stdout`), stderr: path.join(logs, `${n}-${c.name}.stderr`) };
    const fds = [files.stdout, files.stderr].map((f) => {
      const fd = fs.openSync(f, 'a');
      fs.fchownSync(fd, c.uid, c.gid);
      return fd;
    });
    const argv = ['-m', '--propagation', 'private', 'sh', '-c', containerScript(c, this.dir)];
    const child = this.holder
      ? spawn('nsenter', [`--net=/proc/${this.holder.pid}/ns/net`, 'unshare', ...argv], { stdio: ['ignore', ...fds], detached: true })
      : spawn('unshare', argv, { stdio: ['ignore', ...fds], detached: true });
    fds.forEach((fd) => fs.closeSync(fd));
    const output = () => ({ stdout: fs.readFileSync(files.stdout, 'utf8'), stderr: fs.readFileSync(files.stderr, 'utf8') });
    let exited: RunResult | undefined;
    const exit = new Promise<RunResult>((resolve) =>
      child.once('exit', (code, signal) => {
        exited = { argv: c.argv, code, signal, ...output() };
        this.running.delete(running);
        resolve(exited);
      }),
    );
    const running: RunningContainer = {
      container: c,
      process: child,
      output,
      waitFor: async (pattern, timeoutMs = 10000) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const { stdout, stderr } = output();
          if (pattern.test(stdout) || pattern.test(stderr)) return;
          if (exited)
            throw new Error(`container "${c.name}" exited (${exited.code ?? exited.signal}) before printing ${pattern}\n${stdout}\n${stderr}`);
          if (Date.now() > deadline) throw new Error(`container "${c.name}" did not print ${pattern} in ${timeoutMs} ms\n${stdout}\n${stderr}`);
          await sleep(50);
        }
      },
      processes: (name) =>
        (exited ? [] : descendants(child.pid!)).flatMap((pid) => {
          try {
            const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
            const field = (f: string) => (new RegExp(`^${f}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').trim();
            return field('Name') === name ? [{ pid, uid: field('Uid'), gid: field('Gid'), groups: field('Groups') }] : [];
          } catch {
            return [];
          }
        }),
      wait: () => exit,
      stop: async (timeoutMs = 10000) => {
        if (!exited) {
          try {
            process.kill(child.pid!, 'SIGTERM');
          } catch {
            /* gone */
          }
        }
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, timeoutMs);
        const r = await exit;
        clearTimeout(timer);
        return r;
      },
    };
    this.running.add(running);
    return running;
  }

  /** Runs a container to completion (init containers, Jobs, `kubectl exec`); throws if its sandbox could not be set up. */
  public async run(what: string | any, opts: ContainerOptions = {}, timeoutMs = 15000): Promise<RunResult> {
    const running = this.start(what, opts);
    const timer = setTimeout(() => {
      try {
        process.kill(-running.process.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    const r = await running.wait();
    clearTimeout(timer);
    if (r.signal === 'SIGKILL') throw new Error(`container "${running.container.name}" did not finish in ${timeoutMs} ms\n${r.stdout}\n${r.stderr}`);
    if (r.code === SETUP_FAILED) throw new Error(`container "${running.container.name}" could not start:\n${r.stderr}\n${r.stdout}`);
    return r;
  }

  /** Listening TCP sockets in the pod's network namespace. */
  public listeners(): Listener[] {
    const out: Listener[] = [];
    for (const file of ['tcp', 'tcp6']) {
      const text = fs.readFileSync(`/proc/${this.holder?.pid ?? 'self'}/net/${file}`, 'utf8');
      for (const line of text.split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols.length < 4 || cols[3] !== '0A') continue;
        const [addr, port] = cols[1].split(':');
        out.push({ address: file === 'tcp' ? hexToIpv4(addr) : /^0+$/.test(addr) ? '::' : addr, port: parseInt(port, 16) });
      }
    }
    return out;
  }

  /** Waits until something listens on `port`; fails early, with its output, when `container` exits. */
  public async waitListening(port: number, container: RunningContainer, timeoutMs = 10000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.listeners().some((l) => l.port === port)) {
      const exited = container.process.exitCode !== null || container.process.signalCode !== null;
      if (exited || Date.now() > deadline) {
        const { stdout, stderr } = container.output();
        throw new Error(
          `${container.container.name} did not listen on port ${port} (${exited ? 'it exited' : `${timeoutMs} ms`})\n${stdout}${stderr}`,
        );
      }
      await sleep(50);
    }
  }

  /** Sends HTTP requests from the pod's network (one after the other, no connection reuse). */
  public http(requests: ProbeRequest[]): ProbeResult[] {
    const argv = [process.execPath, PROBE, JSON.stringify(requests)];
    const r = this.holder
      ? spawnSync('nsenter', [`--net=/proc/${this.holder.pid}/ns/net`, ...argv], { encoding: 'utf8', timeout: 15000 })
      : spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 15000 });
    if (r.status !== 0) throw new Error(`http probe failed (${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout) as ProbeResult[];
  }

  /** Polls one URL until `accept` holds or `timeoutMs` passes; returns the last result. */
  public async httpUntil(req: ProbeRequest, accept: (r: ProbeResult) => boolean, timeoutMs = 10000): Promise<ProbeResult> {
    const deadline = Date.now() + timeoutMs;
    let last: ProbeResult = {};
    while (Date.now() < deadline) {
      last = this.http([req])[0];
      if (accept(last)) return last;
      await sleep(100);
    }
    return last;
  }

  /** Kills what still runs and the network namespace, and removes the scratch directory. */
  public async cleanup(): Promise<void> {
    await Promise.all([...this.running].map((c) => c.stop(0)));
    if (this.holder && this.holder.exitCode === null) {
      const gone = new Promise((resolve) => this.holder!.once('exit', resolve));
      try {
        process.kill(-this.holder.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      await gone;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private manifestContainer(name: string): any {
    const c = [...(this.spec.initContainers ?? []), ...(this.spec.containers ?? [])].find((x: any) => x.name === name);
    if (!c) throw new Error(`no container "${name}" in ${this.workload.kind}/${this.workload.metadata.name}`);
    return c;
  }
}

/** A plain HTTP(S) response with the raw body bytes. */
export interface HttpResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request from the test process, without decompression, redirects or connection reuse. */
export function request(url: string, opts: { method?: string; headers?: Record<string, string>; ca?: string } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: false, timeout: 5000, ...(opts.ca ? { ca: opts.ca } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}
