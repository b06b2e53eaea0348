import * as path from 'node:path';
import { ApiObject, Chart, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { ConfigMapData, FileEntry, readLocalFile, StoredFile, toConfigMapData } from './files';
import { ArchiveFormat, KNOWN_INTERPRETERS, RUNNER_PRESETS, RunnerPreset, ScriptRuntime, UnpackTool } from './general-purpose-runner/presets';
import { addChecksumAnnotation } from './hash';
import { validateImage } from './image';
import { BUSYBOX_IMAGE } from './images';
import { applyLabels, recommendedLabels } from './labels';
import { DEFAULT_RESOURCES, DEFAULT_RUN_AS_USER, hardenedContainer, resolveSizeLimit } from './security';
import {
  CLUSTER_SCOPED_RESOURCES,
  pathIsWithin,
  validateAbsolutePath,
  validateApiGroup,
  validateBoolean,
  validateConfigMapKey,
  validateDnsLabel,
  validateDnsSubdomain,
  validateHttpPath,
  validateKnownProps,
  validateLabelValue,
  validateNonEmptyText,
  validateOneOf,
  validateRbacResource,
  validateRbacResourceGroups,
  validateRbacVerb,
} from './validate';
import { Files, mergeResources, resolveEnvVariables, resolveFiles, resolveSecurity, ResolvedSecurity, WorkloadSecurityOptions } from './workload';

export { ScriptRuntime } from './general-purpose-runner/presets';

/**
 * ScriptBundle: scripts kept in a ConfigMap, run on a stock image by a
 * container it adds to any cdk8s-plus workload. ScriptService, ScriptJob and
 * ScriptCronJob (lib/script-workloads.ts) make the workload and attach one.
 */

/** Where the unpack init container sees the archive ConfigMap. */
export const ARCHIVE_SOURCE_PATH = '/opt/bundle-source';
/** The pattern's `app.kubernetes.io/name`. */
export const SCRIPTS_PATTERN_NAME = 'general-purpose-runner';

const UNPACK_SCRIPT = 'unpack.py';
const UNPACK_SCRIPT_FILE = path.join(__dirname, 'general-purpose-runner', UNPACK_SCRIPT);
const TOO_LARGE_HINT = 'ship large files in an archive or an image';

/** One RBAC rule: what the scripts may do through the Kubernetes API. */
export interface RbacRule {
  /**
   * API groups of the resources: `''` is the core group (pods, configmaps,
   * namespaces), `apps` has deployments. A resource named in the wrong group is refused.
   * @default [''] - the core group
   */
  readonly apiGroups?: string[];
  /** Resources, e.g. `configmaps` or `pods/log`. `*` only with `allowWildcardRules`. */
  readonly resources: string[];
  /**
   * Verbs: get, list, watch, create, update, patch, delete, deletecollection
   * (and impersonate, bind, escalate, use). `*` only with `allowWildcardRules`.
   */
  readonly verbs: string[];
  /**
   * Restrict the rule to these object names.
   * @default - every object of the resources
   */
  readonly resourceNames?: string[];
}

/** What every script construct takes: the scripts, how they run, and what they may call. */
export interface ScriptBundleOptions {
  /**
   * Name of the container and base name of the objects: the ConfigMap
   * `<name>-scripts`, the archive ConfigMap `<name>-bundle`, the ServiceAccount
   * and Role `<name>`, the ClusterRole `<namespace>-<name>`. A ScriptService,
   * ScriptJob or ScriptCronJob gives it to its workload too. At most 52
   * characters for a ScriptCronJob.
   * @default 'runner'
   */
  readonly name?: string;
  /**
   * The scripts (UTF-8 text), mounted read-only at `mountPath` with their
   * relative paths: `Files.fromPaths([...])`, `Files.fromDirectory(dir)`,
   * `Files.fromContent({ 'main.py': '...' })` or `Files.of(...)`.
   * At most 1 MiB in all (one ConfigMap).
   */
  readonly files: Files;
  /**
   * The script the runtime runs, as a relative path among `files`.
   * @default - the only file when there is exactly one; otherwise required unless `command` is set
   */
  readonly entrypoint?: string;
  /**
   * The stock runtime that runs the entrypoint: its pinned image, interpreter,
   * user, environment and unpack tool.
   * @default ScriptRuntime.PYTHON, unless `image` is set (then a custom image that needs `command`)
   */
  readonly runtime?: ScriptRuntime;
  /**
   * The image to run, pinned with a tag or digest.
   * @default - the runtime's image
   */
  readonly image?: string;
  /**
   * The container command; set it instead of `entrypoint` to run anything else.
   * Required with a custom image.
   * @default - the runtime's interpreter followed by the entrypoint's absolute path
   */
  readonly command?: string[];
  /**
   * Arguments appended to the command.
   * @default - no arguments
   */
  readonly args?: string[];
  /**
   * Environment variables (`kplus.EnvValue.fromValue('text')`,
   * `fromConfigMap`, `fromSecretValue`). They win over the runtime's own
   * (`PYTHONUNBUFFERED`, `PYTHONPATH`/`NODE_PATH` with an archive).
   * @default - only the runtime's variables (python: PYTHONDONTWRITEBYTECODE=1, PYTHONUNBUFFERED=1)
   */
  readonly envVariables?: Record<string, kplus.EnvValue>;
  /**
   * Who the scripts run as. `fsGroup` is pod level: a ScriptService, ScriptJob
   * or ScriptCronJob takes it, a ScriptBundle on your own workload does not.
   * @default - the runtime's user: 65532 (python, busybox, a custom image), 10000 (node); group the same
   */
  readonly securityContext?: WorkloadSecurityOptions;
  /**
   * Container resources, merged leaf by leaf over the defaults.
   * @default - 50m/500m CPU, 64Mi/128Mi memory, 64Mi/256Mi ephemeral storage (request/limit)
   */
  readonly resources?: kplus.ContainerResources;
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
   * Mount a writable emptyDir at /tmp.
   * @default - true for ScriptRuntime.PYTHON, ScriptRuntime.NODE and custom images; false for ScriptRuntime.BUSYBOX
   */
  readonly writableTmp?: boolean;
  /**
   * Size limit of the emptyDirs: /tmp and the unpacked archive.
   * @default Size.mebibytes(64)
   */
  readonly emptyDirSizeLimit?: Size;
  /**
   * A local `.zip`, `.tar`, `.tar.gz` or `.tgz` file (a packaged module, data
   * files) shipped in the ConfigMap `<name>-bundle` and unpacked by an init
   * container `unpack` into an emptyDir at `archiveMountPath` before the
   * scripts start.
   * @default - no archive
   */
  readonly archive?: string;
  /**
   * Where the unpacked archive is mounted (read-only in the main container).
   * Only with `archive`.
   * @default '/opt/bundle'
   */
  readonly archiveMountPath?: string;
  /**
   * Image of the unpack init container; it must have `tar` (and `unzip` for
   * zip archives) on its PATH, e.g. a mirror of busybox. Only with `archive`.
   * @default - the runtime's image when it can unpack the format (python: every format, node: tar and tar.gz), else busybox:1.36.1
   */
  readonly unpackImage?: string;
  /**
   * Kubernetes API access in the namespace: a ServiceAccount `<name>`, a Role
   * `<name>` with these rules, a RoleBinding, and the token mounted.
   * `allow(rule)` adds more.
   * @default - no API access and no token
   */
  readonly rules?: RbacRule[];
  /**
   * Cluster-wide API access (listing namespaces): a ServiceAccount, a
   * ClusterRole `<namespace>-<name>`, a ClusterRoleBinding, and the token
   * mounted. Needs a chart with a namespace. `allowClusterWide(rule)` adds more.
   * @default - no cluster-wide access
   */
  readonly clusterRules?: RbacRule[];
  /**
   * Accept `*` in verbs, resources or apiGroups of rules.
   * @default false
   */
  readonly allowWildcardRules?: boolean;
  /**
   * `app.kubernetes.io/part-of` label.
   * @default - no part-of label
   */
  readonly partOf?: string;
}

/** Props for {@link ScriptBundle}. */
export interface ScriptBundleProps extends ScriptBundleOptions {
  /**
   * Any cdk8s-plus workload (Deployment, StatefulSet, DaemonSet, Job, CronJob,
   * Pod): the bundle adds its container, volumes, init container and, with
   * rules, its ServiceAccount. The workload keeps its own pod settings.
   */
  readonly workload: kplus.AbstractPod;
}

/** The option names of {@link ScriptBundleOptions}. */
export const SCRIPT_BUNDLE_OPTIONS: Record<keyof Required<ScriptBundleOptions>, true> = {
  name: true,
  files: true,
  entrypoint: true,
  runtime: true,
  image: true,
  command: true,
  args: true,
  envVariables: true,
  securityContext: true,
  resources: true,
  mountPath: true,
  workingDir: true,
  writableTmp: true,
  emptyDirSizeLimit: true,
  archive: true,
  archiveMountPath: true,
  unpackImage: true,
  rules: true,
  clusterRules: true,
  allowWildcardRules: true,
  partOf: true,
};

/** The props of the runner's first API and what replaced them: named when one is given. */
const RENAMED: Record<string, string> = {
  scripts: 'files: Files.fromContent({...})',
  scriptFiles: 'files: Files.fromPaths([...])',
  scriptDirectory: 'files: Files.fromDirectory(dir)',
  preset: 'runtime: ScriptRuntime.PYTHON, NODE or BUSYBOX',
  env: 'envVariables with kplus.EnvValue values',
  user: 'securityContext: { user }',
  healthCheckPath: 'healthPath (ScriptService)',
  bundle: 'archive',
  bundleMountPath: 'archiveMountPath',
  bootstrapImage: 'unpackImage',
  mode: 'the construct of that kind: ScriptService, ScriptJob or ScriptCronJob',
  activeDeadlineSeconds: 'activeDeadline: Duration',
  ttlSecondsAfterFinished: 'ttlAfterFinished: Duration (ScriptJob)',
  startingDeadlineSeconds: 'startingDeadline: Duration (ScriptCronJob)',
  successfulJobsHistoryLimit: 'successfulJobsRetained (ScriptCronJob)',
  failedJobsHistoryLimit: 'failedJobsRetained (ScriptCronJob)',
};

/** Like validateKnownProps, naming the replacement of a prop of the first API. */
export function validateScriptProps(props: object, known: Record<string, true>, what: string): void {
  if (props !== null && typeof props === 'object') {
    for (const key of Object.keys(props)) {
      if (!Object.prototype.hasOwnProperty.call(known, key) && RENAMED[key]) {
        throw new Error(`${what} has no option "${key}": use ${RENAMED[key]}`);
      }
    }
  }
  validateKnownProps(props, known, what);
}

/** Script extensions whose language is clear, and the runtime that runs them. */
const SCRIPT_LANGUAGES: Record<string, { name: string; interpreter: string; runtime: string }> = {
  '.py': { name: 'Python', interpreter: 'python3', runtime: 'PYTHON' },
  '.js': { name: 'JavaScript', interpreter: 'node', runtime: 'NODE' },
  '.mjs': { name: 'JavaScript', interpreter: 'node', runtime: 'NODE' },
  '.cjs': { name: 'JavaScript', interpreter: 'node', runtime: 'NODE' },
  '.sh': { name: 'shell', interpreter: 'sh', runtime: 'BUSYBOX' },
};
const RULE_PROPS: Record<keyof Required<RbacRule>, true> = { apiGroups: true, resources: true, verbs: true, resourceNames: true };

/** The service a ScriptService makes of the bundle's container: its port and probes. @internal */
export interface ScriptServiceContainer {
  readonly port: number;
  readonly healthPath?: string;
}

/** What a construct that makes the workload tells the bundle's resolver. @internal */
export interface ScriptBundleContext {
  /** The chart's namespace (the ClusterRoleBinding's subject). */
  readonly namespace?: string;
  /** `app.kubernetes.io/component`: server, job or cronjob. */
  readonly component?: string;
  /** The container serves on a port (ScriptService). */
  readonly service?: ScriptServiceContainer;
  /** The bundle's construct owns the pod: `securityContext.fsGroup` is accepted. */
  readonly ownsPod?: boolean;
}

/** The archive, resolved. @internal */
export interface ResolvedArchive {
  readonly key: string;
  readonly format: ArchiveFormat;
  readonly tool: UnpackTool;
  readonly image: string;
  readonly mountPath: string;
  readonly command: string[];
  readonly stored: ConfigMapData;
}

/** A {@link ScriptBundleOptions} with every default decided and every value checked; plain data. @internal */
export interface ResolvedScriptBundle {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly runtime?: ScriptRuntime;
  readonly image: string;
  readonly command: string[];
  readonly args: string[];
  readonly entrypoint?: string;
  readonly mountPath: string;
  readonly workingDir: string;
  readonly security: ResolvedSecurity;
  readonly writableTmp: boolean;
  readonly emptyDirSizeLimit: Size;
  readonly resources: kplus.ContainerResources;
  readonly allowWildcardRules: boolean;
  readonly entries: FileEntry[];
  readonly stored: ConfigMapData;
  readonly env: Record<string, kplus.EnvValue>;
  readonly archive?: ResolvedArchive;
  readonly rules?: k8s.PolicyRule[];
  readonly clusterRules?: k8s.PolicyRule[];
  readonly namespace?: string;
  readonly service?: ScriptServiceContainer;
}

/** The archive's format from its file name, checked against the file's first bytes. */
function archiveFormat(file: string, content: Buffer): ArchiveFormat {
  const lower = file.toLowerCase();
  const format: ArchiveFormat | undefined = lower.endsWith('.zip')
    ? 'zip'
    : lower.endsWith('.tar.gz') || lower.endsWith('.tgz')
      ? 'tar.gz'
      : lower.endsWith('.tar')
        ? 'tar'
        : undefined;
  if (!format) throw new Error(`archive must be a .zip, .tar, .tar.gz or .tgz file, got "${file}"`);
  const ok =
    format === 'zip'
      ? content.length >= 4 && content[0] === 0x50 && content[1] === 0x4b && (content[2] === 3 || content[2] === 5)
      : format === 'tar.gz'
        ? content.length >= 2 && content[0] === 0x1f && content[1] === 0x8b
        : content.length >= 262 && content.subarray(257, 262).toString('latin1') === 'ustar';
  if (!ok) throw new Error(`archive "${file}" is not a ${format} archive (its content does not match its extension)`);
  return format;
}

function unpackCommand(tool: UnpackTool, format: ArchiveFormat, archive: string, dest: string): string[] {
  switch (tool) {
    case 'python':
      return ['python3', `${ARCHIVE_SOURCE_PATH}/${UNPACK_SCRIPT}`, archive, dest];
    case 'unzip':
      return ['unzip', '-q', '-o', archive, '-d', dest];
    case 'tar':
      return ['tar', '-x', ...(format === 'tar.gz' ? ['-z'] : []), '-m', '-o', '-f', archive, '-C', dest];
    // GNU tar, not owning the emptyDir, fails on a "./" member when it tries to chmod the directory:
    // --skip-old-files leaves existing entries (the emptyDir itself) alone
    case 'gnu-tar':
      return ['tar', '-x', ...(format === 'tar.gz' ? ['-z'] : []), '-m', '-o', '--skip-old-files', '-f', archive, '-C', dest];
  }
}

/**
 * Checks RBAC rules as `prop` (`rules` or `clusterRules`); `first` is the
 * index of the first of them (a verb adds after the rules already there).
 * @internal
 */
export function resolveRbacRules(rules: RbacRule[], prop: 'rules' | 'clusterRules', allowWildcards: boolean, first: number = 0): k8s.PolicyRule[] {
  if (!Array.isArray(rules) || (!rules.length && first === 0)) {
    throw new Error(`${prop} must list at least one rule when set, got ${JSON.stringify(rules)}`);
  }
  return rules.map((r, i) => {
    const where = `${prop}[${first + i}]`;
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
          throw new Error(
            `${where}.${field} must not contain "*" (it grants far more than a script needs): ` + `list the ${field} or set allowWildcardRules: true`,
          );
        }
      });
    }
    validateRbacResourceGroups(r.resources, apiGroups, where);
    if (prop === 'rules') {
      const clusterWide = r.resources.find((x) => CLUSTER_SCOPED_RESOURCES.has(String(x).split('/')[0]));
      if (clusterWide !== undefined) {
        throw new Error(
          `${where}.resources must name namespaced resources (rules become a Role in the runner's namespace), ` +
            `got the cluster-scoped "${clusterWide}": move the rule to clusterRules`,
        );
      }
    }
    (r.resourceNames ?? []).forEach((n, j) => validateDnsSubdomain(n, `${where}.resourceNames[${j}]`));
    return { apiGroups, resources: r.resources, verbs: r.verbs, ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) };
  });
}

/** The scripts as one ConfigMap's data: UTF-8 text only, at most 1 MiB. @internal */
export function storeScripts(entries: FileEntry[]): ConfigMapData {
  if (!entries.length) {
    throw new Error('files must contain at least one file: Files.fromPaths([...]), Files.fromDirectory(dir) or Files.fromContent({...})');
  }
  return toConfigMapData(entries, 'files', { binary: false, tooLargeHint: TOO_LARGE_HINT });
}

/** The runtime, its image, its user and the container's paths. */
function resolveRuntime(props: ScriptBundleOptions, ctx: ScriptBundleContext) {
  if (props.runtime !== undefined) validateOneOf(props.runtime, ScriptRuntime, 'runtime');
  const runtime = props.runtime ?? (props.image === undefined ? ScriptRuntime.PYTHON : undefined);
  const preset: RunnerPreset | undefined = runtime ? RUNNER_PRESETS[runtime] : undefined;
  const image = validateImage(props.image ?? preset!.image, 'image');
  const security = resolveSecurity(props.securityContext, 'securityContext', { user: preset?.user ?? DEFAULT_RUN_AS_USER }, !ctx.ownsPod);
  const writableTmp = validateBoolean(props.writableTmp ?? preset?.writableTmp ?? true, 'writableTmp');
  const mountPath = validateAbsolutePath(props.mountPath ?? '/opt/app', 'mountPath');
  if (mountPath === '/') throw new Error('mountPath must not be "/"');
  const workingDir = validateAbsolutePath(props.workingDir ?? mountPath, 'workingDir');
  if (writableTmp && (pathIsWithin(mountPath, '/tmp') || pathIsWithin('/tmp', mountPath))) {
    throw new Error(`mountPath must not overlap the writable /tmp, got "${mountPath}"`);
  }
  return { runtime, preset, image, security, writableTmp, mountPath, workingDir };
}

type Runtime = ReturnType<typeof resolveRuntime>;

/** The command: the runtime's interpreter and the entrypoint script, or the user's command. */
function resolveCommand(props: ScriptBundleOptions, rt: Runtime, files: readonly StoredFile[], data: Record<string, string>) {
  const preset = rt.preset;
  const paths = files.map((s) => s.path);
  if (props.entrypoint !== undefined) {
    validateNonEmptyText(props.entrypoint, 'entrypoint');
    if (!paths.includes(props.entrypoint)) throw new Error(`entrypoint "${props.entrypoint}" is not among the files (${paths.join(', ')})`);
  }
  for (const [prop, list] of [
    ['command', props.command],
    ['args', props.args],
  ] as const) {
    if (list !== undefined && (!Array.isArray(list) || list.some((x) => typeof x !== 'string'))) {
      throw new Error(`${prop} must be a list of strings, got ${JSON.stringify(list)}`);
    }
  }
  if (props.command !== undefined) {
    if (!props.command.length || props.command[0].trim() === '') throw new Error(`command must name a program, got ${JSON.stringify(props.command)}`);
    if (props.entrypoint !== undefined) {
      throw new Error(
        `command and entrypoint conflict: entrypoint runs "${props.entrypoint}" with the runtime's interpreter, ` +
          'command replaces it; set one of them',
      );
    }
    const program = path.posix.basename(props.command[0]);
    if (preset && KNOWN_INTERPRETERS.has(program) && !preset.executables.includes(program)) {
      throw new Error(
        `command "${props.command[0]}" conflicts with runtime "${rt.runtime}": its image ${preset.image} has ` +
          `${preset.executables.join(', ')}, not ${program}`,
      );
    }
    return { command: [...props.command] };
  }
  if (!preset) {
    throw new Error(`command is required with a custom image (no runtime), e.g. ["ruby", "${rt.mountPath}/main.rb"], got image "${rt.image}"`);
  }
  const entry = props.entrypoint ?? (paths.length === 1 ? paths[0] : undefined);
  if (entry === undefined) {
    throw new Error(`entrypoint is required when there are ${paths.length} files (${paths.join(', ')}): name the one to run, or set command`);
  }
  const language = SCRIPT_LANGUAGES[path.posix.extname(entry).toLowerCase()];
  if (language && language.interpreter !== preset.interpreter[0]) {
    throw new Error(
      `entrypoint "${entry}" is a ${language.name} script, but runtime "${rt.runtime}" runs ${preset.interpreter.join(' ')}: ` +
        `choose runtime ScriptRuntime.${language.runtime} or set command`,
    );
  }
  // an empty file (an `__init__.py`) is a fine module, but not a program to run
  validateNonEmptyText(data[files.find((x) => x.path === entry)!.key], `entrypoint script "${entry}"`);
  return { command: [...preset.interpreter, `${rt.mountPath}/${entry}`], entrypoint: entry };
}

/** The archive ConfigMap's data and the unpack command. */
function resolveArchive(props: ScriptBundleOptions, rt: Runtime, name: string): ResolvedArchive | undefined {
  if (props.archive === undefined) {
    for (const n of ['archiveMountPath', 'unpackImage'] as const) {
      if (props[n] !== undefined) throw new Error(`${n} only applies with archive, got ${n} ${JSON.stringify(props[n])} without an archive`);
    }
    return undefined;
  }
  const file = readLocalFile(props.archive, 'archive');
  const format = archiveFormat(props.archive, file.bytes);
  const key = validateConfigMapKey(file.path, 'archive file name');
  const mountPath = validateAbsolutePath(props.archiveMountPath ?? '/opt/bundle', 'archiveMountPath');
  const others = [
    ['mountPath', rt.mountPath],
    ['the unpack source', ARCHIVE_SOURCE_PATH],
    ...(rt.writableTmp ? [['the writable /tmp', '/tmp']] : []),
  ];
  for (const [other, otherPath] of others) {
    if (mountPath === '/' || pathIsWithin(mountPath, otherPath) || pathIsWithin(otherPath, mountPath)) {
      throw new Error(`archiveMountPath must not overlap ${other} ("${otherPath}"), got "${mountPath}"`);
    }
  }
  const ownTool = props.unpackImage !== undefined ? undefined : rt.preset?.unpack[format];
  const tool: UnpackTool = ownTool ?? (format === 'zip' ? 'unzip' : 'tar');
  const image = validateImage(props.unpackImage ?? (ownTool ? rt.image : BUSYBOX_IMAGE), 'unpackImage');
  const entries: FileEntry[] = [{ ...file, path: key }];
  if (tool === 'python') {
    if (key === UNPACK_SCRIPT) throw new Error(`archive file name must not be "${key}", the unpack script uses that key`);
    entries.push(readLocalFile(UNPACK_SCRIPT_FILE, 'the unpack script'));
  }
  const stored = toConfigMapData(entries, 'archive', {
    binary: (f) => f.path === key,
    extraBytes: Buffer.byteLength(`${name}-bundle`),
    tooLargeHint: 'ship large dependencies in an image or a volume',
  });
  return { key, format, tool, image, mountPath, stored, command: unpackCommand(tool, format, `${ARCHIVE_SOURCE_PATH}/${key}`, mountPath) };
}

/**
 * One `envVariables` entry as the prop and `addEnv` check it: the name, an
 * EnvValue, and (for a ScriptService) `PORT` only as the port the Service targets.
 * @internal
 */
export function resolveEnvEntry(name: string, value: kplus.EnvValue, service: ScriptServiceContainer | undefined): kplus.EnvValue {
  const checked = resolveEnvVariables({ [name]: value }, 'envVariables')[name];
  if (name === 'PORT' && service) {
    const given = checked.value;
    if (given === undefined) {
      throw new Error(
        `envVariables PORT must not come from a Secret or ConfigMap in a ScriptService (the Service targets port ${service.port}, ` +
          'set by the port prop): remove envVariables PORT and set port',
      );
    }
    if (String(given) !== String(service.port)) {
      throw new Error(
        `envVariables PORT must match port (the Service targets port ${service.port}), got PORT ${JSON.stringify(given)}: ` +
          `set port to ${JSON.stringify(given)} instead of envVariables PORT, or remove envVariables PORT`,
      );
    }
  }
  return checked;
}

/** The container's environment, in order: the runtime's, the archive's path, PORT, then the user's (which win). */
function resolveEnv(props: ScriptBundleOptions, rt: Runtime, archive: ResolvedArchive | undefined, ctx: ScriptBundleContext) {
  const env: Record<string, kplus.EnvValue> = {};
  for (const [k, v] of Object.entries(rt.preset?.env ?? {})) env[k] = kplus.EnvValue.fromValue(v);
  if (archive && rt.preset?.archivePathEnv) env[rt.preset.archivePathEnv] = kplus.EnvValue.fromValue(archive.mountPath);
  if (ctx.service) env.PORT = kplus.EnvValue.fromValue(String(ctx.service.port));
  const given = resolveEnvVariables(props.envVariables, 'envVariables');
  for (const [k, v] of Object.entries(given)) env[k] = resolveEnvEntry(k, v, ctx.service);
  return env;
}

/**
 * Validates a bundle's options and decides every default; reads the files and
 * the archive; creates no construct.
 * @internal
 */
export function resolveScriptBundle(props: ScriptBundleOptions, ctx: ScriptBundleContext = {}): ResolvedScriptBundle {
  const name = validateDnsLabel(props.name ?? 'runner', 'name');
  const rt = resolveRuntime(props, ctx);
  const allowWildcardRules = validateBoolean(props.allowWildcardRules ?? false, 'allowWildcardRules');
  const labels = recommendedLabels({
    name: SCRIPTS_PATTERN_NAME,
    instance: name,
    component: ctx.component,
    ...(props.partOf !== undefined ? { partOf: validateLabelValue(props.partOf, 'partOf') } : {}),
  });
  const entries = resolveFiles(props.files, 'files', true);
  const stored = storeScripts(entries);
  const run = resolveCommand(props, rt, stored.files, stored.data);
  const archive = resolveArchive(props, rt, name);
  const rules = props.rules === undefined ? undefined : resolveRbacRules(props.rules, 'rules', allowWildcardRules);
  const clusterRules = props.clusterRules === undefined ? undefined : resolveRbacRules(props.clusterRules, 'clusterRules', allowWildcardRules);
  if (clusterRules && !ctx.namespace) {
    throw new Error("clusterRules need the chart to have a namespace: the ClusterRoleBinding must name the ServiceAccount's namespace");
  }
  const service = ctx.service && {
    port: ctx.service.port,
    healthPath: ctx.service.healthPath === undefined ? undefined : validateHttpPath(ctx.service.healthPath, 'healthPath'),
  };
  return {
    name,
    labels,
    runtime: rt.runtime,
    image: rt.image,
    ...run,
    args: [...(props.args ?? [])],
    mountPath: rt.mountPath,
    workingDir: rt.workingDir,
    security: rt.security,
    writableTmp: rt.writableTmp,
    emptyDirSizeLimit: resolveSizeLimit(props.emptyDirSizeLimit, 'emptyDirSizeLimit'),
    resources: mergeResources(DEFAULT_RESOURCES, props.resources, 'resources'),
    allowWildcardRules,
    entries,
    stored,
    env: resolveEnv(props, rt, archive, ctx),
    archive,
    rules,
    clusterRules,
    namespace: ctx.namespace,
    service,
  };
}

/** Resolves {@link ScriptBundleProps}: the options and the workload. @internal */
export function resolveScriptBundleProps(props: ScriptBundleProps, namespace: string | undefined): ResolvedScriptBundle {
  validateScriptProps(props, { ...SCRIPT_BUNDLE_OPTIONS, workload: true }, 'ScriptBundle props');
  if (!(props.workload instanceof kplus.AbstractPod)) {
    throw new Error(
      'workload must be a cdk8s-plus workload (kplus.Deployment, StatefulSet, DaemonSet, Job, CronJob or Pod), ' +
        `got ${props.workload === undefined ? 'undefined' : typeof props.workload}`,
    );
  }
  const r = resolveScriptBundle(props, { namespace });
  checkRoomOnWorkload(props.workload, r);
  return r;
}

/** The bundle's container and volume names must be free on the workload (cdk8s-plus would only fail at synth). */
function checkRoomOnWorkload(workload: kplus.AbstractPod, r: ResolvedScriptBundle): void {
  const containers = [...workload.containers, ...workload.initContainers].map((c) => c.name);
  for (const name of [r.name, ...(r.archive ? ['unpack'] : [])]) {
    if (containers.includes(name)) {
      throw new Error(
        `${name === r.name ? 'name' : 'archive'} needs the container name "${name}", but the workload already has a container ` +
          `"${name}": ${name === r.name ? 'give the bundle another name' : 'rename your container'}`,
      );
    }
  }
  const volumes = new Set([
    ...workload.volumes.map((v) => v.name),
    ...[...workload.containers, ...workload.initContainers].flatMap((c) => c.mounts.map((m) => m.volume.name)),
  ]);
  const needed = ['scripts', ...(r.writableTmp ? ['tmp'] : []), ...(r.archive ? ['bundle-source', 'bundle'] : [])];
  const taken = needed.filter((v) => volumes.has(v));
  if (taken.length) {
    const list = taken.map((v) => `"${v}"`).join(', ');
    throw new Error(
      `ScriptBundle "${r.name}" needs the volume names ${needed.join(', ')}, but the workload already has ${list}: ` +
        'one ScriptBundle per workload, and rename a volume of your own',
    );
  }
}

const RESOLVED = Symbol('cdk8s-patterns.ScriptBundle.resolved');
const API_ACCESS_HOOKS = new WeakMap<ScriptBundle, Array<() => void>>();
const BOUND_ACCOUNTS = new WeakMap<kplus.AbstractPod, string>();

/**
 * A ScriptBundle from an already resolved bundle (ScriptService, ScriptJob
 * and ScriptCronJob resolve everything first, then build).
 * @internal
 */
export function attachScriptBundle(scope: Construct, id: string, workload: kplus.AbstractPod, resolved: ResolvedScriptBundle): ScriptBundle {
  return new ScriptBundle(scope, id, { workload, files: Files.fromContent({}), [RESOLVED]: resolved } as ScriptBundleProps);
}

/**
 * Runs `hook` once the bundle's pod holds an API token (now, or when the
 * first `allow` creates the ServiceAccount): the workload constructs open
 * egress to the API server there.
 * @internal
 */
export function onApiAccess(bundle: ScriptBundle, hook: () => void): void {
  if (bundle.serviceAccount) hook();
  else API_ACCESS_HOOKS.set(bundle, [...(API_ACCESS_HOOKS.get(bundle) ?? []), hook]);
}

/** The ConfigMap volume's `items` (only when a path differs from its key), as cdk8s-plus renders them. */
function scriptItems(files: readonly StoredFile[]): Record<string, kplus.PathMapping> | undefined {
  if (!files.some((s) => s.key !== s.path)) return undefined;
  return Object.fromEntries(files.map((s) => [s.key, { path: s.path }]));
}

/** Where a workload's pod spec is in its manifest, for the pod-template metadata. */
function podMetadata(workload: kplus.AbstractPod) {
  return workload instanceof kplus.Pod ? workload.metadata : workload.podMetadata;
}

/**
 * Scripts on a stock image, attached to any cdk8s-plus workload.
 *
 * The scripts go into the ConfigMap `<name>-scripts`, mounted read-only at
 * `mountPath`; a container `<name>` on the runtime's pinned image (or any
 * pinned image with a `command`) runs them with the given args, env and
 * working directory, hardened (non-root, read-only root filesystem, no
 * privilege escalation, every capability dropped, seccomp RuntimeDefault) with
 * a writable /tmp only where the interpreter needs one. An archive is
 * unpacked by an init container `unpack` into an emptyDir first. API access
 * only when asked (`rules`, `allow`): a ServiceAccount `<name>` with a Role
 * or ClusterRole, its token mounted. Changing a script or the archive changes
 * a checksum annotation on the pod template, so the pods roll.
 *
 * For a server, a one-shot Job or a CronJob use {@link ScriptService},
 * {@link ScriptJob} or {@link ScriptCronJob}, which make the workload.
 */
export class ScriptBundle extends Construct {
  /** The container name and base name of every object. */
  public readonly name: string;
  /** The recommended labels on the bundle's objects. */
  public readonly labels: Readonly<Record<string, string>>;
  /** The image the container runs. */
  public readonly image: string;
  /** The container command. */
  public readonly command: string[];
  /** The container running the scripts. */
  public readonly container: kplus.Container;
  /** The ConfigMap `<name>-scripts`. */
  public readonly configMap: kplus.ConfigMap;
  /** The ConfigMap `<name>-bundle`, with an archive. */
  public readonly archiveConfigMap?: kplus.ConfigMap;

  private readonly workload: kplus.AbstractPod;
  private readonly r: ResolvedScriptBundle;
  private readonly scriptsVolume: kplus.Volume;
  private entries: FileEntry[];
  private stored: ConfigMapData;
  private rbac: { serviceAccount?: kplus.ServiceAccount; role?: k8s.KubeRole; clusterRole?: k8s.KubeClusterRole } = {};
  private readonly granted: { rules: k8s.PolicyRule[]; clusterRules: k8s.PolicyRule[] } = { rules: [], clusterRules: [] };

  constructor(scope: Construct, id: string, props: ScriptBundleProps) {
    super(scope, id);
    const r = (props as { [RESOLVED]?: ResolvedScriptBundle })[RESOLVED] ?? resolveScriptBundleProps(props, Chart.of(this).namespace);
    this.r = r;
    this.workload = props.workload;
    this.name = r.name;
    this.labels = r.labels;
    this.image = r.image;
    this.command = r.command;
    this.entries = r.entries;
    this.stored = r.stored;
    this.configMap = new kplus.ConfigMap(this, 'Scripts', { metadata: { name: `${r.name}-scripts` }, data: r.stored.data });
    this.scriptsVolume = kplus.Volume.fromConfigMap(this, 'ScriptsVolume', this.configMap, {
      name: 'scripts',
      defaultMode: 0o444,
      items: scriptItems(r.stored.files),
    });
    const mounts: kplus.VolumeMount[] = [{ volume: this.scriptsVolume, path: r.mountPath, readOnly: true }];
    if (r.writableTmp) mounts.push({ volume: kplus.Volume.fromEmptyDir(this, 'TmpVolume', 'tmp', { sizeLimit: r.emptyDirSizeLimit }), path: '/tmp' });
    if (r.archive) this.archiveConfigMap = this.buildArchive(r.archive, mounts);
    this.container = this.workload.addContainer(this.containerProps(mounts));
    // the bundle's objects come before the workload in the manifests
    this.workload.node.addDependency(this);
    addChecksumAnnotation({ podMetadata: podMetadata(this.workload) }, 'scripts', this.configMap.data);
    for (const rule of r.rules ?? []) this.grant('rules', rule);
    for (const rule of r.clusterRules ?? []) this.grant('clusterRules', rule);
    applyLabels(this, this.labels);
  }

  /** The ServiceAccount `<name>`, once there are rules. */
  public get serviceAccount(): kplus.ServiceAccount | undefined {
    return this.rbac.serviceAccount;
  }

  /** The Role `<name>`, once there are `rules`. */
  public get role(): k8s.KubeRole | undefined {
    return this.rbac.role;
  }

  /** The ClusterRole `<namespace>-<name>`, once there are `clusterRules`. */
  public get clusterRole(): k8s.KubeClusterRole | undefined {
    return this.rbac.clusterRole;
  }

  /** The scripts, as they land below `mountPath`. */
  public get files(): StoredFile[] {
    return [...this.stored.files];
  }

  /**
   * Adds scripts, checked as `files` is (UTF-8, no path twice, 1 MiB in all).
   * The command stays: it was decided from the files given at construction.
   */
  public addFiles(files: Files): void {
    const entries = [...this.entries, ...resolveFiles(files, 'files', true)];
    const stored = storeScripts(entries);
    for (const f of this.stored.files) {
      const key = stored.files.find((x) => x.path === f.path)!.key;
      if (key !== f.key) throw new Error(`files path "${f.path}" would get another ConfigMap key (${key}): a new file's key collides with it`);
    }
    for (const f of stored.files) if (this.stored.data[f.key] === undefined) this.configMap.addData(f.key, stored.data[f.key]);
    this.entries = entries;
    this.stored = stored;
    // cdk8s-plus renders a ConfigMap volume's items when the volume is made: files added later need theirs too
    const config = (this.scriptsVolume as unknown as { config?: { configMap?: { items?: unknown } } }).config;
    if (!config?.configMap) throw new Error('cannot add files: the scripts volume is not a cdk8s-plus ConfigMap volume');
    const items = scriptItems(stored.files);
    config.configMap.items =
      items &&
      Object.keys(items)
        .sort()
        .map((key) => ({ key, path: items[key].path }));
    addChecksumAnnotation({ podMetadata: podMetadata(this.workload) }, 'scripts', this.configMap.data);
  }

  /** Adds an environment variable, checked as `envVariables` is; it wins over the runtime's. */
  public addEnv(name: string, value: kplus.EnvValue): void {
    this.container.env.addVariable(name, resolveEnvEntry(name, value, this.r.service));
  }

  /**
   * Lets the scripts do what `rule` says in the namespace, as an entry of
   * `rules`: the first creates the ServiceAccount, the Role, the RoleBinding
   * and mounts the token.
   */
  public allow(rule: RbacRule): void {
    this.grant('rules', resolveRbacRules([rule], 'rules', this.r.allowWildcardRules, this.granted.rules.length)[0]);
  }

  /**
   * Lets the scripts do what `rule` says in every namespace, as an entry of
   * `clusterRules` (needs a chart with a namespace).
   */
  public allowClusterWide(rule: RbacRule): void {
    const [checked] = resolveRbacRules([rule], 'clusterRules', this.r.allowWildcardRules, this.granted.clusterRules.length);
    if (!this.r.namespace) {
      throw new Error("clusterRules need the chart to have a namespace: the ClusterRoleBinding must name the ServiceAccount's namespace");
    }
    this.grant('clusterRules', checked);
  }

  private grant(kind: 'rules' | 'clusterRules', rule: k8s.PolicyRule): void {
    this.granted[kind].push(rule);
    const serviceAccount = this.rbac.serviceAccount ?? this.bindServiceAccount();
    const subject = { kind: 'ServiceAccount', name: serviceAccount.name, ...(this.r.namespace ? { namespace: this.r.namespace } : {}) };
    const roleRef = (k: string, name: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: k, name });
    if (kind === 'rules' && !this.rbac.role) {
      this.rbac.role = new k8s.KubeRole(this, 'Role', { metadata: { name: this.name }, rules: this.granted.rules });
      new k8s.KubeRoleBinding(this, 'RoleBinding', { metadata: { name: this.name }, roleRef: roleRef('Role', this.name), subjects: [subject] });
    }
    if (kind === 'clusterRules' && !this.rbac.clusterRole) {
      const clusterName = `${this.r.namespace}-${this.name}`;
      this.rbac.clusterRole = new k8s.KubeClusterRole(this, 'ClusterRole', { metadata: { name: clusterName }, rules: this.granted.clusterRules });
      const binding = new k8s.KubeClusterRoleBinding(this, 'ClusterRoleBinding', {
        metadata: { name: clusterName },
        roleRef: roleRef('ClusterRole', clusterName),
        subjects: [subject],
      });
      // cluster-scoped: the chart's namespace does not belong on them
      for (const o of [this.rbac.clusterRole, binding]) ApiObject.of(o).addJsonPatch(JsonPatch.remove('/metadata/namespace'));
    }
    applyLabels(this, this.labels);
  }

  /** The ServiceAccount, made the pod's with its token mounted (the first rule). */
  private bindServiceAccount(): kplus.ServiceAccount {
    const bound = BOUND_ACCOUNTS.get(this.workload) ?? this.workload.serviceAccount?.name;
    if (bound !== undefined) {
      throw new Error(
        `rules need the pod to run as the ServiceAccount "${this.name}", but the workload already runs as "${bound}": ` +
          'grant that ServiceAccount yourself, or give the workload none',
      );
    }
    const serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: { name: this.name }, automountToken: false });
    // cdk8s-plus takes a pod's ServiceAccount at construction only, and reads these two fields at synth
    Object.assign(this.workload, { serviceAccount, automountServiceAccountToken: true });
    BOUND_ACCOUNTS.set(this.workload, this.name);
    this.rbac.serviceAccount = serviceAccount;
    for (const hook of API_ACCESS_HOOKS.get(this) ?? []) hook();
    API_ACCESS_HOOKS.delete(this);
    return serviceAccount;
  }

  /** The archive ConfigMap and the init container that unpacks it; adds the unpacked volume to `mounts`. */
  private buildArchive(a: ResolvedArchive, mounts: kplus.VolumeMount[]): kplus.ConfigMap {
    const configMap = new kplus.ConfigMap(this, 'Bundle', {
      metadata: { name: `${this.name}-bundle` },
      data: a.stored.data,
      binaryData: a.stored.binaryData,
    });
    const sourceVolume = kplus.Volume.fromConfigMap(this, 'BundleSourceVolume', configMap, { name: 'bundle-source', defaultMode: 0o444 });
    const unpacked = kplus.Volume.fromEmptyDir(this, 'BundleVolume', 'bundle', { sizeLimit: this.r.emptyDirSizeLimit });
    this.workload.addInitContainer(
      hardenedContainer(
        {
          name: 'unpack',
          image: a.image,
          command: a.command,
          resources: this.r.resources,
          volumeMounts: [
            { volume: sourceVolume, path: ARCHIVE_SOURCE_PATH, readOnly: true },
            { volume: unpacked, path: a.mountPath },
          ],
        },
        { user: this.r.security.user, group: this.r.security.group },
      ),
    );
    mounts.push({ volume: unpacked, path: a.mountPath, readOnly: true });
    addChecksumAnnotation({ podMetadata: podMetadata(this.workload) }, 'bundle', { ...a.stored.data, ...a.stored.binaryData });
    return configMap;
  }

  /**
   * The main container. A ScriptService's readiness asks the health path (or,
   * without one, whether the port accepts connections); liveness only whether
   * the port accepts connections, over a longer threshold, so a slow
   * dependency takes the pod out of the Service without restarting it.
   * Without a health path the two would be the same check: there is no
   * liveness probe then, and the kubelet restarts the container when its process exits.
   */
  private containerProps(mounts: kplus.VolumeMount[]): kplus.ContainerProps {
    const r = this.r;
    const s = r.service;
    const readiness =
      s && (s.healthPath !== undefined ? kplus.Probe.fromHttpGet(s.healthPath, { port: s.port }) : kplus.Probe.fromTcpSocket({ port: s.port }));
    const liveness =
      s?.healthPath === undefined ? undefined : kplus.Probe.fromTcpSocket({ port: s.port, periodSeconds: Duration.seconds(10), failureThreshold: 6 });
    return hardenedContainer(
      {
        name: r.name,
        image: r.image,
        command: r.command,
        ...(r.args.length ? { args: r.args } : {}),
        workingDir: r.workingDir,
        envVariables: { ...r.env },
        resources: r.resources,
        volumeMounts: mounts,
        ...(s ? { ports: [{ number: s.port, name: 'http' }], readiness, ...(liveness ? { liveness } : {}) } : {}),
      },
      { user: r.security.user, group: r.security.group },
    );
  }
}
