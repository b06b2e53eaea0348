import * as kplus from 'cdk8s-plus-28';
import { StaticSite, StaticSiteProps } from '../lib/static-site';
import { K8sObject, assertValid } from '../lib/testing';
import { Files } from '../lib/workload';
import { findAll, findContainer, findObject, synthObjects, testChart } from './support/synth';
import { secretRef } from './support/refs';

const HELLO = { 'index.html': '<h1>hello</h1>\n' };

/** Synthesizes a site made from `props`, after `then` ran on it. */
function build(props: Omit<StaticSiteProps, 'files'> & { files?: Files }, then: (site: StaticSite) => void = () => {}): K8sObject[] {
  const chart = testChart('web');
  const site = new StaticSite(chart, 'Site', { files: Files.fromContent(HELLO), ...props });
  then(site);
  return synthObjects(chart);
}

/** The error `fn` throws (fails the test when it throws none). */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error, got none');
}

describe('StaticSite.addFiles is the files prop after construction', () => {
  const more = { 'css/site.css': 'body { margin: 0 }\n', 'img/dot.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff]) };

  test('the same YAML as giving every file in the prop: ConfigMap data, volume items, checksum annotation', () => {
    const viaProp = build({ files: Files.of(Files.fromContent(HELLO), Files.fromContent(more)) });
    const viaVerb = build({}, (site) => site.addFiles(Files.fromContent(more)));
    expect(viaVerb).toEqual(viaProp);
    const items = findObject(viaVerb, 'Deployment', 'static-site').spec.template.spec.volumes.find((v: any) => v.name === 'content').configMap.items;
    expect(items).toEqual([
      { key: 'css__site.css', path: 'css/site.css' },
      { key: 'img__dot.png', path: 'img/dot.png' },
      { key: 'index.html', path: 'index.html' },
    ]);
    expect(findObject(viaVerb, 'ConfigMap', 'static-site-content').binaryData).toEqual({ 'img__dot.png': more['img/dot.png'].toString('base64') });
    assertValid(viaVerb);
  });

  test("late files change the pods' checksum annotation, so the Deployment rolls", () => {
    const before = findObject(build({}), 'Deployment', 'static-site').spec.template.metadata.annotations['checksum/content'];
    const after = findObject(
      build({}, (s) => s.addFiles(Files.fromContent(more))),
      'Deployment',
      'static-site',
    ).spec.template.metadata.annotations;
    expect(after['checksum/content']).toMatch(/^[0-9a-f]{64}$/);
    expect(after['checksum/content']).not.toBe(before);
  });

  test('the files field lists the late files with their Content-Type', () => {
    const chart = testChart('web');
    const site = new StaticSite(chart, 'Site', { files: Files.fromContent(HELLO) });
    site.addFiles(Files.fromContent(more));
    expect(site.files.map((f) => [f.path, f.contentType])).toEqual([
      ['css/site.css', 'text/css'],
      ['img/dot.png', 'image/png'],
      ['index.html', 'text/html'],
    ]);
  });

  const bad: Array<[string, Record<string, string | Buffer>, RegExp]> = [
    ['a secret-looking file', { '.env': 'TOKEN=1' }, /files entry "\.env" \(from files content\) looks like a secret/],
    [
      'text that is not UTF-8',
      { 'css/a.css': Buffer.from([0x70, 0xe9]) },
      /files entry "css\/a\.css" \(from files content\) is text\/css but not valid UTF-8/,
    ],
    ['a path given twice', { '/a.html': '1', 'a.html': '2' }, /files path "a\.html" is given twice: by files content and by files content/],
    ['a file at the health path', { 'healthz/x.txt': 'x' }, /healthPath "\/healthz" would hide the files path "healthz"/],
    ['a path that cannot be a key', { 'my page.html': 'x' }, /files content path must be a relative path/],
    ['more than a ConfigMap holds', { 'video.mp4': Buffer.alloc(1200 * 1024, 1) }, /files is 1\.17 MiB .* a ConfigMap can hold/],
  ];
  test.each(bad)("fails with the prop's message for %s", (_what, files, message) => {
    const viaProp = errorOf(() => build({ files: Files.fromContent({ ...HELLO, ...files }) }));
    const viaVerb = errorOf(() => build({}, (site) => site.addFiles(Files.fromContent(files))));
    expect(viaVerb).toBe(viaProp);
    expect(viaVerb).toMatch(message);
  });

  test("fails with the prop's message for something that is not Files", () => {
    const viaProp = errorOf(() => build({ files: 'site' as never }));
    const viaVerb = errorOf(() => build({}, (site) => site.addFiles('site' as never)));
    expect(viaVerb).toBe(viaProp);
    expect(viaVerb).toMatch(/files must be Files \(Files\.fromDirectory\(dir\), .*got "site"/);
  });

  test('a late file colliding with an existing key gives both the same keys as the prop would', () => {
    const viaProp = build({ files: Files.fromContent({ ...HELLO, 'a__b.txt': 'top', 'a/b.txt': 'nested' }) });
    const viaVerb = build({ files: Files.fromContent({ ...HELLO, 'a__b.txt': 'top' }) }, (site) =>
      site.addFiles(Files.fromContent({ 'a/b.txt': 'nested' })),
    );
    expect(viaVerb).toEqual(viaProp);
    expect(Object.keys(findObject(viaVerb, 'ConfigMap', 'static-site-content').data).filter((k) => k.startsWith('a__b.txt.'))).toHaveLength(2);
  });

  test('fails with immutableContent, naming the hashed ConfigMap and what to do', () => {
    expect(() => build({ immutableContent: true }, (site) => site.addFiles(Files.fromContent(more)))).toThrow(
      new RegExp(
        'files cannot be added with addFiles to "static-site" with immutableContent: true: the content ConfigMap\'s name ' +
          '"static-site-content-[0-9a-f]{10}" is a hash of the files given at construction; give every file in the files prop',
      ),
    );
  });
});

describe('StaticSite.addResponseHeader is a responseHeaders entry after construction', () => {
  test('the same YAML as the prop; a name given again in another case replaces the earlier value', () => {
    const viaProp = build({ responseHeaders: { 'Content-Security-Policy': "default-src 'self'", 'x-content-type-options': 'nosniff' } });
    const viaVerb = build({}, (site) => {
      site.addResponseHeader('Content-Security-Policy', "default-src 'self'");
      site.addResponseHeader('x-content-type-options', 'nosniff');
    });
    expect(viaVerb).toEqual(viaProp);
    const conf = findObject(viaVerb, 'ConfigMap', 'static-site-config').data['nginx.conf'];
    expect(conf).toContain('add_header Content-Security-Policy "default-src \'self\'" always;');
    expect(conf).not.toContain('X-Content-Type-Options');
  });

  test('a late header changes the nginx-config checksum, so the Deployment rolls', () => {
    const annotations = (o: K8sObject[]) => findObject(o, 'Deployment', 'static-site').spec.template.metadata.annotations;
    const before = annotations(build({}));
    const after = annotations(build({}, (site) => site.addResponseHeader('X-Frame-Options', 'DENY')));
    expect(after['checksum/nginx-config']).not.toBe(before['checksum/nginx-config']);
    expect(after['checksum/content']).toBe(before['checksum/content']);
  });

  const bad: Array<[string, string, string, RegExp]> = [
    ['a name that is not a token', 'Bad Header', 'x', /responseHeaders name must be an HTTP header name \(token characters\), got "Bad Header"/],
    ['a value with a newline', 'X-A', 'a\nb', /responseHeaders "X-A" must be a header value without control characters or '\$'/],
    ['a value with "$"', 'X-A', '$host', /responseHeaders "X-A" must be a header value without control characters or '\$'/],
    ['Cache-Control', 'cache-control', 'no-store', /responseHeaders must not set Cache-Control.*use htmlCacheControl and assetCacheControl/],
    ['an empty value', 'X-A', ' ', /responseHeaders "X-A" must not be empty/],
  ];
  test.each(bad)("fails with the prop's message for %s", (_what, name, value, message) => {
    const viaProp = errorOf(() => build({ responseHeaders: { [name]: value } }));
    const viaVerb = errorOf(() => build({}, (site) => site.addResponseHeader(name, value)));
    expect(viaVerb).toBe(viaProp);
    expect(viaVerb).toMatch(message);
  });
});

describe('StaticSite exposure verbs are the networkPolicy and ingress props after construction', () => {
  const peer = { ipBlock: { cidr: '10.0.0.0/8' } };

  test('allowFrom: the same YAML as networkPolicy.allowFrom, and the same error', () => {
    expect(build({}, (site) => site.allowFrom(peer))).toEqual(build({ networkPolicy: { allowFrom: [peer] } }));
    const viaProp = errorOf(() => build({ networkPolicy: { allowFrom: [{ ipBlock: { cidr: 'ten' } }] } }));
    const viaVerb = errorOf(() => build({}, (site) => site.allowFrom({ ipBlock: { cidr: 'ten' } })));
    expect(viaVerb).toBe(viaProp);
    expect(viaVerb).toMatch(/networkPolicy\.allowFrom\[0\]/);
  });

  test('allowFromNamespaces: the same YAML as networkPolicy.allowFromNamespaces, and the same error', () => {
    expect(build({}, (site) => site.allowFromNamespaces('shop', 'web'))).toEqual(build({ networkPolicy: { allowFromNamespaces: ['shop', 'web'] } }));
    const viaProp = errorOf(() => build({ networkPolicy: { allowFromNamespaces: ['Kube System'] } }));
    const viaVerb = errorOf(() => build({}, (site) => site.allowFromNamespaces('Kube System')));
    expect(viaVerb).toBe(viaProp);
    expect(viaVerb).toMatch(/networkPolicy\.allowFromNamespaces\[0\] must be a DNS-1123 label/);
  });

  test('exposeViaIngress: the same YAML as ingress (the controller namespace let in), the same error, and one Ingress per site', () => {
    const options = { host: 'www.example.com', className: 'nginx', tlsSecret: secretRef('www-tls') };
    // the same objects; the Ingress made late is written after the others
    const byName = (o: K8sObject[]) => [...o].sort((x, y) => `${x.kind}/${x.metadata.name}`.localeCompare(`${y.kind}/${y.metadata.name}`));
    const viaVerb = build({}, (site) => site.exposeViaIngress(options));
    expect(byName(viaVerb)).toEqual(byName(build({ ingress: options })));
    expect(findAll(viaVerb, 'Ingress')).toHaveLength(1);
    const viaProp = errorOf(() => build({ ingress: { host: 'Bad_Host' } }));
    expect(errorOf(() => build({}, (site) => site.exposeViaIngress({ host: 'Bad_Host' })))).toBe(viaProp);
    expect(() => build({ ingress: { host: 'a.example.com' } }, (site) => site.exposeViaIngress({ host: 'b.example.com' }))).toThrow(
      /ingress is already set \(host "a\.example\.com"\): one Ingress per workload/,
    );
  });

  test("the site's ingress field is the Ingress made by exposeViaIngress", () => {
    const chart = testChart('web');
    const site = new StaticSite(chart, 'Site', { files: Files.fromContent(HELLO) });
    expect(site.ingress).toBeUndefined();
    const ingress = site.exposeViaIngress({ host: 'www.example.com' });
    expect(site.ingress).toBe(ingress);
  });
});

describe('StaticSite props: replicas, resources, securityContext, notFoundDocument', () => {
  test('fails when notFoundDocument is not a path', () => {
    expect(() => build({ notFoundDocument: 404 as never })).toThrow(/notFoundDocument must be a path in the files such as "404.html", got 404/);
    expect(() => build({ notFoundDocument: '/' })).toThrow(/notFoundDocument must be a path in the files such as "404.html", got "\/"/);
  });

  test('replicas 0 is a Deployment scaled down: no PodDisruptionBudget, no spread', () => {
    const objects = build({ replicas: 0 });
    const dep = findObject(objects, 'Deployment', 'static-site');
    expect(dep.spec.replicas).toBe(0);
    expect(dep.spec.template.spec.affinity).toBeUndefined();
    expect(findAll(objects, 'PodDisruptionBudget')).toEqual([]);
  });

  test('resources are merged leaf by leaf: a CPU limit alone keeps the CPU request, memory and ephemeral storage', () => {
    const c = findContainer(findObject(build({ resources: { cpu: { limit: kplus.Cpu.millis(1000) } } }), 'Deployment', 'static-site'), 'nginx');
    expect(c.resources).toEqual({
      requests: { 'cpu': '50m', 'memory': '64Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '1000m', 'memory': '128Mi', 'ephemeral-storage': '0.25Gi' },
    });
  });

  test('fails when the merged CPU request is above the given limit, naming both', () => {
    expect(() => build({ resources: { cpu: { limit: kplus.Cpu.millis(20) } } })).toThrow(
      /resources\.cpu\.request must not exceed resources\.cpu\.limit, got request 50m and limit 20m \(after merging the given resources/,
    );
  });

  test('securityContext: user sets the group and fsGroup too; each can be set', () => {
    const spec = (o: K8sObject[]) => findObject(o, 'Deployment', 'static-site').spec.template.spec;
    const one = spec(build({ securityContext: { user: 20000 } }));
    expect(one.securityContext).toMatchObject({ runAsUser: 20000, runAsGroup: 20000, fsGroup: 20000 });
    expect(one.containers[0].securityContext).toMatchObject({ runAsUser: 20000, runAsGroup: 20000 });
    const all = spec(build({ securityContext: { user: 20000, group: 20001, fsGroup: 20002 } }));
    expect(all.securityContext).toMatchObject({ runAsUser: 20000, runAsGroup: 20001, fsGroup: 20002 });
  });

  test('fails when securityContext has root or an unknown key', () => {
    expect(() => build({ securityContext: { user: 0 } })).toThrow(/securityContext\.user must be an integer 1-2147483647, got 0/);
    expect(() => build({ securityContext: { runAsUser: 5 } as never })).toThrow(
      /securityContext\.runAsUser is not a setting here: use user, group or fsGroup/,
    );
  });
});
