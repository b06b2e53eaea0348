import * as path from 'node:path';
import { Size, SizeRoundingBehavior } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { StoredFile, toConfigMapData } from './files';
import { contentHash } from './hash';
import { validateImage } from './image';
import { applyLabels, recommendedLabels } from './labels';
import { DEFAULT_EMPTY_DIR_SIZE_LIMIT, DEFAULT_RESOURCES, hardenedContainer } from './security';
import {
  isWholeMebibytes,
  pathIsWithin,
  required,
  validateAbsolutePath,
  validateDnsLabel,
  validateDnsSubdomain,
  validateOneOf,
  validateKnownProps,
} from './validate';
import { Files, WorkloadSecurityOptions, mergeResources, resolveFiles, resolveSecurity } from './workload';

/**
 * How the init container copies the config out of the config image.
 */
export enum CopyStyle {
  /**
   * An explicit copy command run with the image's shell:
   * `sh -c 'cp -R -L -- "$@"' copy-config <configPaths...> <initMountPath>`.
   * Works with any image that has `sh` and `cp` (busybox, alpine, debian...),
   * whatever its ENTRYPOINT is. `-L` copies what symlinks point to, so nothing
   * in the copy points back into the config image; nothing is preserved
   * (`-a`/`-p` would try to chown to the image's owner, which a non-root
   * user cannot do).
   */
  COMMAND = 'Command',
  /**
   * The config image's own ENTRYPOINT copies the config to the directory given
   * as its only argument, e.g. `ENTRYPOINT ["sh","-c","cp /src/config.cfg $1","--"]`.
   * The container sets no `command` and `args: [<initMountPath>]`.
   */
  ENTRYPOINT = 'Entrypoint',
}

/**
 * What both modes need: which workload reads the config, and where.
 */
export interface ImmutableConfigMountProps {
  /**
   * The cdk8s-plus workload whose containers read the config: a `Deployment`,
   * `Job`, `StatefulSet`, `DaemonSet`, `CronJob` or `Pod`. Create it (with its
   * containers) first; this construct attaches to it.
   */
  readonly workload: kplus.AbstractPod;
  /**
   * The directory where every app container finds the config, mounted
   * read-only, e.g. `/config`. Absolute, not `/`, and not overlapping any other
   * mount of those containers. Required: it is also the copy's destination,
   * so it cannot be forgotten.
   */
  readonly mountPath: string;
  /**
   * The app containers that read the config. `mount(container)` adds one
   * after construction.
   * @default - every container the workload has when this construct is created
   *   (synth fails if a container is added later and not given to `mount`)
   */
  readonly containers?: kplus.Container[];
  /**
   * Name of the pod volume that carries the config.
   * @default 'config'
   */
  readonly volumeName?: string;
}

/**
 * Props for {@link ImmutableConfigInit}.
 */
export interface ImmutableConfigInitProps extends ImmutableConfigMountProps {
  /**
   * The config image, pinned with a tag or (recommended, because a tag can be
   * pushed again) a digest: `registry/app-config:1.4.2` or
   * `registry/app-config@sha256:...`. Changing it changes the pod template,
   * so a new config is always a new rollout.
   */
  readonly image: string;
  /**
   * How the config is copied out of the image.
   * @default CopyStyle.COMMAND
   */
  readonly copyStyle?: CopyStyle;
  /**
   * Absolute paths of the config files or directories inside the image. Each
   * lands at `<mountPath>/<basename>`. Required with `CopyStyle.COMMAND`; not
   * allowed with `CopyStyle.ENTRYPOINT`, whose image decides what it copies.
   * `addConfigPath(path)` adds one after construction.
   * @default - none (required with CopyStyle.COMMAND)
   */
  readonly configPaths?: string[];
  /**
   * Where the init container mounts the volume and copies to. Set it when
   * the image keeps its config below `mountPath` (e.g. `/config/app.cfg`),
   * because the empty volume would hide it there.
   * @default - the same as `mountPath`
   */
  readonly initMountPath?: string;
  /**
   * Name of the init container.
   * @default 'copy-config'
   */
  readonly initContainerName?: string;
  /**
   * Who the init container runs as (`user`, `group`; `fsGroup` belongs to
   * the workload's pod). The copied files belong to `user` and keep the
   * image's permission bits, so app containers running as another UID read
   * them through the "other" (or, with the pod's fsGroup, the group) bits.
   * @default - user: the workload's pod-level runAsUser, or 65532 when it has none;
   *   group: the workload's pod-level runAsGroup, or `user`
   */
  readonly securityContext?: WorkloadSecurityOptions;
  /**
   * Resources of the init container, merged leaf by leaf over the defaults.
   * @default - 50m CPU and 64 MiB memory requested, 500m CPU and 128 MiB memory at most; 64 MiB ephemeral storage
   *   requested, 256 MiB at most
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Size limit of the emptyDir volume (only the init container writes to it,
   * and only what the config image or ConfigMap holds).
   * @default Size.mebibytes(64)
   */
  readonly sizeLimit?: Size;
  /**
   * Storage medium of the emptyDir volume. `EmptyDirMedium.MEMORY` (tmpfs)
   * counts the config against the containers' memory limits.
   * @default EmptyDirMedium.DEFAULT (the node's disk)
   */
  readonly medium?: kplus.EmptyDirMedium;
}

/** The script of {@link CopyStyle.COMMAND}: `$0` is a label, `$@` the sources followed by the destination. */
export const COPY_SCRIPT = 'cp -R -L -- "$@"';

const INIT_PROPS: Record<keyof Required<ImmutableConfigInitProps>, true> = {
  image: true,
  copyStyle: true,
  configPaths: true,
  initMountPath: true,
  initContainerName: true,
  securityContext: true,
  resources: true,
  sizeLimit: true,
  medium: true,
  workload: true,
  mountPath: true,
  containers: true,
  volumeName: true,
};
const MAP_PROPS: Record<keyof Required<ImmutableConfigMapProps>, true> = {
  files: true,
  name: true,
  workload: true,
  mountPath: true,
  containers: true,
  volumeName: true,
};

const DEFAULT_VOLUME_NAME = 'config';
const DEFAULT_INIT_CONTAINER_NAME = 'copy-config';

/** Validates a destination-like path: absolute, normalised, not `/`. */
function validateMountPath(value: string, prop: string): string {
  if (value === undefined || value === null || value === '') {
    throw new Error(`${prop} is required: the directory the config is copied to and every app container reads it from (e.g. "/config")`);
  }
  validateAbsolutePath(value, prop);
  if (value === '/') throw new Error(`${prop} must not be "/", got "/"`);
  return value;
}

function overlaps(a: string, b: string): boolean {
  return pathIsWithin(a, b) || pathIsWithin(b, a);
}

/** Every volume name the workload uses so far, directly or through its containers' mounts. */
function volumeNamesOf(workload: kplus.AbstractPod): Set<string> {
  const names = new Set(workload.volumes.map((v) => v.name));
  for (const c of [...workload.containers, ...workload.initContainers]) for (const m of c.mounts) names.add(m.volume.name);
  return names;
}

// ------------------------------------------------------- the app side ---

/** The app side both constructs share, resolved: where the config is mounted, and in which containers. */
export interface ResolvedMount {
  readonly workload: kplus.AbstractPod;
  readonly mountPath: string;
  readonly volumeName: string;
  /** The containers the constructor mounts: `containers`, or every app container of the workload. */
  readonly containers: readonly kplus.Container[];
  /** Whether `containers` was given (then containers added later are not checked at synth). */
  readonly containersGiven: boolean;
}

/** Checks the props of {@link ImmutableConfigMountProps}. Creates nothing. */
function resolveMount(props: ImmutableConfigMountProps): ResolvedMount {
  required(props.workload, 'workload');
  if (!Array.isArray((props.workload as Partial<kplus.AbstractPod>).containers)) {
    throw new Error(
      'workload must be a cdk8s-plus workload (Deployment, Job, StatefulSet, DaemonSet, CronJob or Pod), ' + `got ${describeValue(props.workload)}`,
    );
  }
  const mountPath = validateMountPath(props.mountPath, 'mountPath');
  const volumeName = validateDnsLabel(props.volumeName ?? DEFAULT_VOLUME_NAME, 'volumeName');
  if (volumeNamesOf(props.workload).has(volumeName)) {
    throw new Error(`volumeName "${volumeName}" is already used by a volume of the workload: choose another volumeName`);
  }
  const containers = props.containers ? [...props.containers] : [...props.workload.containers];
  if (containers.length === 0) {
    throw new Error(
      props.containers
        ? 'containers must list at least one app container, got none'
        : 'workload must have at least one app container to mount the config into, got none (add the containers before attaching the config)',
    );
  }
  for (const c of containers) checkMountable(props.workload, mountPath, c);
  return { workload: props.workload, mountPath, volumeName, containers, containersGiven: props.containers !== undefined };
}

/** What `mount` and the `containers` prop refuse: a container of another workload, or one with a mount overlapping `mountPath`. */
function checkMountable(workload: kplus.AbstractPod, mountPath: string, c: kplus.Container): void {
  if (!workload.containers.includes(c)) {
    const named = typeof (c as { name?: unknown } | undefined)?.name === 'string';
    throw new Error(`containers must be app containers of the workload, got ${named ? `container "${c.name}"` : describeValue(c)}`);
  }
  for (const m of c.mounts) {
    if (overlaps(mountPath, m.path)) {
      throw new Error(
        `mountPath "${mountPath}" overlaps the mount of volume "${m.volume.name}" at "${m.path}" in container "${c.name}": ` +
          'choose a directory of its own',
      );
    }
  }
}

/** The config mounts of one construct: its volume, and the app containers that mount it read-only. */
class ConfigMounts {
  public readonly containers: kplus.Container[] = [];

  constructor(
    scope: Construct,
    private readonly r: ResolvedMount,
    private readonly volume: kplus.Volume,
  ) {
    // Checked again at synth: containers or mounts added after attaching.
    scope.node.addValidation({ validate: () => this.lateErrors() });
  }

  /** Mounts the config read-only at `mountPath` in `container` (once per container). */
  public mount(container: kplus.Container): void {
    if (this.containers.includes(container)) return;
    checkMountable(this.r.workload, this.r.mountPath, container);
    container.mount(this.r.mountPath, this.volume, { readOnly: true });
    this.containers.push(container);
  }

  private lateErrors(): string[] {
    const { workload, mountPath } = this.r;
    const errors: string[] = [];
    if (!this.r.containersGiven) {
      for (const c of workload.containers.filter((x) => !this.containers.includes(x))) {
        errors.push(
          `container "${c.name}" was added to the workload after the config was attached and does not mount it at "${mountPath}": ` +
            'call mount(container) for it, or add containers before attaching, or list the app containers in the containers prop',
        );
      }
    }
    for (const c of this.containers) {
      for (const m of c.mounts) {
        if (m.volume !== this.volume && overlaps(mountPath, m.path)) {
          errors.push(
            `mountPath "${mountPath}" overlaps the mount of volume "${m.volume.name}" at "${m.path}" in container "${c.name}", ` +
              'added after the config was attached: choose a directory of its own',
          );
        }
      }
    }
    return errors;
  }
}

// ------------------------------------------------- ImmutableConfigInit ---

/** {@link ImmutableConfigInitProps} with every default decided and every value checked: plain data, no construct. */
export interface ResolvedImmutableConfigInit {
  readonly mount: ResolvedMount;
  readonly image: string;
  readonly copyStyle: CopyStyle;
  /** Paths copied out of the image (empty with `CopyStyle.ENTRYPOINT`). */
  readonly configPaths: readonly string[];
  readonly initMountPath: string;
  readonly initContainerName: string;
  /** The init container's `command`, or undefined when the image's ENTRYPOINT runs. */
  readonly command?: string[];
  /** The init container's `args`; the destination is always the last one. */
  readonly args: readonly string[];
  readonly securityContext: { readonly user: number; readonly group: number };
  readonly resources: kplus.ContainerResources;
  readonly sizeLimit: Size;
  readonly medium: kplus.EmptyDirMedium;
  /** Whether `medium` was given (the default is not written). */
  readonly mediumGiven: boolean;
}

/** Validates an ImmutableConfigInit's props and decides every default. Creates no construct. */
export function resolveImmutableConfigInit(props: ImmutableConfigInitProps): ResolvedImmutableConfigInit {
  validateKnownProps(props, INIT_PROPS, 'ImmutableConfigInit props');
  const mount = resolveMount(props);
  const workload = props.workload;
  const image = validateImage(props.image, 'image');
  const copyStyle = validateOneOf(props.copyStyle ?? CopyStyle.COMMAND, CopyStyle, 'copyStyle');
  const medium = validateOneOf(props.medium ?? kplus.EmptyDirMedium.DEFAULT, kplus.EmptyDirMedium, 'medium');
  const resources = mergeResources(DEFAULT_RESOURCES, props.resources, 'resources');
  const initMountPath = validateMountPath(props.initMountPath ?? props.mountPath, 'initMountPath');
  const initContainerName = validateDnsLabel(props.initContainerName ?? DEFAULT_INIT_CONTAINER_NAME, 'initContainerName');
  if ([...workload.containers, ...workload.initContainers].some((c) => c.name === initContainerName)) {
    throw new Error(`initContainerName "${initContainerName}" is already used by a container of the workload: choose another initContainerName`);
  }
  const command = copyStyle === CopyStyle.COMMAND ? ['sh', '-c', COPY_SCRIPT, 'copy-config'] : undefined;
  let configPaths: string[] = [];
  if (copyStyle === CopyStyle.COMMAND) {
    if (!Array.isArray(props.configPaths) || props.configPaths.length === 0) {
      throw new Error(
        'configPaths must list at least one absolute path inside the config image with CopyStyle.COMMAND, ' +
          `got ${JSON.stringify(props.configPaths)}`,
      );
    }
    for (const p of props.configPaths) configPaths = withConfigPath(configPaths, p, copyStyle, initMountPath, mount.mountPath);
  } else if (props.configPaths !== undefined) {
    throw onlyCommandError(props.configPaths);
  }
  const { user, group } = resolveSecurity(
    props.securityContext,
    'securityContext',
    { user: workload.securityContext.user, group: workload.securityContext.group },
    true,
  );
  return Object.freeze({
    mount,
    image,
    copyStyle,
    configPaths,
    initMountPath,
    initContainerName,
    command,
    args: [...configPaths, initMountPath],
    securityContext: { user, group },
    resources,
    sizeLimit: resolveCopySizeLimit(props.sizeLimit),
    medium,
    mediumGiven: props.medium !== undefined,
  });
}

/** `paths` and one more `configPaths` entry, checked: absolute, not `/`, outside initMountPath, a base name of its own. */
function withConfigPath(paths: readonly string[], p: string, copyStyle: CopyStyle, initMountPath: string, mountPath: string): string[] {
  if (copyStyle !== CopyStyle.COMMAND) throw onlyCommandError(p);
  validateMountPath(p, 'configPaths entry');
  if (overlaps(p, initMountPath)) {
    throw new Error(
      `configPaths entry "${p}" overlaps initMountPath "${initMountPath}", where the empty volume would hide or receive it: ` +
        `set initMountPath to a directory outside the image's config (e.g. "${initMountPath}-out")`,
    );
  }
  const name = path.posix.basename(p);
  const twin = paths.find((q) => path.posix.basename(q) === name);
  if (twin !== undefined) {
    throw new Error(
      `configPaths entries "${twin}" and "${p}" would both be copied to "${mountPath}/${name}": ` + 'give each a distinct file or directory name',
    );
  }
  return [...paths, p];
}

function onlyCommandError(got: unknown): Error {
  return new Error(
    "configPaths only applies to CopyStyle.COMMAND: with CopyStyle.ENTRYPOINT the image's entrypoint decides what it copies, " +
      `got ${JSON.stringify(got)}`,
  );
}

function resolveCopySizeLimit(sizeLimit: Size | undefined): Size {
  if (sizeLimit === undefined) return DEFAULT_EMPTY_DIR_SIZE_LIMIT;
  if (!(sizeLimit instanceof Size)) {
    throw new Error(`sizeLimit must be a cdk8s Size such as Size.mebibytes(16), got ${JSON.stringify(sizeLimit)}`);
  }
  if (!isWholeMebibytes(sizeLimit)) {
    throw new Error(
      'sizeLimit must be a whole number of MiB, at least 1 MiB (cdk8s-plus writes emptyDir sizes in MiB), ' +
        `got ${sizeLimit.toKibibytes({ rounding: SizeRoundingBehavior.FLOOR })} KiB`,
    );
  }
  return sizeLimit;
}

/**
 * The immutable-configuration pattern with a config image: an init container
 * runs the (pinned) config image, copies the config into a shared emptyDir,
 * and every app container mounts that volume read-only at `mountPath`. The
 * only way to change the config is a new image tag or digest, which is a new
 * pod template and a rollout; nobody can `kubectl edit` it.
 *
 * Attaches to an existing cdk8s-plus workload, so the same construct serves a
 * Deployment, a Job or any other pod-owning kind with all their own options.
 */
export class ImmutableConfigInit extends Construct {
  /** The config image the init container runs. */
  public readonly image: string;
  /** Where app containers read the config (read-only). */
  public readonly mountPath: string;
  /** The emptyDir volume shared by the init container and the app containers. */
  public readonly volume: kplus.Volume;
  /** The init container. */
  public readonly initContainer: kplus.Container;
  /** The app containers that mount the config read-only (`containers`, and those given to `mount`). */
  public readonly containers: readonly kplus.Container[];

  private readonly resolved: ResolvedImmutableConfigInit;
  private readonly mounts: ConfigMounts;
  /** The init container's args: kept by reference, so addConfigPath reaches the synthesized container. */
  private readonly args: string[];
  private configPaths: readonly string[];

  constructor(scope: Construct, id: string, props: ImmutableConfigInitProps) {
    super(scope, id);
    const r = resolveImmutableConfigInit(props);
    this.resolved = r;
    this.image = r.image;
    this.mountPath = r.mount.mountPath;
    this.configPaths = r.configPaths;
    this.args = [...r.args];
    this.volume = kplus.Volume.fromEmptyDir(this, 'Volume', r.mount.volumeName, {
      medium: r.mediumGiven ? r.medium : undefined,
      sizeLimit: r.sizeLimit,
    });
    r.mount.workload.addVolume(this.volume);
    this.initContainer = r.mount.workload.addInitContainer(
      hardenedContainer(
        {
          name: r.initContainerName,
          image: r.image,
          command: r.command,
          args: this.args,
          resources: r.resources,
        },
        r.securityContext,
      ),
    );
    this.initContainer.mount(r.initMountPath, this.volume);
    this.mounts = new ConfigMounts(this, r.mount, this.volume);
    this.containers = this.mounts.containers;
    for (const c of r.mount.containers) this.mount(c);
  }

  /**
   * Mounts the config read-only at `mountPath` in another app container of
   * the workload, as an entry of `containers`: the same checks (a container
   * of the workload, no mount overlapping `mountPath`).
   */
  public mount(container: kplus.Container): void {
    this.mounts.mount(container);
  }

  /**
   * Copies one more path out of the config image, as an entry of
   * `configPaths`: the same checks (absolute, outside `initMountPath`, a base
   * name of its own; `CopyStyle.COMMAND` only).
   */
  public addConfigPath(configPath: string): void {
    const r = this.resolved;
    this.configPaths = withConfigPath(this.configPaths, configPath, r.copyStyle, r.initMountPath, r.mount.mountPath);
    this.args.splice(this.args.length - 1, 0, configPath);
  }
}

// -------------------------------------------------- ImmutableConfigMap ---

/**
 * Props for {@link ImmutableConfigMap}.
 */
export interface ImmutableConfigMapProps extends ImmutableConfigMountProps {
  /**
   * The config files: `Files.fromPaths([...])` (each lands at
   * `<mountPath>/<base name>`), `Files.fromDirectory(dir)` (each at its path
   * below the folder; use `{ recursive: false }` for its top level only, as
   * `kubectl create configmap --from-file` does), `Files.fromContent({ ... })`,
   * or several with `Files.of(...)`. Text and binary files are both kept, byte
   * for byte. The ConfigMap's name is a hash of these files, decided at
   * construction, so there is no `addFiles`.
   */
  readonly files: Files;
  /**
   * The ConfigMap's name without the content hash, which is always appended.
   * @default - `<workload name>-<volumeName>`
   */
  readonly name?: string;
}

/** {@link ImmutableConfigMapProps} with every default decided and every value checked: plain data, no construct. */
export interface ResolvedImmutableConfigMap {
  readonly mount: ResolvedMount;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly files: readonly StoredFile[];
  readonly data: Record<string, string>;
  readonly binaryData: Record<string, string>;
  /** 10 hex characters of the SHA-256 over `data` and `binaryData`. */
  readonly contentHash: string;
  /** `<name>-<contentHash>`. */
  readonly configMapName: string;
  /** The volume's items (key to path), when a file lies below a folder; otherwise every key lands at its own name. */
  readonly items?: Record<string, kplus.PathMapping>;
}

/** Validates an ImmutableConfigMap's props and decides every default; reads the files. Creates no construct. */
export function resolveImmutableConfigMap(props: ImmutableConfigMapProps): ResolvedImmutableConfigMap {
  validateKnownProps(props, MAP_PROPS, 'ImmutableConfigMap props');
  const mount = resolveMount(props);
  if (props.files === undefined) {
    throw new Error(
      "files is required: the config files, such as Files.fromPaths([path.join(__dirname, 'config.cfg')]) " +
        "or Files.fromContent({ 'config.cfg': '...' })",
    );
  }
  const entries = resolveFiles(props.files, 'files');
  if (entries.length === 0) throw new Error('files must hold at least one config file, got none');
  const { data, binaryData, files } = toConfigMapData(entries, 'files', { tooLargeHint: 'use a config image (ImmutableConfigInit) instead' });
  const hash = contentHash({ data, binaryData }, 10);
  const name = validateDnsSubdomain(props.name ?? `${props.workload.name}-${mount.volumeName}`, 'name');
  const nested = files.some((f) => f.path.includes('/'));
  return Object.freeze({
    mount,
    name,
    files,
    data,
    binaryData,
    contentHash: hash,
    labels: recommendedLabels({ name: 'immutable-config', instance: name.slice(0, 63).replace(/[^A-Za-z0-9]+$/, ''), component: 'config' }),
    configMapName: validateDnsSubdomain(`${name}-${hash}`, 'name (with the content hash)'),
    items: nested ? Object.fromEntries(files.map((f) => [f.key, { path: f.path }])) : undefined,
  });
}

/**
 * The immutable-configuration pattern for teams without a config image: the
 * config files go into an `immutable: true` ConfigMap whose name ends in a
 * hash of its content, mounted read-only at `mountPath`. Any change is a new
 * ConfigMap and a new pod template, so a rollout; running pods keep the
 * ConfigMap they started with, and nobody can edit it in place.
 */
export class ImmutableConfigMap extends Construct {
  /** The ConfigMap (immutable; named `<name>-<content hash>`). */
  public readonly configMap: kplus.ConfigMap;
  /** The ConfigMap's name before the content hash; the `app.kubernetes.io/instance` label. */
  public readonly name: string;
  /** The recommended labels on the ConfigMap (name `immutable-config`, instance `name`, component `config`). */
  public readonly labels: Readonly<Record<string, string>>;
  /** Every config file, sorted by path: each appears at `<mountPath>/<path>`. */
  public readonly files: readonly StoredFile[];
  /** Where app containers read the config (read-only). */
  public readonly mountPath: string;
  /** The configMap volume. */
  public readonly volume: kplus.Volume;
  /** The app containers that mount the config read-only (`containers`, and those given to `mount`). */
  public readonly containers: readonly kplus.Container[];

  private readonly mounts: ConfigMounts;

  constructor(scope: Construct, id: string, props: ImmutableConfigMapProps) {
    super(scope, id);
    const r = resolveImmutableConfigMap(props);
    this.name = r.name;
    this.labels = r.labels;
    this.files = r.files;
    this.mountPath = r.mount.mountPath;
    this.configMap = new kplus.ConfigMap(this, 'Resource', {
      metadata: { name: r.configMapName },
      immutable: true,
      data: r.data,
      binaryData: r.binaryData,
    });
    this.volume = kplus.Volume.fromConfigMap(this, 'Volume', this.configMap, { name: r.mount.volumeName, items: r.items });
    r.mount.workload.addVolume(this.volume);
    this.mounts = new ConfigMounts(this, r.mount, this.volume);
    this.containers = this.mounts.containers;
    for (const c of r.mount.containers) this.mount(c);
    applyLabels(this, r.labels);
  }

  /**
   * Mounts the config read-only at `mountPath` in another app container of
   * the workload, as an entry of `containers`: the same checks (a container
   * of the workload, no mount overlapping `mountPath`).
   */
  public mount(container: kplus.Container): void {
    this.mounts.mount(container);
  }
}

/** How an error names a value that is not what was asked for: its class, or its type and JSON. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null || typeof value !== 'object') return `${typeof value} ${JSON.stringify(value)}`;
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : `a plain object ${JSON.stringify(value).slice(0, 80)}`;
}
