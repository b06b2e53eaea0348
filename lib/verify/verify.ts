/**
 * Runs the checks (./checks.ts) on one set of files on a real API server,
 * printing one line per check and, under a failed one, one line per failure:
 * the file, the object and the server's own message.
 */
import { Check, CheckResult, CHECKS, Failure, VerifyContext, VerifyOptions } from './checks';
import { KubeCluster } from './cluster';

/** What a check printed and whether it passed. */
export interface CheckOutcome extends CheckResult {
  readonly id: string;
  readonly title: string;
  readonly ok: boolean;
}

/** `dist/a.yaml: Deployment shop/web: <message>` (document number when the file holds several). */
export function formatFailure(f: Failure): string {
  const where = f.file ? `${f.file}${f.document && f.document > 1 ? ` (document ${f.document})` : ''}: ` : '';
  return `${where}${f.object ? `${f.object}: ` : ''}${f.message}`;
}

/** The lines of one check's outcome. */
export function formatOutcome(o: CheckOutcome): string[] {
  return [
    `${o.ok ? 'ok  ' : 'FAIL'}  ${o.title}: ${o.summary}`,
    ...o.failures.map((f) => `        ${formatFailure(f)}`),
    ...(o.notes ?? []).map((n) => `        ${n}`),
  ];
}

/** Runs `checks` on `files` against a started cluster; `report` gets each outcome as it comes. */
export async function verifyFiles(
  cluster: KubeCluster,
  files: readonly string[],
  options: VerifyOptions,
  report: (o: CheckOutcome) => void = () => undefined,
  checks: readonly Check[] = CHECKS,
): Promise<CheckOutcome[]> {
  const ctx = new VerifyContext(cluster, files, options);
  const outcomes: CheckOutcome[] = [];
  for (const check of checks) {
    if (check.enabled && !check.enabled(ctx)) continue;
    let result: CheckResult;
    try {
      result = await check.run(ctx);
    } catch (e) {
      result = { summary: 'could not run', failures: [{ message: e instanceof Error ? e.message : String(e) }] };
    }
    const outcome = { id: check.id, title: check.title, ok: result.failures.length === 0, ...result };
    outcomes.push(outcome);
    report(outcome);
  }
  return outcomes;
}
