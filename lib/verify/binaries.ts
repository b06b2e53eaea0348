/**
 * Where the verify command gets etcd, kube-apiserver and kubectl, the way
 * the ecosystem finds them: KUBE_BIN_DIR, else KUBEBUILDER_ASSETS (what
 * controller-runtime's envtest reads; setup-envtest fills such a folder),
 * else, where Go is installed, built from the Go module pinned in this
 * package (tools/kube) by scripts/kube/build.sh, cached under the key of
 * scripts/gobin/key.sh, the same build the repository's tests use.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const BUILD_SH = path.join(ROOT, 'scripts', 'kube', 'build.sh');
const GO_MOD = path.join(ROOT, 'tools', 'kube', 'go.mod');
export const BINARIES = ['etcd', 'kube-apiserver', 'kubectl'] as const;

/** The binaries could not be found or built; the message says how to get them. */
export class BinariesMissingError extends Error {}

/** Where the binaries are and how they were found. */
export interface FoundBinaries {
  readonly dir: string;
  /** `KUBEBUILDER_ASSETS`, `KUBE_BIN_DIR`, or how they were built. */
  readonly from: string;
}

/** The one message that says how to get the binaries. */
export function howToGetBinaries(goVersion: string): string {
  return (
    'cdk8s-patterns verify needs etcd, kube-apiserver and kubectl: set KUBEBUILDER_ASSETS to a folder holding the three ' +
    '(as envtest does: KUBEBUILDER_ASSETS="$(setup-envtest use -p path)", setup-envtest from sigs.k8s.io/controller-runtime/tools/setup-envtest), ' +
    `or KUBE_BIN_DIR to such a folder, or install Go ${goVersion} or newer (https://go.dev/dl/) and verify builds them once from the module pinned in this package ` +
    '(several minutes, cached in ${XDG_CACHE_HOME:-~/.cache}/cdk8s-patterns/kube)'
  );
}

/** The `go` line of the pinned module: the oldest Go that builds it. */
export function requiredGoVersion(): string {
  return /^go (\S+)$/m.exec(fs.readFileSync(GO_MOD, 'utf8'))?.[1] ?? 'unknown';
}

function checkDir(dir: string, variable: string): void {
  const missing = BINARIES.filter((b) => {
    try {
      fs.accessSync(path.join(dir, b), fs.constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length)
    throw new BinariesMissingError(`${variable}=${dir} has no executable ${missing.join(', ')} (it must hold etcd, kube-apiserver and kubectl)`);
}

/** `go` on PATH, else /usr/local/go/bin/go (where the official tarball goes), with its version. */
function findGo(): { go: string; version: string } | undefined {
  for (const go of ['go', '/usr/local/go/bin/go']) {
    try {
      const version = execFileSync(go, ['env', 'GOVERSION'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        env: { ...process.env, GOTOOLCHAIN: 'local' },
      }).trim();
      return { go, version: version.replace(/^go/, '') };
    } catch {
      /* not this one */
    }
  }
  return undefined;
}

/** a >= b for Go versions (1.26.0, 1.26rc1 counts as 1.26). */
function atLeast(a: string, b: string): boolean {
  const parts = (v: string) =>
    v
      .split(/[.a-z]/)
      .filter(Boolean)
      .slice(0, 3)
      .map(Number);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return true;
}

/**
 * Finds the binaries, building them with Go when allowed (`build`) and
 * needed; build progress goes to stderr. Throws BinariesMissingError.
 */
export function findBinaries(options: { build: boolean }): FoundBinaries {
  for (const variable of ['KUBE_BIN_DIR', 'KUBEBUILDER_ASSETS'] as const) {
    const dir = process.env[variable];
    if (dir) {
      checkDir(dir, variable);
      return { dir, from: variable };
    }
  }
  const required = requiredGoVersion();
  const go = options.build ? findGo() : undefined;
  if (!go) throw new BinariesMissingError(`${howToGetBinaries(required)}${options.build ? '' : ' (not with --no-build)'}`);
  if (!atLeast(go.version, required)) {
    throw new BinariesMissingError(`${go.go} is Go ${go.version}; the pinned module needs ${required} or newer. ${howToGetBinaries(required)}`);
  }
  const PATH = go.go === 'go' ? process.env.PATH : `${path.dirname(go.go)}:${process.env.PATH ?? '/usr/bin:/bin'}`;
  // the module is built on its own, whatever go.work the caller's folder has
  const env = { ...process.env, PATH, GOWORK: 'off' };
  const r = spawnSync('bash', [BUILD_SH], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', env });
  const dir = r.stdout?.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !dir) {
    throw new BinariesMissingError(
      `building etcd, kube-apiserver and kubectl with Go ${go.version} failed (${r.error?.message ?? `exit ${r.status}`}, see above). ` +
        howToGetBinaries(required),
    );
  }
  checkDir(dir, 'the build folder');
  return { dir, from: `built with Go ${go.version} from the module pinned in cdk8s-patterns (${dir})` };
}
