/**
 * The authentication preset, run for real: Debian's nginx with the nginx.conf
 * taken from the synthesized ConfigMap, the app command from the synthesized
 * Deployment, in a pod sandbox (one network namespace, the pod IP on its
 * loopback, volumes at their mountPaths, the manifest's UIDs). The htpasswd
 * file stands in for the out-of-band Secret: generated here ({SSHA} scheme,
 * implemented by nginx itself), projected the way the Secret volume says.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import { SidecarPodAuthChart } from '../charts/sidecar-pod';
import { AUTH_PROXY_HEALTH_PATH, AUTH_PROXY_HTPASSWD_DIR, AUTH_PROXY_UID } from '../lib/sidecar-pod/presets';
import { SidecarDeployment } from '../lib/sidecar-workloads';
import { secretRef } from './support/refs';
import { GitSyncEmulator, LocalRepo } from './fixtures/sidecar-pod/git-sync';
import { assertValid, K8sObject } from '../lib/testing';
import { mountOf, POD_IP, podSpec, PodSandbox, requirePrograms, RunningContainer, scratchDir } from './support/pod-sandbox';
import { findContainer as containerOf, findObject, synthObjects, testChart } from './support/synth';
import { emptyDirUsage, reportUsage } from './support/disk-usage';

/** An htpasswd line in nginx's {SSHA} scheme: base64(sha1(password + salt) + salt). */
function sshaLine(user: string, password: string): string {
  const salt = crypto.randomBytes(8);
  const digest = crypto.createHash('sha1').update(password).update(salt).digest();
  return `${user}:{SSHA}${Buffer.concat([digest, salt]).toString('base64')}\n`;
}

function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

function portOf(workload: K8sObject, container: string): number {
  return containerOf(workload, container).ports[0].containerPort;
}

describe('SidecarPodAuthChart, run for real: nginx in front of the seed web server', () => {
  const password = crypto.randomBytes(12).toString('base64url');
  const page = '<h1>demos-webgl static v1</h1>\n';
  let base: string;
  let sandbox: PodSandbox | undefined;
  let objects: K8sObject[];
  let dep: K8sObject;
  let proxy: RunningContainer;

  beforeAll(async () => {
    requirePrograms('/usr/sbin/nginx', '/usr/bin/python3', '/usr/bin/git');
    base = scratchDir('sidecar-pod-auth');
    // GIVEN the chart with its defaults, synthesized
    const chart = new SidecarPodAuthChart(Testing.app(), 'auth');
    objects = synthObjects(chart);
    assertValid(objects, { external: ['Secret/sidecar-pod/python-pod-auth-htpasswd'] });
    dep = findObject(objects, 'Deployment', 'python-pod-auth');
    // AND the pod sandbox: the volumes as the kubelet lays them out, with the Secret stood in for
    sandbox = await PodSandbox.create(objects, dep, {
      network: 'pod',
      secrets: { 'python-pod-auth-htpasswd': { htpasswd: sshaLine('alice', password) } },
    });
    // AND the init container's one-time clone (git-sync emulated with git, see fixtures/sidecar-pod/git-sync.ts)
    const clone = containerOf(dep, 'clone');
    const uid = clone.securityContext.runAsUser;
    const gid = clone.securityContext.runAsGroup;
    // the image's HOME is its /tmp emptyDir (clone-tmp), so what git writes there is measured with it;
    // the upstream repository is not in the pod and gets a HOME of its own
    const home = sandbox.volumeDir('clone-tmp');
    const upstreamHome = path.join(base, 'upstream-home');
    fs.mkdirSync(upstreamHome);
    fs.chownSync(upstreamHome, uid, gid);
    const upstream = new LocalRepo(path.join(base, 'upstream'), uid, gid, upstreamHome);
    upstream.commit({ 'static/index.html': page, 'README.md': 'demos' }, 'v1');
    new GitSyncEmulator({
      args: clone.args,
      mountPath: mountOf(clone, 'content').mountPath,
      volumeDir: sandbox.volumeDir('content'),
      uid,
      gid,
      home,
      localRepo: upstream.dir,
    }).sync();
    // WHEN the app and the proxy run in the pod sandbox
    const web = sandbox.start('web');
    proxy = sandbox.start('auth-proxy');
    await sandbox.waitListening(portOf(dep, 'web'), web);
    await sandbox.waitListening(portOf(dep, 'auth-proxy'), proxy);
  });

  afterAll(async () => {
    await sandbox?.cleanup();
    if (base) fs.rmSync(base, { recursive: true, force: true });
  });

  test('the Service targets the proxy and the app listens on 127.0.0.1 only', () => {
    const svc = findObject(objects, 'Service', 'python-pod-auth');
    const target = svc.spec.ports[0].targetPort;
    const appPort = portOf(dep, 'web');
    expect(target).toBe(portOf(dep, 'auth-proxy'));
    expect(target).not.toBe(appPort);
    const conf = findObject(objects, 'ConfigMap', 'python-pod-auth-auth-proxy').data['nginx.conf'];
    expect(conf).toContain(`listen ${target};`);
    expect(conf).toContain(`server 127.0.0.1:${appPort};`);
    // THEN, in the running pod, the app's socket is bound to loopback, the proxy's to every address
    const listeners = sandbox!.listeners();
    expect(listeners.filter((l) => l.port === appPort)).toEqual([{ address: '127.0.0.1', port: appPort }]);
    expect(listeners.filter((l) => l.port === target)).toEqual([{ address: '0.0.0.0', port: target }]);
    // AND traffic to the pod IP (what a Service sends) cannot reach the app port
    const [direct, viaLoopback] = sandbox!.http([{ url: `http://${POD_IP}:${appPort}/` }, { url: `http://127.0.0.1:${appPort}/` }]);
    expect(direct.error).toBe('ECONNREFUSED');
    expect(viaLoopback.status).toBe(200); // only containers of the pod reach it
  });

  test('the readiness probe\'s path answers 200 "ok" without credentials, from nginx itself, not the app', () => {
    const proxy = containerOf(dep, 'auth-proxy');
    expect(proxy.readinessProbe.httpGet).toMatchObject({ path: AUTH_PROXY_HEALTH_PATH, port: portOf(dep, 'auth-proxy') });
    const [r] = sandbox!.http([{ url: `http://${POD_IP}:${portOf(dep, 'auth-proxy')}${AUTH_PROXY_HEALTH_PATH}` }]);
    expect(r.status).toBe(200);
    expect(r.body).toBe('ok\n');
    // liveness is the cheaper TCP check on the same port, over a longer threshold
    expect(proxy.livenessProbe).toEqual({ tcpSocket: { port: portOf(dep, 'auth-proxy') }, periodSeconds: 10, failureThreshold: 6 });
  });

  test('no credentials: 401 with a basic-auth challenge', () => {
    const [r] = sandbox!.http([{ url: `http://${POD_IP}:${portOf(dep, 'auth-proxy')}/` }]);
    expect(r.status).toBe(401);
    expect(r.headers!['www-authenticate']).toBe('Basic realm="Restricted"');
    expect(r.body).not.toContain('demos-webgl');
  });

  test('wrong password or unknown user: 401', () => {
    const url = `http://${POD_IP}:${portOf(dep, 'auth-proxy')}/`;
    const [wrong, unknown] = sandbox!.http([
      { url, headers: basic('alice', `${password}x`) },
      { url, headers: basic('mallory', password) },
    ]);
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
  });

  test("right credentials: the app's response, served from the cloned static folder", () => {
    const [r] = sandbox!.http([{ url: `http://${POD_IP}:${portOf(dep, 'auth-proxy')}/`, headers: basic('alice', password) }]);
    expect(r.status).toBe(200);
    expect(r.body).toBe(page);
  });

  test('the htpasswd file is where the config looks, readable through fsGroup only', () => {
    const proxy = containerOf(dep, 'auth-proxy');
    const vol = podSpec(dep).volumes.find((v: any) => v.name === 'auth-proxy-htpasswd');
    expect(mountOf(proxy, 'auth-proxy-htpasswd').mountPath).toBe(AUTH_PROXY_HTPASSWD_DIR);
    expect(vol.secret.items).toEqual([{ key: 'htpasswd', path: 'htpasswd' }]);
    expect(vol.secret.defaultMode).toBe(0o440);
    const conf = findObject(objects, 'ConfigMap', 'python-pod-auth-auth-proxy').data['nginx.conf'];
    expect(conf).toContain(`auth_basic_user_file ${AUTH_PROXY_HTPASSWD_DIR}/htpasswd;`);
    // nginx (uid 10101) is not the file's owner: it reads it as a member of the pod's fsGroup
    expect(proxy.securityContext.runAsUser).toBe(AUTH_PROXY_UID);
    expect(AUTH_PROXY_UID).toBe(10101);
    expect(podSpec(dep).securityContext.fsGroup).not.toBe(AUTH_PROXY_UID);
  });

  test('after the clone and authenticated requests, the content, clone /tmp and proxy /tmp emptyDirs use at most 1% of their sizeLimit', () => {
    // GIVEN the pod after the clone, serving a few authenticated and refused requests
    const url = `http://${POD_IP}:${portOf(dep, 'auth-proxy')}/`;
    sandbox!.http([{ url, headers: basic('alice', password) }, { url }, { url, headers: basic('alice', password) }]);
    // WHEN the emptyDirs are measured as the kubelet does (du: allocated blocks)
    const usage = emptyDirUsage(dep, ['content', 'clone-tmp', 'auth-proxy-tmp'], (v) => sandbox!.volumeDir(v));
    reportUsage('SidecarPodAuthChart', usage);
    // (the proxy's log, which counts against its own ephemeral-storage limit: the access log, one line per request)
    const { stdout, stderr } = proxy.output();
    console.log(
      `SidecarPodAuthChart: auth-proxy log ${Buffer.byteLength(stdout + stderr)} B ` +
        `after ${stdout.split('\n').filter(Boolean).length} access-log lines`,
    );
    // THEN each holds at most 1% of its limit
    for (const u of usage)
      expect({ volume: u.volume, atMost1Percent: u.usedBytes <= u.limitBytes / 100 }).toEqual({ volume: u.volume, atMost1Percent: true });
    // AND the measurement is real: the clone is in the content volume, nginx's pid file in its /tmp
    expect(usage[0].usedBytes).toBeGreaterThan(0);
    expect(fs.readdirSync(sandbox!.volumeDir('auth-proxy-tmp'))).toContain('nginx.pid');
  });

  test('the password never reaches the manifests or the logs', () => {
    sandbox!.http([{ url: `http://${POD_IP}:${portOf(dep, 'auth-proxy')}/`, headers: basic('alice', password) }]);
    expect(JSON.stringify(objects)).not.toContain(password);
    expect(findAllSecrets(objects)).toEqual([]);
    const { stdout, stderr } = proxy.output();
    const log = stdout + stderr;
    expect(log).toContain('alice'); // the access log names the user...
    expect(log).not.toContain(password); // ...never the password
    expect(log).not.toContain(Buffer.from(`alice:${password}`).toString('base64'));
  });
});

function findAllSecrets(objects: K8sObject[]): K8sObject[] {
  return objects.filter((o) => o.kind === 'Secret');
}

describe('auth proxy in front of a stand-in app that echoes what it receives', () => {
  const password = crypto.randomBytes(12).toString('base64url');
  let sandbox: PodSandbox | undefined;
  let dep: K8sObject;
  let proxyPort: number;
  let app: RunningContainer;

  beforeAll(async () => {
    requirePrograms('/usr/sbin/nginx');
    // GIVEN a SidecarDeployment whose app listens on 127.0.0.1:3000, with the proxy's defaults
    const chart = testChart('echo');
    new SidecarDeployment(chart, 'Echo', {
      name: 'echo',
      app: { name: 'app', image: 'node:20.18.1-bookworm-slim', command: ['node', 'echo.js'], ports: [{ number: 3000, name: 'app' }] },
      authProxy: { htpasswd: secretRef('echo-users') },
    });
    const objects = synthObjects(chart);
    dep = findObject(objects, 'Deployment', 'echo');
    proxyPort = portOf(dep, 'auth-proxy');
    sandbox = await PodSandbox.create(objects, dep, { network: 'pod', secrets: { 'echo-users': { htpasswd: sshaLine('bob', password) } } });
    // WHEN the stand-in app (the test's own program) runs on the app's port and nginx runs from the manifest
    const appPort = portOf(dep, 'app');
    app = sandbox.start({
      name: 'echo-app',
      argv: [process.execPath, path.join(__dirname, 'fixtures', 'sidecar-pod', 'echo-app.js'), '127.0.0.1', String(appPort)],
      uid: 65532,
      gid: 65532,
      groups: [],
      mounts: [],
    });
    const proxy = sandbox.start('auth-proxy');
    await sandbox.waitListening(appPort, app);
    await sandbox.waitListening(proxyPort, proxy);
  });

  afterAll(async () => {
    await sandbox?.cleanup();
  });

  test('the app sees the user in X-Forwarded-User, never the Authorization header, and cannot be fooled by a forged user', () => {
    const [r] = sandbox!.http([
      {
        url: `http://${POD_IP}:${proxyPort}/some/path?q=1`,
        headers: { ...basic('bob', password), 'x-forwarded-user': 'admin' },
      },
    ]);
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body!);
    expect(seen.path).toBe('/some/path?q=1');
    expect(seen.headers['x-forwarded-user']).toBe('bob');
    expect(seen.headers.authorization).toBeUndefined();
  });

  test('a request without credentials never reaches the app', () => {
    // WHEN one request without credentials, then one with them, each to a path of its own
    const deniedPath = `/denied-${crypto.randomUUID()}`;
    const allowedPath = `/allowed-${crypto.randomUUID()}`;
    const [denied, allowed] = sandbox!.http([
      { url: `http://${POD_IP}:${proxyPort}${deniedPath}`, headers: { 'x-forwarded-user': 'bob' } },
      { url: `http://${POD_IP}:${proxyPort}${allowedPath}`, headers: basic('bob', password) },
    ]);
    // THEN the app logged the second (it logs before it answers, so the line is in by now) and never the first
    const received = app
      .output()
      .stdout.split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).received);
    expect(denied.status).toBe(401);
    expect(denied.body).not.toContain('"app":"echo"');
    expect(allowed.status).toBe(200);
    expect(received).toContain(allowedPath);
    expect(received).not.toContain(deniedPath);
  });
});
