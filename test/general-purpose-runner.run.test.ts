/**
 * Runtime proofs: the scripts, commands, args, env and working directories
 * are taken from the SYNTHESIZED manifests and run with Debian's python3,
 * node, GNU tar and busybox as the manifests' non-root users, with the
 * volumes at their real mount paths (see support/pod-sandbox.ts; the image
 * stand-ins are in fixtures/general-purpose-runner/images.ts).
 *
 * Test-only environment overrides, each named where it is used:
 * - HOST=127.0.0.1 so the servers bind loopback instead of 0.0.0.0;
 * - TARGET_URL pointing the smoke test and the monitor at the local greeter
 *   (the manifests name the in-cluster Service, http://greeter:80/).
 * KUBERNETES_SERVICE_HOST/PORT are not overrides: the kubelet sets them in
 * every pod; here they point at a local HTTPS stand-in of the Kubernetes API (forced paging); the real
 * kube-apiserver runs the namespaces API's other cases in general-purpose-runner.kube.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { hardenedContainer, hardenedPodProps } from '../lib/security';
import { GeneralPurposeRunnerChart } from '../charts/general-purpose-runner';
import { ScriptBundle, ScriptRuntime } from '../lib/script-bundle';
import { ScriptJob, ScriptService } from '../lib/script-workloads';
import { Files } from '../lib/workload';
import { debianImages } from './fixtures/general-purpose-runner/images';
import { K8sObject } from '../lib/testing';
import { freePort, PodSandbox, podSpec, PodSandboxOptions, request, requirePrograms } from './support/pod-sandbox';
import { findContainer, findObject, synthObjects, testChart } from './support/synth';
import { emptyDirUsage, reportUsage, VolumeUsage } from './support/disk-usage';

const FIXTURES = path.join(__dirname, 'fixtures', 'general-purpose-runner');
const LOOPBACK = { HOST: '127.0.0.1' };

const sandboxes: PodSandbox[] = [];
const servers: Array<http.Server | https.Server> = [];
let scratch: string;

async function sandbox(objects: K8sObject[], workload: K8sObject, options: PodSandboxOptions = {}): Promise<PodSandbox> {
  const s = await PodSandbox.create(objects, workload, { images: debianImages, ...options });
  sandboxes.push(s);
  return s;
}

async function get(url: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const res = await request(url);
  return { ...res, body: res.body.toString('utf8') };
}

async function listen(server: http.Server | https.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** A plain HTTP server answering `body` on every path. */
async function textServer(body: string): Promise<number> {
  return listen(
    http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(body);
    }),
  );
}

/** Each measured emptyDir uses at most 1% of its limit (one row per volume, so a failure names it). */
function expectAtMost1Percent(usage: VolumeUsage[]): void {
  for (const u of usage)
    expect({ volume: u.volume, atMost1Percent: u.usedBytes <= u.limitBytes / 100 }).toEqual({ volume: u.volume, atMost1Percent: true });
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** A CA and a server certificate for 127.0.0.1, as a cluster's API server has. */
function makeCertificates(dir: string): { ca: string; key: string; cert: string } {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '1',
      '-subj',
      '/CN=test-kubernetes-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver'], dir);
  fs.writeFileSync(
    path.join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc\nbasicConstraints=critical,CA:FALSE\n' +
      'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '1',
      '-extfile',
      'ext.cnf',
    ],
    dir,
  );
  const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
  return { ca: read('ca.crt'), key: read('server.key'), cert: read('server.crt') };
}

interface KubeApiCall {
  path: string;
  authorized: boolean;
}

/**
 * A tiny HTTPS stand-in of the Kubernetes API: GET /api/v1/namespaces with
 * bearer-token authentication, limit/continue paging (pages of at most
 * `pageSize`, whatever limit the client asks), Status objects for errors.
 */
async function kubeApi(opts: { key: string; cert: string; token: string; namespaces: string[]; pageSize: number }) {
  const calls: KubeApiCall[] = [];
  const status = (res: http.ServerResponse, code: number, reason: string, message: string) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, message, code }));
  };
  const server = https.createServer({ key: opts.key, cert: opts.cert }, (req, res) => {
    const url = new URL(req.url!, 'https://127.0.0.1');
    const authorized = req.headers.authorization === `Bearer ${opts.token}`;
    calls.push({ path: `${url.pathname}${url.search}`, authorized });
    if (!authorized) return status(res, 401, 'Unauthorized', 'Unauthorized');
    if (req.method !== 'GET' || url.pathname !== '/api/v1/namespaces')
      return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const start = Number(url.searchParams.get('continue') ? Buffer.from(url.searchParams.get('continue')!, 'base64').toString() : 0);
    const limit = Math.min(Number(url.searchParams.get('limit') ?? Infinity), opts.pageSize);
    const page = opts.namespaces.slice(start, start + limit);
    const next = start + limit < opts.namespaces.length ? Buffer.from(String(start + limit)).toString('base64') : undefined;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: 'NamespaceList',
        apiVersion: 'v1',
        metadata: { resourceVersion: '1000', ...(next ? { continue: next } : {}) },
        items: page.map((name) => ({ metadata: { name }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } })),
      }),
    );
  });
  const port = await listen(server);
  return { port, calls };
}

beforeAll(() => {
  requirePrograms('/usr/bin/python3', '/usr/bin/node', '/usr/bin/tar', '/usr/bin/busybox', '/usr/bin/openssl');
  scratch = fs.mkdtempSync('/var/tmp/gpr-run-');
});

afterEach(async () => {
  // a failed test must not leave a server holding the port for the next one
  await Promise.all(sandboxes.splice(0).map((s) => s.cleanup()));
});

afterAll(async () => {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise((resolve) => {
          (s as any).closeAllConnections?.();
          s.close(resolve);
        }),
    ),
  );
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe('GeneralPurposeRunnerChart, run for real', () => {
  let port: number;
  let objects: K8sObject[];

  beforeAll(async () => {
    port = await freePort();
    const chart = new GeneralPurposeRunnerChart(Testing.app(), 'gpr', { port });
    objects = synthObjects(chart);
  });

  test('the greeter (seed 003) answers "Hi, Universe!" from its ConfigMap, as uid 65532 on a read-only root', async () => {
    // GIVEN the synthesized greeter Deployment and its ConfigMap
    const dep = findObject(objects, 'Deployment', 'greeter');
    const c = findContainer(dep, 'greeter');
    expect(c.args).toEqual(['Universe']);
    expect(c.env).toEqual(
      expect.arrayContaining([
        { name: 'GREETING', value: 'Hi' },
        { name: 'PORT', value: String(port) },
      ]),
    );
    // WHEN it runs as the manifest says (HOST: test-only override to bind loopback)
    const pod = await sandbox(objects, dep);
    const greeter = pod.start('greeter', { envOverrides: LOOPBACK });
    await greeter.waitFor(/greeter: listening on 127\.0\.0\.1:\d+/);
    // THEN it greets the Universe, and nothing else
    const res = await get(`http://127.0.0.1:${port}/`);
    expect(res.status).toBe(200);
    expect(res.body).toBe('Hi, Universe!');
    expect((await get(`http://127.0.0.1:${port}/elsewhere`)).status).toBe(404);
    // AND it stops cleanly on SIGTERM, and the scripts volume holds exactly the ConfigMap's files
    const stopped = await greeter.stop();
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toMatch(/SIGTERM received, stopping\n.*greeter: stopped/s);
    expect(stopped.stderr).not.toMatch(/Traceback|Read-only|Permission denied/);
    // (laid out by the kubelet's atomic writer: the files are links into ..data)
    expect(fs.readdirSync(pod.volumeDir('scripts')).sort()).toEqual(['..2026_01_01_00_00_00.000000001', '..data', 'greeter.py', 'serving.py']);
    expect(fs.readdirSync(path.join(pod.volumeDir('scripts'), '..data')).sort()).toEqual(['greeter.py', 'serving.py']);
    // AND the container's root is read-only and it runs as the manifest's user
    const look = await pod.run('greeter', { exec: ['sh', '-c', 'id -u; id -g; touch /written'] });
    expect(look.stdout).toBe('65532\n65532\n');
    expect(look.code).not.toBe(0);
    expect(look.stderr).toMatch(/Read-only file system/);
  });

  test("after serving and stopping, the greeter's /tmp emptyDir and the smoke test's use at most 1% of their sizeLimit", async () => {
    // GIVEN the greeter serving from its manifest, then stopped; the smoke-test Job run against it
    const dep = findObject(objects, 'Deployment', 'greeter');
    const pod = await sandbox(objects, dep);
    const greeter = pod.start('greeter', { envOverrides: LOOPBACK });
    await greeter.waitFor(/listening on/);
    for (let i = 0; i < 5; i++) expect((await get(`http://127.0.0.1:${port}/`)).status).toBe(200);
    const job = findObject(objects, 'Job', 'greeter-smoke-test');
    const jobPod = await sandbox(objects, job);
    expect((await jobPod.run('greeter-smoke-test', { envOverrides: { TARGET_URL: `http://127.0.0.1:${port}/` } })).code).toBe(0);
    expect((await greeter.stop()).code).toBe(0);
    // WHEN the /tmp emptyDirs are measured as the kubelet does (du: allocated blocks)
    const usage = [...emptyDirUsage(dep, ['tmp'], (v) => pod.volumeDir(v)), ...emptyDirUsage(job, ['tmp'], (v) => jobPod.volumeDir(v))];
    reportUsage('GeneralPurposeRunnerChart greeter, greeter-smoke-test', usage);
    // THEN each holds at most 1% of its limit
    expectAtMost1Percent(usage);
    expect(usage.every((u) => u.usedBytes > 0)).toBe(true); // the volume directories were measured, not absent
  });

  test('the smoke-test Job and the busybox monitor CronJob pass against the running greeter and fail on a wrong answer', async () => {
    // GIVEN the greeter running from its manifest
    const greeter = (await sandbox(objects, findObject(objects, 'Deployment', 'greeter'))).start('greeter', { envOverrides: LOOPBACK });
    await greeter.waitFor(/listening on/);
    const job = findObject(objects, 'Job', 'greeter-smoke-test');
    const cron = findObject(objects, 'CronJob', 'greeter-monitor');
    expect(findContainer(job, 'greeter-smoke-test').env).toEqual(expect.arrayContaining([{ name: 'TARGET_URL', value: 'http://greeter:80/' }]));
    const toGreeter = { envOverrides: { TARGET_URL: `http://127.0.0.1:${port}/` } };

    // WHEN the Job's container runs (python) THEN it exits 0 and says what it saw
    const ok = await (await sandbox(objects, job)).run('greeter-smoke-test', toGreeter);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`ok: GET http://127.0.0.1:${port}/ answered 'Hi, Universe!'\n`);
    // WHEN the CronJob's container runs (busybox sh + wget, no /tmp) THEN the same
    const mon = await (await sandbox(objects, cron)).run('greeter-monitor', toGreeter);
    expect(mon.stderr).toBe('');
    expect(mon.code).toBe(0);
    expect(mon.stdout).toBe(`ok: GET http://127.0.0.1:${port}/ answered "Hi, Universe!"\n`);
    await greeter.stop();

    // WHEN the greeter answers something else THEN both fail
    const wrong = { envOverrides: { TARGET_URL: `http://127.0.0.1:${await textServer('Hello, World!')}/` } };
    const bad = await (await sandbox(objects, job)).run('greeter-smoke-test', wrong);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/fail: .* answered 'Hello, World!', expected 'Hi, Universe!'/);
    const badMon = await (await sandbox(objects, cron)).run('greeter-monitor', wrong);
    expect(badMon.code).toBe(1);
    expect(badMon.stderr).toMatch(/fail: .* answered "Hello, World!", expected "Hi, Universe!"/);
  });

  // Stand-in (needs it): pages of 2 on demand (the real server does not page a handful of namespaces), and the calls
  // counted (none without a token). The 403, unreachable and wrong-CA cases run on the real kube-apiserver in
  // test/general-purpose-runner.kube.test.ts.
  describe('the namespaces API (seed 000) against a local Kubernetes API stand-in', () => {
    let certs: { ca: string; key: string; cert: string };
    const token = crypto.randomBytes(24).toString('hex');
    const namespaces = ['default', 'general-purpose-runner', 'kube-node-lease', 'kube-public', 'kube-system'];

    beforeAll(() => {
      certs = makeCertificates(scratch);
    });

    test('lists every namespace (paged), with the mounted token and CA, over verified TLS', async () => {
      // GIVEN the stand-in (pages of 2) and the synthesized Deployment, which automounts a token
      const api = await kubeApi({ ...certs, token, namespaces: [...namespaces].reverse(), pageSize: 2 });
      const dep = findObject(objects, 'Deployment', 'namespaces-api');
      expect(dep.spec.template.spec.automountServiceAccountToken).toBe(true);
      expect(dep.spec.template.spec.serviceAccountName).toBe('namespaces-api');
      const pod = await sandbox(objects, dep, { serviceAccount: { 'token': token, 'ca.crt': certs.ca, 'namespace': 'general-purpose-runner' } });
      // WHEN it runs, with the kubelet's KUBERNETES_SERVICE_* pointing at the stand-in
      const srv = pod.start('namespaces-api', {
        envOverrides: LOOPBACK,
        runtimeEnv: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) },
      });
      await srv.waitFor(/listening on/);
      // THEN /healthz does not touch the API, and /namespaces returns the whole list
      expect((await get(`http://127.0.0.1:${port}/healthz`)).body).toBe('ok\n');
      expect(api.calls).toEqual([]);
      const res = await get(`http://127.0.0.1:${port}/namespaces`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json');
      expect(JSON.parse(res.body)).toEqual({ namespaces, count: 5 });
      expect(api.calls.map((c) => c.path)).toEqual([
        '/api/v1/namespaces?limit=500',
        `/api/v1/namespaces?limit=500&continue=${encodeURIComponent(Buffer.from('2').toString('base64'))}`,
        `/api/v1/namespaces?limit=500&continue=${encodeURIComponent(Buffer.from('4').toString('base64'))}`,
      ]);
      expect(api.calls.every((c) => c.authorized)).toBe(true);
      await srv.stop();
      expect(srv.output().stderr).not.toContain(token);
    });

    test('without rules the pod gets no token, and the same script cannot reach the API', async () => {
      // GIVEN the same script in a runner without rules
      const chart = testChart();
      new ScriptService(chart, 'NoAccess', {
        name: 'no-access',
        files: Files.fromDirectory(path.join(__dirname, '..', 'charts', 'scripts', 'general-purpose-runner'), { exclude: ['.*', '__pycache__'] }),
        entrypoint: 'namespaces_api.py',
        port,
        replicas: 1,
      });
      const objs = synthObjects(chart);
      const dep = findObject(objs, 'Deployment', 'no-access');
      expect(dep.spec.template.spec.automountServiceAccountToken).toBe(false);
      const api = await kubeApi({ ...certs, token, namespaces, pageSize: 10 });
      // WHEN it runs (the harness mounts a token only when the pod automounts one)
      const srv = (await sandbox(objs, dep, { serviceAccount: { 'token': token, 'ca.crt': certs.ca, 'namespace': 'test' } })).start('no-access', {
        envOverrides: LOOPBACK,
        runtimeEnv: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) },
      });
      await srv.waitFor(/listening on/);
      // THEN it has nothing to authenticate with
      const res = await get(`http://127.0.0.1:${port}/namespaces`);
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body).error).toMatch(/no service-account token mounted/);
      expect(api.calls).toEqual([]);
      await srv.stop();
    });
  });
});

describe('a ScriptBundle on a workload built with cdk8s-plus', () => {
  test('the files and env added by the verbs after construction are what the busybox container runs, nested paths included', async () => {
    // GIVEN a user's Job and a bundle with one script; the library file and the env come later, through the verbs
    const chart = testChart();
    const workload = new kplus.Job(chart, 'Report', {
      metadata: { name: 'report' },
      ...hardenedPodProps(),
      containers: [hardenedContainer({ name: 'main', image: 'busybox:1.36.1', command: ['true'] })],
    });
    const bundle = new ScriptBundle(chart, 'Scripts', {
      workload,
      name: 'report-scripts',
      runtime: ScriptRuntime.BUSYBOX,
      entrypoint: 'report.sh',
      files: Files.fromContent({ 'report.sh': '. /opt/app/lib/greet.sh\ngreet "$TARGET"\n' }),
    });
    bundle.addFiles(Files.fromContent({ 'lib/greet.sh': 'greet() { echo "$GREETING, $1! (uid $(id -u))"; }\n' }));
    bundle.addEnv('GREETING', kplus.EnvValue.fromValue('Hello'));
    bundle.addEnv('TARGET', kplus.EnvValue.fromValue('bundle'));
    const objects = synthObjects(chart);
    const job = findObject(objects, 'Job', 'report');
    // WHEN the bundle's container runs as the manifest says
    const pod = await sandbox(objects, job);
    const r = await pod.run('report-scripts');
    // THEN it sourced the nested file from the read-only mount and printed from the env, as the bundle's user
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Hello, bundle! (uid 65532)\n');
  });
});

describe('archives, unpacked by the unpack command from the manifest', () => {
  test('python: zipfile unpacks a packaged module into the emptyDir, and the Job imports it from the read-only mount', async () => {
    // GIVEN a Job with two scripts and a zip bundle on the python preset
    const chart = testChart();
    new ScriptJob(chart, 'Py', {
      name: 'py-bundle',
      files: Files.fromDirectory(path.join(FIXTURES, 'python-app')),
      entrypoint: 'main.py',
      args: ['Universe'],
      archive: path.join(FIXTURES, 'bundles', 'greetings-py.zip'),
    });
    const objects = synthObjects(chart);
    const job = findObject(objects, 'Job', 'py-bundle');
    expect(findContainer(job, 'unpack').image).toBe('python:3.12.8-slim-bookworm');
    const pod = await sandbox(objects, job);
    // WHEN the init container runs, then the main one
    const unpack = await pod.run('unpack');
    expect(unpack.stderr).toBe('');
    expect(unpack.code).toBe(0);
    expect(unpack.stdout).toBe('unpack: 3 files from /opt/bundle-source/greetings-py.zip into /opt/bundle\n');
    const main = await pod.run('py-bundle');
    // THEN the module and its data file were found, and nothing was written beside them
    expect(main.stderr).toBe('');
    expect(main.code).toBe(0);
    expect(main.stdout).toBe('Good day, Universe!\n');
    const unpacked = pod.volumeDir('bundle');
    expect(fs.readdirSync(path.join(unpacked, 'greetings')).sort()).toEqual(['__init__.py', 'formal.py', 'wording.txt']);
    expect(fs.statSync(path.join(unpacked, 'greetings', 'formal.py')).uid).toBe(65532);
  });

  test('python and node bundles: after the unpack and the run, the bundle and /tmp emptyDirs use at most 1% of their sizeLimit', async () => {
    // GIVEN a Job per bundle format, as in the tests above
    const chart = testChart();
    new ScriptJob(chart, 'Py', {
      name: 'py-bundle',
      files: Files.fromDirectory(path.join(FIXTURES, 'python-app')),
      entrypoint: 'main.py',
      args: ['Universe'],
      archive: path.join(FIXTURES, 'bundles', 'greetings-py.zip'),
    });
    new ScriptJob(chart, 'Js', {
      name: 'js-bundle',
      runtime: ScriptRuntime.NODE,
      files: Files.fromPaths([path.join(FIXTURES, 'node-app', 'main.js')]),
      args: ['Universe'],
      archive: path.join(FIXTURES, 'bundles', 'greetings-js.tar.gz'),
    });
    const objects = synthObjects(chart);
    const usage: VolumeUsage[] = [];
    for (const [name, greeting] of [
      ['py-bundle', 'Good day, Universe!\n'],
      ['js-bundle', 'Well met, Universe!\n'],
    ]) {
      const job = findObject(objects, 'Job', name);
      const pod = await sandbox(objects, job);
      // WHEN the init container unpacks and the main one runs
      expect((await pod.run('unpack')).code).toBe(0);
      expect((await pod.run(name)).stdout).toBe(greeting);
      // AND the emptyDirs are measured as the kubelet does (du: allocated blocks)
      const volumes = (podSpec(job).volumes as any[]).filter((v: any) => v.emptyDir).map((v: any) => v.name);
      expect(volumes.sort()).toEqual(['bundle', 'tmp']);
      usage.push(...emptyDirUsage(job, volumes, (v) => pod.volumeDir(v)));
    }
    reportUsage('ScriptJob py-bundle, js-bundle', usage);
    // THEN each holds at most 1% of its limit, the unpacked bundle included
    expectAtMost1Percent(usage);
    expect(usage.filter((u) => u.volume === 'bundle').every((u) => u.usedBytes > 4096)).toBe(true); // files, not an empty directory
  });

  test(
    'node: GNU tar unpacks a tar.gz with "./" entries into the root-owned emptyDir, as the preset uid 10000, and ' + 'NODE_PATH resolves it',
    async () => {
      const chart = testChart();
      new ScriptJob(chart, 'Js', {
        name: 'js-bundle',
        runtime: ScriptRuntime.NODE,
        files: Files.fromPaths([path.join(FIXTURES, 'node-app', 'main.js')]),
        args: ['Universe'],
        archive: path.join(FIXTURES, 'bundles', 'greetings-js.tar.gz'),
      });
      const objects = synthObjects(chart);
      const job = findObject(objects, 'Job', 'js-bundle');
      expect(findContainer(job, 'unpack').image).toBe('node:22.12.0-bookworm-slim');
      const pod = await sandbox(objects, job);
      const unpack = await pod.run('unpack');
      expect(unpack.stderr).toBe('');
      expect(unpack.code).toBe(0);
      const main = await pod.run('js-bundle');
      expect(main.stderr).toBe('');
      expect(main.code).toBe(0);
      expect(main.stdout).toBe('Well met, Universe!\n');
      expect(fs.statSync(path.join(pod.volumeDir('bundle'), 'greetings', 'index.js')).uid).toBe(10000);
    },
  );

  test('node with a zip: busybox unzip unpacks it, then node runs', async () => {
    const chart = testChart();
    new ScriptJob(chart, 'JsZip', {
      name: 'js-zip',
      runtime: ScriptRuntime.NODE,
      files: Files.fromContent({ 'main.js': fs.readFileSync(path.join(FIXTURES, 'node-app', 'main.js'), 'utf8') }),
      archive: path.join(FIXTURES, 'bundles', 'greetings-js.zip'),
    });
    const objects = synthObjects(chart);
    const job = findObject(objects, 'Job', 'js-zip');
    expect(findContainer(job, 'unpack').image).toBe('busybox:1.36.1');
    const pod = await sandbox(objects, job);
    const unpack = await pod.run('unpack');
    expect(unpack.code).toBe(0);
    const main = await pod.run('js-zip');
    expect(main.code).toBe(0);
    expect(main.stdout).toBe('Well met, World!\n');
  });

  test('the python bootstrap refuses a bundle that would write outside the emptyDir', async () => {
    // GIVEN a zip with a "../" member and a tar with a symlink, built with python
    const evilDir = fs.mkdtempSync(path.join(scratch, 'evil-'));
    const build = spawnSync(
      '/usr/bin/python3',
      [
        '-c',
        [
          'import io, sys, tarfile, zipfile',
          'with zipfile.ZipFile(sys.argv[1] + "/evil.zip", "w") as z: z.writestr("../escaped.py", "x = 1\\n")',
          'with tarfile.open(sys.argv[1] + "/evil.tar", "w") as t:',
          '    i = tarfile.TarInfo("link"); i.type = tarfile.SYMTYPE; i.linkname = "/etc"; t.addfile(i)',
        ].join('\n'),
        evilDir,
      ],
      { encoding: 'utf8' },
    );
    expect(build.stderr).toBe('');
    for (const [file, why] of [
      ['evil.zip', /member '\.\.\/escaped\.py' has an absolute path or a '\.\.' segment/],
      ['evil.tar', /member 'link' is not a regular file or directory/],
    ] as const) {
      const chart = testChart();
      new ScriptJob(chart, 'Evil', { name: 'evil', files: Files.fromContent({ 'main.py': 'print(1)\n' }), archive: path.join(evilDir, file) });
      const objects = synthObjects(chart);
      const pod = await sandbox(objects, findObject(objects, 'Job', 'evil'));
      // WHEN the bootstrap runs THEN it fails, names the member, and writes nothing
      const r = await pod.run('unpack');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(why);
      expect(fs.readdirSync(pod.volumeDir('bundle'))).toEqual([]);
    }
  });

  test('the committed fixture bundles hold exactly the files of bundle-src', () => {
    const out = fs.mkdtempSync(path.join(scratch, 'bundles-'));
    const make = spawnSync('/usr/bin/python3', [path.join(FIXTURES, 'make-bundles.py'), out], { encoding: 'utf8' });
    expect(make.status).toBe(0);
    const list = (dir: string) =>
      spawnSync(
        '/usr/bin/python3',
        [
          '-c',
          [
            'import hashlib, json, os, sys, tarfile, zipfile',
            'out = {}',
            'for f in sorted(os.listdir(sys.argv[1])):',
            '    p = os.path.join(sys.argv[1], f)',
            '    if f.endswith(".zip"):',
            '        with zipfile.ZipFile(p) as z: out[f] = {i.filename: hashlib.sha256(z.read(i)).hexdigest() for i in z.infolist()}',
            '    else:',
            '        with tarfile.open(p) as t: out[f] = {m.name: hashlib.sha256(t.extractfile(m).read()).hexdigest() ' +
              'if m.isfile() else "dir" for m in t}',
            'print(json.dumps(out, sort_keys=True))',
          ].join('\n'),
          dir,
        ],
        { encoding: 'utf8' },
      ).stdout;
    const committed = JSON.parse(list(path.join(FIXTURES, 'bundles')));
    expect(Object.keys(committed).sort()).toEqual(['greetings-js.tar.gz', 'greetings-js.zip', 'greetings-py.zip']);
    expect(committed).toEqual(JSON.parse(list(out)));
  });
});
