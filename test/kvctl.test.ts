import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { runProcess } from '../lib/verify/cluster';
import { FakeKubeApi } from './support/fake-kube-api';

// kvctl against the real kv-proxy server (spawned with node, as in the pod)
// in front of the stand-in Kubernetes API.
//
// Why the stand-in (test/support/fake-kube-api.js) and not the real
// kube-apiserver (test/support/kube.ts): this tests the client, kvctl; the
// server behind the proxy only has to behave like one, and the stand-in starts
// in milliseconds. Nothing here needs a condition only the stand-in can make:
// every test could run against the real server (changes by another client made
// with kubectl instead of api.patchObject). The proxy itself is proven against
// the real server in kv-proxy.kube.test.ts.

const SERVER = path.join(__dirname, '..', 'lib', 'kv-proxy', 'server', 'server.js');
const KVCTL = path.join(__dirname, '..', 'bin', 'kvctl.js');
const READ_TOKEN = 'kvctl-read-token';
const WRITE_TOKEN = 'kvctl-write-token';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Stand-in (could move): speed of a pure client test; the real server could produce all of this.
describe('kvctl', () => {
  let api: FakeKubeApi;
  let proxy: ChildProcess;
  let url: string;
  let dir: string;

  /** kvctl run to its exit (stdin /dev/null); a run killed by the timeout has code null. */
  async function runKvctl(args: string[], env: Record<string, string>): Promise<Run> {
    const { code, stdout, stderr } = await runProcess(process.execPath, [KVCTL, ...args], { env, timeoutMs: 60000 });
    return { code, stdout, stderr };
  }

  function kvctl(args: string[], env: Record<string, string> = { KV_TOKEN: WRITE_TOKEN }): Promise<Run> {
    return runKvctl(['--url', url, ...args], env);
  }

  beforeAll(async () => {
    api = new FakeKubeApi();
    await api.start(0);
    api.setService('default', 'web', { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80 }] });
    api.setEndpointSlice('default', 'web-1', 'web', [{ addresses: ['10.1.0.4'] }], [{ name: 'http', port: 8080 }]);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvctl-test-'));
    fs.writeFileSync(path.join(dir, 'read-tokens'), `${READ_TOKEN}\n`);
    fs.writeFileSync(path.join(dir, 'write-tokens'), `${WRITE_TOKEN}\n`);
    proxy = spawn(process.execPath, [SERVER], {
      env: {
        PORT: '0',
        KV_LISTEN_ADDRESS: '127.0.0.1',
        KUBE_API_URL: api.url,
        KV_TOKENS_DIR: dir,
        KV_NAMESPACES: 'default',
        KV_WRITE_ENABLED: 'true',
        KV_DISCOVERY_ENABLED: 'true',
        KV_CATCH_UP_TIMEOUT_SECONDS: '1',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let buffer = '';
      proxy.stdout!.on('data', (chunk) => {
        buffer += chunk;
        const m = /"msg":"listening","port":(\d+)/.exec(buffer);
        if (m) resolve(Number(m[1]));
      });
      proxy.on('exit', (code) => reject(new Error(`proxy exited ${code}`)));
    });
    url = `http://127.0.0.1:${port}`;
    // readiness, awaited with a generous bound: on a busy machine the first list can take seconds
    const deadline = Date.now() + 60000;
    for (;;) {
      const status = await new Promise<number>((resolve) => {
        http
          .get(`${url}/readyz`, (res) => {
            res.resume();
            resolve(res.statusCode || 0);
          })
          .on('error', () => resolve(0));
      });
      if (status === 200) break;
      if (Date.now() > deadline) throw new Error(`the proxy at ${url} did not answer /readyz with 200 in 60 s (last ${status})`);
      await sleep(50);
    }
  }, 90000);

  afterAll(async () => {
    const exited = new Promise((r) => proxy.on('exit', r));
    proxy.kill('SIGTERM');
    await exited;
    await api.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('set merges key=value pairs and prints the resulting ConfigMap', async () => {
    // WHEN
    const run = await kvctl(['set', 'default/app', 'color=blue', 'query=a=b&c=d']);
    // THEN
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual({ color: 'blue', query: 'a=b&c=d' });
    expect(api.getObject('configmaps', 'default', 'app')?.data).toEqual({ color: 'blue', query: 'a=b&c=d' });
  });

  test('get prints all keys as JSON, or one raw value', async () => {
    await kvctl(['set', 'default/get-me', 'a=1', 'b=two words']);
    const all = await kvctl(['get', 'default/get-me']);
    const one = await kvctl(['get', 'default/get-me', 'b']);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual({ a: '1', b: 'two words' });
    expect(one).toEqual({ code: 0, stdout: 'two words', stderr: '' });
  });

  test('list prints key names, filtered by --prefix', async () => {
    await kvctl(['set', 'default/listed', 'app.x=1', 'app.y=2', 'other=3']);
    const all = await kvctl(['list', 'default/listed']);
    const some = await kvctl(['list', 'default/listed', '--prefix', 'app.']);
    expect(all.stdout).toBe('app.x\napp.y\nother\n');
    expect(some.stdout).toBe('app.x\napp.y\n');
  });

  test('delete removes a key; a missing key then exits 3 with the server message', async () => {
    await kvctl(['set', 'default/del', 'gone=1', 'kept=2']);
    const deleted = await kvctl(['delete', 'default/del', 'gone']);
    const missing = await kvctl(['get', 'default/del', 'gone']);
    const again = await kvctl(['delete', 'default/del', 'gone']);
    expect(deleted).toEqual({ code: 0, stdout: 'deleted gone from default/del\n', stderr: '' });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toBe('kvctl: 404 Not Found: key "gone" not found in configmap "default/del"\n');
    expect(again.code).toBe(3);
    expect(api.getObject('configmaps', 'default', 'del')?.data).toEqual({ kept: '2' });
  });

  test('get and list --min-index wait for the index a write answered, and time out with 504 on one never reached', async () => {
    // GIVEN a write's index
    await kvctl(['set', 'default/ryw', 'v=1']);
    const index = api.getObject('configmaps', 'default', 'ryw')?.metadata.resourceVersion as string;
    // WHEN
    const got = await kvctl(['get', 'default/ryw', 'v', '--min-index', index]);
    const listed = await kvctl(['list', 'default/ryw', '--min-index', index]);
    const ahead = await kvctl(['get', 'default/ryw', 'v', '--min-index', String(Number(index) + 1000)]);
    const bad = await kvctl(['get', 'default/ryw', '--min-index', 'soon']);
    const onSet = await kvctl(['set', 'default/ryw', 'v=2', '--min-index', index]);
    // THEN
    expect(got).toEqual({ code: 0, stdout: '1', stderr: '' });
    expect(listed.stdout).toBe('v\n');
    expect(ahead.code).toBe(1);
    expect(ahead.stderr).toMatch(/^kvctl: 504 Gateway Timeout: this replica has not caught up to index \d+ within 1 s/);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--min-index must be the X-Kv-Index of a write \(an integer\), got "soon"/);
    expect(onSet.code).toBe(2);
  });

  test('discover prints Services with clusterIP, ports and endpoints', async () => {
    const run = await kvctl(['discover', 'default'], { KV_TOKEN: READ_TOKEN });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).web).toEqual({
      type: 'ClusterIP',
      clusterIP: '10.96.0.20',
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 80 }],
      endpoints: { addresses: ['10.1.0.4'], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
    });
  });

  test('consul prints the Consul key, ModifyIndex and native path of each key, read through /v1/kv', async () => {
    await kvctl(['set', 'default/consul-map', 'db.url=postgres://db', 'log.level=debug']);
    const all = await kvctl(['consul', 'default/consul-map'], { KV_TOKEN: READ_TOKEN });
    const one = await kvctl(['consul', 'default/consul-map', 'db.url'], { KV_TOKEN: READ_TOKEN });
    const missing = await kvctl(['consul', 'default/consul-map', 'nope'], { KV_TOKEN: READ_TOKEN });
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(
      new RegExp(
        String.raw`^CONSUL KEY\tMODIFY INDEX\tNATIVE ` +
          String.raw`PATH\ndefault\/consul-map\/db\.url\t\d+\t\/kv\/default\/consul-map\/db\.url\ndefault\/consul-map\/` +
          String.raw`log\.level\t\d+\t\/kv\/default\/consul-map\/log\.level\n$`,
      ),
    );
    expect(one.stdout.split('\n')[1]).toMatch(/^default\/consul-map\/db\.url\t\d+\t\/kv\/default\/consul-map\/db\.url$/);
    expect(missing.code).toBe(3);
  });

  test('--token-file reads the first token line, skipping comments', async () => {
    const file = path.join(dir, 'my-token');
    fs.writeFileSync(file, `# my kv-proxy token\n\n${READ_TOKEN}\n`);
    await kvctl(['set', 'default/token-file', 'color=teal']);
    const run = await kvctl(['--token-file', file, 'get', 'default/token-file', 'color'], {});
    expect(run).toEqual({ code: 0, stdout: 'teal', stderr: '' });
  });

  test('server errors exit 1 with the status and message', async () => {
    const wrong = await kvctl(['get', 'default/app'], { KV_TOKEN: 'not-a-token' });
    const readOnly = await kvctl(['set', 'default/app', 'x=1'], { KV_TOKEN: READ_TOKEN });
    const outside = await kvctl(['get', 'kube-system/app']);
    const badKey = await kvctl(['set', 'default/app', 'bad key=1']);
    expect(wrong).toEqual({ code: 1, stdout: '', stderr: 'kvctl: 401 Unauthorized: invalid token\n' });
    expect(readOnly).toEqual({ code: 1, stdout: '', stderr: 'kvctl: 403 Forbidden: this token may only read\n' });
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/^kvctl: 403 Forbidden: namespace "kube-system" is not served/);
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/^kvctl: 400 Bad Request: invalid key "bad key"/);
  });

  test('an unreachable server exits 1 and says so', async () => {
    const result = await runKvctl(['--url', 'http://127.0.0.1:1', 'get', 'default/app'], { KV_TOKEN: 't' });
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'kvctl: cannot reach http://127.0.0.1:1: ECONNREFUSED\n' });
  });

  test.each([
    ['no command', [], /no command given/],
    ['an unknown command', ['frobnicate'], /unknown command "frobnicate"/],
    ['a target without a slash', ['get', 'default'], /expected <namespace>\/<configmap>, got "default"/],
    ['a target with extra slashes', ['get', 'default/app/key'], /expected <namespace>\/<configmap>/],
    ['set without key=value', ['set', 'default/app', 'novalue'], /expected key=value, got "novalue"/],
    ['set with an empty key', ['set', 'default/app', '=v'], /expected key=value/],
    ['set without pairs', ['set', 'default/app'], /set takes 2 to any number of arguments, got 1/],
    ['delete without a key', ['delete', 'default/app'], /delete takes 2 arguments, got 1/],
    ['an unknown option', ['--verbose', 'get', 'default/app'], /Unknown option '--verbose'/],
    ['--prefix outside list', ['get', 'default/app', '--prefix', 'a'], /--prefix only applies to list/],
    ['an invalid --url', ['--url', 'not a url', 'get', 'default/app'], /--url must be a URL/],
  ])('exits 2 with usage on %s', async (_name, args, message) => {
    const result = await runKvctl(args, { KV_TOKEN: WRITE_TOKEN });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/usage: kvctl/);
  });

  test('exits 2 without a token', async () => {
    const result = await kvctl(['get', 'default/app'], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no token: pass --token-file FILE or set KV_TOKEN/);
  });

  test('--help prints usage and exits 0', async () => {
    const result = await kvctl(['--help'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: kvctl/);
  });

  // Stand-in (could move): another client's change is made with api.patchObject; kubectl patch on the real server
  // could make it (as in test/kv-proxy.kube.test.ts, blocking reads).
  test('watch prints the value now and after each change, and exits 0 on SIGINT', async () => {
    // GIVEN
    await kvctl(['set', 'default/watched', 'mode=blue', 'other=1']);
    const child = spawn(process.execPath, [KVCTL, '--url', url, 'watch', 'default/watched', 'mode'], {
      env: { KV_TOKEN: READ_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // awaits the output (a mismatch fails at once; a hang fails after 30 s with what was printed)
    const until = async (text: string) => {
      const deadline = Date.now() + 30000;
      while (stdout !== text && text.startsWith(stdout) && Date.now() < deadline) await sleep(30);
      return stdout;
    };
    try {
      expect(await until('blue\n')).toBe('blue\n');
      // WHEN another client changes the key, then an unrelated key
      api.patchObject('configmaps', 'default', 'watched', { data: { mode: 'green' } });
      expect(await until('blue\ngreen\n')).toBe('blue\ngreen\n');
      api.patchObject('configmaps', 'default', 'watched', { data: { other: '2' } });
      api.patchObject('configmaps', 'default', 'watched', { data: { mode: 'red' } });
      // THEN only changes of the value are printed
      expect(await until('blue\ngreen\nred\n')).toBe('blue\ngreen\nred\n');
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });

  test('watch of a whole ConfigMap prints one JSON line per change', async () => {
    await kvctl(['set', 'default/watched-all', 'a=1']);
    const child = spawn(process.execPath, [KVCTL, '--url', url, 'watch', 'default/watched-all'], {
      env: { KV_TOKEN: READ_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      // awaited with a generous bound (30 s): the first line, then the second after the change
      for (const deadline = Date.now() + 30000; !stdout.includes('\n') && Date.now() < deadline;) await sleep(30);
      await kvctl(['set', 'default/watched-all', 'b=2']);
      for (const deadline = Date.now() + 30000; stdout.split('\n').length < 3 && Date.now() < deadline;) await sleep(30);
      expect(
        stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l)),
      ).toEqual([{ a: '1' }, { a: '1', b: '2' }]);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });
});
