/**
 * Splits what keeps a line over 150 characters after prettier, which wraps code but never the inside of a
 * string, a regular expression or a comment:
 *
 *   - a string or template literal is cut at a space into `'a long ' + 'text'` (the value is byte-identical,
 *     so error messages that tests assert stay the same);
 *   - a regular expression literal becomes `new RegExp(String.raw`a long ` + String.raw`pattern`, 'flags')`,
 *     the same pattern;
 *   - a comment is wrapped at a space onto lines of its own kind (`//` or ` * `); a comment after code moves
 *     onto the line above it.
 *
 * Then prettier lays the file out again. `npm run format` (scripts/format.ts) runs it after prettier and
 * eslint --fix; alone:
 *
 *   node -r ts-node/register scripts/split-long-lines.ts [files...]   (default: every file prettier formats)
 *
 * Lines with a URL are left alone (max-len's ignoreUrls), and so are strings where an expression cannot go
 * (import paths, property names, types, enum members, tagged templates); `npm run lint:report` lists what is left.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as prettier from 'prettier';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..');
export const MAX_LINE = 150;
/** Where a cut aims: the continuation line is indented deeper than the original, so leave room. */
const TARGET = 120;
/** ESLint max-len's test for a URL (its ignoreUrls option). */
const URL = /[^:/?#]:\/\/[^?#]/;

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly replacement: string;
}

/** Positions (in the file) inside the literal text of a string, template or regular expression, where it may be cut. */
function cuttableRanges(node: ts.Node, sf: ts.SourceFile): [number, number][] | undefined {
  if (isRawTemplate(node)) return [[node.template.getStart(sf) + 1, node.template.getEnd() - 1]];
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return [[node.getStart(sf) + 1, node.getEnd() - 1]];
  if (ts.isRegularExpressionLiteral(node)) {
    const raw = node.getText(sf);
    // String.raw cannot hold a backtick or `${`
    if (raw.includes('`') || raw.includes('${')) return undefined;
    return [[node.getStart(sf) + 1, node.getStart(sf) + raw.lastIndexOf('/')]];
  }
  if (ts.isTemplateExpression(node)) {
    // head: `text${   middle: }text${   tail: }text`
    const ranges: [number, number][] = [[node.head.getStart(sf) + 1, node.head.getEnd() - 2]];
    for (const span of node.templateSpans) {
      const lit = span.literal;
      ranges.push([lit.getStart(sf) + 1, ts.isTemplateTail(lit) ? lit.getEnd() - 1 : lit.getEnd() - 2]);
    }
    return ranges.filter(([a, b]) => b > a);
  }
  return undefined;
}

/** String.raw`...` without substitutions: cut into two, it is the same text. */
function isRawTemplate(node: ts.Node): node is ts.TaggedTemplateExpression & { template: ts.NoSubstitutionTemplateLiteral } {
  return ts.isTaggedTemplateExpression(node) && ts.isNoSubstitutionTemplateLiteral(node.template) && node.tag.getText() === 'String.raw';
}

/** Whether the literal may become an expression. */
function splittable(node: ts.Node): boolean {
  const p = node.parent;
  if (!p || ts.isTaggedTemplateExpression(p)) return false;
  if (ts.isImportDeclaration(p) || ts.isExportDeclaration(p) || ts.isExternalModuleReference(p) || ts.isImportTypeNode(p)) return false;
  if (ts.isLiteralTypeNode(p) || ts.isEnumMember(p) || ts.isModuleDeclaration(p) || ts.isJsxAttribute(p)) return false;
  const named = ts.isPropertyAssignment(p) || ts.isPropertySignature(p) || ts.isPropertyDeclaration(p) || ts.isMethodDeclaration(p);
  if (named && p.name === node) return false;
  if (
    ts.isCallExpression(p) &&
    (p.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(p.expression) && p.expression.text === 'require'))
  )
    return false;
  // a directive ('use strict') is a statement of its own
  return !ts.isExpressionStatement(p);
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

/** The line of `pos`: its start, its end (before the newline) and its length. */
function lineOf(sf: ts.SourceFile, pos: number): { start: number; end: number; long: boolean } {
  const starts = sf.getLineStarts();
  const line = sf.getLineAndCharacterOfPosition(pos).line;
  const start = starts[line]!;
  const end = line + 1 < starts.length ? starts[line + 1]! - 1 : sf.text.length;
  const text = sf.text.slice(start, end).replace(/\r$/, '');
  return { start, end: start + text.length, long: text.length > MAX_LINE && !URL.test(text) };
}

/**
 * The last cut at or before TARGET (else before MAX_LINE), inside `ranges` on the line starting at `lineStart`:
 * after a space, or (`after`) after one of those characters.
 */
function cutAt(text: string, ranges: [number, number][], lineStart: number, lineEnd: number, after = ' '): number | undefined {
  const candidates: number[] = [];
  for (const [a, b] of ranges) {
    for (let i = Math.max(a + 4, lineStart); i < Math.min(b - 3, lineEnd); i++) {
      if (after.includes(text[i - 1]!) && text[i] !== ' ' && (text[i - 1] !== ' ' || !escaped(text, i - 1))) candidates.push(i);
    }
  }
  return candidates.filter((i) => i - lineStart <= TARGET).pop() ?? candidates.filter((i) => i - lineStart < MAX_LINE).pop();
}

/** One cut of a literal on a long line: the one crossing MAX_LINE, else the longest on the line. */
function literalEdit(sf: ts.SourceFile): Edit | undefined {
  const text = sf.text;
  const byLine = new Map<number, { node: ts.Node; ranges: [number, number][] }[]>();
  const visit = (node: ts.Node): void => {
    const ranges = cuttableRanges(node, sf);
    if (ranges && splittable(node)) {
      const line = lineOf(sf, node.getStart(sf));
      if (line.long && node.getStart(sf) - line.start < MAX_LINE) byLine.set(line.start, [...(byLine.get(line.start) ?? []), { node, ranges }]);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  for (const [lineStart, literals] of byLine) {
    const lineEnd = lineOf(sf, lineStart).end;
    const ordered = [
      ...literals.filter((l) => l.node.getEnd() > lineStart + MAX_LINE),
      ...literals.sort((a, b) => b.node.getWidth(sf) - a.node.getWidth(sf)),
    ];
    for (const { node, ranges } of ordered) {
      // a pattern without spaces is cut after a `|`, `)` or `/` (never inside an escape: the parts are raw text)
      const regex = ts.isRegularExpressionLiteral(node);
      const raw = isRawTemplate(node);
      const cut = cutAt(text, ranges, lineStart, lineEnd) ?? (regex || raw ? cutAt(text, ranges, lineStart, lineEnd, '|)/') : undefined);
      if (cut === undefined) continue;
      const start = node.getStart(sf);
      const source = text.slice(start, node.getEnd());
      const at = cut - start;
      if (regex) {
        const close = source.lastIndexOf('/');
        const flags = source.slice(close + 1);
        const parts = `String.raw\`${source.slice(1, at)}\` +\nString.raw\`${source.slice(at, close)}\``;
        return { start, end: node.getEnd(), replacement: `new RegExp(${parts}${flags ? `, '${flags}'` : ''})` };
      }
      if (raw) {
        const joined = `${source.slice(0, at)}\` +\nString.raw\`${source.slice(at)}`;
        return { start, end: node.getEnd(), replacement: needsParens(node) ? `(${joined})` : joined };
      }
      const quote = source[0]!;
      const joined = `${source.slice(0, at)}${quote} +\n${quote}${source.slice(at)}`;
      return { start, end: node.getEnd(), replacement: needsParens(node) ? `(${joined})` : joined };
    }
  }
  return undefined;
}

/** Every comment of the file, as [start, end, kind]. */
function comments(sf: ts.SourceFile): [number, number, ts.CommentKind][] {
  const seen = new Map<number, [number, number, ts.CommentKind]>();
  const add = (ranges: ts.CommentRange[] | undefined) => ranges?.forEach((r) => seen.set(r.pos, [r.pos, r.end, r.kind]));
  const visit = (node: ts.Node): void => {
    add(ts.getLeadingCommentRanges(sf.text, node.pos));
    add(ts.getTrailingCommentRanges(sf.text, node.end));
    ts.forEachChild(node, visit);
  };
  visit(sf);
  add(ts.getLeadingCommentRanges(sf.text, sf.endOfFileToken.pos));
  return [...seen.values()].sort((a, b) => a[0] - b[0]);
}

/** One rewrap of a comment on a long line. */
function commentEdit(sf: ts.SourceFile): Edit | undefined {
  const text = sf.text;
  for (const [start, end, kind] of comments(sf)) {
    for (let pos = start; pos < end; pos = lineOf(sf, pos).end + 1) {
      const line = lineOf(sf, pos);
      if (!line.long || Math.min(end, line.end) - line.start <= MAX_LINE) continue;
      const indent = /^[ \t]*/.exec(text.slice(line.start, line.end))![0];
      const codeBefore = text.slice(line.start, start).trim() !== '' && pos === start;
      if (kind === ts.SyntaxKind.SingleLineCommentTrivia) {
        const body = text.slice(start + 2, end).trim();
        if (codeBefore) {
          // the comment moves above its code line
          const code = text.slice(line.start, start).trimEnd();
          return { start: line.start, end, replacement: `${indent}// ${body}\n${code}` };
        }
        const cut = cutAt(text, [[start + 2, end]], line.start, line.end);
        if (cut === undefined) continue;
        return { start: cut, end: cut, replacement: `\n${indent}// ` };
      }
      // a block comment: /** one line */ opens up; inside, a line is cut onto a ` * ` line of the same indentation
      if (codeBefore) continue;
      const oneLine = !text.slice(start, end).includes('\n');
      if (oneLine) {
        const doc = text.slice(start, start + 3) === '/**';
        const body = text.slice(start + (doc ? 3 : 2), end - 2).trim();
        return { start, end, replacement: `${doc ? '/**' : '/*'}\n${indent} * ${body}\n${indent} */` };
      }
      const star = /^([ \t]*\* ?)/.exec(text.slice(line.start, line.end));
      // cut before the closing */ at the latest
      const upTo = (end <= line.end ? end - 2 : line.end) + 3;
      const cut = cutAt(text, [[line.start + (star ? star[1]!.length : indent.length), upTo]], line.start, line.end);
      if (cut === undefined) continue;
      return { start: cut, end: cut, replacement: `\n${star ? star[1] : `${indent} * `}` };
    }
  }
  return undefined;
}

/** Splits the long lines of a file's text (formatting it with prettier after each edit). */
export async function splitSource(source: string, file: string): Promise<{ source: string; edits: number }> {
  const options = { ...(await prettier.resolveConfig(file)), filepath: file };
  const kind = /\.(c|m)?js$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  let edits = 0;
  for (; edits < 500; edits++) {
    const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, kind);
    const edit = literalEdit(sf) ?? commentEdit(sf);
    if (!edit) break;
    source = await prettier.format(source.slice(0, edit.start) + edit.replacement + source.slice(edit.end), options);
  }
  return { source, edits };
}

/** Splits the long lines of one file in place; returns the edits made. */
export async function splitLongLines(file: string): Promise<number> {
  const { source, edits } = await splitSource(fs.readFileSync(file, 'utf8'), file);
  if (edits) fs.writeFileSync(file, source);
  return edits;
}

/** The files prettier formats (see .prettierignore). */
export async function formattedFiles(): Promise<string[]> {
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
    const n = await splitLongLines(f);
    if (n) process.stdout.write(`split-long-lines: ${path.relative(ROOT, f)}: ${n} line(s) split\n`);
    total += n;
  }
  if (!total) process.stdout.write(`split-long-lines: no string, regular expression or comment keeps a line over ${MAX_LINE} characters\n`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err) => {
      process.stderr.write(`split-long-lines: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
