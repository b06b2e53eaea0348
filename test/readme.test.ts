/**
 * README.md and docs/ stay true: the README is for users, short, and says what the
 * package is and how to install it, the two commands exist (repository
 * operations live in docs/development.md), every construct
 * has a task page with an example and the YAML it produces, options are
 * documented once (TSDoc → docs/api/) rather than in hand-written tables,
 * every local link resolves, and embedded diagrams equal the generated ones.
 * (test/docs.test.ts compiles and synthesizes the examples.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');
const README = read('README.md');
const pkg = JSON.parse(read('package.json'));
/** Each construct, its task page and its reference page. */
const CONSTRUCTS: Array<[string, string, string]> = [
  ['StaticSite', 'docs/static-site.md', 'StaticSite'],
  ['ImmutableConfigInit', 'docs/immutable-config-init.md', 'ImmutableConfigInit'],
  ['SidecarDeployment', 'docs/sidecar-pod.md', 'Sidecars'],
  ['ScriptService', 'docs/scripts.md', 'Scripts'],
  ['KvProxy', 'docs/kv-proxy.md', 'KvProxy'],
  ['WorkloadPolicy', 'docs/workload-policy.md', 'WorkloadPolicy'],
];
const PAGES = [
  'README.md',
  'CHANGELOG.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('README.md', () => {
  test('is at most 300 lines', () => {
    expect(README.split('\n').length).toBeLessThanOrEqual(300);
  });

  test('names the package and how to install it with its peers', () => {
    expect(README).toContain(`The package is \`${pkg.name}\``);
    expect(README).toMatch(new RegExp(`^npm install ${pkg.name} ${Object.keys(pkg.peerDependencies).sort().join(' ')}$`, 'm'));
    for (const m of README.matchAll(/cdk8s-patterns-(\d[^\s`]*)\.tgz/g)) expect(m[1]).toBe(pkg.version);
  });

  test('the two set-up commands exist and CI runs the test command', () => {
    expect(README).toContain('npm ci && npm run synth');
    expect(README).toMatch(/^npm test\s/m);
    expect(pkg.scripts.synth).toBe('node -r ts-node/register main.ts');
    expect(pkg.scripts.test).toMatch(/jest/);
    expect(read('.ci/run')).toMatch(/^step "npm test" npm test$/m);
  });

  test('repository operations live in docs/development.md, linked from a short Develop section', () => {
    const start = README.indexOf('\n## Develop\n');
    expect(start).toBeGreaterThan(0);
    const section = README.slice(start, README.indexOf('\n## ', start + 5));
    expect(section).toContain('npm ci && npm run synth');
    expect(section).toContain('](docs/development.md)');
    const dev = read('docs/development.md');
    for (const op of ['npm ci && npm run synth', 'npm run verify', 'npm run check:dist', 'npm run api', 'npm run bench', '.ci/run']) {
      expect({ op, inDevelopment: dev.includes(op) }).toEqual({ op, inDevelopment: true });
    }
    for (const op of ['npm run check:dist', 'npm run import', 'npm run schema', 'KUBE_BIN_DIR'])
      expect({ op, inReadme: README.includes(op) }).toEqual({ op, inReadme: false });
  });

  test('every npm script it mentions exists', () => {
    const mentioned = [...README.matchAll(/npm run\s+([a-z:]+)/g)].map((m) => m[1]!);
    expect(mentioned.filter((s) => !(s in pkg.scripts))).toEqual([]);
  });

  test('has one short example per construct, linking its task page', () => {
    for (const [name, page] of CONSTRUCTS) {
      const start = README.indexOf(`\n### ${name}\n`);
      expect(start).toBeGreaterThan(0);
      const section = README.slice(start, README.indexOf('\n##', start + 5));
      expect(section).toMatch(new RegExp(`\`\`\`ts\\n[\\s\\S]*?new ${name}\\(`));
      expect(README).toContain(`](${page})`);
    }
  });
});

describe('docs/', () => {
  test.each(CONSTRUCTS)('%s has a task page with an example, the YAML it produces and a link to its reference page', (name, page, reference) => {
    const text = read(page);
    expect(text).toMatch(new RegExp(`^# ${name}`, 'm'));
    expect(text).toMatch(new RegExp(`\`\`\`ts\\n[\\s\\S]*?new ${name}\\(`));
    expect(text).toMatch(/```yaml\n[\s\S]*?kind: /);
    expect(text).toContain(`](api/${reference}.md`);
  });

  test('options are documented once, in the TSDoc: no hand-written option tables', () => {
    for (const page of PAGES.filter((p) => p.startsWith('docs/'))) {
      const text = read(page);
      // a table whose header is an option/prop column
      expect({ page, tables: text.match(/^\| *(option|prop|property|name) *\| *(type|default)/gim) ?? [] }).toEqual({ page, tables: [] });
    }
  });

  test('every local link in README, CHANGELOG and docs resolves', () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      const text = read(page).replace(/```[\s\S]*?```/g, '');
      for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        if (!fs.existsSync(path.join(ROOT, path.dirname(page), target))) broken.push(`${page}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  test('every link into the API reference (docs/api/) names a heading of its page', () => {
    const anchors = new Map<string, Set<string>>();
    /** GitHub's heading ids: lowercase, punctuation dropped, spaces as '-', repeats numbered -1, -2, ... */
    const headingIds = (file: string) => {
      const seen = new Map<string, number>();
      const ids = new Set<string>();
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/^#{1,6} +(.+?) *$/gm)) {
        const text = m[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[`*]/g, '');
        const id = text
          .toLowerCase()
          .replace(/[^\p{L}\p{N} _-]/gu, '')
          .replace(/ /g, '-');
        const n = seen.get(id) ?? 0;
        seen.set(id, n + 1);
        ids.add(n ? `${id}-${n}` : id);
      }
      return ids;
    };
    const broken: string[] = [];
    for (const page of PAGES) {
      const text = read(page).replace(/```[\s\S]*?```/g, '');
      for (const m of text.matchAll(/\]\(([^)#\s]+)#([^)\s]+)\)/g)) {
        const target = path.join(ROOT, path.dirname(page), m[1]!);
        if (!target.startsWith(path.join(ROOT, 'docs', 'api') + path.sep) || !fs.existsSync(target)) continue;
        if (!anchors.has(target)) anchors.set(target, headingIds(target));
        if (!anchors.get(target)!.has(m[2]!)) broken.push(`${page}: ${m[1]}#${m[2]}`);
      }
    }
    expect(broken).toEqual([]);
  });

  test('delivery links every generated diagram (docs/diagrams, written by npm run synth)', () => {
    const text = read('docs/delivery.md');
    const generated = fs
      .readdirSync(path.join(ROOT, 'docs', 'diagrams'))
      .flatMap((env) => fs.readdirSync(path.join(ROOT, 'docs', 'diagrams', env)).map((f) => `diagrams/${env}/${f}`));
    expect(generated.length).toBeGreaterThanOrEqual(5);
    expect(generated.filter((f) => !text.includes(`](${f})`))).toEqual([]);
  });
});
