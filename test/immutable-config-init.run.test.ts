/**
 * Runs the synthesized wiring for real: the init container's command/args
 * (or the stand-in image's ENTRYPOINT plus the manifest's args), and the app
 * container's view of the volume, each in its own mount namespace with the
 * volumes bind-mounted at their real paths, the root filesystem read-only when
 * the manifest says so, as the manifest's UID/GID/fsGroup, with
 * no_new_privs. Nothing here copies a command, a path or a user from the
 * construct: everything is read from the synthesized objects.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { ImmutableConfigInitChart, ImmutableConfigMapChart } from '../charts/immutable-config-init';
import { CopyStyle, ImmutableConfigInit } from '../lib/immutable-config-init';
import { hardenedContainer, hardenedPodProps } from '../lib/security';
import { appImage, configImage, removeStandIns, requireStandIns } from './fixtures/immutable-config-init/images';
import { K8sObject } from '../lib/testing';
import { ImageStandIn, podSpec, PodSandbox, RunResult } from './support/pod-sandbox';
import { findContainer, findObject, synthObjects, testChart } from './support/synth';
import { emptyDirUsage, reportUsage } from './support/disk-usage';

const FIXTURES = path.join(__dirname, 'fixtures', 'immutable-config-init');
const SEED_CONFIG_BYTES = fs.readFileSync(path.join(FIXTURES, 'config-image', 'rootfs', 'src', 'config.cfg'));

const sandboxes: PodSandbox[] = [];

/** A fresh pod of the workload: its own volumes (an empty emptyDir) and network. */
async function podOf(objects: K8sObject[], workload: K8sObject): Promise<PodSandbox> {
  const pod = await PodSandbox.create(objects, workload, { network: 'pod' });
  sandboxes.push(pod);
  return pod;
}

/**
 * Starts the app container as the manifest says, GETs its readiness probe
 * from inside the pod, then stops it with SIGTERM (SIGKILL after 10 s).
 */
async function serve(pod: PodSandbox, container: any, image: ImageStandIn) {
  const probe = container.readinessProbe.httpGet;
  const server = pod.start(container, { image });
  const exited = () => server.process.exitCode !== null || server.process.signalCode !== null;
  const res = await pod.httpUntil({ url: `http://127.0.0.1:${probe.port}${probe.path}` }, (r) => r.status !== undefined || exited(), 15000);
  const stopped = await server.stop(10000);
  return {
    argv: stopped.argv,
    http: res.status === undefined ? undefined : { status: res.status, body: res.body },
    serverLog: `${stopped.stdout}${stopped.stderr}`,
    killed: stopped.signal === 'SIGKILL',
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

async function probeFile(pod: PodSandbox, container: any, image: ImageStandIn, file: string): Promise<any> {
  const r = await pod.run(container, { image, exec: ['python3', '-c', PROBE, file] });
  if (r.code !== 0) throw new Error(`probe failed (${r.code}): ${r.stderr}`);
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

/** The volume a container mounts at `mountPath`, from the manifest. */
function mountAt(container: any, mountPath: string): any {
  const m = (container.volumeMounts ?? []).find((x: any) => x.mountPath === mountPath);
  if (!m) throw new Error(`container "${container.name}" mounts nothing at ${mountPath}`);
  return m;
}

beforeAll(requireStandIns);
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.cleanup()));
  removeStandIns();
});

// --------------------------------------------------------------- proofs ---

describe('the seed chart (CopyStyle.ENTRYPOINT) runs as synthesized', () => {
  let objects: K8sObject[];
  let dep: K8sObject;
  let pod: PodSandbox;
  let spec: any;
  let init: any;
  let app: any;
  let volume: string;
  let configImg: ReturnType<typeof configImage>;
  let appImg: ReturnType<typeof appImage>;
  let initRun: RunResult;
  let configTreeBefore: string[];

  beforeAll(async () => {
    // GIVEN the seed chart as synthesized, and stand-ins for its two images
    objects = synthObjects(new ImmutableConfigInitChart(Testing.app(), 'seed'));
    dep = findObject(objects, 'Deployment', 'myflaskapp');
    spec = podSpec(dep);
    init = findContainer(dep, 'appconfig');
    app = findContainer(dep, 'app');
    pod = await podOf(objects, dep);
    volume = pod.volumeDir(init.volumeMounts[0].name);
    configImg = configImage();
    appImg = appImage();
    configTreeBefore = listTree(configImg.rootfs);
    // WHEN the init container runs
    initRun = await pod.run(init, { image: configImg });
  });

  test('the init container runs the image ENTRYPOINT with the destination as its argument, as non-root on a read-only root', async () => {
    expect(init.command).toBeUndefined();
    expect(initRun.argv).toEqual(['sh', '-c', 'cp /src/config.cfg $1', '--', '/config']);
    expect(init.securityContext).toMatchObject({ runAsUser: 65532, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect({ code: initRun.code, stderr: initRun.stderr }).toEqual({ code: 0, stderr: '' });
    const write = await pod.run(init, { image: configImg, exec: ['sh', '-c', 'touch /written && id -u'] });
    expect({ code: write.code, stderr: write.stderr }).toEqual({ code: 1, stderr: expect.stringMatching(/Read-only file system/) });
  });

  test('the copy lands in the emptyDir with the exact bytes, owned by the init user and readable by others', () => {
    expect(fs.readdirSync(volume)).toEqual(['config.cfg']);
    expect(fs.readFileSync(path.join(volume, 'config.cfg')).equals(SEED_CONFIG_BYTES)).toBe(true);
    const st = fs.statSync(path.join(volume, 'config.cfg'));
    expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }).toEqual({ uid: 65532, gid: spec.securityContext.fsGroup, mode: 0o644 });
  });

  test('the init container wrote nothing but the emptyDir (its root filesystem is unchanged)', () => {
    // the runtime creates the mountpoint; everything else must be as the image shipped it
    const mountpoint = `${init.volumeMounts[0].mountPath.slice(1)} d `;
    expect(listTree(configImg.rootfs).filter((l) => !l.startsWith(mountpoint))).toEqual(configTreeBefore);
  });

  test('the app container sees the exact bytes at the path the app reads, and cannot change them', async () => {
    const mount = mountAt(app, '/config');
    expect(mount).toEqual({ name: init.volumeMounts[0].name, mountPath: '/config', readOnly: true });
    // the seed app reads /config/config.cfg
    expect(fs.readFileSync(path.join(FIXTURES, 'app-image', 'rootfs', 'app', 'main.py'), 'utf8')).toContain(
      `from_pyfile('${mount.mountPath}/config.cfg')`,
    );
    const seen = await probeFile(pod, app, appImg, `${mount.mountPath}/config.cfg`);
    expect(Buffer.from(seen.hex, 'hex').equals(SEED_CONFIG_BYTES)).toBe(true);
    expect(seen).toMatchObject({ append: 'Read-only file system', create: 'Read-only file system', remove: 'Read-only file system' });
    expect(fs.readFileSync(path.join(volume, 'config.cfg')).equals(SEED_CONFIG_BYTES)).toBe(true);
  });

  test('the seed app, started with the manifest command, env and user, answers its readiness probe with the config', async () => {
    expect(mountAt(app, '/config').name).toBe(init.volumeMounts[0].name);
    const r = await serve(pod, app, appImg);
    expect(r.argv).toEqual(app.command);
    expect(r.http).toEqual({ status: 200, body: 'Welcome to Flask' });
    // --die-on-term: SIGTERM stops uWSGI (without it, uWSGI 2.0 reloads and the watchdog has to SIGKILL it)
    expect(r.killed).toBe(false);
    expect(r.serverLog).toMatch(/goodbye to uWSGI/);
  });

  test("after the copy and the app's start, the config emptyDir uses at most 1% of its sizeLimit", async () => {
    // GIVEN the copied config (the beforeAll's init run) and the app having served from it
    expect((await serve(pod, app, appImg)).http?.status).toBe(200);
    // WHEN the emptyDir is measured as the kubelet does (du: allocated blocks)
    const usage = emptyDirUsage(dep, [init.volumeMounts[0].name], (v) => pod.volumeDir(v));
    reportUsage('ImmutableConfigInitChart', usage);
    // THEN it holds at most 1% of its limit (the seed's config; a larger config is the user's to size with sizeLimit)
    expect(usage[0].usedBytes).toBeGreaterThanOrEqual(SEED_CONFIG_BYTES.length);
    expect(usage[0].usedBytes).toBeLessThanOrEqual(usage[0].limitBytes / 100);
  });

  test('control: without the destination argument the seed ENTRYPOINT fails, so the app would never start', async () => {
    const fresh = await podOf(objects, dep);
    const empty = fresh.volumeDir(init.volumeMounts[0].name);
    const { args, ...withoutArgs } = init;
    expect(args).toEqual(['/config']);
    const r = await fresh.run(withoutArgs, { image: configImg });
    expect(r.argv).toEqual(['sh', '-c', 'cp /src/config.cfg $1', '--']);
    expect(r.code).not.toBe(0);
    expect(fs.readdirSync(empty)).toEqual([]);
  });

  test('control: a writable mount would have let the app change its config', async () => {
    const fresh = await podOf(objects, dep);
    const scratch = fresh.volumeDir(mountAt(app, '/config').name);
    fs.copyFileSync(path.join(volume, 'config.cfg'), path.join(scratch, 'config.cfg'));
    fs.chownSync(path.join(scratch, 'config.cfg'), 65532, spec.securityContext.fsGroup);
    const writable = { ...app, volumeMounts: app.volumeMounts.map((m: any) => ({ ...m, readOnly: false })) };
    const seen = await probeFile(fresh, writable, appImg, '/config/config.cfg');
    expect(seen).toMatchObject({ append: 'ok', create: 'ok', remove: 'ok' });
  });
});

describe('CopyStyle.COMMAND runs as synthesized', () => {
  test('the seed chart with CopyStyle.COMMAND copies with the image shell, overriding its ENTRYPOINT', async () => {
    // GIVEN the chart with an explicit copy command
    const objects = synthObjects(new ImmutableConfigInitChart(Testing.app(), 'seed', { copyStyle: CopyStyle.COMMAND }));
    const dep = findObject(objects, 'Deployment', 'myflaskapp');
    const init = findContainer(dep, 'appconfig');
    const app = findContainer(dep, 'app');
    const pod = await podOf(objects, dep);
    // WHEN the init container runs, then the app container looks
    const r = await pod.run(init, { image: configImage() });
    // THEN the command ran (not the ENTRYPOINT) and the app sees the exact bytes, read-only
    expect(r.argv).toEqual([...init.command, ...init.args]);
    expect(r.argv.slice(-1)).toEqual(['/config']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(mountAt(app, '/config').name).toBe(init.volumeMounts[0].name);
    const seen = await probeFile(pod, app, appImage(), '/config/config.cfg');
    expect(Buffer.from(seen.hex, 'hex').equals(SEED_CONFIG_BYTES)).toBe(true);
    expect(seen).toMatchObject({ append: 'Read-only file system', create: 'Read-only file system' });
  });

  test('a Job with files and a directory: the copy works as another non-root user, follows symlinks, keeps no ownership', async () => {
    // GIVEN a Job whose pod runs as 1000/1000 with fsGroup 2000, and a config image with a file and a directory holding a symlink
    const chart = testChart();
    const job = new kplus.Job(chart, 'Job', {
      metadata: { name: 'migrate' },
      ...hardenedPodProps({ user: 1000, fsGroup: 2000 }),
      containers: [hardenedContainer({ name: 'migrate', image: 'python:3.12-slim' }, { user: 3000 })],
    });
    const config = new ImmutableConfigInit(chart, 'Config', {
      workload: job,
      image: 'busybox:1.36.1',
      configPaths: ['/src/config.cfg'],
      mountPath: '/srv/config',
    });
    // the directory is added by the verb after construction: the copy must pick it up all the same
    config.addConfigPath('/etc/flask');
    const objects = synthObjects(chart);
    const jobObj = findObject(objects, 'Job', 'migrate');
    const init = findContainer(jobObj, 'copy-config');
    const app = findContainer(jobObj, 'migrate');
    const image = configImage((rootfs) => {
      fs.mkdirSync(path.join(rootfs, 'etc', 'flask'), { recursive: true });
      fs.writeFileSync(path.join(rootfs, 'etc', 'flask', 'a.cfg'), 'A = 1\n', { mode: 0o644 });
      fs.symlinkSync('a.cfg', path.join(rootfs, 'etc', 'flask', 'current.cfg'));
    });
    const pod = await podOf(objects, jobObj);
    const volume = pod.volumeDir(init.volumeMounts[0].name);
    // WHEN the init container runs
    const r = await pod.run(init, { image });
    // THEN it ran as the pod's user, quietly (no "can't preserve ownership"), and copied everything
    expect(init.securityContext).toMatchObject({ runAsUser: 1000, runAsGroup: 1000 });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(listTree(volume).map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual([
      '. d',
      'config.cfg f',
      'flask d',
      'flask/a.cfg f',
      'flask/current.cfg f',
    ]);
    expect(mountAt(app, '/srv/config').name).toBe(init.volumeMounts[0].name);
    const seen = await probeFile(pod, app, appImage(), '/srv/config/flask/current.cfg');
    // the app (UID 3000) reads through the "other" bits; the read-only mount refuses changes
    expect(app.securityContext.runAsUser).toBe(3000);
    expect(seen).toMatchObject({
      islink: false,
      uid: 1000,
      gid: 2000,
      mode: '0o644',
      create: 'Read-only file system',
      remove: 'Read-only file system',
    });
    expect(seen.append).not.toBe('ok');
    expect(Buffer.from(seen.hex, 'hex').toString()).toBe('A = 1\n');
  });

  test('control: a missing config path fails the init container, so the app would never start', async () => {
    const chart = testChart();
    const dep = new kplus.Deployment(chart, 'Web', { ...hardenedPodProps(), containers: [hardenedContainer({ name: 'web', image: 'nginx:1.27' })] });
    new ImmutableConfigInit(chart, 'Config', { workload: dep, image: 'busybox:1.36.1', configPaths: ['/src/missing.cfg'], mountPath: '/config' });
    const objects = synthObjects(chart);
    const depObj = findObject(objects, 'Deployment');
    const init = findContainer(depObj, 'copy-config');
    const r = await (await podOf(objects, depObj)).run(init, { image: configImage() });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/missing\.cfg/);
  });
});

describe('the immutable-ConfigMap chart runs as synthesized', () => {
  test('the seed app serves the config from the hashed ConfigMap, mounted read-only', async () => {
    // GIVEN the chart's objects, and the ConfigMap's files as the kubelet would write them
    const objects = synthObjects(new ImmutableConfigMapChart(Testing.app(), 'cm'));
    const dep = findObject(objects, 'Deployment', 'myflaskapp-cm');
    const app = findContainer(dep, 'app');
    const mount = mountAt(app, '/config');
    const vol = podSpec(dep).volumes.find((v: any) => v.name === mount.name);
    findObject(objects, 'ConfigMap', vol.configMap.name); // the mounted ConfigMap is in the synthesized set
    const pod = await podOf(objects, dep);
    // WHEN the app container looks and then serves
    const seen = await probeFile(pod, app, appImage(), '/config/config.cfg');
    const r = await serve(pod, app, appImage());
    // THEN the bytes are the seed's and read-only, and the app answers with them
    expect(Buffer.from(seen.hex, 'hex').equals(SEED_CONFIG_BYTES)).toBe(true);
    expect(seen).toMatchObject({ create: 'Read-only file system', remove: 'Read-only file system' });
    expect(seen.append).not.toBe('ok');
    expect(r.http).toEqual({ status: 200, body: 'Welcome to Flask' });
  });
});
