/**
 * `cdk8s-patterns verify`: the command line of the verifier (bin/cdk8s-patterns.js).
 * Not part of the library's API: the package's main entry does not export it.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { BinariesMissingError, findBinaries, requiredGoVersion } from './binaries';
import { Check, CHECKS, PodSecurityMode, VerifyOptions } from './checks';
import { KubeCluster, useBinDir } from './cluster';
import { inputSets, InputSet } from './input';
import { CheckOutcome, formatOutcome, verifyFiles } from './verify';

/** Exit statuses. */
export const EXIT = { ok: 0, failed: 1, usage: 2, cannotRun: 3 } as const;

export const USAGE = `usage: cdk8s-patterns <command> [options]

commands:
  verify [options] [<file|dir>...]   apply Kubernetes YAML to a real, throw-away API server and report
                                     what it says (cdk8s-patterns verify --help)
`;

export const VERIFY_USAGE = `usage: cdk8s-patterns verify [options] [<file|dir>...]

Starts etcd and kube-apiserver on loopback (a fresh, throw-away server: RBAC,
the release's admission plugins, no controllers, no nodes), applies the
manifests to it and prints one line per check. Exit status 0 only when every
check passes.

  <file|dir>   a YAML or JSON file (any number of documents, List items too),
               or a folder whose *.yaml, *.yml and *.json files are read,
               sorted by name, not recursively. All of them together are one
               set, applied to one server in the order given (default: dist,
               where \`cdk8s synth\` writes). A folder with no such files of
               its own whose sub-folders have some (dist/dev, dist/prod) gives
               one set per sub-folder, each on its own fresh server.

checks, in order (a check with nothing to do prints nothing):
  read the input        every document parses (YAML 1.1, as Kubernetes reads it)
                        and has apiVersion, kind and metadata.name; no object twice
  CRDs (--crds)         the given CustomResourceDefinitions apply and are Established
                        (Argo CD's, from the Go module cache, for argoproj.io objects
                        when no CRD for them is given)
  server-side apply     every object applied server-side (field manager
                        cdk8s-patterns, strict field validation), warnings as
                        errors; Namespaces and CRDs first, even from the same file;
                        namespaces the input uses but does not create are created
                        first, with their default ServiceAccount, as a cluster has
  namespace labels      no Namespace's pod-security.kubernetes.io/enforce label is
                        weaker than the level of --pod-security
  Pods                  a Pod from every workload template (Deployment, StatefulSet,
                        DaemonSet, ReplicaSet, ReplicationController, Job, CronJob)
                        created with dry-run: Pod Security and every other admission
                        plugin decide
  second apply          applying everything again changes nothing
  can-i (--can-i)       what each ServiceAccount of the input may do, beyond what
                        any ServiceAccount may (RBAC, as a SelfSubjectRulesReview)
A failure names the file, the object and the server's own message.

options:
  --crds <file|dir>       CustomResourceDefinitions the input's custom resources
                          need, applied first (repeatable; other kinds in them are
                          left out and counted)
  --pod-security <mode>   restricted (default) or baseline: the admission
                          configuration enforces the level on every namespace, so
                          a namespace without labels is checked too; labels: only
                          the namespaces' own pod-security.kubernetes.io labels
                          decide (a stock cluster: privileged where unlabelled)
  --can-i                 report what every ServiceAccount may do
  --no-build              do not build the binaries with Go; fail when neither
                          KUBE_BIN_DIR nor KUBEBUILDER_ASSETS is set
  -h, --help              print this help

binaries (etcd, kube-apiserver, kubectl), the first that applies:
  KUBE_BIN_DIR            a folder holding the three
  KUBEBUILDER_ASSETS      the same, as controller-runtime's envtest reads it:
                          KUBEBUILDER_ASSETS="$(setup-envtest use -p path)"
  Go ${requiredGoVersion()} or newer     on PATH or in /usr/local/go: built once from the Go
                          module pinned in this package (several minutes), cached in
                          \${XDG_CACHE_HOME:-~/.cache}/cdk8s-patterns/kube/<key>
openssl is needed too (the server's certificates).

exit status: 0 every check passed, 1 a check failed, 2 usage error,
3 the server could not be started (binaries missing, start-up failed)

pipeline: cdk8s synth && npx cdk8s-patterns verify dist/
`;

/** Parsed `verify` arguments. */
export interface VerifyArgs {
  readonly paths: string[];
  readonly options: VerifyOptions;
  readonly build: boolean;
}

/** Parses `verify`'s arguments; throws a usage error. */
export function parseVerifyArgs(args: string[]): VerifyArgs | 'help' {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      'crds': { type: 'string', multiple: true },
      'pod-security': { type: 'string' },
      'can-i': { type: 'boolean' },
      'no-build': { type: 'boolean' },
      'help': { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const podSecurity = values['pod-security'] ?? 'restricted';
  if (!['restricted', 'baseline', 'labels'].includes(podSecurity)) {
    throw new Error(`--pod-security must be restricted, baseline or labels, got ${podSecurity}`);
  }
  const crds = values.crds ?? [];
  for (const c of crds) if (!fs.existsSync(c)) throw new Error(`--crds ${c}: no such file or folder`);
  return {
    paths: positionals.length ? positionals : ['dist'],
    options: { crds, podSecurity: podSecurity as PodSecurityMode, canI: values['can-i'] ?? false },
    build: !values['no-build'],
  };
}

/** Runs `cdk8s-patterns <args>`; resolves to the exit status. */
export async function main(
  args: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
  extraChecks: readonly Check[] = [],
): Promise<number> {
  const [command, ...rest] = args;
  if (command === '-h' || command === '--help') {
    out(USAGE);
    return EXIT.ok;
  }
  if (command !== 'verify') {
    err(`${command === undefined ? 'a command is required' : `unknown command ${command}`}\n${USAGE}`);
    return EXIT.usage;
  }
  let parsed: VerifyArgs | 'help';
  let sets: InputSet[];
  try {
    parsed = parseVerifyArgs(rest);
    if (parsed === 'help') {
      out(VERIFY_USAGE);
      return EXIT.ok;
    }
    sets = inputSets(parsed.paths);
  } catch (e) {
    err(`cdk8s-patterns verify: ${(e as Error).message}\n(cdk8s-patterns verify --help)\n`);
    return EXIT.usage;
  }
  try {
    const found = findBinaries({ build: parsed.build });
    useBinDir(found.dir);
    out(`binaries: ${found.from}\n`);
  } catch (e) {
    if (!(e instanceof BinariesMissingError)) throw e;
    err(`${e.message}\n`);
    return EXIT.cannotRun;
  }
  const mode = parsed.options.podSecurity;
  let failed = 0;
  let cluster: KubeCluster | undefined;
  // Ctrl-C or a pipeline's timeout: stop etcd and kube-apiserver (their own process groups) before
  // exiting; while one is starting, exiting kills them (KubeCluster's exit handler)
  const onSignal = (signal: NodeJS.Signals) => {
    err(`${signal}: stopping the API server\n`);
    const exit = () => process.exit(signal === 'SIGINT' ? 130 : 143);
    if (cluster) void cluster.stop().finally(exit);
    else exit();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (const set of sets) {
      try {
        cluster = await KubeCluster.start(mode === 'labels' ? {} : { podSecurity: mode });
      } catch (e) {
        err(`could not start the API server: ${(e as Error).message}\n`);
        return EXIT.cannotRun;
      }
      try {
        out(
          `\n${set.label}: kube-apiserver ${await cluster.version()} (ready in ${(cluster.startupMs / 1000).toFixed(1)} s), ` +
            `Pod Security ${mode === 'labels' ? 'from namespace labels' : `${mode} on every namespace`}\n`,
        );
        const outcomes: CheckOutcome[] = await verifyFiles(cluster, set.files, parsed.options, (o) => out(`${formatOutcome(o).join('\n')}\n`), [
          ...CHECKS,
          ...extraChecks,
        ]);
        failed += outcomes.filter((o) => !o.ok).length;
      } finally {
        const stopping = cluster;
        cluster = undefined;
        await stopping.stop();
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  out(failed ? `\n${failed} check(s) failed\n` : '\nevery check passed\n');
  return failed ? EXIT.failed : EXIT.ok;
}
