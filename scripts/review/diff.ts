/**
 * Change summary for reviewers: which objects a change adds, removes and
 * changes, per environment and chart file, with the changed field paths and
 * ConfigMap content summarized by key (sizes, not whole files).
 *
 *   npm run diff                          # committed dist/ → fresh synth
 *   npm run diff -- --markdown            # the same, as Markdown for a PR comment
 *   npm run diff -- --from HEAD~1 --to HEAD   # dist/ between two git revisions
 *
 * Exit code: 0 nothing changed, 1 something changed, 2 error.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { K8sObject, objectId } from '../../lib/testing/gate';

/** Chart file (relative to dist/, e.g. `dev/0001-static-site.k8s.yaml`) → its objects. */
export type Tree = Map<string, K8sObject[]>;

export interface ObjectChange {
  readonly id: string;
  readonly change: 'added' | 'removed' | 'changed';
  /** Changed field paths (for `changed`), e.g. `spec.template.spec.containers[web].image`. */
  readonly paths: string[];
  /** ConfigMap/Secret keys summarized with sizes, e.g. `+ app.js (1.2 KiB)`, `~ index.html (512 B → 530 B)`. */
  readonly keys: string[];
}

export interface FileChanges {
  /** Environment folder (first path component), or `.` for files at the top. */
  readonly environment: string;
  readonly file: string;
  readonly changes: ObjectChange[];
}

export function parseYamlObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJSON())
    .filter((o) => o && typeof o === 'object');
}

/** Reads every `*.yaml` below a folder. */
export function readTree(dir: string): Tree {
  const tree: Tree = new Map();
  if (!fs.existsSync(dir)) return tree;
  for (const f of fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((x) => x.endsWith('.yaml'))
    .sort()) {
    tree.set(f.split(path.sep).join('/'), parseYamlObjects(fs.readFileSync(path.join(dir, f), 'utf8')));
  }
  return tree;
}

/** Reads every `*.yaml` below `dist/` at a git revision. */
export function readTreeAtRevision(rev: string, root: string, sub = 'dist'): Tree {
  const tree: Tree = new Map();
  const files = execFileSync('git', ['ls-tree', '-r', '--name-only', rev, `${sub}/`], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  for (const f of files) {
    const text = execFileSync('git', ['show', `${rev}:${f}`], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    tree.set(f.slice(sub.length + 1), parseYamlObjects(text));
  }
  return tree;
}

function isNamedList(v: unknown): v is Array<{ name: string }> {
  return Array.isArray(v) && v.length > 0 && v.every((x) => x && typeof x === 'object' && typeof (x as any).name === 'string');
}

/** Field paths where two JSON values differ; lists of named items are matched by name. */
export function changedPaths(a: unknown, b: unknown, prefix = ''): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (isNamedList(a) && isNamedList(b)) {
    const am = new Map(a.map((x) => [x.name, x]));
    const bm = new Map(b.map((x) => [x.name, x]));
    const names = [...new Set([...am.keys(), ...bm.keys()])];
    return names.flatMap((n) => changedPaths(am.get(n), bm.get(n), `${prefix}[${n}]`));
  }
  const isObj = (x: unknown) => x && typeof x === 'object' && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])].sort();
    return keys.flatMap((k) => changedPaths((a as any)[k], (b as any)[k], prefix ? `${prefix}.${k}` : k));
  }
  return [prefix || '(root)'];
}

function humanSize(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}

function contentSizes(o: K8sObject | undefined): Map<string, { size: number; text: string }> {
  const m = new Map<string, { size: number; text: string }>();
  if (!o) return m;
  for (const [k, v] of Object.entries<string>(o.data ?? {})) {
    m.set(k, o.kind === 'Secret' ? { size: Buffer.from(v, 'base64').length, text: v } : { size: Buffer.byteLength(v), text: v });
  }
  for (const [k, v] of Object.entries<string>(o.binaryData ?? {})) m.set(k, { size: Buffer.from(v, 'base64').length, text: v });
  return m;
}

function keySummary(a: K8sObject | undefined, b: K8sObject | undefined): string[] {
  const before = contentSizes(a);
  const after = contentSizes(b);
  const out: string[] = [];
  for (const k of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const x = before.get(k);
    const y = after.get(k);
    if (!x) out.push(`+ ${k} (${humanSize(y!.size)})`);
    else if (!y) out.push(`- ${k} (${humanSize(x.size)})`);
    else if (x.text !== y.text) out.push(`~ ${k} (${humanSize(x.size)} → ${humanSize(y.size)})`);
  }
  return out;
}

/** Compares two trees object by object. Only files with changes are returned. */
export function diffTrees(before: Tree, after: Tree): FileChanges[] {
  const out: FileChanges[] = [];
  for (const file of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const a = new Map((before.get(file) ?? []).map((o) => [objectId(o), o]));
    const b = new Map((after.get(file) ?? []).map((o) => [objectId(o), o]));
    const changes: ObjectChange[] = [];
    for (const id of [...new Set([...a.keys(), ...b.keys()])].sort()) {
      const x = a.get(id);
      const y = b.get(id);
      const content = x?.kind === 'ConfigMap' || x?.kind === 'Secret' || y?.kind === 'ConfigMap' || y?.kind === 'Secret';
      if (!x) changes.push({ id, change: 'added', paths: [], keys: content ? keySummary(undefined, y) : [] });
      else if (!y) changes.push({ id, change: 'removed', paths: [], keys: [] });
      else {
        let paths = changedPaths(x, y);
        if (!paths.length) continue;
        if (content) paths = paths.filter((p) => !/^(data|binaryData)\./.test(p));
        changes.push({ id, change: 'changed', paths, keys: content ? keySummary(x, y) : [] });
      }
    }
    if (changes.length) {
      const parts = file.split('/');
      out.push({ environment: parts.length > 1 ? parts[0] : '.', file, changes });
    }
  }
  return out;
}

const SIGN = { added: '+', removed: '-', changed: '~' } as const;

/** Terminal rendering. */
export function formatText(changes: FileChanges[]): string {
  if (!changes.length) return 'no changes\n';
  const lines: string[] = [];
  let env = '';
  for (const f of changes) {
    if (f.environment !== env) {
      env = f.environment;
      lines.push(`== ${env}`);
    }
    lines.push(`  ${f.file}`);
    for (const c of f.changes) {
      lines.push(`    ${SIGN[c.change]} ${c.id} (${c.change})`);
      for (const p of c.paths) lines.push(`        ${p}`);
      for (const k of c.keys) lines.push(`        ${k}`);
    }
  }
  const n = changes.reduce((s, f) => s + f.changes.length, 0);
  lines.push('', `${n} object(s) changed in ${changes.length} file(s)`);
  return `${lines.join('\n')}\n`;
}

/** Markdown rendering for a pull-request comment. */
export function formatMarkdown(changes: FileChanges[]): string {
  if (!changes.length) return '**Manifests:** no changes.\n';
  const lines = ['### Manifest changes', ''];
  let env = '';
  for (const f of changes) {
    if (f.environment !== env) {
      env = f.environment;
      lines.push(`#### \`${env}\``, '');
    }
    lines.push(`**\`${f.file}\`**`, '', '| | object | details |', '| --- | --- | --- |');
    for (const c of f.changes) {
      const details = [...c.paths.map((p) => `\`${p}\``), ...c.keys.map((k) => `\`${k}\``)].join('<br>');
      lines.push(`| ${SIGN[c.change]} | \`${c.id}\` | ${details || c.change} |`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

export const USAGE = `usage: npm run diff [-- [--markdown] [--from REV [--to REV]]]

Summarizes what a change does to the synthesized manifests: per environment
and chart file, the objects added, removed and changed, with the changed
field paths and ConfigMap keys.

  (no option)       the committed dist/ against a fresh synth of main.ts
  --from REV        dist/ at git revision REV against the working tree's dist/
  --to REV          with --from: dist/ at REV instead of the working tree's
  --markdown        Markdown for a pull-request comment instead of text
  -h, --help        print this help

exit status: 0 no changes, 1 changes, 2 usage error or failure
`;

/** A command-line mistake: reported with the usage, exit status 2. */
class UsageError extends Error {}

function parse(argv: string[]): { from?: string; to?: string; markdown: boolean; help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        markdown: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.to !== undefined && values.from === undefined) throw new UsageError('--to needs --from');
  return { from: values.from, to: values.to, markdown: values.markdown ?? false, help: values.help ?? false };
}

function main(argv: string[]): number {
  const root = path.join(__dirname, '..', '..');
  const opts = parse(argv);
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { from, to } = opts;
  let before: Tree;
  let after: Tree;
  if (from) {
    before = readTreeAtRevision(from, root);
    after = to ? readTreeAtRevision(to, root) : readTree(path.join(root, 'dist'));
  } else {
    before = readTree(path.join(root, 'dist'));
    const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'diff-'));
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('../../main').synthesize(fresh);
      after = readTree(fresh);
    } finally {
      fs.rmSync(fresh, { recursive: true, force: true });
    }
  }
  const changes = diffTrees(before, after);
  process.stdout.write(opts.markdown ? formatMarkdown(changes) : formatText(changes));
  return changes.length ? 1 : 0;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(e instanceof UsageError ? `diff: ${e.message}\n\n${USAGE}` : `diff: ${(e as Error).message}\n`);
    process.exitCode = 2;
  }
}
