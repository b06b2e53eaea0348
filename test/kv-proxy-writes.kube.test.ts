/**
 * Where the KvProxy of dist/dev may write, against a real kube-apiserver
 * through the in-cluster path a pod takes (see test/kv-proxy.kube.test.ts and
 * test/support/kube-kv-proxy.ts for how the pod is run):
 *  - `kube-root-ca.crt` as kube-controller-manager's root-ca-cert-publisher
 *    publishes it (the cluster has no controller manager, so the test creates
 *    it the same way: name `kube-root-ca.crt`, key `ca.crt` holding the API
 *    server's CA, its description annotation, no labels), then also labeled
 *    for the proxy: 403 either way, and the API server keeps the CA;
 *  - a ConfigMap with `ownerReferences` (owned by the proxy's Deployment, as a
 *    controller would own one) and an immutable one, both labeled: 403;
 *  - the proxy's own source ConfigMap: 403;
 *  - an unlabeled ConfigMap: 403 until it carries the opt-in label, then 200;
 *    a ConfigMap the proxy creates carries the label.
 */
import * as path from 'node:path';
import { K8sObject } from '../lib/testing/gate';
import { KV_PROXY_WRITABLE_LABEL } from '../lib/kv-proxy';
import { loadFolder } from '../scripts/kube/apply';
import { DIST, useKubeCluster } from './support/kube';
import { KvProxyPod, READ_TOKEN, WRITE_TOKEN, call, startDistKvProxyPod, waitFor as waitUntil } from './support/kube-kv-proxy';

const [LABEL_KEY, LABEL_VALUE] = KV_PROXY_WRITABLE_LABEL.split('=');
// what kube-controller-manager's root-ca-cert-publisher sets on kube-root-ca.crt
const ROOT_CA_DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the ' +
  'internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

describe('KvProxy (dist/dev) writes only where they are meant to go, on a real kube-apiserver', () => {
  const cluster = useKubeCluster();
  const files = loadFolder(path.join(DIST, 'dev'));
  const objects = files.flatMap((f) => f.objects);
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.spec.template.spec.containers.some((c: any) => c.name === 'kv-proxy'))!;
  const source = objects.find((o) => o.kind === 'ConfigMap' && o.immutable === true && /-server-/.test(o.metadata.name))!;
  const ns = deployment.metadata.namespace ?? 'default';
  let pod: KvProxyPod | undefined;
  let url = '';
  const logs = () => pod?.logs() ?? '';
  const waitFor = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20000) => waitUntil(what, fn, timeoutMs, logs);
  const kv = (cm: string, key?: string) => `${url}/kv/${ns}/${cm}${key ? `/${encodeURIComponent(key)}` : ''}`;
  const live = async (cm: string) => JSON.parse(await cluster().kubectlOk(['get', 'configmap', cm, '-n', ns, '-o', 'json']));
  const apply = (obj: object) => cluster().kubectlOk(['apply', '-f', '-'], JSON.stringify(obj));
  /** Every write a client can make, with the write token. */
  const attempts = (cm: string, key: string) =>
    Promise.all([
      call('PUT', kv(cm, key), WRITE_TOKEN, 'attacker'),
      call('POST', kv(cm), WRITE_TOKEN, { [key]: 'attacker', extra: 'x' }),
      call('DELETE', kv(cm, key), WRITE_TOKEN),
      call('DELETE', `${kv(cm)}?key=${encodeURIComponent(key)}`, WRITE_TOKEN),
    ]);
  /** The cache has this resourceVersion of the ConfigMap (so a refusal is not about a stale cache). */
  const cached = (cm: string, rv: string) =>
    waitFor(`the cache to hold ${cm} at ${rv}`, async () =>
      (await call('GET', kv(cm), READ_TOKEN)).headers['x-kv-index'] === rv ? true : undefined,
    );

  beforeAll(async () => {
    pod = await startDistKvProxyPod(cluster(), files, deployment as K8sObject);
    url = pod.url;
  }, 120000);

  afterAll(async () => {
    await pod?.stop();
  });

  test('kube-root-ca.crt, published as the controller manager publishes it: every write 403, labeled or not; the CA stays', async () => {
    // GIVEN the namespace's root CA ConfigMap, as root-ca-cert-publisher writes it
    await apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kube-root-ca.crt', namespace: ns, annotations: { 'kubernetes.io/description': ROOT_CA_DESCRIPTION } },
      data: { 'ca.crt': cluster().ca },
    });
    const rv = (await live('kube-root-ca.crt')).metadata.resourceVersion;
    await cached('kube-root-ca.crt', rv);
    // WHEN a write token tries every write
    const plain = await attempts('kube-root-ca.crt', 'ca.crt');
    // ... and again once someone labeled it for the proxy
    await cluster().kubectlOk(['label', 'configmap', 'kube-root-ca.crt', '-n', ns, `${LABEL_KEY}=${LABEL_VALUE}`]);
    await cached('kube-root-ca.crt', (await live('kube-root-ca.crt')).metadata.resourceVersion);
    const labeled = await attempts('kube-root-ca.crt', 'ca.crt');
    // THEN every one is 403, saying why, and the API server still holds the cluster's CA only
    for (const r of [...plain, ...labeled]) {
      expect(r.status).toBe(403);
      expect(r.body.error).toBe(
        `configmap "${ns}/kube-root-ca.crt" is the cluster's CA bundle, published by kube-controller-manager; every pod ` +
          `in the namespace trusts it for the API server: it is never written through this proxy`,
      );
    }
    expect((await live('kube-root-ca.crt')).data).toEqual({ 'ca.crt': cluster().ca });
    // reading it stays allowed (it is public)
    expect((await call('GET', kv('kube-root-ca.crt', 'ca.crt'), READ_TOKEN)).body).toBe(cluster().ca);
  });

  test('kube-root-ca.crt cannot be created through the proxy where it is missing (403, nothing created)', async () => {
    await cluster().kubectlOk(['delete', 'configmap', 'kube-root-ca.crt', '-n', ns, '--ignore-not-found']);
    await waitFor('the cache to drop it', async () => ((await call('GET', kv('kube-root-ca.crt'), READ_TOKEN)).status === 404 ? true : undefined));
    const r = await call('PUT', kv('kube-root-ca.crt', 'ca.crt'), WRITE_TOKEN, 'attacker CA');
    expect(r.status).toBe(403);
    expect((await cluster().kubectl(['get', 'configmap', 'kube-root-ca.crt', '-n', ns])).code).not.toBe(0);
  });

  test('a ConfigMap a controller owns (ownerReferences) is 403 even with the opt-in label; the API server keeps it', async () => {
    // GIVEN a labeled ConfigMap owned by the proxy's Deployment, as a controller owns what it manages
    const owner = JSON.parse(await cluster().kubectlOk(['get', 'deployment', deployment.metadata.name, '-n', ns, '-o', 'json']));
    await apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'leader-election',
        namespace: ns,
        labels: { [LABEL_KEY]: LABEL_VALUE },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: owner.metadata.name, uid: owner.metadata.uid, controller: true }],
      },
      data: { holder: 'pod-a' },
    });
    await cached('leader-election', (await live('leader-election')).metadata.resourceVersion);
    // WHEN
    const results = await attempts('leader-election', 'holder');
    // THEN
    for (const r of results) {
      expect(r.status).toBe(403);
      expect(r.body.error).toBe(
        `configmap "${ns}/leader-election" is owned by Deployment "${owner.metadata.name}" (ownerReferences): its ` +
          `controller manages it, so it is never written through this proxy`,
      );
    }
    expect((await live('leader-election')).data).toEqual({ holder: 'pod-a' });
  });

  test('an immutable ConfigMap is 403 even with the opt-in label', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'frozen-labeled', namespace: ns, labels: { [LABEL_KEY]: LABEL_VALUE } },
      immutable: true,
      data: { a: '1' },
    });
    await cached('frozen-labeled', (await live('frozen-labeled')).metadata.resourceVersion);
    for (const r of await attempts('frozen-labeled', 'a')) {
      expect(r.status).toBe(403);
      expect(r.body.error).toBe(`configmap "${ns}/frozen-labeled" is immutable: its keys cannot change; create a new ConfigMap instead`);
    }
    expect((await live('frozen-labeled')).data).toEqual({ a: '1' });
  });

  test("the proxy's own source ConfigMap is 403", async () => {
    const before = (await live(source.metadata.name)).data;
    for (const r of await attempts(source.metadata.name, 'server.js')) expect(r.status).toBe(403);
    expect((await live(source.metadata.name)).data).toEqual(before);
  });

  test('an unlabeled ConfigMap is 403 until it carries the opt-in label; then writes go through', async () => {
    // GIVEN a ConfigMap someone else made, not meant for the proxy
    await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'platform-settings', namespace: ns }, data: { mode: 'strict' } });
    await cached('platform-settings', (await live('platform-settings')).metadata.resourceVersion);
    // WHEN / THEN refused
    for (const r of await attempts('platform-settings', 'mode')) {
      expect(r.status).toBe(403);
      expect(r.body.error).toBe(
        `configmap "${ns}/platform-settings" is not opted in to writes through this proxy: it needs the label ${LABEL_KEY}=${LABEL_VALUE}`,
      );
    }
    expect((await live('platform-settings')).data).toEqual({ mode: 'strict' });
    // WHEN its owner opts it in
    await cluster().kubectlOk(['label', 'configmap', 'platform-settings', '-n', ns, `${LABEL_KEY}=${LABEL_VALUE}`]);
    const ok = await waitFor('the write to be accepted', async () => {
      const r = await call('PUT', kv('platform-settings', 'mode'), WRITE_TOKEN, 'relaxed');
      return r.status === 200 ? r : undefined;
    });
    // THEN
    expect(ok.body).toBe('relaxed');
    expect((await live('platform-settings')).data).toEqual({ mode: 'relaxed' });
  });

  test('a ConfigMap the proxy creates carries the opt-in label, so it stays writable', async () => {
    const created = await call('POST', kv('made-by-proxy'), WRITE_TOKEN, { a: '1' });
    expect(created.status).toBe(200);
    expect((await live('made-by-proxy')).metadata.labels).toMatchObject({ [LABEL_KEY]: LABEL_VALUE });
    expect((await call('PUT', kv('made-by-proxy', 'a'), WRITE_TOKEN, '2')).status).toBe(200);
    expect((await live('made-by-proxy')).data).toEqual({ a: '2' });
  });

  test('a refused write and an accepted one are each one audit line: token name, method, configmap/key, status, index', async () => {
    // GIVEN a labeled ConfigMap and the root CA
    await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-root-ca.crt', namespace: ns }, data: { 'ca.crt': cluster().ca } });
    await apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'audited', namespace: ns, labels: { [LABEL_KEY]: LABEL_VALUE } },
      data: { a: '1' },
    });
    await cached('audited', (await live('audited')).metadata.resourceVersion);
    await cached('kube-root-ca.crt', (await live('kube-root-ca.crt')).metadata.resourceVersion);
    const audit = () =>
      logs()
        .split('\n')
        .filter((l) => l.includes('"msg":"audit"'))
        .map((l) => JSON.parse(l));
    const before = audit().length;
    // WHEN
    const refused = await call('PUT', kv('kube-root-ca.crt', 'ca.crt'), WRITE_TOKEN, 'attacker');
    const accepted = await call('PUT', kv('audited', 'a'), WRITE_TOKEN, '2');
    // THEN
    const lines = await waitFor('two audit lines', async () => (audit().length >= before + 2 ? audit().slice(before) : undefined));
    expect(lines).toEqual([
      {
        time: expect.any(String),
        level: 'info',
        msg: 'audit',
        token: 'write-tokens#1',
        method: 'PUT',
        namespace: ns,
        configmap: 'kube-root-ca.crt',
        key: 'ca.crt',
        status: 403,
        index: (await live('kube-root-ca.crt')).metadata.resourceVersion,
      },
      {
        time: expect.any(String),
        level: 'info',
        msg: 'audit',
        token: 'write-tokens#1',
        method: 'PUT',
        namespace: ns,
        configmap: 'audited',
        key: 'a',
        status: 200,
        index: accepted.headers['x-kv-index'],
      },
    ]);
    expect(refused.status).toBe(403);
    expect(logs()).not.toContain(WRITE_TOKEN);
  });
});
