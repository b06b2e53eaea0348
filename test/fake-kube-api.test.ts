import * as http from 'node:http';
import { FakeKubeApi, mergePatch } from './support/fake-kube-api';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

function request(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(
      url,
      { method, headers: { ...headers, ...(payload ? { 'Content-Length': Buffer.byteLength(payload) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode || 0, headers: res.headers, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const MERGE = { 'Content-Type': 'application/merge-patch+json' };

/** A watch stream reader: collects events, lets a test wait for one. */
class WatchStream {
  readonly events: any[] = [];
  status = 0;
  ended = false;
  private req?: http.ClientRequest;
  private waiters: (() => void)[] = [];

  static open(url: string, headers: Record<string, string> = {}): Promise<WatchStream> {
    const w = new WatchStream();
    return new Promise((resolve, reject) => {
      w.req = http.get(url, { headers }, (res) => {
        w.status = res.statusCode || 0;
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let nl;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            w.events.push(JSON.parse(buffer.slice(0, nl)));
            buffer = buffer.slice(nl + 1);
          }
          w.wake();
        });
        const end = () => {
          w.ended = true;
          w.wake();
        };
        res.on('end', end);
        res.on('close', end);
        res.on('error', end);
        resolve(w);
      });
      w.req.on('error', (err) => {
        if (!w.status) reject(err);
        else {
          w.ended = true;
          w.wake();
        }
      });
    });
  }

  private wake() {
    for (const f of this.waiters.splice(0)) f();
  }

  async waitFor(predicate: (events: any[]) => boolean, timeoutMs = 30000): Promise<any[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.events)) {
      if (this.ended) throw new Error(`watch ended; events: ${JSON.stringify(this.events.map((e) => e.type))}`);
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for watch events; events: ${JSON.stringify(this.events.map((e) => e.type))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.events;
  }

  async waitEnded(timeoutMs = 30000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('watch did not end');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close() {
    this.req?.destroy();
  }
}

const CM = (ns: string, name?: string) => `/api/v1/namespaces/${ns}/configmaps${name ? `/${name}` : ''}`;

// The stand-in Kubernetes API itself (test/support/fake-kube-api.js): these tests keep it honest for the kv-proxy
// tests that still need it (faults, delays and held-back watch events on demand, counted API calls; each of those
// tests says why it uses the stand-in). They need no real server; the real kube-apiserver (test/support/kube.ts)
// is what the KvProxy is proven against in kv-proxy.kube.test.ts and kv-proxy.real-api.test.ts.
describe('FakeKubeApi', () => {
  let api: FakeKubeApi;
  let base: string;
  const streams: WatchStream[] = [];

  beforeEach(async () => {
    api = new FakeKubeApi({ bookmarkIntervalMs: 100 });
    base = await api.start(0);
  });

  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await api.stop();
  });

  async function watch(path: string, headers: Record<string, string> = {}) {
    const s = await WatchStream.open(`${base}${path}`, headers);
    streams.push(s);
    return s;
  }

  describe('reads and writes', () => {
    test('create answers 201 with a resourceVersion, a second create 409 AlreadyExists', async () => {
      // WHEN
      const created = await request('POST', `${base}${CM('default')}`, { metadata: { name: 'app' }, data: { a: '1' } });
      const again = await request('POST', `${base}${CM('default')}`, { metadata: { name: 'app' }, data: {} });

      // THEN
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'app', namespace: 'default' }, data: { a: '1' } });
      expect(created.body.metadata.resourceVersion).toMatch(/^\d+$/);
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'AlreadyExists', code: 409 });
    });

    test('get of a missing object is a 404 NotFound Status', async () => {
      const res = await request('GET', `${base}${CM('default', 'nope')}`);
      expect(res.status).toBe(404);
      expect(res.body).toEqual(expect.objectContaining({ kind: 'Status', reason: 'NotFound', code: 404, message: 'configmaps "nope" not found' }));
    });

    test('resourceVersion increases with every change, globally', async () => {
      // GIVEN
      const a = api.setConfigMap('default', 'a', { k: 'v' });
      const s = api.setService('other', 'svc', { ports: [{ port: 80 }] });
      // WHEN
      const list = await request('GET', `${base}${CM('default')}`);
      // THEN
      expect(Number(s.metadata.resourceVersion)).toBeGreaterThan(Number(a.metadata.resourceVersion));
      expect(list.body.metadata.resourceVersion).toBe(s.metadata.resourceVersion);
      expect(list.body.kind).toBe('ConfigMapList');
      expect(list.body.items.map((i: any) => i.metadata.name)).toEqual(['a']);
    });

    test('merge patch merges keys, null deletes a key, no-op keeps the resourceVersion', async () => {
      // GIVEN
      const before = api.setConfigMap('default', 'app', { keep: '1', drop: '2' });
      // WHEN
      const patched = await request('PATCH', `${base}${CM('default', 'app')}`, { data: { drop: null, add: '3' } }, MERGE);
      const noop = await request('PATCH', `${base}${CM('default', 'app')}`, { data: { add: '3' } }, MERGE);
      // THEN
      expect(patched.status).toBe(200);
      expect(patched.body.data).toEqual({ keep: '1', add: '3' });
      expect(Number(patched.body.metadata.resourceVersion)).toBeGreaterThan(Number(before.metadata.resourceVersion));
      expect(noop.body.metadata.resourceVersion).toBe(patched.body.metadata.resourceVersion);
    });

    test('merge patch with a stale metadata.resourceVersion is a 409 Conflict', async () => {
      // GIVEN
      const first = api.setConfigMap('default', 'app', { a: '1' });
      api.patchObject('configmaps', 'default', 'app', { data: { a: '2' } });
      // WHEN
      const res = await request(
        'PATCH',
        `${base}${CM('default', 'app')}`,
        { metadata: { resourceVersion: first.metadata.resourceVersion }, data: { a: '3' } },
        MERGE,
      );
      const ok = await request(
        'PATCH',
        `${base}${CM('default', 'app')}`,
        { metadata: { resourceVersion: api.resourceVersion }, data: { a: '3' } },
        MERGE,
      );
      // THEN
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ reason: 'Conflict', code: 409 });
      expect(ok.status).toBe(200);
      expect(api.getObject('configmaps', 'default', 'app')?.data).toEqual({ a: '3' });
    });

    test('patch of a missing object is 404, patch with another content type is 415', async () => {
      api.setConfigMap('default', 'app', {});
      expect((await request('PATCH', `${base}${CM('default', 'missing')}`, { data: {} }, MERGE)).status).toBe(404);
      expect((await request('PATCH', `${base}${CM('default', 'app')}`, { data: {} }, { 'Content-Type': 'application/json' })).status).toBe(415);
    });

    test('a ConfigMap over 1 MiB or with an invalid key is 422 Invalid', async () => {
      api.setConfigMap('default', 'big', { a: 'x'.repeat(1024 * 1024 - 10) });
      const tooBig = await request('PATCH', `${base}${CM('default', 'big')}`, { data: { b: 'x'.repeat(100) } }, MERGE);
      const badKey = await request('POST', `${base}${CM('default')}`, { metadata: { name: 'k' }, data: { 'a/b': '1' } });
      expect(tooBig.status).toBe(422);
      expect(tooBig.body.reason).toBe('Invalid');
      expect(badKey.status).toBe(422);
      const badPatchKey = await request('PATCH', `${base}${CM('default', 'big')}`, { data: { 'a b': 'x' } }, MERGE);
      const badPatchValue = await request('PATCH', `${base}${CM('default', 'big')}`, { data: { n: 1 } }, MERGE);
      const shrink = await request('PATCH', `${base}${CM('default', 'big')}`, { data: { a: null, b: 'small' } }, MERGE);
      expect(badPatchKey.status).toBe(422);
      expect(badPatchValue.status).toBe(422);
      expect(shrink.status).toBe(200);
      expect(shrink.body.data).toEqual({ b: 'small' });
    });

    test('an immutable ConfigMap refuses changes to data and to the flag with 422, as the API server does', async () => {
      // GIVEN
      api.putObject('configmaps', { metadata: { name: 'frozen', namespace: 'default' }, data: { a: '1' }, immutable: true });
      // WHEN
      const data = await request('PATCH', `${base}${CM('default', 'frozen')}`, { data: { a: '2' } }, MERGE);
      const unfreeze = await request('PATCH', `${base}${CM('default', 'frozen')}`, { immutable: false }, MERGE);
      const labels = await request('PATCH', `${base}${CM('default', 'frozen')}`, { metadata: { labels: { x: 'y' } } }, MERGE);
      // THEN
      expect(data.status).toBe(422);
      expect(data.body.message).toMatch(/data: Forbidden: field is immutable when `immutable` is set/);
      expect(unfreeze.status).toBe(422);
      expect(labels.status).toBe(200);
      expect(api.getObject('configmaps', 'default', 'frozen')?.data).toEqual({ a: '1' });
    });

    test('mergePatch follows RFC 7386 and keeps __proto__ as plain data', () => {
      expect(mergePatch({ a: 'b' }, { a: 'c' })).toEqual({ a: 'c' });
      expect(mergePatch({ a: 'b' }, { b: 'c' })).toEqual({ a: 'b', b: 'c' });
      expect(mergePatch({ a: 'b' }, { a: null })).toEqual({});
      expect(mergePatch({ a: { b: 'c' } }, { a: { b: 'd', c: null } })).toEqual({ a: { b: 'd' } });
      expect(mergePatch({ a: [{ b: 'c' }] }, { a: [1] })).toEqual({ a: [1] });
      const polluted = mergePatch({}, JSON.parse('{"__proto__":"x"}')) as Record<string, unknown>;
      expect(Object.keys(polluted)).toEqual(['__proto__']);
      expect(Object.getPrototypeOf(polluted)).toBe(Object.prototype);
    });
  });

  describe('list', () => {
    test('labelSelector and fieldSelector=metadata.name filter items', async () => {
      // GIVEN
      api.setConfigMap('default', 'a', {}, { team: 'x', tier: 'web' });
      api.setConfigMap('default', 'b', {}, { team: 'y' });
      api.setConfigMap('default', 'c', {});
      const names = async (q: string) => (await request('GET', `${base}${CM('default')}?${q}`)).body.items.map((i: any) => i.metadata.name);
      // THEN
      expect(await names('labelSelector=team%3Dx')).toEqual(['a']);
      expect(await names('labelSelector=team%21%3Dx')).toEqual(['b', 'c']);
      expect(await names(`labelSelector=${encodeURIComponent('team in (x,y)')}`)).toEqual(['a', 'b']);
      expect(await names('labelSelector=%21team')).toEqual(['c']);
      expect(await names('labelSelector=team,tier')).toEqual(['a']);
      expect(await names('fieldSelector=metadata.name%3Db')).toEqual(['b']);
      expect((await request('GET', `${base}${CM('default')}?fieldSelector=spec.x%3D1`)).status).toBe(400);
    });

    test('limit and continue page through a list at one resourceVersion', async () => {
      // GIVEN
      for (let i = 0; i < 5; i++) api.setConfigMap('default', `cm-${i}`, {});
      // WHEN
      const first = await request('GET', `${base}${CM('default')}?limit=2`);
      const second = await request('GET', `${base}${CM('default')}?limit=2&continue=${first.body.metadata.continue}`);
      const third = await request('GET', `${base}${CM('default')}?limit=2&continue=${second.body.metadata.continue}`);
      // THEN
      const all = [first, second, third].flatMap((r) => r.body.items.map((i: any) => i.metadata.name));
      expect(all).toEqual(['cm-0', 'cm-1', 'cm-2', 'cm-3', 'cm-4']);
      expect(third.body.metadata.continue).toBeUndefined();
      expect(third.body.metadata.resourceVersion).toBe(first.body.metadata.resourceVersion);
    });

    test('a continue token older than the history is 410 Expired', async () => {
      for (let i = 0; i < 3; i++) api.setConfigMap('default', `cm-${i}`, {});
      const first = await request('GET', `${base}${CM('default')}?limit=1`);
      api.setConfigMap('default', 'later', {});
      api.compact();
      const res = await request('GET', `${base}${CM('default')}?limit=1&continue=${first.body.metadata.continue}`);
      expect(res.status).toBe(410);
      expect(res.body.reason).toBe('Expired');
    });
  });

  describe('watch', () => {
    test('streams changes after the given resourceVersion as JSON lines, in order', async () => {
      // GIVEN
      api.setConfigMap('default', 'app', { a: '1' });
      const list = await request('GET', `${base}${CM('default')}`);
      api.patchObject('configmaps', 'default', 'app', { data: { a: '2' } }); // happens before the watch starts
      // WHEN
      const w = await watch(`${CM('default')}?watch=true&resourceVersion=${list.body.metadata.resourceVersion}`);
      api.setConfigMap('default', 'other', {});
      api.deleteObject('configmaps', 'default', 'app');
      api.setConfigMap('elsewhere', 'x', {});
      // THEN
      const events = await w.waitFor((e) => e.length >= 3);
      expect(w.status).toBe(200);
      expect(events.map((e) => [e.type, e.object.metadata.name])).toEqual([
        ['MODIFIED', 'app'],
        ['ADDED', 'other'],
        ['DELETED', 'app'],
      ]);
      expect(events[0].object.data).toEqual({ a: '2' });
      expect(events[0].object.kind).toBe('ConfigMap');
      const rvs = events.map((e) => Number(e.object.metadata.resourceVersion));
      expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
      expect(events[2].object.metadata.resourceVersion).toBe(String(Number(events[1].object.metadata.resourceVersion) + 1));
    });

    test('without a resourceVersion it starts with ADDED for the current state', async () => {
      api.setConfigMap('default', 'a', {});
      const w = await watch(`${CM('default')}?watch=1`);
      const events = await w.waitFor((e) => e.length >= 1);
      expect(events[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'a' } } });
    });

    test('sends BOOKMARK events only when allowWatchBookmarks=true', async () => {
      const plain = await watch(`${CM('default')}?watch=true&resourceVersion=${api.resourceVersion}`);
      const w = await watch(`${CM('default')}?watch=true&resourceVersion=${api.resourceVersion}&allowWatchBookmarks=true`);
      api.setConfigMap('elsewhere', 'x', {});
      const events = await w.waitFor((e) => e.some((x) => x.type === 'BOOKMARK'));
      const bookmark = events.find((x) => x.type === 'BOOKMARK');
      expect(bookmark.object).toEqual({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: api.resourceVersion } });
      expect(plain.events).toEqual([]);
    });

    test('objects moving in and out of a label selector are ADDED and DELETED', async () => {
      api.setConfigMap('default', 'app', {}, { kv: 'no' });
      const w = await watch(`${CM('default')}?watch=true&resourceVersion=${api.resourceVersion}&labelSelector=kv%3Dyes`);
      api.setConfigMap('default', 'app', { a: '1' }, { kv: 'yes' });
      api.setConfigMap('default', 'app', { a: '2' }, { kv: 'yes' });
      api.setConfigMap('default', 'app', { a: '3' }, { kv: 'no' });
      const events = await w.waitFor((e) => e.length >= 3);
      expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    });

    test('fieldSelector=metadata.name limits the stream to one object', async () => {
      const w = await watch(`${CM('default')}?watch=true&resourceVersion=${api.resourceVersion}&fieldSelector=metadata.name%3Dwanted`);
      api.setConfigMap('default', 'other', {});
      api.setConfigMap('default', 'wanted', {});
      const events = await w.waitFor((e) => e.length >= 1);
      expect(events.map((e) => e.object.metadata.name)).toEqual(['wanted']);
    });

    test('a resourceVersion older than the history gets an ERROR event with 410 Expired', async () => {
      // GIVEN
      const old = api.setConfigMap('default', 'a', {}).metadata.resourceVersion;
      api.setConfigMap('default', 'a', { x: '1' });
      api.compact();
      // WHEN
      const w = await watch(`${CM('default')}?watch=true&resourceVersion=${old}`);
      await w.waitEnded();
      // THEN
      expect(w.status).toBe(200);
      expect(w.events).toEqual([
        {
          type: 'ERROR',
          object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }),
        },
      ]);
    });

    test('history is bounded by historyLimit', async () => {
      await api.stop();
      api = new FakeKubeApi({ historyLimit: 2 });
      base = await api.start(0);
      const old = api.setConfigMap('default', 'a', { v: '0' }).metadata.resourceVersion;
      const kept = api.setConfigMap('default', 'a', { v: '1' }).metadata.resourceVersion;
      api.setConfigMap('default', 'a', { v: '2' });
      api.setConfigMap('default', 'a', { v: '3' });
      const expired = await watch(`${CM('default')}?watch=true&resourceVersion=${old}`);
      const fine = await watch(`${CM('default')}?watch=true&resourceVersion=${kept}`);
      await expired.waitEnded();
      expect(expired.events[0].object.code).toBe(410);
      const events = await fine.waitFor((e) => e.length >= 2);
      expect(events.map((e) => e.object.data.v)).toEqual(['2', '3']);
    });

    test('timeoutSeconds ends the stream cleanly', async () => {
      const w = await watch(`${CM('default')}?watch=true&resourceVersion=${api.resourceVersion}&timeoutSeconds=1`);
      await w.waitEnded(3000);
      expect(api.openWatches).toBe(0);
    });

    test('services and discovery.k8s.io/v1 endpointslices list and watch', async () => {
      api.setService('default', 'web', { clusterIP: '10.0.0.5', ports: [{ name: 'http', port: 80 }] });
      const slices = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';
      const w = await watch(`${slices}?watch=true&resourceVersion=${api.resourceVersion}`);
      api.setEndpointSlice('default', 'web-abc', 'web', [{ addresses: ['10.1.0.1'] }], [{ name: 'http', port: 8080 }]);
      const services = await request('GET', `${base}/api/v1/namespaces/default/services`);
      const events = await w.waitFor((e) => e.length >= 1);
      expect(services.body.kind).toBe('ServiceList');
      expect(services.body.items[0].spec).toMatchObject({ clusterIP: '10.0.0.5', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] });
      expect(events[0].object).toMatchObject({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { labels: { 'kubernetes.io/service-name': 'web' } },
        endpoints: [{ addresses: ['10.1.0.1'], conditions: { ready: true } }],
      });
    });
  });

  describe('test controls', () => {
    test('stop drops watches and refuses connections; start reuses the port and keeps state', async () => {
      // GIVEN
      api.setConfigMap('default', 'a', { v: '1' });
      const w = await watch(`${CM('default')}?watch=true&resourceVersion=${api.resourceVersion}`);
      // WHEN
      await api.stop();
      // THEN
      await w.waitEnded();
      await expect(request('GET', `${base}${CM('default', 'a')}`)).rejects.toThrow(/ECONNREFUSED/);
      api.setConfigMap('default', 'a', { v: '2' }); // changed during the outage
      expect(await api.start()).toBe(base);
      const res = await request('GET', `${base}${CM('default', 'a')}`);
      expect(res.body.data).toEqual({ v: '2' });
    });

    test('dropWatches ends open streams cleanly without an outage', async () => {
      const w = await watch(`${CM('default')}?watch=true&resourceVersion=${api.resourceVersion}`);
      api.dropWatches();
      await w.waitEnded();
      expect(api.openWatches).toBe(0);
      expect((await request('GET', `${base}${CM('default')}`)).status).toBe(200);
    });

    test('eventDelayMs holds changes back from watches, in order', async () => {
      const w = await watch(`${CM('default')}?watch=true&resourceVersion=${api.resourceVersion}`);
      api.eventDelayMs = 300;
      const started = Date.now();
      api.setConfigMap('default', 'a', { v: '1' });
      api.setConfigMap('default', 'a', { v: '2' });
      const events = await w.waitFor((e) => e.length >= 2);
      // a lower bound only: they were held back (how much later a busy machine delivers them is not asserted)
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(events.map((e) => e.object.data.v)).toEqual(['1', '2']);
    });

    test('holdEvents holds changes back from watches until releaseEvents, then delivers them in order', async () => {
      const w = await watch(`${CM('default')}?watch=true&resourceVersion=${api.resourceVersion}`);
      api.holdEvents();
      try {
        api.setConfigMap('default', 'held', { v: '1' });
        api.setConfigMap('default', 'held', { v: '2' });
        // a request answered after the changes (a witness that time passed: sent events would most likely be in by now)
        const listed = await request('GET', `${base}${CM('default')}`);
        expect(listed.status).toBe(200);
        expect(w.events).toEqual([]);
      } finally {
        api.releaseEvents();
      }
      const events = await w.waitFor((e) => e.length >= 2);
      expect(events.map((e) => e.object.data.v)).toEqual(['1', '2']);
    });

    test('a bookmark never claims a resourceVersion whose event is still held back', async () => {
      // GIVEN a watch with bookmarks, and its events held back until released
      api.setConfigMap('default', 'app', { a: '1' });
      const s = await watch(`${CM('default')}?watch=true&allowWatchBookmarks=true&resourceVersion=${api.resourceVersion}`);
      api.holdEvents();
      try {
        // WHEN a change is held back while bookmarks keep coming (awaited: three of them)
        api.setConfigMap('default', 'app', { a: '2' });
        const changedAt = Number(api.resourceVersion);
        const events = await s.waitFor((e) => e.filter((x) => x.type === 'BOOKMARK').length >= 3);
        // THEN bookmarks sent meanwhile stay below the held-back change
        const early = events.filter((e) => e.type === 'BOOKMARK').map((e) => Number(e.object.metadata.resourceVersion));
        expect(events.filter((e) => e.type !== 'BOOKMARK')).toEqual([]);
        expect(Math.max(...early)).toBeLessThan(changedAt);
      } finally {
        api.releaseEvents();
      }
    });

    test('counts calls per verb, resource and path', async () => {
      api.setConfigMap('default', 'a', {});
      await request('GET', `${base}${CM('default')}`);
      await request('GET', `${base}${CM('default', 'a')}`);
      await request('PATCH', `${base}${CM('default', 'a')}`, { data: { x: '1' } }, MERGE);
      expect(api.countCalls()).toBe(3);
      expect(api.countCalls({ verb: 'list', resource: 'configmaps' })).toBe(1);
      expect(api.countCalls({ verb: 'get', name: 'a' })).toBe(1);
      expect(api.countCalls({ verb: 'patch', status: 200 })).toBe(1);
      expect(api.calls[2].path).toBe(CM('default', 'a'));
      api.resetCalls();
      expect(api.countCalls()).toBe(0);
    });

    test('faults answer with a status, a delay or a dropped connection', async () => {
      api.fault = (call) => (call.verb === 'list' ? { status: 503, retryAfterSeconds: 1 } : call.verb === 'get' ? { destroy: true } : undefined);
      const list = await request('GET', `${base}${CM('default')}`);
      expect(list.status).toBe(503);
      expect(list.headers['retry-after']).toBe('1');
      expect(api.calls[0]).toMatchObject({ verb: 'list', status: 503, faulted: true });
      await expect(request('GET', `${base}${CM('default', 'x')}`)).rejects.toThrow(/socket hang up|ECONNRESET/);
    });

    test('a hang fault accepts the request and never answers until stop()', async () => {
      api.setConfigMap('default', 'app', {});
      api.fault = (call) => (call.verb === 'patch' ? { hang: true } : undefined);
      let answered = false;
      const pending = request('PATCH', `${base}${CM('default', 'app')}`, { data: { a: '1' } }, MERGE).then(
        () => {
          answered = true;
        },
        () => {
          answered = true;
        },
      );
      // awaited: the request has reached the stand-in (and is held there)
      for (const deadline = Date.now() + 30000; !api.calls.some((c) => c.verb === 'patch') && Date.now() < deadline;)
        await new Promise((r) => setTimeout(r, 10));
      expect(answered).toBe(false);
      expect(api.calls.find((c) => c.verb === 'patch')).toMatchObject({ status: -2, faulted: true });
      await api.stop();
      await pending;
      expect(answered).toBe(true);
      expect(api.getObject('configmaps', 'default', 'app')?.data).toEqual({});
    });
  });

  describe('authentication and authorization', () => {
    test('a missing or wrong bearer token is 401', async () => {
      await api.stop();
      api = new FakeKubeApi({ tokens: ['sa-token'] });
      base = await api.start(0);
      expect((await request('GET', `${base}${CM('default')}`)).status).toBe(401);
      expect((await request('GET', `${base}${CM('default')}`, undefined, { Authorization: 'Bearer nope' })).status).toBe(401);
      expect((await request('GET', `${base}${CM('default')}`, undefined, { Authorization: 'Bearer sa-token' })).status).toBe(200);
    });

    test('the permission table allows only listed verbs, resources and namespaces', async () => {
      await api.stop();
      api = new FakeKubeApi({ permissions: [{ verbs: ['get', 'list', 'watch'], resources: ['configmaps'], namespaces: ['default'] }] });
      base = await api.start(0);
      api.setConfigMap('default', 'a', {});
      expect((await request('GET', `${base}${CM('default')}`)).status).toBe(200);
      const patch = await request('PATCH', `${base}${CM('default', 'a')}`, { data: { x: '1' } }, MERGE);
      expect(patch.status).toBe(403);
      expect(patch.body).toMatchObject({ reason: 'Forbidden', code: 403 });
      expect(patch.body.message).toMatch(/cannot patch resource "configmaps" in API group "" in the namespace "default"/);
      expect((await request('GET', `${base}${CM('other')}`)).status).toBe(403);
      expect((await request('GET', `${base}/api/v1/namespaces/default/services`)).status).toBe(403);
    });

    test('resourceNames allow get/patch of the name, list/watch only pinned by fieldSelector, never create', async () => {
      await api.stop();
      api = new FakeKubeApi({ permissions: [{ verbs: ['get', 'list', 'watch', 'patch', 'create'], resources: ['configmaps'], names: ['app'] }] });
      base = await api.start(0);
      api.setConfigMap('default', 'app', {});
      api.setConfigMap('default', 'other', {});
      expect((await request('GET', `${base}${CM('default', 'app')}`)).status).toBe(200);
      expect((await request('GET', `${base}${CM('default', 'other')}`)).status).toBe(403);
      expect((await request('GET', `${base}${CM('default')}`)).status).toBe(403);
      expect((await request('GET', `${base}${CM('default')}?fieldSelector=metadata.name%3Dapp`)).status).toBe(200);
      expect((await request('GET', `${base}${CM('default')}?fieldSelector=metadata.name%3Dother`)).status).toBe(403);
      expect((await request('POST', `${base}${CM('default')}`, { metadata: { name: 'app' } })).status).toBe(403);
    });
  });
});
