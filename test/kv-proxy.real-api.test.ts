/**
 * Issue 16, points 1, 2 and 8 against a real kube-apiserver + etcd
 * (test/support/kube.ts): three kv-proxy processes (`node server.js`, as in
 * the pod) talk HTTPS to it, verifying its CA, with a bearer token. What the
 * stand-in API only imitates is checked here against the real thing:
 * immutable ConfigMaps, keys such as `__proto__` in stored data, and integer
 * resourceVersions that order writes across replicas.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProxyProcess, READ_TOKEN, WRITE_TOKEN, agent, del, get, post, put, waitFor } from './support/kv-proxy-harness';
import { useKubeCluster } from './support/kube';

const NS = 'kv16';
const SOURCE_CM = 'kv-proxy-server-0123456789';

afterAll(() => agent.destroy());

describe('kv-proxy against a real kube-apiserver (issue 16: points 1, 2, 8)', () => {
  const cluster = useKubeCluster();
  let dir = '';
  const proxies: ProxyProcess[] = [];
  const kv = (i: number, p: string) => `${proxies[i].url}/kv/${NS}/${p}`;
  const stored = async (name: string) => JSON.parse(await cluster().kubectlOk(['get', 'configmap', '-n', NS, name, '-o', 'json']));

  beforeAll(async () => {
    const c = cluster();
    await c.kubectlOk(['create', 'namespace', NS]);
    // GIVEN the server source as the construct ships it: immutable
    await c.kubectlOk(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: SOURCE_CM, namespace: NS },
        immutable: true,
        data: { 'server.js': '// reviewed' },
      }),
    );
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-proxy-real-'));
    fs.mkdirSync(path.join(dir, 'tokens'));
    fs.writeFileSync(path.join(dir, 'tokens', 'read-tokens'), `${READ_TOKEN}\n`);
    fs.writeFileSync(path.join(dir, 'tokens', 'write-tokens'), `${WRITE_TOKEN}\n`);
    fs.writeFileSync(path.join(dir, 'sa-token'), `${c.adminToken}\n`);
    const env = {
      KUBE_API_URL: c.server,
      KUBE_CA_FILE: c.caFile,
      KUBE_TOKEN_FILE: path.join(dir, 'sa-token'),
      KV_TOKENS_DIR: path.join(dir, 'tokens'),
      KV_NAMESPACES: NS,
      KV_WRITE_ENABLED: 'true',
      KV_SELF_CONFIGMAPS: `${NS}/${SOURCE_CM}`,
      KV_CATCH_UP_TIMEOUT_SECONDS: '2',
    };
    for (let i = 0; i < 3; i++) proxies.push(await ProxyProcess.start(env));
  }, 120000);

  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('1. writes to the source ConfigMap are 403; to an immutable one 403; the API server keeps both as they were', async () => {
    // WHEN
    const own = await put(kv(0, `${SOURCE_CM}/server.js`), 'evil');
    await post(kv(0, 'frozen'), { a: '1' });
    await cluster().kubectlOk(['patch', 'configmap', '-n', NS, 'frozen', '--type=merge', '-p', '{"immutable":true}']);
    // right after the change: refused from the cache or after the pinned patch conflicts, either way 403
    const frozen = await put(kv(1, 'frozen/a'), '2');
    // THEN
    expect(own.status).toBe(403);
    expect(frozen.status).toBe(403);
    expect(frozen.json.error).toMatch(/is immutable/);
    expect((await stored(SOURCE_CM)).data).toEqual({ 'server.js': '// reviewed' });
    expect((await stored('frozen')).data).toEqual({ a: '1' });
    await waitFor('the cache to see the flag', async () => (await put(kv(2, 'frozen/a'), '3')).status === 403 || undefined);
  });

  test('2. __proto__, constructor and toString are ordinary keys through the real API server', async () => {
    for (const key of ['__proto__', 'constructor', 'toString']) {
      const first = await put(kv(0, `protos/${key}`), 'one');
      const second = await put(kv(0, `protos/${key}`), 'two');
      const read = await get(kv(0, `protos/${key}`));
      expect([first.status, second.status, read.status, read.text]).toEqual([200, 200, 200, 'two']);
    }
    const data = (await stored('protos')).data;
    expect(Object.keys(data).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getOwnPropertyDescriptor(data, '__proto__')?.value).toBe('two');
    const removed = await del(kv(0, 'protos/__proto__'));
    const after = await get(kv(0, 'protos/__proto__'));
    expect([removed.status, after.status]).toEqual([200, 404]);
    expect(Object.keys((await stored('protos')).data).sort()).toEqual(['constructor', 'toString']);
  });

  test('8. a write through one proxy is read through the other two with ?min-index / X-Kv-Min-Index', async () => {
    for (let i = 1; i <= 10; i++) {
      const written = await put(kv(i % 3, 'ryw/v'), String(i));
      const index = written.headers['x-kv-index'] as string;
      expect(index).toMatch(/^\d+$/); // etcd-backed resourceVersions are integers
      const [b, c] = await Promise.all([
        get(`${kv((i + 1) % 3, 'ryw/v')}?min-index=${index}`),
        get(kv((i + 2) % 3, 'ryw'), READ_TOKEN, { 'X-Kv-Min-Index': index }),
      ]);
      expect(b.text).toBe(String(i));
      expect(c.json).toEqual({ v: String(i) });
    }
    const ahead = String(BigInt((await put(kv(0, 'ryw/v'), 'x')).headers['x-kv-index'] as string) + 100000n);
    const late = await get(`${kv(1, 'ryw/v')}?min-index=${ahead}`);
    expect(late.status).toBe(504);
    expect(late.json.error).toMatch(/has not caught up to index/);
  });
});
