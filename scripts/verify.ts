/**
 * `npm run verify [-- <options> <file|dir>...]`: the package's own
 * `cdk8s-patterns verify` (lib/verify), plus one check that only this
 * repository has: the practice checkers platform teams run in CI, kube-score
 * v1.20.0 and kubectl-validate (scripts/checkers, built from Go modules; the
 * switched-off kube-score checks are the one list in
 * scripts/checkers/kube-score-ignore.json). `cdk8s-patterns verify --help`
 * lists the options.
 */
import * as path from 'node:path';
import { Check, CheckResult } from '../lib/verify/checks';
import { main } from '../lib/verify/cli';
import { loadIgnoreList, runKubeScore, runKubectlValidate } from './checkers/run';

/** kube-score finds no CRITICAL or WARNING (beyond the ignore list) and kubectl-validate refuses nothing. */
export const PRACTICE_CHECK: Check = {
  id: 'practice',
  title: 'kube-score and kubectl-validate find nothing',
  async run(ctx): Promise<CheckResult> {
    const files = [...ctx.files];
    const score = runKubeScore(files, loadIgnoreList());
    const invalid = runKubectlValidate(files);
    const critical = score.filter((f) => f.grade === 'CRITICAL').length;
    // the same spelling as the other checks: a path relative to here, `Kind namespace/name`
    const rel = (f: string) => path.relative(process.cwd(), f);
    const object = (o: string) => o.replace(/^([^/]+)\//, '$1 ');
    return {
      summary:
        `kube-score ${critical} CRITICAL, ${score.length - critical} WARNING; ` +
        `kubectl-validate ${invalid.length} error(s) in ${files.length} file(s)`,
      failures: [
        ...score.map((f) => ({ file: rel(f.file), object: object(f.object), message: `kube-score [${f.grade}] ${f.check}: ${f.message}` })),
        ...invalid.map((f) => ({ file: rel(f.file), message: `kubectl-validate: ${f.message}` })),
      ],
    };
  },
};

if (require.main === module) {
  main(['verify', ...process.argv.slice(2)], undefined, undefined, [PRACTICE_CHECK]).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`verify: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
