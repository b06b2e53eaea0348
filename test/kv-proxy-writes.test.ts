/**
 * Where kv-proxy writes (issue 21): the server run as in the pod, `node
 * server.js`, against the stand-in API server of test/support/fake-kube-api.js,
 * which can hold watch events back on demand (eventDelayMs) so the races with a
 * stale cache are produced every time; the real kube-apiserver cases (a
 * kube-root-ca.crt as the controller manager publishes it, owned, immutable,
 * unlabeled) are in test/kv-proxy-writes.kube.test.ts. Also the KvProxy
 * construct's props for it (writableLabel, configMapNames).
 */
import { spawn } from 'node:child_process';
import { Chart, Testing } from 'cdk8s';
import { KvProxy, KV_PROXY_WRITABLE_LABEL, resolveKvProxy } from '../lib/kv-proxy';
import { Fixture, SERVER, agent, del, fixture, get, post, put, waitFor } from './support/kv-proxy-harness';

const { writeRefusal } = require('../lib/kv-proxy/server/kv.js');

const LABEL = { 'kv-proxy.cdk8s-patterns.io/writable': 'true' };
const OWNER = [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'operator', uid: '0b6c-owner', controller: true }];
const DEFAULT_MODE = { KV_WRITE_ENABLED: 'true', KV_WRITE_SCOPE: 'labeled' };

afterAll(() => agent.destroy());

/** Every write a client can make to one key. */
function attempts(url: string, cm: string, key: string) {
  return Promise.all([
    put(`${url}/kv/${cm}/${key}`, 'attacker'),
    post(`${url}/kv/${cm}`, { [key]: 'attacker' }),
    del(`${url}/kv/${cm}/${key}`),
    del(`${url}/kv/${cm}?key=${key}`),
  ]);
}

describe('by default (KV_WRITE_SCOPE=labeled) only ConfigMaps labeled for the proxy are written', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture({
      env: DEFAULT_MODE,
      rbac: { writes: true },
      seed: (api) => {
        api.setConfigMap('default', 'platform', { mode: 'strict' });
        api.setConfigMap('default', 'opted-in', { mode: 'a' }, LABEL);
        api.setConfigMap('default', 'wrong-value', { mode: 'a' }, { 'kv-proxy.cdk8s-patterns.io/writable': 'false' });
        api.putObject('configmaps', { metadata: { name: 'kube-root-ca.crt', namespace: 'default', labels: LABEL }, data: { 'ca.crt': 'the CA' } });
        api.putObject('configmaps', {
          metadata: { name: 'owned', namespace: 'default', labels: LABEL, ownerReferences: OWNER },
          data: { holder: 'a' },
        });
        api.putObject('configmaps', { metadata: { name: 'frozen', namespace: 'default', labels: LABEL }, data: { a: '1' }, immutable: true });
      },
    });
  });
  afterAll(() => f?.close());

  test('an unlabeled ConfigMap (or one labeled "false"): every write is 403 naming the label, and no patch is sent', async () => {
    const results = [...(await attempts(f.url, 'default/platform', 'mode')), ...(await attempts(f.url, 'default/wrong-value', 'mode'))];
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(403));
    expect(results[0].json.error).toBe(
      'configmap "default/platform" is not opted in to writes through this proxy: it needs the label kv-proxy.cdk8s-patterns.io/writable=true',
    );
    expect(f.api.countCalls({ verb: 'patch', name: 'platform' }) + f.api.countCalls({ verb: 'patch', name: 'wrong-value' })).toBe(0);
    expect(f.api.getObject('configmaps', 'default', 'platform')?.data).toEqual({ mode: 'strict' });
  });

  test('a labeled ConfigMap is written', async () => {
    const r = await put(`${f.url}/kv/default/opted-in/mode`, 'b');
    expect(r.status).toBe(200);
    expect(f.api.getObject('configmaps', 'default', 'opted-in')?.data).toEqual({ mode: 'b' });
  });

  test('kube-root-ca.crt, an owned and an immutable ConfigMap are 403 though labeled', async () => {
    const root = await attempts(f.url, 'default/kube-root-ca.crt', 'ca.crt');
    const owned = await attempts(f.url, 'default/owned', 'holder');
    const frozen = await attempts(f.url, 'default/frozen', 'a');
    expect([...root, ...owned, ...frozen].map((r) => r.status)).toEqual(Array(12).fill(403));
    expect(root[0].json.error).toMatch(/^configmap "default\/kube-root-ca.crt" is the cluster's CA bundle/);
    expect(owned[0].json.error).toBe(
      'configmap "default/owned" is owned by Deployment "operator" (ownerReferences): its controller manages it, so it ' +
        'is never written through this proxy',
    );
    expect(frozen[0].json.error).toMatch(/is immutable/);
    expect(f.api.getObject('configmaps', 'default', 'kube-root-ca.crt')?.data).toEqual({ 'ca.crt': 'the CA' });
    expect(f.api.getObject('configmaps', 'default', 'owned')?.data).toEqual({ holder: 'a' });
  });

  test('a ConfigMap the proxy creates carries the label, and kube-root-ca.crt is never created', async () => {
    expect((await post(`${f.url}/kv/apps/fresh`, { a: '1' })).status).toBe(200);
    expect(f.api.getObject('configmaps', 'apps', 'fresh')?.metadata.labels).toEqual(LABEL);
    expect((await put(`${f.url}/kv/apps/kube-root-ca.crt/ca.crt`, 'attacker CA')).status).toBe(403);
    expect(f.api.getObject('configmaps', 'apps', 'kube-root-ca.crt')).toBeUndefined();
  });

  // Stand-in (needs it): the watch event is held back, so the cache surely still holds the labeled version.
  test('a label removed after the cache saw it: the pinned patch conflicts, the proxy looks again and refuses', async () => {
    f.api.setConfigMap('apps', 'unlabeled-soon', { v: '1' }, LABEL);
    await waitFor('the cache', async () => (await get(`${f.url}/kv/apps/unlabeled-soon`)).status === 200 || undefined);
    f.api.eventDelayMs = 2000;
    try {
      f.api.patchObject('configmaps', 'apps', 'unlabeled-soon', { metadata: { labels: null } });
      // WHEN
      const r = await put(`${f.url}/kv/apps/unlabeled-soon/v`, 'attacker');
      // THEN
      expect(r.status).toBe(403);
      expect(r.json.error).toMatch(/is not opted in/);
      expect(f.api.getObject('configmaps', 'apps', 'unlabeled-soon')?.data).toEqual({ v: '1' });
      expect(f.api.countCalls({ verb: 'patch', name: 'unlabeled-soon', status: 409 })).toBe(1);
    } finally {
      f.api.eventDelayMs = 0;
    }
  });

  // Stand-in (needs it): the watch event is held back, so the cache surely does not know the ConfigMap yet.
  test('a ConfigMap the cache has not seen yet: the create conflicts, the proxy looks at it and refuses', async () => {
    f.api.eventDelayMs = 2000;
    try {
      f.api.putObject('configmaps', { metadata: { name: 'just-made', namespace: 'apps', ownerReferences: OWNER }, data: { v: '1' } });
      const r = await post(`${f.url}/kv/apps/just-made`, { v: 'attacker' });
      expect(r.status).toBe(403);
      expect(r.json.error).toMatch(/is owned by Deployment "operator"/);
      expect(f.api.getObject('configmaps', 'apps', 'just-made')?.data).toEqual({ v: '1' });
    } finally {
      f.api.eventDelayMs = 0;
    }
  });
});

describe('KV_WRITE_SCOPE=any writes unlabeled ConfigMaps, but never the ones refused in every mode', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture({
      env: { KV_WRITE_ENABLED: 'true', KV_WRITE_SCOPE: 'any', KV_SELF_CONFIGMAPS: 'default/kv-server-*' },
      rbac: { writes: true },
      seed: (api) => {
        api.setConfigMap('default', 'platform', { mode: 'strict' });
        api.putObject('configmaps', { metadata: { name: 'kube-root-ca.crt', namespace: 'default' }, data: { 'ca.crt': 'the CA' } });
        api.putObject('configmaps', { metadata: { name: 'owned', namespace: 'default', ownerReferences: OWNER }, data: { holder: 'a' } });
        api.putObject('configmaps', { metadata: { name: 'frozen', namespace: 'default' }, data: { a: '1' }, immutable: true });
        api.putObject('configmaps', { metadata: { name: 'kv-server-0123456789', namespace: 'default' }, data: { 'server.js': '//' } });
      },
    });
  });
  afterAll(() => f?.close());

  test('an unlabeled ConfigMap is written; kube-root-ca.crt, owned, immutable and the own source are 403', async () => {
    expect((await put(`${f.url}/kv/default/platform/mode`, 'relaxed')).status).toBe(200);
    const refused = [
      ...(await attempts(f.url, 'default/kube-root-ca.crt', 'ca.crt')),
      ...(await attempts(f.url, 'default/owned', 'holder')),
      ...(await attempts(f.url, 'default/frozen', 'a')),
      ...(await attempts(f.url, 'default/kv-server-0123456789', 'server.js')),
    ];
    expect(refused.map((r) => r.status)).toEqual(Array(16).fill(403));
    expect(f.api.countCalls({ verb: 'patch', namespace: 'default', name: 'kube-root-ca.crt' })).toBe(0);
    expect(f.api.getObject('configmaps', 'default', 'kube-root-ca.crt')?.data).toEqual({ 'ca.crt': 'the CA' });
  });
});

describe('with KV_CONFIGMAP_NAMES the named ConfigMaps are writable without the label', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture({
      env: { ...DEFAULT_MODE, KV_CONFIGMAP_NAMES: 'flags,kube-root-ca.crt' },
      rbac: { writes: true, names: ['flags', 'kube-root-ca.crt'] },
      seed: (api) => {
        api.setConfigMap('default', 'flags', { beta: 'off' });
        api.setConfigMap('default', 'kube-root-ca.crt', { 'ca.crt': 'the CA' });
      },
    });
  });
  afterAll(() => f?.close());

  test('a named, unlabeled ConfigMap is written; a named kube-root-ca.crt is still 403', async () => {
    expect((await put(`${f.url}/kv/default/flags/beta`, 'on')).status).toBe(200);
    expect(f.api.getObject('configmaps', 'default', 'flags')?.data).toEqual({ beta: 'on' });
    expect((await put(`${f.url}/kv/default/kube-root-ca.crt/ca.crt`, 'attacker')).status).toBe(403);
  });
});

describe('KV_WRITABLE_LABEL', () => {
  test('names the label that opts in, and that created ConfigMaps get', async () => {
    const f = await fixture({
      env: { ...DEFAULT_MODE, KV_WRITABLE_LABEL: 'example.com/kv=yes' },
      rbac: { writes: true },
      seed: (api) => {
        api.setConfigMap('default', 'theirs', { a: '1' }, LABEL);
        api.setConfigMap('default', 'ours', { a: '1' }, { 'example.com/kv': 'yes' });
      },
    });
    try {
      expect((await put(`${f.url}/kv/default/theirs/a`, '2')).status).toBe(403);
      expect((await put(`${f.url}/kv/default/ours/a`, '2')).status).toBe(200);
      expect((await post(`${f.url}/kv/default/new`, { a: '1' })).status).toBe(200);
      expect(f.api.getObject('configmaps', 'default', 'new')?.metadata.labels).toEqual({ 'example.com/kv': 'yes' });
    } finally {
      await f.close();
    }
  });

  test.each([
    ['a selector, not one label', 'a=b,c=d'],
    ['an inequality', 'a!=b'],
    ['no value', 'a'],
    ['an invalid key', 'no spaces=x'],
  ])('the server refuses to start with %s', async (_what, value) => {
    const child = spawn(process.execPath, [SERVER], {
      env: { PATH: process.env.PATH ?? '', KUBE_API_URL: 'http://127.0.0.1:1', KV_NAMESPACES: 'default', KV_WRITABLE_LABEL: value },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(1);
    expect(stderr).toContain(`KV_WRITABLE_LABEL must be one label "<key>=<value>", e.g. "kv-proxy.cdk8s-patterns.io/writable=true", got "${value}"`);
  });
});

describe('writeRefusal (kv.js): the check every write surface calls', () => {
  const config = {
    selfConfigMaps: ['ns/kv-server-*', 'ns/exact'],
    configMapNames: undefined,
    writableLabel: { key: 'k', value: 'v' },
    writeScope: 'labeled',
  };
  const cm = (metadata: object = {}, more: object = {}) => ({ metadata: { labels: { k: 'v' }, ...metadata }, ...more });

  test('null for a labeled ConfigMap, and for a missing one (a create)', () => {
    expect(writeRefusal(config, 'ns', 'app', cm())).toBeNull();
    expect(writeRefusal(config, 'ns', 'app', undefined)).toBeNull();
    expect(writeRefusal({ ...config, writeScope: 'any' }, 'ns', 'app', cm({ labels: {} }))).toBeNull();
    expect(writeRefusal({ ...config, configMapNames: ['app'] }, 'ns', 'app', cm({ labels: {} }))).toBeNull();
  });

  test('a reason for each ConfigMap that is never written, in every scope, existing or not', () => {
    for (const c of [config, { ...config, writeScope: 'any' }, { ...config, configMapNames: ['kube-root-ca.crt', 'exact'] }]) {
      expect(writeRefusal(c, 'ns', 'kube-root-ca.crt', undefined)).toMatch(/cluster's CA bundle/);
      expect(writeRefusal(c, 'ns', 'istio-ca-root-cert', cm())).toMatch(/Istio's root CA/);
      expect(writeRefusal(c, 'ns', 'openshift-service-ca.crt', cm())).toMatch(/OpenShift's service CA/);
      expect(writeRefusal(c, 'ns', 'kv-server-abc', undefined)).toMatch(/this proxy's own code/);
      expect(writeRefusal(c, 'ns', 'exact', cm())).toMatch(/this proxy's own code/);
      expect(writeRefusal(c, 'ns', 'app', cm({ ownerReferences: [{ kind: 'Lease', name: 'x' }] }))).toMatch(/owned by Lease "x"/);
      expect(writeRefusal(c, 'ns', 'app', cm({}, { immutable: true }))).toMatch(/is immutable/);
    }
    expect(writeRefusal(config, 'other', 'exact', cm())).toBeNull();
    expect(writeRefusal(config, 'ns', 'app', cm({ labels: { k: 'other' } }))).toMatch(/needs the label k=v/);
  });
});

describe('KvProxy construct: writableLabel', () => {
  const make = (props: object) => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'platform' });
    return new KvProxy(chart, 'Kv', { namespaces: ['default'], ...props });
  };
  const env = (kv: KvProxy) => kv.container.env.variables;

  test('defaults to kv-proxy.cdk8s-patterns.io/writable=true, in KV_WRITABLE_LABEL', () => {
    const kv = make({ writes: true });
    expect(resolveKvProxy({ namespaces: ['default'], writes: true }, { namespace: 'platform' }).writableLabel).toBe(KV_PROXY_WRITABLE_LABEL);
    expect(KV_PROXY_WRITABLE_LABEL).toBe('kv-proxy.cdk8s-patterns.io/writable=true');
    expect(env(kv).KV_WRITABLE_LABEL.value).toBe('kv-proxy.cdk8s-patterns.io/writable=true');
  });

  test('takes another label', () => {
    expect(env(make({ writes: true, writableLabel: 'example.com/kv=yes' })).KV_WRITABLE_LABEL.value).toBe('example.com/kv=yes');
  });

  test('fails when writableLabel is not one <key>=<value> label', () => {
    expect(() => make({ writableLabel: 'a=b,c=d' })).toThrow(
      /writableLabel must be one label "<key>=<value>", e\.g\. "kv-proxy\.cdk8s-patterns\.io\/writable=true", got "a=b,c=d"/,
    );
    expect(() => make({ writableLabel: 'a' })).toThrow(/writableLabel must be one label/);
    expect(() => make({ writableLabel: 'bad key=x' })).toThrow(/writableLabel must be one label/);
  });

  test('fails when configMapNames names kube-root-ca.crt with writes; reading it is fine', () => {
    expect(() => make({ writes: true, configMapNames: ['flags', 'kube-root-ca.crt'] })).toThrow(
      'configMapNames must not include "kube-root-ca.crt" when writes is true: the cluster publishes it and the proxy never writes it',
    );
    expect(env(make({ configMapNames: ['kube-root-ca.crt'] })).KV_CONFIGMAP_NAMES.value).toBe('kube-root-ca.crt');
  });
});
