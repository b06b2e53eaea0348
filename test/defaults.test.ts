/**
 * Every `@default` of the public API is asserted, so the docs cannot drift from the output.
 *
 * The documented defaults are read with the TypeScript compiler API: every interface the public entry
 * (lib/index.ts) exports, and every interface of lib/ those reach (the interfaces they extend, the types
 * of their properties, the parameters of exported classes and functions), less lib/verify and lib/testing.
 * Each property of such an interface with a `@default` tag is one entry, named `Interface.prop`.
 *
 * The assertions live in test/defaults/<topic>.ts, each exporting
 * `DEFAULTS: Record<string, () => void>` from `'Interface.prop'` to a function that synthesizes with that
 * prop unset and asserts the documented default with jest's `expect`. This file fails
 *   - listing every `@default` without an assertion (a new prop cannot ship an untested default),
 *   - listing every assertion that names no `@default` (stale after a rename or removal),
 *   - listing every `@default` asserted in two modules,
 * and runs each assertion as its own test, named `Interface.prop: <the tag's text>`.
 *
 * A property is asserted once, on the interface that declares it: options inherited by several props
 * interfaces (ExposeOptions, extended by the props of every construct that serves traffic) are asserted
 * once as `ExposeOptions.servicePort`, not once per construct. Where a construct overrides an inherited
 * default, it redeclares the property with its own `@default`, which is then its own entry.
 *
 * DEFAULTS_REPORT=1 prints the missing entries (and the stale ones) instead of failing on them, to follow
 * progress while the maps are being written: `DEFAULTS_REPORT=1 npx jest test/defaults.test.ts`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..');
const LIB = path.join(ROOT, 'lib');
const ENTRY = path.join(LIB, 'index.ts');
const DEFAULTS_DIR = path.join(__dirname, 'defaults');
/** Parts of lib/ that are not the construct library's API (the verify CLI, the testing entry). */
const EXCLUDED = [path.join(LIB, 'verify'), path.join(LIB, 'testing')].map((d) => d + path.sep);
const REPORT = process.env.DEFAULTS_REPORT === '1';

/** One documented default: `Interface.prop` and the tag's text, whitespace collapsed. */
export interface DocumentedDefault {
  readonly key: string;
  readonly text: string;
  /** Repository-relative file and line of the property. */
  readonly where: string;
}

/** Reads every `@default` of a property of an interface reachable from the public entry. */
export function documentedDefaults(): DocumentedDefault[] {
  const program = ts.createProgram([ENTRY], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const inLibrary = (file: ts.SourceFile) => {
    const f = path.resolve(file.fileName);
    return f.startsWith(LIB + path.sep) && !EXCLUDED.some((d) => f.startsWith(d));
  };
  const resolve = (symbol: ts.Symbol | undefined) => (symbol && symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);

  const seen = new Set<ts.Node>();
  const queue: ts.Node[] = [];
  const visitSymbol = (symbol: ts.Symbol | undefined) => {
    for (const d of resolve(symbol)?.declarations ?? []) {
      if (!inLibrary(d.getSourceFile()) || seen.has(d)) continue;
      seen.add(d);
      queue.push(d);
    }
  };
  /** Interfaces and aliases named anywhere inside a type or a declaration (unions, arrays, generics, parameters). */
  const visitTypeReferences = (node: ts.Node) => {
    if (ts.isTypeReferenceNode(node)) visitSymbol(checker.getSymbolAtLocation(node.typeName));
    if (ts.isExpressionWithTypeArguments(node)) visitSymbol(checker.getSymbolAtLocation(node.expression));
    ts.forEachChild(node, visitTypeReferences);
  };

  const entry = checker.getSymbolAtLocation(program.getSourceFile(ENTRY)!)!;
  for (const exported of checker.getExportsOfModule(entry)) visitSymbol(exported);

  const found = new Map<string, DocumentedDefault>();
  const members = (d: ts.Node): readonly ts.TypeElement[] | undefined =>
    ts.isInterfaceDeclaration(d) ? d.members : ts.isTypeAliasDeclaration(d) && ts.isTypeLiteralNode(d.type) ? d.type.members : undefined;
  while (queue.length) {
    const d = queue.shift()!;
    if (ts.isInterfaceDeclaration(d) || ts.isTypeAliasDeclaration(d)) {
      for (const h of ts.isInterfaceDeclaration(d) ? (d.heritageClauses ?? []) : []) visitTypeReferences(h);
      if (ts.isTypeAliasDeclaration(d)) visitTypeReferences(d.type);
      for (const m of members(d) ?? []) {
        visitTypeReferences(m);
        if (!ts.isPropertySignature(m) || !m.name) continue;
        for (const tag of ts.getJSDocTags(m)) {
          if (tag.tagName.text !== 'default') continue;
          const key = `${d.name.text}.${m.name.getText()}`;
          const text = (ts.getTextOfJSDocComment(tag.comment) ?? '').replace(/\s+/g, ' ').trim();
          const file = m.getSourceFile();
          const where = `${path.relative(ROOT, file.fileName)}:${file.getLineAndCharacterOfPosition(m.getStart()).line + 1}`;
          const earlier = found.get(key);
          if (earlier && earlier.where !== where) throw new Error(`two interfaces named ${key.split('.')[0]}: ${earlier.where} and ${where}`);
          found.set(key, { key, text, where });
        }
      }
    } else if (ts.isClassDeclaration(d) || ts.isFunctionDeclaration(d)) {
      // what users pass to the constructs and helpers: constructor, method and function parameters
      const signatures = ts.isFunctionDeclaration(d) ? [d] : d.members.filter((m) => ts.isConstructorDeclaration(m) || ts.isMethodDeclaration(m));
      for (const s of signatures) {
        const isPrivate = ts.getCombinedModifierFlags(s) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected);
        if (!isPrivate) for (const p of (s as ts.SignatureDeclaration).parameters) if (p.type) visitTypeReferences(p.type);
      }
      if (ts.isClassDeclaration(d)) for (const h of d.heritageClauses ?? []) visitTypeReferences(h);
    }
  }
  return [...found.values()].sort((a, b) => a.key.localeCompare(b.key));
}

/** The assertion modules: test/defaults/*.ts, each exporting DEFAULTS. */
function assertionModules(): { module: string; defaults: Record<string, () => void> }[] {
  return fs
    .readdirSync(DEFAULTS_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .sort()
    .map((f) => {
      const loaded = require(path.join(DEFAULTS_DIR, f)) as { DEFAULTS?: Record<string, () => void> };
      if (!loaded.DEFAULTS || typeof loaded.DEFAULTS !== 'object') throw new Error(`test/defaults/${f} must export DEFAULTS`);
      return { module: `test/defaults/${f}`, defaults: loaded.DEFAULTS };
    });
}

const documented = documentedDefaults();
const byKey = new Map(documented.map((d) => [d.key, d]));
const modules = assertionModules();
const asserted = new Map<string, { module: string; assert: () => void }[]>();
for (const m of modules) {
  for (const [key, assert] of Object.entries(m.defaults)) asserted.set(key, [...(asserted.get(key) ?? []), { module: m.module, assert }]);
}
const missing = documented.filter((d) => !asserted.has(d.key)).map((d) => `${d.key} (${d.where}): @default ${d.text}`);
const stale = [...asserted.entries()].filter(([key]) => !byKey.has(key)).map(([key, a]) => `${key} (${a.map((x) => x.module).join(', ')})`);

describe('every @default of the public API is asserted', () => {
  test('the public entry documents @default tags (the reader finds them)', () => {
    expect(documented.length).toBeGreaterThan(0);
    expect(byKey.get('ExposeOptions.servicePort')?.text).toBe('80');
  });

  if (REPORT) {
    test('report mode (DEFAULTS_REPORT=1): lists the @default tags without an assertion, and stale assertions', () => {
      const lines = [
        `defaults: ${documented.length - missing.length} of ${documented.length} @default tags asserted`,
        ...(missing.length ? [`missing (${missing.length}):`, ...missing.map((m) => `  ${m}`)] : []),
        ...(stale.length ? [`stale (${stale.length}):`, ...stale.map((s) => `  ${s}`)] : []),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  } else {
    test('every @default has an assertion in test/defaults/ (else add one: Interface.prop -> a synth with it unset)', () => {
      expect(missing).toEqual([]);
    });

    test('every assertion in test/defaults/ names a documented @default (else remove or rename it)', () => {
      expect(stale).toEqual([]);
    });
  }

  test('no @default is asserted in two modules', () => {
    const twice = [...asserted.entries()].filter(([, a]) => a.length > 1).map(([key, a]) => `${key}: ${a.map((x) => x.module).join(', ')}`);
    expect(twice).toEqual([]);
  });
});

describe('the documented defaults', () => {
  for (const d of documented) {
    const a = asserted.get(d.key);
    if (a?.length === 1) test(`${d.key}: ${d.text}`, a[0].assert);
  }
});
