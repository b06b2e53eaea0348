import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiObject, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { DNS_EGRESS } from './expose';
import { addChecksumAnnotation } from './hash';
import { validateImage } from './image';
import { DEFAULT_EMPTY_DIR_SIZE_LIMIT, DEFAULT_RESOURCES, hardenedContainer } from './security';
import {
  AuthProxy,
  AuthProxyOptions,
  GIT_SYNC_UID,
  HOT_PLUG_SCRIPTS_DIR,
  HotPlugOptions,
  HotPlugReload,
  HotPlugReloadKind,
  NamedMount,
  PlannedSpec,
  ResolvedGitSync,
  SharedContentOptions,
  authProxyContainer,
  gitRemoteEgress,
  gitSyncContainer,
  pythonHttpServer,
  resolveGitSync,
} from './sidecar-pod/presets';
import {
  validateAbsolutePath,
  validateBoolean,
  validateDnsLabel,
  validateDnsSubdomain,
  validateEnvVariables,
  validateKnownProps,
  validateList,
  validateOneOf,
  validatePortName,
  validatePositiveInteger,
  validateRelativePath,
  validateUnprivilegedPort,
} from './validate';
import { mergeResources, resolveSecurity, SidecarContainer, toWholeSeconds, WorkloadSecurityOptions } from './workload';

const ASSETS = path.join(__dirname, 'sidecar-pod');

/** The option names of {@link SidecarsOptions}, for the known-props checks of the constructs built on it. (internal: not in the main entry) */
export const SIDECARS_OPTIONS: Record<keyof Required<SidecarsOptions>, true> = {
  app: true,
  sidecars: true,
  initContainers: true,
  volumes: true,
  sidecarMode: true,
  authProxy: true,
  content: true,
  hotPlug: true,
  securityContext: true,
};
const CONTAINER_PROPS: Record<keyof Required<SidecarContainer>, true> = {
  name: true,
  securityContext: true,
  volumeMounts: true,
  writableTmp: true,
  image: true,
  ports: true,
  command: true,
  args: true,
  workingDir: true,
  envVariables: true,
  envFrom: true,
  imagePullPolicy: true,
  readiness: true,
  liveness: true,
  startup: true,
  lifecycle: true,
  resources: true,
};
const PORT_PROPS: Record<keyof Required<kplus.ContainerPort>, true> = { number: true, name: true, protocol: true, hostPort: true, hostIp: true };
const MOUNT_PROPS: Record<keyof Required<kplus.VolumeMount>, true> = {
  volume: true,
  path: true,
  readOnly: true,
  subPath: true,
  subPathExpr: true,
  propagation: true,
};
const AUTH_PROXY_PROPS: Record<keyof Required<AuthProxyOptions>, true> = {
  htpasswd: true,
  htpasswdKey: true,
  port: true,
  upstreamPort: true,
  realm: true,
  image: true,
  tmpSizeLimit: true,
};
const GIT_SYNC_PROPS = {
  repo: true,
  ref: true,
  period: true,
  link: true,
  depth: true,
  image: true,
  volume: true,
  mountPath: true,
  appMountPath: true,
  resources: true,
  httpPort: true,
  tmpSizeLimit: true,
} as const;
const CONTENT_PROPS: Record<keyof Required<SharedContentOptions>, true> = { ...GIT_SYNC_PROPS, directory: true, port: true };
const HOT_PLUG_PROPS: Record<keyof Required<HotPlugOptions>, true> = { ...GIT_SYNC_PROPS, reload: true };

/**
 * How sidecars are declared in the pod.
 */
export enum SidecarMode {
  /**
   * Sidecars are extra entries in `containers`. Works on every Kubernetes
   * version; sidecars and the app start together and stop together.
   */
  CLASSIC = 'classic',
  /**
   * Native sidecars: `initContainers` with `restartPolicy: Always`. They
   * start before the app (waiting for their startup probe), stay up while it
   * runs and stop after it. Beta and on by default from Kubernetes 1.29; on
   * 1.28 it is alpha and needs the `SidecarContainers` feature gate, without
   * which the API server drops the field and the pod never starts its app.
   */
  NATIVE = 'native',
}

/**
 * What a pod with sidecars runs: the app, its sidecars and init containers,
 * and the presets. Shared by {@link Sidecars} (on your own workload),
 * {@link SidecarDeployment} and {@link SidecarBarePod}.
 */
export interface SidecarsOptions {
  /**
   * The main container. With `content` it may be left out: the default is a
   * web server, `python -m http.server` in a stock Python image, serving the
   * synced directory read-only on port 8080.
   * @default - the content preset's web server; required without `content`
   */
  readonly app?: SidecarContainer;
  /**
   * Sidecars: long-running helpers next to the app.
   * @default - none
   */
  readonly sidecars?: SidecarContainer[];
  /**
   * Init containers: run to completion, in order, before the app starts.
   * @default - none
   */
  readonly initContainers?: SidecarContainer[];
  /**
   * Volumes of the pod. A volume that a container mounts is added by the
   * mount; list a volume here to give a preset's volume (git-sync's `content`
   * or `code`) a size: `kplus.Volume.fromEmptyDir(this, 'Content', 'content',
   * { sizeLimit: Size.gibibytes(1) })`. Every volume listed must be mounted.
   * An emptyDir without a `sizeLimit` gets 64 MiB.
   * @default - the volumes the containers mount
   */
  readonly volumes?: kplus.Volume[];
  /**
   * Classic sidecars (extra containers) or native ones (init containers with
   * `restartPolicy: Always`, beta from Kubernetes 1.29, alpha behind the
   * `SidecarContainers` gate on 1.28).
   * @default SidecarMode.CLASSIC
   */
  readonly sidecarMode?: SidecarMode;
  /**
   * Authentication preset: an nginx sidecar in front of the app.
   * @default - no authentication
   */
  readonly authProxy?: AuthProxyOptions;
  /**
   * Shared-content preset: a git-sync sidecar keeps a volume up to date and
   * the web server serves it read-only.
   * @default - no content sidecar
   */
  readonly content?: SharedContentOptions;
  /**
   * Hot-plug preset: a git-sync sidecar pulls new code and the app is made
   * to pick it up.
   * @default - no hot-plug sidecar
   */
  readonly hotPlug?: HotPlugOptions;
  /**
   * Who the pod's processes run as. `user` and `group`: the UID and GID of
   * every container that sets none of its own (the presets' sidecars have
   * their own: git-sync 65533, the auth proxy 10101). `fsGroup`: the group
   * that owns the pod's volumes, given to every container as a supplementary group.
   * @default - user 65532, group the same as user; fsGroup 65533 (git-sync's group) with `content` or `hotPlug`, otherwise the app's group
   * (`Sidecars` on your own workload keeps its fsGroup then)
   */
  readonly securityContext?: WorkloadSecurityOptions;
}

/** Props for {@link Sidecars}. */
export interface SidecarsProps extends SidecarsOptions {
  /**
   * The workload that runs the pod: any cdk8s-plus workload (Deployment,
   * StatefulSet, DaemonSet, Job, CronJob, Pod). Its containers, volumes and
   * pod settings stay; the app, sidecars, init containers and their volumes
   * are added.
   */
  readonly workload: kplus.AbstractPod;
  /**
   * Prefix of the names of the generated ConfigMaps (`<name>-auth-proxy`, `<name>-hot-plug`).
   * @default - the workload's name
   */
  readonly name?: string;
}

type Role = 'app' | 'sidecar' | 'init';

/** One container as resolved: its spec, role in the pod, and decided ids and resources. (internal: not in the main entry) */
export interface PlannedContainer {
  readonly spec: PlannedSpec;
  readonly role: Role;
  /** How error messages name it, e.g. `sidecars[1]`. */
  readonly where: string;
  readonly user: number;
  readonly group: number;
  readonly resources: kplus.ContainerResources;
}

/** Where a pod volume comes from. (internal: not in the main entry) */
export type VolumeSource =
  | { readonly kind: 'given'; readonly volume: kplus.Volume }
  | { readonly kind: 'emptyDir'; readonly sizeLimit: Size; readonly memory?: boolean }
  | { readonly kind: 'authConfig' }
  | { readonly kind: 'hotPlugScripts' }
  | { readonly kind: 'htpasswd'; readonly secret: kplus.ISecret; readonly key: string };

/** The kube form of a volume (cdk8s-plus's `_toKube`), to check what it is. */
function kubeOf(v: kplus.Volume): k8s.Volume {
  return (v as unknown as { _toKube(): k8s.Volume })._toKube();
}

/**
 * The containers and volumes of one pod, checked together as they are added
 * (at construction and by the verbs): names, images, ids, env, probes, ports
 * and mounts. Plain data; builds nothing. Internal: not in the main entry.
 */
export class SidecarsPlan {
  public readonly containers: PlannedContainer[] = [];
  public readonly volumes = new Map<string, VolumeSource>();
  /** Volumes given in `volumes` (or by `addVolume`), by name, with how errors name them. */
  public readonly given = new Map<string, string>();
  public readonly mounted = new Set<string>();
  /** Each given kplus.Volume by the name it was registered under. */
  private readonly originals = new Map<kplus.Volume, string>();
  public readonly counts = { sidecars: 0, initContainers: 0, volumes: 0 };
  private readonly names = new Map<string, string>();
  private readonly ports = new Map<number, string>();
  private readonly portNames = new Map<string, string>();

  constructor(
    public readonly sidecarMode: SidecarMode,
    public readonly podIds: { user?: number; group?: number },
  ) {}

  /** A volume the pattern makes (an emptyDir, a preset's ConfigMap or Secret). */
  public declareVolume(name: string, source: VolumeSource, where: string): void {
    validateDnsLabel(name, `${where} name`);
    if (this.volumes.has(name)) throw new Error(`volume name "${name}" is declared more than once`);
    this.volumes.set(name, source);
  }

  /** A `kplus.Volume` given by the user (in `volumes`, `addVolume` or a mount). */
  public addGivenVolume(v: kplus.Volume, where: string, listed: boolean): string {
    if (!(v instanceof kplus.Volume)) {
      throw new Error(
        `${where} must be a kplus.Volume (kplus.Volume.fromEmptyDir(this, 'Data', 'data', { sizeLimit: Size.mebibytes(64) }), ` +
          `fromConfigMap, fromSecret, ...), got ${JSON.stringify(v)}`,
      );
    }
    if (this.originals.has(v)) {
      if (listed) this.given.set(v.name, where);
      return v.name;
    }
    const kube = kubeOf(v);
    if (kube.hostPath) {
      throw new Error(
        `${where} "${v.name}" must not be a hostPath volume (Pod Security "baseline" forbids host paths): ` +
          'use an emptyDir, a ConfigMap, a Secret or a PersistentVolumeClaim',
      );
    }
    const size = kube.emptyDir?.sizeLimit?.value;
    if (size !== undefined && !/^[1-9]\d*Mi$/.test(String(size))) {
      throw new Error(
        `${where} "${v.name}" sizeLimit must be a whole number of MiB, at least 1 MiB (cdk8s-plus writes emptyDir sizes in MiB; ` +
          `omit it for the default), got ${size}`,
      );
    }
    const source: VolumeSource =
      kube.emptyDir && size === undefined
        ? { kind: 'emptyDir', sizeLimit: DEFAULT_EMPTY_DIR_SIZE_LIMIT, memory: kube.emptyDir.medium === 'Memory' }
        : { kind: 'given', volume: v };
    this.declareVolume(v.name, source, where);
    this.originals.set(v, v.name);
    if (listed) this.given.set(v.name, where);
    return v.name;
  }

  /** Volumes given in `volumes` or by `addVolume` that no container mounts. */
  public unmounted(): string[] {
    return [...this.given.keys()].filter((n) => !this.mounted.has(n));
  }

  /** Checks one container against the others and the volumes; returns it as planned. */
  public addContainer(spec: SidecarContainer | PlannedSpec, role: Role, where: string, tmpSizeLimit?: Size): PlannedContainer {
    const s = spec;
    if (s === null || typeof s !== 'object') throw new Error(`${where} must be a container (SidecarContainer), got ${JSON.stringify(s)}`);
    validateKnownProps(s, CONTAINER_PROPS, where);
    if (s.writableTmp !== undefined) validateBoolean(s.writableTmp, `${where}.writableTmp`);
    const name = validateDnsLabel(s.name, `${where}.name`);
    if (s.writableTmp && name.length > 59) {
      throw new Error(`${where}.name must be at most 59 characters with writableTmp (its volume is "<name>-tmp"), got "${name}"`);
    }
    if (this.names.has(name)) {
      throw new Error(
        `container name "${name}" is used more than once (${this.names.get(name)} and ${where}); container names must be unique in the pod`,
      );
    }
    validateImage(s.image, `${where}.image`);
    const ids = resolveSecurity(s.securityContext, `${where}.securityContext`, this.podIds, true);
    if (s.workingDir !== undefined) validateAbsolutePath(s.workingDir, `${where}.workingDir`);
    checkCommand(s, where);
    if (s.imagePullPolicy !== undefined) validateOneOf(s.imagePullPolicy, kplus.ImagePullPolicy, `${where}.imagePullPolicy`);
    validateEnvVariables(s.envVariables ?? {}, `${where}.envVariables`);
    const resources = mergeResources(DEFAULT_RESOURCES, s.resources, `${where}.resources`);
    if (role === 'init' && (s.readiness || s.liveness || s.startup)) {
      throw new Error(`${where} "${name}" must not have probes: init containers run to completion (make it a sidecar instead)`);
    }
    const portsTaken = this.checkPorts(s, role, where, name);
    checkProbePorts(s, where, name);
    const mounts = this.checkMounts(s, where, name);
    if (s.writableTmp)
      this.declareVolume(`${name}-tmp`, { kind: 'emptyDir', sizeLimit: tmpSizeLimit ?? DEFAULT_EMPTY_DIR_SIZE_LIMIT }, `${where}.writableTmp`);
    // only now, when every check passed, is the container part of the pod
    this.names.set(name, where);
    portsTaken();
    for (const m of mounts) this.mounted.add(m.volume);
    const planned: PlannedContainer = { spec: { ...s, volumeMounts: mounts.length ? mounts : undefined }, role, where, ...ids, resources };
    this.containers.push(planned);
    return planned;
  }

  /** Ports: valid, unique in the container, one listener per port in the pod, unique names. Returns the commit step. */
  private checkPorts(s: PlannedSpec | SidecarContainer, role: Role, where: string, name: string): () => void {
    const own = new Set<number>();
    const names: string[] = [];
    if (s.ports !== undefined && !Array.isArray(s.ports))
      throw new Error(`${where}.ports must be a list of { number, name? }, got ${JSON.stringify(s.ports)}`);
    (s.ports ?? []).forEach((port, i) => {
      if (port === null || typeof port !== 'object')
        throw new Error(`${where}.ports[${i}] must be a port { number, name? }, got ${JSON.stringify(port)}`);
      validateKnownProps(port, PORT_PROPS, `${where}.ports[${i}]`);
      validateUnprivilegedPort(port.number, `${where}.ports[${i}].number`);
      if (port.protocol !== undefined) validateOneOf(port.protocol, kplus.Protocol, `${where}.ports[${i}].protocol`);
      if (port.hostPort !== undefined || port.hostIp !== undefined) {
        throw new Error(
          `${where}.ports[${i}] must not set hostPort or hostIp (Pod Security "baseline" forbids host ports; ` +
            `expose the pod through its Service), got ${JSON.stringify(port)}`,
        );
      }
      if (own.has(port.number)) throw new Error(`${where} "${name}" declares port ${port.number} more than once`);
      if (port.name !== undefined) {
        validatePortName(port.name, `${where}.ports[${i}].name`);
        const holder = this.portNames.get(port.name);
        if (holder !== undefined) {
          throw new Error(`port name "${port.name}" is used by both ${holder} and ${where} "${name}": port names must be unique in the pod`);
        }
        names.push(port.name);
      }
      own.add(port.number);
      if (role === 'init') return; // init containers have exited before the others start
      const other = this.ports.get(port.number);
      if (other !== undefined) {
        throw new Error(
          `port ${port.number} is declared by both ${other} and ${where} "${name}": containers of a pod share one network namespace, ` +
            'so each port can have one listener',
        );
      }
    });
    return () => {
      for (const n of names) this.portNames.set(n, `${where} "${name}"`);
      if (role !== 'init') for (const p of own) this.ports.set(p, `${where} "${name}"`);
    };
  }

  /** Mounts: each volume known (a given kplus.Volume is added), paths absolute and distinct, projections read-only. */
  private checkMounts(s: PlannedSpec | SidecarContainer, where: string, name: string): NamedMount[] {
    const paths = new Set<string>(s.writableTmp ? ['/tmp'] : []);
    return validateList<kplus.VolumeMount | NamedMount>(s.volumeMounts, `${where}.volumeMounts`).map((m, i) => {
      const at = `${where}.volumeMounts[${i}]`;
      validateKnownProps(m, MOUNT_PROPS, at);
      if (m.readOnly !== undefined) validateBoolean(m.readOnly, `${at}.readOnly`);
      const volume =
        typeof m.volume === 'string' && this.volumes.has(m.volume) ? m.volume : this.addGivenVolume(m.volume as kplus.Volume, `${at}.volume`, false);
      validateAbsolutePath(m.path, `${at}.path`);
      if (m.path === '/') throw new Error(`${at}.path must not be "/" (it would hide the container's root filesystem), got "/"`);
      const source = this.volumes.get(volume)!;
      const projected =
        source.kind === 'given' ? (kubeOf(source.volume).secret ? 'Secret' : kubeOf(source.volume).configMap ? 'ConfigMap' : undefined) : undefined;
      if (m.readOnly === false && projected) {
        throw new Error(
          `${at}.readOnly must not be false for the ${projected} volume "${volume}": the kubelet mounts it read-only whatever is asked`,
        );
      }
      if (paths.has(m.path)) {
        const fix =
          s.writableTmp && m.path === '/tmp'
            ? 'writableTmp already mounts a volume at "/tmp": remove this mount or set writableTmp to false'
            : 'give each mount its own path, or mount one volume there and the other below it (e.g. with subPath for a single file)';
        throw new Error(`${at}.path must not repeat a mount path of ${where} "${name}", got "${m.path}" twice: ${fix}`);
      }
      paths.add(m.path);
      if (m.subPath !== undefined) validateRelativePath(m.subPath, `${at}.subPath`);
      if (m.subPath !== undefined && m.subPathExpr !== undefined) {
        throw new Error(`${at} must set at most one of subPath and subPathExpr (the API server refuses both), got both`);
      }
      if (m.propagation !== undefined) validateOneOf(m.propagation, kplus.MountPropagation, `${at}.propagation`);
      if (m.propagation === kplus.MountPropagation.BIDIRECTIONAL) {
        throw new Error(
          `${at}.propagation must not be Bidirectional (only privileged containers may use it, and every container here is ` +
            'unprivileged), got "Bidirectional": use HostToContainer or leave it out',
        );
      }
      return { ...m, volume };
    });
  }
}

function checkCommand(s: PlannedSpec | SidecarContainer, where: string): void {
  for (const field of ['command', 'args'] as const) {
    const list = s[field];
    if (list !== undefined && (!Array.isArray(list) || list.some((x) => typeof x !== 'string'))) {
      throw new Error(`${where}.${field} must be a list of strings, got ${JSON.stringify(list)}`);
    }
  }
  if (s.command !== undefined && (s.command.length === 0 || s.command[0].trim() === '')) {
    throw new Error(`${where}.command must name a program (omit it for the image's entrypoint), got ${JSON.stringify(s.command)}`);
  }
}

/** Each probe must reach a port the container declares (cdk8s-plus probes port 80 when the probe names none). */
function checkProbePorts(s: PlannedSpec | SidecarContainer, where: string, name: string): void {
  const declared = (s.ports ?? []).map((x) => x.number);
  for (const kind of ['readiness', 'liveness', 'startup'] as const) {
    const probe = s[kind];
    if (probe === undefined) continue;
    if (!(probe instanceof kplus.Probe)) {
      throw new Error(`${where}.${kind} must be a kplus.Probe (Probe.fromHttpGet, fromTcpSocket or fromCommand), got ${JSON.stringify(probe)}`);
    }
    const internals = probe as unknown as { httpGetOptions?: { port?: number }; tcpSocketOptions?: { port?: number } };
    const options = internals.httpGetOptions ?? internals.tcpSocketOptions;
    if (options === undefined) continue; // a command probe
    const port = options.port ?? 80;
    if (!declared.includes(port)) {
      throw new Error(
        `${where}.${kind} port must be a port that "${name}" serves (${where}.ports: ${declared.join(', ') || 'none'}), got ${port}` +
          `${options.port === undefined ? ' (cdk8s-plus probes port 80 when the probe names no port)' : ''}: ` +
          (options.port === undefined && declared.length
            ? `give the probe { port: ${declared[0]} }`
            : `probe a declared port or add ${port} to ${where}.ports`),
      );
    }
  }
}

/** The app's env PORT, when set to a value, must be the port traffic reaches it on. (internal: not in the main entry) */
export function checkPortEnv(env: Record<string, kplus.EnvValue> | undefined, port: number, why: string): void {
  const value = env?.PORT instanceof kplus.EnvValue ? env.PORT.value : undefined;
  if (value !== undefined && String(value) !== String(port)) {
    throw new Error(
      `app.envVariables PORT must be ${port} (${why}), got ${JSON.stringify(value)}: the app would listen where no traffic arrives; ` +
        `set PORT to ${port} or change the app's ports`,
    );
  }
}

/** {@link SidecarsOptions} resolved: every container planned and checked, every default decided. Plain data. (internal: not in the main entry) */
export interface ResolvedSidecars {
  readonly name: string;
  readonly sidecarMode: SidecarMode;
  readonly plan: SidecarsPlan;
  readonly app: PlannedContainer;
  readonly gitSync?: ResolvedGitSync;
  readonly auth?: AuthProxy;
  readonly reload?: HotPlugReload;
  /** The hot-plug scripts by file name, with `hotPlug` (restartOnChange or signal). */
  readonly scripts?: Record<string, string>;
  /** The port a Service should target: the proxy's, else the app's first. */
  readonly servingPort?: number;
  /** The port the app's env PORT must name, and why (the auth proxy's upstream, or the Service's target). */
  readonly appPort?: { readonly port: number; readonly why: string };
  readonly fsGroup: number;
  /** Whether the pod's fsGroup must be `fsGroup` (given, or git-sync's). */
  readonly fsGroupRequired: boolean;
  readonly shareProcessNamespace: boolean;
  readonly egress: k8s.NetworkPolicyEgressRule[];
  readonly syncedPath?: string;
}

/** Which presets go together, and what each needs. */
function checkPresets(props: SidecarsOptions): void {
  if (props.authProxy !== undefined) validateKnownProps(props.authProxy, AUTH_PROXY_PROPS, 'authProxy');
  if (props.content !== undefined) validateKnownProps(props.content, CONTENT_PROPS, 'content');
  if (props.hotPlug !== undefined) validateKnownProps(props.hotPlug, HOT_PLUG_PROPS, 'hotPlug');
  if (props.content && props.hotPlug) {
    throw new Error('content and hotPlug cannot both be set: both are a git-sync sidecar; use hotPlug when the synced files are code the app runs');
  }
  if (props.hotPlug && !props.app) throw new Error('app is required with hotPlug: it is the program that runs the synced code');
  if (props.hotPlug && !(props.hotPlug.reload instanceof HotPlugReload)) {
    throw new Error(
      'hotPlug.reload is required: choose HotPlugReload.restartOnChange(), HotPlugReload.signal({ processName }) or ' +
        `HotPlugReload.appRestartsItself(), got ${JSON.stringify(props.hotPlug.reload)}`,
    );
  }
  if (!props.app && !props.content) throw new Error('app is required unless content is set (which defaults it to a web server)');
}

/**
 * Validates {@link SidecarsOptions} and decides every default: the containers
 * in pod order (init containers, the app, git-sync, the sidecars, the auth
 * proxy; native sidecars become init containers after the user's), their
 * volumes, the presets' config. Reads the hot-plug scripts; creates no construct.
 * Internal: not in the main entry.
 */
export function resolveSidecars(props: SidecarsOptions, name: string): ResolvedSidecars {
  checkPresets(props);
  const sidecarMode = validateOneOf(props.sidecarMode ?? SidecarMode.CLASSIC, SidecarMode, 'sidecarMode');
  const podIds = resolvePodIds(props.securityContext);
  const plan = new SidecarsPlan(sidecarMode, podIds);
  validateList(props.volumes, 'volumes').forEach((v) => plan.addGivenVolume(v, `volumes[${plan.counts.volumes++}]`, true));
  const gitSync = props.content ? resolveGitSync('content', props.content) : props.hotPlug ? resolveGitSync('hotPlug', props.hotPlug) : undefined;
  if (gitSync) declareGitSyncVolume(plan, gitSync);
  const reload = props.hotPlug?.reload;
  const { app, scripts } = shapeApp(props, plan, gitSync, reload);
  const appIds = resolveSecurity(app.securityContext, 'app.securityContext', podIds, true);
  const native = sidecarMode === SidecarMode.NATIVE;
  const auth = props.authProxy === undefined ? undefined : authProxyContainer(props.authProxy, app);
  if (auth) {
    plan.declareVolume('auth-proxy-config', { kind: 'authConfig' }, 'authProxy');
    plan.declareVolume('auth-proxy-htpasswd', { kind: 'htpasswd', secret: auth.htpasswd, key: auth.htpasswdKey }, 'authProxy');
  }
  validateList(props.initContainers, 'initContainers').forEach((c) =>
    plan.addContainer(c, 'init', `initContainers[${plan.counts.initContainers++}]`),
  );
  const appPlanned = plan.addContainer(app, 'app', props.app ? 'app' : 'default web server');
  if (gitSync) plan.addContainer(gitSyncContainer(gitSync, reload, native, appIds), 'sidecar', 'git-sync sidecar', gitSync.tmpSizeLimit);
  validateList(props.sidecars, 'sidecars').forEach((c) => plan.addContainer(c, 'sidecar', `sidecars[${plan.counts.sidecars++}]`));
  if (auth) plan.addContainer(auth.container, 'sidecar', 'auth-proxy sidecar', auth.tmpSizeLimit);
  checkUnmounted(plan);
  const appPort = auth ? { port: auth.upstream, why: `the auth proxy forwards to the app's port ${auth.upstream}` } : undefined;
  if (appPort) checkPortEnv(app.envVariables, appPort.port, appPort.why);
  const fsGroupGiven = props.securityContext?.fsGroup;
  const fsGroup = validatePositiveInteger(fsGroupGiven ?? (gitSync ? GIT_SYNC_UID : appIds.group), 'securityContext.fsGroup', 1, 2147483647);
  const remote = gitSync ? gitRemoteEgress(gitSync.opts.repo, `${gitSync.preset}.repo`) : undefined;
  return {
    name,
    sidecarMode,
    plan,
    app: appPlanned,
    gitSync,
    auth,
    reload,
    scripts,
    appPort,
    fsGroup,
    servingPort: auth ? auth.port : app.ports?.[0]?.number,
    fsGroupRequired: fsGroupGiven !== undefined || gitSync !== undefined,
    shareProcessNamespace: reload?.kind === HotPlugReloadKind.SIGNAL,
    egress: [DNS_EGRESS, ...(remote ? [remote] : [])],
    syncedPath: gitSync?.appLinkPath,
  };
}

/** The pod-level `securityContext`: user and group are the containers' defaults; fsGroup is decided with the presets. */
function resolvePodIds(opts: WorkloadSecurityOptions | undefined): { user?: number; group?: number } {
  if (opts === undefined) return {};
  const r = resolveSecurity(opts, 'securityContext');
  return { user: opts.user === undefined ? undefined : r.user, group: opts.group === undefined ? undefined : r.group };
}

function unmountedErrors(plan: SidecarsPlan): string[] {
  try {
    checkUnmounted(plan);
    return [];
  } catch (e) {
    return [(e as Error).message];
  }
}

function checkUnmounted(plan: SidecarsPlan): void {
  const unused = plan.unmounted();
  if (unused.length) {
    const one = unused.length === 1;
    throw new Error(
      `volumes "${unused.join('", "')}" ${one ? 'is' : 'are'} declared but mounted by no container: ` +
        `mount ${one ? 'it' : 'them'} or remove ${one ? 'it' : 'them'}`,
    );
  }
}

function declareGitSyncVolume(plan: SidecarsPlan, gitSync: ResolvedGitSync): void {
  const declared = plan.volumes.get(gitSync.volume);
  if (declared === undefined) {
    plan.declareVolume(gitSync.volume, { kind: 'emptyDir', sizeLimit: DEFAULT_EMPTY_DIR_SIZE_LIMIT }, `${gitSync.preset}.volume`);
  } else if (declared.kind !== 'emptyDir' && !(declared.kind === 'given' && kubeOf(declared.volume).emptyDir)) {
    throw new Error(`${gitSync.preset}.volume "${gitSync.volume}" must be an emptyDir volume: git-sync writes to it`);
  }
  plan.given.delete(gitSync.volume); // mounted by git-sync
}

/** The app as given (or the content preset's web server), with the synced volume and the hot-plug supervisor added. */
function shapeApp(
  props: SidecarsOptions,
  plan: SidecarsPlan,
  gitSync: ResolvedGitSync | undefined,
  reload: HotPlugReload | undefined,
): { app: PlannedSpec; scripts?: Record<string, string> } {
  let app: PlannedSpec | SidecarContainer = props.app ?? defaultWebServer(props.content!, gitSync!, props.authProxy !== undefined);
  if (app === null || typeof app !== 'object') throw new Error(`app must be a container (SidecarContainer), got ${JSON.stringify(app)}`);
  const mounts = [...validateList<kplus.VolumeMount | NamedMount>(app.volumeMounts, 'app.volumeMounts')];
  if (gitSync) mounts.push({ volume: gitSync.volume, path: gitSync.appMountPath, readOnly: true });
  app = { ...app, volumeMounts: mounts as NamedMount[] };
  if (reload?.kind === HotPlugReloadKind.RESTART_ON_CHANGE) {
    if (!app.command?.length) throw new Error('app.command is required with HotPlugReload.restartOnChange(): the supervisor must know what to start');
    plan.declareVolume('hot-plug-scripts', { kind: 'hotPlugScripts' }, 'hotPlug');
    const env = validateEnvVariables(app.envVariables ?? {}, 'app.envVariables');
    const poll = toWholeSeconds(reload.poll, 'hotPlug reload poll', reload.poll!, 1, 3600);
    const workdir: Record<string, kplus.EnvValue> =
      app.workingDir === undefined ? {} : { HOT_PLUG_WORKDIR: kplus.EnvValue.fromValue(validateAbsolutePath(app.workingDir, 'app.workingDir')) };
    return {
      scripts: { 'restart-on-change.sh': fs.readFileSync(path.join(ASSETS, 'restart-on-change.sh'), 'utf8') },
      app: {
        ...app,
        command: ['/bin/sh', `${HOT_PLUG_SCRIPTS_DIR}/restart-on-change.sh`],
        args: [...app.command, ...(app.args ?? [])],
        workingDir: undefined,
        envVariables: {
          ...env,
          HOT_PLUG_LINK: kplus.EnvValue.fromValue(gitSync!.appLinkPath),
          HOT_PLUG_POLL_SECONDS: kplus.EnvValue.fromValue(String(poll)),
          ...workdir,
        },
        volumeMounts: [...(mounts as NamedMount[]), { volume: 'hot-plug-scripts', path: HOT_PLUG_SCRIPTS_DIR, readOnly: true }],
      },
    };
  }
  if (reload?.kind === HotPlugReloadKind.SIGNAL) {
    plan.declareVolume('hot-plug-scripts', { kind: 'hotPlugScripts' }, 'hotPlug');
    return { app: app as PlannedSpec, scripts: { 'signal-app.sh': fs.readFileSync(path.join(ASSETS, 'signal-app.sh'), 'utf8') } };
  }
  return { app: app as PlannedSpec };
}

/** The content preset's web server: `python -m http.server` serving the synced directory. */
function defaultWebServer(content: SharedContentOptions, gitSync: ResolvedGitSync, behindProxy: boolean): PlannedSpec {
  const directory =
    content.directory === undefined ? gitSync.appLinkPath : `${gitSync.appLinkPath}/${validateRelativePath(content.directory, 'content.directory')}`;
  // The content volume itself is mounted by the preset.
  return pythonHttpServer({ directory, port: content.port, loopbackOnly: behindProxy, workingDir: gitSync.appMountPath });
}

/** JSON-pointer path of the pod spec inside each workload kind. */
function podSpecPath(workload: kplus.AbstractPod): string {
  if (workload instanceof kplus.Pod) return '/spec';
  if (workload instanceof kplus.CronJob) return '/spec/jobTemplate/spec/template/spec';
  return '/spec/template/spec';
}

/** Props resolved by a construct built on {@link Sidecars}, keyed by the props object it passes. */
const PRESOLVED = new WeakMap<object, ResolvedSidecars>();

/**
 * Attaches sidecars to `workload` from options its construct already
 * resolved (so they are resolved once). Internal: not in the main entry.
 */
export function attachSidecars(scope: Construct, workload: kplus.AbstractPod, resolved: ResolvedSidecars): Sidecars {
  const props: SidecarsProps = { workload, name: resolved.name };
  PRESOLVED.set(props, resolved);
  return new Sidecars(scope, 'Sidecars', props);
}

/**
 * Sidecars for any cdk8s-plus workload: a main container, any number of
 * sidecars and init containers sharing the pod's network namespace (they
 * reach each other on localhost) and volumes, every container hardened for
 * Pod Security Standards "restricted".
 *
 * Three presets add common patterns: `authProxy` (nginx with basic auth in
 * front of an app bound to 127.0.0.1), `content` (git-sync keeps a volume up
 * to date, a web server serves it read-only) and `hotPlug` (git-sync pulls
 * new code, the app is restarted or signalled to run it).
 *
 * For a Deployment with a Service use {@link SidecarDeployment}; for a bare
 * Pod, {@link SidecarBarePod}.
 */
export class Sidecars extends Construct {
  /** The workload the containers were added to. */
  public readonly workload: kplus.AbstractPod;
  /** Prefix of the generated ConfigMaps' names. */
  public readonly name: string;
  /** The main container (also the pod's `kubectl.kubernetes.io/default-container`). */
  public readonly app: kplus.Container;
  /** The containers added, in pod order: init containers, the app, then the sidecars. */
  public readonly containers: kplus.Container[] = [];
  /** The ConfigMap `<name>-auth-proxy` holding the auth proxy's nginx.conf, with `authProxy`. */
  public readonly authProxyConfig?: kplus.ConfigMap;
  /** The ConfigMap `<name>-hot-plug` holding the hot-plug script, with `hotPlug` (restartOnChange or signal). */
  public readonly hotPlugScripts?: kplus.ConfigMap;
  /** The port a Service should target: the auth proxy's with `authProxy`, otherwise the app's first port. */
  public readonly servingPort?: number;
  /** The git-sync link as the app sees it, e.g. `/srv/content/repo/current`, with `content` or `hotPlug`. */
  public readonly syncedPath?: string;

  private readonly resolved: ResolvedSidecars;
  private readonly kvolumes = new Map<string, kplus.Volume>();

  constructor(scope: Construct, id: string, props: SidecarsProps) {
    super(scope, id);
    const resolved = PRESOLVED.get(props) ?? resolveSidecarsProps(props);
    this.resolved = resolved;
    this.workload = props.workload;
    this.name = resolved.name;
    this.servingPort = resolved.servingPort;
    this.syncedPath = resolved.syncedPath;
    this.authProxyConfig = this.configMap('AuthProxyConfig', 'auth-proxy', resolved.auth?.configData);
    this.hotPlugScripts = this.configMap('HotPlugScripts', 'hot-plug', resolved.scripts);
    for (const p of resolved.plan.containers) this.build(p);
    this.app = this.containers[resolved.plan.containers.indexOf(resolved.app)];
    this.workload.podMetadata.addAnnotation('kubectl.kubernetes.io/default-container', this.app.name);
    this.patchPod();
    // a volume given by addVolume may be mounted by a later addSidecar: checked when the app synthesizes
    this.node.addValidation({ validate: () => unmountedErrors(this.resolved.plan) });
  }

  /** Adds a sidecar after the others, checked exactly as an entry of `sidecars`. */
  public addSidecar(container: SidecarContainer): kplus.Container {
    const plan = this.resolved.plan;
    const where = `sidecars[${plan.counts.sidecars}]`;
    const p = plan.addContainer(container, 'sidecar', where);
    plan.counts.sidecars++;
    return this.build(p);
  }

  /** Adds an init container after the others, checked exactly as an entry of `initContainers`. */
  public addInitContainer(container: SidecarContainer): kplus.Container {
    const plan = this.resolved.plan;
    const p = plan.addContainer(container, 'init', `initContainers[${plan.counts.initContainers}]`);
    plan.counts.initContainers++;
    return this.build(p);
  }

  /** Adds a volume, checked exactly as an entry of `volumes` (a container must mount it). */
  public addVolume(volume: kplus.Volume): void {
    const plan = this.resolved.plan;
    plan.addGivenVolume(volume, `volumes[${plan.counts.volumes}]`, true);
    plan.counts.volumes++;
  }

  /** Adds an environment variable to the app, checked exactly as an entry of `app.envVariables`. */
  public addEnv(name: string, value: kplus.EnvValue): void {
    validateEnvVariables({ [name]: value }, 'app.envVariables');
    if (this.app.env.variables[name] !== undefined) throw new Error(`app.envVariables "${name}" is already set: one value per name`);
    if (this.resolved.appPort) checkPortEnv({ [name]: value }, this.resolved.appPort.port, this.resolved.appPort.why);
    this.app.env.addVariable(name, value);
  }

  /** One planned container, hardened, as an init container, a native sidecar or a container. */
  private build(p: PlannedContainer): kplus.Container {
    const { volumeMounts, writableTmp, securityContext: _ids, resources: _given, ...rest } = p.spec;
    const mounts: kplus.VolumeMount[] = (volumeMounts ?? []).map((m) => ({ ...m, volume: this.volumeFor(m.volume), readOnly: m.readOnly ?? true }));
    if (writableTmp) mounts.push({ path: '/tmp', volume: this.volumeFor(`${p.spec.name}-tmp`), readOnly: false });
    const native = p.role === 'sidecar' && this.resolved.sidecarMode === SidecarMode.NATIVE;
    const containerProps = hardenedContainer({
      ...rest,
      envVariables: rest.envVariables && Object.keys(rest.envVariables).length ? rest.envVariables : undefined,
      volumeMounts: mounts,
      resources: p.resources,
      restartPolicy: native ? kplus.ContainerRestartPolicy.ALWAYS : undefined,
      securityContext: { user: p.user, group: p.group },
    });
    const c = p.role === 'init' || native ? this.workload.addInitContainer(containerProps) : this.workload.addContainer(containerProps);
    this.containers.push(c);
    return c;
  }

  /** The ConfigMap `<name>-<suffix>` holding `data`, and its checksum on the pod template so a change rolls the pods. */
  private configMap(id: string, suffix: string, data: Record<string, string> | undefined): kplus.ConfigMap | undefined {
    if (data === undefined) return undefined;
    addChecksumAnnotation(this.workload, suffix, data);
    return new kplus.ConfigMap(this, id, { metadata: { name: `${this.name}-${suffix}` }, data });
  }

  /** The kplus Volume for a planned volume name, created once. */
  private volumeFor(name: string): kplus.Volume {
    let v = this.kvolumes.get(name);
    if (v) return v;
    const source = this.resolved.plan.volumes.get(name)!;
    const id = `Volume-${name}`;
    switch (source.kind) {
      case 'given':
        v = source.volume;
        break;
      case 'authConfig':
        v = kplus.Volume.fromConfigMap(this, id, this.authProxyConfig!, { name, defaultMode: 0o444 });
        break;
      case 'hotPlugScripts':
        v = kplus.Volume.fromConfigMap(this, id, this.hotPlugScripts!, { name, defaultMode: 0o555 });
        break;
      case 'htpasswd':
        v = kplus.Volume.fromSecret(this, id, source.secret, { name, defaultMode: 0o440, items: { [source.key]: { path: 'htpasswd' } } });
        break;
      default:
        v = kplus.Volume.fromEmptyDir(this, id, name, {
          sizeLimit: source.sizeLimit,
          medium: source.memory ? kplus.EmptyDirMedium.MEMORY : undefined,
        });
    }
    this.kvolumes.set(name, v);
    return v;
  }

  /** shareProcessNamespace for the signal reload; the pod's fsGroup when the presets or the props need one the workload lacks. */
  private patchPod(): void {
    const spec = podSpecPath(this.workload);
    if (this.resolved.shareProcessNamespace) ApiObject.of(this.workload).addJsonPatch(JsonPatch.add(`${spec}/shareProcessNamespace`, true));
    if (this.resolved.fsGroupRequired && this.workload.securityContext.fsGroup !== this.resolved.fsGroup) {
      ApiObject.of(this.workload).addJsonPatch(JsonPatch.add(`${spec}/securityContext/fsGroup`, this.resolved.fsGroup));
    }
  }
}

/** {@link SidecarsProps}: the known props, the name (default: the workload's), then {@link resolveSidecars}. */
function resolveSidecarsProps(props: SidecarsProps): ResolvedSidecars {
  validateKnownProps(props, { ...SIDECARS_OPTIONS, workload: true, name: true }, 'Sidecars props');
  if (!(props.workload instanceof kplus.AbstractPod)) {
    throw new Error(
      `workload must be a cdk8s-plus workload (kplus.Deployment, StatefulSet, DaemonSet, Job, CronJob or Pod), got ${JSON.stringify(props.workload)}`,
    );
  }
  const name = validateDnsSubdomain(props.name ?? props.workload.name, 'name');
  return resolveSidecars(props, name);
}
