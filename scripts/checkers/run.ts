/**
 * The practice checkers platform teams run on generated manifests, run on
 * ours: kube-score v1.20.0 and kubectl-validate (Kubernetes 1.28 schemas,
 * offline), both built from Go modules in tools/checkers by ./build.sh.
 *
 *   npm run score [-- <dir|file>...]    (default: dist/)
 *
 * A folder is checked as one set (its YAML files, or each sub-folder that has
 * YAML, as `npm run verify` does); a file on its own. kube-score runs with the
 * checks listed in ./kube-score-ignore.json switched off (each with its
 * reason; docs/testing.md shows the list), so any CRITICAL or WARNING left is
 * a failure, as is any object kubectl-validate refuses. Exits 1 if there is any.
 *
 * Importable: {@link checkPaths} returns the same reports the CLI prints.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { argoCdCrdFiles } from '../kube/apply';

const BUILD_SH = path.join(__dirname, 'build.sh');
/** The one list of switched-off kube-score checks, each with its reason. */
export const IGNORE_FILE = path.join(__dirname, 'kube-score-ignore.json');
/** The Kubernetes version both checkers check against. */
export const KUBERNETES_VERSION = '1.28';

/** A kube-score check switched off, and why. */
export interface IgnoredCheck {
  /** kube-score check id, e.g. `container-image-pull-policy`. */
  readonly check: string;
  /** Why it does not apply to these manifests. */
  readonly reason: string;
  /**
   * Folders (relative to the repository) it is switched off for.
   * @default - everywhere
   */
  readonly paths?: string[];
}

/** One CRITICAL or WARNING from kube-score. */
export interface ScoreFinding {
  readonly grade: 'CRITICAL' | 'WARNING';
  /** `Kind/namespace/name`. */
  readonly object: string;
  /** kube-score check id. */
  readonly check: string;
  /** What kube-score says, per container or path. */
  readonly message: string;
  readonly file: string;
}

/** One object kubectl-validate refuses. */
export interface ValidateFinding {
  readonly file: string;
  readonly message: string;
}

/** What both checkers say about one folder (or file). */
export interface CheckReport {
  /** The folder or file checked. */
  readonly path: string;
  /** The YAML files in it. */
  readonly files: string[];
  readonly kubeScore: ScoreFinding[];
  readonly kubectlValidate: ValidateFinding[];
}

let binDir: string | undefined;

/** Where ./build.sh keeps kube-score and kubectl-validate, building them first if needed. */
export function checkersBinDir(): string {
  if (binDir) return binDir;
  const r = spawnSync('bash', [BUILD_SH], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`bash scripts/checkers/build.sh failed (exit ${r.status}):\n${r.stderr}`);
  binDir = r.stdout.trim().split('\n').pop()!;
  return binDir;
}

/** The switched-off kube-score checks, each with its reason. */
export function loadIgnoreList(file: string = IGNORE_FILE): IgnoredCheck[] {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  const list: IgnoredCheck[] = doc.ignore;
  if (!Array.isArray(list)) throw new Error(`${file}: "ignore" must be a list of { check, reason }`);
  for (const e of list) {
    if (typeof e?.check !== 'string' || !/^[a-z0-9-]+$/.test(e.check) || typeof e.reason !== 'string' || e.reason.trim().length < 20) {
      throw new Error(`${file}: every entry needs a kube-score check id and a reason, got ${JSON.stringify(e)}`);
    }
    if (e.paths !== undefined && (!Array.isArray(e.paths) || !e.paths.length || e.paths.some((p) => typeof p !== 'string' || path.isAbsolute(p)))) {
      throw new Error(`${file}: paths of "${e.check}" must list folders relative to the repository, got ${JSON.stringify(e.paths)}`);
    }
  }
  return list;
}

/** The YAML files of a folder (sorted), or the file itself. */
function yamlFiles(p: string): string[] {
  if (!fs.statSync(p).isDirectory()) return [p];
  return fs
    .readdirSync(p)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => path.join(p, f));
}

/** The sets to check for each argument: a file; a folder with YAML; else each sub-folder that has YAML. */
export function checkTargets(args: string[]): { path: string; files: string[] }[] {
  return args.flatMap((a) => {
    const p = path.resolve(a);
    if (!fs.existsSync(p)) throw new Error(`${a}: no such file or folder`);
    if (!fs.statSync(p).isDirectory()) return [{ path: p, files: [p] }];
    const own = yamlFiles(p);
    if (own.length) return [{ path: p, files: own }];
    const subs = fs
      .readdirSync(p)
      .map((d) => path.join(p, d))
      .filter((d) => fs.statSync(d).isDirectory())
      .sort()
      .map((d) => ({ path: d, files: yamlFiles(d) }))
      .filter((t) => t.files.length);
    if (!subs.length) throw new Error(`${a}: no YAML files in it or its sub-folders`);
    return subs;
  });
}

const ROOT = path.resolve(__dirname, '..', '..');

/** Whether an entry switches its check off for `file` (everywhere, or under one of its paths). */
function ignoredFor(e: IgnoredCheck, file: string): boolean {
  return e.paths === undefined || e.paths.some((p) => !path.relative(path.join(ROOT, p), path.resolve(file)).startsWith('..'));
}

/** kube-score on a set of files, with the ignore list; every CRITICAL and WARNING left. */
export function runKubeScore(files: string[], ignore: IgnoredCheck[] = loadIgnoreList()): ScoreFinding[] {
  const args = [
    'score',
    '--output-format',
    'json',
    '--kubernetes-version',
    `v${KUBERNETES_VERSION}`,
    ...ignore.filter((e) => e.paths === undefined).flatMap((e) => ['--ignore-test', e.check]),
    ...files,
  ];
  const scoped = ignore.filter((e) => e.paths !== undefined);
  const r = spawnSync(path.join(checkersBinDir(), 'kube-score'), args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  let scored: any[];
  try {
    scored = JSON.parse(r.stdout) ?? [];
  } catch {
    // objects it cannot even parse (kubectl-validate says which field): one finding, not a crash
    if (/failed to parse files/i.test(r.stderr)) {
      return [{ grade: 'CRITICAL', object: files.map((f) => path.basename(f)).join(', '), check: 'parse', message: r.stderr.trim(), file: files[0] }];
    }
    throw new Error(`kube-score failed (exit ${r.status}):\n${r.stderr}${r.stdout.slice(0, 2000)}`);
  }
  const out: ScoreFinding[] = [];
  for (const o of scored) {
    const ns = o.object_meta?.namespace;
    const object = [o.type_meta?.kind, ns, o.object_meta?.name].filter(Boolean).join('/');
    for (const c of o.checks ?? []) {
      if (c.skipped || (c.grade !== 1 && c.grade !== 5)) continue;
      if (scoped.some((e) => e.check === c.check?.id && ignoredFor(e, o.file_name))) continue;
      const grade = c.grade === 1 ? 'CRITICAL' : 'WARNING';
      const comments: any[] = c.comments ?? [];
      const message = comments.length
        ? comments.map((x) => [x.path, x.summary].filter(Boolean).join(': ')).join('; ')
        : (c.check?.comment ?? c.check?.name);
      out.push({ grade, object, check: c.check?.id, message, file: o.file_name });
    }
  }
  return out.sort((a, b) => a.object.localeCompare(b.object) || a.check.localeCompare(b.check));
}

/** kubectl-validate on a set of files against the embedded 1.28 schemas (and Argo CD's CRDs when used); every refusal. */
export function runKubectlValidate(files: string[]): ValidateFinding[] {
  const args = ['--version', KUBERNETES_VERSION, '--output', 'json'];
  let crdDir: string | undefined;
  const usesArgo = files.some((f) =>
    parseAllDocuments(fs.readFileSync(f, 'utf8')).some((d) => String((d.toJS() as any)?.apiVersion ?? '').startsWith('argoproj.io/')),
  );
  if (usesArgo) {
    crdDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubectl-validate-crds-'));
    for (const f of argoCdCrdFiles()) fs.copyFileSync(f, path.join(crdDir, path.basename(f)));
    args.push('--local-crds', crdDir);
  }
  try {
    const r = spawnSync(path.join(checkersBinDir(), 'kubectl-validate'), [...args, ...files], {
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    if (r.error) throw r.error;
    let byFile: Record<string, any[]>;
    try {
      byFile = JSON.parse(r.stdout);
    } catch {
      throw new Error(`kubectl-validate failed (exit ${r.status}):\n${r.stderr}${r.stdout.slice(0, 2000)}`);
    }
    const out: ValidateFinding[] = [];
    for (const [file, statuses] of Object.entries(byFile)) {
      for (const s of statuses) if (s.status !== 'Success') out.push({ file, message: s.message ?? JSON.stringify(s) });
    }
    if (r.status !== 0 && !out.length) throw new Error(`kubectl-validate exited ${r.status} without naming a file:\n${r.stderr}`);
    return out;
  } finally {
    if (crdDir) fs.rmSync(crdDir, { recursive: true, force: true });
  }
}

/** Both checkers on every set {@link checkTargets} finds in `args`. */
export function checkPaths(args: string[], ignore: IgnoredCheck[] = loadIgnoreList()): CheckReport[] {
  return checkTargets(args).map((t) => ({ ...t, kubeScore: runKubeScore(t.files, ignore), kubectlValidate: runKubectlValidate(t.files) }));
}

/** One line per problem, indented, for a report. */
export function formatReport(r: CheckReport): string {
  const rel = (p: string) => path.relative(process.cwd(), p) || '.';
  const crit = r.kubeScore.filter((f) => f.grade === 'CRITICAL').length;
  const lines = [
    `${rel(r.path)}: kube-score ${crit} CRITICAL, ${r.kubeScore.length - crit} WARNING; ` +
      `kubectl-validate ${r.files.length} file(s), ${r.kubectlValidate.length} error(s)`,
  ];
  for (const f of r.kubeScore) lines.push(`  [${f.grade}] ${f.object}: ${f.check}: ${f.message}`);
  for (const f of r.kubectlValidate) lines.push(`  [kubectl-validate] ${rel(f.file)}: ${f.message}`);
  return lines.join('\n');
}

function main(): number {
  const args = process.argv.slice(2);
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write('usage: npm run score [-- <dir|file>...]   (default: dist/)\n');
    return 0;
  }
  const ignore = loadIgnoreList();
  const switchedOff = ignore.map((e) => `  ${e.check}${e.paths ? ` (in ${e.paths.join(', ')})` : ''}: ${e.reason}`);
  process.stdout.write(`kube-score checks switched off (${path.relative(process.cwd(), IGNORE_FILE)}):\n${switchedOff.join('\n')}\n\n`);
  let problems = 0;
  for (const r of checkPaths(args.length ? args : ['dist'], ignore)) {
    process.stdout.write(`${formatReport(r)}\n`);
    problems += r.kubeScore.length + r.kubectlValidate.length;
  }
  process.stdout.write(problems ? `\n${problems} problem(s)\n` : '\nno CRITICAL, no WARNING, every object valid\n');
  return problems ? 1 : 0;
}

if (require.main === module) {
  try {
    process.exitCode = main();
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : e}\n`);
    process.exitCode = 1;
  }
}
