/**
 * The public API as an artifact: the API reports (api/*.api.md) and the
 * generated reference (docs/api/) match what lib/ exports today, the app uses
 * the constructs only through the public entry, and the schema the testing
 * entry ships is the official one less its descriptions.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkApi, ENTRIES, REFERENCE_DIR, referencePages, REPORT_DIR } from '../scripts/api';
import { compactSchemaText, COMPACT_SCHEMA, OFFICIAL_SCHEMA } from '../scripts/compact-schema';
import { validateObjects } from '../lib/testing';
import { stripDescriptions } from '../lib/testing/schema';

const ROOT = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

describe('the public API', () => {
  test('api/*.api.md and docs/api/ are fresh (else: npm run api, and review the diff)', () => {
    expect(checkApi()).toEqual([]);
  }, 240_000);

  test('one report per package entry, and each entry is in package.json "exports"', () => {
    for (const e of ENTRIES) {
      expect(fs.existsSync(path.join(REPORT_DIR, e.report))).toBe(true);
      const exported = pkg.exports[e.exportPath];
      expect(exported.types).toBe(`./build/${path.relative('lib', e.source).replace(/\.ts$/, '.d.ts')}`);
      expect(exported.default).toBe(`./build/${path.relative('lib', e.source).replace(/\.ts$/, '.js')}`);
    }
  });

  test('the reference has one page per construct and per group of building blocks, each linked from its index (README.md)', () => {
    const pages = referencePages();
    const file = (title: string) => `${title.replace(/ /g, '-')}.md`;
    expect(fs.readdirSync(REFERENCE_DIR).sort()).toEqual(['README.md', 'testing.md', ...pages.map((p) => file(p.title))].sort());
    const index = fs.readFileSync(path.join(REFERENCE_DIR, 'README.md'), 'utf8');
    for (const p of [...pages.map((p) => file(p.title)), 'testing.md']) expect(index).toContain(`](${p})`);
    // each pattern's classes are on the pattern's own page
    const constructs: Array<[string, string]> = [
      ['StaticSite', 'StaticSite'],
      ['ImmutableConfigInit', 'ImmutableConfigInit'],
      ['ImmutableConfigMap', 'ImmutableConfigInit'],
      ['SidecarDeployment', 'Sidecars'],
      ['SidecarBarePod', 'Sidecars'],
      ['Sidecars', 'Sidecars'],
      ['ScriptService', 'Scripts'],
      ['ScriptJob', 'Scripts'],
      ['ScriptCronJob', 'Scripts'],
      ['ScriptBundle', 'Scripts'],
      ['KvProxy', 'KvProxy'],
      ['WorkloadPolicy', 'WorkloadPolicy'],
    ];
    const pageOf = (name: string) =>
      fs
        .readdirSync(REFERENCE_DIR)
        .filter((f) => new RegExp(`^## Classes\\n[\\s\\S]*^### ${name}$`, 'm').test(fs.readFileSync(path.join(REFERENCE_DIR, f), 'utf8')));
    expect(constructs.map(([c]) => [c, pageOf(c)])).toEqual(constructs.map(([c, page]) => [c, [`${page}.md`]]));
  });

  test('the report lists the five constructs as classes', () => {
    const report = fs.readFileSync(path.join(REPORT_DIR, 'cdk8s-patterns.api.md'), 'utf8');
    const constructs = ['StaticSite', 'ImmutableConfigInit', 'ImmutableConfigMap', 'SidecarDeployment', 'SidecarBarePod', 'Sidecars'];
    for (const c of [...constructs, 'ScriptBundle', 'ScriptService', 'ScriptJob', 'ScriptCronJob', 'KvProxy', 'WorkloadPolicy']) {
      expect(report).toMatch(new RegExp(`^export class ${c} extends Construct \\{`, 'm'));
    }
  });

  test('main.ts, charts/ and config/ import lib/ only through the public entry', () => {
    const files = [
      'main.ts',
      ...['charts', 'config'].flatMap((d) =>
        fs
          .readdirSync(path.join(ROOT, d))
          .filter((f) => f.endsWith('.ts'))
          .map((f) => `${d}/${f}`),
      ),
    ];
    const deep = files.flatMap((f) =>
      [...fs.readFileSync(path.join(ROOT, f), 'utf8').matchAll(/from '((?:\.\.?\/)+lib\/[^']+)'/g)].map((m) => `${f}: ${m[1]}`),
    );
    expect(deep).toEqual([]);
  });
});

describe('the package manifest', () => {
  const caret = /^\^(\d+)\.(\d+)\.(\d+)$/;
  const exact = /^(\d+)\.(\d+)\.(\d+)$/;

  test('cdk8s, cdk8s-plus-28 and constructs are caret-range peers, pinned in devDependencies within those ranges', () => {
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(['cdk8s', 'cdk8s-plus-28', 'constructs']);
    for (const [name, range] of Object.entries<string>(pkg.peerDependencies)) {
      expect(pkg.dependencies?.[name]).toBeUndefined();
      const r = caret.exec(range);
      const v = exact.exec(pkg.devDependencies[name]);
      expect({ name, range: r !== null, pinned: v !== null }).toEqual({ name, range: true, pinned: true });
      const [rMaj, rMin, rPat] = r!.slice(1).map(Number) as [number, number, number];
      const [vMaj, vMin, vPat] = v!.slice(1).map(Number) as [number, number, number];
      expect(vMaj).toBe(rMaj);
      expect(vMin * 1e6 + vPat).toBeGreaterThanOrEqual(rMin * 1e6 + rPat);
    }
  });

  test('has a semver version with a CHANGELOG entry, bins for cdk8s-patterns and kvctl and a files list', () => {
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
    expect(fs.readFileSync(path.join(ROOT, 'CHANGELOG.md'), 'utf8')).toContain(`## [${pkg.version}]`);
    expect(pkg.bin).toEqual({ 'cdk8s-patterns': 'bin/cdk8s-patterns.js', 'kvctl': 'bin/kvctl.js' });
    for (const bin of Object.values<string>(pkg.bin)) expect(fs.readFileSync(path.join(ROOT, bin), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    expect(pkg.main).toBe(pkg.exports['.'].default.slice(2));
    expect(pkg.types).toBe(pkg.exports['.'].types.slice(2));
    expect(pkg.scripts.prepack).toBe(pkg.scripts.build);
    expect(pkg.private).toBeUndefined();
  });

  test('package-lock.json records the same dependencies, peers and bin (npm ci refuses a lock out of sync)', () => {
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')).packages[''];
    expect({
      dependencies: lock.dependencies,
      devDependencies: lock.devDependencies,
      peerDependencies: lock.peerDependencies,
      bin: lock.bin,
    }).toEqual({ dependencies: pkg.dependencies, devDependencies: pkg.devDependencies, peerDependencies: pkg.peerDependencies, bin: pkg.bin });
  });

  test('every runtime dependency is imported by lib/', () => {
    const sources = (dir: string): string[] =>
      fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((e) =>
          e.isDirectory() ? sources(path.join(dir, e.name)) : /\.(ts|js)$/.test(e.name) ? [fs.readFileSync(path.join(dir, e.name), 'utf8')] : [],
        );
    const all = sources(path.join(ROOT, 'lib')).join('\n');
    for (const dep of Object.keys(pkg.dependencies ?? {})) expect({ dep, imported: all.includes(`from '${dep}'`) }).toEqual({ dep, imported: true });
  });
});

describe('the schema the testing entry ships', () => {
  test('is the official Kubernetes 1.28 schema less its descriptions (else: npm run schema)', () => {
    expect(fs.readFileSync(COMPACT_SCHEMA, 'utf8')).toBe(compactSchemaText());
  });

  test('keeps every definition, type, required list and extension; drops only the description annotations', () => {
    const official = JSON.parse(fs.readFileSync(OFFICIAL_SCHEMA, 'utf8'));
    const compact = JSON.parse(fs.readFileSync(COMPACT_SCHEMA, 'utf8'));
    expect(Object.keys(compact.definitions)).toEqual(Object.keys(official.definitions));
    const pc = official.definitions['io.k8s.api.scheduling.v1.PriorityClass'];
    // a field named "description" is a field, not an annotation
    expect(compact.definitions['io.k8s.api.scheduling.v1.PriorityClass'].properties.description).toEqual({ type: 'string' });
    expect(compact.definitions['io.k8s.api.scheduling.v1.PriorityClass'].required).toEqual(pc.required);
    expect(JSON.stringify(compact)).not.toMatch(/"description":"/);
    expect(stripDescriptions({ description: 'x', properties: { description: { description: 'y', type: 'string' } } })).toEqual({
      properties: { description: { type: 'string' } },
    });
    expect(fs.statSync(COMPACT_SCHEMA).size).toBeLessThan(fs.statSync(OFFICIAL_SCHEMA).size / 4);
  });

  test('still rejects what the official schema rejects', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'y' }, data: { a: 1 }, dta: {} };
    expect(validateObjects([cm as any]).map((v) => v.message)).toEqual(expect.arrayContaining(['/: unknown field "dta"', '/data/a: must be string']));
  });
});
