/**
 * The GET hot path of issue 21 (responses built once per ConfigMap version,
 * single-key reads as views into the cached body): what it answers, byte for
 * byte, for whole ConfigMaps and single keys, plain and with JSON escapes, and
 * that a change brought by the watch replaces it. The server runs as in the pod
 * (`node server.js`) against the stand-in API server of test/support/fake-kube-api.js.
 */
import { Fixture, agent, call, fixture, get, waitFor } from './support/kv-proxy-harness';

afterAll(() => agent.destroy());

describe('reads from the per-version responses', () => {
  let f: Fixture;
  const values = { plain: 'blue', quoted: 'say "hi"\\n', unicode: 'größe ✓ 😀', multi: 'line one\nline two\ttab' };
  beforeAll(async () => {
    f = await fixture({ seed: (api) => api.setConfigMap('default', 'cfg', values) });
  });
  afterAll(() => f?.close());

  test('whole ConfigMap: the JSON body, its exact length, ETag and X-Kv-Index', async () => {
    const res = await get(`${f.url}/kv/default/cfg`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual(values);
    expect(res.text).toBe(`${JSON.stringify(Object.fromEntries(Object.entries(values).sort()))}\n`);
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers.etag).toBe(`"${res.headers['x-kv-index']}"`);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  test.each(Object.entries(values))('single key %s: the raw value, with escapes decoded, and its byte length', async (key, value) => {
    const res = await get(`${f.url}/kv/default/cfg/${key}`);
    expect(res.status).toBe(200);
    expect(res.text).toBe(value);
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(value));
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  test('If-None-Match with the current ETag is 304 for a key too; HEAD has the headers and no body', async () => {
    const first = await get(`${f.url}/kv/default/cfg/plain`);
    const same = await get(`${f.url}/kv/default/cfg/plain`, undefined, { 'If-None-Match': first.headers.etag as string });
    const head = await call('HEAD', `${f.url}/kv/default/cfg/unicode`, { token: 'read-token-3f9a1c' });
    expect(same.status).toBe(304);
    expect(same.text).toBe('');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(values.unicode));
  });

  test('a change brought by the watch replaces the response: new body, new ETag', async () => {
    const before = await get(`${f.url}/kv/default/cfg`);
    f.api.setConfigMap('default', 'cfg', { ...values, plain: 'green' });
    const after = await waitFor('the change', async () => {
      const r = await get(`${f.url}/kv/default/cfg/plain`);
      return r.text === 'green' ? r : undefined;
    });
    expect(after.headers.etag).not.toBe(before.headers.etag);
    expect((await get(`${f.url}/kv/default/cfg`)).json.plain).toBe('green');
    const stale = await get(`${f.url}/kv/default/cfg`, undefined, { 'If-None-Match': before.headers.etag as string });
    expect(stale.status).toBe(200);
  });
});
