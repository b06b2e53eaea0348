/**
 * The KvProxy manifests are enough to run the server: the pod spec as
 * synthesized (ConfigMap files, mounts, modes, uid/gid, command, env, RBAC)
 * is materialised on this machine and the real server is started from it.
 *
 * What the pod gets from the synthesized objects, here too:
 *  - the ConfigMap's files, bind-mounted read-only at the container's mountPath,
 *    with the volume's defaultMode;
 *  - the token Secret, bind-mounted read-only at its mountPath, mode defaultMode,
 *    group fsGroup;
 *  - a read-only root filesystem (the whole mount tree is remounted read-only:
 *    no writable volume exists in the pod, so none exists here);
 *  - the container's runAsUser/runAsGroup, command and env;
 *  - an API server that enforces the synthesized Roles (the fake API's RBAC table
 *    is built from them: verbs, resources, resourceNames, namespaces).
 * Differences, because there is no cluster: the server reaches the fake API by
 * KUBE_API_URL (http) with KUBE_TOKEN_FILE instead of the in-cluster https
 * endpoint and /var/run/secrets/kubernetes.io/serviceaccount, and listens on
 * 127.0.0.1 (KV_LISTEN_ADDRESS) on a free port.
 *
 * The server's behaviour itself is tested by its own runtime tests; these
 * prove the construct's side of the contract.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { KvProxy, KvProxyProps } from '../lib/kv-proxy';
import { FakeKubeApi } from './support/fake-kube-api';
import { K8sObject } from '../lib/testing';
import { freePort } from './support/pod-sandbox';
import { findAll, findContainer, findObject, synthObjects, testChart } from './support/synth';

const SA_TOKEN = 'sa-token-for-the-fake-api';
const READ_TOKEN = 'read-token-0123456789';
const WRITE_TOKEN = 'write-token-9876543210';

for (const bin of ['unshare', 'setpriv', 'mount']) {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${bin} (util-linux) is required for the KvProxy pod tests: apt-get install util-linux`);
  }
}

describe('the shipped server source', () => {
  test('is self-contained: every require is a node: builtin or another shipped file', () => {
    // GIVEN the ConfigMap as synthesized
    const chart = testChart('kv');
    new KvProxy(chart, 'Kv', { namespaces: ['default'] });
    const files: Record<string, string> = findObject(synthObjects(chart), 'ConfigMap', 'kv-proxy-server').data;
    // THEN nothing outside the ConfigMap is loaded (the stock image has no node_modules for us)
    const builtins = new Set(require('node:module').builtinModules as string[]);
    for (const [name, source] of Object.entries(files)) {
      // comments out (JSDoc types say import('./x.js') without loading anything)
      const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      const specifiers = [...text.matchAll(/\brequire\(\s*(['"`])([^'"`]+)\1\s*\)/g)].map((m) => m[2]);
      for (const s of specifiers) {
        if (s.startsWith('node:')) expect([name, s, builtins.has(s.slice(5))]).toEqual([name, s, true]);
        else expect([name, s, s.startsWith('./') && !s.slice(2).includes('/') && Object.keys(files).includes(s.slice(2))]).toEqual([name, s, true]);
      }
      expect([name, /^\s*import\s.+from\s|\bimport\(/m.test(text)]).toEqual([name, false]);
    }
  });
});

interface Pod {
  proc: ChildProcess;
  url: string;
  output: () => string;
  dir: string;
}


function request(method: string, url: string, token?: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (payload) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
    const req = http.request(url, { method, headers, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try { parsed = JSON.parse(text); } catch { /* text */ }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The fake API's RBAC table, from the synthesized Roles. */
function permissionsFrom(objects: K8sObject[]): any[] {
  return findAll(objects, 'Role').flatMap((role) => role.rules.map((r: any) => ({
    verbs: r.verbs, resources: r.resources, namespaces: [role.metadata.namespace], ...(r.resourceNames ? { names: r.resourceNames } : {}),
  })));
}

/**
 * Starts the container of the synthesized Deployment the way the kubelet
 * would, with the fake API standing in for the API server.
 */
async function startPod(objects: K8sObject[], api: FakeKubeApi, tokens: Record<string, string>): Promise<Pod> {
  const deployment = findObject(objects, 'Deployment');
  const pod = deployment.spec.template.spec;
  const c = findContainer(deployment, 'kv-proxy');
  const volume = (name: string) => pod.volumes.find((v: any) => v.name === name);
  const mountOf = (pred: (v: any) => boolean) => {
    const v = pod.volumes.find(pred);
    return { volume: v, mount: c.volumeMounts.find((m: any) => m.name === v.name) };
  };
  const source = mountOf((v) => v.configMap);
  const secret = mountOf((v) => v.secret);
  expect(source.mount.readOnly).toBe(true);
  expect(secret.mount.readOnly).toBe(true);
  const cm = findObject(objects, 'ConfigMap', source.volume.configMap.name);
  const uid: number = c.securityContext.runAsUser;
  const gid: number = c.securityContext.runAsGroup;
  const fsGroup: number = pod.securityContext.fsGroup;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-proxy-pod-'));
  fs.chmodSync(dir, 0o755);
  // the ConfigMap volume: one file per key, defaultMode
  const src = path.join(dir, 'source');
  fs.mkdirSync(src, { mode: 0o755 });
  for (const [k, v] of Object.entries<string>(cm.data)) {
    fs.writeFileSync(path.join(src, k), v);
    fs.chmodSync(path.join(src, k), volume(source.volume.name).configMap.defaultMode);
  }
  // the Secret volume: defaultMode, group-owned by fsGroup
  const sec = path.join(dir, 'secret');
  fs.mkdirSync(sec, { mode: 0o755 });
  for (const [k, v] of Object.entries(tokens)) {
    fs.writeFileSync(path.join(sec, k), v);
    fs.chownSync(path.join(sec, k), 0, fsGroup);
    fs.chmodSync(path.join(sec, k), secret.volume.secret.defaultMode);
  }
  // the ServiceAccount token (in a pod: the projected token volume the kubelet adds)
  const sa = path.join(dir, 'sa');
  fs.mkdirSync(sa, { mode: 0o755 });
  fs.writeFileSync(path.join(sa, 'token'), SA_TOKEN);
  fs.chownSync(path.join(sa, 'token'), 0, fsGroup);
  fs.chmodSync(path.join(sa, 'token'), 0o440);
  // /etc gets an overlay so the mount point can be made without touching the host's /etc
  for (const d of ['etc-upper', 'etc-work']) fs.mkdirSync(path.join(dir, d));

  const port = await freePort();
  const env: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin' };
  for (const e of c.env) env[e.name] = e.value;
  Object.assign(env, { PORT: String(port), KV_LISTEN_ADDRESS: '127.0.0.1', KUBE_API_URL: api.url, KUBE_TOKEN_FILE: path.join(sa, 'token') });

  const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  const srcPath: string = source.mount.mountPath;
  const secPath: string = secret.mount.mountPath;
  const script = [
    'set -e',
    // the container's mount points, on a tmpfs over their top-level directory or an overlay of /etc
    ...[srcPath, secPath].map((p) => (p.startsWith('/etc/')
      ? `grep -q ' /etc overlay ' /proc/self/mounts || mount -t overlay overlay -o lowerdir=/etc,upperdir=${q(path.join(dir, 'etc-upper'))},workdir=${q(path.join(dir, 'etc-work'))} /etc`
      : `mountpoint -q /${p.split('/')[1]} || mount -t tmpfs -o mode=755 tmpfs /${p.split('/')[1]}`)),
    `mkdir -p ${q(srcPath)} ${q(secPath)}`,
    `mount --bind ${q(src)} ${q(srcPath)} && mount -o remount,bind,ro ${q(srcPath)}`,
    `mount --bind ${q(sec)} ${q(secPath)} && mount -o remount,bind,ro ${q(secPath)}`,
    // readOnlyRootFilesystem: every mount read-only, except the kernel's own file systems
    "awk '$3 !~ /^(proc|sysfs|devtmpfs|devpts|cgroup2?|mqueue)$/ {print $2}' /proc/self/mounts | while read -r m; do mount -o remount,bind,ro \"$m\" 2>/dev/null || true; done",
    // prove the setup: nothing outside the kernel's file systems is writable
    'for d in / /tmp /opt /etc /var /home; do if touch "$d/.kv-proxy-rw-probe" 2>/dev/null; then rm -f "$d/.kv-proxy-rw-probe"; echo "$d is writable" >&2; exit 97; fi; done',
    `exec setpriv --reuid ${uid} --regid ${gid} --clear-groups -- ${c.command.map(q).join(' ')}`,
  ].join('\n');
  const proc = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`the pod exited with ${proc.exitCode}:\n${out}`);
    try {
      const r = await request('GET', `${url}/readyz`);
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`the pod did not become ready in 20 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, url, output: () => out, dir };
}

async function stopPod(pod: Pod | undefined): Promise<void> {
  if (!pod) return;
  if (pod.proc.exitCode === null && pod.proc.signalCode === null) {
    const exited = new Promise((resolve) => pod.proc.once('exit', resolve));
    pod.proc.kill('SIGTERM');
    const timer = setTimeout(() => pod.proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  fs.rmSync(pod.dir, { recursive: true, force: true });
}

describe('a KvProxy pod started from the synthesized manifests', () => {
  let api: FakeKubeApi | undefined;
  let pod: Pod | undefined;

  afterEach(async () => {
    await stopPod(pod);
    pod = undefined;
    if (api) await api.stop();
    api = undefined;
  });

  function synth(props: Partial<KvProxyProps>): K8sObject[] {
    const chart = testChart('kv');
    new KvProxy(chart, 'Kv', { namespaces: ['default'], ...props });
    return synthObjects(chart);
  }

  async function boot(objects: K8sObject[], seed: (a: FakeKubeApi) => void): Promise<{ api: FakeKubeApi; pod: Pod }> {
    api = new FakeKubeApi({ tokens: [SA_TOKEN], permissions: permissionsFrom(objects) });
    seed(api);
    await api.start(0, '127.0.0.1');
    pod = await startPod(objects, api, { 'read-tokens': `${READ_TOKEN}\n`, 'write-tokens': `${WRITE_TOKEN}\n` });
    return { api, pod };
  }

  const denied = (a: FakeKubeApi) => a.calls.filter((c: any) => c.status === 401 || c.status === 403).map((c: any) => `${c.verb} ${c.path} ${c.status}`);

  test('writes and discovery in two namespaces: ready, serving, writing and discovering within its Roles', async () => {
    // GIVEN the chart's configuration across two namespaces
    const objects = synth({ namespaces: ['default', 'apps'], writes: true, discovery: true });
    const { api: a, pod: p } = await boot(objects, (f) => {
      f.setConfigMap('default', 'flags', { color: 'blue' });
      f.setService('default', 'web', { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80 }] });
      f.setEndpointSlice('default', 'web-abc', 'web', [{ addresses: ['10.0.0.5'], ready: true }], [{ name: 'http', port: 8080 }]);
    });
    // THEN it became ready (every list/watch allowed), and serves reads, writes, creates and discovery
    expect((await request('GET', `${p.url}/healthz`)).status).toBe(200);
    expect((await request('GET', `${p.url}/metrics`)).status).toBe(200);
    expect(await request('GET', `${p.url}/kv/default/flags`, READ_TOKEN)).toEqual({ status: 200, body: { color: 'blue' } });
    expect((await request('POST', `${p.url}/kv/default/flags`, WRITE_TOKEN, { key: 'value', key2: 'value2' })).status).toBe(200);
    expect(a.getObject('configmaps', 'default', 'flags')?.data).toEqual({ color: 'blue', key: 'value', key2: 'value2' });
    expect((await request('POST', `${p.url}/kv/apps/somekey`, WRITE_TOKEN, { key: 'value' })).status).toBeLessThan(300);
    expect(a.getObject('configmaps', 'apps', 'somekey')?.data).toEqual({ key: 'value' });
    const discovered = await request('GET', `${p.url}/discover/default`, READ_TOKEN);
    expect(discovered.status).toBe(200);
    expect(JSON.stringify(discovered.body)).toContain('10.0.0.5');
    // and the API server never refused it
    expect(denied(a)).toEqual([]);
    expect(p.output()).not.toMatch(/EROFS|read-only file system/i);
  });

  test('names given with writes: ready and patching the named ConfigMap within resourceNames, no create', async () => {
    // GIVEN a proxy pinned to one existing ConfigMap
    const objects = synth({ configMapNames: ['flags'], writes: true });
    const { api: a, pod: p } = await boot(objects, (f) => f.setConfigMap('default', 'flags', { a: '1' }));
    // THEN
    expect((await request('POST', `${p.url}/kv/default/flags`, WRITE_TOKEN, { b: '2' })).status).toBe(200);
    expect(a.getObject('configmaps', 'default', 'flags')?.data).toEqual({ a: '1', b: '2' });
    expect(denied(a)).toEqual([]);
    expect(a.calls.some((c: any) => c.verb === 'create')).toBe(false);
  });

  test('read-only (the default): ready and reading; nothing is ever written', async () => {
    const objects = synth({});
    const { api: a, pod: p } = await boot(objects, (f) => f.setConfigMap('default', 'flags', { a: '1' }));
    expect(await request('GET', `${p.url}/kv/default/flags`, READ_TOKEN)).toEqual({ status: 200, body: { a: '1' } });
    expect((await request('POST', `${p.url}/kv/default/flags`, WRITE_TOKEN, { b: '2' })).status).toBeGreaterThanOrEqual(400);
    expect(a.getObject('configmaps', 'default', 'flags')?.data).toEqual({ a: '1' });
    expect(denied(a)).toEqual([]);
    expect(a.calls.filter((c: any) => !['get', 'list', 'watch'].includes(c.verb))).toEqual([]);
  });
});
