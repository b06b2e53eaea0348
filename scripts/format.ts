/**
 * `npm run format`: lays out the code so that `npm run lint` passes where a machine can make it pass.
 *
 *   1. prettier --write (the layout, .prettierrc.json)
 *   2. eslint --fix (what its rules fix themselves, e.g. unused eslint-disable comments)
 *   3. scripts/split-long-lines.ts: strings, regular expressions and comments that keep a line over
 *      150 characters are cut (values unchanged), prettier lays each file out again
 *   4. prettier --write once more (step 2 may leave layout to redo), then eslint: what it still reports needs a hand
 *
 * Exit 0 when lint passes afterwards, 1 when something is left (listed by eslint).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { formattedFiles, splitLongLines } from './split-long-lines';

const ROOT = path.join(__dirname, '..');
const bin = (pkg: string, file: string) => path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'bin', file);
const PRETTIER = [bin('prettier', 'prettier.cjs'), '--write', '--cache', '--log-level', 'warn', '.'];
const ESLINT = [bin('eslint', 'eslint.js'), '--cache', '--cache-location', 'node_modules/.cache/eslint/', '.'];

function run(args: string[]): number {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

async function main(): Promise<number> {
  if (run(PRETTIER) !== 0) return 1;
  // problems it cannot fix are reported at the end
  spawnSync(process.execPath, [...ESLINT, '--fix', '--quiet', '--format', 'json'], { cwd: ROOT, stdio: 'ignore' });
  for (const file of await formattedFiles()) {
    const n = await splitLongLines(file);
    if (n) process.stdout.write(`format: ${path.relative(ROOT, file)}: ${n} long line(s) split\n`);
  }
  if (run(PRETTIER) !== 0) return 1;
  return run(ESLINT) === 0 ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    process.stderr.write(`format: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 2;
  },
);
