/**
 * Runs the synthesized wiring for real: the init container's command/args
 * (or the stand-in image's ENTRYPOINT plus the manifest's args), and the app
 * container's view of the volume, each in its own mount namespace with the
 * volumes bind-mounted at their real paths, the root filesystem read-only when
 * the manifest says so, as the manifest's UID/GID/fsGroup, with
 * no_new_privs. Nothing here copies a command, a path or a user from the
 * construct: everything is read from the synthesized objects.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { ImmutableConfigInitChart, ImmutableConfigMapChart } from '../charts/immutable-config-init';
import { CopyStyle, ImmutableConfigInit } from '../lib/immutable-config-init';
import { hardenedContainer, hardenedPodProps } from '../lib/security';
import { K8sObject } from './support/gate';
import { findContainer, findObject, synthObjects, testChart } from './support/synth';

const FIXTURES = path.join(__dirname, 'fixtures', 'immutable-config-init');
const SEED_CONFIG_BYTES = fs.readFileSync(path.join(FIXTURES, 'config-image', 'rootfs', 'src', 'config.cfg'));

// ------------------------------------------------------------ stand-ins ---

const REQUIRED_FILES: Array<[string, string]> = [
  ['/usr/bin/unshare', 'util-linux'],
  ['/usr/bin/setpriv', 'util-linux'],
  ['/usr/sbin/chroot', 'coreutils'],
  ['/usr/bin/env', 'coreutils'],
  ['/usr/bin/busybox', 'busybox'],
  ['/usr/bin/python3', 'python3'],
  ['/usr/bin/uwsgi', 'uwsgi-core'],
  ['/usr/lib/uwsgi/plugins/python3_plugin.so', 'uwsgi-plugin-python3'],
  ['/usr/lib/python3/dist-packages/flask/__init__.py', 'python3-flask'],
];

function requireStandIns(): void {
  const missing = REQUIRED_FILES.filter(([f]) => !fs.existsSync(f));
  if (missing.length) {
    throw new Error(`the runtime proofs need ${missing.map(([f, pkg]) => `${f} (Debian package ${pkg})`).join(', ')}: apt-get install ${[...new Set(missing.map(([, p]) => p))].join(' ')}`);
  }
  if (process.getuid?.() !== 0) throw new Error('the runtime proofs need root (mount namespaces, chroot, setpriv)');
}

/** An image stand-in: a root filesystem plus the OCI config fields that decide how a container starts. */
interface StandInImage {
  readonly rootfs: string;
  readonly entrypoint: string[] | null;
  readonly cmd: string[] | null;
  readonly env: string[];
  readonly workingDir: string;
  /** Host directories bound read-only at the same path: the image's system files. */
  readonly binds: string[];
}

const tmpDirs: string[] = [];
function tmpDir(prefix: string, mode = 0o755): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `ici-${prefix}-`));
  fs.chmodSync(d, mode);
  tmpDirs.push(d);
  return d;
}

/** Copies a fixture root filesystem the way `ADD`/`COPY` lays it out: root-owned, dirs 0755, files 0644. */
function copyRootfs(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    fs.lchownSync(p, 0, 0);
    if (st.isDirectory()) { fs.chmodSync(p, 0o755); for (const e of fs.readdirSync(p)) walk(path.join(p, e)); } else if (st.isFile()) fs.chmodSync(p, 0o644);
  };
  walk(to);
}

function baseRootfs(fixture: string): { rootfs: string; config: any } {
  const rootfs = tmpDir('rootfs');
  copyRootfs(path.join(FIXTURES, fixture, 'rootfs'), rootfs);
  for (const d of ['proc', 'dev', 'tmp', '.standin']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.writeFileSync(path.join(rootfs, '.standin', 'env'), ''); // bind target for the host's env(1), which sets cwd and env after chroot
  return { rootfs, config: JSON.parse(fs.readFileSync(path.join(FIXTURES, fixture, 'image.json'), 'utf8')) };
}

/** busybox-based config image: Debian's busybox and its applets in /bin, the host's libc below /usr/lib*. */
function configImage(extra?: (rootfs: string) => void): StandInImage {
  const { rootfs, config } = baseRootfs('config-image');
  fs.mkdirSync(path.join(rootfs, 'bin'));
  fs.copyFileSync('/usr/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  const applets = spawnSync('/usr/bin/busybox', ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
  fs.mkdirSync(path.join(rootfs, 'usr', 'lib'), { recursive: true });
  fs.mkdirSync(path.join(rootfs, 'usr', 'lib64'), { recursive: true });
  fs.symlinkSync('usr/lib', path.join(rootfs, 'lib'));
  fs.symlinkSync('usr/lib64', path.join(rootfs, 'lib64'));
  extra?.(rootfs);
  return { rootfs, entrypoint: config.Entrypoint, cmd: config.Cmd, env: config.Env, workingDir: config.WorkingDir, binds: ['/usr/lib', '/usr/lib64'] };
}

/** The seed's Flask image: its /app over the host's /usr (python3, Flask, uWSGI) and /etc. */
function appImage(): StandInImage {
  const { rootfs, config } = baseRootfs('app-image');
  for (const d of ['usr', 'etc']) fs.mkdirSync(path.join(rootfs, d));
  for (const l of ['bin', 'sbin', 'lib', 'lib64']) fs.symlinkSync(`usr/${l}`, path.join(rootfs, l));
  const standIn = Object.entries<string>(config.StandInEnv ?? {}).filter(([k]) => !k.startsWith('_')).map(([k, v]) => `${k}=${v}`);
  return { rootfs, entrypoint: config.Entrypoint, cmd: config.Cmd, env: [...config.Env, ...standIn], workingDir: config.WorkingDir, binds: ['/usr', '/etc'] };
}

// ------------------------------------------------------------- volumes ---

/** An emptyDir as the kubelet makes it: mode 0777, and with fsGroup group-owned by it with the setgid bit. */
function emptyDir(pod: any): string {
  const d = tmpDir('emptydir', 0o777);
  const fsGroup = pod.securityContext?.fsGroup;
  if (fsGroup !== undefined) { fs.chownSync(d, 0, fsGroup); fs.chmodSync(d, 0o2777); }
  return d;
}

/** A configMap volume's files as the kubelet writes them (mode 0644 unless defaultMode says otherwise). */
function configMapDir(cm: K8sObject, volume: any): string {
  const d = tmpDir('configmap');
  const mode = volume.configMap.defaultMode ?? 0o644;
  for (const [k, v] of Object.entries<string>(cm.data ?? {})) { fs.writeFileSync(path.join(d, k), v); fs.chmodSync(path.join(d, k), mode); }
  for (const [k, v] of Object.entries<string>(cm.binaryData ?? {})) { fs.writeFileSync(path.join(d, k), Buffer.from(v, 'base64')); fs.chmodSync(path.join(d, k), mode); }
  return d;
}

// ----------------------------------------------------------- container ---

const q = (s: string | number) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** Kubernetes' rule: `command` replaces ENTRYPOINT (and drops CMD); `args` replaces CMD. */
function resolveArgv(container: any, image: StandInImage): string[] {
  if (container.command) return [...container.command, ...(container.args ?? [])];
  return [...(image.entrypoint ?? []), ...(container.args ?? image.cmd ?? [])];
}

interface RunOptions {
  readonly image: StandInImage;
  readonly pod: any;
  readonly container: any;
  /** Pod volume name -> host directory. */
  readonly volumes: Record<string, string>;
  /** Run this instead of the container's own process, like `kubectl exec`. */
  readonly exec?: string[];
  /** Run the process in the background in its own network namespace and GET this URL on its loopback. */
  readonly serve?: { port: number; path: string };
}

interface RunResult {
  readonly argv: string[];
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly http?: { status: number; body: string };
  readonly serverLog?: string;
  readonly serverExit?: number;
}

const HTTP_CLIENT = [
  'import json, sys, urllib.request, urllib.error',
  'try:',
  '    r = urllib.request.urlopen(sys.argv[1], timeout=5)',
  "    print(json.dumps({'status': r.status, 'body': r.read().decode()}))",
  'except urllib.error.HTTPError as e:',
  "    print(json.dumps({'status': e.code, 'body': e.read().decode()}))",
].join('\n');

/** Starts the container as the manifest says, in a private mount (and pid, and for `serve` network) namespace. */
function runContainer(o: RunOptions): RunResult {
  const { image, pod, container } = o;
  const R = image.rootfs;
  const sc = container.securityContext ?? {};
  const psc = pod.securityContext ?? {};
  const uid = sc.runAsUser ?? psc.runAsUser;
  const gid = sc.runAsGroup ?? psc.runAsGroup;
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`container "${container.name}" has no runAsUser/runAsGroup to run as`);
  const groups = [...new Set([gid, psc.fsGroup, ...(psc.supplementalGroups ?? [])].filter((g) => g !== undefined))];
  const env = [...image.env];
  for (const e of container.env ?? []) {
    if (e.value === undefined) throw new Error(`env ${e.name}: only literal values are supported by this harness`);
    env.push(`${e.name}=${e.value}`);
  }
  const argv = o.exec ?? resolveArgv(container, image);
  if (!argv.length) throw new Error(`container "${container.name}" has nothing to run`);
  const workingDir = container.workingDir || image.workingDir || '/';

  const fail = (what: string) => `|| { echo ${q(`stand-in setup failed: ${what}`)} >&2; exit 125; }`;
  const lines: string[] = [`mount --bind ${q(R)} ${q(R)} ${fail('root bind')}`];
  for (const b of image.binds) {
    lines.push(`mount --bind ${q(b)} ${q(R + b)} ${fail(b)}`, `mount -o remount,bind,ro ${q(R + b)} ${fail(`${b} ro`)}`);
  }
  lines.push(`mount --bind /usr/bin/env ${q(`${R}/.standin/env`)} ${fail('env')}`);
  lines.push(`mount -t proc proc ${q(`${R}/proc`)} ${fail('proc')}`);
  lines.push(`mount -t tmpfs -o mode=0755,size=64k tmpfs ${q(`${R}/dev`)} ${fail('dev')}`);
  for (const n of ['null', 'zero', 'random', 'urandom']) {
    lines.push(`touch ${q(`${R}/dev/${n}`)} && mount --bind /dev/${n} ${q(`${R}/dev/${n}`)} ${fail(`/dev/${n}`)}`);
  }
  for (const m of container.volumeMounts ?? []) {
    const host = o.volumes[m.name];
    if (!host) throw new Error(`container "${container.name}" mounts volume "${m.name}", which the test did not provide`);
    if (m.subPath !== undefined || m.subPathExpr !== undefined) throw new Error('subPath mounts are not supported by this harness');
    const target = R + m.mountPath;
    lines.push(`mkdir -p ${q(target)} && mount --bind ${q(host)} ${q(target)} ${fail(m.mountPath)}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${q(target)} ${fail(`${m.mountPath} ro`)}`);
  }
  if (sc.readOnlyRootFilesystem) lines.push(`mount -o remount,bind,ro ${q(R)} ${fail('root ro')}`);
  const start = [
    '/usr/bin/setpriv', ...(sc.allowPrivilegeEscalation === false ? ['--no-new-privs'] : []),
    '/usr/sbin/chroot', `--userspec=${uid}:${gid}`, `--groups=${groups.join(',')}`, R,
    '/.standin/env', '-i', '-C', workingDir, ...env, ...argv,
  ].map(q).join(' ');

  const unshare = ['--mount', '--pid', '--fork', '--kill-child', '--propagation', 'private'];
  let bodyFile = '';
  let logFile = '';
  if (!o.serve) {
    lines.push(`exec ${start}`);
  } else {
    unshare.push('--net');
    const work = tmpDir('serve');
    bodyFile = path.join(work, 'response.json');
    logFile = path.join(work, 'server.log');
    const url = `http://127.0.0.1:${o.serve.port}${o.serve.path}`;
    lines.push(
      `/usr/bin/busybox ip link set lo up ${fail('loopback')}`,
      `${start} >${q(logFile)} 2>&1 &`,
      'pid=$!',
      'i=0',
      `while [ $i -lt 150 ]; do /usr/bin/python3 -c ${q(HTTP_CLIENT)} ${q(url)} >${q(bodyFile)} 2>/dev/null && break; kill -0 $pid 2>/dev/null || break; i=$((i+1)); sleep 0.1; done`,
      'kill -TERM $pid 2>/dev/null',
      '( sleep 10; kill -KILL $pid 2>/dev/null ) & watchdog=$!',
      'wait $pid; code=$?',
      'kill $watchdog 2>/dev/null',
      'echo "server-exit=$code"',
    );
  }
  const r = spawnSync('/usr/bin/unshare', [...unshare, '/bin/sh', '-c', lines.join('\n')], {
    encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL',
  });
  if (r.error) throw r.error;
  if (r.status === 125) throw new Error(`${r.stderr}\n${r.stdout}`);
  const result: RunResult = { argv, status: r.status, stdout: r.stdout, stderr: r.stderr };
  if (!o.serve) return result;
  const raw = fs.existsSync(bodyFile) ? fs.readFileSync(bodyFile, 'utf8').trim() : '';
  const exit = /server-exit=(\d+)/.exec(r.stdout);
  return {
    ...result,
    http: raw ? JSON.parse(raw) : undefined,
    serverLog: fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '',
    serverExit: exit ? Number(exit[1]) : undefined,
  };
}

/** Looks at a file the way the app container sees it: bytes, owner, mode, and whether it can be changed. */
const PROBE = [
  'import json, os, sys',
  'p = sys.argv[1]',
  'st = os.stat(p)',
  "out = {'hex': open(p, 'rb').read().hex(), 'uid': st.st_uid, 'gid': st.st_gid, 'mode': oct(st.st_mode & 0o7777), 'islink': os.path.islink(p)}",
  'def attempt(name, fn):',
  '    try:',
  '        fn()',
  "        out[name] = 'ok'",
  '    except OSError as e:',
  '        out[name] = os.strerror(e.errno)',
  "attempt('append', lambda: open(p, 'ab').write(b'x'))",
  "attempt('create', lambda: open(os.path.join(os.path.dirname(p), 'new-file'), 'wb').close())",
  "attempt('remove', lambda: os.remove(p))",
  'print(json.dumps(out))',
].join('\n');

function probeFile(o: Omit<RunOptions, 'exec' | 'serve'>, file: string): any {
  const r = runContainer({ ...o, exec: ['python3', '-c', PROBE, file] });
  if (r.status !== 0) throw new Error(`probe failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Every path below a directory with its type, for before/after comparisons. */
function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const st = fs.lstatSync(path.join(root, rel));
    out.push(`${rel} ${st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'f'} ${st.size}`);
    if (st.isDirectory()) for (const e of fs.readdirSync(path.join(root, rel)).sort()) walk(path.join(rel, e));
  };
  walk('.');
  return out;
}

function podSpec(workload: K8sObject): any {
  return workload.spec.template.spec;
}

/** The volume a container mounts at `mountPath`, from the manifest. */
function mountAt(container: any, mountPath: string): any {
  const m = (container.volumeMounts ?? []).find((x: any) => x.mountPath === mountPath);
  if (!m) throw new Error(`container "${container.name}" mounts nothing at ${mountPath}`);
  return m;
}

beforeAll(requireStandIns);
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

// --------------------------------------------------------------- proofs ---

describe('the seed chart (CopyStyle.ENTRYPOINT) runs as synthesized', () => {
  let objects: K8sObject[];
  let dep: K8sObject;
  let pod: any;
  let init: any;
  let app: any;
  let volume: string;
  let configImg: StandInImage;
  let appImg: StandInImage;
  let initRun: RunResult;
  let configTreeBefore: string[];

  beforeAll(() => {
    // GIVEN the seed chart as synthesized, and stand-ins for its two images
    objects = synthObjects(new ImmutableConfigInitChart(Testing.app(), 'seed'));
    dep = findObject(objects, 'Deployment', 'myflaskapp');
    pod = podSpec(dep);
    init = findContainer(dep, 'appconfig');
    app = findContainer(dep, 'app');
    volume = emptyDir(pod);
    configImg = configImage();
    appImg = appImage();
    configTreeBefore = listTree(configImg.rootfs);
    // WHEN the init container runs
    initRun = runContainer({ image: configImg, pod, container: init, volumes: { [init.volumeMounts[0].name]: volume } });
  });

  test('the init container runs the image ENTRYPOINT with the destination as its argument, as non-root on a read-only root', () => {
    expect(init.command).toBeUndefined();
    expect(initRun.argv).toEqual(['sh', '-c', 'cp /src/config.cfg $1', '--', '/config']);
    expect(init.securityContext).toMatchObject({ runAsUser: 65532, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect({ status: initRun.status, stderr: initRun.stderr }).toEqual({ status: 0, stderr: '' });
  });

  test('the copy lands in the emptyDir with the exact bytes, owned by the init user and readable by others', () => {
    expect(fs.readdirSync(volume)).toEqual(['config.cfg']);
    expect(fs.readFileSync(path.join(volume, 'config.cfg')).equals(SEED_CONFIG_BYTES)).toBe(true);
    const st = fs.statSync(path.join(volume, 'config.cfg'));
    expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }).toEqual({ uid: 65532, gid: pod.securityContext.fsGroup, mode: 0o644 });
  });

  test('the init container wrote nothing but the emptyDir (its root filesystem is unchanged)', () => {
    // the runtime creates the mountpoint; everything else must be as the image shipped it
    const mountpoint = `${init.volumeMounts[0].mountPath.slice(1)} d `;
    expect(listTree(configImg.rootfs).filter((l) => !l.startsWith(mountpoint))).toEqual(configTreeBefore);
  });

  test('the app container sees the exact bytes at the path the app reads, and cannot change them', () => {
    const mount = mountAt(app, '/config');
    expect(mount).toEqual({ name: init.volumeMounts[0].name, mountPath: '/config', readOnly: true });
    // the seed app reads /config/config.cfg
    expect(fs.readFileSync(path.join(FIXTURES, 'app-image', 'rootfs', 'app', 'main.py'), 'utf8')).toContain(`from_pyfile('${mount.mountPath}/config.cfg')`);
    const seen = probeFile({ image: appImg, pod, container: app, volumes: { [mount.name]: volume } }, `${mount.mountPath}/config.cfg`);
    expect(Buffer.from(seen.hex, 'hex').equals(SEED_CONFIG_BYTES)).toBe(true);
    expect(seen).toMatchObject({ append: 'Read-only file system', create: 'Read-only file system', remove: 'Read-only file system' });
    expect(fs.readFileSync(path.join(volume, 'config.cfg')).equals(SEED_CONFIG_BYTES)).toBe(true);
  });

  test('the seed app, started with the manifest command, env and user, answers its readiness probe with the config', () => {
    const probe = app.readinessProbe.httpGet;
    const r = runContainer({
      image: appImg, pod, container: app, volumes: { [mountAt(app, '/config').name]: volume },
      serve: { port: probe.port, path: probe.path },
    });
    expect(r.argv).toEqual(app.command);
    expect(r.http).toEqual({ status: 200, body: 'Welcome to Flask' });
    // --die-on-term: SIGTERM stops uWSGI (without it, uWSGI 2.0 reloads and the watchdog has to SIGKILL it)
    expect(r.serverExit).not.toBe(137);
    expect(r.serverLog).toMatch(/goodbye to uWSGI/);
  });

  test('control: without the destination argument the seed ENTRYPOINT fails, so the app would never start', () => {
    const empty = emptyDir(pod);
    const { args, ...withoutArgs } = init;
    expect(args).toEqual(['/config']);
    const r = runContainer({ image: configImg, pod, container: withoutArgs, volumes: { [init.volumeMounts[0].name]: empty } });
    expect(r.argv).toEqual(['sh', '-c', 'cp /src/config.cfg $1', '--']);
    expect(r.status).not.toBe(0);
    expect(fs.readdirSync(empty)).toEqual([]);
  });

  test('control: a writable mount would have let the app change its config', () => {
    const scratch = emptyDir(pod);
    fs.copyFileSync(path.join(volume, 'config.cfg'), path.join(scratch, 'config.cfg'));
    fs.chownSync(path.join(scratch, 'config.cfg'), 65532, pod.securityContext.fsGroup);
    const writable = { ...app, volumeMounts: app.volumeMounts.map((m: any) => ({ ...m, readOnly: false })) };
    const seen = probeFile({ image: appImg, pod, container: writable, volumes: { [mountAt(app, '/config').name]: scratch } }, '/config/config.cfg');
    expect(seen).toMatchObject({ append: 'ok', create: 'ok', remove: 'ok' });
  });
});

describe('CopyStyle.COMMAND runs as synthesized', () => {
  test('the seed chart with CopyStyle.COMMAND copies with the image shell, overriding its ENTRYPOINT', () => {
    // GIVEN the chart with an explicit copy command
    const objects = synthObjects(new ImmutableConfigInitChart(Testing.app(), 'seed', { copyStyle: CopyStyle.COMMAND }));
    const dep = findObject(objects, 'Deployment', 'myflaskapp');
    const pod = podSpec(dep);
    const init = findContainer(dep, 'appconfig');
    const app = findContainer(dep, 'app');
    const volume = emptyDir(pod);
    // WHEN the init container runs, then the app container looks
    const r = runContainer({ image: configImage(), pod, container: init, volumes: { [init.volumeMounts[0].name]: volume } });
    // THEN the command ran (not the ENTRYPOINT) and the app sees the exact bytes, read-only
    expect(r.argv).toEqual([...init.command, ...init.args]);
    expect(r.argv.slice(-1)).toEqual(['/config']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const seen = probeFile({ image: appImage(), pod, container: app, volumes: { [mountAt(app, '/config').name]: volume } }, '/config/config.cfg');
    expect(Buffer.from(seen.hex, 'hex').equals(SEED_CONFIG_BYTES)).toBe(true);
    expect(seen).toMatchObject({ append: 'Read-only file system', create: 'Read-only file system' });
  });

  test('a Job with files and a directory: the copy works as another non-root user, follows symlinks, keeps no ownership', () => {
    // GIVEN a Job whose pod runs as 1000/1000 with fsGroup 2000, and a config image with a file and a directory holding a symlink
    const chart = testChart();
    const job = new kplus.Job(chart, 'Job', {
      metadata: { name: 'migrate' },
      ...hardenedPodProps({ user: 1000, fsGroup: 2000 }),
      containers: [hardenedContainer({ name: 'migrate', image: 'python:3.12-slim' }, { user: 3000 })],
    });
    new ImmutableConfigInit(chart, 'Config', {
      workload: job, image: 'busybox:1.36.1', configPaths: ['/src/config.cfg', '/etc/flask'], mountPath: '/srv/config',
    });
    const objects = synthObjects(chart);
    const jobObj = findObject(objects, 'Job', 'migrate');
    const pod = podSpec(jobObj);
    const init = findContainer(jobObj, 'copy-config');
    const app = findContainer(jobObj, 'migrate');
    const image = configImage((rootfs) => {
      fs.mkdirSync(path.join(rootfs, 'etc', 'flask'), { recursive: true });
      fs.writeFileSync(path.join(rootfs, 'etc', 'flask', 'a.cfg'), 'A = 1\n', { mode: 0o644 });
      fs.symlinkSync('a.cfg', path.join(rootfs, 'etc', 'flask', 'current.cfg'));
    });
    const volume = emptyDir(pod);
    // WHEN the init container runs
    const r = runContainer({ image, pod, container: init, volumes: { [init.volumeMounts[0].name]: volume } });
    // THEN it ran as the pod's user, quietly (no "can't preserve ownership"), and copied everything
    expect(init.securityContext).toMatchObject({ runAsUser: 1000, runAsGroup: 1000 });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(listTree(volume).map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['. d', 'config.cfg f', 'flask d', 'flask/a.cfg f', 'flask/current.cfg f']);
    const seen = probeFile({ image: appImage(), pod, container: app, volumes: { [mountAt(app, '/srv/config').name]: volume } }, '/srv/config/flask/current.cfg');
    // the app (UID 3000) reads through the "other" bits; the read-only mount refuses changes
    expect(app.securityContext.runAsUser).toBe(3000);
    expect(seen).toMatchObject({ islink: false, uid: 1000, gid: 2000, mode: '0o644', create: 'Read-only file system', remove: 'Read-only file system' });
    expect(seen.append).not.toBe('ok');
    expect(Buffer.from(seen.hex, 'hex').toString()).toBe('A = 1\n');
  });

  test('control: a missing config path fails the init container, so the app would never start', () => {
    const chart = testChart();
    const dep = new kplus.Deployment(chart, 'Web', { ...hardenedPodProps(), containers: [hardenedContainer({ name: 'web', image: 'nginx:1.27' })] });
    new ImmutableConfigInit(chart, 'Config', { workload: dep, image: 'busybox:1.36.1', configPaths: ['/src/missing.cfg'], mountPath: '/config' });
    const depObj = findObject(synthObjects(chart), 'Deployment');
    const init = findContainer(depObj, 'copy-config');
    const volume = emptyDir(podSpec(depObj));
    const r = runContainer({ image: configImage(), pod: podSpec(depObj), container: init, volumes: { [init.volumeMounts[0].name]: volume } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/missing\.cfg/);
  });
});

describe('the immutable-ConfigMap chart runs as synthesized', () => {
  test('the seed app serves the config from the hashed ConfigMap, mounted read-only', () => {
    // GIVEN the chart's objects, and the ConfigMap's files as the kubelet would write them
    const objects = synthObjects(new ImmutableConfigMapChart(Testing.app(), 'cm'));
    const dep = findObject(objects, 'Deployment', 'myflaskapp-cm');
    const pod = podSpec(dep);
    const app = findContainer(dep, 'app');
    const mount = mountAt(app, '/config');
    const vol = pod.volumes.find((v: any) => v.name === mount.name);
    const cm = findObject(objects, 'ConfigMap', vol.configMap.name);
    const dir = configMapDir(cm, vol);
    // WHEN the app container looks and then serves
    const seen = probeFile({ image: appImage(), pod, container: app, volumes: { [mount.name]: dir } }, '/config/config.cfg');
    const probe = app.readinessProbe.httpGet;
    const r = runContainer({ image: appImage(), pod, container: app, volumes: { [mount.name]: dir }, serve: { port: probe.port, path: probe.path } });
    // THEN the bytes are the seed's and read-only, and the app answers with them
    expect(Buffer.from(seen.hex, 'hex').equals(SEED_CONFIG_BYTES)).toBe(true);
    expect(seen).toMatchObject({ create: 'Read-only file system', remove: 'Read-only file system' });
    expect(seen.append).not.toBe('ok');
    expect(r.http).toEqual({ status: 200, body: 'Welcome to Flask' });
  });
});
