/**
 * The shape of the public API, measured: how many names the main entry
 * exports (from the API report), which kinds of names it must not export,
 * and how long each exported construct's constructor is (validation and
 * defaults belong in a pure resolve step, building in small functions).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..');
const REPORT = fs.readFileSync(path.join(ROOT, 'api', 'cdk8s-patterns.api.md'), 'utf8');
const EXPORT_LINE = /^export (?:declare )?(?:abstract )?(?:class|interface|function|const|enum|type) (\w+)/gm;

/** Every exported name of the main entry, from the API report. */
function exportedNames(): string[] {
  return [...REPORT.matchAll(EXPORT_LINE)].map((m) => m[1]).sort();
}

/** `Class: lines` for every class with a constructor in the library's modules (not the verify and testing entries). */
function constructorLengths(): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return ['verify', 'testing', 'server'].includes(e.name) ? [] : walk(p);
      return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
    });
  for (const file of walk(path.join(ROOT, 'lib'))) {
    const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      if (ts.isClassDeclaration(node) && node.name) {
        for (const member of node.members) {
          if (ts.isConstructorDeclaration(member) && member.body) {
            const first = source.getLineAndCharacterOfPosition(member.getStart(source)).line;
            const last = source.getLineAndCharacterOfPosition(member.end).line;
            out[`${path.relative(ROOT, file)}: ${node.name.text}`] = last - first + 1;
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return out;
}

describe('the shape of the public API', () => {
  test('the main entry exports at most 60 names (constructs, their props and options, enums, documented building blocks)', () => {
    const names = exportedNames();
    expect(names.length).toBeGreaterThan(20);
    expect(names.length).toBeLessThanOrEqual(60);
  });

  test('no validator, resolver, path or image constant is exported: constructs validate, Images holds the images', () => {
    expect(exportedNames().filter((n) => /^validate|^resolve|_IMAGE$|_PATH$|_DIR$|^DEFAULT_|^MAX_/.test(n))).toEqual([]);
  });

  test('no construct has a mode switch: the kind is the construct', () => {
    expect(REPORT).not.toMatch(/^\s+readonly (mode|workload)\?: \w+Mode\b/m);
    expect(exportedNames()).not.toContain('RunnerMode');
    expect(exportedNames()).not.toContain('SidecarPodWorkload');
  });

  test('every constructor in lib/ is at most 40 lines long', () => {
    const lengths = constructorLengths();
    expect(Object.keys(lengths).length).toBeGreaterThan(5);
    expect(Object.entries(lengths).filter(([, n]) => n > 40)).toEqual([]);
  });
});
