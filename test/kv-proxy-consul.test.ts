/**
 * kv-proxy's Consul API (lib/kv-proxy/server/consul.js), run as it runs in the
 * pod (`node server.js`) against the stand-in Kubernetes API of
 * test/support/fake-kube-api.js, spoken to over real HTTP. The stand-in makes
 * the edge cases cheap (flags, the proxy's own ConfigMaps, malformed input);
 * HashiCorp's own client proves the main flows against the real API server in
 * test/kv-proxy.consul.kube.test.ts.
 */
import { Fixture, READ_TOKEN, WRITE_TOKEN, METRICS_TOKEN, agent, blockingReadsHeld, call, fixture, waitFor } from './support/kv-proxy-harness';

afterAll(() => agent.destroy());

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('kv-proxy Consul API with writes and discovery enabled', () => {
  let f: Fixture;
  const v1 = (p: string) => `${f.url}/v1/${p}`;
  const consulPut = (p: string, body: string, token = WRITE_TOKEN) => call('PUT', v1(p), { body, headers: { 'X-Consul-Token': token } });
  const consulGet = (p: string, token = READ_TOKEN) => call('GET', v1(p), { headers: { 'X-Consul-Token': token } });

  beforeAll(async () => {
    f = await fixture({
      env: { KV_WRITE_ENABLED: 'true', KV_DISCOVERY_ENABLED: 'true', KV_SELF_CONFIGMAPS: 'default/proxy-server-*' },
      rbac: { writes: true, discovery: true },
      seed: (api) => {
        api.setConfigMap('default', 'proxy-server-abc', { 'server.js': 'code' });
        api.setConfigMap('apps', 'shop', { 'a.b': 'x', 'c': 'y' });
      },
    });
  });
  afterAll(() => f?.close());

  test("GET of a key answers Consul's JSON shape with base64 Value, indexes and the X-Consul-* headers", async () => {
    const r = await consulGet('kv/apps/shop/a.b');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.json).toEqual([
      { LockIndex: 0, Key: 'apps/shop/a.b', Flags: 0, Value: b64('x'), CreateIndex: expect.any(Number), ModifyIndex: expect.any(Number) },
    ]);
    expect(Number(r.headers['x-consul-index'])).toBeGreaterThan(0);
    expect(r.headers['x-consul-lastcontact']).toBe('0');
    expect(r.headers['x-consul-knownleader']).toBe('true');
  });

  test('GET ?raw answers the value itself; a missing key is 404 with an empty body and an index', async () => {
    expect((await consulGet('kv/apps/shop/c?raw')).text).toBe('y');
    const missing = await consulGet('kv/apps/shop/nope');
    expect([missing.status, missing.text]).toEqual([404, '']);
    expect(Number(missing.headers['x-consul-index'])).toBeGreaterThan(0);
  });

  test('?recurse and ?keys with ?separator list under a prefix; an empty prefix match is 404', async () => {
    const tree = await consulGet('kv/apps/?recurse');
    expect(tree.json.map((e: any) => [e.Key, Buffer.from(e.Value, 'base64').toString()])).toEqual([
      ['apps/shop/a.b', 'x'],
      ['apps/shop/c', 'y'],
    ]);
    expect((await consulGet('kv/apps/shop/?keys')).json).toEqual(['apps/shop/a.b', 'apps/shop/c']);
    expect((await consulGet('kv/a?keys&separator=/')).json).toEqual(['apps/']);
    expect((await consulGet('kv/apps/nothing-here/?recurse')).status).toBe(404);
  });

  test("keys across ConfigMaps come in Consul's byte-wise key order", async () => {
    await consulPut('kv/default/order/k', '1');
    await consulPut('kv/default/order-2/k', '2');
    expect((await consulGet('kv/default/order?keys')).json).toEqual(['default/order-2/k', 'default/order/k']);
  });

  test('the three token carriers work: X-Consul-Token, Authorization: Bearer and ?token=', async () => {
    expect((await consulGet('kv/apps/shop/c?raw')).status).toBe(200);
    expect((await call('GET', v1('kv/apps/shop/c?raw'), { token: READ_TOKEN })).status).toBe(200);
    expect((await call('GET', v1(`kv/apps/shop/c?raw&token=${READ_TOKEN}`))).status).toBe(200);
  });

  test('auth failures are Consul-shaped: 403 text/plain "ACL not found" and "Permission denied"', async () => {
    const none = await call('GET', v1('kv/apps/shop/c'));
    expect([none.status, none.headers['content-type']]).toEqual([403, 'text/plain; charset=utf-8']);
    expect(none.text).toMatch(/^ACL not found/);
    expect((await consulGet('kv/apps/shop/c', 'wrong')).text).toMatch(/^ACL not found/);
    expect((await consulGet('kv/apps/shop/c', METRICS_TOKEN)).text).toMatch(/^Permission denied: this token may only scrape/);
    const readOnly = await consulPut('kv/apps/shop/c', 'z', READ_TOKEN);
    expect([readOnly.status, readOnly.text]).toEqual([403, 'Permission denied: this token may only read\n']);
    const otherNs = await consulGet('kv/kube-system/x/y');
    expect([otherNs.status, otherNs.text]).toEqual([403, 'Permission denied: namespace "kube-system" is not served by this proxy\n']);
  });

  test("the write rules of the native API hold: the proxy's own ConfigMaps are refused with 403 Permission denied", async () => {
    const r = await consulPut('kv/default/proxy-server-abc/server.js', 'evil');
    expect(r.status).toBe(403);
    expect(r.text).toMatch(/^Permission denied: configmap "default\/proxy-server-abc" holds this proxy's own code/);
    expect(f.api.getObject('configmaps', 'default', 'proxy-server-abc')!.data).toEqual({ 'server.js': 'code' });
    const del = await call('DELETE', v1('kv/default/proxy-server-abc/server.js'), { headers: { 'X-Consul-Token': WRITE_TOKEN } });
    expect(del.status).toBe(403);
  });

  test('PUT stores the raw body and answers true; non-zero ?flags is 400 and stores nothing', async () => {
    const r = await consulPut('kv/default/flags/k', 'v1');
    expect([r.status, r.text]).toEqual([200, 'true']);
    expect(f.api.getObject('configmaps', 'default', 'flags')!.data).toEqual({ k: 'v1' });
    const flagged = await consulPut('kv/default/flags/k?flags=42', 'v2');
    expect(flagged.status).toBe(400);
    expect(flagged.text).toMatch(/Flags 42 not supported/);
    expect(f.api.getObject('configmaps', 'default', 'flags')!.data).toEqual({ k: 'v1' });
  });

  test('?cas=<ModifyIndex> writes once; the stale index answers false; cas=0 only creates', async () => {
    expect((await consulPut('kv/default/cas/k?cas=0', 'a')).text).toBe('true');
    expect((await consulPut('kv/default/cas/k?cas=0', 'b')).text).toBe('false');
    const index = (await consulGet('kv/default/cas/k')).json[0].ModifyIndex;
    expect((await consulPut(`kv/default/cas/k?cas=${index}`, 'c')).text).toBe('true');
    expect((await consulPut(`kv/default/cas/k?cas=${index}`, 'd')).text).toBe('false');
    expect(f.api.getObject('configmaps', 'default', 'cas')!.data).toEqual({ k: 'c' });
  });

  test('DELETE answers true (also for a missing key); ?cas deletes only at that index; ?recurse across ConfigMaps is 422', async () => {
    await consulPut('kv/default/del/a', '1');
    await consulPut('kv/default/del/b', '2');
    const h = { headers: { 'X-Consul-Token': WRITE_TOKEN } };
    expect((await call('DELETE', v1('kv/default/del/a?cas=1'), h)).text).toBe('false');
    expect((await call('DELETE', v1('kv/default/del/a'), h)).text).toBe('true');
    expect((await call('DELETE', v1('kv/default/del/a'), h)).text).toBe('true');
    expect(f.api.getObject('configmaps', 'default', 'del')!.data).toEqual({ b: '2' });
    const wide = await call('DELETE', v1('kv/default/?recurse'), h);
    expect(wide.status).toBe(422);
    expect(wide.text).toMatch(/spans \d+ ConfigMaps/);
  });

  test('writing a key outside <namespace>/<configmap>/<key> is a clear 400; reading one is 404, as for any missing key', async () => {
    const r = await consulPut('kv/default/too/many/parts', 'x');
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/keys are <namespace>\/<configmap>\/<key>/);
    // e.g. Spring Cloud Consul's profile contexts, "<prefix>/<app>,<profile>/"
    expect((await consulGet('kv/default/too/many/parts')).status).toBe(404);
    expect((await consulGet('kv/default/application,dev/data')).status).toBe(404);
    expect((await consulGet('kv/default/application,dev/?recurse')).status).toBe(404);
  });

  test('a blocking read with ?index waits for a change and answers it with a higher X-Consul-Index', async () => {
    await consulPut('kv/default/watch/k', 'old');
    const first = await consulGet('kv/default/watch/k');
    const index = Number(first.headers['x-consul-index']);
    const waiting = consulGet(`kv/default/watch/k?index=${index}&wait=60s`);
    let settled = false;
    void waiting.then(() => {
      settled = true;
    });
    // the read is held by the proxy (its gauge says so) before the change is made, and not answered by then
    await blockingReadsHeld(f.url);
    expect(settled).toBe(false);
    await consulPut('kv/default/watch/k', 'new');
    const r = await waiting;
    expect(Buffer.from(r.json[0].Value, 'base64').toString()).toBe('new');
    expect(Number(r.headers['x-consul-index'])).toBeGreaterThan(index);
  });

  test.each(['300ms', '0.3s', '0m0.3s'])('a blocking read with wait=%s answers the current value at the end of the wait', async (wait) => {
    const first = await consulGet('kv/apps/shop/c');
    const index = first.headers['x-consul-index'];
    const r = await consulGet(`kv/apps/shop/c?index=${index}&wait=${wait}`);
    expect(r.status).toBe(200);
    expect(Number(r.headers['x-consul-index'])).toBeGreaterThanOrEqual(Number(index));
  });

  test('a wait that is not a duration is a clear 400', async () => {
    const r = await consulGet('kv/apps/shop/c?index=5&wait=soon');
    expect([r.status, r.text]).toEqual([400, 'Invalid wait time "soon": use a duration such as 30s, 500ms, 5m or 1m30s\n']);
  });

  // Stand-in (needs it): the watch history is compacted on demand while the API server is down, so the proxy relists.
  test('across a 410 relist that drops a ConfigMap, a blocking ?recurse read wakes and X-Consul-Index still grows', async () => {
    // GIVEN two ConfigMaps under a prefix and a blocking read on it
    await consulPut('kv/default/relist-a/k', '1');
    await consulPut('kv/default/relist-b/k', '1');
    const first = await consulGet('kv/default/relist-?recurse');
    expect(first.json.map((e: any) => e.Key)).toEqual(['default/relist-a/k', 'default/relist-b/k']);
    const index = Number(first.headers['x-consul-index']);
    const waiting = consulGet(`kv/default/relist-?recurse&index=${index}&wait=30s`);
    // WHEN one is deleted while the watch is away and the history is compacted (410 Gone on resume: relist)
    await f.api.stop();
    f.api.deleteObject('configmaps', 'default', 'relist-b');
    f.api.compact();
    await f.api.start();
    // THEN the read answers without relist-b, at a higher index
    const r = await waiting;
    expect(r.json.map((e: any) => e.Key)).toEqual(['default/relist-a/k']);
    expect(Number(r.headers['x-consul-index'])).toBeGreaterThan(index);
  });

  test('a txn that writes needs a write token: a read token gets 403 and nothing changes; a read-only txn is fine', async () => {
    await consulPut('kv/default/txn-auth/k', 'v');
    const ops = (verb: string) => JSON.stringify([{ KV: { Verb: verb, Key: 'default/txn-auth/k', Value: b64('changed') } }]);
    const write = await call('PUT', v1('txn'), { body: ops('set'), headers: { 'X-Consul-Token': READ_TOKEN } });
    expect([write.status, write.text]).toEqual([403, 'Permission denied: this token may only read\n']);
    expect(f.api.getObject('configmaps', 'default', 'txn-auth')!.data).toEqual({ k: 'v' });
    const read = await call('PUT', v1('txn'), { body: ops('get'), headers: { 'X-Consul-Token': READ_TOKEN } });
    expect(read.status).toBe(200);
    expect(Buffer.from(read.json.Results[0].KV.Value, 'base64').toString()).toBe('v');
    expect((await call('PUT', v1('txn'), { body: ops('get') })).status).toBe(403);
  });

  test('/v1/txn is atomic within one ConfigMap: a failed check applies nothing and answers 409 with Errors', async () => {
    await consulPut('kv/default/txn/v', '1');
    const idx = (await consulGet('kv/default/txn/v')).json[0].ModifyIndex;
    const txn = (ops: unknown) => call('PUT', v1('txn'), { body: JSON.stringify(ops), headers: { 'X-Consul-Token': WRITE_TOKEN } });
    const ok = await txn([
      { KV: { Verb: 'check-index', Key: 'default/txn/v', Index: idx } },
      { KV: { Verb: 'set', Key: 'default/txn/a', Value: b64('alpha') } },
      { KV: { Verb: 'get', Key: 'default/txn/a' } },
    ]);
    expect(ok.status).toBe(200);
    expect(ok.json.Errors).toBeNull();
    expect(Buffer.from(ok.json.Results[2].KV.Value, 'base64').toString()).toBe('alpha');
    const failed = await txn([
      { KV: { Verb: 'set', Key: 'default/txn/b', Value: b64('beta') } },
      { KV: { Verb: 'cas', Key: 'default/txn/v', Value: b64('2'), Index: idx } },
    ]);
    expect(failed.status).toBe(409);
    expect(failed.json).toEqual({ Results: null, Errors: [{ OpIndex: 1, What: expect.stringMatching(/index is stale/) }] });
    expect(f.api.getObject('configmaps', 'default', 'txn')!.data).toEqual({ v: '1', a: 'alpha' });
    const spanning = await txn([{ KV: { Verb: 'set', Key: 'default/txn/x', Value: '' } }, { KV: { Verb: 'set', Key: 'default/txn2/x', Value: '' } }]);
    expect(spanning.status).toBe(422);
    expect(spanning.text).toMatch(/Transaction spans ConfigMaps/);
  });

  test('catalog and health come from Services and EndpointSlices; ?passing keeps ready endpoints only', async () => {
    f.api.setService('apps', 'web', { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] });
    f.api.setEndpointSlice(
      'apps',
      'web-1',
      'web',
      [
        { addresses: ['10.0.0.1'], ready: true },
        { addresses: ['10.0.0.2'], ready: false },
      ],
      [{ name: 'http', port: 8080, protocol: 'TCP' }],
    );
    const services = await waitFor('the Service in the catalog', async () => {
      const json = (await consulGet('catalog/services')).json;
      return json && json['web.apps'] ? json : undefined;
    });
    expect(services['web.apps']).toEqual(['http']);
    const catalog = (await consulGet('catalog/service/web.apps')).json;
    expect(catalog.map((c: any) => `${c.ServiceAddress}:${c.ServicePort}`)).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);
    const passing = (await consulGet('health/service/web.apps?passing')).json;
    expect(passing.map((e: any) => [e.Service.Address, e.Checks[0].Status])).toEqual([['10.0.0.1', 'passing']]);
    const all = (await consulGet('health/service/web?ns=apps')).json;
    expect(all.map((e: any) => e.Checks[0].Status)).toEqual(['passing', 'critical']);
  });

  test('sessions, locks and other endpoints answer 501 saying what to use instead', async () => {
    const session = await call('PUT', v1('session/create'), { headers: { 'X-Consul-Token': WRITE_TOKEN } });
    expect(session.status).toBe(501);
    expect(session.text).toMatch(/use compare-and-set instead.*Lease/);
    expect((await consulPut('kv/default/lock/k?acquire=abc', 'x')).status).toBe(501);
    const other = await consulGet('acl/tokens');
    expect(other.status).toBe(501);
    expect(other.text).toMatch(/\/v1\/acl\/tokens is not supported by kv-proxy: it serves \/v1\/kv/);
    expect((await consulGet('catalog/datacenters')).json).toEqual(['kubernetes']);
  });
});

describe('kv-proxy with KV_CONSUL_API=false', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture({ env: { KV_CONSUL_API: 'false' } });
  });
  afterAll(() => f?.close());

  test('/v1/ is not served', async () => {
    expect((await call('GET', `${f.url}/v1/kv/default/a/b`, { token: READ_TOKEN })).status).toBe(404);
  });
});
