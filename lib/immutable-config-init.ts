import * as path from 'node:path';
import { Size, SizeRoundingBehavior } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { FileEntry, inlineFiles, readLocalPath, toConfigMapData } from './files';
import { contentHash } from './hash';
import { validateImage } from './image';
import { applyLabels, recommendedLabels } from './labels';
import { DEFAULT_EMPTY_DIR_SIZE_LIMIT, DEFAULT_RESOURCES, DEFAULT_RUN_AS_USER, hardenedContainer } from './security';
import {
  isWholeMebibytes, pathIsWithin, required, validateAbsolutePath, validateConfigMapKey, validateDnsLabel, validateDnsSubdomain, validateOneOf, validatePositiveInteger,
  validateKnownProps, validateList, validateResources,
} from './validate';

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
   * The app containers that read the config.
   * @default - every container the workload has when this construct is created
   *   (synth fails if a container is added later without the mount)
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
   * UID the init container runs as. The copied files belong to it and keep
   * the image's permission bits, so app containers running as another UID
   * read them through the "other" (or, with `fsGroup`, the group) bits.
   * @default - the workload's pod-level runAsUser, or 65532 when it has none
   */
  readonly user?: number;
  /**
   * GID the init container runs as.
   * @default - the workload's pod-level runAsGroup, or `user`
   */
  readonly group?: number;
  /**
   * Resources of the init container.
   * @default DEFAULT_RESOURCES (50m/64Mi requested, 500m/128Mi limit)
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Size limit of the emptyDir volume (only the init container writes to it,
   * and only what the config image or ConfigMap holds).
   * @default DEFAULT_EMPTY_DIR_SIZE_LIMIT (64 MiB)
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

const INIT_PROPS: Record<keyof Required<ImmutableConfigInitProps>, true> = { image: true, copyStyle: true, configPaths: true, initMountPath: true, initContainerName: true, user: true, group: true, resources: true, sizeLimit: true, medium: true, workload: true, mountPath: true, containers: true, volumeName: true };
const MAP_PROPS: Record<keyof Required<ImmutableConfigMapProps>, true> = { files: true, data: true, name: true, workload: true, mountPath: true, containers: true, volumeName: true };

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

/**
 * Resolves, checks and mounts the app side, shared by both modes: the volume
 * goes read-only at `mountPath` into every app container.
 */
class AppMounts {
  readonly containers: kplus.Container[];
  readonly volumeName: string;
  private volume?: kplus.Volume;

  constructor(scope: Construct, props: ImmutableConfigMountProps) {
    required(props.workload, 'workload');
    if (!Array.isArray((props.workload as Partial<kplus.AbstractPod>).containers)) {
      throw new Error(`workload must be a cdk8s-plus workload (Deployment, Job, StatefulSet, DaemonSet, CronJob or Pod), got ${describeValue(props.workload)}`);
    }
    validateMountPath(props.mountPath, 'mountPath');
    this.volumeName = validateDnsLabel(props.volumeName ?? DEFAULT_VOLUME_NAME, 'volumeName');
    if (volumeNamesOf(props.workload).has(this.volumeName)) {
      throw new Error(`volumeName "${this.volumeName}" is already used by a volume of the workload: choose another volumeName`);
    }
    const all = props.workload.containers;
    this.containers = props.containers ? [...props.containers] : all;
    if (this.containers.length === 0) {
      throw new Error(props.containers
        ? 'containers must list at least one app container, got none'
        : 'workload must have at least one app container to mount the config into, got none (add the containers before attaching the config)');
    }
    for (const c of this.containers) {
      if (!all.includes(c)) throw new Error(`containers must be app containers of the workload, got container "${c.name}"`);
      for (const m of c.mounts) {
        if (overlaps(props.mountPath, m.path)) {
          throw new Error(`mountPath "${props.mountPath}" overlaps the mount of volume "${m.volume.name}" at "${m.path}" in container "${c.name}": choose a directory of its own`);
        }
      }
    }
    // Checked again at synth: containers or mounts added after attaching.
    const workload = props.workload;
    const known = new Set(this.containers);
    const checkLate = !props.containers;
    scope.node.addValidation({
      validate: () => {
        const errors: string[] = [];
        if (checkLate) {
          for (const c of workload.containers.filter((x) => !known.has(x))) {
            errors.push(`container "${c.name}" was added to the workload after the config was attached and does not mount it at "${props.mountPath}": add containers before attaching, or list the app containers in the containers prop`);
          }
        }
        for (const c of this.containers) {
          for (const m of c.mounts) {
            if (m.volume !== this.volume && overlaps(props.mountPath, m.path)) {
              errors.push(`mountPath "${props.mountPath}" overlaps the mount of volume "${m.volume.name}" at "${m.path}" in container "${c.name}", added after the config was attached: choose a directory of its own`);
            }
          }
        }
        return errors;
      },
    });
  }

  mount(mountPath: string, volume: kplus.Volume): void {
    this.volume = volume;
    for (const c of this.containers) c.mount(mountPath, volume, { readOnly: true });
  }
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
  /** How the config is copied. */
  public readonly copyStyle: CopyStyle;
  /** Paths copied out of the image (empty with `CopyStyle.ENTRYPOINT`). */
  public readonly configPaths: string[];
  /** Where app containers read the config (read-only). */
  public readonly mountPath: string;
  /** Where the init container writes the config. */
  public readonly initMountPath: string;
  /** The init container's `command`, or undefined when the image's ENTRYPOINT runs. */
  public readonly command?: string[];
  /** The init container's `args`; the destination is always the last one. */
  public readonly args: string[];
  /** UID of the init container. */
  public readonly user: number;
  /** GID of the init container. */
  public readonly group: number;
  /** Name of the pod volume that carries the config. */
  public readonly volumeName: string;
  /** Name of the init container. */
  public readonly initContainerName: string;
  /** Resources of the init container. */
  public readonly resources: kplus.ContainerResources;
  /** Size limit of the emptyDir. */
  public readonly sizeLimit: Size;
  /** Storage medium of the emptyDir. */
  public readonly medium: kplus.EmptyDirMedium;
  /** The emptyDir volume shared by the init container and the app containers. */
  public readonly volume: kplus.Volume;
  /** The init container. */
  public readonly initContainer: kplus.Container;
  /** The app containers that mount the config read-only. */
  public readonly containers: kplus.Container[];

  constructor(scope: Construct, id: string, props: ImmutableConfigInitProps) {
    super(scope, id);
    validateKnownProps(props, INIT_PROPS, 'ImmutableConfigInit props');
    const app = new AppMounts(this, props);
    this.containers = app.containers;
    this.mountPath = props.mountPath;
    this.image = validateImage(props.image, 'image');
    this.copyStyle = validateOneOf(props.copyStyle ?? CopyStyle.COMMAND, CopyStyle, 'copyStyle');
    this.volumeName = app.volumeName;
    this.medium = validateOneOf(props.medium ?? kplus.EmptyDirMedium.DEFAULT, kplus.EmptyDirMedium, 'medium');
    this.resources = validateResources(props.resources ?? DEFAULT_RESOURCES, 'resources')!;
    this.initMountPath = validateMountPath(props.initMountPath ?? props.mountPath, 'initMountPath');
    const workload = props.workload;

    const initContainerName = validateDnsLabel(props.initContainerName ?? DEFAULT_INIT_CONTAINER_NAME, 'initContainerName');
    this.initContainerName = initContainerName;
    const taken = [...workload.containers, ...workload.initContainers].map((c) => c.name);
    if (taken.includes(initContainerName)) {
      throw new Error(`initContainerName "${initContainerName}" is already used by a container of the workload: choose another initContainerName`);
    }

    if (this.copyStyle === CopyStyle.COMMAND) {
      this.configPaths = this.validateConfigPaths(props.configPaths);
      this.command = ['sh', '-c', COPY_SCRIPT, 'copy-config'];
      this.args = [...this.configPaths, this.initMountPath];
    } else {
      if (props.configPaths !== undefined) {
        throw new Error(`configPaths only applies to CopyStyle.COMMAND: with CopyStyle.ENTRYPOINT the image's entrypoint decides what it copies, got ${JSON.stringify(props.configPaths)}`);
      }
      this.configPaths = [];
      this.command = undefined;
      this.args = [this.initMountPath];
    }

    if (props.sizeLimit !== undefined && !(props.sizeLimit instanceof Size)) {
      throw new Error(`sizeLimit must be a cdk8s Size such as Size.mebibytes(16), got ${JSON.stringify(props.sizeLimit)}`);
    }
    if (props.sizeLimit !== undefined && !isWholeMebibytes(props.sizeLimit)) {
      throw new Error(`sizeLimit must be a whole number of MiB, at least 1 MiB (cdk8s-plus writes emptyDir sizes in MiB), got ${props.sizeLimit.toKibibytes({ rounding: SizeRoundingBehavior.FLOOR })} KiB`);
    }
    this.sizeLimit = props.sizeLimit ?? DEFAULT_EMPTY_DIR_SIZE_LIMIT;

    this.user = validatePositiveInteger(props.user ?? workload.securityContext.user ?? DEFAULT_RUN_AS_USER, 'user', 1, 2147483647);
    this.group = validatePositiveInteger(props.group ?? workload.securityContext.group ?? this.user, 'group', 1, 2147483647);

    this.volume = kplus.Volume.fromEmptyDir(this, 'Volume', app.volumeName, {
      medium: props.medium === undefined ? undefined : this.medium,
      sizeLimit: this.sizeLimit,
    });
    workload.addVolume(this.volume);

    this.initContainer = workload.addInitContainer(hardenedContainer({
      name: initContainerName,
      image: this.image,
      command: this.command,
      args: this.args,
      resources: this.resources,
    }, { user: this.user, group: this.group }));
    this.initContainer.mount(this.initMountPath, this.volume);
    app.mount(this.mountPath, this.volume);
  }

  private validateConfigPaths(paths: string[] | undefined): string[] {
    if (!Array.isArray(paths) || paths.length === 0) {
      throw new Error(`configPaths must list at least one absolute path inside the config image with CopyStyle.COMMAND, got ${JSON.stringify(paths)}`);
    }
    const byName = new Map<string, string>();
    for (const p of paths) {
      validateMountPath(p, 'configPaths entry');
      if (overlaps(p, this.initMountPath)) {
        throw new Error(`configPaths entry "${p}" overlaps initMountPath "${this.initMountPath}", where the empty volume would hide or receive it: set initMountPath to a directory outside the image's config (e.g. "${this.initMountPath}-out")`);
      }
      const name = path.posix.basename(p);
      const twin = byName.get(name);
      if (twin !== undefined) {
        throw new Error(`configPaths entries "${twin}" and "${p}" would both be copied to "${this.mountPath}/${name}": give each a distinct file or directory name`);
      }
      byName.set(name, p);
    }
    return [...paths];
  }
}

/**
 * Props for {@link ImmutableConfigMap}.
 */
export interface ImmutableConfigMapProps extends ImmutableConfigMountProps {
  /**
   * Local files or directories read at synth time. A file's key is its base
   * name; a directory contributes its regular files (not subdirectories),
   * like `kubectl create configmap --from-file`.
   * @default - no files (then `data` must have entries)
   */
  readonly files?: string[];
  /**
   * Config files given inline, file name to content.
   * @default - none (then `files` must name at least one file)
   */
  readonly data?: Record<string, string>;
  /**
   * The ConfigMap's name without the content hash, which is always appended.
   * @default - `<workload name>-<volumeName>`
   */
  readonly name?: string;
}

/**
 * The immutable-configuration pattern for teams without a config image: the
 * config files go into an `immutable: true` ConfigMap whose name ends in a
 * hash of its content, mounted read-only at `mountPath`. Any change is a new
 * ConfigMap and a new pod template, so a rollout; running pods keep the
 * ConfigMap they started with, and nobody can edit it in place.
 */
export class ImmutableConfigMap extends Construct {
  /** The ConfigMap (immutable, content-addressed name). */
  public readonly configMap: kplus.ConfigMap;
  /** The final ConfigMap name: `<name>-<contentHash>`. */
  public readonly configMapName: string;
  /** 10 hex characters of the SHA-256 over the ConfigMap's data and binaryData. */
  public readonly contentHash: string;
  /** File names (ConfigMap keys), sorted: each appears at `<mountPath>/<key>`. */
  public readonly keys: string[];
  /** Where app containers read the config (read-only). */
  public readonly mountPath: string;
  /** The configMap volume. */
  public readonly volume: kplus.Volume;
  /** Name of the pod volume that carries the config. */
  public readonly volumeName: string;
  /** The ConfigMap's name before the content hash; the `app.kubernetes.io/instance` label. */
  public readonly name: string;
  /** The recommended labels on the ConfigMap (name `immutable-config`, instance `name`, component `config`). */
  public readonly labels: Readonly<Record<string, string>>;
  /** The app containers that mount the config read-only. */
  public readonly containers: kplus.Container[];

  constructor(scope: Construct, id: string, props: ImmutableConfigMapProps) {
    super(scope, id);
    validateKnownProps(props, MAP_PROPS, 'ImmutableConfigMap props');
    const app = new AppMounts(this, props);
    this.containers = app.containers;
    this.mountPath = props.mountPath;

    const entries: FileEntry[] = [
      // a file's key is its base name; a directory gives its regular files, not its sub-directories (kubectl create configmap --from-file)
      ...validateList(props.files, 'files').flatMap((f, i) => {
        const found = readLocalPath(f, `files[${i}]`, { recursive: false });
        if (found.length === 0) throw new Error(`files[${i}] "${f}" is a directory without regular files (sub-directories are not read): add the config files to it, or list the files themselves`);
        return found;
      }),
      ...inlineFiles(props.data, 'data', false),
    ];
    if (entries.length === 0) {
      throw new Error('files and data must provide at least one config file, got none');
    }
    // every file lands at <mountPath>/<key>: a name with "/" would land elsewhere than asked
    for (const e of entries) validateConfigMapKey(e.path, `config file name (from ${e.origin})`);
    const { data, binaryData, files } = toConfigMapData(entries, 'config files', {
      tooLargeHint: 'use a config image (ImmutableConfigInit) instead',
    });
    this.keys = files.map((f) => f.key);
    this.contentHash = contentHash({ data, binaryData }, 10);
    this.volumeName = app.volumeName;
    this.name = validateDnsSubdomain(props.name ?? `${props.workload.name}-${app.volumeName}`, 'name');
    this.configMapName = validateDnsSubdomain(`${this.name}-${this.contentHash}`, 'name (with the content hash)');
    this.labels = recommendedLabels({ name: 'immutable-config', instance: this.name.slice(0, 63).replace(/[^A-Za-z0-9]+$/, ''), component: 'config' });
    this.configMap = new kplus.ConfigMap(this, 'Resource', {
      metadata: { name: this.configMapName },
      immutable: true,
      data,
      binaryData,
    });
    this.volume = kplus.Volume.fromConfigMap(this, 'Volume', this.configMap, { name: app.volumeName });
    props.workload.addVolume(this.volume);
    app.mount(this.mountPath, this.volume);
    applyLabels(this, this.labels);
  }

}

/** How an error names a value that is not what was asked for: its class, or its type and JSON. */
function describeValue(value: unknown): string {
  if (value === null || typeof value !== 'object') return `${typeof value} ${JSON.stringify(value)}`;
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : `a plain object ${JSON.stringify(value).slice(0, 80)}`;
}
