/**
 * The KvProxy manifests are enough to run the server: the pod spec as
 * synthesized (ConfigMap files, mounts, modes, uid/gid, command, env, RBAC)
 * is run on the shared pod sandbox (./support/pod-sandbox.ts), as the
 * kubelet would run it:
 *  - the ConfigMap's files and the token Secret, projected read-only at the
 *    container's mountPaths with the volumes' defaultMode, group fsGroup;
 *  - the ServiceAccount token volume (automountServiceAccountToken);
 *  - a read-only root filesystem, the container's runAsUser/runAsGroup,
 *    no_new_privs, no capabilities, exactly the manifest's command and env.
 *
 * Here the API server is the stand-in (./support/fake-kube-api.js), with an
 * RBAC table built from the synthesized Roles; the same pods against the real
 * kube-apiserver, through the in-cluster HTTPS path, are in
 * kv-proxy.kube.test.ts. Differences, because the stand-in speaks http: the
 * server reaches it by KUBE_API_URL with KUBE_TOKEN_FILE pointing at the
 * mounted ServiceAccount token, and listens on 127.0.0.1 (KV_LISTEN_ADDRESS)
 * on a free port.
 *
 * The server's behaviour itself is tested by its own runtime tests; these
 * prove the construct's side of the contract.
 */
import * as http from 'node:http';
import { KvProxy, KvProxyProps } from '../lib/kv-proxy';
import { FakeKubeApi } from './support/fake-kube-api';
import { K8sObject } from '../lib/testing';
import { freePort, PodSandbox, RunningContainer, SERVICE_ACCOUNT_PATH } from './support/pod-sandbox';
import { findAll, findObject, synthObjects, testChart } from './support/synth';

const SA_TOKEN = 'sa-token-for-the-fake-api';
const READ_TOKEN = 'read-token-0123456789';
const WRITE_TOKEN = 'write-token-9876543210';

describe('the shipped server source', () => {
  test('is self-contained: every require is a node: builtin or another shipped file', () => {
    // GIVEN the ConfigMap as synthesized
    const chart = testChart('kv');
    const proxy = new KvProxy(chart, 'Kv', { namespaces: ['default'] });
    const files: Record<string, string> = findObject(synthObjects(chart), 'ConfigMap', proxy.sourceConfigMapName).data;
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

interface Pod {
  sandbox: PodSandbox;
  container: RunningContainer;
  url: string;
  output: () => string;
}

/**
 * Starts the container of the synthesized Deployment on the pod sandbox,
 * with the fake API standing in for the API server.
 */
async function startPod(objects: K8sObject[], api: FakeKubeApi, tokens: Record<string, string>): Promise<Pod> {
  const deployment = findObject(objects, 'Deployment');
  const secret = deployment.spec.template.spec.volumes.find((v: any) => v.secret).secret.secretName;
  const sandbox = await PodSandbox.create(objects, deployment, {
    secrets: { [secret]: tokens },
    serviceAccount: { 'token': SA_TOKEN, 'ca.crt': '', 'namespace': deployment.metadata.namespace ?? 'default' },
    // node:24-alpine's PATH; the host's node stands in for the image's
    images: (image) => (image.startsWith('node:') ? { env: { PATH: '/usr/local/bin:/usr/bin:/bin' } } : undefined),
  });
  const port = await freePort();
  const container = sandbox.start('kv-proxy', {
    envOverrides: { PORT: String(port), KV_LISTEN_ADDRESS: '127.0.0.1', KUBE_API_URL: api.url, KUBE_TOKEN_FILE: `${SERVICE_ACCOUNT_PATH}/token` },
  });
  const output = () => { const o = container.output(); return o.stdout + o.stderr; };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    const exited = container.process.exitCode ?? container.process.signalCode;
    if (exited !== null) throw new Error(`the pod exited with ${exited}:\n${output()}`);
    try {
      const r = await request('GET', `${url}/readyz`);
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`the pod did not become ready in 20 s:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { sandbox, container, url, output };
}

async function stopPod(pod: Pod | undefined): Promise<void> {
  if (!pod) return;
  await pod.container.stop(5000);
  await pod.sandbox.cleanup();
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
