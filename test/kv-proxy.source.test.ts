/**
 * The KvProxy manifests are enough to run the server: the pod spec as
 * synthesized (ConfigMap files, mounts, modes, uid/gid, command, env, RBAC)
 * is run on the shared pod sandbox (./support/pod-sandbox.ts), as the
 * kubelet would run it:
 *  - the ConfigMap's files and the token Secret, projected read-only at the
 *    container's mountPaths with the volumes' defaultMode, group fsGroup;
 *  - the ServiceAccount token volume (automountServiceAccountToken), holding a
 *    real TokenRequest token and the API server's CA;
 *  - a read-only root filesystem, the container's runAsUser/runAsGroup,
 *    no_new_privs, no capabilities, exactly the manifest's command and env;
 * against a real kube-apiserver (./support/kube.ts) that authorizes every call
 * with the synthesized Roles and RoleBindings, reached through the in-cluster
 * path (KUBERNETES_SERVICE_HOST/PORT, HTTPS). See ./support/kube-kv-proxy.ts.
 *
 * Each case is a construct configuration the environments may not use, in
 * namespaces of its own. The server's behaviour itself is tested by its own
 * runtime tests and, for dist/dev, by kv-proxy.kube.test.ts; these prove the
 * construct's side of the contract.
 */
import { KvProxy, KvProxyProps } from '../lib/kv-proxy';
import { K8sObject } from '../lib/testing/gate';
import { useKubeCluster } from './support/kube';
import { KvProxyPod, METRICS_TOKEN, READ_TOKEN, WRITE_TOKEN, call, startKvProxyPod, upstreamRefusals, waitFor } from './support/kube-kv-proxy';
import { findObject, synthObjects, testChart } from './support/synth';

describe('the shipped server source', () => {
  test('is self-contained: every require is a node: builtin or another shipped file', () => {
    // GIVEN the ConfigMap as synthesized
    const chart = testChart('kv');
    const proxy = new KvProxy(chart, 'Kv', { namespaces: ['default'] });
    const files: Record<string, string> = findObject(synthObjects(chart), 'ConfigMap', proxy.sourceConfigMap.name).data;
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

describe('a KvProxy pod started from the synthesized manifests, against a real kube-apiserver', () => {
  const cluster = useKubeCluster();
  let pod: KvProxyPod | undefined;

  afterEach(async () => {
    await pod?.stop();
    pod = undefined;
  });

  /** Synthesizes the construct in `home`, creates the namespaces, applies every object. */
  async function deploy(home: string, props: Partial<KvProxyProps>): Promise<K8sObject[]> {
    const chart = testChart(home);
    new KvProxy(chart, 'Kv', { namespaces: [home], ...props });
    const objects = synthObjects(chart);
    for (const ns of new Set([home, ...(props.namespaces ?? [])])) await cluster().kubectlOk(['create', 'namespace', ns]);
    const r = await cluster().kubectl(
      ['apply', '--server-side', '--warnings-as-errors', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    );
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    return objects;
  }

  const boot = async (objects: K8sObject[]) => {
    pod = await startKvProxyPod(cluster(), objects, findObject(objects, 'Deployment'));
    return pod;
  };
  const live = async (ns: string, name: string) => {
    const r = await cluster().kubectl(['get', 'configmap', name, '-n', ns, '-o', 'json']);
    return r.code === 0 ? JSON.parse(r.stdout) : undefined;
  };
  /** The API server answered the proxy's calls and refused none. */
  const expectNoRefusals = async (p: KvProxyPod) => {
    const { refused, answered } = await upstreamRefusals(p.url);
    expect({ refused, answered: answered > 0 }).toEqual({ refused: 0, answered: true });
  };

  test('writes and discovery in two namespaces: ready, serving, writing and discovering within its Roles', async () => {
    // GIVEN the construct across two namespaces, a ConfigMap, a Service and its EndpointSlice
    const objects = await deploy('kv-two', { namespaces: ['kv-two', 'kv-apps'], writes: true, discovery: true });
    await cluster().kubectlOk(['create', 'configmap', 'flags', '-n', 'kv-two', '--from-literal=color=blue']);
    // opted in to writes through the proxy (it writes no other existing ConfigMap: test/kv-proxy-writes.kube.test.ts)
    await cluster().kubectlOk(['label', 'configmap', 'flags', '-n', 'kv-two', 'kv-proxy.cdk8s-patterns.io/writable=true']);
    await cluster().kubectlOk(
      ['apply', '--server-side', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'kv-two' }, spec: { ports: [{ name: 'http', port: 80 }] } },
          {
            apiVersion: 'discovery.k8s.io/v1',
            kind: 'EndpointSlice',
            metadata: { name: 'web-abc', namespace: 'kv-two', labels: { 'kubernetes.io/service-name': 'web' } },
            addressType: 'IPv4',
            ports: [{ name: 'http', port: 8080 }],
            endpoints: [{ addresses: ['10.244.0.5'], conditions: { ready: true } }],
          },
        ],
      }),
    );
    const p = await boot(objects);
    // THEN it became ready (every list/watch allowed), and serves reads, writes, creates and discovery
    expect((await call('GET', `${p.url}/healthz`)).status).toBe(200);
    expect((await call('GET', `${p.url}/metrics`, METRICS_TOKEN)).status).toBe(200);
    expect(
      await waitFor('the ConfigMap', async () => {
        const r = await call('GET', `${p.url}/kv/kv-two/flags`, READ_TOKEN);
        return r.status === 200 ? r.body : undefined;
      }),
    ).toEqual({ color: 'blue' });
    expect((await call('POST', `${p.url}/kv/kv-two/flags`, WRITE_TOKEN, { key: 'value', key2: 'value2' })).status).toBe(200);
    expect((await live('kv-two', 'flags')).data).toEqual({ color: 'blue', key: 'value', key2: 'value2' });
    expect((await call('POST', `${p.url}/kv/kv-apps/somekey`, WRITE_TOKEN, { key: 'value' })).status).toBeLessThan(300);
    expect((await live('kv-apps', 'somekey')).data).toEqual({ key: 'value' });
    const discovered = await call('GET', `${p.url}/discover/kv-two`, READ_TOKEN);
    expect(discovered.status).toBe(200);
    expect(JSON.stringify(discovered.body)).toContain('10.244.0.5');
    // and the API server never refused it
    await expectNoRefusals(p);
    expect(p.logs()).not.toMatch(/EROFS|read-only file system/i);
  });

  test('names given with writes: ready and patching the named ConfigMap within resourceNames, no create', async () => {
    // GIVEN a proxy pinned to one existing ConfigMap
    const objects = await deploy('kv-names', { configMapNames: ['flags'], writes: true });
    await cluster().kubectlOk(['create', 'configmap', 'flags', '-n', 'kv-names', '--from-literal=a=1']);
    const p = await boot(objects);
    // THEN it lists and watches by name (the real server authorizes that against resourceNames) and patches
    expect((await call('POST', `${p.url}/kv/kv-names/flags`, WRITE_TOKEN, { b: '2' })).status).toBe(200);
    expect((await live('kv-names', 'flags')).data).toEqual({ a: '1', b: '2' });
    await expectNoRefusals(p);
    // and it creates nothing: another name is not served, and does not appear in the cluster
    expect((await call('POST', `${p.url}/kv/kv-names/other`, WRITE_TOKEN, { b: '2' })).status).toBeGreaterThanOrEqual(400);
    expect(await live('kv-names', 'other')).toBeUndefined();
  });

  test('read-only (the default): ready and reading; nothing is ever written', async () => {
    const objects = await deploy('kv-ro', {});
    await cluster().kubectlOk(['create', 'configmap', 'flags', '-n', 'kv-ro', '--from-literal=a=1']);
    const before = await live('kv-ro', 'flags');
    const p = await boot(objects);
    expect(
      await waitFor('the ConfigMap', async () => {
        const r = await call('GET', `${p.url}/kv/kv-ro/flags`, READ_TOKEN);
        return r.status === 200 ? r.body : undefined;
      }),
    ).toEqual({ a: '1' });
    expect((await call('POST', `${p.url}/kv/kv-ro/flags`, WRITE_TOKEN, { b: '2' })).status).toBeGreaterThanOrEqual(400);
    expect((await call('POST', `${p.url}/kv/kv-ro/new`, WRITE_TOKEN, { b: '2' })).status).toBeGreaterThanOrEqual(400);
    const after = await live('kv-ro', 'flags');
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(await live('kv-ro', 'new')).toBeUndefined();
    await expectNoRefusals(p);
  });
});
