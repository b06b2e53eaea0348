import * as path from 'node:path';
import { Duration, Size, SizeRoundingBehavior } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { FileEntry, inlineFiles, readLocalDirectory, readLocalFile } from './files';
import { validateEnvVariables, validatePositiveInteger, validateResources } from './validate';

/**
 * The workload vocabulary: one shape per idea, shared by every construct.
 *
 * - files: {@link Files} (a folder, some files, inline content)
 * - env: `envVariables: Record<string, kplus.EnvValue>` ({@link resolveEnvVariables})
 * - who runs: `securityContext: WorkloadSecurityOptions` ({@link resolveSecurity})
 * - resources: merged field by field over the defaults ({@link mergeResources})
 * - time: `cdk8s.Duration` ({@link toWholeSeconds})
 */

/**
 * The UID/GID pods run as unless a construct's image needs another one:
 * 65532 is the conventional "nonroot" user of distroless and many minimal images.
 */
export const DEFAULT_RUN_AS_USER = 65532;

/** Options for {@link Files.fromDirectory}. */
export interface DirectoryOptions {
  /**
   * Names of files and folders to leave out, at any depth. A name may use `*`
   * as a wildcard (`*.pyc`).
   * @default - nothing is left out
   */
  readonly exclude?: string[];
  /**
   * Read the folders below `dir` too; their files land below the same
   * relative paths.
   * @default true
   */
  readonly recursive?: boolean;
}

function wildcard(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

/**
 * Files to store in a ConfigMap: a folder, some files, inline content, or
 * several of these. One shape for every construct's `files` prop and every
 * `addFiles` verb. Local files are read when the construct is created, and
 * every error names the prop and the path.
 *
 * @example
 * new StaticSite(chart, 'Site', { files: Files.fromDirectory('site') });
 * new StaticSite(chart, 'Inline', { files: Files.fromContent({ 'index.html': '<h1>hi</h1>' }) });
 */
export abstract class Files {
  /**
   * Every file below `dir`; each lands under its path relative to `dir`.
   * An empty folder is refused, naming it.
   */
  public static fromDirectory(dir: string, options: DirectoryOptions = {}): Files {
    return new DirectoryFiles(dir, options);
  }

  /** These files; each lands under its base name (`conf/app.yaml` → `app.yaml`). */
  public static fromPaths(paths: string[]): Files {
    return new PathFiles(paths);
  }

  /** Inline content: relative path → text (stored as UTF-8) or bytes. */
  public static fromContent(content: Record<string, string | Buffer>): Files {
    return new ContentFiles(content);
  }

  /** Several sources as one. A path may come from one source only. */
  public static of(...sources: Files[]): Files {
    return new ManyFiles(sources);
  }

  /** True for a {@link Files} made by any copy of this library. */
  public static isFiles(x: unknown): x is Files {
    return typeof x === 'object' && x !== null && typeof (x as { _read?: unknown })._read === 'function';
  }

  /**
   * Reads the files. `prop` names the prop in error messages.
   * @internal
   */
  public abstract _read(prop: string, text: boolean): FileEntry[];
}

class DirectoryFiles extends Files {
  constructor(
    private readonly dir: string,
    private readonly options: DirectoryOptions,
  ) {
    super();
  }

  public _read(prop: string): FileEntry[] {
    const excludes = (this.options.exclude ?? []).map((p, i) => {
      if (typeof p !== 'string' || p === '' || p.includes('/')) {
        throw new Error(`${prop} exclude[${i}] must be a file or folder name (no "/"), optionally with * wildcards, got ${JSON.stringify(p)}`);
      }
      return wildcard(p);
    });
    const found = readLocalDirectory(this.dir, `${prop} directory`, {
      recursive: this.options.recursive ?? true,
      include: (name) => !excludes.some((re) => re.test(name)),
    });
    if (found.length === 0) {
      throw new Error(
        `${prop} directory "${this.dir}" (${path.resolve(this.dir)}) has no files${excludes.length ? ' left after exclude' : ''}: ` +
          'add at least one file, or leave the prop out',
      );
    }
    return found;
  }
}

class PathFiles extends Files {
  constructor(private readonly paths: string[]) {
    super();
  }

  public _read(prop: string): FileEntry[] {
    if (!Array.isArray(this.paths))
      throw new Error(`${prop} must be Files.fromPaths([...paths]) with an array of file paths, got ${JSON.stringify(this.paths)}`);
    return this.paths.map((f, i) => readLocalFile(f, `${prop} path [${i}]`));
  }
}

class ContentFiles extends Files {
  constructor(private readonly content: Record<string, string | Buffer>) {
    super();
  }

  public _read(prop: string, text: boolean): FileEntry[] {
    return inlineFiles(this.content, `${prop} content`, !text);
  }
}

class ManyFiles extends Files {
  constructor(private readonly sources: Files[]) {
    super();
  }

  public _read(prop: string, text: boolean): FileEntry[] {
    return this.sources.flatMap((s, i) => resolveFiles(s, `${prop} source [${i}]`, text));
  }
}

/**
 * Reads a `files` prop. Refuses anything that is not {@link Files} with the
 * ways to make one. `text`: inline Buffers are refused (scripts, config).
 * @internal
 */
export function resolveFiles(files: Files, prop: string, text: boolean = false): FileEntry[] {
  if (files === undefined || files === null) {
    throw new Error(`${prop} is required: Files.fromDirectory(dir), Files.fromPaths([...]), Files.fromContent({...}) or Files.of(...)`);
  }
  if (!Files.isFiles(files)) {
    throw new Error(
      `${prop} must be Files (Files.fromDirectory(dir), Files.fromPaths([...]), Files.fromContent({...}) or Files.of(...)), ` +
        `got ${typeof files === 'string' ? JSON.stringify(files) : Array.isArray(files) ? 'an array' : typeof files}`,
    );
  }
  return files._read(prop, text);
}

/**
 * Who a workload's processes run as. Everything else is fixed: non-root,
 * read-only root filesystem, no privilege escalation, every capability
 * dropped, seccomp RuntimeDefault.
 */
export interface WorkloadSecurityOptions {
  /**
   * UID the processes run as (1 or more).
   * @default - 65532, or the UID the construct's image is built for (stated on each construct)
   */
  readonly user?: number;
  /**
   * GID the processes run as (1 or more).
   * @default - the same as `user`
   */
  readonly group?: number;
  /**
   * GID that owns the pod's volumes. Pod level only: refused on a single container.
   * @default - the same as `group`
   */
  readonly fsGroup?: number;
}

const SECURITY_PROPS = new Set(['user', 'group', 'fsGroup']);

/** A resolved {@link WorkloadSecurityOptions}. @internal */
export interface ResolvedSecurity {
  readonly user: number;
  readonly group: number;
  readonly fsGroup: number;
}

/**
 * Resolves a `securityContext` prop: every id 1-2147483647, `group` defaults
 * to `user`, `fsGroup` to `group`. `container`: `fsGroup` is refused.
 * @internal
 */
export function resolveSecurity(
  opts: WorkloadSecurityOptions | undefined,
  prop: string,
  defaults: { user?: number; group?: number; fsGroup?: number } = {},
  container: boolean = false,
): ResolvedSecurity {
  if (opts !== undefined && (opts === null || typeof opts !== 'object' || Array.isArray(opts))) {
    throw new Error(`${prop} must be an object { user?, group?${container ? '' : ', fsGroup?'} }, got ${JSON.stringify(opts)}`);
  }
  for (const k of Object.keys(opts ?? {})) {
    if (!SECURITY_PROPS.has(k) || (container && k === 'fsGroup')) {
      throw new Error(
        `${prop}.${k} is not a setting here: use ${container ? 'user or group (fsGroup is set on the pod)' : 'user, group or fsGroup'}`,
      );
    }
  }
  const user = validatePositiveInteger(opts?.user ?? defaults.user ?? DEFAULT_RUN_AS_USER, `${prop}.user`, 1, 2147483647);
  const group = validatePositiveInteger(opts?.group ?? defaults.group ?? user, `${prop}.group`, 1, 2147483647);
  const fsGroup = validatePositiveInteger(opts?.fsGroup ?? defaults.fsGroup ?? group, `${prop}.fsGroup`, 1, 2147483647);
  return { user, group, fsGroup };
}

/**
 * Resolves an `envVariables` prop: names checked, values must be
 * `kplus.EnvValue` (`EnvValue.fromValue('text')` for plain text).
 * @internal
 */
export function resolveEnvVariables(env: Record<string, kplus.EnvValue> | undefined, prop: string = 'envVariables'): Record<string, kplus.EnvValue> {
  if (env === undefined) return {};
  return validateEnvVariables(env as Record<string, unknown>, prop);
}

type Leaf = 'request' | 'limit';
const RESOURCE_KINDS = ['cpu', 'memory', 'ephemeralStorage'] as const;

/**
 * `given` over `defaults`, leaf by leaf: each request or limit given replaces
 * the default's; the rest stays. `{ cpu: { limit: Cpu.millis(1000) } }` keeps
 * the default CPU request and the memory. The merged result is checked (a
 * request above its limit is refused, naming both).
 * @internal
 */
export function mergeResources(
  defaults: kplus.ContainerResources,
  given: kplus.ContainerResources | undefined,
  prop: string = 'resources',
): kplus.ContainerResources {
  validateResources(given, prop);
  if (given === undefined) return defaults;
  const out: Record<string, Partial<Record<Leaf, unknown>>> = {};
  for (const kind of RESOURCE_KINDS) {
    const d = (defaults[kind] ?? {}) as Partial<Record<Leaf, unknown>>;
    const g = (given[kind] ?? {}) as Partial<Record<Leaf, unknown>>;
    const merged: Partial<Record<Leaf, unknown>> = {};
    for (const leaf of ['request', 'limit'] as const) {
      const v = g[leaf] ?? d[leaf];
      if (v !== undefined) merged[leaf] = v;
    }
    if (Object.keys(merged).length) out[kind] = merged;
  }
  const result = out as unknown as kplus.ContainerResources;
  try {
    validateResources(result, prop);
  } catch (err) {
    throw new Error(`${(err as Error).message} (after merging the given ${prop} over the defaults: set both request and limit)`);
  }
  return result;
}

/**
 * A `Duration` prop as whole seconds within `[min, max]` seconds; fractions
 * of a second are refused.
 * @internal
 */
export function toWholeSeconds(value: Duration | undefined, prop: string, fallback: Duration, min: number, max: number): number {
  const d = value ?? fallback;
  if (!(d instanceof Duration)) {
    throw new Error(`${prop} must be a cdk8s Duration such as Duration.seconds(30), got ${JSON.stringify(d)}`);
  }
  const ms = d.toMilliseconds();
  if (!Number.isFinite(ms) || ms % 1000 !== 0) {
    throw new Error(`${prop} must be a whole number of seconds, got ${ms} ms`);
  }
  const s = ms / 1000;
  if (s < min || s > max) {
    throw new Error(`${prop} must be between ${min} and ${max} seconds, got ${s} s`);
  }
  return s;
}

/** A Size in MiB, for messages. @internal */
export function mebibytes(size: Size): number {
  return size.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
}

// ---------------------------------------------------------------- Sidecars (lib/sidecars.ts) ---

/**
 * One container of a pod with sidecars (the app, a sidecar or an init
 * container) in cdk8s-plus's container vocabulary (`kplus.ContainerProps`:
 * `envVariables`, `ports`, `readiness`, `liveness`, `startup`, ...), plus a
 * private writable /tmp. Every container is hardened (non-root, read-only
 * root filesystem, no privilege escalation, every capability dropped, seccomp
 * RuntimeDefault) whatever is set here; `securityContext` chooses the UID and
 * GID only.
 *
 * Probes are yours to give and must reach a port the container declares in
 * `ports`: no probe is added to your containers. Init containers may not have probes.
 */
export interface SidecarContainer extends Omit<
  kplus.ContainerProps,
  'name' | 'volumeMounts' | 'port' | 'portNumber' | 'restartPolicy' | 'securityContext' | 'resources' | 'imagePullPolicy'
> {
  /** Container name (DNS-1123 label), unique in the pod. */
  readonly name: string;
  /**
   * The UID and GID the container runs as (never 0; `fsGroup` is set on the pod).
   * @default - the pod-level `securityContext` user (65532) and group (the same as the user)
   */
  readonly securityContext?: WorkloadSecurityOptions;
  /**
   * Volumes to mount (`kplus.Volume.fromEmptyDir`, `fromConfigMap`,
   * `fromSecret`, ...); the pod gets each volume once. A mount is read-only
   * unless it sets `readOnly: false`.
   * @default - none
   */
  readonly volumeMounts?: kplus.VolumeMount[];
  /**
   * Give the container a private, writable emptyDir (64 MiB) at /tmp,
   * named `<name>-tmp`; the root filesystem stays read-only.
   * @default false
   */
  readonly writableTmp?: boolean;
  /**
   * CPU, memory and ephemeral storage, merged field by field over the defaults.
   * @default - CPU 50m requested, 500m limit; memory 64Mi requested, 128Mi limit; ephemeral storage 64Mi requested, 256Mi limit
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * When the kubelet pulls the image.
   * @default kplus.ImagePullPolicy.IF_NOT_PRESENT
   */
  readonly imagePullPolicy?: kplus.ImagePullPolicy;
}
