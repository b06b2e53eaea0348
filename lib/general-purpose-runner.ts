import * as path from 'node:path';
import { ApiObject, Chart, Cron, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import {
  DNS_EGRESS, EXPOSE_OPTION_NAMES, EgressOptions, ExposeOptions, ResolvedExpose, WorkloadNetworkPolicy, apiServerEgress, exposeWorkload, resolveExpose,
} from './expose';
import { FileEntry, inlineFiles, readLocalDirectory, readLocalFile, toConfigMapData } from './files';
import {
  BundleFormat, KNOWN_INTERPRETERS, RUNNER_PRESETS, RunnerPreset, RunnerPresetName, UnpackTool,
} from './general-purpose-runner/presets';
import { validateCronSchedule } from './general-purpose-runner/schedule';
import { addChecksumAnnotation } from './hash';
import { validateImage } from './image';
import { BUSYBOX_IMAGE } from './images';
import { applyLabels, recommendedLabels, selectPods, selectorLabels, spreadOverNodes } from './labels';
import { DEFAULT_RESOURCES, DEFAULT_RUN_AS_USER, hardenedContainer, hardenedPodProps, resolveSizeLimit } from './security';
import {
  CLUSTER_SCOPED_RESOURCES, pathIsWithin, validateAbsolutePath, validateBoolean, validateConfigMapKey, validateDnsLabel, validateDnsSubdomain,
  validateEnvVariables, validateHttpPath, validateNonEmptyText, validateOneOf, validatePositiveInteger, validateRbacVerb,
  validateApiGroup, validateCidr, validateKnownProps, validateLabelValue, validateList, validatePort, validateUniqueList, validateRbacResource, validateRbacResourceGroups, validateResources, validateTimeZone, validateUnprivilegedPort,
} from './validate';

export { CRON_MACROS, validateCronSchedule } from './general-purpose-runner/schedule';
export { RUNNER_PRESETS } from './general-purpose-runner/presets';
export type { BundleFormat, RunnerPreset, RunnerPresetName, UnpackTool } from './general-purpose-runner/presets';

/** How a runner runs. */
export enum RunnerMode {
  /** A long-running server: Deployment + Service (and the shared exposure). */
  SERVICE = 'service',
  /** A one-shot Job. */
  JOB = 'job',
  /** A CronJob. */
  CRONJOB = 'cronjob',
}

/** Where the bootstrap init container sees the bundle ConfigMap. */
export const BUNDLE_SOURCE_PATH = '/opt/bundle-source';

const UNPACK_SCRIPT = 'unpack.py';
const UNPACK_SCRIPT_FILE = path.join(__dirname, 'general-purpose-runner', UNPACK_SCRIPT);

/**
 * One RBAC rule for the runner's ServiceAccount.
 */
export interface RunnerPolicyRule {
  /**
   * API groups of the resources.
   * @default [''] - the core group (pods, configmaps, namespaces, ...)
   */
  readonly apiGroups?: string[];
  /** Resources, e.g. `namespaces` or `pods/log`. */
  readonly resources: string[];
  /** Verbs, e.g. `get`, `list`, `watch`. */
  readonly verbs: string[];
  /**
   * Restrict the rule to these object names.
   * @default - all objects of the resources
   */
  readonly resourceNames?: string[];
}

/**
 * Props for {@link GeneralPurposeRunner}. The Service, Ingress,
 * NetworkPolicy and PodDisruptionBudget options ({@link ExposeOptions}) apply
 * to mode 'service' only. Every mode gets a NetworkPolicy covering ingress and
 * egress (a Job or CronJob one that lets nothing in): egress to DNS, to the
 * API server when there are `rules` or `clusterRules`, and to what
 * {@link GeneralPurposeRunner.allowEgressTo} adds (scripts call what they call:
 * declare it).
 */
export interface GeneralPurposeRunnerProps extends ExposeOptions {
  /**
   * Name of the workload and base name of every object it creates
   * (`<name>-scripts`, `<name>-bundle`); also the container name.
   * @default 'runner'
   */
  readonly name?: string;
  /**
   * Inline scripts: relative path (e.g. `main.py` or `lib/util.py`) to content.
   * @default - no inline scripts
   */
  readonly scripts?: Record<string, string>;
  /**
   * Local script files, read at synth; each lands under its base name.
   * @default - no script files
   */
  readonly scriptFiles?: string[];
  /**
   * A local directory whose files are read at synth, recursively, keeping
   * their relative paths; entries starting with `.` and `__pycache__` are skipped.
   * @default - no script directory
   */
  readonly scriptDirectory?: string;
  /**
   * The script the preset's interpreter runs, as a relative path among the scripts.
   * @default - the only script when there is exactly one, otherwise required unless `command` is set
   */
  readonly entrypoint?: string;
  /**
   * Where the scripts are mounted (read-only).
   * @default '/opt/app'
   */
  readonly mountPath?: string;
  /**
   * The container's working directory.
   * @default - `mountPath`
   */
  readonly workingDir?: string;
  /**
   * A stock image the runner knows how to drive.
   * @default - 'python', unless `image` is set (then a custom image that needs `command`)
   */
  readonly preset?: RunnerPresetName;
  /**
   * The image to run, pinned with a tag or digest.
   * @default - the preset's image
   */
  readonly image?: string;
  /**
   * The container command. Set it instead of `entrypoint` to run anything else.
   * @default - the preset's interpreter followed by the entrypoint script's absolute path
   */
  readonly command?: string[];
  /**
   * Arguments appended to the command (seed: `Universe`).
   * @default - no arguments
   */
  readonly args?: string[];
  /**
   * Environment variables: strings, or `kplus.EnvValue.fromConfigMap(...)`
   * / `kplus.EnvValue.fromSecretValue(...)`; other types are refused. They win over the preset's and
   * the runner's own (`PORT`, `PYTHONPATH`/`NODE_PATH`).
   * @default - only the preset's and the runner's own variables
   */
  readonly env?: Record<string, string | kplus.EnvValue>;
  /**
   * UID and GID the containers run as.
   * @default - the preset's user: 65532, or 10000 for the node preset; 65532 for custom images
   */
  readonly user?: number;
  /**
   * Mount a writable emptyDir at /tmp.
   * @default - true for the python and node presets and custom images, false for busybox
   */
  readonly writableTmp?: boolean;
  /**
   * Size limit of the runner's emptyDirs: /tmp and the unpacked bundle.
   * @default DEFAULT_EMPTY_DIR_SIZE_LIMIT (64 MiB)
   */
  readonly emptyDirSizeLimit?: Size;
  /**
   * Container resources.
   * @default DEFAULT_RESOURCES (50m/64Mi requested, 500m/128Mi limit)
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * A local `.zip`, `.tar`, `.tar.gz` or `.tgz` file shipped in a ConfigMap's
   * binaryData and unpacked by a bootstrap init container into an emptyDir at
   * `bundleMountPath` before the main container starts.
   * @default - no bundle
   */
  readonly bundle?: string;
  /**
   * Where the unpacked bundle is mounted (read-only in the main container).
   * @default '/opt/bundle'
   */
  readonly bundleMountPath?: string;
  /**
   * Image of the bootstrap init container; it must have `tar` (and `unzip`
   * for zip bundles) on its PATH, e.g. a mirror of busybox.
   * @default - the runner's own image when it can unpack the bundle's format (python: zipfile/tarfile, node: tar, busybox: tar/unzip), otherwise BUSYBOX_IMAGE
   */
  readonly bootstrapImage?: string;
  /**
   * Service (Deployment + Service), one-shot Job, or CronJob.
   * @default - RunnerMode.CRONJOB when `schedule` is set, otherwise RunnerMode.SERVICE
   */
  readonly mode?: RunnerMode;
  /**
   * Container port of the service; also given to the program as `PORT`.
   * 1024-65535: the program runs as non-root without NET_BIND_SERVICE. Service mode only.
   * @default 8080
   */
  readonly port?: number;
  /**
   * Pod replicas. Service mode only.
   * @default 1
   */
  readonly replicas?: number;
  /**
   * HTTP path for readiness and liveness probes. Service mode only.
   * @default - TCP probes on `port`
   */
  readonly healthCheckPath?: string;
  /**
   * Retries before a Job is marked failed. Job and CronJob modes.
   * @default 2
   */
  readonly backoffLimit?: number;
  /**
   * Seconds a Job may run before it is stopped. Job and CronJob modes.
   * @default 600
   */
  readonly activeDeadlineSeconds?: number;
  /**
   * Seconds a finished Job is kept (with its logs) before it is deleted. Job mode only.
   * @default 86400
   */
  readonly ttlSecondsAfterFinished?: number;
  /**
   * Cron schedule: five fields (values, names, ranges, lists, steps) or a
   * macro such as `@hourly`. Setting it selects mode 'cronjob'.
   * @default - no schedule (required in mode 'cronjob')
   */
  readonly schedule?: string;
  /**
   * IANA time zone of the schedule, e.g. `Europe/Berlin`. CronJob mode only.
   * @default - the kube-controller-manager's time zone
   */
  readonly timeZone?: string;
  /**
   * What to do when a run is due while the previous one still runs. CronJob mode only.
   * @default kplus.ConcurrencyPolicy.FORBID
   */
  readonly concurrencyPolicy?: kplus.ConcurrencyPolicy;
  /**
   * Seconds after its time a missed run may still start (at least 10). CronJob mode only.
   * @default 300
   */
  readonly startingDeadlineSeconds?: number;
  /**
   * Finished successful Jobs to keep. CronJob mode only.
   * @default 3
   */
  readonly successfulJobsHistoryLimit?: number;
  /**
   * Finished failed Jobs to keep. CronJob mode only.
   * @default 1
   */
  readonly failedJobsHistoryLimit?: number;
  /**
   * Kubernetes API access in the runner's namespace: a ServiceAccount, a Role
   * with these rules, a RoleBinding, and the token mounted.
   * @default - no API access and no token
   */
  readonly rules?: RunnerPolicyRule[];
  /**
   * Cluster-wide Kubernetes API access (e.g. listing namespaces): a
   * ServiceAccount, a ClusterRole with these rules (named
   * `<namespace>-<name>`), a ClusterRoleBinding, and the token mounted.
   * @default - no cluster-wide access
   */
  readonly clusterRules?: RunnerPolicyRule[];
  /**
   * Accept `*` in verbs, resources or apiGroups of `rules` and `clusterRules`.
   * @default false
   */
  readonly allowWildcardRules?: boolean;
  /**
   * Addresses of the API server for the NetworkPolicy's egress rule, when
   * there are `rules` or `clusterRules` (as {@link KvProxyProps.apiServerCidrs}).
   * @default - any address, on `apiServerPorts` only
   */
  readonly apiServerCidrs?: string[];
  /**
   * TCP ports the API server listens on, when there are `rules` or `clusterRules`.
   * @default [443, 6443]
   */
  readonly apiServerPorts?: number[];
  /**
   * `app.kubernetes.io/part-of` label.
   * @default - no part-of label
   */
  readonly partOf?: string;
}

/** One script: where it lands below the mount path, its ConfigMap key, and its text. */
export interface RunnerScript {
  /** Relative path below `mountPath`, `/`-separated. */
  readonly path: string;
  /** ConfigMap key: the path with `/` replaced by `__` (the library's one key encoding, lib/files.ts). */
  readonly key: string;
  /** The script's text. */
  readonly content: string;
}

const SERVICE_PROPS = ['port', 'replicas', 'healthCheckPath', ...EXPOSE_OPTION_NAMES] as const;
const BATCH_PROPS = ['backoffLimit', 'activeDeadlineSeconds'] as const;
const JOB_PROPS = ['ttlSecondsAfterFinished'] as const;
const CRON_PROPS = ['schedule', 'timeZone', 'concurrencyPolicy', 'startingDeadlineSeconds', 'successfulJobsHistoryLimit', 'failedJobsHistoryLimit'] as const;

const RUNNER_PROPS: Record<keyof Required<GeneralPurposeRunnerProps>, true> = { name: true, scripts: true, scriptFiles: true, scriptDirectory: true, entrypoint: true, mountPath: true, workingDir: true, preset: true, image: true, command: true, args: true, env: true, user: true, writableTmp: true, emptyDirSizeLimit: true, resources: true, bundle: true, bundleMountPath: true, bootstrapImage: true, mode: true, port: true, replicas: true, healthCheckPath: true, backoffLimit: true, activeDeadlineSeconds: true, ttlSecondsAfterFinished: true, schedule: true, timeZone: true, concurrencyPolicy: true, startingDeadlineSeconds: true, successfulJobsHistoryLimit: true, failedJobsHistoryLimit: true, rules: true, clusterRules: true, allowWildcardRules: true, apiServerCidrs: true, apiServerPorts: true, partOf: true, serviceType: true, servicePort: true, ingress: true, networkPolicy: true, podDisruptionBudget: true };
/** Script extensions whose language is clear, and the preset that runs them. */
const SCRIPT_LANGUAGES: Record<string, { name: string; interpreter: string; preset: RunnerPresetName }> = {
  '.py': { name: 'Python', interpreter: 'python3', preset: 'python' },
  '.js': { name: 'JavaScript', interpreter: 'node', preset: 'node' },
  '.mjs': { name: 'JavaScript', interpreter: 'node', preset: 'node' },
  '.cjs': { name: 'JavaScript', interpreter: 'node', preset: 'node' },
  '.sh': { name: 'shell', interpreter: 'sh', preset: 'busybox' },
};
const RULE_PROPS: Record<keyof Required<RunnerPolicyRule>, true> = { apiGroups: true, resources: true, verbs: true, resourceNames: true };


/** The bundle's format from its file name, checked against the file's first bytes. */
function bundleFormat(file: string, content: Buffer): BundleFormat {
  const lower = file.toLowerCase();
  const format: BundleFormat | undefined = lower.endsWith('.zip') ? 'zip'
    : lower.endsWith('.tar.gz') || lower.endsWith('.tgz') ? 'tar.gz'
      : lower.endsWith('.tar') ? 'tar' : undefined;
  if (!format) throw new Error(`bundle must be a .zip, .tar, .tar.gz or .tgz file, got "${file}"`);
  const ok = format === 'zip' ? content.length >= 4 && content[0] === 0x50 && content[1] === 0x4b && (content[2] === 3 || content[2] === 5)
    : format === 'tar.gz' ? content.length >= 2 && content[0] === 0x1f && content[1] === 0x8b
      : content.length >= 262 && content.subarray(257, 262).toString('latin1') === 'ustar';
  if (!ok) throw new Error(`bundle "${file}" is not a ${format} archive (its content does not match its extension)`);
  return format;
}

function unpackCommand(tool: UnpackTool, format: BundleFormat, archive: string, dest: string): string[] {
  switch (tool) {
    case 'python': return ['python3', `${BUNDLE_SOURCE_PATH}/${UNPACK_SCRIPT}`, archive, dest];
    case 'unzip': return ['unzip', '-q', '-o', archive, '-d', dest];
    case 'tar': return ['tar', '-x', ...(format === 'tar.gz' ? ['-z'] : []), '-m', '-o', '-f', archive, '-C', dest];
    // GNU tar, not owning the emptyDir, fails on a "./" member when it tries to chmod the directory:
    // --skip-old-files leaves existing entries (the emptyDir itself) alone
    case 'gnu-tar': return ['tar', '-x', ...(format === 'tar.gz' ? ['-z'] : []), '-m', '-o', '--skip-old-files', '-f', archive, '-C', dest];
  }
}

function validateRules(rules: RunnerPolicyRule[], prop: string, allowWildcards: boolean): k8s.PolicyRule[] {
  if (!Array.isArray(rules) || !rules.length) throw new Error(`${prop} must list at least one rule when set, got ${JSON.stringify(rules)}`);
  return rules.map((r, i) => {
    const where = `${prop}[${i}]`;
    validateKnownProps(r, RULE_PROPS, where);
    const apiGroups = r.apiGroups ?? [''];
    const lists: Array<[string, string[], (v: string, p: string) => void]> = [
      ['apiGroups', apiGroups, validateApiGroup],
      ['resources', r.resources, validateRbacResource],
      ['verbs', r.verbs, validateRbacVerb],
    ];
    for (const [field, values, check] of lists) {
      if (!Array.isArray(values) || !values.length) throw new Error(`${where}.${field} must list at least one value, got ${JSON.stringify(values)}`);
      values.forEach((v, j) => {
        if (v !== '*') check(v, `${where}.${field}[${j}]`);
        else if (!allowWildcards) {
          throw new Error(`${where}.${field} must not contain "*" (it grants far more than a script needs): list the ${field} or set allowWildcardRules: true`);
        }
      });
    }
    validateRbacResourceGroups(r.resources, apiGroups, where);
    if (prop === 'rules') {
      const clusterWide = r.resources.find((x) => CLUSTER_SCOPED_RESOURCES.has(String(x).split('/')[0]));
      if (clusterWide !== undefined) {
        throw new Error(`${where}.resources must name namespaced resources (rules become a Role in the runner's namespace), got the cluster-scoped "${clusterWide}": move the rule to clusterRules`);
      }
    }
    (r.resourceNames ?? []).forEach((n, j) => validateDnsSubdomain(n, `${where}.resourceNames[${j}]`));
    return { apiGroups, resources: r.resources, verbs: r.verbs, ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) };
  });
}

/**
 * Runs scripts on a stock image, without building an image per little task.
 *
 * The scripts (inline, files or a directory) go into a ConfigMap mounted
 * read-only at `mountPath`; a preset (python, node, busybox) or any image runs
 * them with the given command, args, env and working directory, as a
 * long-running service (Deployment with the shared exposure: Service,
 * NetworkPolicy, optional Ingress and PodDisruptionBudget), a one-shot Job or
 * a CronJob. A zip or tar bundle can ship a packaged module: an init
 * container on the same stock image unpacks it into an emptyDir first.
 *
 * Secure by default: PSS restricted, read-only root filesystem, a writable
 * /tmp only where the interpreter needs one, no ServiceAccount token unless
 * `rules`/`clusterRules` ask for least-privilege API access. Changing a
 * script or the bundle changes a checksum annotation, so the pods roll.
 * Probes in service mode: readiness is HTTP on `healthCheckPath` (else TCP on
 * `port`); liveness, only with a `healthCheckPath`, is the cheaper TCP check
 * on `port` over a longer threshold (6 x 10 s), so a slow dependency takes a
 * pod out of the Service without restarting it (the same probe for both would
 * restart pods that are only busy). Jobs and CronJobs have none, as they
 * serve nothing.
 */
export class GeneralPurposeRunner extends Construct {
  /** The resolved name of the workload and prefix of every object; the `app.kubernetes.io/instance` label. */
  public readonly name: string;
  /** The resolved mode. */
  public readonly mode: RunnerMode;
  /** The preset in use, or undefined for a custom image. */
  public readonly preset?: RunnerPresetName;
  /** The image the main container runs. */
  public readonly image: string;
  /** The resolved container command. */
  public readonly command: string[];
  /** The resolved container args. */
  public readonly args: string[];
  /** The entrypoint script (relative path), when the preset runs one. */
  public readonly entrypoint?: string;
  /** Where the scripts are mounted. */
  public readonly mountPath: string;
  /** The container's working directory. */
  public readonly workingDir: string;
  /** UID and GID of every container. */
  public readonly user: number;
  /** Whether /tmp is a writable emptyDir. */
  public readonly writableTmp: boolean;
  /** Size limit of /tmp and the bundle emptyDir. */
  public readonly emptyDirSizeLimit: Size;
  /** The containers' resources. */
  public readonly resources: kplus.ContainerResources;
  /** Whether `*` is accepted in RBAC rules. */
  public readonly allowWildcardRules: boolean;
  /** The recommended labels on every object (name `general-purpose-runner`, instance `name`). */
  public readonly labels: Readonly<Record<string, string>>;
  /** The pod selector: `app.kubernetes.io/name` and `app.kubernetes.io/instance`. */
  public readonly selector: Readonly<Record<string, string>>;
  /** The scripts, as they land below `mountPath`. */
  public readonly scripts: RunnerScript[];
  /** The ConfigMap `<name>-scripts`. */
  public readonly configMap: kplus.ConfigMap;
  /** The ConfigMap `<name>-bundle`, when a bundle is shipped. */
  public readonly bundleConfigMap?: kplus.ConfigMap;
  /** Where the unpacked bundle is mounted, when a bundle is shipped. */
  public readonly bundleMountPath?: string;
  /** The bundle's format, when a bundle is shipped. */
  public readonly bundleFormat?: BundleFormat;
  /** The image of the bootstrap init container, when a bundle is shipped. */
  public readonly bootstrapImage?: string;
  /** The tool the bootstrap init container unpacks with, when a bundle is shipped. */
  public readonly unpackTool?: UnpackTool;
  /** The workload: a Deployment, Job or CronJob. */
  public readonly workload: kplus.Deployment | kplus.Job | kplus.CronJob;
  /** The Deployment, in service mode. */
  public readonly deployment?: kplus.Deployment;
  /** The Job, in job mode. */
  public readonly job?: kplus.Job;
  /** The CronJob, in cronjob mode. */
  public readonly cronJob?: kplus.CronJob;
  /** The Service, in service mode. */
  public readonly service?: kplus.Service;
  /** The Ingress, when `ingress` is set. */
  public readonly ingress?: kplus.Ingress;
  /** The NetworkPolicy (ingress and egress): always in Job and CronJob modes, in service mode unless `networkPolicy` is false. */
  public readonly networkPolicy?: WorkloadNetworkPolicy;
  /** The PodDisruptionBudget, in service mode with 2 or more replicas unless disabled. */
  public readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;
  /** Container port, in service mode. */
  public readonly port?: number;
  /** Service port, in service mode. */
  public readonly servicePort?: number;
  /** Service type, in service mode. */
  public readonly serviceType?: kplus.ServiceType;
  /** Pod replicas, in service mode. */
  public readonly replicas?: number;
  /** The HTTP path the probes call, in service mode with `healthCheckPath`. */
  public readonly healthCheckPath?: string;
  /** Retries before a Job fails, in job and cronjob modes. */
  public readonly backoffLimit?: number;
  /** Seconds a Job may run, in job and cronjob modes. */
  public readonly activeDeadlineSeconds?: number;
  /** Seconds a finished Job is kept, in job mode. */
  public readonly ttlSecondsAfterFinished?: number;
  /** The schedule, in cronjob mode. */
  public readonly schedule?: string;
  /** The schedule's time zone, if given (cronjob mode). */
  public readonly timeZone?: string;
  /** The concurrency policy, in cronjob mode. */
  public readonly concurrencyPolicy?: kplus.ConcurrencyPolicy;
  /** Seconds a missed run may still start, in cronjob mode. */
  public readonly startingDeadlineSeconds?: number;
  /** Successful Jobs kept, in cronjob mode. */
  public readonly successfulJobsHistoryLimit?: number;
  /** Failed Jobs kept, in cronjob mode. */
  public readonly failedJobsHistoryLimit?: number;
  /** The ServiceAccount, when API access is asked for. */
  public readonly serviceAccount?: kplus.ServiceAccount;
  /** The Role, when `rules` are set. */
  public readonly role?: k8s.KubeRole;
  /** The ClusterRole, when `clusterRules` are set. */
  public readonly clusterRole?: k8s.KubeClusterRole;

  private readonly presetSpec?: RunnerPreset;
  private readonly env: Record<string, kplus.EnvValue>;
  private readonly expose?: ResolvedExpose;

  constructor(scope: Construct, id: string, props: GeneralPurposeRunnerProps = {}) {
    super(scope, id);

    // ---- resolve and validate
    validateKnownProps(props, RUNNER_PROPS, 'GeneralPurposeRunner props');
    this.mode = this.resolveMode(props);
    this.name = validateDnsLabel(props.name ?? 'runner', 'name');
    if (this.mode === RunnerMode.CRONJOB && this.name.length > 52) throw new Error(`name must be at most 52 characters for a CronJob, got "${this.name}" (${this.name.length})`);
    if (props.preset !== undefined) validateOneOf(props.preset, Object.keys(RUNNER_PRESETS) as RunnerPresetName[], 'preset');
    this.preset = props.preset ?? (props.image === undefined ? 'python' : undefined);
    this.presetSpec = this.preset ? RUNNER_PRESETS[this.preset] : undefined;
    this.image = validateImage(props.image ?? this.presetSpec!.image, 'image');
    this.user = validatePositiveInteger(props.user ?? this.presetSpec?.user ?? DEFAULT_RUN_AS_USER, 'user', 1, 2147483647);
    this.writableTmp = validateBoolean(props.writableTmp ?? this.presetSpec?.writableTmp ?? true, 'writableTmp');
    this.emptyDirSizeLimit = resolveSizeLimit(props.emptyDirSizeLimit, 'emptyDirSizeLimit');
    this.resources = validateResources(props.resources ?? DEFAULT_RESOURCES, 'resources')!;
    this.allowWildcardRules = validateBoolean(props.allowWildcardRules ?? false, 'allowWildcardRules');
    this.labels = recommendedLabels({
      name: 'general-purpose-runner',
      instance: this.name,
      component: this.mode === RunnerMode.SERVICE ? 'server' : this.mode,
      ...(props.partOf !== undefined ? { partOf: validateLabelValue(props.partOf, 'partOf') } : {}),
    });
    this.selector = selectorLabels(this.labels);
    this.mountPath = validateAbsolutePath(props.mountPath ?? '/opt/app', 'mountPath');
    if (this.mountPath === '/') throw new Error('mountPath must not be "/"');
    this.workingDir = validateAbsolutePath(props.workingDir ?? this.mountPath, 'workingDir');
    if (this.writableTmp && (pathIsWithin(this.mountPath, '/tmp') || pathIsWithin('/tmp', this.mountPath))) {
      throw new Error(`mountPath must not overlap the writable /tmp, got "${this.mountPath}"`);
    }
    for (const n of ['bundleMountPath', 'bootstrapImage'] as const) {
      if (props[n] !== undefined && props.bundle === undefined) throw new Error(`${n} only applies with bundle, got ${n} ${JSON.stringify(props[n])} without a bundle`);
    }
    this.scripts = this.readScripts(props);
    const run = this.resolveCommand(props);
    this.command = run.command;
    this.entrypoint = run.entrypoint;
    this.args = [...(props.args ?? [])];
    if (this.mode === RunnerMode.SERVICE) {
      this.port = validateUnprivilegedPort(props.port ?? 8080, 'port');
      this.replicas = validatePositiveInteger(props.replicas ?? 1, 'replicas', 1, 1000);
      this.healthCheckPath = props.healthCheckPath === undefined ? undefined : validateHttpPath(props.healthCheckPath, 'healthCheckPath');
      this.expose = resolveExpose(props, this.replicas);
      this.servicePort = this.expose.servicePort;
      this.serviceType = this.expose.serviceType;
    } else {
      this.backoffLimit = validatePositiveInteger(props.backoffLimit ?? 2, 'backoffLimit', 0, 1000);
      this.activeDeadlineSeconds = validatePositiveInteger(props.activeDeadlineSeconds ?? 600, 'activeDeadlineSeconds');
    }
    if (this.mode === RunnerMode.JOB) {
      this.ttlSecondsAfterFinished = validatePositiveInteger(props.ttlSecondsAfterFinished ?? 86400, 'ttlSecondsAfterFinished', 0);
    }
    if (this.mode === RunnerMode.CRONJOB) {
      if (props.schedule === undefined) throw new Error('schedule is required in mode "cronjob"');
      this.schedule = validateCronSchedule(props.schedule, 'schedule');
      this.timeZone = props.timeZone === undefined ? undefined : validateTimeZone(props.timeZone, 'timeZone');
      this.concurrencyPolicy = validateOneOf(props.concurrencyPolicy ?? kplus.ConcurrencyPolicy.FORBID, kplus.ConcurrencyPolicy, 'concurrencyPolicy');
      this.startingDeadlineSeconds = validatePositiveInteger(props.startingDeadlineSeconds ?? 300, 'startingDeadlineSeconds', 10);
      this.successfulJobsHistoryLimit = validatePositiveInteger(props.successfulJobsHistoryLimit ?? 3, 'successfulJobsHistoryLimit', 0, 100);
      this.failedJobsHistoryLimit = validatePositiveInteger(props.failedJobsHistoryLimit ?? 1, 'failedJobsHistoryLimit', 0, 100);
    }
    this.env = this.presetEnv();
    const rules = props.rules === undefined ? undefined : validateRules(props.rules, 'rules', this.allowWildcardRules);
    const clusterRules = props.clusterRules === undefined ? undefined : validateRules(props.clusterRules, 'clusterRules', this.allowWildcardRules);

    // ---- objects, in named steps
    this.configMap = this.createScriptsConfigMap();
    const mounts = this.scriptMounts();
    const bundle = props.bundle === undefined ? undefined : this.createBundle(props, mounts);
    if (bundle) {
      this.bundleConfigMap = bundle.configMap;
      this.bundleMountPath = bundle.mountPath;
      this.bundleFormat = bundle.format;
      this.bootstrapImage = bundle.image;
      this.unpackTool = bundle.tool;
    }
    if (this.port !== undefined) this.env.PORT = kplus.EnvValue.fromValue(String(this.port));
    Object.assign(this.env, validateEnvVariables(props.env ?? {}, 'env', true));
    const portEnv = this.env.PORT?.value;
    if (this.port !== undefined && portEnv !== undefined && String(portEnv) !== String(this.port)) {
      throw new Error(`env PORT must match port (the Service targets port ${this.port}), got PORT ${JSON.stringify(portEnv)}: set port to ${JSON.stringify(portEnv)} instead of env PORT, or remove env PORT`);
    }
    if (this.port !== undefined && this.env.PORT !== undefined && portEnv === undefined) {
      throw new Error(`env PORT must not come from a Secret or ConfigMap in mode "service" (the Service targets port ${this.port}, set by the port prop): remove env PORT and set port`);
    }
    const rbac = this.createRbac(rules, clusterRules);
    this.serviceAccount = rbac.serviceAccount;
    this.role = rbac.role;
    this.clusterRole = rbac.clusterRole;
    this.workload = this.createWorkload(mounts, bundle?.initContainer);
    if (this.workload instanceof kplus.Deployment) this.deployment = this.workload;
    else if (this.workload instanceof kplus.CronJob) this.cronJob = this.workload;
    else this.job = this.workload;
    // egress: DNS, and the API server when the pod holds a token
    const egress = [DNS_EGRESS, ...(rules || clusterRules ? [apiServerEgress(
      props.apiServerCidrs === undefined ? undefined : validateUniqueList(props.apiServerCidrs, 'apiServerCidrs', validateCidr),
      props.apiServerPorts === undefined ? undefined : validateUniqueList(props.apiServerPorts, 'apiServerPorts', validatePort),
    )] : [])];
    if (!rules && !clusterRules) {
      for (const n of ['apiServerCidrs', 'apiServerPorts'] as const) {
        if (props[n] !== undefined) throw new Error(`${n} only applies with rules or clusterRules (a pod with an API token), got ${JSON.stringify(props[n])} without them`);
      }
    }
    if (this.deployment) {
      const exposure = exposeWorkload(this, this.expose!, { name: this.name, selector: this.selector, targetPort: this.port!, egress });
      this.service = exposure.service;
      this.ingress = exposure.ingress;
      this.networkPolicy = exposure.networkPolicy;
      this.podDisruptionBudget = exposure.podDisruptionBudget;
    } else {
      // a Job or CronJob serves nothing: nothing may connect to it
      this.networkPolicy = new WorkloadNetworkPolicy(this, 'NetworkPolicy', { name: this.name, selector: this.selector, ingress: [], egress });
    }

    // ---- roll the pods when the scripts or the bundle change
    addChecksumAnnotation(this.workload, 'scripts', this.configMap.data);
    if (bundle) addChecksumAnnotation(this.workload, 'bundle', bundle.data);
    applyLabels(this, this.labels);
  }

  /**
   * Lets the runner's pods connect to `peer` (on `options.ports` only, when
   * given): whatever the scripts call beyond DNS and the API server.
   */
  public allowEgressTo(peer: k8s.NetworkPolicyPeer, options: EgressOptions = {}): void {
    if (!this.networkPolicy) throw new Error(`allowEgressTo needs the runner's NetworkPolicy, got networkPolicy false for "${this.name}" (manage traffic yourself)`);
    this.networkPolicy.allowEgressTo(peer, options);
  }

  /** The mode, and the props that only apply to other modes refused. */
  private resolveMode(props: GeneralPurposeRunnerProps): RunnerMode {
    const mode = validateOneOf(props.mode ?? (props.schedule !== undefined ? RunnerMode.CRONJOB : RunnerMode.SERVICE), RunnerMode, 'mode');
    const only = (names: readonly (keyof GeneralPurposeRunnerProps)[], modes: RunnerMode[]) => {
      if (modes.includes(mode)) return;
      for (const n of names) {
        if (props[n] !== undefined) throw new Error(`${n} only applies to mode ${modes.map((m) => `"${m}"`).join(' or ')}, got mode "${mode}"`);
      }
    };
    only(SERVICE_PROPS, [RunnerMode.SERVICE]);
    only(BATCH_PROPS, [RunnerMode.JOB, RunnerMode.CRONJOB]);
    only(JOB_PROPS, [RunnerMode.JOB]);
    only(CRON_PROPS, [RunnerMode.CRONJOB]);
    return mode;
  }

  /** Inline scripts, files and a directory, through the shared files helper: UTF-8 text only, none empty. */
  private readScripts(props: GeneralPurposeRunnerProps): RunnerScript[] {
    const entries: FileEntry[] = [
      ...inlineFiles(props.scripts, 'scripts', false),
      ...validateList(props.scriptFiles, 'scriptFiles').map((f, i) => readLocalFile(f, `scriptFiles[${i}]`)),
    ];
    if (props.scriptDirectory !== undefined) {
      const found = readLocalDirectory(props.scriptDirectory, 'scriptDirectory', { include: (name) => !name.startsWith('.') && name !== '__pycache__' });
      if (!found.length) throw new Error(`scriptDirectory "${props.scriptDirectory}" has no files`);
      entries.push(...found);
    }
    if (!entries.length) throw new Error('scripts must contain at least one file: set scripts, scriptFiles or scriptDirectory');
    const stored = toConfigMapData(entries, 'scripts', { binary: false, tooLargeHint: 'ship large files in a bundle or an image' });
    return stored.files.map((f) => ({ path: f.path, key: f.key, content: stored.data[f.key] }));
  }

  /** The command: the preset's interpreter and the entrypoint script, or the user's command. */
  private resolveCommand(props: GeneralPurposeRunnerProps): { command: string[]; entrypoint?: string } {
    const preset = this.presetSpec;
    const paths = this.scripts.map((s) => s.path);
    if (props.entrypoint !== undefined) {
      validateNonEmptyText(props.entrypoint, 'entrypoint');
      if (!paths.includes(props.entrypoint)) throw new Error(`entrypoint "${props.entrypoint}" is not among the scripts (${paths.join(', ')})`);
    }
    for (const [prop, list] of [['command', props.command], ['args', props.args]] as const) {
      if (list !== undefined && (!Array.isArray(list) || list.some((x) => typeof x !== 'string'))) throw new Error(`${prop} must be a list of strings, got ${JSON.stringify(list)}`);
    }
    if (props.command !== undefined) {
      if (!props.command.length || props.command[0].trim() === '') throw new Error(`command must name a program, got ${JSON.stringify(props.command)}`);
      if (props.entrypoint !== undefined) {
        throw new Error(`command and entrypoint conflict: entrypoint runs "${props.entrypoint}" with the preset's interpreter, command replaces it; set one of them`);
      }
      const program = path.posix.basename(props.command[0]);
      if (preset && KNOWN_INTERPRETERS.has(program) && !preset.executables.includes(program)) {
        throw new Error(`command "${props.command[0]}" conflicts with preset "${this.preset}": its image ${preset.image} has ${preset.executables.join(', ')}, not ${program}`);
      }
      return { command: [...props.command] };
    }
    if (!preset) throw new Error(`command is required with a custom image (no preset), e.g. ["ruby", "${this.mountPath}/main.rb"], got image "${this.image}"`);
    const entry = props.entrypoint ?? (paths.length === 1 ? paths[0] : undefined);
    if (entry === undefined) {
      throw new Error(`entrypoint is required when there are ${paths.length} scripts (${paths.join(', ')}): name the one to run, or set command`);
    }
    const language = SCRIPT_LANGUAGES[path.posix.extname(entry).toLowerCase()];
    if (language && language.interpreter !== preset.interpreter[0]) {
      throw new Error(`entrypoint "${entry}" is a ${language.name} script, but preset "${this.preset}" runs ${preset.interpreter.join(' ')}: choose preset "${language.preset}" or set command`);
    }
    // an empty file (an `__init__.py`) is a fine module, but not a program to run
    validateNonEmptyText(this.scripts.find((x) => x.path === entry)!.content, `entrypoint script "${entry}"`);
    return { command: [...preset.interpreter, `${this.mountPath}/${entry}`], entrypoint: entry };
  }

  private presetEnv(): Record<string, kplus.EnvValue> {
    const env: Record<string, kplus.EnvValue> = {};
    for (const [k, v] of Object.entries(this.presetSpec?.env ?? {})) env[k] = kplus.EnvValue.fromValue(v);
    return env;
  }

  private createScriptsConfigMap(): kplus.ConfigMap {
    const data = Object.fromEntries(this.scripts.map((s) => [s.key, s.content]));
    return new kplus.ConfigMap(this, 'Scripts', { metadata: { name: `${this.name}-scripts` }, data });
  }

  private scriptMounts(): kplus.VolumeMount[] {
    const nested = this.scripts.some((s) => s.key !== s.path);
    const scriptsVolume = kplus.Volume.fromConfigMap(this, 'ScriptsVolume', this.configMap, {
      name: 'scripts',
      defaultMode: 0o444,
      ...(nested ? { items: Object.fromEntries(this.scripts.map((s) => [s.key, { path: s.path }])) } : {}),
    });
    const mounts: kplus.VolumeMount[] = [{ volume: scriptsVolume, path: this.mountPath, readOnly: true }];
    if (this.writableTmp) mounts.push({ volume: kplus.Volume.fromEmptyDir(this, 'TmpVolume', 'tmp', { sizeLimit: this.emptyDirSizeLimit }), path: '/tmp' });
    return mounts;
  }

  /** The bundle ConfigMap and the init container that unpacks it; adds the unpacked volume to `mounts`. */
  private createBundle(props: GeneralPurposeRunnerProps, mounts: kplus.VolumeMount[]) {
    const file = readLocalFile(props.bundle!, 'bundle');
    const format = bundleFormat(props.bundle!, file.bytes);
    const key = validateConfigMapKey(file.path, 'bundle file name');
    const mountPath = validateAbsolutePath(props.bundleMountPath ?? '/opt/bundle', 'bundleMountPath');
    for (const [other, otherPath] of [['mountPath', this.mountPath], ['the bootstrap source', BUNDLE_SOURCE_PATH], ...(this.writableTmp ? [['the writable /tmp', '/tmp']] : [])]) {
      if (mountPath === '/' || pathIsWithin(mountPath, otherPath) || pathIsWithin(otherPath, mountPath)) {
        throw new Error(`bundleMountPath must not overlap ${other} ("${otherPath}"), got "${mountPath}"`);
      }
    }
    const preset = this.presetSpec;
    const ownTool = props.bootstrapImage !== undefined ? undefined : preset?.unpack[format];
    const tool: UnpackTool = ownTool ?? (format === 'zip' ? 'unzip' : 'tar');
    const image = validateImage(props.bootstrapImage ?? (ownTool ? this.image : BUSYBOX_IMAGE), 'bootstrapImage');
    const entries: FileEntry[] = [{ ...file, path: key }];
    if (tool === 'python') {
      if (key === UNPACK_SCRIPT) throw new Error(`bundle file name must not be "${key}", the bootstrap script uses that key`);
      entries.push(readLocalFile(UNPACK_SCRIPT_FILE, 'the bootstrap script'));
    }
    const stored = toConfigMapData(entries, 'bundle', {
      binary: (f) => f.path === key,
      extraBytes: Buffer.byteLength(`${this.name}-bundle`),
      tooLargeHint: 'ship large dependencies in an image or a volume',
    });
    const configMap = new kplus.ConfigMap(this, 'Bundle', { metadata: { name: `${this.name}-bundle` }, data: stored.data, binaryData: stored.binaryData });
    const sourceVolume = kplus.Volume.fromConfigMap(this, 'BundleSourceVolume', configMap, { name: 'bundle-source', defaultMode: 0o444 });
    const unpacked = kplus.Volume.fromEmptyDir(this, 'BundleVolume', 'bundle', { sizeLimit: this.emptyDirSizeLimit });
    const initContainer = hardenedContainer({
      name: 'unpack',
      image,
      command: unpackCommand(tool, format, `${BUNDLE_SOURCE_PATH}/${key}`, mountPath),
      resources: this.resources,
      volumeMounts: [
        { volume: sourceVolume, path: BUNDLE_SOURCE_PATH, readOnly: true },
        { volume: unpacked, path: mountPath },
      ],
    }, { user: this.user });
    mounts.push({ volume: unpacked, path: mountPath, readOnly: true });
    if (preset?.bundlePathEnv) this.env[preset.bundlePathEnv] = kplus.EnvValue.fromValue(mountPath);
    return { configMap, mountPath, format, image, tool, initContainer, data: { ...stored.data, ...stored.binaryData } };
  }

  /** The ServiceAccount, Role/RoleBinding and ClusterRole/ClusterRoleBinding, as the rules ask. */
  private createRbac(rules: k8s.PolicyRule[] | undefined, clusterRules: k8s.PolicyRule[] | undefined) {
    if (!rules && !clusterRules) return {};
    const namespace = Chart.of(this).namespace;
    const serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: { name: this.name }, automountToken: false });
    const subject = { kind: 'ServiceAccount', name: this.name, ...(namespace ? { namespace } : {}) };
    const roleRef = (kind: string, name: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind, name });
    let role: k8s.KubeRole | undefined;
    let clusterRole: k8s.KubeClusterRole | undefined;
    if (rules) {
      role = new k8s.KubeRole(this, 'Role', { metadata: { name: this.name }, rules });
      new k8s.KubeRoleBinding(this, 'RoleBinding', { metadata: { name: this.name }, roleRef: roleRef('Role', this.name), subjects: [subject] });
    }
    if (clusterRules) {
      if (!namespace) throw new Error('clusterRules need the chart to have a namespace: the ClusterRoleBinding must name the ServiceAccount\'s namespace');
      const clusterName = `${namespace}-${this.name}`;
      clusterRole = new k8s.KubeClusterRole(this, 'ClusterRole', { metadata: { name: clusterName }, rules: clusterRules });
      const binding = new k8s.KubeClusterRoleBinding(this, 'ClusterRoleBinding', { metadata: { name: clusterName }, roleRef: roleRef('ClusterRole', clusterName), subjects: [subject] });
      // cluster-scoped: the chart's namespace does not belong on them
      for (const o of [clusterRole, binding]) ApiObject.of(o).addJsonPatch(JsonPatch.remove('/metadata/namespace'));
    }
    return { serviceAccount, role, clusterRole };
  }

  /** The Deployment, Job or CronJob running the main container. */
  private createWorkload(mounts: kplus.VolumeMount[], initContainer: kplus.ContainerProps | undefined): kplus.Deployment | kplus.Job | kplus.CronJob {
    // readiness asks the health path (or, without one, whether the port accepts connections); liveness only
    // whether the port accepts connections, over a longer threshold, so a slow or failing dependency takes
    // the pod out of the Service without restarting it. Without a health path the two would be the same
    // check: there is no liveness probe then, and the kubelet restarts the container when its process exits.
    const readiness = this.port === undefined ? undefined
      : this.healthCheckPath !== undefined ? kplus.Probe.fromHttpGet(this.healthCheckPath, { port: this.port })
        : kplus.Probe.fromTcpSocket({ port: this.port });
    const liveness = this.port === undefined || this.healthCheckPath === undefined ? undefined
      : kplus.Probe.fromTcpSocket({ port: this.port, periodSeconds: Duration.seconds(10), failureThreshold: 6 });
    const container = hardenedContainer({
      name: this.name,
      image: this.image,
      command: this.command,
      ...(this.args.length ? { args: this.args } : {}),
      workingDir: this.workingDir,
      envVariables: this.env,
      resources: this.resources,
      volumeMounts: mounts,
      ...(this.port !== undefined ? { ports: [{ number: this.port, name: 'http' }], readiness, ...(liveness ? { liveness } : {}) } : {}),
    }, { user: this.user });
    const pod = {
      metadata: { name: this.name },
      ...hardenedPodProps({ user: this.user }),
      ...(this.serviceAccount ? { serviceAccount: this.serviceAccount, automountServiceAccountToken: true } : {}),
      containers: [container],
      initContainers: initContainer ? [initContainer] : [],
      select: false,
    };
    let workload: kplus.Deployment | kplus.Job | kplus.CronJob;
    if (this.mode === RunnerMode.SERVICE) {
      workload = new kplus.Deployment(this, 'Resource', { ...pod, replicas: this.replicas });
      if (this.replicas! >= 2) spreadOverNodes(workload, this.selector);
    } else {
      const batch = { backoffLimit: this.backoffLimit, activeDeadline: Duration.seconds(this.activeDeadlineSeconds!) };
      if (this.mode === RunnerMode.JOB) {
        workload = new kplus.Job(this, 'Resource', { ...pod, ...batch, ttlAfterFinished: Duration.seconds(this.ttlSecondsAfterFinished!) });
      } else {
        // Cron has only a public readonly expressionString: keep the schedule exactly as given (macros included)
        const schedule: Cron = { expressionString: this.schedule! };
        workload = new kplus.CronJob(this, 'Resource', {
          ...pod,
          ...batch,
          schedule,
          timeZone: this.timeZone,
          concurrencyPolicy: this.concurrencyPolicy,
          startingDeadline: Duration.seconds(this.startingDeadlineSeconds!),
          successfulJobsRetained: this.successfulJobsHistoryLimit,
          failedJobsRetained: this.failedJobsHistoryLimit,
        });
      }
    }
    selectPods(workload, this.selector);
    return workload;
  }
}
