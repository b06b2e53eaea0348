/**
 * The stand-in Kubernetes API (test/support/fake-kube-api.js) against the real
 * kube-apiserver + etcd (test/support/kube.ts): the same requests, in the same
 * order, sent to both; the status codes and the fields the KvProxy reads
 * (lib/kv-proxy/server: kube.js, cache.js, kv.js) are compared, so the
 * stand-in cannot drift from the server it stands in for:
 *  - lists: kind, metadata.resourceVersion (an integer), metadata.continue,
 *    the items' names, labels, data and immutable;
 *  - objects: metadata.resourceVersion (rising with each change), data, labels;
 *  - errors: the Status code and reason, and the messages the proxy matches
 *    (an immutable ConfigMap's 422, a ConfigMap over 1 MiB);
 *  - a watch from a resourceVersion: the event type, name and resourceVersion
 *    of the change made after it.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { FakeKubeApi } from './support/fake-kube-api';
import { KubeCluster, useKubeCluster } from './support/kube';

const NS = 'conformance';
const TOKEN = 'conformance-token-0123456789abcdef';
const MERGE = 'application/merge-patch+json';

interface Target {
  name: string;
  base: string;
  ca?: string;
  token: string;
}

interface Answer {
  status: number;
  body: any;
}

function send(
  t: Target,
  method: string,
  urlPath: string,
  body?: unknown,
  contentType = 'application/json',
  token: string | undefined = t.token,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { Accept: 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (payload !== undefined) Object.assign(headers, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) });
    const mod = t.base.startsWith('https:') ? https : http;
    const req = mod.request(`${t.base}${urlPath}`, { method, headers, agent: false, timeout: 60000, ...(t.ca ? { ca: t.ca } : {}) }, (res) => {
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
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${urlPath}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Opens a watch and resolves with the first event that is not a BOOKMARK (awaited; the caller makes the change). */
function firstEvent(t: Target, urlPath: string): { opened: Promise<number>; event: Promise<any>; close: () => void } {
  let close = () => undefined as void;
  let onOpen: (status: number) => void = () => undefined;
  const opened = new Promise<number>((r) => {
    onOpen = r;
  });
  const event = new Promise<any>((resolve, reject) => {
    const mod = t.base.startsWith('https:') ? https : http;
    const req = mod.request(
      `${t.base}${urlPath}`,
      { headers: { Authorization: `Bearer ${t.token}` }, agent: false, ...(t.ca ? { ca: t.ca } : {}) },
      (res) => {
        onOpen(res.statusCode ?? 0);
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let nl;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (!line) continue;
            const e = JSON.parse(line);
            if (e.type !== 'BOOKMARK') {
              resolve(e);
              req.destroy();
              return;
            }
          }
        });
        res.on('error', () => undefined);
      },
    );
    req.on('error', (e) => reject(e));
    req.end();
    close = () => {
      req.destroy();
    };
  });
  return { opened, event, close: () => close() };
}

const cm = (name: string) => `/api/v1/namespaces/${NS}/configmaps/${name}`;
const list = (query = '') => `/api/v1/namespaces/${NS}/configmaps${query}`;
const isIndex = (rv: unknown) => typeof rv === 'string' && /^[1-9]\d*$/.test(rv);
const statusOf = (a: Answer) => ({ status: a.status, kind: a.body?.kind, code: a.body?.code, reason: a.body?.reason });
const objectOf = (a: Answer) => ({
  status: a.status,
  kind: a.body?.kind,
  name: a.body?.metadata?.name,
  labels: a.body?.metadata?.labels,
  data: a.body?.data,
  immutable: a.body?.immutable,
  rvIsIndex: isIndex(a.body?.metadata?.resourceVersion),
});
const listOf = (a: Answer) => ({
  status: a.status,
  kind: a.body?.kind,
  rvIsIndex: isIndex(a.body?.metadata?.resourceVersion),
  more: typeof a.body?.metadata?.continue === 'string' && a.body.metadata.continue !== '',
  items: (a.body?.items ?? []).map((o: any) => ({ name: o.metadata.name, labels: o.metadata.labels, data: o.data, immutable: o.immutable })),
});

/** The same requests, in order; returns what the proxy would read from each answer. */
async function script(t: Target): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  out.emptyList = listOf(await send(t, 'GET', list()));
  const created = await send(t, 'POST', list(), {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'a', labels: { app: 'x' } },
    data: { k: '1' },
  });
  out.create = objectOf(created);
  out.createAgain = statusOf(await send(t, 'POST', list(), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' }, data: {} }));
  out.getMissing = statusOf(await send(t, 'GET', cm('missing')));
  out.get = objectOf(await send(t, 'GET', cm('a')));
  const patched = await send(t, 'PATCH', cm('a'), { data: { k2: '2' } }, MERGE);
  out.mergePatch = objectOf(patched);
  out.rvRises = BigInt(patched.body.metadata.resourceVersion) > BigInt(created.body.metadata.resourceVersion);
  out.nullDeletesKey = objectOf(await send(t, 'PATCH', cm('a'), { data: { k2: null } }, MERGE));
  out.stalePatch = statusOf(
    await send(t, 'PATCH', cm('a'), { metadata: { resourceVersion: created.body.metadata.resourceVersion }, data: { k: 'stale' } }, MERGE),
  );
  out.patchMissing = statusOf(await send(t, 'PATCH', cm('missing'), { data: { k: '1' } }, MERGE));
  out.patchAsPlainJson = statusOf(await send(t, 'PATCH', cm('a'), { data: { k: '1' } }, 'application/json'));
  await send(t, 'POST', list(), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'frozen' }, data: { f: '1' }, immutable: true });
  const frozen = await send(t, 'PATCH', cm('frozen'), { data: { f: '2' } }, MERGE);
  out.patchImmutable = { ...statusOf(frozen), immutableMessage: /field is immutable when `immutable` is set/.test(frozen.body?.message ?? '') };
  const big = await send(t, 'POST', list(), {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'big' },
    data: { blob: 'x'.repeat(1048576 + 1) },
  });
  out.createTooBig = { ...statusOf(big), tooLongMessage: /Too long|at most \d+ bytes/.test(big.body?.message ?? '') };
  out.labelSelector = listOf(await send(t, 'GET', list(`?labelSelector=${encodeURIComponent('app=x')}`)));
  out.fieldSelector = listOf(await send(t, 'GET', list(`?fieldSelector=${encodeURIComponent('metadata.name=frozen')}`)));
  const firstPage = await send(t, 'GET', list('?limit=1'));
  out.firstPage = listOf(firstPage);
  out.secondPage = listOf(await send(t, 'GET', list(`?limit=1&continue=${encodeURIComponent(firstPage.body.metadata.continue)}`)));
  out.noToken = { status: (await send(t, 'GET', list(), undefined, undefined, '')).status };
  out.wrongToken = { status: (await send(t, 'GET', list(), undefined, undefined, 'not-the-token')).status };
  // a watch from the current resourceVersion sees the next change
  const from = (await send(t, 'GET', list())).body.metadata.resourceVersion;
  const w = firstEvent(t, `${list()}?watch=true&allowWatchBookmarks=true&resourceVersion=${from}&timeoutSeconds=60`);
  try {
    out.watchOpened = await w.opened;
    const changed = await send(t, 'PATCH', cm('a'), { data: { k: 'watched' } }, MERGE);
    const e = await w.event;
    out.watchEvent = {
      type: e.type,
      name: e.object?.metadata?.name,
      data: e.object?.data,
      sameRv: e.object?.metadata?.resourceVersion === changed.body.metadata.resourceVersion,
    };
  } finally {
    w.close();
  }
  return out;
}

describe('the stand-in Kubernetes API answers as kube-apiserver does (the calls the KvProxy makes)', () => {
  const cluster = useKubeCluster();
  let fake: FakeKubeApi | undefined;
  let real: KubeCluster;

  beforeAll(async () => {
    real = cluster();
    await real.kubectlOk(['create', 'namespace', NS]);
    // a token of its own on the real server, as the stand-in's: a ServiceAccount allowed to do what the script does
    await real.kubectlOk(['create', 'serviceaccount', 'conformance', '-n', NS]);
    await real.kubectlOk(['create', 'role', 'conformance', '-n', NS, '--verb=get,list,watch,create,patch', '--resource=configmaps']);
    await real.kubectlOk(['create', 'rolebinding', 'conformance', '-n', NS, '--role=conformance', `--serviceaccount=${NS}:conformance`]);
    fake = new FakeKubeApi({ tokens: [TOKEN] });
    await fake.start(0);
  }, 180000);

  afterAll(async () => {
    await fake?.stop();
  });

  test('the same requests give the same status codes and the same fields the proxy reads', async () => {
    // GIVEN
    const token = (await real.kubectlOk(['create', 'token', 'conformance', '-n', NS, '--duration=1h'])).trim();
    // WHEN
    const fromReal = await script({ name: 'kube-apiserver', base: real.server, ca: real.ca, token });
    const fromFake = await script({ name: 'stand-in', base: fake!.url, token: TOKEN });
    // THEN the real server's answers are what the script expects (so a comparison of two wrong answers cannot pass)
    expect(fromReal).toMatchObject({
      create: { status: 201, data: { k: '1' }, labels: { app: 'x' }, rvIsIndex: true },
      createAgain: { status: 409, reason: 'AlreadyExists' },
      getMissing: { status: 404, reason: 'NotFound' },
      mergePatch: { status: 200, data: { k: '1', k2: '2' } },
      rvRises: true,
      stalePatch: { status: 409, reason: 'Conflict' },
      patchImmutable: { status: 422, reason: 'Invalid', immutableMessage: true },
      createTooBig: { status: 422, tooLongMessage: true },
      firstPage: { more: true },
      noToken: { status: 401 },
      watchOpened: 200,
      watchEvent: { type: 'MODIFIED', name: 'a', sameRv: true },
    });
    // AND the stand-in answered the same
    expect(fromFake).toEqual(fromReal);
  }, 180000);
});
