/**
 * The shared-content and hot-plug presets, run for real in a pod sandbox:
 * the web server's command, args, workingDir, user and mounts come from the
 * synthesized Deployment and run with Debian's /usr/bin/python3 and /bin/sh;
 * the hot-plug scripts come from the synthesized ConfigMap.
 *
 * git-sync itself is not installable here (it ships as an image only): its
 * syncs are EMULATED with real git commands derived from the git-sync
 * container's --repo/--ref/--root/--link args, reproducing its documented
 * layout (see fixtures/sidecar-pod/git-sync.ts). Its HTTP probe endpoint, loop
 * and retries are not exercised.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import { SidecarPodContentChart, SidecarPodHotPlugChart } from '../charts/sidecar-pod';
import { HotPlugReload } from '../lib/sidecar-pod/presets';
import { SidecarDeployment } from '../lib/sidecar-workloads';
import { GitSyncEmulator, LocalRepo } from './fixtures/sidecar-pod/git-sync';
import { assertValid, K8sObject } from '../lib/testing';
import { mountOf, POD_IP, podSpec, PodSandbox, requirePrograms, RunningContainer, scratchDir, shq } from './support/pod-sandbox';
import { findContainer as containerOf, findObject, synthObjects, testChart } from './support/synth';
import { emptyDirUsage, reportUsage } from './support/disk-usage';

/** A local upstream repository and an emulated git-sync for the pod's git-sync container. */
function gitSyncFor(
  dep: K8sObject,
  container: string,
  volume: string,
  sandbox: PodSandbox,
  base: string,
): { upstream: LocalRepo; gitSync: GitSyncEmulator } {
  const c = containerOf(dep, container);
  const uid = c.securityContext.runAsUser;
  const gid = c.securityContext.runAsGroup;
  const volumeDir = sandbox.volumeDir(volume);
  // the image's HOME is its /tmp emptyDir (writableTmp: `<container>-tmp`), so what git writes there is measured with it
  const home = sandbox.volumeDir(`${container}-tmp`);
  // the upstream repository is not in the pod: it gets its own HOME, so it does not count against git-sync's /tmp
  const upstreamHome = path.join(base, 'upstream-home');
  fs.mkdirSync(upstreamHome);
  fs.chownSync(upstreamHome, uid, gid);
  const upstream = new LocalRepo(path.join(base, 'upstream'), uid, gid, upstreamHome);
  const gitSync = new GitSyncEmulator({ args: c.args, mountPath: mountOf(c, volume).mountPath, volumeDir, uid, gid, home, localRepo: upstream.dir });
  return { upstream, gitSync };
}

const page = (version: string) => `<!doctype html><title>demos-webgl</title><h1>${version}</h1>\n`;

describe('SidecarPodContentChart, run for real: git-sync fills the volume, http.server serves it read-only', () => {
  let base: string;
  let sandbox: PodSandbox | undefined;
  let objects: K8sObject[];
  let dep: K8sObject;
  let upstream: LocalRepo;
  let gitSync: GitSyncEmulator;
  let url: string;
  let probeUrl: string;

  beforeAll(async () => {
    requirePrograms('/usr/bin/python3', '/usr/bin/git');
    base = scratchDir('sidecar-pod-content');
    // GIVEN the chart with its defaults, synthesized
    objects = synthObjects(new SidecarPodContentChart(Testing.app(), 'content'));
    assertValid(objects);
    dep = findObject(objects, 'Deployment', 'python-pod-content');
    sandbox = await PodSandbox.create(objects, dep, { network: 'pod' });
    ({ upstream, gitSync } = gitSyncFor(dep, 'git-sync', 'content', sandbox, base));
    upstream.commit({ 'static/index.html': page('v1'), 'README.md': 'demos' }, 'v1');
    // WHEN the web server starts from the manifest, before any sync
    const web = containerOf(dep, 'web');
    const port = web.ports[0].containerPort;
    url = `http://${POD_IP}:${port}/`;
    probeUrl = `http://${POD_IP}:${web.readinessProbe.httpGet.port}${web.readinessProbe.httpGet.path}`;
    await sandbox.waitListening(port, sandbox.start('web'));
  });

  afterAll(async () => {
    await sandbox?.cleanup();
    if (base) fs.rmSync(base, { recursive: true, force: true });
  });

  test('before the first sync the readiness probe fails: http.server answers 404', () => {
    const [r] = sandbox!.http([{ url: probeUrl }]);
    expect(r.status).toBe(404);
  });

  test('after a sync the static folder is served and the readiness probe passes', () => {
    expect(gitSync.sync().changed).toBe(true);
    // git-sync's layout: <root>/.worktrees/<hash> behind a relative link
    expect(fs.readlinkSync(path.join(gitSync.rootDir, gitSync.flags.link))).toMatch(/^\.worktrees\/[0-9a-f]{40}$/);
    const [probe, r] = sandbox!.http([{ url: probeUrl }, { url }]);
    expect(probe.status).toBe(200);
    expect(r.status).toBe(200);
    expect(r.body).toBe(page('v1'));
  });

  test('a new commit shows up after the next sync, while the server keeps running', () => {
    const before = sandbox!.listeners();
    upstream.commit({ 'static/index.html': page('v2') }, 'v2');
    expect(gitSync.sync().changed).toBe(true);
    const [r] = sandbox!.http([{ url }]);
    expect(r.body).toBe(page('v2'));
    expect(sandbox!.listeners()).toEqual(before);
    // and the old worktree is gone: only the published one remains
    expect(fs.readdirSync(path.join(gitSync.rootDir, '.worktrees'))).toHaveLength(1);
  });

  test('the web server mounts the content read-only and cannot write to it', async () => {
    const web = containerOf(dep, 'web');
    const mount = mountOf(web, 'content');
    expect(mount.readOnly).toBe(true);
    expect(mountOf(containerOf(dep, 'git-sync'), 'content').readOnly).toBe(false);
    const r = await sandbox!.run('web', { exec: ['sh', '-c', `touch ${shq(`${mount.mountPath}/defaced.html`)}`] });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Read-only file system/);
  });

  test('after the syncs and serving, the content and git-sync /tmp emptyDirs use at most 1% of their sizeLimit', () => {
    // GIVEN the pod after the syncs of the tests above (run here again, so this test stands alone)
    gitSync.sync();
    sandbox!.http([{ url }, { url: probeUrl }]);
    // WHEN the emptyDirs are measured as the kubelet does (du: allocated blocks)
    const usage = emptyDirUsage(dep, ['content', 'git-sync-tmp'], (v) => sandbox!.volumeDir(v));
    reportUsage('SidecarPodContentChart', usage);
    // THEN each holds at most 1% of its limit (the repository here is a small one: a real site's is the user's to size)
    for (const u of usage)
      expect({ volume: u.volume, atMost1Percent: u.usedBytes <= u.limitBytes / 100 }).toEqual({ volume: u.volume, atMost1Percent: true });
    // AND the measurement is real: the content volume holds git-sync's repository and published worktree
    expect(usage[0].usedBytes).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(gitSync.rootDir, gitSync.flags.link, 'static', 'index.html'))).toBe(true);
  });

  test('git-sync and the web server are different users sharing the pod fsGroup', () => {
    const spec = podSpec(dep);
    const gs = containerOf(dep, 'git-sync').securityContext;
    const web = containerOf(dep, 'web').securityContext;
    expect(spec.securityContext.fsGroup).toBe(gs.runAsGroup);
    expect(web.runAsUser).not.toBe(gs.runAsUser);
    // what the server served was written by git-sync's UID
    const link = path.join(gitSync.rootDir, gitSync.flags.link);
    expect(fs.statSync(path.join(link, 'static', 'index.html')).uid).toBe(gs.runAsUser);
  });
});

describe('SidecarPodHotPlugChart, run for real: the app restarts on a new version (restartOnChange)', () => {
  let base: string;
  let sandbox: PodSandbox | undefined;
  let dep: K8sObject;
  let upstream: LocalRepo;
  let gitSync: GitSyncEmulator;
  let app: RunningContainer;
  let port: number;

  beforeAll(async () => {
    requirePrograms('/usr/bin/python3', '/usr/bin/git', '/bin/sh', '/usr/bin/readlink');
    base = scratchDir('sidecar-pod-hot-plug');
    // GIVEN the chart with its defaults, synthesized
    const objects = synthObjects(new SidecarPodHotPlugChart(Testing.app(), 'hot-plug'));
    assertValid(objects);
    dep = findObject(objects, 'Deployment', 'python-pod-hot-plug');
    sandbox = await PodSandbox.create(objects, dep, { network: 'pod' });
    ({ upstream, gitSync } = gitSyncFor(dep, 'git-sync', 'code', sandbox, base));
    upstream.commit({ 'static/index.html': page('v1') }, 'v1');
    // WHEN the app container starts (its supervisor from the ConfigMap, the seed's server as the app)
    port = containerOf(dep, 'web').ports[0].containerPort;
    app = sandbox.start('web');
  });

  afterAll(async () => {
    await sandbox?.cleanup();
    if (base) fs.rmSync(base, { recursive: true, force: true });
  });

  test('the app waits for the first sync, then starts in the synced folder', async () => {
    // awaited, not slept on: the supervisor says it is waiting for the first sync (twice: it polled again, still nothing)
    await app.waitFor(/waiting for the first sync[^]*waiting for the first sync/, 60000);
    expect(sandbox!.listeners().filter((l) => l.port === port)).toEqual([]);
    expect(app.process.exitCode).toBeNull();
    gitSync.sync();
    await sandbox!.waitListening(port, app);
    const [r] = sandbox!.http([{ url: `http://${POD_IP}:${port}/index.html` }]);
    expect(r.body).toBe(page('v1'));
  });

  test('a new version makes the supervisor restart the app, which then serves it', async () => {
    upstream.commit({ 'static/index.html': page('v2') }, 'v2');
    gitSync.sync();
    const r = await sandbox!.httpUntil({ url: `http://${POD_IP}:${port}/index.html` }, (x) => x.body === page('v2'), 15000);
    expect(r.body).toBe(page('v2'));
    const { stdout, stderr } = app.output();
    expect(stdout + stderr).toMatch(/restart-on-change: new version [0-9a-f]{40}: restarting python3/);
  });

  test('after a restart on a new version, the code and git-sync /tmp emptyDirs use at most 1% of their sizeLimit', async () => {
    // GIVEN the app serving the synced code (awaited here, so this test stands alone)
    gitSync.sync();
    await sandbox!.waitListening(port, app);
    // WHEN the emptyDirs are measured as the kubelet does (du: allocated blocks)
    const usage = emptyDirUsage(dep, ['code', 'git-sync-tmp'], (v) => sandbox!.volumeDir(v));
    reportUsage('SidecarPodHotPlugChart', usage);
    // THEN each holds at most 1% of its limit
    for (const u of usage)
      expect({ volume: u.volume, atMost1Percent: u.usedBytes <= u.limitBytes / 100 }).toEqual({ volume: u.volume, atMost1Percent: true });
    expect(usage[0].usedBytes).toBeGreaterThan(0);
  });

  test('SIGTERM stops the supervisor and the app at once', async () => {
    const { code } = await app.stop(5000);
    expect(code).toBe(0);
    expect(sandbox!.listeners().filter((l) => l.port === port)).toEqual([]);
  });
});

describe('HotPlugReload.signal: the exec hook signals the app through a shared process namespace', () => {
  let base: string;
  let dep: K8sObject;
  let script: string;

  beforeAll(() => {
    requirePrograms('/usr/bin/python3', '/bin/bash');
    base = scratchDir('sidecar-pod-signal');
    const chart = testChart();
    new SidecarDeployment(chart, 'Hot', {
      name: 'hot',
      app: { name: 'app', image: 'python:3.12.8-slim-bookworm', command: ['python3', '/srv/code/repo/current/app.py'], ports: [{ number: 8080 }] },
      hotPlug: { repo: 'https://example.com/app.git', reload: HotPlugReload.signal({ processName: 'python3', signal: 'HUP' }) },
    });
    const objects = synthObjects(chart);
    assertValid(objects);
    dep = findObject(objects, 'Deployment', 'hot');
    script = path.join(base, 'signal-app.sh');
    fs.writeFileSync(script, findObject(objects, 'ConfigMap', 'hot-hot-plug').data['signal-app.sh'], { mode: 0o555 });
    fs.chmodSync(base, 0o777);
  });

  afterAll(() => {
    if (base) fs.rmSync(base, { recursive: true, force: true });
  });

  /**
   * In a fresh PID namespace (the pod's shared one): the app, a python3 that
   * records SIGHUP, runs as the app's UID; then the hook runs as `hookUid`
   * with git-sync's env, under `shell` (git-sync's image has /bin/sh -> bash).
   */
  function runHook(hookUid: number, shell: string): { status: number; output: string; signalled: boolean } {
    const app = containerOf(dep, 'app').securityContext;
    const gs = containerOf(dep, 'git-sync');
    const env = (gs.env as Array<{ name: string; value: string }>).map((e) => shq(`${e.name}=${e.value}`)).join(' ');
    const marker = path.join(base, `hup-${hookUid}-${path.basename(shell)}`);
    const ready = `${marker}.ready`;
    const py =
      `import pathlib, signal, time\nsignal.signal(signal.SIGHUP, lambda *_: pathlib.Path(${JSON.stringify(marker)}).write_text("HUP"))\n` +
      `pathlib.Path(${JSON.stringify(ready)}).write_text("ready")\nwhile True: time.sleep(0.05)\n`;
    const driver = [
      `setpriv --reuid=${app.runAsUser} --regid=${app.runAsGroup} --clear-groups /usr/bin/python3 -c ${shq(py)} &`,
      // the app is awaited (up to 60 s), not given a fixed time to start
      `i=0; while [ ! -e ${shq(ready)} ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done`,
      `setpriv --reuid=${hookUid} --regid=${hookUid} --clear-groups env -i PATH=/usr/bin:/bin GITSYNC_HASH=abc123 ${env} ${shell} ${shq(script)}`,
      'status=$?',
      // a hook that says it signalled: await the app's record of SIGHUP (up to 60 s). A hook whose kill(2) failed
      // queued no signal, so there is nothing to wait for: the marker's absence is final.
      `i=0; while [ $status -eq 0 ] && [ ! -e ${shq(marker)} ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done`,
      'echo "hook-status=$status"',
    ].join('\n');
    const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', driver], { encoding: 'utf8', timeout: 150000 });
    const m = /hook-status=(\d+)/.exec(r.stdout);
    if (!m) throw new Error(`driver failed: ${r.stdout}${r.stderr}`);
    return { status: Number(m[1]), output: `${r.stdout}${r.stderr}`, signalled: fs.existsSync(marker) };
  }

  test("the manifest shares the process namespace and runs git-sync as the app's UID", () => {
    expect(podSpec(dep).shareProcessNamespace).toBe(true);
    const gs = containerOf(dep, 'git-sync');
    expect(gs.securityContext.runAsUser).toBe(containerOf(dep, 'app').securityContext.runAsUser);
    expect(gs.args).toContain('--exechook-command=/opt/hot-plug/signal-app.sh');
  });

  test("run as git-sync (the app's UID), the hook delivers SIGHUP to the app (bash and POSIX sh)", () => {
    const uid = containerOf(dep, 'git-sync').securityContext.runAsUser;
    for (const shell of ['/bin/bash', '/bin/sh']) {
      const r = runHook(uid, shell);
      expect(r.output).toMatch(/sent SIGHUP to 1 process\(es\) named python3 for abc123/);
      expect(r.status).toBe(0);
      expect(r.signalled).toBe(true);
    }
  }, 320000); // two runHook calls, each bounded at 150 s

  test("run as another UID (git-sync's default 65533), it cannot signal the app and fails so git-sync retries", () => {
    const r = runHook(65533, '/bin/bash');
    expect(r.status).toBe(1);
    expect(r.signalled).toBe(false);
    expect(r.output).toMatch(/cannot send SIGHUP to python3/);
  }, 160000); // runHook is bounded at 150 s
});

describe("the seed's busybox helper sidecar", () => {
  test('sleeps until SIGTERM, then exits at once, even as PID 1 (which ignores signals it has no handler for)', async () => {
    requirePrograms('/usr/bin/busybox');
    const dep = findObject(synthObjects(new SidecarPodContentChart(Testing.app(), 'content')), 'Deployment', 'python-pod-content');
    const helper = containerOf(dep, 'helper');
    const uid = helper.securityContext.runAsUser;
    const gid = helper.securityContext.runAsGroup;
    // the busybox image: sh and sleep are busybox applets
    const bin = scratchDir('sidecar-pod-busybox');
    for (const applet of ['sh', 'sleep']) fs.symlinkSync('/usr/bin/busybox', path.join(bin, applet));
    const child = spawn(
      'unshare',
      [
        '--pid',
        '--fork',
        '--kill-child',
        'setpriv',
        `--reuid=${uid}`,
        `--regid=${gid}`,
        '--clear-groups',
        'env',
        '-i',
        `PATH=${bin}`,
        ...helper.command,
        ...(helper.args ?? []),
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const children = (pid: number) => {
      try {
        return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        return [];
      }
    };
    const name = (pid: number) => {
      try {
        return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        return '';
      }
    };
    try {
      // awaited, not slept on: the helper (PID 1) has started its `sleep`, so its TERM trap is in place
      let pid1 = 0;
      for (const deadline = Date.now() + 60000; ;) {
        pid1 = children(child.pid!)[0] ?? 0;
        if (pid1 && children(pid1).some((c) => name(c) === 'sleep')) break;
        if (child.exitCode !== null) throw new Error(`the helper exited (${child.exitCode}) before it slept`);
        if (Date.now() > deadline) throw new Error('the helper did not start its sleep in 60 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(fs.readFileSync(`/proc/${pid1}/status`, 'utf8')).toMatch(/^NSpid:\s+\d+\s+1$/m); // it is PID 1 in its namespace
      process.kill(pid1, 'SIGTERM');
      // "at once" is not timed here (no wall-clock assertion): sleep 3600 would hold it for an hour, past the test's timeout
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });
});
