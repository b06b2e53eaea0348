import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiObject, Chart, Cron, Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { KubeClusterRole, KubeClusterRoleBinding, KubeRole, KubeRoleBinding, PolicyRule } from './k8s';
import { validateCronSchedule } from './general-purpose-runner/schedule';
import { addChecksumAnnotation } from './hash';
import { validateImage } from './image';
import { applyLabels, recommendedLabels } from './labels';
import { DEFAULT_RESOURCES, DEFAULT_RUN_AS_USER, hardenedContainer, hardenedPodProps } from './security';
import { BUSYBOX_IMAGE as BUSYBOX, PYTHON_IMAGE } from './images';
import {
  configMapSize, formatBytes, MAX_CONFIGMAP_BYTES, pathIsWithin, validateAbsolutePath, validateConfigMapKey,
  validateDnsLabel, validateDnsSubdomain, validateEnvName, validatePort, validatePositiveInteger, validateRelativePath,
} from './validate';

export { CRON_MACROS, validateCronSchedule } from './general-purpose-runner/schedule';

/** The stock images a runner knows how to drive without a `command`. */
export type RunnerPresetName = 'python' | 'node' | 'busybox';

/** How a runner runs: a long-running service, a one-shot Job, or a CronJob. */
export type RunnerMode = 'service' | 'job' | 'cronjob';

/** The archive formats a bundle may have, recognised by file extension. */
export type BundleFormat = 'zip' | 'tar' | 'tar.gz';

/**
 * The tool a bootstrap init container unpacks a bundle with: python's
 * zipfile/tarfile (unpack.py), busybox tar, GNU tar, or busybox unzip.
 */
export type UnpackTool = 'python' | 'tar' | 'gnu-tar' | 'unzip';

/**
 * What a preset knows about its stock image.
 */
export interface RunnerPreset {
  /** The pinned stock image. */
  readonly image: string;
  /** The command that runs the entrypoint script (the script's path is appended). */
  readonly interpreter: readonly string[];
  /** The UID (and GID) the containers run as: the image's own non-root user where it has one. */
  readonly user: number;
  /** Environment the interpreter needs on a read-only root filesystem. */
  readonly env: Readonly<Record<string, string>>;
  /** Whether the interpreter needs a writable /tmp. */
  readonly writableTmp: boolean;
  /** Interpreters and shells the image has, to catch a `command` meant for another image. */
  readonly executables: readonly string[];
  /** The tool this image unpacks each bundle format with; formats not listed use busybox. */
  readonly unpack: Readonly<Partial<Record<BundleFormat, UnpackTool>>>;
  /** The variable that makes the unpacked bundle importable, if the language has one. */
  readonly bundlePathEnv?: string;
}

/** The busybox image used to unpack bundles that a runner's own image cannot unpack. */
export const BUSYBOX_IMAGE = BUSYBOX;

/**
 * Presets for stock images, with tags that exist on Docker Hub.
 *
 * - python: `python:3.12.8-slim-bookworm` (runs as root by default, so the
 *   runner uses 65532), `python3 <script>`, PYTHONDONTWRITEBYTECODE=1 so
 *   imports do not try to write `__pycache__` next to read-only scripts,
 *   PYTHONUNBUFFERED=1 so logs appear as they are printed; zipfile/tarfile
 *   unpack bundles.
 * - node: `node:22.12.0-bookworm-slim` as its own `node` user (1000),
 *   `node <script>`; GNU tar unpacks tar bundles, busybox unzips zips.
 * - busybox: `busybox:1.36.1`, `sh <script>`; its own tar and unzip.
 */
export const RUNNER_PRESETS: Readonly<Record<RunnerPresetName, RunnerPreset>> = {
  python: {
    image: PYTHON_IMAGE,
    interpreter: ['python3'],
    user: DEFAULT_RUN_AS_USER,
    env: { PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
    writableTmp: true,
    executables: ['python', 'python3', 'pip', 'pip3', 'sh', 'bash'],
    unpack: { 'zip': 'python', 'tar': 'python', 'tar.gz': 'python' },
    bundlePathEnv: 'PYTHONPATH',
  },
  node: {
    image: 'node:22.12.0-bookworm-slim',
    interpreter: ['node'],
    user: 1000,
    env: {},
    writableTmp: true,
    executables: ['node', 'npm', 'npx', 'corepack', 'sh', 'bash'],
    unpack: { 'tar': 'gnu-tar', 'tar.gz': 'gnu-tar' },
    bundlePathEnv: 'NODE_PATH',
  },
  busybox: {
    image: BUSYBOX_IMAGE,
    interpreter: ['sh'],
    user: DEFAULT_RUN_AS_USER,
    env: {},
    writableTmp: false,
    executables: ['sh', 'ash'],
    unpack: { 'zip': 'unzip', 'tar': 'tar', 'tar.gz': 'tar' },
  },
};

/** Interpreters that exist in some images and not others: a `command` naming one must match the preset. */
const KNOWN_INTERPRETERS = new Set(['python', 'python2', 'python3', 'pip', 'pip3', 'node', 'nodejs', 'npm', 'npx', 'corepack',
  'deno', 'bun', 'sh', 'ash', 'bash', 'zsh', 'ruby', 'perl', 'php', 'java', 'pwsh']);

/** Where the bootstrap init container sees the bundle ConfigMap. */
export const BUNDLE_SOURCE_PATH = '/opt/bundle-source';

const UNPACK_SCRIPT = 'unpack.py';
const UNPACK_SCRIPT_FILE = path.join(__dirname, 'general-purpose-runner', UNPACK_SCRIPT);
const WILDCARD = '*';

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
 * Props for {@link GeneralPurposeRunner}.
 */
export interface GeneralPurposeRunnerProps {
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
   * Environment variables: plain strings, or `kplus.EnvValue.fromConfigMap(...)`
   * / `kplus.EnvValue.fromSecretValue(...)`. They win over the preset's and
   * the runner's own (`PORT`, `PYTHONPATH`/`NODE_PATH`).
   * @default - only the preset's and the runner's own variables
   */
  readonly env?: Record<string, string | kplus.EnvValue>;
  /**
   * UID and GID the containers run as.
   * @default - the preset's user: 65532, or 1000 (`node`) for the node preset; 65532 for custom images
   */
  readonly user?: number;
  /**
   * Mount a writable emptyDir at /tmp.
   * @default - true for the python and node presets and custom images, false for busybox
   */
  readonly writableTmp?: boolean;
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
   * @default - 'cronjob' when `schedule` is set, otherwise 'service'
   */
  readonly mode?: RunnerMode;
  /**
   * Container port of the service; also given to the program as `PORT`. Service mode only.
   * @default 8080
   */
  readonly port?: number;
  /**
   * Port of the Service. Service mode only.
   * @default 80
   */
  readonly servicePort?: number;
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
   * Create an Ingress for this host. Service mode only.
   * @default - no Ingress
   */
  readonly ingressHost?: string;
  /**
   * Path prefix of the Ingress rule.
   * @default '/'
   */
  readonly ingressPath?: string;
  /**
   * IngressClass of the Ingress.
   * @default - the cluster's default IngressClass
   */
  readonly ingressClassName?: string;
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
   * `app.kubernetes.io/part-of` label.
   * @default - no part-of label
   */
  readonly partOf?: string;
}

/** One script: where it lands below the mount path, its ConfigMap key, and its text. */
export interface RunnerScript {
  /** Relative path below `mountPath`, `/`-separated. */
  readonly path: string;
  /** ConfigMap key: the path with `/` replaced by `.`. */
  readonly key: string;
  /** The script's text. */
  readonly content: string;
}

const SERVICE_PROPS = ['port', 'servicePort', 'replicas', 'healthCheckPath', 'ingressHost', 'ingressPath', 'ingressClassName'] as const;
const BATCH_PROPS = ['backoffLimit', 'activeDeadlineSeconds'] as const;
const JOB_PROPS = ['ttlSecondsAfterFinished'] as const;
const CRON_PROPS = ['schedule', 'timeZone', 'concurrencyPolicy', 'startingDeadlineSeconds', 'successfulJobsHistoryLimit', 'failedJobsHistoryLimit'] as const;
const MODES: readonly RunnerMode[] = ['service', 'job', 'cronjob'];

const RBAC_VERB = /^[a-z]+$/;
const RBAC_RESOURCE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(\/[a-z]+)?$/;
const TIME_ZONE = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

function readText(file: string, prop: string): string {
  const buf = fs.readFileSync(file);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    throw new Error(`${prop} "${file}" is not UTF-8 text: ship binary files in a bundle`);
  }
}

function walk(dir: string, rel: string = ''): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(dir, rel)).sort()) {
    if (entry.startsWith('.') || entry === '__pycache__') continue;
    const relPath = rel ? `${rel}/${entry}` : entry;
    const stat = fs.statSync(path.join(dir, relPath));
    if (stat.isDirectory()) out.push(...walk(dir, relPath));
    else if (stat.isFile()) out.push(relPath);
  }
  return out;
}

/**
 * Collects the scripts from inline content, files and a directory, in that
 * order, refusing duplicates and paths that cannot be ConfigMap keys.
 */
function collectScripts(props: GeneralPurposeRunnerProps): RunnerScript[] {
  const byPath = new Map<string, { script: RunnerScript; source: string }>();
  const add = (p: string, content: string, source: string) => {
    validateRelativePath(p, `${source} path`);
    const previous = byPath.get(p);
    if (previous) throw new Error(`script "${p}" is given twice (${previous.source} and ${source})`);
    const key = validateConfigMapKey(p.split('/').join('.'), `script "${p}" key`);
    byPath.set(p, { script: { path: p, key, content }, source });
  };
  for (const [p, content] of Object.entries(props.scripts ?? {})) {
    if (typeof content !== 'string') throw new Error(`scripts "${p}" must be a string, got ${typeof content}`);
    add(p, content, 'scripts');
  }
  for (const file of props.scriptFiles ?? []) {
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new Error(`scriptFiles entry "${file}" must be an existing file`);
    add(path.basename(file), readText(file, 'scriptFiles entry'), 'scriptFiles');
  }
  if (props.scriptDirectory !== undefined) {
    const dir = props.scriptDirectory;
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`scriptDirectory must be an existing directory, got "${dir}"`);
    const files = walk(dir);
    if (!files.length) throw new Error(`scriptDirectory "${dir}" has no files`);
    for (const rel of files) add(rel, readText(path.join(dir, rel), 'scriptDirectory file'), 'scriptDirectory');
  }
  const scripts = [...byPath.values()].map((x) => x.script);
  const keys = new Map<string, string>();
  for (const s of scripts) {
    const other = keys.get(s.key);
    if (other) throw new Error(`scripts "${other}" and "${s.path}" both map to ConfigMap key "${s.key}": rename one`);
    keys.set(s.key, s.path);
  }
  return scripts;
}

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

function validateRules(rules: RunnerPolicyRule[], prop: string, allowWildcards: boolean): PolicyRule[] {
  if (!Array.isArray(rules) || !rules.length) throw new Error(`${prop} must list at least one rule when set, got ${JSON.stringify(rules)}`);
  return rules.map((r, i) => {
    const where = `${prop}[${i}]`;
    const apiGroups = r.apiGroups ?? [''];
    const lists: Array<[string, string[], RegExp]> = [['apiGroups', apiGroups, /^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/], ['resources', r.resources, RBAC_RESOURCE], ['verbs', r.verbs, RBAC_VERB]];
    for (const [field, values, pattern] of lists) {
      if (!Array.isArray(values) || !values.length) throw new Error(`${where}.${field} must list at least one value, got ${JSON.stringify(values)}`);
      for (const v of values) {
        if (v === WILDCARD) {
          if (!allowWildcards) {
            throw new Error(`${where}.${field} must not contain "*" (it grants far more than a script needs): list the ${field} or set allowWildcardRules: true`);
          }
        } else if (typeof v !== 'string' || !pattern.test(v)) {
          throw new Error(`${where}.${field} has an invalid entry "${v}"`);
        }
      }
    }
    for (const n of r.resourceNames ?? []) validateDnsSubdomain(n, `${where}.resourceNames entry`);
    return { apiGroups, resources: r.resources, verbs: r.verbs, ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) };
  });
}

/**
 * Runs scripts on a stock image, without building an image per little task.
 *
 * The scripts (inline, files or a directory) go into a ConfigMap mounted
 * read-only at `mountPath`; a preset (python, node, busybox) or any image runs
 * them with the given command, args, env and working directory, as a
 * long-running service (Deployment + Service, optional Ingress), a one-shot
 * Job or a CronJob. A zip or tar bundle can ship a packaged module: an init
 * container on the same stock image unpacks it into an emptyDir first.
 *
 * Secure by default: PSS restricted, read-only root filesystem, a writable
 * /tmp only where the interpreter needs one, no ServiceAccount token unless
 * `rules`/`clusterRules` ask for least-privilege API access. Changing a
 * script or the bundle changes a checksum annotation, so the pods roll.
 */
export class GeneralPurposeRunner extends Construct {
  /** The resolved name of the workload and prefix of every object. */
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
  /** The Ingress, when `ingressHost` is set. */
  public readonly ingress?: kplus.Ingress;
  /** Container port, in service mode. */
  public readonly port?: number;
  /** Service port, in service mode. */
  public readonly servicePort?: number;
  /** The schedule, in cronjob mode. */
  public readonly schedule?: string;
  /** The ServiceAccount, when API access is asked for. */
  public readonly serviceAccount?: kplus.ServiceAccount;
  /** The Role, when `rules` are set. */
  public readonly role?: KubeRole;
  /** The ClusterRole, when `clusterRules` are set. */
  public readonly clusterRole?: KubeClusterRole;

  constructor(scope: Construct, id: string, props: GeneralPurposeRunnerProps = {}) {
    super(scope, id);
    const namespace = Chart.of(this).namespace;

    // ---- mode and the props that belong to it
    this.mode = props.mode ?? (props.schedule !== undefined ? 'cronjob' : 'service');
    if (!MODES.includes(this.mode)) throw new Error(`mode must be one of ${MODES.join(', ')}, got "${this.mode}"`);
    const only = (names: readonly (keyof GeneralPurposeRunnerProps)[], modes: RunnerMode[]) => {
      if (modes.includes(this.mode)) return;
      for (const n of names) {
        if (props[n] !== undefined) throw new Error(`${n} only applies to mode ${modes.map((m) => `"${m}"`).join(' or ')}, got mode "${this.mode}"`);
      }
    };
    only(SERVICE_PROPS, ['service']);
    only(BATCH_PROPS, ['job', 'cronjob']);
    only(JOB_PROPS, ['job']);
    only(CRON_PROPS, ['cronjob']);

    this.name = validateDnsLabel(props.name ?? 'runner', 'name');
    if (this.mode === 'cronjob' && this.name.length > 52) throw new Error(`name must be at most 52 characters for a CronJob, got "${this.name}" (${this.name.length})`);

    // ---- image, preset, user
    if (props.preset !== undefined && !(props.preset in RUNNER_PRESETS)) {
      throw new Error(`preset must be one of ${Object.keys(RUNNER_PRESETS).join(', ')}, got "${props.preset}"`);
    }
    this.preset = props.preset ?? (props.image === undefined ? 'python' : undefined);
    const preset = this.preset ? RUNNER_PRESETS[this.preset] : undefined;
    this.image = validateImage(props.image ?? preset!.image, 'image');
    this.user = validatePositiveInteger(props.user ?? preset?.user ?? DEFAULT_RUN_AS_USER, 'user', 1, 2147483647);
    this.writableTmp = props.writableTmp ?? preset?.writableTmp ?? true;

    // ---- scripts
    this.scripts = collectScripts(props);
    if (!this.scripts.length) throw new Error('scripts must contain at least one file: set scripts, scriptFiles or scriptDirectory');
    this.mountPath = validateAbsolutePath(props.mountPath ?? '/opt/app', 'mountPath');
    if (this.mountPath === '/') throw new Error('mountPath must not be "/"');
    this.workingDir = validateAbsolutePath(props.workingDir ?? this.mountPath, 'workingDir');
    if (this.writableTmp && (pathIsWithin(this.mountPath, '/tmp') || pathIsWithin('/tmp', this.mountPath))) {
      throw new Error(`mountPath must not overlap the writable /tmp, got "${this.mountPath}"`);
    }
    const scriptData: Record<string, string> = {};
    for (const s of this.scripts) scriptData[s.key] = s.content;
    const scriptBytes = configMapSize(scriptData);
    if (scriptBytes > MAX_CONFIGMAP_BYTES) {
      throw new Error(`scripts total ${formatBytes(scriptBytes)}, more than the ConfigMap limit of ${formatBytes(MAX_CONFIGMAP_BYTES)}: ship large files in a bundle or an image`);
    }

    // ---- command and args
    const paths = this.scripts.map((s) => s.path);
    if (props.entrypoint !== undefined && !paths.includes(props.entrypoint)) {
      throw new Error(`entrypoint "${props.entrypoint}" is not among the scripts (${paths.join(', ')})`);
    }
    for (const [prop, list] of [['command', props.command], ['args', props.args]] as const) {
      if (list !== undefined && (!Array.isArray(list) || list.some((x) => typeof x !== 'string'))) throw new Error(`${prop} must be a list of strings, got ${JSON.stringify(list)}`);
    }
    if (props.command !== undefined) {
      if (!props.command.length || props.command[0] === '') throw new Error(`command must name a program, got ${JSON.stringify(props.command)}`);
      if (props.entrypoint !== undefined) {
        throw new Error(`command and entrypoint conflict: entrypoint runs "${props.entrypoint}" with the preset's interpreter, command replaces it; set one of them`);
      }
      const program = path.posix.basename(props.command[0]);
      if (preset && KNOWN_INTERPRETERS.has(program) && !preset.executables.includes(program)) {
        throw new Error(`command "${props.command[0]}" conflicts with preset "${this.preset}": its image ${preset.image} has ${preset.executables.join(', ')}, not ${program}`);
      }
      this.command = [...props.command];
    } else {
      if (!preset) throw new Error(`command is required with a custom image (no preset), e.g. ["ruby", "${this.mountPath}/main.rb"], got image "${this.image}"`);
      const entry = props.entrypoint ?? (paths.length === 1 ? paths[0] : undefined);
      if (entry === undefined) {
        throw new Error(`entrypoint is required when there are ${paths.length} scripts (${paths.join(', ')}): name the one to run, or set command`);
      }
      this.entrypoint = entry;
      this.command = [...preset.interpreter, `${this.mountPath}/${entry}`];
    }
    this.args = [...(props.args ?? [])];

    // ---- objects: scripts ConfigMap
    this.configMap = new kplus.ConfigMap(this, 'Scripts', { metadata: { name: `${this.name}-scripts` }, data: scriptData });
    const nested = this.scripts.some((s) => s.key !== s.path);
    const scriptsVolume = kplus.Volume.fromConfigMap(this, 'ScriptsVolume', this.configMap, {
      name: 'scripts',
      defaultMode: 0o444,
      ...(nested ? { items: Object.fromEntries(this.scripts.map((s) => [s.key, { path: s.path }])) } : {}),
    });
    const mounts: kplus.VolumeMount[] = [{ volume: scriptsVolume, path: this.mountPath, readOnly: true }];
    if (this.writableTmp) {
      mounts.push({ volume: kplus.Volume.fromEmptyDir(this, 'TmpVolume', 'tmp'), path: '/tmp' });
    }

    // ---- environment
    const env: Record<string, kplus.EnvValue> = {};
    for (const [k, v] of Object.entries(preset?.env ?? {})) env[k] = kplus.EnvValue.fromValue(v);

    // ---- bundle
    let initContainers: kplus.ContainerProps[] = [];
    let bundleData: Record<string, string> | undefined;
    if (props.bundle !== undefined) {
      if (!fs.existsSync(props.bundle) || !fs.statSync(props.bundle).isFile()) throw new Error(`bundle must be an existing file, got "${props.bundle}"`);
      const content = fs.readFileSync(props.bundle);
      const format = bundleFormat(props.bundle, content);
      const key = validateConfigMapKey(path.basename(props.bundle), 'bundle file name');
      const bundleMountPath = validateAbsolutePath(props.bundleMountPath ?? '/opt/bundle', 'bundleMountPath');
      for (const [other, otherPath] of [['mountPath', this.mountPath], ['the bootstrap source', BUNDLE_SOURCE_PATH], ...(this.writableTmp ? [['the writable /tmp', '/tmp']] : [])]) {
        if (bundleMountPath === '/' || pathIsWithin(bundleMountPath, otherPath) || pathIsWithin(otherPath, bundleMountPath)) {
          throw new Error(`bundleMountPath must not overlap ${other} ("${otherPath}"), got "${bundleMountPath}"`);
        }
      }
      const explicitBootstrap = props.bootstrapImage !== undefined;
      const ownTool = explicitBootstrap ? undefined : preset?.unpack[format];
      const tool: UnpackTool = ownTool ?? (format === 'zip' ? 'unzip' : 'tar');
      const bootstrapImage = validateImage(props.bootstrapImage ?? (ownTool ? this.image : BUSYBOX_IMAGE), 'bootstrapImage');
      const data: Record<string, string> = tool === 'python' ? { [UNPACK_SCRIPT]: fs.readFileSync(UNPACK_SCRIPT_FILE, 'utf8') } : {};
      if (key in data) throw new Error(`bundle file name must not be "${key}", the bootstrap script uses that key`);
      const binaryData = { [key]: content.toString('base64') };
      const size = configMapSize(data, binaryData) + Buffer.byteLength(`${this.name}-bundle`);
      if (size > MAX_CONFIGMAP_BYTES) {
        throw new Error(`bundle "${props.bundle}" is ${formatBytes(content.length)}; with its ConfigMap it needs ${formatBytes(size)}, more than the ConfigMap limit of ${formatBytes(MAX_CONFIGMAP_BYTES)}: ship large dependencies in an image or a volume`);
      }
      this.bundleConfigMap = new kplus.ConfigMap(this, 'Bundle', { metadata: { name: `${this.name}-bundle` }, data, binaryData });
      this.bundleMountPath = bundleMountPath;
      this.bundleFormat = format;
      this.bootstrapImage = bootstrapImage;
      this.unpackTool = tool;
      bundleData = { ...data, ...binaryData };
      const sourceVolume = kplus.Volume.fromConfigMap(this, 'BundleSourceVolume', this.bundleConfigMap, { name: 'bundle-source', defaultMode: 0o444 });
      const unpacked = kplus.Volume.fromEmptyDir(this, 'BundleVolume', 'bundle');
      initContainers = [hardenedContainer({
        name: 'unpack',
        image: bootstrapImage,
        command: unpackCommand(tool, format, `${BUNDLE_SOURCE_PATH}/${key}`, bundleMountPath),
        resources: props.resources ?? DEFAULT_RESOURCES,
        volumeMounts: [
          { volume: sourceVolume, path: BUNDLE_SOURCE_PATH, readOnly: true },
          { volume: unpacked, path: bundleMountPath },
        ],
      }, { user: this.user })];
      mounts.push({ volume: unpacked, path: bundleMountPath, readOnly: true });
      if (preset?.bundlePathEnv) env[preset.bundlePathEnv] = kplus.EnvValue.fromValue(bundleMountPath);
    }

    // ---- service-mode settings
    if (this.mode === 'service') {
      this.port = validatePort(props.port ?? 8080, 'port');
      this.servicePort = validatePort(props.servicePort ?? 80, 'servicePort');
      env.PORT = kplus.EnvValue.fromValue(String(this.port));
    }
    for (const [k, v] of Object.entries(props.env ?? {})) {
      validateEnvName(k, `env name`);
      env[k] = typeof v === 'string' ? kplus.EnvValue.fromValue(v) : v;
    }

    // ---- API access
    const apiAccess = props.rules !== undefined || props.clusterRules !== undefined;
    const allowWildcards = props.allowWildcardRules ?? false;
    const rules = props.rules !== undefined ? validateRules(props.rules, 'rules', allowWildcards) : undefined;
    const clusterRules = props.clusterRules !== undefined ? validateRules(props.clusterRules, 'clusterRules', allowWildcards) : undefined;
    if (apiAccess) {
      this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: { name: this.name }, automountToken: false });
    }
    const subject = { kind: 'ServiceAccount', name: this.name, ...(namespace ? { namespace } : {}) };
    const roleRef = (kind: string, name: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind, name });
    if (rules) {
      this.role = new KubeRole(this, 'Role', { metadata: { name: this.name }, rules });
      new KubeRoleBinding(this, 'RoleBinding', { metadata: { name: this.name }, roleRef: roleRef('Role', this.name), subjects: [subject] });
    }
    if (clusterRules) {
      if (!namespace) throw new Error('clusterRules need the chart to have a namespace: the ClusterRoleBinding must name the ServiceAccount\'s namespace');
      const clusterName = `${namespace}-${this.name}`;
      this.clusterRole = new KubeClusterRole(this, 'ClusterRole', { metadata: { name: clusterName }, rules: clusterRules });
      const binding = new KubeClusterRoleBinding(this, 'ClusterRoleBinding', { metadata: { name: clusterName }, roleRef: roleRef('ClusterRole', clusterName), subjects: [subject] });
      // cluster-scoped: the chart's namespace does not belong on them
      for (const o of [this.clusterRole, binding]) ApiObject.of(o).addJsonPatch(JsonPatch.remove('/metadata/namespace'));
    }

    // ---- the container and the workload
    const probe = this.mode === 'service'
      ? (props.healthCheckPath !== undefined
        ? kplus.Probe.fromHttpGet(validateHttpPath(props.healthCheckPath, 'healthCheckPath'), { port: this.port })
        : kplus.Probe.fromTcpSocket({ port: this.port }))
      : undefined;
    const container = hardenedContainer({
      name: this.name,
      image: this.image,
      command: this.command,
      ...(this.args.length ? { args: this.args } : {}),
      workingDir: this.workingDir,
      envVariables: env,
      resources: props.resources ?? DEFAULT_RESOURCES,
      volumeMounts: mounts,
      ...(this.mode === 'service' ? { ports: [{ number: this.port!, name: 'http' }], readiness: probe, liveness: probe } : {}),
    }, { user: this.user });
    const pod = {
      ...hardenedPodProps({ user: this.user }),
      ...(apiAccess ? { serviceAccount: this.serviceAccount, automountServiceAccountToken: true } : {}),
      containers: [container],
      initContainers,
    };

    if (this.mode === 'service') {
      const replicas = validatePositiveInteger(props.replicas ?? 1, 'replicas', 1, 1000);
      this.deployment = new kplus.Deployment(this, 'Resource', { metadata: { name: this.name }, replicas, ...pod });
      this.workload = this.deployment;
      this.service = new kplus.Service(this, 'Service', {
        metadata: { name: this.name },
        selector: this.deployment,
        ports: [{ name: 'http', port: this.servicePort!, targetPort: this.port! }],
      });
      if (props.ingressHost !== undefined) {
        const host = validateDnsSubdomain(props.ingressHost, 'ingressHost');
        this.ingress = new kplus.Ingress(this, 'Ingress', {
          metadata: { name: this.name },
          ...(props.ingressClassName !== undefined ? { className: validateDnsSubdomain(props.ingressClassName, 'ingressClassName') } : {}),
        });
        this.ingress.addHostRule(host, validateHttpPath(props.ingressPath ?? '/', 'ingressPath'),
          kplus.IngressBackend.fromService(this.service, { port: this.servicePort }), kplus.HttpIngressPathType.PREFIX);
      } else if (props.ingressPath !== undefined || props.ingressClassName !== undefined) {
        throw new Error('ingressPath and ingressClassName need ingressHost');
      }
    } else {
      const backoffLimit = validatePositiveInteger(props.backoffLimit ?? 2, 'backoffLimit', 0, 1000);
      const activeDeadline = Duration.seconds(validatePositiveInteger(props.activeDeadlineSeconds ?? 600, 'activeDeadlineSeconds'));
      if (this.mode === 'job') {
        const ttl = validatePositiveInteger(props.ttlSecondsAfterFinished ?? 86400, 'ttlSecondsAfterFinished', 0);
        this.job = new kplus.Job(this, 'Resource', {
          metadata: { name: this.name }, ...pod, backoffLimit, activeDeadline, ttlAfterFinished: Duration.seconds(ttl),
        });
        this.workload = this.job;
      } else {
        if (props.schedule === undefined) throw new Error('schedule is required in mode "cronjob"');
        this.schedule = validateCronSchedule(props.schedule, 'schedule');
        if (props.timeZone !== undefined && !TIME_ZONE.test(props.timeZone)) {
          throw new Error(`timeZone must be an IANA time zone name like "Europe/Berlin" or "UTC", got "${props.timeZone}"`);
        }
        const policies = Object.values(kplus.ConcurrencyPolicy) as string[];
        if (props.concurrencyPolicy !== undefined && !policies.includes(props.concurrencyPolicy)) {
          throw new Error(`concurrencyPolicy must be one of ${policies.join(', ')}, got "${props.concurrencyPolicy}"`);
        }
        const startingDeadline = validatePositiveInteger(props.startingDeadlineSeconds ?? 300, 'startingDeadlineSeconds', 10);
        // Cron has only a public readonly expressionString: keep the schedule exactly as given (macros included)
        const schedule: Cron = { expressionString: this.schedule };
        this.cronJob = new kplus.CronJob(this, 'Resource', {
          metadata: { name: this.name },
          ...pod,
          schedule,
          timeZone: props.timeZone,
          concurrencyPolicy: props.concurrencyPolicy ?? kplus.ConcurrencyPolicy.FORBID,
          startingDeadline: Duration.seconds(startingDeadline),
          successfulJobsRetained: validatePositiveInteger(props.successfulJobsHistoryLimit ?? 3, 'successfulJobsHistoryLimit', 0, 100),
          failedJobsRetained: validatePositiveInteger(props.failedJobsHistoryLimit ?? 1, 'failedJobsHistoryLimit', 0, 100),
          backoffLimit,
          activeDeadline,
        });
        this.workload = this.cronJob;
      }
    }

    // ---- roll the pods when the scripts or the bundle change
    addChecksumAnnotation(this.workload, 'scripts', scriptData);
    if (bundleData) addChecksumAnnotation(this.workload, 'bundle', bundleData);

    applyLabels(this, recommendedLabels({
      name: this.name,
      component: this.mode === 'service' ? 'server' : this.mode,
      ...(props.partOf !== undefined ? { partOf: props.partOf } : {}),
    }));
  }
}

/** An HTTP path: starts with '/', no spaces. */
function validateHttpPath(p: string, prop: string): string {
  if (typeof p !== 'string' || !p.startsWith('/') || /\s/.test(p)) throw new Error(`${prop} must be an HTTP path starting with "/", got "${p}"`);
  return p;
}
