/**
 * KV_LABEL_SELECTOR against a real kube-apiserver + etcd (test/support/kube.ts):
 * kube-apiserver parses the selector and filters the proxy's list and watch,
 * so what the proxy serves is decided by the real server, not by the stand-in's
 * own selector parser. Labels are set and removed with kubectl, as another
 * client would. The proxy runs as in the pod (`node server.js`), over HTTPS to
 * the server, verifying its CA, with the admin's bearer token (what the
 * construct's Role allows is kube-rbac.test.ts's and kv-proxy.source.test.ts's).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProxyProcess, READ_TOKEN, WRITE_TOKEN, agent, get, post, waitFor } from './support/kv-proxy-harness';
import { useKubeCluster } from './support/kube';

const NS = 'kvsel';
const LABEL = 'kv-proxy.example.com/expose';

afterAll(() => agent.destroy());

/** The label that opts a ConfigMap in to writes (KV_WRITABLE_LABEL's default); the proxy puts it on what it creates. */
const WRITABLE = 'kv-proxy.cdk8s-patterns.io/writable';

describe('kv-proxy with KV_LABEL_SELECTOR on a real kube-apiserver', () => {
  const cluster = useKubeCluster();
  let dir = '';
  const proxies: ProxyProcess[] = [];
  const live = async (name: string) => {
    const r = await cluster().kubectl(['get', 'configmap', '-n', NS, name, '-o', 'json']);
    return r.code === 0 ? JSON.parse(r.stdout) : undefined;
  };
  const configMap = (name: string, data: Record<string, string>, labels: Record<string, string> = {}) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: NS, labels },
      data,
    });

  /** A proxy with KV_LABEL_SELECTOR=selector (and writes on), started after the ConfigMaps exist. */
  async function proxy(selector: string): Promise<ProxyProcess> {
    const c = cluster();
    const p = await ProxyProcess.start({
      KUBE_API_URL: c.server,
      KUBE_CA_FILE: c.caFile,
      KUBE_TOKEN_FILE: path.join(dir, 'sa-token'),
      KV_TOKENS_DIR: path.join(dir, 'tokens'),
      KV_NAMESPACES: NS,
      KV_WRITE_ENABLED: 'true',
      KV_LABEL_SELECTOR: selector,
    });
    proxies.push(p);
    return p;
  }

  beforeAll(async () => {
    const c = cluster();
    await c.kubectlOk(['create', 'namespace', NS]);
    // GIVEN ConfigMaps with and without the label, made by another client
    await c.kubectlOk(['apply', '-f', '-'], configMap('exposed', { a: '1' }, { [LABEL]: 'true' }));
    // (hidden is opted in to writes, so only the selector can refuse a write to it)
    await c.kubectlOk(['apply', '-f', '-'], configMap('hidden', { b: '2' }, { [WRITABLE]: 'true' }));
    await c.kubectlOk(['apply', '-f', '-'], configMap('web', { t: 'web' }, { tier: 'web' }));
    await c.kubectlOk(['apply', '-f', '-'], configMap('db', { t: 'db' }, { tier: 'db' }));
    await c.kubectlOk(['apply', '-f', '-'], configMap('legacy-web', { t: 'legacy' }, { tier: 'web', legacy: 'yes' }));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-proxy-selector-'));
    fs.mkdirSync(path.join(dir, 'tokens'));
    fs.writeFileSync(path.join(dir, 'tokens', 'read-tokens'), `${READ_TOKEN}\n`);
    fs.writeFileSync(path.join(dir, 'tokens', 'write-tokens'), `${WRITE_TOKEN}\n`);
    fs.writeFileSync(path.join(dir, 'sa-token'), `${c.adminToken}\n`);
  }, 180000);

  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('serves only matching ConfigMaps; others read as missing', async () => {
    const p = await proxy(`${LABEL}=true`);
    expect((await get(`${p.url}/kv/${NS}/exposed`)).json).toEqual({ a: '1' });
    expect((await get(`${p.url}/kv/${NS}/hidden`)).status).toBe(404);
    expect((await get(`${p.url}/kv/${NS}/web`)).status).toBe(404);
  });

  test('a set-based selector (in, !key) is applied as kube-apiserver parses it', async () => {
    const p = await proxy('tier in (web,api),!legacy');
    expect((await get(`${p.url}/kv/${NS}/web`)).json).toEqual({ t: 'web' });
    expect((await get(`${p.url}/kv/${NS}/db`)).status).toBe(404);
    expect((await get(`${p.url}/kv/${NS}/legacy-web`)).status).toBe(404);
    expect((await get(`${p.url}/kv/${NS}/exposed`)).status).toBe(404);
  });

  test('refuses to write to an existing ConfigMap outside the selector, which the API server keeps as it was', async () => {
    const p = await proxy(`${LABEL}=true`);
    const res = await post(`${p.url}/kv/${NS}/hidden`, { b: 'changed' });
    expect(res.status).toBe(403);
    expect(res.json.error).toMatch(/KV_LABEL_SELECTOR/);
    expect((await live('hidden')).data).toEqual({ b: '2' });
  });

  test('creates new ConfigMaps with the selector labels, so they stay visible', async () => {
    const p = await proxy(`${LABEL}=true`);
    const res = await post(`${p.url}/kv/${NS}/fresh`, { c: '3' });
    expect(res.status).toBe(200);
    expect((await live('fresh')).metadata.labels).toEqual({ [LABEL]: 'true', [WRITABLE]: 'true' });
    expect((await get(`${p.url}/kv/${NS}/fresh`)).json).toEqual({ c: '3' });
  });

  test('a ConfigMap whose label is removed disappears; labelled again, it comes back', async () => {
    // GIVEN a ConfigMap of its own, served
    const c = cluster();
    await c.kubectlOk(['apply', '-f', '-'], configMap('relabelled', { r: '1' }, { [LABEL]: 'true' }));
    const p = await proxy(`${LABEL}=true`);
    expect((await get(`${p.url}/kv/${NS}/relabelled`)).json).toEqual({ r: '1' });
    // WHEN another client removes the label
    await c.kubectlOk(['label', 'configmap', '-n', NS, 'relabelled', `${LABEL}-`]);
    // THEN the proxy's watch drops it (the API server sends it as DELETED from the selection)
    await waitFor('the ConfigMap to disappear from the proxy', async () => (await get(`${p.url}/kv/${NS}/relabelled`)).status === 404 || undefined);
    // WHEN the label is put back
    await c.kubectlOk(['label', 'configmap', '-n', NS, 'relabelled', `${LABEL}=true`]);
    // THEN it is served again
    const back = await waitFor('the ConfigMap to come back', async () => {
      const r = await get(`${p.url}/kv/${NS}/relabelled`);
      return r.status === 200 ? r : undefined;
    });
    expect(back.json).toEqual({ r: '1' });
  });
});
