/**
 * Every `@default` of StaticSiteProps, asserted on a synth with that prop
 * unset (test/defaults.test.ts requires an entry per `@default` tag).
 */
import { StaticSite } from '../../lib/static-site';
import { K8sObject } from '../../lib/testing';
import { Files } from '../../lib/workload';
import { findAll, findContainer, findObject, synthObjects, testChart } from '../support/synth';

/** A site with only `files` given (and `extra`), synthesized. */
function site(extra: Partial<{ files: Files }> = {}): K8sObject[] {
  const chart = testChart('web');
  new StaticSite(chart, 'Site', { files: Files.fromContent({ 'index.html': '<h1>hi</h1>', 'notes.md': '# n', 'data.xyz': 'x' }), ...extra });
  return synthObjects(chart);
}
const deployment = (o: K8sObject[]) => findObject(o, 'Deployment', 'static-site');
const nginx = (o: K8sObject[]) => findContainer(deployment(o), 'nginx');
const conf = (o: K8sObject[]): string => findObject(o, 'ConfigMap', 'static-site-config').data['nginx.conf'];
const mimeTypes = (o: K8sObject[]): string => findObject(o, 'ConfigMap', 'static-site-config').data['mime.types'];

export const DEFAULTS: Record<string, () => void> = {
  'StaticSiteProps.name': () => {
    expect(findAll(site(), 'Deployment').map((d) => d.metadata.name)).toEqual(['static-site']);
  },
  'StaticSiteProps.image': () => {
    expect(nginx(site()).image).toBe('nginxinc/nginx-unprivileged:1.28.0-alpine');
  },
  'StaticSiteProps.port': () => {
    const o = site();
    expect(nginx(o).ports).toEqual([{ name: 'http', containerPort: 8080 }]);
    expect(conf(o)).toMatch(/^ {4}listen 8080;$/m);
  },
  'StaticSiteProps.indexDocument': () => {
    expect(conf(site())).toContain('    index index.html;');
  },
  'StaticSiteProps.notFoundDocument': () => {
    expect(conf(site())).not.toContain('error_page');
  },
  'StaticSiteProps.spaFallback': () => {
    expect(conf(site())).toContain('try_files $uri $uri/ =404;');
  },
  'StaticSiteProps.gzip': () => {
    expect(conf(site())).toContain('  gzip on;');
  },
  'StaticSiteProps.htmlCacheControl': () => {
    expect(conf(site())).toContain('    ~^text/html "no-cache";');
  },
  'StaticSiteProps.assetCacheControl': () => {
    expect(conf(site())).toContain('    default "public, max-age=3600";');
  },
  'StaticSiteProps.responseHeaders': () => {
    expect(conf(site()).match(/add_header (?!Cache-Control)\S+ .*;/g)).toEqual(['add_header X-Content-Type-Options "nosniff" always;']);
  },
  'StaticSiteProps.contentTypes': () => {
    const types = mimeTypes(site());
    const lines = [
      'text/html htm html;',
      'text/css css;',
      'application/json json map;',
      'image/png png;',
      'font/woff2 woff2;',
      'application/wasm wasm;',
    ];
    for (const line of lines) {
      expect(types).toContain(`  ${line}`);
    }
    expect(conf(site())).toContain('  default_type application/octet-stream;');
  },
  'StaticSiteProps.accessLog': () => {
    expect(conf(site())).toContain('  access_log /dev/stdout combined;');
  },
  'StaticSiteProps.healthPath': () => {
    const o = site();
    expect(nginx(o).readinessProbe.httpGet.path).toBe('/healthz');
    expect(conf(o)).toContain('    location = /healthz {');
  },
  'StaticSiteProps.emptyDirSizeLimit': () => {
    const volumes = deployment(site()).spec.template.spec.volumes;
    const emptyDirs = volumes.filter((v: any) => v.emptyDir).map((v: any) => [v.name, v.emptyDir.sizeLimit]);
    expect(emptyDirs).toEqual([
      ['tmp', '16Mi'],
      ['nginx-cache', '16Mi'],
    ]);
  },
  'StaticSiteProps.replicas': () => {
    const o = site();
    expect(deployment(o).spec.replicas).toBe(2);
    expect(
      deployment(o).spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey,
    ).toBe('kubernetes.io/hostname');
    expect(findObject(o, 'PodDisruptionBudget', 'static-site').spec.maxUnavailable).toBe(1);
  },
  'StaticSiteProps.resources': () => {
    expect(nginx(site()).resources).toEqual({
      requests: { 'cpu': '50m', 'memory': '64Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '500m', 'memory': '128Mi', 'ephemeral-storage': '0.25Gi' },
    });
  },
  'StaticSiteProps.securityContext': () => {
    const o = site();
    expect(deployment(o).spec.template.spec.securityContext).toMatchObject({ runAsUser: 10101, runAsGroup: 10101, fsGroup: 10101 });
    expect(nginx(o).securityContext).toMatchObject({ runAsUser: 10101, runAsGroup: 10101 });
  },
  'StaticSiteProps.immutableContent': () => {
    const cm = findObject(site(), 'ConfigMap', 'static-site-content');
    expect(cm.immutable).toBe(false);
    expect(deployment(site()).spec.template.metadata.annotations['checksum/content']).toMatch(/^[0-9a-f]{64}$/);
  },
  'StaticSiteProps.allowSecretFiles': () => {
    expect(() => site({ files: Files.fromContent({ 'index.html': 'x', '.env': 'A=1' }) })).toThrow(/files entry "\.env" .* looks like a secret/);
  },
};
