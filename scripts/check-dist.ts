/**
 * Drift check for pipelines: synthesizes into a temporary folder, compares it
 * with the committed dist/ and prints a unified diff. Exit 0 when identical,
 * 1 when dist/ is stale or hand-edited, 2 when the synth itself failed.
 *
 *   npm run check:dist            # compare with ./dist
 *   npm run check:dist -- <dir>   # compare with another folder
 */
import { spawnSync } from 'node:child_process';
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
  return fs.readdirSync(dir, { recursive: true }).map(String)
    .filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
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
  const diff = r.error ? `(diff unavailable: ${r.error.message})\n${changed.join('\n')}`
    : r.stdout.split(`${committed}${path.sep}`).join('committed/').split(`${fresh}${path.sep}`).join('fresh/')
      .split(committed).join('committed').split(fresh).join('fresh');
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

if (require.main === module) {
  const committed = path.resolve(process.argv[2] ?? 'dist');
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
    process.stderr.write(`\ncheck:dist: ${result.changedFiles.length} file(s) differ from a fresh synth: ${result.changedFiles.join(', ')}\n`
      + 'run `npm run synth` and commit dist/\n');
    process.exitCode = 1;
  }
}
