/**
 * Every TypeScript example in README.md and docs/*.md is a complete program a
 * user could paste: this test type-checks all of them (strict, with
 * `cdk8s-patterns` mapped to lib/), runs each one with its own output folder,
 * and passes what it synthesized through the validation gate.
 *
 * Conventions for examples:
 *  - import the library as users do: `from 'cdk8s-patterns'`;
 *  - end with `app.synth()`; files are read relative to `__dirname`, which is
 *    a copy of test/fixtures/docs here (site/, config/, bundles/) whose
 *    scripts/ are the app's own runner scripts (charts/scripts/general-purpose-runner),
 *    so the examples run the code the app ships, not copies of it;
 *  - objects created out of band are named in an HTML comment right before
 *    the block: `<!-- gate: external=Secret/ns/name,Secret/ns/other -->`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { loadManifests, validateObjects, formatViolations } from '../lib/testing';

const ROOT = path.join(__dirname, '..');
const FIXTURES = path.join(__dirname, 'fixtures', 'docs');

export interface Example {
  readonly file: string;
  readonly line: number;
  readonly code: string;
  readonly external: string[];
}

/** The ```ts blocks of a markdown file, with the line each starts on. */
export function examplesOf(file: string): Example[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const out: Example[] = [];
  const re = /(?:<!-- gate: external=([^ ]+) -->\n)?```ts\n([\s\S]*?)```/g;
  for (const m of text.matchAll(re)) {
    const line = text.slice(0, m.index! + m[0].indexOf('```ts')).split('\n').length;
    out.push({ file, line, code: m[2]!, external: m[1] ? m[1].split(',') : [] });
  }
  return out;
}

const PAGES = [
  'README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const EXAMPLES = PAGES.flatMap(examplesOf);
const label = (e: Example) => `${e.file}:${e.line}`;

const RUNNER_SCRIPTS = path.join(ROOT, 'charts', 'scripts', 'general-purpose-runner');

let work: string;
let fixtures: string;
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-patterns-docs-'));
  fixtures = path.join(work, 'fixtures');
  fs.cpSync(FIXTURES, fixtures, { recursive: true });
  const scripts = path.join(fixtures, 'scripts');
  fs.mkdirSync(path.join(scripts, 'namespaces-api'), { recursive: true });
  for (const f of ['greeter.py', 'serving.py']) fs.copyFileSync(path.join(RUNNER_SCRIPTS, f), path.join(scripts, f));
  for (const f of ['namespaces_api.py', 'serving.py']) fs.copyFileSync(path.join(RUNNER_SCRIPTS, f), path.join(scripts, 'namespaces-api', f));
});
afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

test('README and every construct page have examples', () => {
  const pages = new Set(EXAMPLES.map((e) => e.file));
  for (const p of [
    'README.md',
    'docs/static-site.md',
    'docs/immutable-config-init.md',
    'docs/sidecar-pod.md',
    'docs/scripts.md',
    'docs/kv-proxy.md',
    'docs/testing.md',
  ]) {
    expect(pages).toContain(p);
  }
});

test('every example type-checks (strict) against the public entry', () => {
  const files = EXAMPLES.map((e, i) => {
    const f = path.join(work, `example-${i}.ts`);
    fs.writeFileSync(f, e.code);
    return f;
  });
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    strict: true,
    noEmit: true,
    esModuleInterop: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    baseUrl: ROOT,
    paths: { 'cdk8s-patterns': ['lib/index.ts'], 'cdk8s-patterns/testing': ['lib/testing/index.ts'], '*': ['node_modules/*'] },
  });
  const errors = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && files.includes(path.resolve(d.file.fileName)))
    .map((d) => {
      const i = files.indexOf(path.resolve(d.file!.fileName));
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      return `${EXAMPLES[i]!.file}:${EXAMPLES[i]!.line + 1 + line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
  expect(errors).toEqual([]);
}, 120_000);

describe.each(EXAMPLES.map((e) => [label(e), e] as const))('example %s', (_name, example) => {
  test('synthesizes objects that pass the validation gate', () => {
    const outdir = fs.mkdtempSync(path.join(work, 'out-'));
    const js = ts.transpileModule(example.code, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
    const load = (id: string) =>
      id === 'cdk8s-patterns' ? require('../lib') : id === 'cdk8s-patterns/testing' ? require('../lib/testing') : require(id);
    const saved = process.env.CDK8S_OUTDIR;
    process.env.CDK8S_OUTDIR = outdir;
    try {
      const mod = { exports: {} };
      new Function('require', 'module', 'exports', '__dirname', '__filename', js)(
        load,
        mod,
        mod.exports,
        fixtures,
        path.join(fixtures, 'example.ts'),
      );
    } finally {
      if (saved === undefined) delete process.env.CDK8S_OUTDIR;
      else process.env.CDK8S_OUTDIR = saved;
    }
    const objects = loadManifests(outdir);
    expect(objects.length).toBeGreaterThan(0);
    const violations = validateObjects(objects, { external: example.external });
    if (violations.length) throw new Error(`${label(example)}: ${formatViolations(violations)}`);
  });
});
