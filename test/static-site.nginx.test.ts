/**
 * Runtime proof: Debian's real nginx runs the synthesized container (its
 * command, args, user and volumes) with the synthesized ConfigMaps laid out
 * as the kubelet would, on a read-only root filesystem, and serves every file
 * with the right bytes and content type.
 *
 * The objects come from the app's YAML (what ArgoCD applies), parsed back.
 * Expected bytes come from the fixture files on disk, expected content types
 * from the table below, never from the construct.
 */
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { App, Chart, Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { HELLO_PAGE, StaticSiteChart } from '../charts/static-site';
import { StaticSite } from '../lib/static-site';
import { Files } from '../lib/workload';
import { configTest, containerPortOf, NGINX, RunningPod, startPod } from './fixtures/static-site/nginx-pod';
import { K8sObject } from '../lib/testing';
import { request, requirePrograms } from './support/pod-sandbox';
import { findObject } from './support/synth';

const FIXTURE = path.join(__dirname, 'fixtures', 'static-site', 'site');

/** What a browser must be told for each fixture file (and the inline ones). */
const EXPECTED_TYPES: Record<string, string> = {
  '.well-known/security.txt': 'text/plain; charset=utf-8',
  '404.html': 'text/html; charset=utf-8',
  'CNAME': 'application/octet-stream',
  'css/site.css': 'text/css; charset=utf-8',
  'data/config.json': 'application/json; charset=utf-8',
  'docs/README.TXT': 'text/plain; charset=utf-8',
  'docs/guide/deep-page.txt': 'text/plain; charset=utf-8',
  'docs/index.html': 'text/html; charset=utf-8',
  'favicon.ico': 'image/x-icon',
  'images/logo.svg': 'image/svg+xml; charset=utf-8',
  'images/pixel.png': 'image/png',
  'index.html': 'text/html; charset=utf-8',
  'js/app.js': 'text/javascript; charset=utf-8',
  'robots.txt': 'text/plain; charset=utf-8',
  'fonts/sample.woff2': 'font/woff2',
  'app.webmanifest': 'application/manifest+json; charset=utf-8',
};

/** Inline files next to the fixture directory: a binary font (NUL bytes, invalid UTF-8) and a manifest. */
const INLINE: Record<string, Buffer | string> = {
  'fonts/sample.woff2': Buffer.from([0x77, 0x4f, 0x46, 0x32, 0x00, 0x01, 0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28]),
  'app.webmanifest': '{"name": "fixture", "display": "standalone"}\n',
};

function walk(dir: string, rel = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? walk(path.join(dir, e.name), r) : [r];
  });
}

/** Synthesizes the app to YAML, as `cdk8s synth` writes it, and parses it back. */
function viaYaml(app: App): K8sObject[] {
  return YAML.parseAllDocuments(app.synthYaml())
    .map((d) => d.toJSON())
    .filter(Boolean);
}

function probesOf(objects: K8sObject[], deployment: string): { readinessPath: string; livenessPort: number } {
  const dep = findObject(objects, 'Deployment', deployment);
  const c = dep.spec.template.spec.containers.find((x: any) => x.name === 'nginx');
  const containerPort = containerPortOf(objects, deployment);
  // the probes target the port nginx listens on (before the harness rebinds it to loopback)
  const conf = findObject(objects, 'ConfigMap', `${deployment}-config`).data['nginx.conf'];
  expect(conf).toContain(`listen ${containerPort};`);
  expect(c.readinessProbe.httpGet.port).toBe(containerPort);
  // liveness is the cheaper check: the port accepts connections (never the same probe as readiness)
  expect(c.livenessProbe.tcpSocket.port).toBe(containerPort);
  return { readinessPath: c.readinessProbe.httpGet.path, livenessPort: c.livenessProbe.tcpSocket.port };
}

/** Bytes of every file below `dir`. */
function duBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? duBytes(p) : fs.lstatSync(p).size;
  }
  return total;
}

const pods: RunningPod[] = [];
afterAll(async () => {
  await Promise.all(pods.map((p) => p.stop()));
});

beforeAll(() => requirePrograms(NGINX));

describe('a site from a directory plus inline files, with a custom 404 page', () => {
  let objects: K8sObject[];
  let pod: RunningPod;
  let paths: { readinessPath: string; livenessPort: number };

  beforeAll(async () => {
    // GIVEN the fixture directory and most options, with the inline files and one header added by the verbs after construction
    const app = Testing.app();
    const chart = new Chart(app, 'runtime', { namespace: 'web' });
    const site = new StaticSite(chart, 'Site', {
      name: 'fixture',
      files: Files.fromDirectory(FIXTURE),
      notFoundDocument: '404.html',
      responseHeaders: { 'Content-Security-Policy': "default-src 'self'" },
    });
    site.addFiles(Files.fromContent(INLINE));
    site.addResponseHeader('X-Frame-Options', 'DENY');
    objects = viaYaml(app);
    // WHEN nginx runs the synthesized container
    paths = probesOf(objects, 'fixture');
    pod = await startPod(objects, 'fixture', paths.readinessPath);
    pods.push(pod);
  });

  test('nginx -t accepts the generated config in the pod view, without warnings', async () => {
    const r = await configTest(objects, 'fixture');
    expect(r.output).not.toMatch(/\[(warn|emerg|alert|crit|error)\]/);
    expect(r.output).toMatch(/syntax is ok/);
    expect(r.output).toMatch(/test is successful/);
    expect(r.status).toBe(0);
  });

  test('every file is served with its bytes and content type', async () => {
    const all = [...walk(FIXTURE), ...Object.keys(INLINE)].sort();
    expect(Object.keys(EXPECTED_TYPES).sort()).toEqual(all);
    for (const p of all.filter((x) => x !== '404.html')) {
      const res = await request(`${pod.baseUrl}/${p}`);
      const expected = p in INLINE ? Buffer.from(INLINE[p]) : fs.readFileSync(path.join(FIXTURE, p));
      expect({ p, status: res.status, type: res.headers['content-type'] }).toEqual({ p, status: 200, type: EXPECTED_TYPES[p] });
      expect(res.body.equals(expected)).toBe(true);
    }
  });

  test('directories serve their index document; a directory without a slash redirects relatively', async () => {
    expect((await request(`${pod.baseUrl}/`)).body.equals(fs.readFileSync(path.join(FIXTURE, 'index.html')))).toBe(true);
    expect((await request(`${pod.baseUrl}/docs/`)).body.equals(fs.readFileSync(path.join(FIXTURE, 'docs/index.html')))).toBe(true);
    const redirect = await request(`${pod.baseUrl}/docs`);
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe('/docs/');
  });

  test('a missing path gets the custom 404 page with status 404; the page itself is not directly addressable', async () => {
    const missing = await request(`${pod.baseUrl}/no/such/page.html`);
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(missing.body.equals(fs.readFileSync(path.join(FIXTURE, '404.html')))).toBe(true);
    expect((await request(`${pod.baseUrl}/404.html`)).status).toBe(404);
  });

  test('the kubelet bookkeeping of the ConfigMap volume is not served', async () => {
    expect((await request(`${pod.baseUrl}/..data/index.html`)).status).toBe(404);
    expect((await request(`${pod.baseUrl}/..2026_01_01_00_00_00.000000001/index.html`)).status).toBe(404);
  });

  test("the health location answers the readiness probe; the port accepts the liveness probe's connection", async () => {
    const res = await request(`${pod.baseUrl}${paths.readinessPath}`);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('ok\n');
    expect(res.headers['cache-control']).toBe('no-store');
    // the harness rebinds the listen port to loopback: connect where nginx listens, as the kubelet's TCP probe does
    const { hostname, port } = new URL(pod.baseUrl);
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(Number(port), hostname, () => {
        socket.end();
        resolve();
      });
      socket.on('error', reject);
    });
  });

  test("nginx's emptyDirs hold a small fraction of their sizeLimit after serving every file, gzipped and not", async () => {
    // GIVEN the running pod  WHEN every file is fetched plain and gzipped
    for (const f of Object.keys(EXPECTED_TYPES)) {
      await request(`${pod.baseUrl}/${f}`);
      await request(`${pod.baseUrl}/${f}`, { headers: { 'accept-encoding': 'gzip' } });
    }
    // THEN what nginx wrote to /tmp and /var/cache/nginx (the pid file, temp files) stays under 1% of each sizeLimit
    const dep = findObject(objects, 'Deployment', 'fixture');
    for (const name of ['tmp', 'nginx-cache']) {
      const limit = dep.spec.template.spec.volumes.find((v: any) => v.name === name).emptyDir.sizeLimit;
      expect(limit).toBe('16Mi');
      const used = duBytes(pod.volumeDir(name));
      expect({ name, used: used < (16 * 1024 * 1024) / 100 }).toEqual({ name, used: true });
    }
    // the measurement is real: nginx's pid file is in the /tmp emptyDir
    expect(fs.statSync(path.join(pod.volumeDir('tmp'), 'nginx.pid')).size).toBeGreaterThan(0);
  });

  test('cache headers, security headers and no version in Server', async () => {
    const html = await request(`${pod.baseUrl}/index.html`);
    expect(html.headers['cache-control']).toBe('no-cache');
    const css = await request(`${pod.baseUrl}/css/site.css`);
    expect(css.headers['cache-control']).toBe('public, max-age=3600');
    for (const res of [html, css, await request(`${pod.baseUrl}/missing`)]) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toBe("default-src 'self'");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers.server).toBe('nginx');
    }
  });

  test('textual files are gzipped for clients that accept it and decode to the same bytes', async () => {
    for (const p of ['css/site.css', 'index.html']) {
      const res = await request(`${pod.baseUrl}/${p}`, { headers: { 'Accept-Encoding': 'gzip' } });
      expect(res.headers['content-encoding']).toBe('gzip');
      expect(res.headers.vary).toBe('Accept-Encoding');
      expect(zlib.gunzipSync(res.body).equals(fs.readFileSync(path.join(FIXTURE, p)))).toBe(true);
    }
    const png = await request(`${pod.baseUrl}/images/pixel.png`, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(png.headers['content-encoding']).toBeUndefined();
  });

  test('nginx runs as the manifest user, never root, and logs requests to stdout', async () => {
    const dep = findObject(objects, 'Deployment', 'fixture');
    const uid = String(dep.spec.template.spec.containers[0].securityContext.runAsUser);
    const procs = pod.nginx.processes('nginx');
    expect(procs.length).toBeGreaterThanOrEqual(2); // master and worker
    for (const p of procs) {
      expect(p.uid.split(/\s+/)).toEqual([uid, uid, uid, uid]);
      expect(p.gid.split(/\s+/)).toEqual([uid, uid, uid, uid]);
    }
    await request(`${pod.baseUrl}/robots.txt`);
    // the access log line is written after the answer: awaited (30 s bound), not slept on
    await pod.nginx.waitFor(/"GET \/robots.txt HTTP\/1.1" 200/, 30000);
    expect(pod.nginx.output().stdout).toMatch(/"GET \/robots.txt HTTP\/1.1" 200/);
    expect(pod.nginx.output().stderr).not.toMatch(/\[(warn|emerg|alert|crit|error)\]/);
  });
});

describe('a single-page app with immutable, hash-named content', () => {
  let pod: RunningPod;
  const index = '<!DOCTYPE html><html><body><div id="app">client-side routes</div></body></html>\n';
  const bundle = `// ${'bundle '.repeat(100)}\nconsole.log("app");\n`;

  beforeAll(async () => {
    const app = Testing.app();
    const chart = new Chart(app, 'spa', { namespace: 'web' });
    new StaticSite(chart, 'Site', {
      name: 'spa',
      files: Files.fromContent({ 'index.html': index, 'assets/app.js': bundle }),
      spaFallback: true,
      immutableContent: true,
      gzip: false,
    });
    const objects = viaYaml(app);
    expect(findObject(objects, 'Deployment', 'spa').spec.template.spec.volumes.find((v: any) => v.name === 'content').configMap.name).toMatch(
      /^spa-content-[0-9a-f]{10}$/,
    );
    const v = probesOf(objects, 'spa');
    expect((await configTest(objects, 'spa')).status).toBe(0);
    pod = await startPod(objects, 'spa', v.readinessPath);
    pods.push(pod);
  });

  test('unknown paths get the index document with status 200', async () => {
    for (const p of ['/', '/users/42', '/deep/client/route?tab=2']) {
      const res = await request(`${pod.baseUrl}${p}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.body.toString()).toBe(index);
    }
  });

  test('real files are still served as themselves, uncompressed when gzip is off', async () => {
    const res = await request(`${pod.baseUrl}/assets/app.js`, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.body.toString()).toBe(bundle);
  });
});

describe('the seed chart', () => {
  let pod: RunningPod;

  beforeAll(async () => {
    const app = Testing.app();
    new StaticSiteChart(app, 'static-site');
    const objects = viaYaml(app);
    pod = await startPod(objects, 'nginx', probesOf(objects, 'nginx').readinessPath);
    pods.push(pod);
  });

  test("serves the Hello page at / and nginx's own 404 elsewhere", async () => {
    const page = await request(`${pod.baseUrl}/?name=Smarty`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body.toString()).toBe(HELLO_PAGE);
    const missing = await request(`${pod.baseUrl}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.body.toString()).toMatch(/<title>404 Not Found<\/title>[\s\S]*<center>nginx<\/center>/);
  });
});
