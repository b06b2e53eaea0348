/**
 * Splits the string literals and template literals that keep a line over 150 characters after prettier
 * (prettier wraps code but never strings): `'a long text'` becomes `'a long ' + 'text'`, split at a space,
 * so the value is byte-identical (error messages that tests assert stay the same). Then prettier lays the
 * result out again.
 *
 *   npm run format                                  runs it after prettier and eslint --fix
 *   node -r ts-node/register scripts/split-long-strings.ts [files...]   (default: every file prettier formats)
 *
 * Left for a hand: tagged templates (String.raw`...`), strings where an expression cannot go (import paths,
 * property names, types, enum members), regular expressions and comments; `npm run lint:report` lists them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as prettier from 'prettier';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..');
export const MAX_LINE = 150;
/** Where a split aims: the continuation line is indented deeper than the original, so leave room. */
const TARGET = 120;
/** ESLint max-len's test for a URL (its ignoreUrls option). */
const URL = /[^:/?#]:\/\/[^?#]/;

/** Positions (in the file) inside the literal text of a string or template, where the value may be cut. */
function cuttableRanges(node: ts.Node, sf: ts.SourceFile): [number, number][] | undefined {
  const text = sf.text;
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return [[node.getStart(sf) + 1, node.getEnd() - 1]];
  if (ts.isTemplateExpression(node)) {
    // head: `text${   middle: }text${   tail: }text`
    const ranges: [number, number][] = [[node.head.getStart(sf) + 1, node.head.getEnd() - 2]];
    for (const span of node.templateSpans) {
      const lit = span.literal;
      const end = ts.isTemplateTail(lit) ? lit.getEnd() - 1 : lit.getEnd() - 2;
      ranges.push([lit.getStart(sf) + 1, end]);
    }
    return ranges.filter(([a, b]) => b > a && text[a - 1] !== undefined);
  }
  return undefined;
}

/** Where a string may not become an expression. */
function splittable(node: ts.Node): boolean {
  const p = node.parent;
  if (!p) return false;
  if (ts.isTaggedTemplateExpression(p)) return false;
  if (ts.isImportDeclaration(p) || ts.isExportDeclaration(p) || ts.isExternalModuleReference(p) || ts.isImportTypeNode(p)) return false;
  if (ts.isLiteralTypeNode(p) || ts.isEnumMember(p)) return false;
  if ((ts.isPropertyAssignment(p) || ts.isPropertySignature(p) || ts.isPropertyDeclaration(p) || ts.isMethodDeclaration(p)) && p.name === node)
    return false;
  if (ts.isCallExpression(p) && p.expression.kind === ts.SyntaxKind.ImportKeyword) return false;
  if (ts.isCallExpression(p) && ts.isIdentifier(p.expression) && p.expression.text === 'require') return false;
  if (ts.isModuleDeclaration(p) || ts.isJsxAttribute(p)) return false;
  // a directive ('use strict') is a statement of its own
  if (ts.isExpressionStatement(p)) return false;
  return true;
}

/** One split of a literal that crosses MAX_LINE on its line, or undefined when there is none to make. */
function oneSplit(sf: ts.SourceFile): { start: number; end: number; replacement: string } | undefined {
  const text = sf.text;
  const lineStarts = sf.getLineStarts();
  let found: { start: number; end: number; replacement: string } | undefined;
  const visit = (node: ts.Node): void => {
    if (found) return;
    const ranges = cuttableRanges(node, sf);
    if (ranges && splittable(node)) {
      const start = node.getStart(sf);
      const { line } = sf.getLineAndCharacterOfPosition(start);
      const lineStart = lineStarts[line]!;
      const lineEnd = line + 1 < lineStarts.length ? lineStarts[line + 1]! - 1 : text.length;
      const lineText = text.slice(lineStart, lineEnd).replace(/\r$/, '');
      // ESLint's max-len (ignoreUrls) lets a line with a URL be longer
      const long = lineText.length > MAX_LINE && !URL.test(lineText);
      if (long && start - lineStart < MAX_LINE && node.getEnd() > lineStart + MAX_LINE) {
        // the last space, at or before TARGET (else before MAX_LINE), inside literal text on this line, keeping a few characters on each side
        const candidates: number[] = [];
        for (const [a, b] of ranges) {
          for (let i = a + 4; i < b - 3; i++) {
            if (text[i - 1] === ' ' && text[i] !== ' ' && !/\n/.test(text.slice(lineStart, i)) && !escaped(text, i - 1)) candidates.push(i);
          }
        }
        const col = (i: number) => i - lineStart;
        const cut = candidates.filter((i) => col(i) <= TARGET).pop() ?? candidates.filter((i) => col(i) < MAX_LINE).pop();
        if (cut !== undefined) {
          const raw = text.slice(start, node.getEnd());
          const at = cut - start;
          const quote = raw[0]!;
          const joined = `${raw.slice(0, at)}${quote} +\n${quote}${raw.slice(at)}`;
          found = { start, end: node.getEnd(), replacement: needsParens(node) ? `(${joined})` : joined };
          return;
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/**
 * Whether `a + b` in place of the literal needs parentheses to keep the meaning: not where the place binds
 * more loosely than `+` (arguments, initializers, return values, array elements, branches of `?:`), nor as an
 * operand of another `+` (string concatenation gives the same text however it is grouped, and prettier would
 * keep parentheses on the right operand).
 */
function needsParens(node: ts.Node): boolean {
  const p = node.parent;
  if (ts.isBinaryExpression(p)) return p.operatorToken.kind !== ts.SyntaxKind.PlusToken;
  if (ts.isCallExpression(p) || ts.isNewExpression(p)) return p.expression === node;
  if (ts.isConditionalExpression(p)) return p.condition === node;
  return !(
    ts.isVariableDeclaration(p) ||
    ts.isPropertyAssignment(p) ||
    ts.isReturnStatement(p) ||
    ts.isThrowStatement(p) ||
    ts.isArrayLiteralExpression(p) ||
    ts.isParenthesizedExpression(p) ||
    ts.isTemplateSpan(p) ||
    ts.isArrowFunction(p) ||
    ts.isParameter(p)
  );
}

/** Whether the character at `i` is escaped by an odd run of backslashes before it. */
function escaped(text: string, i: number): boolean {
  let n = 0;
  for (let j = i - 1; j >= 0 && text[j] === '\\'; j--) n++;
  return n % 2 === 1;
}

/** Splits the long literals of one file (formatting it with prettier after each round); returns the splits made. */
export async function splitLongStrings(file: string): Promise<number> {
  const options = { ...(await prettier.resolveConfig(file)), filepath: file };
  let source = fs.readFileSync(file, 'utf8');
  let splits = 0;
  for (let round = 0; round < 200; round++) {
    const kind = /\.(c|m)?js$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
    const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, kind);
    const edit = oneSplit(sf);
    if (!edit) break;
    const next = source.slice(0, edit.start) + edit.replacement + source.slice(edit.end);
    source = await prettier.format(next, options);
    splits++;
  }
  if (splits) fs.writeFileSync(file, source);
  return splits;
}

/** The files prettier formats (see .prettierignore). */
async function formattedFiles(): Promise<string[]> {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' });
  const out: string[] = [];
  for (const f of listed.split('\0').filter((x) => x && /\.(ts|js|mjs)$/.test(x))) {
    const abs = path.join(ROOT, f);
    if (!fs.existsSync(abs)) continue;
    const info = await prettier.getFileInfo(abs, { ignorePath: path.join(ROOT, '.prettierignore') });
    if (!info.ignored) out.push(abs);
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const files = argv.length ? argv.map((f) => path.resolve(f)) : await formattedFiles();
  let total = 0;
  for (const f of files) {
    const n = await splitLongStrings(f);
    if (n) process.stdout.write(`split-long-strings: ${path.relative(ROOT, f)}: ${n} literal(s) split\n`);
    total += n;
  }
  if (!total) process.stdout.write('split-long-strings: no literal keeps a line over 150 characters\n');
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err) => {
      process.stderr.write(`split-long-strings: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
