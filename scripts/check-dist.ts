/**
 * Drift check for pipelines: synthesizes into a temporary folder, compares it
 * with the committed dist/ and prints a unified diff. Exit 0 when identical,
 * 1 when dist/ is stale or hand-edited, 2 on a usage error or when the synth
 * itself failed.
 *
 *   npm run check:dist            # compare with ./dist
 *   npm run check:dist -- <dir>   # compare with another folder
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { synthesize } from '../main';

export interface DriftResult {
  readonly identical: boolean;
  /** Unified diff (committed → fresh), empty when identical. */
  readonly diff: string;
  /** Files only in the committed folder, only in the fresh synth, or in both but different. */
  readonly changedFiles: string[];
}

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => fs.statSync(path.join(dir, f)).isFile())
    .sort();
}

/** Compares two folders file by file; `diff -ruN` renders the differences. */
export function compareDirs(committed: string, fresh: string): DriftResult {
  const a = listFiles(committed);
  const b = listFiles(fresh);
  const changed = [...new Set([...a, ...b])].sort().filter((f) => {
    const pa = path.join(committed, f);
    const pb = path.join(fresh, f);
    return !fs.existsSync(pa) || !fs.existsSync(pb) || !fs.readFileSync(pa).equals(fs.readFileSync(pb));
  });
  if (!changed.length) return { identical: true, diff: '', changedFiles: [] };
  const r = spawnSync('diff', ['-ruN', committed, fresh], { encoding: 'utf8' });
  // name the two sides "committed/<file>" and "fresh/<file>" instead of temporary paths
  const diff = r.error
    ? `(diff unavailable: ${r.error.message})\n${changed.join('\n')}`
    : r.stdout
        .split(`${committed}${path.sep}`)
        .join('committed/')
        .split(`${fresh}${path.sep}`)
        .join('fresh/')
        .split(committed)
        .join('committed')
        .split(fresh)
        .join('fresh');
  return { identical: false, diff, changedFiles: changed };
}

/** Synthesizes main.ts into a temporary folder and compares it with `committed`. */
export function checkDist(committed: string): DriftResult {
  const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'check-dist-'));
  try {
    synthesize(fresh);
    return compareDirs(committed, fresh);
  } finally {
    fs.rmSync(fresh, { recursive: true, force: true });
  }
}

export const USAGE = `usage: npm run check:dist [-- DIR]

Synthesizes main.ts into a temporary folder and compares it with the
committed manifests (DIR, default dist/); prints a unified diff when they differ.

  -h, --help   print this help

exit status: 0 identical, 1 DIR is stale or hand-edited, 2 usage error or synth failure
`;

if (require.main === module) {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      strict: true,
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h', default: false } },
    });
    if (parsed.positionals.length > 1) throw new Error(`at most one folder, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}`);
  } catch (e) {
    process.stderr.write(`check:dist: ${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const committed = path.resolve(parsed.positionals[0] ?? 'dist');
  if (!fs.existsSync(committed) || !fs.statSync(committed).isDirectory()) {
    process.stderr.write(`check:dist: ${parsed.positionals[0] ?? 'dist'} is not a folder\n\n${USAGE}`);
    process.exit(2);
  }
  let result: DriftResult;
  try {
    result = checkDist(committed);
  } catch (e) {
    process.stderr.write(`check:dist: synth failed: ${(e as Error).message}\n`);
    process.exit(2);
  }
  if (result.identical) {
    process.stdout.write(`check:dist: ${path.relative(process.cwd(), committed) || '.'} matches a fresh synth\n`);
  } else {
    process.stdout.write(result.diff);
    process.stderr.write(
      `\ncheck:dist: ${result.changedFiles.length} file(s) differ from a fresh synth: ${result.changedFiles.join(', ')}\n` +
        'run `npm run synth` and commit dist/\n',
    );
    process.exitCode = 1;
  }
}
