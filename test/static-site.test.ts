import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { HELLO_PAGE, StaticSiteChart } from '../charts/static-site';
import { DEFAULT_RESOURCES } from '../lib/security';
import {
  DEFAULT_CONTENT_TYPES,
  STATIC_SITE_CONFIG_PATH,
  STATIC_SITE_CONTENT_PATH,
  STATIC_SITE_DEFAULT_IMAGE,
  STATIC_SITE_NGINX_UID,
  StaticSite,
  StaticSiteProps,
  resolveStaticSite,
} from '../lib/static-site';
import { Files } from '../lib/workload';
import { K8sObject, assertValid } from '../lib/testing';
import { findAll, findContainer, findObject, synthObjects, testChart } from './support/synth';
import { secretRef } from './support/refs';

const FIXTURE = path.join(__dirname, 'fixtures', 'static-site', 'site');
const HELLO = { 'index.html': '<h1>hello</h1>\n' };

function synth(props: StaticSiteProps): { site: StaticSite; objects: K8sObject[] } {
  const chart = testChart('web');
  const site = new StaticSite(chart, 'Site', props);
  return { site, objects: synthObjects(chart) };
}
const nginxConf = (objects: K8sObject[], name = 'static-site') => findObject(objects, 'ConfigMap', `${name}-config`).data['nginx.conf'] as string;
const podSpec = (objects: K8sObject[], name = 'static-site') => findObject(objects, 'Deployment', name).spec.template.spec;
const annotations = (objects: K8sObject[], name = 'static-site') => findObject(objects, 'Deployment', name).spec.template.metadata.annotations;

describe('StaticSite defaults', () => {
  // GIVEN only content
  const { site, objects } = synth({ files: Files.fromContent(HELLO) });

  test('snapshot', () => {
    expect(objects).toMatchSnapshot();
  });

  test('passes the validation gate', () => {
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('the resolver decides every @default; the public fields carry the values users build on', () => {
    const r = resolveStaticSite({ files: Files.fromContent(HELLO) });
    expect(r).toMatchObject({
      name: 'static-site',
      image: STATIC_SITE_DEFAULT_IMAGE,
      port: 8080,
      replicas: 2,
      indexDocument: 'index.html',
      spaFallback: false,
      gzip: true,
      htmlCacheControl: 'no-cache',
      assetCacheControl: 'public, max-age=3600',
      responseHeaders: { 'X-Content-Type-Options': 'nosniff' },
      contentTypes: DEFAULT_CONTENT_TYPES,
      accessLog: true,
      healthPath: '/healthz',
      resources: DEFAULT_RESOURCES,
      immutableContent: false,
      allowSecretFiles: false,
      securityContext: { user: 10101, group: 10101, fsGroup: 10101 },
      expose: { serviceType: 'ClusterIP', servicePort: 80 },
    });
    expect(r.notFoundDocument).toBeUndefined();
    expect(site).toMatchObject({
      name: 'static-site',
      image: STATIC_SITE_DEFAULT_IMAGE,
      port: 8080,
      servicePort: 80,
      replicas: 2,
      labels: {
        'app.kubernetes.io/name': 'static-site',
        'app.kubernetes.io/instance': 'static-site',
        'app.kubernetes.io/component': 'web-server',
        'app.kubernetes.io/managed-by': 'cdk8s',
      },
      selector: { 'app.kubernetes.io/name': 'static-site', 'app.kubernetes.io/instance': 'static-site' },
    });
    expect(site.ingress).toBeUndefined();
    // the shared exposure's defaults: a NetworkPolicy, and a PDB because replicas defaults to 2
    expect(site.networkPolicy).toBeDefined();
    expect(site.podDisruptionBudget).toBeDefined();
  });

  test('objects are named after name (default "static-site") and labelled', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ConfigMap/static-site-config',
      'ConfigMap/static-site-content',
      'Deployment/static-site',
      'NetworkPolicy/static-site',
      'PodDisruptionBudget/static-site',
      'Service/static-site',
    ]);
    for (const o of objects) {
      expect(o.metadata.labels).toMatchObject({
        'app.kubernetes.io/name': 'static-site',
        'app.kubernetes.io/instance': 'static-site',
        'app.kubernetes.io/component': 'web-server',
        'app.kubernetes.io/managed-by': 'cdk8s',
      });
      expect(o.metadata.namespace).toBe('web');
    }
    expect(site.name).toBe('static-site');
  });

  test('nginx runs the pinned unprivileged image as uid/gid 10101 (above 10000) with the generated config, not the image entrypoint', () => {
    const c = findContainer(findObject(objects, 'Deployment', 'static-site'), 'nginx');
    expect(c.image).toBe(STATIC_SITE_DEFAULT_IMAGE);
    expect(STATIC_SITE_DEFAULT_IMAGE).toBe('nginxinc/nginx-unprivileged:1.28.0-alpine');
    expect(site.image).toBe(STATIC_SITE_DEFAULT_IMAGE);
    expect(c.command).toEqual(['/usr/sbin/nginx']);
    expect(c.args).toEqual(['-e', 'stderr', '-c', '/etc/nginx/static-site/nginx.conf', '-g', 'daemon off;']);
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 10101,
      runAsGroup: 10101,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(STATIC_SITE_NGINX_UID).toBe(10101);
    expect(podSpec(objects).securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10101, runAsGroup: 10101, fsGroup: 10101 });
    expect(podSpec(objects).automountServiceAccountToken).toBe(false);
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.lifecycle).toEqual({ preStop: { exec: { command: ['/bin/sleep', '5'] } } });
  });

  test('resources default to DEFAULT_RESOURCES, ephemeral storage included; emptyDirs default to 16 MiB', () => {
    const c = findContainer(findObject(objects, 'Deployment', 'static-site'), 'nginx');
    expect(c.resources).toEqual({
      requests: { 'cpu': '50m', 'memory': '64Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '500m', 'memory': '128Mi', 'ephemeral-storage': '0.25Gi' },
    });
    expect(resolveStaticSite({ files: Files.fromContent(HELLO) }).emptyDirSizeLimit.toMebibytes()).toBe(16);
  });

  test('volumes: content and config read-only, writable emptyDirs only at /tmp and /var/cache/nginx', () => {
    const c = findContainer(findObject(objects, 'Deployment', 'static-site'), 'nginx');
    expect(c.volumeMounts).toEqual([
      { name: 'content', mountPath: STATIC_SITE_CONTENT_PATH, readOnly: true },
      { name: 'nginx-config', mountPath: STATIC_SITE_CONFIG_PATH, readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'nginx-cache', mountPath: '/var/cache/nginx' },
    ]);
    expect(STATIC_SITE_CONTENT_PATH).toBe('/usr/share/nginx/html');
    expect(podSpec(objects).volumes).toEqual([
      { name: 'content', configMap: { name: 'static-site-content', items: [{ key: 'index.html', path: 'index.html' }] } },
      { name: 'nginx-config', configMap: { name: 'static-site-config' } },
      { name: 'tmp', emptyDir: { sizeLimit: '16Mi' } },
      { name: 'nginx-cache', emptyDir: { sizeLimit: '16Mi' } },
    ]);
  });

  test('port 8080 everywhere: listen, containerPort, readiness on /healthz, liveness a TCP check over a longer threshold, Service targetPort', () => {
    const c = findContainer(findObject(objects, 'Deployment', 'static-site'), 'nginx');
    expect(site.port).toBe(8080);
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080 }]);
    expect(nginxConf(objects)).toMatch(/^ {4}listen 8080;$/m);
    expect(c.readinessProbe).toEqual({
      httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 2,
    });
    expect(c.livenessProbe).toEqual({ tcpSocket: { port: 8080 }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 6 });
    expect(nginxConf(objects)).toContain('location = /healthz {');
  });

  test('a ClusterIP Service on port 80 selecting the pods', () => {
    const svc = findObject(objects, 'Service', 'static-site');
    expect(svc.spec.type).toBe('ClusterIP');
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080 }]);
    expect(svc.spec.selector).toEqual(findObject(objects, 'Deployment', 'static-site').spec.selector.matchLabels);
    expect(site.servicePort).toBe(80);
    expect(site.service.type).toBe(kplus.ServiceType.CLUSTER_IP);
  });

  test('2 replicas spread over nodes with a PodDisruptionBudget', () => {
    const dep = findObject(objects, 'Deployment', 'static-site');
    expect(dep.spec.replicas).toBe(2);
    expect(site.replicas).toBe(2);
    expect(dep.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toEqual([
      {
        weight: 100,
        podAffinityTerm: { labelSelector: { matchLabels: dep.spec.selector.matchLabels }, topologyKey: 'kubernetes.io/hostname' },
      },
    ]);
    const pdb = findObject(objects, 'PodDisruptionBudget', 'static-site');
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: dep.spec.selector.matchLabels } });
    expect(site.podDisruptionBudget).toBeDefined();
  });

  test('no Ingress; a NetworkPolicy admitting same-namespace pods to the site port, no egress; a mutable ConfigMap rolled by checksums', () => {
    expect(findAll(objects, 'Ingress')).toEqual([]);
    expect(site.ingress).toBeUndefined();
    expect(findObject(objects, 'NetworkPolicy', 'static-site').spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'static-site', 'app.kubernetes.io/instance': 'static-site' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 8080 }] }],
    });
    // policyTypes Egress with no egress rules denies all egress; an empty `egress: []` is not written,
    // because the API server drops it and every server-side apply would then be a change
    expect(findObject(objects, 'NetworkPolicy', 'static-site').spec.egress).toBeUndefined();
    expect(site.networkPolicy).toBeDefined();
    const cm = findObject(objects, 'ConfigMap', 'static-site-content');
    expect(cm.immutable).not.toBe(true);
    expect(cm.metadata.annotations).toBeUndefined();
    expect(annotations(objects)['checksum/content']).toMatch(/^[0-9a-f]{64}$/);
    expect(annotations(objects)['checksum/nginx-config']).toMatch(/^[0-9a-f]{64}$/);
  });

  test('nginx.conf defaults: index.html, nginx 404, no SPA fallback, gzip, cache headers, nosniff, access log', () => {
    const conf = nginxConf(objects);
    expect(conf).toContain('    index index.html;');
    expect(conf).not.toContain('error_page');
    expect(conf).toContain('try_files $uri $uri/ =404;');
    expect(conf).toContain('  gzip on;');
    expect(conf).toContain('    default "public, max-age=3600";\n    ~^text/html "no-cache";');
    expect(conf.match(/add_header (?!Cache-Control)\S+ .*;/g)).toEqual(['add_header X-Content-Type-Options "nosniff" always;']);
    expect(conf).toContain('  access_log /dev/stdout combined;');
    expect(conf).toContain('    root /usr/share/nginx/html;');
    expect(conf).toMatch(/^pid \/tmp\/nginx\.pid;$/m);
    expect(conf).toContain('  include /etc/nginx/static-site/mime.types;');
    expect(conf).not.toMatch(/include \/etc\/nginx\/(mime\.types|conf\.d)/);
    expect(resolveStaticSite({ files: Files.fromContent(HELLO) }).nginxConf).toBe(conf);
  });

  test('mime.types defaults cover common extensions', () => {
    const types = findObject(objects, 'ConfigMap', 'static-site-config').data['mime.types'];
    for (const line of [
      'text/html htm html;',
      'text/css css;',
      'text/javascript cjs js mjs;',
      'image/png png;',
      'image/svg+xml svg;',
      'font/woff2 woff2;',
      'image/x-icon ico;',
      'application/json json map;',
      'application/wasm wasm;',
    ]) {
      expect(types).toContain(`  ${line}`);
    }
  });
});

describe('StaticSite content', () => {
  test('a directory with nested folders maps to keys without "/" and items with the real paths', () => {
    // GIVEN the fixture directory
    const { site, objects } = synth({ files: Files.fromDirectory(FIXTURE) });
    // THEN keys join segments with "__" and the volume puts each key at its path
    const items = podSpec(objects).volumes.find((v: any) => v.name === 'content').configMap.items;
    expect(items).toEqual(
      expect.arrayContaining([
        { key: 'css__site.css', path: 'css/site.css' },
        { key: 'docs__guide__deep-page.txt', path: 'docs/guide/deep-page.txt' },
        { key: '.well-known__security.txt', path: '.well-known/security.txt' },
        { key: 'index.html', path: 'index.html' },
      ]),
    );
    expect(items.map((i: any) => i.path).sort()).toEqual(site.files.map((f) => f.path));
    expect(site.files.map((f) => f.path)).toContain('docs/guide/deep-page.txt');
    expect(() => assertValid(objects)).not.toThrow();
    expect(objects).toMatchSnapshot();
  });

  test('binary files go to binaryData with their exact bytes, text to data', () => {
    const { site, objects } = synth({ files: Files.fromDirectory(FIXTURE) });
    const cm = findObject(objects, 'ConfigMap', 'static-site-content');
    expect(Object.keys(cm.binaryData).sort()).toEqual(['favicon.ico', 'images__pixel.png']);
    expect(Buffer.from(cm.binaryData['images__pixel.png'], 'base64').equals(fs.readFileSync(path.join(FIXTURE, 'images/pixel.png')))).toBe(true);
    expect(Buffer.from(cm.binaryData['favicon.ico'], 'base64').equals(fs.readFileSync(path.join(FIXTURE, 'favicon.ico')))).toBe(true);
    expect(cm.data['index.html']).toBe(fs.readFileSync(path.join(FIXTURE, 'index.html'), 'utf8'));
    expect(cm.data['images__logo.svg']).toBeDefined();
    expect(site.files.find((f) => f.path === 'images/pixel.png')).toEqual({
      path: 'images/pixel.png',
      key: 'images__pixel.png',
      contentType: 'image/png',
      binary: true,
      sizeBytes: fs.statSync(path.join(FIXTURE, 'images/pixel.png')).size,
    });
    expect(site.files.find((f) => f.path === 'CNAME')).toMatchObject({ contentType: 'application/octet-stream', binary: false });
  });

  test('inline content joins the directory; Buffers that are not UTF-8 are binary, leading "/" is dropped', () => {
    const { site, objects } = synth({
      files: Files.of(
        Files.fromDirectory(FIXTURE),
        Files.fromContent({
          '/extra/notes.md': '# notes\n',
          'fonts/a.woff2': Buffer.from([0, 1, 2, 255]),
          'raw.txt': Buffer.from('plain text'),
        }),
      ),
    });
    const cm = findObject(objects, 'ConfigMap', 'static-site-content');
    expect(cm.data['extra__notes.md']).toBe('# notes\n');
    expect(cm.binaryData['fonts__a.woff2']).toBe(Buffer.from([0, 1, 2, 255]).toString('base64'));
    expect(cm.data['raw.txt']).toBe('plain text');
    expect(site.files.find((f) => f.path === 'extra/notes.md')?.contentType).toBe('text/markdown');
  });

  test('paths that would share a key get distinct keys', () => {
    const { site, objects } = synth({ files: Files.fromContent({ 'a__b.txt': 'top', 'a/b.txt': 'nested', 'index.html': 'x' }) });
    const keys = site.files.map((f) => f.key);
    expect(new Set(keys).size).toBe(3);
    expect(keys.filter((k) => k.startsWith('a__b.txt.'))).toHaveLength(2);
    const cm = findObject(objects, 'ConfigMap', 'static-site-content');
    expect(cm.data[site.files.find((f) => f.path === 'a/b.txt')!.key]).toBe('nested');
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('changing any file changes the pod-template checksum, so the Deployment rolls; the same content does not', () => {
    const a = annotations(synth({ files: Files.fromContent({ 'index.html': 'v1', 'css/a.css': 'x' }) }).objects);
    const same = annotations(synth({ files: Files.fromContent({ 'css/a.css': 'x', 'index.html': 'v1' }) }).objects);
    const changed = annotations(synth({ files: Files.fromContent({ 'index.html': 'v1', 'css/a.css': 'y' }) }).objects);
    const binary = annotations(synth({ files: Files.fromContent({ 'index.html': 'v1', 'css/a.css': 'x', 'p.png': Buffer.from([1]) }) }).objects);
    expect(same['checksum/content']).toBe(a['checksum/content']);
    expect(changed['checksum/content']).not.toBe(a['checksum/content']);
    expect(binary['checksum/content']).not.toBe(a['checksum/content']);
    expect(changed['checksum/nginx-config']).toBe(a['checksum/nginx-config']);
  });

  test('changing an nginx option changes the config checksum', () => {
    const a = annotations(synth({ files: Files.fromContent(HELLO) }).objects);
    const b = annotations(synth({ files: Files.fromContent(HELLO), gzip: false }).objects);
    expect(b['checksum/nginx-config']).not.toBe(a['checksum/nginx-config']);
    expect(b['checksum/content']).toBe(a['checksum/content']);
  });

  test('immutableContent: an immutable ConfigMap named by a content hash, renamed when content changes', () => {
    const one = synth({ files: Files.fromContent(HELLO), immutableContent: true });
    const cm = findAll(one.objects, 'ConfigMap').find((o) => o.metadata.name?.startsWith('static-site-content-'))!;
    expect(cm.metadata.name).toMatch(/^static-site-content-[0-9a-f]{10}$/);
    expect(cm.immutable).toBe(true);
    expect(podSpec(one.objects).volumes.find((v: any) => v.name === 'content').configMap.name).toBe(cm.metadata.name);
    expect(one.site.configMap.name).toBe(cm.metadata.name);
    const two = synth({ files: Files.fromContent({ 'index.html': 'other' }), immutableContent: true });
    expect(two.site.configMap.name).not.toBe(cm.metadata.name);
    expect(synth({ files: Files.fromContent(HELLO), immutableContent: true }).site.configMap.name).toBe(cm.metadata.name);
    expect(() => assertValid(one.objects)).not.toThrow();
  });

  test("content too big for kubectl's last-applied annotation is marked for server-side apply", () => {
    const { objects, site } = synth({ files: Files.fromContent({ 'index.html': 'x', 'big.txt': 'a'.repeat(300 * 1024) }) });
    expect(findObject(objects, 'ConfigMap', 'static-site-content').metadata.annotations).toEqual({
      'argocd.argoproj.io/sync-options': 'ServerSideApply=true',
    });
    expect(site.files.reduce((n, f) => n + f.key.length + f.sizeBytes, 0)).toBe('index.html'.length + 1 + 'big.txt'.length + 300 * 1024);
  });
});

describe('StaticSite options', () => {
  test('name, image, port, servicePort, serviceType, replicas 1 (no PDB), resources', () => {
    const { site, objects } = synth({
      files: Files.fromContent(HELLO),
      name: 'docs',
      image: 'nginxinc/nginx-unprivileged:1.27.3-alpine',
      port: 9090,
      servicePort: 8081,
      serviceType: kplus.ServiceType.NODE_PORT,
      replicas: 1,
      resources: {
        cpu: { request: kplus.Cpu.millis(10), limit: kplus.Cpu.millis(100) },
        memory: { request: DEFAULT_RESOURCES.memory!.request, limit: DEFAULT_RESOURCES.memory!.limit },
      },
    });
    const dep = findObject(objects, 'Deployment', 'docs');
    const c = findContainer(dep, 'nginx');
    expect(c.image).toBe('nginxinc/nginx-unprivileged:1.27.3-alpine');
    expect(c.ports).toEqual([{ name: 'http', containerPort: 9090 }]);
    expect(c.readinessProbe.httpGet.port).toBe(9090);
    expect(nginxConf(objects, 'docs')).toContain('    listen 9090;');
    expect(findObject(objects, 'Service', 'docs').spec).toMatchObject({ type: 'NodePort', ports: [{ name: 'http', port: 8081, targetPort: 9090 }] });
    expect(dep.spec.replicas).toBe(1);
    expect(dep.spec.template.spec.affinity).toBeUndefined();
    expect(findAll(objects, 'PodDisruptionBudget')).toEqual([]);
    expect(site.podDisruptionBudget).toBeUndefined();
    expect(c.resources.requests.cpu).toBe('10m');
    expect(c.resources.limits.cpu).toBe('100m');
    expect(findObject(objects, 'ConfigMap', 'docs-content')).toBeDefined();
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('indexDocument, notFoundDocument, spaFallback', () => {
    const { objects } = synth({
      files: Files.fromContent({ 'main.html': 'm', 'errors/404.html': 'e' }),
      indexDocument: 'main.html',
      notFoundDocument: '/errors/404.html',
      spaFallback: true,
    });
    const conf = nginxConf(objects);
    expect(conf).toContain('    index main.html;');
    expect(conf).toContain('    error_page 404 /errors/404.html;');
    expect(conf).toContain('    location = /errors/404.html {\n      internal;\n    }');
    expect(conf).toContain('      try_files $uri $uri/ /main.html;');
  });

  test('gzip off, cache headers, extra response headers, content types, no access log, health path', () => {
    const { objects } = synth({
      files: Files.fromContent(HELLO),
      gzip: false,
      htmlCacheControl: 'no-store',
      assetCacheControl: '',
      responseHeaders: { 'Content-Security-Policy': "default-src 'self'", 'x-content-type-options': 'nosniff', 'X-Quote': 'say "hi"' },
      contentTypes: { md: 'text/plain', glb: 'model/gltf-binary' },
      accessLog: false,
      healthPath: '/-/ready',
    });
    const conf = nginxConf(objects);
    expect(conf).not.toContain('gzip on;');
    expect(conf).toContain('    default "";\n    ~^text/html "no-store";');
    expect(conf.match(/add_header (?!Cache-Control)\S+ .*;/g)).toEqual([
      'add_header Content-Security-Policy "default-src \'self\'" always;',
      'add_header x-content-type-options "nosniff" always;',
      'add_header X-Quote "say \\"hi\\"" always;',
    ]);
    const types = findObject(objects, 'ConfigMap', 'static-site-config').data['mime.types'];
    expect(types).toContain('  model/gltf-binary glb;');
    expect(types).toContain('  text/plain md txt;');
    expect(conf).toContain('  access_log off;');
    expect(conf).toContain('    location = /-/ready {');
    expect(findContainer(findObject(objects, 'Deployment', 'static-site'), 'nginx').readinessProbe.httpGet.path).toBe('/-/ready');
  });

  test('ingress with class, host, path and TLS secret', () => {
    const { site, objects } = synth({
      files: Files.fromContent(HELLO),
      ingress: { className: 'nginx', host: 'www.example.com', path: '/site', tlsSecret: secretRef('www-tls') },
    });
    const ing = findObject(objects, 'Ingress', 'static-site');
    expect(ing.spec).toEqual({
      ingressClassName: 'nginx',
      rules: [
        {
          host: 'www.example.com',
          http: { paths: [{ path: '/site', pathType: 'Prefix', backend: { service: { name: 'static-site', port: { number: 80 } } } }] },
        },
      ],
      tls: [{ hosts: ['www.example.com'], secretName: 'www-tls' }],
    });
    expect(site.ingress).toBeDefined();
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('ingress defaults: path "/", every host, the default class, no TLS', () => {
    const { objects } = synth({ files: Files.fromContent(HELLO), ingress: {} });
    expect(findObject(objects, 'Ingress', 'static-site').spec).toEqual({
      rules: [{ http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'static-site', port: { number: 80 } } } }] } }],
    });
  });

  test("networkPolicy: only the site port in, no egress; from named namespaces (the controller's added with an Ingress); false for none", () => {
    const closed = synth({ files: Files.fromContent(HELLO), networkPolicy: { allowFromNamespaces: ['web', 'shop'] } });
    expect(findObject(closed.objects, 'NetworkPolicy', 'static-site').spec.ingress[0].from).toEqual([
      { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['shop', 'web'] }] } },
    ]);
    expect(() => assertValid(closed.objects)).not.toThrow();
    const withIngress = synth({ files: Files.fromContent(HELLO), ingress: {}, networkPolicy: { allowFromNamespaces: ['web'] } });
    expect(findObject(withIngress.objects, 'NetworkPolicy', 'static-site').spec.ingress[0].from).toEqual([
      { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['ingress-nginx', 'web'] }] } },
    ]);
    const defaultWithIngress = synth({ files: Files.fromContent(HELLO), ingress: {} });
    expect(findObject(defaultWithIngress.objects, 'NetworkPolicy', 'static-site').spec.ingress[0].from).toEqual([
      { podSelector: {} },
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
    ]);
    const none = synth({ files: Files.fromContent(HELLO), networkPolicy: false });
    expect(findAll(none.objects, 'NetworkPolicy')).toEqual([]);
    expect(none.site.networkPolicy).toBeUndefined();
  });
});

describe('StaticSite validation', () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'static-site-empty-'));
  afterAll(() => fs.rmSync(empty, { recursive: true, force: true }));

  test('fails when the content is over the 1 MiB ConfigMap limit, saying how big and what to do', () => {
    expect(() => synth({ files: Files.fromContent({ 'index.html': 'x', 'video.mp4': Buffer.alloc(1200 * 1024, 1) }) })).toThrow(
      new RegExp(
        'files is 1\\.17 MiB \\(1228820 bytes\\), more than the 1\\.00 MiB \\(1048576 bytes\\) a ConfigMap can hold ' +
          '\\(largest files: video\\.mp4 1\\.17 MiB.*\\): serve large assets .* from object storage or a CDN',
      ),
    );
  });
  test('fails when the site is empty', () => {
    expect(() => synth({} as StaticSiteProps)).toThrow(/files is required: the site's files, such as Files.fromDirectory/);
    expect(() => synth({ files: Files.fromDirectory(empty) })).toThrow(new RegExp(`files directory "${empty}" \\(${empty}\\) has no files`));
    expect(() => synth({ files: Files.fromContent({}) })).toThrow(
      /files must hold at least one file \(the site serves indexDocument "index.html" for "\/"\), got none/,
    );
  });
  test('fails when files is not Files (a folder name, an object of contents)', () => {
    expect(() => synth({ files: 'site' as never })).toThrow(/files must be Files \(Files.fromDirectory\(dir\), .*got "site"/);
    expect(() => synth({ files: HELLO as never })).toThrow(/files must be Files .*got object/);
  });
  test('fails when the files directory is not a directory', () => {
    expect(() => synth({ files: Files.fromDirectory(path.join(FIXTURE, 'index.html')) })).toThrow(
      /files directory must be a directory, got the file ".*index\.html"/,
    );
    expect(() => synth({ files: Files.fromDirectory(path.join(empty, 'missing')) })).toThrow(/files directory ".*missing" does not exist/);
  });
  test('fails when a file name cannot become a ConfigMap key', () => {
    expect(() => synth({ files: Files.fromContent({ 'my page.html': 'x' }) })).toThrow(
      /files content path must be a relative path of letters, digits, '-', '_' and '.' segments .*got "my page.html"/,
    );
    expect(() => synth({ files: Files.fromContent({ 'img/café.png': Buffer.from([1]) }) })).toThrow(
      /files content path must be a relative path .*got "img\/café.png"/,
    );
    expect(() => synth({ files: Files.fromContent({ '../etc/passwd': 'x' }) })).toThrow(/files content path must be a relative path .*no "\.\."/);
    expect(() => synth({ files: Files.fromContent({ 'a//b': 'x' }) })).toThrow(/must be a relative path/);
    expect(() => synth({ files: Files.fromContent({ 'css/': 'x' }) })).toThrow(/must be a relative path/);
  });
  test('fails when a path is too long for a key', () => {
    expect(() => synth({ files: Files.fromContent({ [`${'d'.repeat(200)}/${'f'.repeat(60)}.html`]: 'x' }) })).toThrow(
      /is too long for a ConfigMap key \(267 characters/,
    );
  });
  test('fails when a path is given twice', () => {
    expect(() => synth({ files: Files.of(Files.fromDirectory(FIXTURE), Files.fromContent({ 'index.html': 'again' })) })).toThrow(
      /files path "index.html" is given twice: by files source \[0\] directory ".*" and by files source \[1\] content/,
    );
    expect(() => synth({ files: Files.fromContent({ '/a.html': '1', 'a.html': '2' }) })).toThrow(
      /files path "a.html" is given twice: by files content and by files content/,
    );
  });
  test('fails when a content value is neither a string nor a Buffer', () => {
    expect(() => synth({ files: Files.fromContent({ 'a.html': 42 as unknown as string }) })).toThrow(
      /files content "a.html" must be a string or a Buffer, got number/,
    );
  });
  test('fails when the image has no tag or uses latest', () => {
    expect(() => synth({ files: Files.fromContent(HELLO), image: 'nginx' })).toThrow(/image must be pinned with a tag or a digest, got "nginx"/);
    expect(() => synth({ files: Files.fromContent(HELLO), image: 'nginxinc/nginx-unprivileged:latest' })).toThrow(
      /image must not use the floating "latest" tag/,
    );
  });
  test('fails when the port is out of range or privileged', () => {
    expect(() => synth({ files: Files.fromContent(HELLO), port: 70000 })).toThrow(
      /port must be an integer 1024-65535 \(the container runs as non-root without NET_BIND_SERVICE\), got 70000/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), port: 80 })).toThrow(/port must be an integer 1024-65535.*got 80/);
    expect(() => synth({ files: Files.fromContent(HELLO), servicePort: 0 })).toThrow(/servicePort must be an integer port 1-65535, got 0/);
  });
  test('fails when replicas is not a whole number 0-1000', () => {
    expect(() => synth({ files: Files.fromContent(HELLO), replicas: -1 })).toThrow(/replicas must be an integer 0-1000, got -1/);
    expect(() => synth({ files: Files.fromContent(HELLO), replicas: 1001 })).toThrow(/replicas must be an integer 0-1000, got 1001/);
    expect(() => synth({ files: Files.fromContent(HELLO), replicas: 1.5 })).toThrow(/replicas must be an integer 0-1000, got 1.5/);
  });
  test('fails when name is not a DNS label', () => {
    expect(() => synth({ files: Files.fromContent(HELLO), name: 'My_Site' })).toThrow(/name must be a DNS-1123 label.*got "My_Site"/);
  });
  test('fails when indexDocument is not a file name', () => {
    expect(() => synth({ files: Files.fromContent(HELLO), indexDocument: 'docs/index.html' })).toThrow(
      /indexDocument must be a valid ConfigMap key .*got "docs\/index.html"/,
    );
  });
  test('fails when notFoundDocument is not in the content', () => {
    expect(() => synth({ files: Files.fromContent(HELLO), notFoundDocument: '404.html' })).toThrow(
      /notFoundDocument must be a path in the files, got "404.html" \(files has "index.html"\)/,
    );
  });
  test('fails when the site has no index document (it would answer "/" with 403), with or without spaFallback', () => {
    expect(() => synth({ files: Files.fromContent({ 'app.html': 'x' }) })).toThrow(
      /indexDocument "index.html" must be a file at the top of the files \(it is served for "\/"\), got files "app.html"/,
    );
    expect(() => synth({ files: Files.fromContent({ 'app.html': 'x' }), spaFallback: true })).toThrow(
      /indexDocument "index.html" must be a file at the top of the files/,
    );
    expect(() => synth({ files: Files.fromContent({ 'docs/index.html': 'x' }) })).toThrow(
      /indexDocument "index.html" must be a file at the top of the files/,
    );
    expect(() => synth({ files: Files.fromContent({ 'app.html': 'x' }), indexDocument: 'app.html' })).not.toThrow();
  });
  test('fails when healthPath is malformed or hides content', () => {
    expect(() => synth({ files: Files.fromContent(HELLO), healthPath: 'healthz' })).toThrow(
      /healthPath must be an absolute URL path like "\/" or "\/healthz".*got "healthz"/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), healthPath: '/' })).toThrow(
      /healthPath must name a location below "\/" without a trailing "\/", such as "\/healthz", got "\/"/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), healthPath: '/a b' })).toThrow(/healthPath must be an absolute URL path/);
    expect(() => synth({ files: Files.fromContent({ ...HELLO, 'status/ok.json': '{}' }), healthPath: '/status' })).toThrow(
      /healthPath "\/status" would hide the files path "status"/,
    );
  });
  test('fails when a header or cache value could break the config', () => {
    expect(() => synth({ files: Files.fromContent(HELLO), responseHeaders: { 'Bad Header': 'x' } })).toThrow(
      /responseHeaders name must be an HTTP header name \(token characters\), got "Bad Header"/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), responseHeaders: { 'X-A': 'a\nb' } })).toThrow(
      /responseHeaders "X-A" must be a header value without control characters or '\$', got "a\\nb"/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), responseHeaders: { 'X-A': '$host' } })).toThrow(
      /responseHeaders "X-A" must be a header value without control characters or '\$'/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), responseHeaders: { 'cache-control': 'no-store' } })).toThrow(
      /responseHeaders must not set Cache-Control.*use htmlCacheControl and assetCacheControl/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), htmlCacheControl: 'no-cache\r\nX: y' })).toThrow(
      /htmlCacheControl must be a header value without control characters/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), assetCacheControl: 'max-age=$x' })).toThrow(/assetCacheControl must be a header value/);
  });
  test('fails when a content type entry is malformed', () => {
    expect(() => synth({ files: Files.fromContent(HELLO), contentTypes: { '.md': 'text/markdown' } })).toThrow(
      /contentTypes extension must be lowercase letters and digits without the dot, got ".md"/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), contentTypes: { md: 'markdown' } })).toThrow(
      /contentTypes "md" must be a lowercase media type like "text\/html", got "markdown"/,
    );
  });
  test('fails when ingress settings are malformed', () => {
    expect(() => synth({ files: Files.fromContent(HELLO), ingress: { host: 'Bad_Host' } })).toThrow(
      /ingress.host must be a host name such as "www.example.com" or "\*.example.com", got "Bad_Host"/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), ingress: { path: 'site' } })).toThrow(
      /ingress.path must be an absolute URL path like "\/" or "\/healthz".*got "site"/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), ingress: { tlsSecret: secretRef('www-tls') } })).toThrow(
      /ingress.tlsSecret needs ingress.host \(the certificate's host\)/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), ingress: { className: 'Nginx!' } })).toThrow(
      /ingress.className must be a DNS-1123 subdomain/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), ingress: { tlsSecret: secretRef('TLS') } })).toThrow(
      /ingress.tlsSecret name must be a DNS-1123 subdomain/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), ingress: { host: '*.example.com' } })).not.toThrow();
  });
  test('fails when networkPolicy namespaces are empty or malformed', () => {
    expect(() => synth({ files: Files.fromContent(HELLO), networkPolicy: { allowFromNamespaces: [] } })).toThrow(
      /networkPolicy.allowFromNamespaces must list at least one namespace \(omit it for the workload's own namespace\), got \[\]/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), networkPolicy: { allowFromNamespaces: ['Kube System'] } })).toThrow(
      /networkPolicy.allowFromNamespaces\[0\] must be a DNS-1123 label/,
    );
  });
});

describe('StaticSiteChart (the seed)', () => {
  const app = Testing.app();
  const chart = new StaticSiteChart(app, 'static-site');
  const objects = synthObjects(chart);

  test('snapshot', () => {
    expect(objects).toMatchSnapshot();
  });

  test('the Hello page in namespace "testing" behind a Service, valid', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual([
      'ConfigMap/testing/nginx-config',
      'ConfigMap/testing/nginx-content',
      'Deployment/testing/nginx',
      'NetworkPolicy/testing/nginx',
      'PodDisruptionBudget/testing/nginx',
      'Service/testing/nginx',
    ]);
    expect(findAll(objects, 'Namespace')).toEqual([]);
    expect(findObject(objects, 'ConfigMap', 'nginx-content').data).toEqual({ 'index.html': HELLO_PAGE });
    expect(HELLO_PAGE).toContain('<h1>Hello from the Cloud</h1>');
    expect(HELLO_PAGE).toContain('new URLSearchParams(location.search).get("name")');
    expect(findObject(objects, 'Service', 'nginx').spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080 }]);
    expect(chart.site.replicas).toBe(2);
    expect(() => assertValid(objects)).not.toThrow();
  });

  test('props: namespace, name, replicas', () => {
    const c = new StaticSiteChart(Testing.app(), 'x', { namespace: 'web', name: 'hello', replicas: 3 });
    const o = synthObjects(c);
    expect(findObject(o, 'Deployment', 'hello').metadata.namespace).toBe('web');
    expect(findObject(o, 'Deployment', 'hello').spec.replicas).toBe(3);
  });
});

describe('StaticSite bad input', () => {
  test('fails when a prop is misspelled or from the old API (it would be silently ignored)', () => {
    expect(() => synth({ files: Files.fromContent(HELLO), replica: 3 } as never)).toThrow(
      /StaticSite props has no option "replica" \(did you mean "replicas"\?\): the options are name, files/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), ingress: { hostname: 'a.example.com' } } as never)).toThrow(
      /ingress has no option "hostname" \(did you mean "host"\?\)/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), networkPolicy: { allowFromNamespace: ['a'] } } as never)).toThrow(
      /networkPolicy has no option "allowFromNamespace" \(did you mean "allowFromNamespaces"\?\)/,
    );
  });
  test('fails when a file of the files directory cannot be read: the error names files, not a raw ENOENT', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'static-site-broken-'));
    try {
      fs.writeFileSync(path.join(dir, 'index.html'), '<h1>hi</h1>');
      fs.symlinkSync(path.join(dir, 'missing.css'), path.join(dir, 'site.css'));
      expect(() => synth({ files: Files.fromDirectory(dir) })).toThrow(/files directory entry ".*site.css" does not exist/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test('fails when an enum-like or boolean prop has the wrong case or type', () => {
    expect(() => synth({ files: Files.fromContent(HELLO), serviceType: 'nodeport' as kplus.ServiceType })).toThrow(
      /serviceType must be one of .*got "nodeport" \(did you mean "NodePort"\?\)/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), spaFallback: 'false' as unknown as boolean })).toThrow(
      /spaFallback must be true or false, got "false"/,
    );
  });
  test('fails when a map prop is a list, an annotation is not a string, or a PodDisruptionBudget protects nothing', () => {
    expect(() => synth({ files: Files.fromContent(HELLO), responseHeaders: ['X-A'] as never })).toThrow(
      /responseHeaders must be an object of name to value, got \["X-A"\]/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), ingress: { annotations: { 'a.io/b': 5 as never } } })).toThrow(
      /ingress.annotations "a.io\/b" must be a string, got 5/,
    );
    expect(() => synth({ files: Files.fromContent(HELLO), replicas: 2, podDisruptionBudget: { maxUnavailable: 2 } })).toThrow(
      /podDisruptionBudget.maxUnavailable must be below replicas \(2\) to keep a pod through a drain, got 2/,
    );
  });
  test('fails when nginx asks for more than its limits', () => {
    expect(() =>
      synth({ files: Files.fromContent(HELLO), resources: { cpu: { request: kplus.Cpu.millis(600), limit: kplus.Cpu.millis(500) } } }),
    ).toThrow(/resources.cpu.request must not exceed resources.cpu.limit, got request 600m and limit 500m/);
  });
});
