/**
 * The audit trail (issue 21): one JSON line per write request, with the
 * token's name from the tokens Secret, on by default and independent of
 * KV_ACCESS_LOG. The server runs as in the pod (`node server.js`) against the
 * stand-in API server of test/support/fake-kube-api.js; the same lines from
 * the dist/dev pod on a real kube-apiserver are checked in
 * test/kv-proxy-writes.kube.test.ts.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Chart, Testing } from 'cdk8s';
import { KvProxy, resolveKvProxy } from '../lib/kv-proxy';
import { Fixture, READ_TOKEN, WRITE_TOKEN, agent, del, fixture, get, post, put, waitFor } from './support/kv-proxy-harness';

afterAll(() => agent.destroy());

const LABEL = { 'kv-proxy.cdk8s-patterns.io/writable': 'true' };
const NAMED_WRITER = 'named-writer-token-55aa';
const audits = (f: Fixture, from = 0) => f.proxy.logs.slice(from).filter((l) => l.msg === 'audit');

describe('audit trail, default settings (KV_AUDIT_LOG unset, KV_ACCESS_LOG unset: errors)', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture({
      env: { KV_WRITE_ENABLED: 'true', KV_WRITE_SCOPE: 'labeled' },
      rbac: { writes: true },
      seed: (api) => {
        api.setConfigMap('default', 'flags', { beta: 'off', gamma: 'on' }, LABEL);
        api.setConfigMap('default', 'platform', { mode: 'strict' });
      },
    });
    // GIVEN a second write token with a name, in the new "<name> <token>" format beside the unnamed one
    fs.writeFileSync(path.join(f.tokensDir, 'write-tokens'), `${WRITE_TOKEN}\n# the CI pipeline\nci-deployer ${NAMED_WRITER}\n`);
    await waitFor('the named token', async () => (await get(`${f.url}/kv/default/flags`, NAMED_WRITER)).status === 200 || undefined);
  });
  afterAll(() => f?.close());

  test('a successful PUT, POST and DELETE are one line each: time, token name, method, namespace/configmap/key(s), status, index', async () => {
    const from = f.proxy.logs.length;
    // WHEN
    const a = await put(`${f.url}/kv/default/flags/beta`, 'on', NAMED_WRITER);
    const b = await post(`${f.url}/kv/default/flags`, { gamma: 'off', delta: '1' });
    const c = await del(`${f.url}/kv/default/flags/delta`, NAMED_WRITER);
    const d = await del(`${f.url}/kv/default/flags?key=gamma`, NAMED_WRITER);
    // THEN
    const lines = await waitFor('four audit lines', () => (audits(f, from).length >= 4 ? audits(f, from) : undefined));
    expect(lines).toEqual([
      {
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        level: 'info',
        msg: 'audit',
        token: 'ci-deployer',
        method: 'PUT',
        namespace: 'default',
        configmap: 'flags',
        key: 'beta',
        status: 200,
        index: a.headers['x-kv-index'],
      },
      {
        time: expect.any(String),
        level: 'info',
        msg: 'audit',
        token: 'write-tokens#1',
        method: 'POST',
        namespace: 'default',
        configmap: 'flags',
        keys: ['gamma', 'delta'],
        status: 200,
        index: b.headers['x-kv-index'],
      },
      {
        time: expect.any(String),
        level: 'info',
        msg: 'audit',
        token: 'ci-deployer',
        method: 'DELETE',
        namespace: 'default',
        configmap: 'flags',
        key: 'delta',
        status: 200,
        index: c.headers['x-kv-index'],
      },
      {
        time: expect.any(String),
        level: 'info',
        msg: 'audit',
        token: 'ci-deployer',
        method: 'DELETE',
        namespace: 'default',
        configmap: 'flags',
        key: 'gamma',
        status: 200,
        index: d.headers['x-kv-index'],
      },
    ]);
    expect(new Set([a, b, c, d].map((r) => r.headers['x-kv-index'])).size).toBe(4);
  });

  test('refused writes are audited too: 403 (not opted in, read token), 401 (no valid token: token null); reads are not', async () => {
    const from = f.proxy.logs.length;
    const index = (await get(`${f.url}/kv/default/platform`)).headers['x-kv-index'];
    // WHEN
    await put(`${f.url}/kv/default/platform/mode`, 'relaxed', NAMED_WRITER);
    await put(`${f.url}/kv/default/flags/beta`, 'x', READ_TOKEN);
    await put(`${f.url}/kv/default/flags/beta`, 'x', 'not-a-token');
    await get(`${f.url}/kv/default/flags/beta`);
    // THEN
    const lines = await waitFor('three audit lines', () => (audits(f, from).length >= 3 ? audits(f, from) : undefined));
    expect(lines.map((l) => [l.token, l.method, l.configmap, l.key, l.status])).toEqual([
      ['ci-deployer', 'PUT', 'platform', 'mode', 403],
      ['read-tokens#1', 'PUT', 'flags', 'beta', 403],
      [null, 'PUT', 'flags', 'beta', 401],
    ]);
    expect(lines[0].index).toBe(index);
  });

  test('kvctl --token-file reads a token file in the "<name> <token>" format and is audited under that name', async () => {
    const file = path.join(f.dir, 'kvctl-token');
    fs.writeFileSync(file, `# as in the Secret\nci-deployer ${NAMED_WRITER}\n`);
    const from = f.proxy.logs.length;
    const code = await new Promise((resolve) =>
      execFile(
        process.execPath,
        [path.join(__dirname, '..', 'bin', 'kvctl.js'), '--url', f.url, '--token-file', file, 'set', 'default/flags', 'epsilon=1'],
        { timeout: 10000 },
        (err) => resolve(err ? (err as any).code : 0),
      ),
    );
    expect(code).toBe(0);
    const line = await waitFor('the audit line', () => audits(f, from)[0]);
    expect(line).toMatchObject({ token: 'ci-deployer', method: 'POST', configmap: 'flags', keys: ['epsilon'], status: 200 });
  });

  test('tokens never reach the log', () => {
    const all = `${f.proxy.stdout}${f.proxy.stderr}`;
    for (const t of [WRITE_TOKEN, NAMED_WRITER, READ_TOKEN, 'not-a-token']) expect(all).not.toContain(t);
  });
});

describe('audit trail settings', () => {
  const seed = (api: any) => api.setConfigMap('default', 'flags', { beta: 'off' }, LABEL);

  test('KV_ACCESS_LOG=off leaves the audit trail on', async () => {
    const f = await fixture({ env: { KV_WRITE_ENABLED: 'true', KV_ACCESS_LOG: 'off' }, rbac: { writes: true }, seed });
    try {
      await put(`${f.url}/kv/default/flags/beta`, 'on');
      await put(`${f.url}/kv/default/flags/beta`, 'on', READ_TOKEN);
      const lines = await waitFor('two audit lines', () => (audits(f).length >= 2 ? audits(f) : undefined));
      expect(lines.map((l) => l.status)).toEqual([200, 403]);
      expect(f.proxy.logs.filter((l) => l.msg === 'request')).toEqual([]);
    } finally {
      await f.close();
    }
  });

  test('KV_AUDIT_LOG=off: no audit line; KV_AUDIT_LOG=stderr: the lines go to stderr', async () => {
    const off = await fixture({ env: { KV_WRITE_ENABLED: 'true', KV_AUDIT_LOG: 'off' }, rbac: { writes: true }, seed });
    const err = await fixture({ env: { KV_WRITE_ENABLED: 'true', KV_AUDIT_LOG: 'stderr' }, rbac: { writes: true }, seed });
    try {
      expect((await put(`${off.url}/kv/default/flags/beta`, 'on')).status).toBe(200);
      expect((await put(`${err.url}/kv/default/flags/beta`, 'on')).status).toBe(200);
      const line = await waitFor('the stderr line', () => err.proxy.stderr.split('\n').find((l) => l.includes('"msg":"audit"')));
      expect(JSON.parse(line)).toMatchObject({ msg: 'audit', token: 'write-tokens#1', method: 'PUT', configmap: 'flags', key: 'beta', status: 200 });
      expect(audits(err)).toEqual([]);
      expect(audits(off)).toEqual([]);
      expect(off.proxy.stderr).not.toContain('"msg":"audit"');
    } finally {
      await off.close();
      await err.close();
    }
  });

  test('token lines that are neither "<token>" nor "<name> <token>" are ignored with a warning that shows no token', async () => {
    const f = await fixture({ env: { KV_WRITE_ENABLED: 'true' }, rbac: { writes: true }, seed });
    try {
      fs.writeFileSync(path.join(f.tokensDir, 'write-tokens'), `${WRITE_TOKEN}\nbad name! secret-in-a-bad-line\n`);
      const warning = await waitFor('the warning', () => f.proxy.logs.find((l) => l.msg?.startsWith('token lines ignored')));
      expect(warning).toMatchObject({ level: 'warn', lines: 1 });
      expect(f.proxy.stdout).not.toContain('secret-in-a-bad-line');
      expect((await put(`${f.url}/kv/default/flags/beta`, 'on')).status).toBe(200);
    } finally {
      await f.close();
    }
  });
});

describe('KvProxy construct: auditLog', () => {
  const make = (props: object) => new KvProxy(new Chart(Testing.app(), 'c', { namespace: 'platform' }), 'Kv', { namespaces: ['default'], ...props });
  const env = (kv: KvProxy) => kv.container.env.variables;

  test('defaults to stdout, in KV_AUDIT_LOG', () => {
    const kv = make({});
    expect(resolveKvProxy({ namespaces: ['default'] }, { namespace: 'platform' }).auditLog).toBe('stdout');
    expect(env(kv).KV_AUDIT_LOG.value).toBe('stdout');
  });

  test('takes stderr and off', () => {
    expect(env(make({ auditLog: 'stderr' })).KV_AUDIT_LOG.value).toBe('stderr');
    expect(env(make({ auditLog: 'off' })).KV_AUDIT_LOG.value).toBe('off');
  });

  test('fails when auditLog is not stdout, stderr or off', () => {
    expect(() => make({ auditLog: 'file' })).toThrow('auditLog must be one of stdout, stderr, off, got "file"');
  });
});
