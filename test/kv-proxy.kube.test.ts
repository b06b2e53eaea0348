/**
 * The KvProxy of dist/dev against a real kube-apiserver, through the
 * in-cluster path a pod takes:
 *  - the server source is the synthesized ConfigMap in dist/dev, projected by
 *    the pod sandbox at the container's mountPath; command, env, uid/gid,
 *    read-only root, dropped capabilities are the Deployment's;
 *  - the ServiceAccount token is a real one (TokenRequest, `kubectl create
 *    token`), placed with the API server's CA and the namespace at
 *    /var/run/secrets/kubernetes.io/serviceaccount in the container's mount
 *    namespace, and KUBERNETES_SERVICE_HOST/PORT point at the API server, so
 *    the proxy speaks HTTPS, verifies the server against ca.crt, and is
 *    authorized by the synthesized Role and RoleBinding;
 *  - the client-token Secret is created in the cluster and mounted from it.
 * Only PORT and KV_LISTEN_ADDRESS are overridden (host network: a free port on
 * 127.0.0.1 instead of the pod's :5001).
 *
 * kube-apiserver runs with --watch-cache=false and without its own periodic
 * compaction, so the proxy's watches are served from etcd and an etcd
 * compaction the test makes is what expires them (410 Gone). While the proxy's
 * API server is stopped, the test changes the cluster through a second
 * kube-apiserver on the same etcd (as in an HA control plane).
 */
import * as path from 'node:path';
import { K8sObject } from '../lib/testing/gate';
import { loadFolder } from '../scripts/kube/apply';
import { DIST, useKubeCluster } from './support/kube';
import {
  KvProxyPod,
  READ_TOKEN,
  Reply,
  WRITE_TOKEN,
  call,
  metric,
  metricsText,
  startDistKvProxyPod,
  upstreamRefusals,
  waitFor as waitUntil,
} from './support/kube-kv-proxy';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('KvProxy (dist/dev) against a real kube-apiserver, in-cluster HTTPS', () => {
  const cluster = useKubeCluster({ watchCache: false, etcdCompactionInterval: '0' });
  const files = loadFolder(path.join(DIST, 'dev'));
  const objects = files.flatMap((f) => f.objects);
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.spec.template.spec.containers.some((c: any) => c.name === 'kv-proxy'))!;
  const ns = deployment.metadata.namespace ?? 'default';
  const secretName: string = deployment.spec.template.spec.volumes.find((v: any) => v.secret).secret.secretName;
  let pod: KvProxyPod | undefined;
  let url = '';
  const logs = () => pod?.logs() ?? '';
  const waitFor = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60000) => waitUntil(what, fn, timeoutMs, logs);

  beforeAll(async () => {
    pod = await startDistKvProxyPod(cluster(), files, deployment as K8sObject);
    url = pod.url;
  }, 120000);

  afterAll(async () => {
    await pod?.stop();
  });

  const kv = (cm: string, key?: string) => `${url}/kv/${ns}/${cm}${key ? `/${encodeURIComponent(key)}` : ''}`;
  const liveData = async (cm: string) => JSON.parse(await cluster().kubectlOk(['get', 'configmap', cm, '-n', ns, '-o', 'json'])).data ?? {};

  test('it runs in-cluster: HTTPS to the API server with the mounted token and CA, no stand-in URL', () => {
    const env = pod!.container.container.env!;
    expect(env.KUBE_API_URL).toBeUndefined();
    expect([env.KUBERNETES_SERVICE_HOST, env.KUBERNETES_SERVICE_PORT]).toEqual([cluster().host, String(cluster().port)]);
    expect(pod!.container.container.mounts.map((m) => m.target)).toEqual(
      expect.arrayContaining(['/var/run/secrets/kubernetes.io/serviceaccount', '/opt/kv-proxy', '/etc/kv-proxy/tokens']),
    );
    expect(logs()).not.toMatch(/EROFS|read-only file system|certificate|Forbidden/i);
  });

  test("the seed's test.sh flow: GET, POST {key, key2}, GET", async () => {
    // GIVEN no ConfigMap "somekey" yet
    expect((await call('GET', kv('somekey'), READ_TOKEN)).status).toBe(404);
    // WHEN the seed's POST
    const post = await call('POST', kv('somekey'), WRITE_TOKEN, { key: 'value', key2: 'value2' });
    expect(post.status).toBeLessThan(300);
    // THEN both the proxy and the API server have it
    expect((await call('GET', kv('somekey'), READ_TOKEN)).body).toEqual({ key: 'value', key2: 'value2' });
    expect(await liveData('somekey')).toEqual({ key: 'value', key2: 'value2' });
  });

  test('tokens and RBAC: no token 401, read token cannot write, secrets are not served', async () => {
    expect((await call('GET', kv('somekey'))).status).toBe(401);
    expect((await call('POST', kv('somekey'), READ_TOKEN, { x: '1' })).status).toBe(403);
    // a Secret is not a ConfigMap: the proxy never asks the API server for it
    expect((await call('GET', kv(secretName), READ_TOKEN)).status).toBe(404);
    expect(JSON.stringify((await call('GET', kv(secretName), READ_TOKEN)).body)).not.toContain(READ_TOKEN);
  });

  // About 6 s on 2 idle cores; on cores shared with other test runs (load 10-14) kube-apiserver merged only
  // about 8 patches/s into this one ConfigMap, the proxy's 3 s upstream timeout turned into 503s, and the
  // retries took minutes: hence the generous timeout.
  const WRITERS = 32;
  const KEYS = 50;
  test(`${WRITERS} concurrent writers x ${KEYS} distinct keys into one new ConfigMap: every key kept, exactly one create`, async () => {
    // WHEN 32 clients race to create the ConfigMap and then keep merging one key each, as the seed's clients POST
    const creates = async () => metric(await metricsText(url), 'kv_proxy_upstream_requests_total', { verb: 'create', code: '201' });
    const createdBefore = await creates();
    const t0 = Date.now();
    const failures: string[] = [];
    let retries = 0;
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        for (let k = 0; k < KEYS; k++) {
          // a client as the proxy asks for it: a 503 says "retry after Retry-After" (merging the same key again is idempotent)
          for (let attempt = 1; ; attempt++) {
            const r = await call('POST', kv('concurrent'), WRITE_TOKEN, { [`w${w}-k${k}`]: `${w}:${k}` }, 60000).catch(
              (e) => ({ status: 0, body: String(e) }) as Reply,
            );
            if (r.status === 503 && attempt < 10) {
              retries++;
              await sleep(Number(r.headers['retry-after'] ?? 1) * 1000);
              continue;
            }
            if (r.status !== 200 && r.status !== 201) failures.push(`w${w}-k${k}: ${r.status} ${JSON.stringify(r.body)}`);
            break;
          }
        }
      }),
    );
    // THEN every write was acknowledged, and the API server holds every key
    expect(failures.slice(0, 5)).toEqual([]);
    const stored = await liveData('concurrent');
    expect(Object.keys(stored)).toHaveLength(WRITERS * KEYS);
    for (let w = 0; w < WRITERS; w++) for (let k = 0; k < KEYS; k++) if (stored[`w${w}-k${k}`] !== `${w}:${k}`) failures.push(`lost w${w}-k${k}`);
    expect(failures.slice(0, 5)).toEqual([]);
    const served = await waitFor('all keys through the proxy', async () => {
      const r = await call('GET', kv('concurrent'), READ_TOKEN);
      return Object.keys(r.body).length === WRITERS * KEYS ? r.body : undefined;
    });
    expect(served).toEqual(stored);
    // the first writers raced to create it: exactly one create succeeded (the others got 409 and merged)
    expect((await creates()) - createdBefore).toBe(1);
    process.stderr.write(
      `${WRITERS} writers x ${KEYS} keys against kube-apiserver: ${Date.now() - t0} ms, ${retries} writes answered 503 and retried\n`,
    );
  }, 420000);

  test('blocking reads: ?index&wait answers when the ConfigMap changes, not before', async () => {
    const first = await call('GET', kv('somekey'), READ_TOKEN);
    const index = String(first.headers['x-kv-index']);
    expect(index).toMatch(/^\d+$/);
    // WHEN another client changes the ConfigMap once the read is held (wait=5m: past the test's own timeout, so
    // only the change can answer it)
    const waiting = call('GET', `${kv('somekey')}?index=${index}&wait=5m`, READ_TOKEN, undefined, 300000);
    await waitFor('the read to be held (kv_proxy_blocking_reads_in_flight)', async () =>
      metric(await metricsText(url), 'kv_proxy_blocking_reads_in_flight') >= 1 ? true : undefined,
    );
    await cluster().kubectlOk(['patch', 'configmap', 'somekey', '-n', ns, '--type=merge', '-p', '{"data":{"key":"changed-by-kubectl"}}']);
    const r = await waiting;
    // THEN the read returned the change, after it happened
    expect(r.status).toBe(200);
    expect(r.body.key).toBe('changed-by-kubectl');
    expect(Number(r.headers['x-kv-index'])).toBeGreaterThan(Number(index));
    // and an unchanged ConfigMap holds the read for the wait
    const idle = await call('GET', `${kv('somekey')}?index=${r.headers['x-kv-index']}&wait=1s`, READ_TOKEN);
    expect([idle.status, idle.ms >= 900]).toEqual([200, true]);
  });

  test('discovery over real Services and EndpointSlices the test creates', async () => {
    await cluster().kubectlOk(
      ['apply', '--server-side', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'web', namespace: ns },
            spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
          },
          {
            apiVersion: 'discovery.k8s.io/v1',
            kind: 'EndpointSlice',
            metadata: { name: 'web-abc', namespace: ns, labels: { 'kubernetes.io/service-name': 'web' } },
            addressType: 'IPv4',
            ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
            endpoints: [
              { addresses: ['10.244.1.5'], conditions: { ready: true } },
              { addresses: ['10.244.1.6'], conditions: { ready: false } },
            ],
          },
        ],
      }),
    );
    const clusterIP = (await cluster().kubectlOk(['get', 'service', 'web', '-n', ns, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    expect(clusterIP).toMatch(/^10\.0\.0\.\d+$/);
    const found = await waitFor('the Service in /discover', async () => {
      const r = await call('GET', `${url}/discover/${ns}`, READ_TOKEN);
      return r.status === 200 && JSON.stringify(r.body).includes('10.244.1.5') ? r.body : undefined;
    });
    const text = JSON.stringify(found);
    expect(text).toContain(clusterIP);
    expect(text).not.toContain('10.244.1.6'); // not ready
  });

  test(
    "the API server refuses none of the proxy's calls (its Role covers them): a write, a read and discovery made " + 'here, and any before',
    async () => {
      // GIVEN calls of every kind the proxy makes, made by this test
      const before = await upstreamRefusals(url);
      expect((await call('POST', kv('rbac-witness'), WRITE_TOKEN, { a: '1' })).status).toBeLessThan(300);
      expect((await call('PUT', kv('rbac-witness/b'), WRITE_TOKEN, '2')).status).toBeLessThan(300);
      expect((await call('GET', kv('rbac-witness'), READ_TOKEN)).status).toBe(200);
      expect((await call('GET', `${url}/discover/${ns}`, READ_TOKEN)).status).toBe(200);
      // THEN the API server answered the proxy's writes, and refused none of its calls
      const after = await upstreamRefusals(url);
      expect(after.answered).toBeGreaterThan(before.answered);
      expect(after.refused).toBe(0);
    },
  );

  test('an outage: kube-apiserver stopped for 5 s, cached reads keep answering, writes get 503 + Retry-After, then recovery', async () => {
    const c = cluster();
    const before = await call('GET', kv('somekey'), READ_TOKEN);
    expect(before.status).toBe(200);
    const standby = await c.startExtraApiServer();
    try {
      await c.stopApiServer();
      const down = Date.now();
      // reads: from the cache
      const read = await call('GET', kv('somekey'), READ_TOKEN);
      expect([read.status, read.body]).toEqual([200, before.body]);
      // writes: 503 with Retry-After
      const write = await call('POST', kv('somekey'), WRITE_TOKEN, { during: 'outage' });
      expect(write.status).toBe(503);
      expect(Number(write.headers['retry-after'])).toBeGreaterThan(0);
      // another client changes the ConfigMap meanwhile (through the standby API server)
      await c.kubectlOk([
        '--server',
        standby.server,
        'patch',
        'configmap',
        'somekey',
        '-n',
        ns,
        '--type=merge',
        '-p',
        '{"data":{"key2":"changed-during-outage"}}',
      ]);
      await sleep(Math.max(0, 5000 - (Date.now() - down)));
      await c.startApiServer();
      // THEN writes work again and the watch caught up with the change made during the outage
      const after = await waitFor(
        'a write after the outage',
        async () => {
          const r = await call('POST', kv('somekey'), WRITE_TOKEN, { after: 'outage' });
          return r.status < 300 ? r : undefined;
        },
        30000,
      );
      expect(after.status).toBeLessThan(300);
      const data = await waitFor('the change made during the outage', async () => {
        const r = await call('GET', kv('somekey'), READ_TOKEN);
        return r.body.key2 === 'changed-during-outage' && r.body.after === 'outage' ? r.body : undefined;
      });
      expect(data.during).toBeUndefined();
      expect(await liveData('somekey')).toEqual(data);
    } finally {
      await c.startApiServer().catch(() => undefined); // already running unless the test failed mid-outage
      await standby.stop();
    }
  }, 120000);

  test('an etcd compaction expires the watch: 410 Gone, relist, and the change made meanwhile is served', async () => {
    const c = cluster();
    const metricsBefore = await metricsText(url);
    const standby = await c.startExtraApiServer();
    try {
      await c.stopApiServer();
      // meanwhile: the watched ConfigMap changes, then history is compacted past the proxy's resourceVersion
      await c.kubectlOk([
        '--server',
        standby.server,
        'patch',
        'configmap',
        'somekey',
        '-n',
        ns,
        '--type=merge',
        '-p',
        '{"data":{"key":"changed-before-compaction"}}',
      ]);
      await c.kubectlOk(['--server', standby.server, 'create', 'configmap', 'unrelated', '-n', 'kube-system', '--from-literal=a=b']);
      const rev = await c.compactEtcd();
      expect(rev).toBeGreaterThan(0);
      await c.startApiServer();
      const data = await waitFor(
        'the relist',
        async () => {
          const r = await call('GET', kv('somekey'), READ_TOKEN);
          return r.body.key === 'changed-before-compaction' ? r.body : undefined;
        },
        30000,
      );
      expect(data.key).toBe('changed-before-compaction');
      const metricsAfter = await metricsText(url);
      expect(metric(metricsAfter, 'kv_proxy_watch_restarts_total', { reason: 'expired' })).toBeGreaterThan(
        metric(metricsBefore, 'kv_proxy_watch_restarts_total', { reason: 'expired' }),
      );
      expect(metric(metricsAfter, 'kv_proxy_relists_total')).toBeGreaterThan(metric(metricsBefore, 'kv_proxy_relists_total'));
      expect(logs()).toMatch(/watch expired \(410\), relisting/);
    } finally {
      await c.startApiServer().catch(() => undefined);
      await standby.stop();
    }
  }, 120000);
});
