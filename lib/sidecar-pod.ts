import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiObject, JsonPatch, Size, SizeRoundingBehavior } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { DNS_EGRESS, EgressOptions, ExposeOptions, ResolvedExpose, WorkloadNetworkPolicy, exposeWorkload, resolveExpose } from './expose';
import { addChecksumAnnotation } from './hash';
import { validateImage } from './image';
import { applyLabels, recommendedLabels, selectPods, selectorLabels, spreadOverNodes } from './labels';
import { DEFAULT_EMPTY_DIR_SIZE_LIMIT, DEFAULT_RESOURCES, DEFAULT_RUN_AS_USER, hardenedContainer, hardenedPodProps } from './security';
import {
  AuthProxy, AuthProxyOptions, GIT_SYNC_UID, HOT_PLUG_SCRIPTS_DIR, HotPlugOptions, HotPlugReload, HotPlugReloadKind, ResolvedGitSync, SharedContentOptions,
  authProxyContainer, gitRemoteEgress, gitSyncContainer, pythonHttpServer, resolveGitSync,
} from './sidecar-pod/presets';
import {
  isWholeMebibytes, validateAbsolutePath, validateBoolean, validateDnsLabel, validateDnsSubdomain, validateEnvVariables, validateOneOf, validatePort,
  validateKnownProps, validateList, validatePortName, validatePositiveInteger, validateRelativePath, validateResources, validateUnprivilegedPort,
} from './validate';

export * from './sidecar-pod/presets';

const SIDECAR_POD_PROPS: Record<keyof Required<SidecarPodProps>, true> = { name: true, app: true, sidecars: true, initContainers: true, volumes: true, sidecarMode: true, workload: true, replicas: true, fsGroup: true, createService: true, serviceTargetPort: true, authProxy: true, content: true, hotPlug: true, serviceType: true, servicePort: true, ingress: true, networkPolicy: true, podDisruptionBudget: true };
const CONTAINER_PROPS: Record<keyof Required<SidecarPodContainer>, true> = { name: true, securityContext: true, volumeMounts: true, writableTmp: true, image: true, ports: true, command: true, args: true, workingDir: true, envVariables: true, envFrom: true, imagePullPolicy: true, readiness: true, liveness: true, startup: true, lifecycle: true, resources: true };
const VOLUME_PROPS: Record<keyof Required<SidecarPodVolume>, true> = { name: true, configMap: true, secret: true, defaultMode: true, sizeLimit: true, memory: true };
const PORT_PROPS: Record<keyof Required<kplus.ContainerPort>, true> = { number: true, name: true, protocol: true, hostPort: true, hostIp: true };
const MOUNT_PROPS: Record<keyof Required<SidecarPodVolumeMount>, true> = { volume: true, path: true, readOnly: true, subPath: true };
const AUTH_PROXY_PROPS: Record<keyof Required<AuthProxyOptions>, true> = { htpasswdSecret: true, htpasswdKey: true, port: true, upstreamPort: true, realm: true, image: true, tmpSizeLimit: true };
const CONTENT_PROPS: Record<keyof Required<SharedContentOptions>, true> = { directory: true, port: true, repo: true, ref: true, period: true, link: true, depth: true, image: true, volume: true, mountPath: true, appMountPath: true, resources: true, httpPort: true, tmpSizeLimit: true };
const HOT_PLUG_PROPS: Record<keyof Required<HotPlugOptions>, true> = { reload: true, repo: true, ref: true, period: true, link: true, depth: true, image: true, volume: true, mountPath: true, appMountPath: true, resources: true, httpPort: true, tmpSizeLimit: true };

/** `sizeLimit` of a container's writableTmp volume, unless it is a preset's sidecar (PRESET_TMP_SIZE_LIMIT). */
const TMP_SIZE = DEFAULT_EMPTY_DIR_SIZE_LIMIT;
const ASSETS = path.join(__dirname, 'sidecar-pod');

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

/** The workload that runs the pod. */
export enum SidecarPodWorkload {
  /** A Deployment (rolling updates, replicas). */
  DEPLOYMENT = 'Deployment',
  /** A bare Pod, like the seed's example: nothing recreates it. */
  POD = 'Pod',
}

/**
 * A mount of a pod volume, in cdk8s-plus's words (`path`, `readOnly`,
 * `subPath`), naming the volume as declared in `volumes` (or by a preset).
 */
export interface SidecarPodVolumeMount {
  /** The name of a volume declared in `volumes` (or created by a preset). */
  readonly volume: string;
  /** Absolute path in the container. */
  readonly path: string;
  /**
   * Mount it read-only. Only containers that write there should set `false`.
   * @default true
   */
  readonly readOnly?: boolean;
  /**
   * A relative path inside the volume to mount instead of its root.
   * @default - the volume's root
   */
  readonly subPath?: string;
}

/**
 * One container of the pod (the app, a sidecar or an init container) in
 * cdk8s-plus's container vocabulary (`kplus.ContainerProps`: `envVariables`,
 * `ports`, `readiness`, `liveness`, `startup`, `securityContext.user`, ...),
 * plus what the pattern adds: volume mounts by declared name and a private
 * writable /tmp. Every container is hardened (non-root, read-only root
 * filesystem, no privilege escalation, capabilities dropped) whatever is set
 * here; `securityContext` may only choose the UID and GID.
 *
 * Probes are yours to give: the pattern adds none to your containers
 * (its own sidecars have theirs). Init containers may not have probes.
 */
export interface SidecarPodContainer extends Omit<kplus.ContainerProps, 'name' | 'volumeMounts' | 'port' | 'portNumber' | 'restartPolicy' | 'securityContext'> {
  /** Container name (DNS-1123 label), unique in the pod. */
  readonly name: string;
  /**
   * The UID and GID the container runs as (never 0); the other hardening settings are fixed.
   * @default - user 65532, group the same as user
   */
  readonly securityContext?: Pick<kplus.ContainerSecurityContextProps, 'user' | 'group'>;
  /**
   * Volumes to mount, by declared name.
   * @default - none
   */
  readonly volumeMounts?: SidecarPodVolumeMount[];
  /**
   * Give the container a private, writable emptyDir (64 MiB) at /tmp; the
   * root filesystem stays read-only.
   * @default false
   */
  readonly writableTmp?: boolean;
}

/** A volume declared once for the whole pod. */
/** A volume declared once for the whole pod. */
export interface SidecarPodVolume {
  /** Volume name (DNS-1123 label), unique in the pod. */
  readonly name: string;
  /**
   * Project this ConfigMap (created out of band) instead of an emptyDir.
   * @default - an emptyDir
   */
  readonly configMap?: string;
  /**
   * Project this Secret (created out of band) instead of an emptyDir.
   * @default - an emptyDir
   */
  readonly secret?: string;
  /**
   * File mode of projected ConfigMap/Secret files.
   * @default 0o444 for a ConfigMap, 0o440 for a Secret (readable through fsGroup)
   */
  readonly defaultMode?: number;
  /**
   * Size limit of an emptyDir (declare a preset's volume, e.g. git-sync's
   * `content`, here to size it).
   * @default DEFAULT_EMPTY_DIR_SIZE_LIMIT (64 MiB)
   */
  readonly sizeLimit?: Size;
  /**
   * Back an emptyDir with memory (tmpfs); it counts against memory limits.
   * @default false
   */
  readonly memory?: boolean;
}

/**
 * Props for {@link SidecarPod}. The Service, Ingress, NetworkPolicy and
 * PodDisruptionBudget options are the shared {@link ExposeOptions}; the
 * NetworkPolicy admits the Service's target port only (the auth proxy's, with
 * `authProxy`), so nothing reaches the app's own port, and egress to DNS and,
 * with the content and hot-plug presets, git's remote (its port, any address);
 * {@link SidecarPod.allowEgressTo} adds the rest. Without a Service the
 * NetworkPolicy lets nothing in. With 2 or more replicas the pods are spread
 * over nodes.
 */
export interface SidecarPodProps extends ExposeOptions {
  /**
   * Name of the workload, Service, ConfigMaps and NetworkPolicy.
   * @default 'sidecar-pod'
   */
  readonly name?: string;
  /**
   * The main container. With `content` it may be left out: the default is
   * the seed's web server, `python -m http.server` in a stock Python image,
   * serving the synced directory read-only.
   * @default - the content preset's web server; required without `content`
   */
  readonly app?: SidecarPodContainer;
  /**
   * Sidecars: long-running helpers next to the app.
   * @default - none
   */
  readonly sidecars?: SidecarPodContainer[];
  /**
   * Init containers: run to completion, in order, before the app starts.
   * @default - none
   */
  readonly initContainers?: SidecarPodContainer[];
  /**
   * Volumes shared by the containers, declared once and mounted by name.
   * @default - none besides the presets' own
   */
  readonly volumes?: SidecarPodVolume[];
  /**
   * Classic sidecars (extra containers) or native ones (init containers with
   * `restartPolicy: Always`, beta from Kubernetes 1.29, alpha behind the
   * `SidecarContainers` gate on 1.28).
   * @default SidecarMode.CLASSIC
   */
  readonly sidecarMode?: SidecarMode;
  /**
   * The workload kind.
   * @default SidecarPodWorkload.DEPLOYMENT
   */
  readonly workload?: SidecarPodWorkload;
  /**
   * Number of pods (Deployment only).
   * @default 1
   */
  readonly replicas?: number;
  /**
   * The pod's fsGroup: owner group of the volumes, given to every container
   * as a supplementary group.
   * @default - git-sync's group (65533) with `content` or `hotPlug`, so git-sync can write whatever the volume type and readers share its group; otherwise the app's group
   */
  readonly fsGroup?: number;
  /**
   * Create the Service (and with it the Ingress and NetworkPolicy, as configured).
   * @default true
   */
  readonly createService?: boolean;
  /**
   * The container port the Service sends traffic to. With `authProxy` it
   * must be the proxy's port.
   * @default - the auth proxy's port with `authProxy`, otherwise the app's first port
   */
  readonly serviceTargetPort?: number;
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
}

type Role = 'app' | 'sidecar' | 'init';

interface Planned {
  readonly spec: SidecarPodContainer;
  readonly role: Role;
  /** How error messages name it, e.g. `sidecars[1]`. */
  readonly where: string;
  /** `sizeLimit` of its writableTmp volume (the presets' own sidecars); else the 64 MiB default. */
  readonly tmpSizeLimit?: Size;
}

/**
 * A workload whose pod runs one concern per container: a main container, any
 * number of sidecars and init containers sharing the network namespace (they
 * reach each other on localhost) and declared volumes, every container
 * hardened for Pod Security Standards "restricted", exposed the shared way
 * (Service, NetworkPolicy, optional Ingress and PodDisruptionBudget).
 *
 * Three presets add the seed's patterns: `authProxy` (nginx with basic auth
 * in front of an app bound to 127.0.0.1), `content` (git-sync keeps a volume
 * up to date, a web server serves it read-only) and `hotPlug` (git-sync pulls
 * new code, the app is restarted or signalled to run it).
 */
export class SidecarPod extends Construct {
  /** Name of the workload, Service and generated objects; the `app.kubernetes.io/instance` label. */
  public readonly name: string;
  /** The resolved workload kind. */
  public readonly workloadKind: SidecarPodWorkload;
  /** The Deployment, or the Pod with `SidecarPodWorkload.POD`. */
  public readonly workload: kplus.Deployment | kplus.Pod;
  /** Whether a Service (and the rest of the exposure) is created. */
  public readonly createService: boolean;
  /** The Service, unless `createService` is false. */
  public readonly service?: kplus.Service;
  /** The Ingress, when `ingress` is given. */
  public readonly ingress?: kplus.Ingress;
  /** The NetworkPolicy admitting the Service's target port only, unless disabled. */
  public readonly networkPolicy?: WorkloadNetworkPolicy;
  /** The PodDisruptionBudget, when there is one (a Deployment with 2 or more replicas by default). */
  public readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;
  /** The ConfigMap holding the auth proxy's nginx.conf. */
  public readonly authProxyConfig?: kplus.ConfigMap;
  /** The ConfigMap holding the hot-plug script. */
  public readonly hotPlugScripts?: kplus.ConfigMap;
  /** The resolved sidecar mode. */
  public readonly sidecarMode: SidecarMode;
  /** The resolved replica count (Deployment only). */
  public readonly replicas?: number;
  /** The resolved pod fsGroup. */
  public readonly fsGroup: number;
  /** Name of the main container (also the pod's `kubectl.kubernetes.io/default-container`). */
  public readonly appName: string;
  /** Every container of the pod by name: init containers, the app, then the sidecars. */
  public readonly containerNames: string[];
  /** The Service's port. */
  public readonly servicePort?: number;
  /** The Service's type. */
  public readonly serviceType?: kplus.ServiceType;
  /** The container port the Service targets. */
  public readonly serviceTargetPort?: number;
  /** The auth proxy's listening port. */
  public readonly authProxyPort?: number;
  /** The app port the auth proxy forwards to on 127.0.0.1. */
  public readonly upstreamPort?: number;
  /** The git-sync link as the app sees it, e.g. `/srv/content/repo/current`. */
  public readonly syncedPath?: string;
  /** The recommended labels on every object (name `sidecar-pod`, instance `name`). */
  public readonly labels: Readonly<Record<string, string>>;
  /** The pod selector: `app.kubernetes.io/name` and `app.kubernetes.io/instance`. */
  public readonly selector: Readonly<Record<string, string>>;

  private readonly volumes = new Map<string, SidecarPodVolume>();
  private readonly kvolumes = new Map<string, kplus.Volume>();
  private readonly mounted = new Set<string>();
  private readonly expose?: ResolvedExpose;
  /** The authentication preset as resolved (port, upstream, Secret and key, realm, image), with `authProxy`. */
  public readonly authProxy?: AuthProxy;
  /** The git-sync preset as resolved (repo, ref, period, link, volume, mount paths, port, image), with `content` or `hotPlug`. */
  public readonly gitSync?: ResolvedGitSync;
  private auth?: AuthProxy;

  constructor(scope: Construct, id: string, props: SidecarPodProps = {}) {
    super(scope, id);

    // ---- resolve and validate
    validateKnownProps(props, SIDECAR_POD_PROPS, 'SidecarPod props');
    if (props.authProxy !== undefined) validateKnownProps(props.authProxy, AUTH_PROXY_PROPS, 'authProxy');
    if (props.content !== undefined) validateKnownProps(props.content, CONTENT_PROPS, 'content');
    if (props.hotPlug !== undefined) validateKnownProps(props.hotPlug, HOT_PLUG_PROPS, 'hotPlug');
    this.name = validateDnsLabel(props.name ?? 'sidecar-pod', 'name');
    this.sidecarMode = validateOneOf(props.sidecarMode ?? SidecarMode.CLASSIC, SidecarMode, 'sidecarMode');
    this.workloadKind = validateOneOf(props.workload ?? SidecarPodWorkload.DEPLOYMENT, SidecarPodWorkload, 'workload');
    if (this.workloadKind === SidecarPodWorkload.POD && props.replicas !== undefined) {
      throw new Error(`replicas is only allowed with SidecarPodWorkload.DEPLOYMENT, got ${props.replicas} with a bare Pod`);
    }
    if (this.workloadKind === SidecarPodWorkload.DEPLOYMENT) this.replicas = validatePositiveInteger(props.replicas ?? 1, 'replicas', 0, 1000);
    this.checkPresets(props);
    this.createService = validateBoolean(props.createService ?? true, 'createService');
    if (!this.createService) {
      for (const n of ['servicePort', 'serviceType', 'serviceTargetPort', 'ingress', 'networkPolicy', 'podDisruptionBudget'] as const) {
        if (props[n] !== undefined) throw new Error(`${n} needs the Service: remove it or set createService to true`);
      }
    }
    this.labels = recommendedLabels({ name: 'sidecar-pod', instance: this.name });
    this.selector = selectorLabels(this.labels);
    validateList(props.volumes, 'volumes').forEach((v, i) => this.declareVolume(v, `volumes[${i}]`));

    // ---- the containers: the app (as the presets shape it), then the preset sidecars
    const gitSync = props.content ? resolveGitSync('content', props.content) : props.hotPlug ? resolveGitSync('hotPlug', props.hotPlug) : undefined;
    if (gitSync) this.declareGitSyncVolume(gitSync);
    this.syncedPath = gitSync?.appLinkPath;
    this.gitSync = gitSync;
    const reload = props.hotPlug?.reload;
    const shaped = this.shapeApp(props, gitSync, reload);
    const app = shaped.app;
    this.appName = app.name;
    const gitSyncSidecars = gitSync ? [gitSyncContainer(gitSync, app, reload, this.sidecarMode === SidecarMode.NATIVE)] : [];
    if (props.authProxy !== undefined) {
      this.auth = authProxyContainer(props.authProxy, app);
      this.authProxy = this.auth;
      this.authProxyPort = this.auth.port;
      this.upstreamPort = this.auth.upstream;
      this.declareVolume({ name: 'auth-proxy-config' }, 'authProxy');
      this.declareVolume({ name: 'auth-proxy-htpasswd', secret: this.auth.htpasswdSecret }, 'authProxy');
    }
    // Order: init containers, the app, then sidecars (git-sync first, the proxy last).
    // Native sidecars become init containers after the user's, in this order.
    const planned: Planned[] = [
      ...validateList(props.initContainers, 'initContainers').map((spec, i) => ({ spec, role: 'init' as Role, where: `initContainers[${i}]` })),
      { spec: app, role: 'app', where: props.app ? 'app' : 'default web server' },
      ...gitSyncSidecars.map((spec) => ({ spec, role: 'sidecar' as Role, where: 'git-sync sidecar', tmpSizeLimit: gitSync!.tmpSizeLimit })),
      ...validateList(props.sidecars, 'sidecars').map((spec, i) => ({ spec, role: 'sidecar' as Role, where: `sidecars[${i}]` })),
      ...(this.auth ? [{ spec: this.auth.container, role: 'sidecar' as Role, where: 'auth-proxy sidecar', tmpSizeLimit: this.auth.tmpSizeLimit }] : []),
    ];
    this.validateContainers(planned);
    const unused = (props.volumes ?? []).filter((v) => !this.mounted.has(v.name) && v.name !== gitSync?.volume);
    if (unused.length) {
      throw new Error(`volumes "${unused.map((v) => v.name).join('", "')}" ${unused.length === 1 ? 'is' : 'are'} declared but mounted by no container: mount ${unused.length === 1 ? 'it' : 'them'} or remove ${unused.length === 1 ? 'it' : 'them'}`);
    }
    this.containerNames = planned.map((p) => p.spec.name);
    if (this.createService) {
      this.serviceTargetPort = this.resolveServiceTarget(props, planned, app);
      this.expose = resolveExpose(props, this.replicas);
      this.servicePort = props.servicePort === undefined ? this.serviceTargetPort : this.expose.servicePort;
      this.expose = { ...this.expose, servicePort: this.servicePort };
      this.serviceType = this.expose.serviceType;
    }
    const appUser = app.securityContext?.user ?? DEFAULT_RUN_AS_USER;
    const appGroup = app.securityContext?.group ?? appUser;
    this.fsGroup = validatePositiveInteger(props.fsGroup ?? (gitSync ? GIT_SYNC_UID : appGroup), 'fsGroup', 1, 2147483647);

    // ---- objects, in named steps
    this.workload = this.createWorkload(appUser, appGroup);
    if (this.auth) {
      this.authProxyConfig = new kplus.ConfigMap(this, 'AuthProxyConfig', { metadata: { name: `${this.name}-auth-proxy` }, data: this.auth.configData });
      addChecksumAnnotation(this.workload, 'auth-proxy', this.auth.configData);
    }
    if (shaped.scripts) {
      this.hotPlugScripts = new kplus.ConfigMap(this, 'HotPlugScripts', { metadata: { name: `${this.name}-hot-plug` }, data: shaped.scripts });
      addChecksumAnnotation(this.workload, 'hot-plug', shaped.scripts);
    }
    for (const p of planned) this.addContainer(p);
    this.workload.podMetadata.addAnnotation('kubectl.kubernetes.io/default-container', app.name);
    if (reload?.kind === HotPlugReloadKind.SIGNAL) {
      const specPath = this.workloadKind === SidecarPodWorkload.POD ? '/spec' : '/spec/template/spec';
      ApiObject.of(this.workload).addJsonPatch(JsonPatch.add(`${specPath}/shareProcessNamespace`, true));
    }
    // egress: DNS, and git's remote for git-sync; allowEgressTo adds the rest
    const remote = gitSync ? gitRemoteEgress(gitSync.opts.repo, `${gitSync.preset}.repo`) : undefined;
    const egress = [DNS_EGRESS, ...(remote ? [remote] : [])];
    if (this.expose) {
      const exposure = exposeWorkload(this, this.expose, { name: this.name, selector: this.selector, targetPort: this.serviceTargetPort!, egress });
      this.service = exposure.service;
      this.ingress = exposure.ingress;
      this.networkPolicy = exposure.networkPolicy;
      this.podDisruptionBudget = exposure.podDisruptionBudget;
    } else {
      // no Service: nothing may connect to the pod
      this.networkPolicy = new WorkloadNetworkPolicy(this, 'NetworkPolicy', { name: this.name, selector: this.selector, ingress: [], egress });
    }
    applyLabels(this, this.labels);
  }

  /**
   * Lets the pod's containers connect to `peer` (on `options.ports` only, when
   * given), beyond DNS and (with the content and hot-plug presets) git's remote.
   */
  public allowEgressTo(peer: k8s.NetworkPolicyPeer, options: EgressOptions = {}): void {
    if (!this.networkPolicy) throw new Error(`allowEgressTo needs the NetworkPolicy, got networkPolicy false for "${this.name}" (manage traffic yourself)`);
    this.networkPolicy.allowEgressTo(peer, options);
  }

  /** Which presets go together, and what each needs. */
  private checkPresets(props: SidecarPodProps): void {
    if (props.content && props.hotPlug) {
      throw new Error('content and hotPlug cannot both be set: both are a git-sync sidecar; use hotPlug when the synced files are code the app runs');
    }
    if (props.hotPlug && !props.app) {
      throw new Error('app is required with hotPlug: it is the program that runs the synced code');
    }
    if (props.hotPlug && !(props.hotPlug.reload instanceof HotPlugReload)) {
      throw new Error(`hotPlug.reload is required: choose HotPlugReload.restartOnChange(), HotPlugReload.signal({ processName }) or HotPlugReload.appRestartsItself(), got ${JSON.stringify(props.hotPlug.reload)}`);
    }
    if (!props.app && !props.content) {
      throw new Error('app is required unless content is set (which defaults it to a web server)');
    }
  }

  private declareVolume(v: SidecarPodVolume, where: string): void {
    validateKnownProps(v, VOLUME_PROPS, where);
    validateDnsLabel(v.name, `${where} name`);
    if (this.volumes.has(v.name)) throw new Error(`volume name "${v.name}" is declared more than once`);
    if (v.configMap !== undefined && v.secret !== undefined) {
      throw new Error(`${where} "${v.name}" must set at most one of configMap and secret`);
    }
    if (v.configMap !== undefined) validateDnsSubdomain(v.configMap, `${where} "${v.name}" configMap`);
    if (v.secret !== undefined) validateDnsSubdomain(v.secret, `${where} "${v.name}" secret`);
    if (v.defaultMode !== undefined && !(Number.isInteger(v.defaultMode) && v.defaultMode >= 0 && v.defaultMode <= 0o777)) {
      throw new Error(`${where} "${v.name}" defaultMode must be an octal file mode 0-0o777, got ${v.defaultMode}`);
    }
    if (v.sizeLimit !== undefined && !(v.sizeLimit instanceof Size)) {
      throw new Error(`${where} "${v.name}" sizeLimit must be a cdk8s Size such as Size.mebibytes(64), got ${JSON.stringify(v.sizeLimit)}`);
    }
    const sizeKib = v.sizeLimit?.toKibibytes({ rounding: SizeRoundingBehavior.NONE });
    if (v.sizeLimit !== undefined && !(Number.isFinite(sizeKib) && isWholeMebibytes(v.sizeLimit))) {
      throw new Error(`${where} "${v.name}" sizeLimit must be a whole number of MiB, at least 1 MiB (cdk8s-plus writes emptyDir sizes in MiB; omit it for the default), got ${sizeKib}Ki`);
    }
    if (v.memory !== undefined) validateBoolean(v.memory, `${where} "${v.name}" memory`);
    if ((v.sizeLimit !== undefined || v.memory) && (v.configMap !== undefined || v.secret !== undefined)) {
      throw new Error(`${where} "${v.name}" sizeLimit and memory apply to emptyDir volumes only`);
    }
    this.volumes.set(v.name, v);
  }

  private declareGitSyncVolume(gitSync: ResolvedGitSync): void {
    if (!this.volumes.has(gitSync.volume)) this.declareVolume({ name: gitSync.volume }, `${gitSync.preset}.volume`);
    const declared = this.volumes.get(gitSync.volume)!;
    if (declared.configMap !== undefined || declared.secret !== undefined) {
      throw new Error(`${gitSync.preset}.volume "${gitSync.volume}" must be an emptyDir volume: git-sync writes to it`);
    }
  }

  /** The app as given (or the content preset's web server), with the synced volume and the hot-plug supervisor added. */
  private shapeApp(props: SidecarPodProps, gitSync: ResolvedGitSync | undefined, reload: HotPlugReload | undefined):
  { app: SidecarPodContainer; scripts?: Record<string, string> } {
    let app: SidecarPodContainer = props.app ?? this.defaultWebServer(props.content!, gitSync!, props.authProxy !== undefined);
    if (gitSync) {
      app = { ...app, volumeMounts: [...(app.volumeMounts ?? []), { volume: gitSync.volume, path: gitSync.appMountPath, readOnly: true }] };
    }
    if (reload?.kind === HotPlugReloadKind.RESTART_ON_CHANGE) {
      if (!app.command?.length) {
        throw new Error('app.command is required with HotPlugReload.restartOnChange(): the supervisor must know what to start');
      }
      this.declareVolume({ name: 'hot-plug-scripts' }, 'hotPlug');
      const env = validateEnvVariables(app.envVariables ?? {}, 'app.envVariables');
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
            HOT_PLUG_POLL_SECONDS: kplus.EnvValue.fromValue(String(reload.pollSeconds)),
            ...(app.workingDir !== undefined ? { HOT_PLUG_WORKDIR: kplus.EnvValue.fromValue(validateAbsolutePath(app.workingDir, 'app.workingDir')) } : {}),
          },
          volumeMounts: [...(app.volumeMounts ?? []), { volume: 'hot-plug-scripts', path: HOT_PLUG_SCRIPTS_DIR, readOnly: true }],
        },
      };
    }
    if (reload?.kind === HotPlugReloadKind.SIGNAL) {
      this.declareVolume({ name: 'hot-plug-scripts' }, 'hotPlug');
      return { app, scripts: { 'signal-app.sh': fs.readFileSync(path.join(ASSETS, 'signal-app.sh'), 'utf8') } };
    }
    return { app };
  }

  /** The seed's web server: `python -m http.server` serving the synced directory. */
  private defaultWebServer(content: SharedContentOptions, gitSync: ResolvedGitSync, behindProxy: boolean): SidecarPodContainer {
    const directory = content.directory === undefined ? gitSync.appLinkPath
      : `${gitSync.appLinkPath}/${validateRelativePath(content.directory, 'content.directory')}`;
    // The content volume itself is mounted by the preset.
    return pythonHttpServer({ directory, port: content.port, loopbackOnly: behindProxy, workingDir: gitSync.appMountPath });
  }

  /** Every container checked together: names, images, users, env, probes, ports and mounts. */
  private validateContainers(planned: Planned[]): void {
    const names = new Map<string, string>();
    const ports = new Map<number, string>();
    const portNames = new Map<string, string>();
    for (const p of planned) {
      const s = p.spec;
      if (s === null || typeof s !== 'object') throw new Error(`${p.where} must be a container (SidecarPodContainer), got ${JSON.stringify(s)}`);
      validateKnownProps(s, CONTAINER_PROPS, p.where);
      if (s.writableTmp !== undefined) validateBoolean(s.writableTmp, `${p.where}.writableTmp`);
      const name = validateDnsLabel(s.name, `${p.where}.name`);
      if (s.writableTmp && name.length > 59) {
        throw new Error(`${p.where}.name must be at most 59 characters with writableTmp (its volume is "<name>-tmp"), got "${name}"`);
      }
      if (names.has(name)) {
        throw new Error(`container name "${name}" is used more than once (${names.get(name)} and ${p.where}); container names must be unique in the pod`);
      }
      names.set(name, p.where);
      validateImage(s.image, `${p.where}.image`);
      // the UID and GID are checked here, under the prop the user set, before anything is derived from them (fsGroup)
      if (s.securityContext?.user !== undefined) validatePositiveInteger(s.securityContext.user, `${p.where}.securityContext.user`, 1, 2147483647);
      if (s.securityContext?.group !== undefined) validatePositiveInteger(s.securityContext.group, `${p.where}.securityContext.group`, 1, 2147483647);
      const extra = Object.keys(s.securityContext ?? {}).filter((k) => k !== 'user' && k !== 'group');
      if (extra.length) throw new Error(`${p.where}.securityContext may only set user and group (the rest is hardened), got ${extra.join(', ')}`);
      if (s.workingDir !== undefined) validateAbsolutePath(s.workingDir, `${p.where}.workingDir`);
      for (const field of ['command', 'args'] as const) {
        const list = s[field];
        if (list !== undefined && (!Array.isArray(list) || list.some((x) => typeof x !== 'string'))) {
          throw new Error(`${p.where}.${field} must be a list of strings, got ${JSON.stringify(list)}`);
        }
      }
      if (s.command !== undefined && (s.command.length === 0 || s.command[0].trim() === '')) {
        throw new Error(`${p.where}.command must name a program (omit it for the image's entrypoint), got ${JSON.stringify(s.command)}`);
      }
      if (s.imagePullPolicy !== undefined) validateOneOf(s.imagePullPolicy, kplus.ImagePullPolicy, `${p.where}.imagePullPolicy`);
      validateEnvVariables(s.envVariables ?? {}, `${p.where}.envVariables`);
      validateResources(s.resources, `${p.where}.resources`);
      if (p.role === 'init' && (s.readiness || s.liveness || s.startup)) {
        throw new Error(`${p.where} "${name}" must not have probes: init containers run to completion (make it a sidecar instead)`);
      }
      const own = new Set<number>();
      if (s.ports !== undefined && !Array.isArray(s.ports)) throw new Error(`${p.where}.ports must be a list of { number, name? }, got ${JSON.stringify(s.ports)}`);
      (s.ports ?? []).forEach((port, i) => {
        if (port === null || typeof port !== 'object') throw new Error(`${p.where}.ports[${i}] must be a port { number, name? }, got ${JSON.stringify(port)}`);
        validateKnownProps(port, PORT_PROPS, `${p.where}.ports[${i}]`);
        validateUnprivilegedPort(port.number, `${p.where}.ports[${i}].number`);
        if (port.protocol !== undefined) validateOneOf(port.protocol, kplus.Protocol, `${p.where}.ports[${i}].protocol`);
        if (port.hostPort !== undefined || port.hostIp !== undefined) {
          throw new Error(`${p.where}.ports[${i}] must not set hostPort or hostIp (Pod Security "baseline" forbids host ports; expose the pod through its Service), got ${JSON.stringify(port)}`);
        }
        if (own.has(port.number)) throw new Error(`${p.where} "${name}" declares port ${port.number} more than once`);
        if (port.name !== undefined) {
          validatePortName(port.name, `${p.where}.ports[${i}].name`);
          const holder = portNames.get(port.name);
          if (holder !== undefined) {
            throw new Error(`port name "${port.name}" is used by both ${holder} and ${p.where} "${name}": port names must be unique in the pod`);
          }
          portNames.set(port.name, `${p.where} "${name}"`);
        }
        own.add(port.number);
        if (p.role === 'init') return; // init containers have exited before the others start
        const other = ports.get(port.number);
        if (other !== undefined) {
          throw new Error(`port ${port.number} is declared by both ${other} and ${p.where} "${name}": containers of a pod share one network namespace, so each port can have one listener`);
        }
        ports.set(port.number, `${p.where} "${name}"`);
      });
      this.checkProbePorts(s, p.where, name);
      if (s.writableTmp) this.declareVolume({ name: `${name}-tmp`, sizeLimit: p.tmpSizeLimit ?? TMP_SIZE }, `${p.where}.writableTmp`);
      const paths = new Set<string>(s.writableTmp ? ['/tmp'] : []);
      validateList(s.volumeMounts, `${p.where}.volumeMounts`).forEach((m, i) => {
        const where = `${p.where}.volumeMounts[${i}]`;
        validateKnownProps(m, MOUNT_PROPS, where);
        if (m.readOnly !== undefined) validateBoolean(m.readOnly, `${where}.readOnly`);
        if (!this.volumes.has(m.volume)) {
          throw new Error(`${where}.volume must be a declared volume (declared: ${[...this.volumes.keys()].join(', ') || 'none'}), got ${JSON.stringify(m.volume)}`);
        }
        validateAbsolutePath(m.path, `${where}.path`);
        if (m.path === '/') throw new Error(`${where}.path must not be "/" (it would hide the container's root filesystem), got "/"`);
        const decl = this.volumes.get(m.volume)!;
        if (m.readOnly === false && (decl.configMap !== undefined || decl.secret !== undefined)) {
          throw new Error(`${where}.readOnly must not be false for the ${decl.secret !== undefined ? 'Secret' : 'ConfigMap'} volume "${m.volume}": the kubelet mounts it read-only whatever is asked`);
        }
        this.mounted.add(m.volume);
        if (paths.has(m.path)) {
          const fix = s.writableTmp && m.path === '/tmp' ? 'writableTmp already mounts a volume at "/tmp": remove this mount or set writableTmp to false'
            : 'give each mount its own path, or mount one volume there and the other below it (e.g. with subPath for a single file)';
          throw new Error(`${where}.path must not repeat a mount path of ${p.where} "${name}", got "${m.path}" twice: ${fix}`);
        }
        paths.add(m.path);
        if (m.subPath !== undefined) validateRelativePath(m.subPath, `${where}.subPath`);
      });
    }
  }

  /** The container port the Service targets: the auth proxy's, or a declared port of the app or a sidecar. */
  /** Each probe must reach a port the container declares (cdk8s-plus probes port 80 when the probe names none: these containers have no portNumber). */
  private checkProbePorts(s: SidecarPodContainer, where: string, name: string): void {
    const declared = (s.ports ?? []).map((x) => x.number);
    for (const kind of ['readiness', 'liveness', 'startup'] as const) {
      const probe = s[kind];
      if (probe === undefined) continue;
      if (!(probe instanceof kplus.Probe)) throw new Error(`${where}.${kind} must be a kplus.Probe (Probe.fromHttpGet, fromTcpSocket or fromCommand), got ${JSON.stringify(probe)}`);
      const internals = probe as unknown as { httpGetOptions?: { port?: number }; tcpSocketOptions?: { port?: number } };
      const options = internals.httpGetOptions ?? internals.tcpSocketOptions;
      if (options === undefined) continue; // a command probe
      const port = options.port ?? 80;
      if (!declared.includes(port)) {
        throw new Error(`${where}.${kind} port must be a port that "${name}" serves (${where}.ports: ${declared.join(', ') || 'none'}), got ${port}${options.port === undefined ? ' (cdk8s-plus probes port 80 when the probe names no port)' : ''}: `
          + `${options.port === undefined && declared.length ? `give the probe { port: ${declared[0]} }` : `probe a declared port or add ${port} to ${where}.ports`}`);
      }
    }
  }

  private resolveServiceTarget(props: SidecarPodProps, planned: Planned[], app: SidecarPodContainer): number {
    const portOwner = new Map<number, string>();
    for (const p of planned.filter((x) => x.role !== 'init')) for (const port of p.spec.ports ?? []) portOwner.set(port.number, p.spec.name);
    if (this.auth) {
      const target = this.auth.port;
      if (props.serviceTargetPort !== undefined && props.serviceTargetPort !== target) {
        const owner = portOwner.get(props.serviceTargetPort);
        if (owner === app.name || props.serviceTargetPort === this.upstreamPort) {
          throw new Error(`serviceTargetPort must be the auth proxy's port ${target} when authProxy is set, got the app's port ${props.serviceTargetPort}: traffic would bypass authentication`);
        }
        throw new Error(`serviceTargetPort must be the auth proxy's port ${target} when authProxy is set, got ${props.serviceTargetPort}`);
      }
      checkPortEnv(app, this.upstreamPort!, `the auth proxy forwards to the app's port ${this.upstreamPort}`);
      return target;
    }
    const t = props.serviceTargetPort ?? app.ports?.[0]?.number;
    if (t === undefined) {
      throw new Error(`serviceTargetPort is required when the app "${app.name}" declares no ports (or set createService: false)`);
    }
    const target = validatePort(t, 'serviceTargetPort');
    if (!portOwner.has(target)) {
      throw new Error(`serviceTargetPort ${target} is not a port of the app or a sidecar (declared: ${[...portOwner.keys()].join(', ') || 'none'})`);
    }
    const targetSpec = planned.filter((x) => x.role !== 'init').flatMap((x) => x.spec.ports ?? []).find((x) => x.number === target);
    if (targetSpec?.protocol !== undefined && targetSpec.protocol !== kplus.Protocol.TCP) {
      throw new Error(`serviceTargetPort ${target} must be a TCP port (the Service and the NetworkPolicy speak TCP), got protocol ${targetSpec.protocol}`);
    }
    if (portOwner.get(target) === app.name) checkPortEnv(app, target, `the Service targets the app's port ${target}`);
    return target;
  }

  private createWorkload(user: number, group: number): kplus.Deployment | kplus.Pod {
    const podProps = hardenedPodProps({ user, group, fsGroup: this.fsGroup });
    const workload = this.workloadKind === SidecarPodWorkload.POD
      ? new kplus.Pod(this, 'Resource', { ...podProps, metadata: { name: this.name } })
      : new kplus.Deployment(this, 'Resource', { ...podProps, metadata: { name: this.name }, replicas: this.replicas, select: false });
    selectPods(workload, this.selector);
    if (workload instanceof kplus.Deployment && this.replicas! >= 2) spreadOverNodes(workload, this.selector);
    return workload;
  }

  /** The kplus Volume for a declared volume name, created once. */
  private volumeFor(name: string): kplus.Volume {
    let v = this.kvolumes.get(name);
    if (v) return v;
    const decl = this.volumes.get(name)!;
    const id = `Volume-${name}`;
    if (name === 'auth-proxy-config') {
      v = kplus.Volume.fromConfigMap(this, id, this.authProxyConfig!, { name, defaultMode: 0o444 });
    } else if (name === 'hot-plug-scripts') {
      v = kplus.Volume.fromConfigMap(this, id, this.hotPlugScripts!, { name, defaultMode: 0o555 });
    } else if (name === 'auth-proxy-htpasswd') {
      v = kplus.Volume.fromSecret(this, id, kplus.Secret.fromSecretName(this, 'HtpasswdSecret', decl.secret!), {
        name, defaultMode: 0o440, items: { [this.auth!.htpasswdKey]: { path: 'htpasswd' } },
      });
    } else if (decl.configMap !== undefined) {
      v = kplus.Volume.fromConfigMap(this, id, kplus.ConfigMap.fromConfigMapName(this, `${id}-ConfigMap`, decl.configMap), { name, defaultMode: decl.defaultMode ?? 0o444 });
    } else if (decl.secret !== undefined) {
      v = kplus.Volume.fromSecret(this, id, kplus.Secret.fromSecretName(this, `${id}-Secret`, decl.secret), { name, defaultMode: decl.defaultMode ?? 0o440 });
    } else {
      v = kplus.Volume.fromEmptyDir(this, id, name, {
        sizeLimit: decl.sizeLimit ?? DEFAULT_EMPTY_DIR_SIZE_LIMIT, medium: decl.memory ? kplus.EmptyDirMedium.MEMORY : undefined,
      });
    }
    this.kvolumes.set(name, v);
    return v;
  }

  /** One planned container, hardened, as an init container, a native sidecar or a container. */
  private addContainer(p: Planned): void {
    const { volumeMounts, writableTmp, securityContext, resources, ...rest } = p.spec;
    const mounts: kplus.VolumeMount[] = (volumeMounts ?? []).map((m) => ({
      path: m.path, volume: this.volumeFor(m.volume), readOnly: m.readOnly ?? true, subPath: m.subPath,
    }));
    if (writableTmp) mounts.push({ path: '/tmp', volume: this.volumeFor(`${p.spec.name}-tmp`), readOnly: false });
    const native = p.role === 'sidecar' && this.sidecarMode === SidecarMode.NATIVE;
    const containerProps = hardenedContainer({
      ...rest,
      envVariables: rest.envVariables && Object.keys(rest.envVariables).length ? rest.envVariables : undefined,
      volumeMounts: mounts,
      resources: resources ?? DEFAULT_RESOURCES,
      restartPolicy: native ? kplus.ContainerRestartPolicy.ALWAYS : undefined,
      // user and group only (checked in plan); hardenedContainer defaults them (65532, group = user)
      securityContext,
    });
    if (p.role === 'init' || native) this.workload.addInitContainer(containerProps);
    else this.workload.addContainer(containerProps);
  }
}

/** The app's env PORT, when set to a value, must be the port traffic reaches it on. */
function checkPortEnv(app: SidecarPodContainer, port: number, why: string): void {
  const env = app.envVariables?.PORT;
  const value = env instanceof kplus.EnvValue ? env.value : undefined;
  if (value !== undefined && String(value) !== String(port)) {
    throw new Error(`app.envVariables PORT must be ${port} (${why}), got ${JSON.stringify(value)}: the app would listen where no traffic arrives; set PORT to ${port} or change the app's ports`);
  }
}
