/**
 * What `npm run lint` would say, per file, and what would be left after `npm run format`:
 *
 *   npm run lint:report              one line per file that fails lint: its ESLint problems by rule,
 *                                    "unformatted" when prettier would rewrite it, and the problems
 *                                    `npm run format` cannot fix (see scripts/format.ts), which need a hand
 *   npm run lint:report -- --json    the same as JSON
 *
 * Nothing is written: "after format" runs the steps of `npm run format` in memory.
 * Exit 0 when every file passes, 1 when some file fails.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ESLint } from 'eslint';
import * as prettier from 'prettier';
import { splitSource } from './split-long-lines';

const ROOT = path.join(__dirname, '..');

export interface FileReport {
  /** Repository-relative path. */
  readonly file: string;
  /** ESLint problems today, counted by rule (`(directive)` for unused eslint-disable comments). */
  readonly eslint: Record<string, number>;
  /** Prettier would rewrite the file. */
  readonly unformatted: boolean;
  /** What `npm run format` leaves: ESLint problems of the formatted, fixed and split text, as `line:rule`. */
  readonly afterFormat: string[];
}

/** Files in the repository (tracked and new, not ignored by git). */
function repositoryFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' });
  return out
    .split('\0')
    .filter((f) => f !== '' && fs.existsSync(path.join(ROOT, f)))
    .sort();
}

const countByRule = (messages: { ruleId: string | null }[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const m of messages) counts[m.ruleId ?? '(directive)'] = (counts[m.ruleId ?? '(directive)'] ?? 0) + 1;
  return counts;
};

export async function lintReport(): Promise<FileReport[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const fixer = new ESLint({ cwd: ROOT, fix: true });
  const ignorePath = path.join(ROOT, '.prettierignore');
  const reports: FileReport[] = [];
  for (const file of repositoryFiles()) {
    const abs = path.join(ROOT, file);
    const linted = !(await eslint.isPathIgnored(abs)) && (await eslint.calculateConfigForFile(abs)) !== undefined;
    const info = await prettier.getFileInfo(abs, { ignorePath });
    const formatted = !info.ignored && info.inferredParser !== null;
    if (!linted && !formatted) continue;
    const source = fs.readFileSync(abs, 'utf8');
    const options = formatted ? { ...(await prettier.resolveConfig(abs)), filepath: abs } : undefined;
    const pretty = options ? await prettier.format(source, options) : source;
    const now = linted ? (await eslint.lintText(source, { filePath: abs }))[0]!.messages : [];
    // what npm run format does (scripts/format.ts): prettier, eslint --fix, long lines split, prettier
    let after: { ruleId: string | null; line: number }[] = [];
    if (linted) {
      const fixed = (await fixer.lintText(pretty, { filePath: abs }))[0]!.output ?? pretty;
      const split = options ? (await splitSource(fixed, abs)).source : fixed;
      const final = options ? await prettier.format(split, options) : split;
      after = (await eslint.lintText(final, { filePath: abs }))[0]!.messages;
    }
    const report: FileReport = {
      file,
      eslint: countByRule(now),
      unformatted: pretty !== source,
      afterFormat: after.map((m) => `${m.line}:${m.ruleId ?? '(directive)'}`),
    };
    if (now.length || report.unformatted || after.length) reports.push(report);
  }
  return reports;
}

function render(reports: FileReport[]): string {
  if (!reports.length) return 'lint: every file passes\n';
  const lines = reports.map((r) => {
    const rules = Object.entries(r.eslint)
      .sort((a, b) => b[1] - a[1])
      .map(([rule, n]) => `${rule} ${n}`);
    const today = [...rules, ...(r.unformatted ? ['unformatted'] : [])].join(', ');
    const byHand = r.afterFormat.length ? `; after npm run format, by hand: ${r.afterFormat.join(' ')}` : '; npm run format fixes all';
    return `${r.file}: ${today}${byHand}`;
  });
  const manual = reports.reduce((n, r) => n + r.afterFormat.length, 0);
  return `${lines.join('\n')}\n\nlint: ${reports.length} file(s) fail; ${manual} problem(s) remain after npm run format\n`;
}

async function main(argv: string[]): Promise<number> {
  for (const a of argv) {
    if (a !== '--json') {
      process.stderr.write(`lint-report: unknown argument ${a}\nusage: npm run lint:report [-- --json]\n`);
      return 2;
    }
  }
  const reports = await lintReport();
  process.stdout.write(argv.includes('--json') ? `${JSON.stringify(reports, null, 2)}\n` : render(reports));
  return reports.length ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err) => {
      process.stderr.write(`lint-report: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
