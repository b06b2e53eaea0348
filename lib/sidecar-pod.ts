import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { IntOrString, KubeNetworkPolicy } from './k8s';
import { addChecksumAnnotation } from './hash';
import { validateImage } from './image';
import { applyLabels, recommendedLabels } from './labels';
import { DEFAULT_RESOURCES, DEFAULT_RUN_AS_USER, hardenedContainer, hardenedPodProps } from './security';
import { renderAuthProxyConfig } from './sidecar-pod/nginx-auth';
import { GIT_SYNC_IMAGE as GIT_SYNC, NGINX_UNPRIVILEGED_IMAGE, PYTHON_IMAGE } from './images';
import {
  validateAbsolutePath, validateConfigMapKey, validateDnsLabel, validateDnsSubdomain, validateEnvName, validatePort,
  validatePortName, validatePositiveInteger,
} from './validate';

/** nginx on Alpine, built to run as a non-root user (uid/gid 101) on unprivileged ports. */
export const AUTH_PROXY_IMAGE = NGINX_UNPRIVILEGED_IMAGE;
/** The `nginx` user of the nginx-unprivileged image. */
export const AUTH_PROXY_UID = 101;
/** The kubernetes git-sync image, v4. */
export const GIT_SYNC_IMAGE = GIT_SYNC;
/** git-sync v4 runs as uid/gid 65533 by default. */
export const GIT_SYNC_UID = 65533;
/** The stock Python image the default web server (`python -m http.server`) runs in. */
export const WEB_SERVER_IMAGE = PYTHON_IMAGE;

/** Where the auth proxy's nginx.conf (from the generated ConfigMap) is mounted. */
export const AUTH_PROXY_CONFIG_DIR = '/etc/nginx/auth-proxy';
/** Where the auth proxy's htpasswd file (from the referenced Secret) is mounted. */
export const AUTH_PROXY_HTPASSWD_DIR = '/etc/nginx/auth-proxy-htpasswd';
/**
 * The directory, inside the shared volume, that git-sync uses as `--root`.
 * Not the volume's own root: git-sync creates this directory itself, so it is
 * owned by git-sync's UID and git's "dubious ownership" check passes whatever
 * the volume type (git-sync's README recommends a sub-directory too).
 */
export const GIT_SYNC_ROOT_DIR = 'repo';
/** Where the hot-plug scripts (from the generated ConfigMap) are mounted. */
export const HOT_PLUG_SCRIPTS_DIR = '/opt/hot-plug';

/** git-sync's default resources: like DEFAULT_RESOURCES with a 256 MiB memory limit for git. */
export const GIT_SYNC_RESOURCES: kplus.ContainerResources = {
  cpu: DEFAULT_RESOURCES.cpu,
  memory: { request: Size.mebibytes(64), limit: Size.mebibytes(256) },
};

const TMP_SIZE = Size.mebibytes(64);
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

/** A port a container listens on. */
export interface SidecarPodPort {
  /** The port number, 1-65535. */
  readonly number: number;
  /**
   * An IANA service name for the port.
   * @default - unnamed
   */
  readonly name?: string;
}

/** A mount of a pod volume, referenced by its declared name. */
export interface SidecarPodMount {
  /** The name of a volume declared in `volumes` (or created by a preset). */
  readonly volume: string;
  /** Absolute path in the container. */
  readonly mountPath: string;
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

/** One container of the pod: the app, a sidecar or an init container. */
export interface SidecarPodContainer {
  /** Container name (DNS-1123 label), unique in the pod. */
  readonly name: string;
  /** Pinned image (tag or digest, never `latest`). */
  readonly image: string;
  /**
   * Entrypoint override.
   * @default - the image's entrypoint
   */
  readonly command?: string[];
  /**
   * Arguments.
   * @default - the image's default arguments
   */
  readonly args?: string[];
  /**
   * Working directory.
   * @default - the image's working directory
   */
  readonly workingDir?: string;
  /**
   * Environment variables (plain values; reference Secrets through files).
   * @default - none
   */
  readonly env?: Record<string, string>;
  /**
   * Ports the container listens on. No two containers of a pod may share one.
   * @default - none
   */
  readonly ports?: SidecarPodPort[];
  /**
   * Volumes to mount, by declared name.
   * @default - none
   */
  readonly volumeMounts?: SidecarPodMount[];
  /**
   * Give the container a private, writable emptyDir (64 MiB) at /tmp; the
   * root filesystem stays read-only.
   * @default false
   */
  readonly writableTmp?: boolean;
  /**
   * UID to run as (not 0).
   * @default 65532
   */
  readonly user?: number;
  /**
   * GID to run as (not 0).
   * @default - the same as `user`
   */
  readonly group?: number;
  /**
   * Resource requests and limits.
   * @default DEFAULT_RESOURCES (50m/64Mi requested, 500m/128Mi limit)
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Readiness probe (not allowed on init containers).
   * @default - none
   */
  readonly readinessProbe?: kplus.Probe;
  /**
   * Liveness probe (not allowed on init containers).
   * @default - none
   */
  readonly livenessProbe?: kplus.Probe;
  /**
   * Startup probe (not allowed on init containers).
   * @default - none
   */
  readonly startupProbe?: kplus.Probe;
}

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
   * Size limit of an emptyDir.
   * @default - no limit (the node's ephemeral storage)
   */
  readonly sizeLimit?: Size;
  /**
   * Back an emptyDir with memory (tmpfs); it counts against memory limits.
   * @default false
   */
  readonly memory?: boolean;
}

/** The authentication preset: a reverse proxy that demands credentials. */
export interface AuthProxyOptions {
  /**
   * Name of a Secret, created out of band, that holds an htpasswd file
   * (e.g. `htpasswd -nbB user password`, or `openssl passwd -apr1`).
   * Credentials never appear in the manifests.
   */
  readonly htpasswdSecret: string;
  /**
   * The key of the htpasswd file in the Secret.
   * @default 'htpasswd'
   */
  readonly htpasswdKey?: string;
  /**
   * The port the proxy listens on; the Service targets it.
   * @default 8081
   */
  readonly port?: number;
  /**
   * The app's port on 127.0.0.1.
   * @default - the app's first port
   */
  readonly upstreamPort?: number;
  /**
   * The basic-auth realm (letters, digits, spaces, '.', '_', '-').
   * @default 'Restricted'
   */
  readonly realm?: string;
  /**
   * The proxy image: nginx, running as uid 101.
   * @default AUTH_PROXY_IMAGE (NGINX_UNPRIVILEGED_IMAGE, nginxinc/nginx-unprivileged:1.28.0-alpine)
   */
  readonly image?: string;
  /**
   * Add a NetworkPolicy that admits traffic to the proxy's port only, so
   * nothing reaches the app's port even if the app binds all interfaces.
   * @default true
   */
  readonly networkPolicy?: boolean;
}

/** A git-sync sidecar that keeps a shared volume at a git ref. */
export interface GitSyncOptions {
  /** The repository (`--repo`), e.g. `https://github.com/org/site`. */
  readonly repo: string;
  /**
   * The branch, tag or hash to follow (`--ref`).
   * @default 'HEAD' (the remote's default branch)
   */
  readonly ref?: string;
  /**
   * Time between syncs (`--period`), whole seconds.
   * @default Duration.seconds(60)
   */
  readonly period?: Duration;
  /**
   * Name of the symlink git-sync flips to each new checkout (`--link`),
   * relative to `--root`.
   * @default 'current'
   */
  readonly link?: string;
  /**
   * History depth to fetch (`--depth`).
   * @default - git-sync's default: 1, the synced commit only
   */
  readonly depth?: number;
  /**
   * The git-sync image (v4).
   * @default GIT_SYNC_IMAGE (registry.k8s.io/git-sync/git-sync:v4.4.0)
   */
  readonly image?: string;
  /**
   * The shared volume. Declare it in `volumes` to size it; otherwise an
   * emptyDir of this name is created.
   * @default 'content' for the content preset, 'code' for hot-plug
   */
  readonly volume?: string;
  /**
   * Where git-sync mounts the volume; `--root` is its `repo` directory.
   * @default '/git'
   */
  readonly mountPath?: string;
  /**
   * Where the app mounts the volume, read-only.
   * @default '/srv/content' for the content preset, '/srv/code' for hot-plug
   */
  readonly appMountPath?: string;
  /**
   * Resources of the git-sync container (git needs more memory than a
   * static server to index a fetched pack).
   * @default GIT_SYNC_RESOURCES (50m/64Mi requested, 500m/256Mi limit)
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * Port of git-sync's HTTP endpoint (`--http-bind`), whose `/` fails until
   * the first sync is done: the sidecar's readiness (and, for native
   * sidecars, startup) probe.
   * @default 8089
   */
  readonly httpPort?: number;
}

/** The shared-content preset: git-sync fills a volume, a web server serves it read-only. */
export interface SharedContentOptions extends GitSyncOptions {
  /**
   * Directory of the repository the default web server serves.
   * @default - the repository's root
   */
  readonly directory?: string;
  /**
   * Port of the default web server.
   * @default 8080
   */
  readonly port?: number;
}

/** The hot-plug preset: git-sync pulls new code, the app is made to run it. */
export interface HotPlugOptions extends GitSyncOptions {
  /** How the app picks up a new version. No default: choose deliberately. */
  readonly reload: HotPlugReload;
}

/** Options for {@link HotPlugReload.restartOnChange}. */
export interface RestartOnChangeOptions {
  /**
   * How often the supervisor looks at the link, in seconds.
   * @default 3
   */
  readonly pollSeconds?: number;
}

/** Options for {@link HotPlugReload.signal}. */
export interface SignalReloadOptions {
  /** The app's process name as in `/proc/<pid>/comm` (at most 15 characters), e.g. `gunicorn`. */
  readonly processName: string;
  /**
   * The signal, without `SIG`.
   * @default 'HUP'
   */
  readonly signal?: string;
}

/** How the app picks up the code the hot-plug sidecar pulled. */
export enum HotPlugReloadKind {
  RESTART_ON_CHANGE = 'restart-on-change',
  SIGNAL = 'signal',
  APP_RESTARTS_ITSELF = 'app-restarts-itself',
}

/**
 * How a hot-plugged app picks up a new version. Pick one deliberately:
 *
 * - {@link HotPlugReload.restartOnChange}: a small sh supervisor in the app
 *   container restarts the app process when the link moves. Needs `sh` in the
 *   app's image, nothing else: no shared process namespace, any UIDs.
 * - {@link HotPlugReload.signal}: git-sync's exec hook signals the app through
 *   `shareProcessNamespace`. A non-root process can only signal processes of
 *   its own UID, so git-sync runs as the app's UID; every container can then
 *   see every process, and same-UID processes can read each other's
 *   environment. For apps that reload on a signal (gunicorn, nginx: HUP).
 * - {@link HotPlugReload.appRestartsItself}: the app watches the link itself
 *   (a dev server with `--reload`, nodemon, ...); nothing is added.
 */
export class HotPlugReload {
  /** Restart the app process in its container whenever git-sync publishes a new version. */
  public static restartOnChange(options: RestartOnChangeOptions = {}): HotPlugReload {
    const poll = validatePositiveInteger(options.pollSeconds ?? 3, 'hotPlug reload pollSeconds', 1, 3600);
    return new HotPlugReload(HotPlugReloadKind.RESTART_ON_CHANGE, poll);
  }

  /** Signal the app after every sync, from git-sync's exec hook through a shared process namespace. */
  public static signal(options: SignalReloadOptions): HotPlugReload {
    const name = options.processName;
    if (typeof name !== 'string' || !/^[^/\s]{1,15}$/.test(name)) {
      throw new Error(`hotPlug reload processName must be a process name of 1-15 characters without "/" or spaces (as in /proc/<pid>/comm), got "${name}"`);
    }
    const signal = options.signal ?? 'HUP';
    if (!/^(HUP|INT|QUIT|USR1|USR2|TERM|WINCH)$/.test(signal)) {
      throw new Error(`hotPlug reload signal must be one of HUP, INT, QUIT, USR1, USR2, TERM, WINCH (without "SIG"), got "${signal}"`);
    }
    return new HotPlugReload(HotPlugReloadKind.SIGNAL, undefined, signal, name);
  }

  /** The app notices new versions under the link by itself. */
  public static appRestartsItself(): HotPlugReload {
    return new HotPlugReload(HotPlugReloadKind.APP_RESTARTS_ITSELF);
  }

  private constructor(
    /** Which mechanism. */
    public readonly kind: HotPlugReloadKind,
    /** Poll interval of the restart-on-change supervisor, in seconds. */
    public readonly pollSeconds?: number,
    /** Signal name (without SIG) for the signal mechanism. */
    public readonly signal?: string,
    /** Target process name for the signal mechanism. */
    public readonly processName?: string,
  ) {}
}

/** Options for {@link pythonHttpServer}. */
export interface PythonHttpServerOptions {
  /** Absolute directory to serve (`--directory`), resolved afresh on every request. */
  readonly directory: string;
  /**
   * Container name.
   * @default 'web'
   */
  readonly name?: string;
  /**
   * Port to listen on.
   * @default 8080
   */
  readonly port?: number;
  /**
   * Bind 127.0.0.1 only (behind the auth proxy) instead of all interfaces.
   * The readiness probe then runs inside the container, since the kubelet
   * cannot reach a loopback address.
   * @default false
   */
  readonly loopbackOnly?: boolean;
  /**
   * Working directory (never on `sys.path`: the server runs with `python -P`).
   * @default - the image's (/)
   */
  readonly workingDir?: string;
  /**
   * Volume mounts (read-only by default).
   * @default - none
   */
  readonly volumeMounts?: SidecarPodMount[];
  /**
   * The image.
   * @default WEB_SERVER_IMAGE (python:3.12.8-slim-bookworm)
   */
  readonly image?: string;
}

/**
 * The seed's web server as a container: `python -m http.server` from a stock
 * Python image, with a readiness probe that fails while the directory is
 * missing (http.server answers 404 until the first sync publishes it).
 */
export function pythonHttpServer(options: PythonHttpServerOptions): SidecarPodContainer {
  const port = validatePort(options.port ?? 8080, 'web server port');
  const directory = validateAbsolutePath(options.directory, 'web server directory');
  const bind = options.loopbackOnly ? '127.0.0.1' : '0.0.0.0';
  const readinessProbe = options.loopbackOnly
    ? kplus.Probe.fromCommand(['python3', '-c', `import urllib.request; urllib.request.urlopen("http://127.0.0.1:${port}/", timeout=2)`],
      { periodSeconds: Duration.seconds(5), timeoutSeconds: Duration.seconds(3) })
    : kplus.Probe.fromHttpGet('/', { port, periodSeconds: Duration.seconds(5) });
  return {
    name: options.name ?? 'web',
    image: options.image ?? WEB_SERVER_IMAGE,
    // -P keeps the working directory off sys.path: it may hold synced files.
    command: ['python3', '-P', '-m', 'http.server'],
    args: [String(port), '--bind', bind, '--directory', directory],
    workingDir: options.workingDir,
    ports: [{ number: port, name: 'http' }],
    volumeMounts: options.volumeMounts,
    readinessProbe,
  };
}

/**
 * Props for {@link SidecarPod}.
 */
export interface SidecarPodProps {
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
   * Create a ClusterIP Service.
   * @default true
   */
  readonly createService?: boolean;
  /**
   * The Service's port.
   * @default - the target port
   */
  readonly servicePort?: number;
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
  /** How error messages name it, e.g. `sidecars[1] "helper"`. */
  readonly where: string;
}

interface ResolvedGitSync {
  readonly opts: GitSyncOptions;
  readonly volume: string;
  readonly mountPath: string;
  readonly root: string;
  readonly appMountPath: string;
  readonly link: string;
  readonly httpPort: number;
  /** The link as the app sees it. */
  readonly appLinkPath: string;
}

const REPO = /^\S+$/;
const REF = /^[^\s~^:?*[\\]+$/;
const LINK = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const REALM = /^[A-Za-z0-9 ._-]{1,64}$/;

function relativePath(value: string, prop: string): string {
  const segments = value.split('/');
  if (value === '' || value.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`${prop} must be a relative path without empty, "." or ".." segments, got "${value}"`);
  }
  return value;
}

/**
 * A workload whose pod runs one concern per container: a main container, any
 * number of sidecars and init containers sharing the network namespace (they
 * reach each other on localhost) and declared volumes, every container
 * hardened for Pod Security Standards "restricted".
 *
 * Three presets add the seed's patterns: `authProxy` (nginx with basic auth
 * in front of an app bound to 127.0.0.1), `content` (git-sync keeps a volume
 * up to date, a web server serves it read-only) and `hotPlug` (git-sync pulls
 * new code, the app is restarted or signalled to run it).
 */
export class SidecarPod extends Construct {
  /** Name of the workload, Service and generated objects. */
  public readonly name: string;
  /** The Deployment, or the Pod with `SidecarPodWorkload.POD`. */
  public readonly workload: kplus.Deployment | kplus.Pod;
  /** The Service, unless `createService` is false. */
  public readonly service?: kplus.Service;
  /** The NetworkPolicy that only admits the auth proxy's port. */
  public readonly networkPolicy?: KubeNetworkPolicy;
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
  /** The container port the Service targets. */
  public readonly serviceTargetPort?: number;
  /** The auth proxy's listening port. */
  public readonly authProxyPort?: number;
  /** The app port the auth proxy forwards to on 127.0.0.1. */
  public readonly upstreamPort?: number;
  /** The git-sync link as the app sees it, e.g. `/srv/content/repo/current`. */
  public readonly syncedPath?: string;

  constructor(scope: Construct, id: string, props: SidecarPodProps = {}) {
    super(scope, id);
    this.name = validateDnsLabel(props.name ?? 'sidecar-pod', 'name');
    this.sidecarMode = props.sidecarMode ?? SidecarMode.CLASSIC;
    const workloadKind = props.workload ?? SidecarPodWorkload.DEPLOYMENT;
    if (workloadKind === SidecarPodWorkload.POD && props.replicas !== undefined) {
      throw new Error(`replicas is only allowed with SidecarPodWorkload.DEPLOYMENT, got ${props.replicas} with a bare Pod`);
    }
    if (workloadKind === SidecarPodWorkload.DEPLOYMENT) {
      this.replicas = validatePositiveInteger(props.replicas ?? 1, 'replicas', 0, 1000);
    }
    if (props.content && props.hotPlug) {
      throw new Error('content and hotPlug cannot both be set: both are a git-sync sidecar; use hotPlug when the synced files are code the app runs');
    }
    if (props.hotPlug && !props.app) {
      throw new Error('app is required with hotPlug: it is the program that runs the synced code');
    }
    if (!props.app && !props.content) {
      throw new Error('app is required unless content is set (which defaults it to a web server)');
    }

    // ---- volumes declared by the user
    const volumes = new Map<string, SidecarPodVolume>();
    const declareVolume = (v: SidecarPodVolume, where: string) => {
      validateDnsLabel(v.name, `${where} name`);
      if (volumes.has(v.name)) throw new Error(`volume name "${v.name}" is declared more than once`);
      if (v.configMap !== undefined && v.secret !== undefined) {
        throw new Error(`${where} "${v.name}" must set at most one of configMap and secret`);
      }
      if (v.configMap !== undefined) validateDnsSubdomain(v.configMap, `${where} "${v.name}" configMap`);
      if (v.secret !== undefined) validateDnsSubdomain(v.secret, `${where} "${v.name}" secret`);
      if (v.defaultMode !== undefined && !(Number.isInteger(v.defaultMode) && v.defaultMode >= 0 && v.defaultMode <= 0o777)) {
        throw new Error(`${where} "${v.name}" defaultMode must be an octal file mode 0-0o777, got ${v.defaultMode}`);
      }
      if ((v.sizeLimit !== undefined || v.memory) && (v.configMap !== undefined || v.secret !== undefined)) {
        throw new Error(`${where} "${v.name}" sizeLimit and memory apply to emptyDir volumes only`);
      }
      volumes.set(v.name, v);
    };
    (props.volumes ?? []).forEach((v, i) => declareVolume(v, `volumes[${i}]`));

    // ---- the app
    const gitSync = this.resolveGitSync(props, volumes, declareVolume);
    this.syncedPath = gitSync?.appLinkPath;
    const auth = props.authProxy;
    let app: SidecarPodContainer = props.app ?? this.defaultWebServer(props.content!, gitSync!, !!auth);
    if (gitSync) {
      app = { ...app, volumeMounts: [...(app.volumeMounts ?? []), { volume: gitSync.volume, mountPath: gitSync.appMountPath, readOnly: true }] };
    }
    const reload = props.hotPlug?.reload;
    let scriptsData: Record<string, string> | undefined;
    if (reload?.kind === HotPlugReloadKind.RESTART_ON_CHANGE) {
      if (!app.command?.length) {
        throw new Error('app.command is required with HotPlugReload.restartOnChange(): the supervisor must know what to start');
      }
      scriptsData = { 'restart-on-change.sh': fs.readFileSync(path.join(ASSETS, 'restart-on-change.sh'), 'utf8') };
      declareVolume({ name: 'hot-plug-scripts' }, 'hotPlug');
      app = {
        ...app,
        command: ['/bin/sh', `${HOT_PLUG_SCRIPTS_DIR}/restart-on-change.sh`],
        args: [...app.command, ...(app.args ?? [])],
        workingDir: undefined,
        env: {
          ...app.env,
          HOT_PLUG_LINK: gitSync!.appLinkPath,
          HOT_PLUG_POLL_SECONDS: String(reload.pollSeconds),
          ...(app.workingDir !== undefined ? { HOT_PLUG_WORKDIR: validateAbsolutePath(app.workingDir, 'app.workingDir') } : {}),
        },
        volumeMounts: [...(app.volumeMounts ?? []), { volume: 'hot-plug-scripts', mountPath: HOT_PLUG_SCRIPTS_DIR, readOnly: true }],
      };
    } else if (reload?.kind === HotPlugReloadKind.SIGNAL) {
      scriptsData = { 'signal-app.sh': fs.readFileSync(path.join(ASSETS, 'signal-app.sh'), 'utf8') };
      declareVolume({ name: 'hot-plug-scripts' }, 'hotPlug');
    }
    this.appName = app.name;

    // ---- preset sidecars
    const gitSyncSidecars = gitSync ? [this.gitSyncContainer(gitSync, app, reload)] : [];
    let authSidecars: SidecarPodContainer[] = [];
    let authConfigData: Record<string, string> | undefined;
    if (auth) {
      const proxy = this.authProxyContainer(auth, app);
      authSidecars = [proxy.container];
      authConfigData = proxy.configData;
      this.authProxyPort = proxy.port;
      this.upstreamPort = proxy.upstream;
      declareVolume({ name: 'auth-proxy-config' }, 'authProxy');
      declareVolume({ name: 'auth-proxy-htpasswd', secret: auth.htpasswdSecret }, 'authProxy');
    }

    // ---- every container, validated together
    // Order: init containers, the app, then sidecars (git-sync first, the proxy last).
    // Native sidecars become init containers after the user's, in this order.
    const planned: Planned[] = [
      ...(props.initContainers ?? []).map((spec, i) => ({ spec, role: 'init' as Role, where: `initContainers[${i}]` })),
      { spec: app, role: 'app', where: props.app ? 'app' : 'default web server' },
      ...gitSyncSidecars.map((spec) => ({ spec, role: 'sidecar' as Role, where: 'git-sync sidecar' })),
      ...(props.sidecars ?? []).map((spec, i) => ({ spec, role: 'sidecar' as Role, where: `sidecars[${i}]` })),
      ...authSidecars.map((spec) => ({ spec, role: 'sidecar' as Role, where: 'auth-proxy sidecar' })),
    ];
    for (const p of planned) {
      if (p.spec.writableTmp) declareVolume({ name: `${this.validateName(p)}-tmp`, sizeLimit: TMP_SIZE }, `${p.where} writableTmp`);
    }
    this.validateContainers(planned, volumes);
    this.containerNames = planned.map((p) => p.spec.name);

    // ---- Service target
    const longRunning = planned.filter((p) => p.role !== 'init');
    const portOwner = new Map<number, string>();
    for (const p of longRunning) for (const port of p.spec.ports ?? []) portOwner.set(port.number, p.spec.name);
    const createService = props.createService ?? true;
    if (createService) {
      let target: number;
      if (auth) {
        target = this.authProxyPort!;
        if (props.serviceTargetPort !== undefined && props.serviceTargetPort !== target) {
          const owner = portOwner.get(props.serviceTargetPort);
          if (owner === app.name || props.serviceTargetPort === this.upstreamPort) {
            throw new Error(`serviceTargetPort must be the auth proxy's port ${target} when authProxy is set, got the app's port ${props.serviceTargetPort}: traffic would bypass authentication`);
          }
          throw new Error(`serviceTargetPort must be the auth proxy's port ${target} when authProxy is set, got ${props.serviceTargetPort}`);
        }
      } else {
        const t = props.serviceTargetPort ?? app.ports?.[0]?.number;
        if (t === undefined) {
          throw new Error(`serviceTargetPort is required when the app "${app.name}" declares no ports (or set createService: false)`);
        }
        target = validatePort(t, 'serviceTargetPort');
        if (!portOwner.has(target)) {
          throw new Error(`serviceTargetPort ${target} is not a port of the app or a sidecar (declared: ${[...portOwner.keys()].join(', ') || 'none'})`);
        }
      }
      this.serviceTargetPort = target;
      this.servicePort = validatePort(props.servicePort ?? target, 'servicePort');
    }

    // ---- fsGroup and the workload
    const appUser = app.user ?? DEFAULT_RUN_AS_USER;
    const appGroup = app.group ?? appUser;
    this.fsGroup = validatePositiveInteger(props.fsGroup ?? (gitSync ? GIT_SYNC_UID : appGroup), 'fsGroup', 1, 2147483647);
    const podProps = hardenedPodProps({ user: appUser, group: appGroup, fsGroup: this.fsGroup });
    this.workload = workloadKind === SidecarPodWorkload.POD
      ? new kplus.Pod(this, 'Resource', { ...podProps, metadata: { name: this.name } })
      : new kplus.Deployment(this, 'Resource', { ...podProps, metadata: { name: this.name }, replicas: this.replicas });
    const specPath = workloadKind === SidecarPodWorkload.POD ? '/spec' : '/spec/template/spec';

    // ---- generated ConfigMaps
    if (authConfigData) {
      this.authProxyConfig = new kplus.ConfigMap(this, 'AuthProxyConfig', { metadata: { name: `${this.name}-auth-proxy` }, data: authConfigData });
      addChecksumAnnotation(this.workload, 'auth-proxy', authConfigData);
    }
    if (scriptsData) {
      this.hotPlugScripts = new kplus.ConfigMap(this, 'HotPlugScripts', { metadata: { name: `${this.name}-hot-plug` }, data: scriptsData });
      addChecksumAnnotation(this.workload, 'hot-plug', scriptsData);
    }

    // ---- kplus volumes, created once each
    const kvolumes = new Map<string, kplus.Volume>();
    const volumeFor = (name: string): kplus.Volume => {
      let v = kvolumes.get(name);
      if (v) return v;
      const decl = volumes.get(name)!;
      const id = `Volume-${name}`;
      if (name === 'auth-proxy-config') {
        v = kplus.Volume.fromConfigMap(this, id, this.authProxyConfig!, { name, defaultMode: 0o444 });
      } else if (name === 'hot-plug-scripts') {
        v = kplus.Volume.fromConfigMap(this, id, this.hotPlugScripts!, { name, defaultMode: 0o555 });
      } else if (name === 'auth-proxy-htpasswd') {
        v = kplus.Volume.fromSecret(this, id, kplus.Secret.fromSecretName(this, 'HtpasswdSecret', decl.secret!), {
          name, defaultMode: 0o440, items: { [auth!.htpasswdKey ?? 'htpasswd']: { path: 'htpasswd' } },
        });
      } else if (decl.configMap !== undefined) {
        v = kplus.Volume.fromConfigMap(this, id, kplus.ConfigMap.fromConfigMapName(this, `${id}-ConfigMap`, decl.configMap), { name, defaultMode: decl.defaultMode ?? 0o444 });
      } else if (decl.secret !== undefined) {
        v = kplus.Volume.fromSecret(this, id, kplus.Secret.fromSecretName(this, `${id}-Secret`, decl.secret), { name, defaultMode: decl.defaultMode ?? 0o440 });
      } else {
        v = kplus.Volume.fromEmptyDir(this, id, name, {
          sizeLimit: decl.sizeLimit, medium: decl.memory ? kplus.EmptyDirMedium.MEMORY : undefined,
        });
      }
      kvolumes.set(name, v);
      return v;
    };

    // ---- containers
    for (const p of planned) {
      const s = p.spec;
      const mounts: kplus.VolumeMount[] = (s.volumeMounts ?? []).map((m) => ({
        path: m.mountPath, volume: volumeFor(m.volume), readOnly: m.readOnly ?? true, subPath: m.subPath,
      }));
      if (s.writableTmp) mounts.push({ path: '/tmp', volume: volumeFor(`${s.name}-tmp`), readOnly: false });
      const env: Record<string, kplus.EnvValue> = {};
      for (const [k, v] of Object.entries(s.env ?? {})) env[k] = kplus.EnvValue.fromValue(v);
      const native = p.role === 'sidecar' && this.sidecarMode === SidecarMode.NATIVE;
      const containerProps = hardenedContainer({
        name: s.name,
        image: s.image,
        command: s.command,
        args: s.args,
        workingDir: s.workingDir,
        envVariables: Object.keys(env).length ? env : undefined,
        ports: s.ports?.map((x) => ({ number: x.number, name: x.name })),
        volumeMounts: mounts,
        resources: s.resources ?? DEFAULT_RESOURCES,
        readiness: s.readinessProbe,
        liveness: s.livenessProbe,
        startup: s.startupProbe,
        restartPolicy: native ? kplus.ContainerRestartPolicy.ALWAYS : undefined,
        securityContext: { user: s.user ?? DEFAULT_RUN_AS_USER, group: s.group ?? s.user ?? DEFAULT_RUN_AS_USER },
      });
      if (p.role === 'init' || native) this.workload.addInitContainer(containerProps);
      else this.workload.addContainer(containerProps);
    }

    // ---- pod-level extras
    this.workload.podMetadata.addAnnotation('kubectl.kubernetes.io/default-container', app.name);
    if (reload?.kind === HotPlugReloadKind.SIGNAL) {
      ApiObject.of(this.workload).addJsonPatch(JsonPatch.add(`${specPath}/shareProcessNamespace`, true));
    }

    if (createService) {
      this.service = new kplus.Service(this, 'Service', {
        metadata: { name: this.name },
        selector: this.workload,
        ports: [{ name: 'http', port: this.servicePort!, targetPort: this.serviceTargetPort! }],
      });
    }
    if (auth && (auth.networkPolicy ?? true)) {
      const matchLabels = this.workload instanceof kplus.Deployment
        ? this.workload.matchLabels
        : { [kplus.Pod.ADDRESS_LABEL]: this.workload.podMetadata.getLabel(kplus.Pod.ADDRESS_LABEL)! };
      this.networkPolicy = new KubeNetworkPolicy(this, 'NetworkPolicy', {
        metadata: { name: this.name },
        spec: {
          podSelector: { matchLabels },
          policyTypes: ['Ingress'],
          ingress: [{ ports: [{ protocol: 'TCP', port: IntOrString.fromNumber(this.authProxyPort!) }] }],
        },
      });
    }

    applyLabels(this, recommendedLabels({ name: this.name }));
  }

  /** The git-sync sidecar of the content and hot-plug presets. */
  private gitSyncContainer(gitSync: ResolvedGitSync, app: SidecarPodContainer, reload: HotPlugReload | undefined): SidecarPodContainer {
    const signal = reload?.kind === HotPlugReloadKind.SIGNAL ? reload : undefined;
    const args = [
      `--repo=${gitSync.opts.repo}`,
      `--ref=${gitSync.opts.ref ?? 'HEAD'}`,
      `--period=${this.periodSeconds(gitSync.opts.period)}s`,
      `--root=${gitSync.root}`,
      `--link=${gitSync.link}`,
      `--http-bind=:${gitSync.httpPort}`,
      // Keep serving the last good sync through upstream outages: exiting on a failed
      // sync would restart the container and take the pod out of its Service.
      '--max-failures=-1',
    ];
    if (gitSync.opts.depth !== undefined) args.push(`--depth=${validatePositiveInteger(gitSync.opts.depth, 'git-sync depth', 0, 1000000)}`);
    if (signal) args.push(`--exechook-command=${HOT_PLUG_SCRIPTS_DIR}/signal-app.sh`);
    const probe = (periodSeconds: number, failureThreshold: number) =>
      kplus.Probe.fromHttpGet('/', { port: gitSync.httpPort, periodSeconds: Duration.seconds(periodSeconds), failureThreshold });
    return {
      name: 'git-sync',
      image: validateImage(gitSync.opts.image ?? GIT_SYNC_IMAGE, 'git-sync image'),
      args,
      // With the signal reload git-sync must share the app's UID: kill(2) across UIDs needs CAP_KILL.
      user: signal ? (app.user ?? DEFAULT_RUN_AS_USER) : GIT_SYNC_UID,
      group: signal ? (app.group ?? app.user ?? DEFAULT_RUN_AS_USER) : GIT_SYNC_UID,
      env: signal ? { HOT_PLUG_SIGNAL: signal.signal!, HOT_PLUG_PROCESS: signal.processName! } : undefined,
      writableTmp: true, // the image's HOME is /tmp (git writes ~/.gitconfig)
      resources: gitSync.opts.resources ?? GIT_SYNC_RESOURCES,
      ports: [{ number: gitSync.httpPort, name: 'git-sync' }],
      volumeMounts: [
        { volume: gitSync.volume, mountPath: gitSync.mountPath, readOnly: false },
        ...(signal ? [{ volume: 'hot-plug-scripts', mountPath: HOT_PLUG_SCRIPTS_DIR, readOnly: true }] : []),
      ],
      // git-sync's "/" fails until the first sync is published, then stays 200.
      readinessProbe: probe(5, 3),
      // A native sidecar's startup probe holds the app back until the first sync (up to 5 minutes).
      startupProbe: this.sidecarMode === SidecarMode.NATIVE ? probe(2, 150) : undefined,
    };
  }

  /** The nginx sidecar of the authentication preset, and its nginx.conf. */
  private authProxyContainer(auth: AuthProxyOptions, app: SidecarPodContainer):
  { container: SidecarPodContainer; configData: Record<string, string>; port: number; upstream: number } {
    const port = validatePort(auth.port ?? 8081, 'authProxy.port');
    const appPort = auth.upstreamPort ?? app.ports?.[0]?.number;
    if (appPort === undefined) {
      throw new Error(`authProxy.upstreamPort is required when the app "${app.name}" declares no ports`);
    }
    const upstream = validatePort(appPort, 'authProxy.upstreamPort');
    if (upstream === port) {
      throw new Error(`authProxy.upstreamPort must differ from authProxy.port ${port}: the proxy would forward to itself`);
    }
    validateConfigMapKey(auth.htpasswdKey ?? 'htpasswd', 'authProxy.htpasswdKey');
    validateDnsSubdomain(auth.htpasswdSecret, 'authProxy.htpasswdSecret');
    const realm = auth.realm ?? 'Restricted';
    if (typeof realm !== 'string' || !REALM.test(realm)) {
      throw new Error(`authProxy.realm must be 1-64 letters, digits, spaces, '.', '_' or '-', got "${realm}"`);
    }
    const configData = {
      'nginx.conf': renderAuthProxyConfig({
        listenPort: port, upstreamPort: upstream, realm, tmpDir: '/tmp', htpasswdPath: `${AUTH_PROXY_HTPASSWD_DIR}/htpasswd`,
      }),
    };
    const container: SidecarPodContainer = {
      name: 'auth-proxy',
      image: validateImage(auth.image ?? AUTH_PROXY_IMAGE, 'authProxy.image'),
      command: ['nginx', '-c', `${AUTH_PROXY_CONFIG_DIR}/nginx.conf`, '-e', 'stderr'],
      user: AUTH_PROXY_UID,
      group: AUTH_PROXY_UID,
      writableTmp: true,
      ports: [{ number: port, name: 'auth-proxy' }],
      volumeMounts: [
        { volume: 'auth-proxy-config', mountPath: AUTH_PROXY_CONFIG_DIR },
        { volume: 'auth-proxy-htpasswd', mountPath: AUTH_PROXY_HTPASSWD_DIR },
      ],
      // tcpSocket, not httpGet: every path answers 401 without credentials.
      readinessProbe: kplus.Probe.fromTcpSocket({ port, periodSeconds: Duration.seconds(5) }),
    };
    return { container, configData, port, upstream };
  }

  private validateName(p: Planned): string {
    const name = validateDnsLabel(p.spec.name, `${p.where} name`);
    if (p.spec.writableTmp && name.length > 59) {
      throw new Error(`${p.where} name must be at most 59 characters with writableTmp (its volume is "<name>-tmp"), got "${name}"`);
    }
    return name;
  }

  private periodSeconds(period: Duration | undefined): number {
    const millis = (period ?? Duration.seconds(60)).toMilliseconds();
    if (!Number.isInteger(millis / 1000) || millis < 1000) {
      throw new Error(`git-sync period must be a whole number of seconds >= 1, got ${millis / 1000}s`);
    }
    return millis / 1000;
  }

  private resolveGitSync(
    props: SidecarPodProps,
    volumes: Map<string, SidecarPodVolume>,
    declareVolume: (v: SidecarPodVolume, where: string) => void,
  ): ResolvedGitSync | undefined {
    const opts: GitSyncOptions | undefined = props.content ?? props.hotPlug;
    if (!opts) return undefined;
    const preset = props.content ? 'content' : 'hotPlug';
    if (typeof opts.repo !== 'string' || !REPO.test(opts.repo)) {
      throw new Error(`${preset}.repo must be a git repository URL without spaces, got "${opts.repo}"`);
    }
    if (opts.ref !== undefined && (typeof opts.ref !== 'string' || !REF.test(opts.ref))) {
      throw new Error(`${preset}.ref must be a branch, tag or hash without spaces or ~^:?*[\\, got "${opts.ref}"`);
    }
    const link = opts.link ?? 'current';
    if (!LINK.test(link)) {
      throw new Error(`${preset}.link must be a single path segment of letters, digits, '.', '_' or '-', got "${link}"`);
    }
    this.periodSeconds(opts.period);
    const volume = opts.volume ?? (props.content ? 'content' : 'code');
    if (!volumes.has(volume)) declareVolume({ name: volume }, `${preset}.volume`);
    const declared = volumes.get(volume)!;
    if (declared.configMap !== undefined || declared.secret !== undefined) {
      throw new Error(`${preset}.volume "${volume}" must be an emptyDir volume: git-sync writes to it`);
    }
    const mountPath = validateAbsolutePath(opts.mountPath ?? '/git', `${preset}.mountPath`);
    const appMountPath = validateAbsolutePath(opts.appMountPath ?? (props.content ? '/srv/content' : '/srv/code'), `${preset}.appMountPath`);
    const httpPort = validatePort(opts.httpPort ?? 8089, `${preset}.httpPort`);
    const root = `${mountPath === '/' ? '' : mountPath}/${GIT_SYNC_ROOT_DIR}`;
    return { opts, volume, mountPath, root, appMountPath, link, httpPort, appLinkPath: `${appMountPath === '/' ? '' : appMountPath}/${GIT_SYNC_ROOT_DIR}/${link}` };
  }

  /** The seed's web server: `python -m http.server` serving the synced directory. */
  private defaultWebServer(content: SharedContentOptions, gitSync: ResolvedGitSync, behindProxy: boolean): SidecarPodContainer {
    const directory = content.directory === undefined ? gitSync.appLinkPath
      : `${gitSync.appLinkPath}/${relativePath(content.directory, 'content.directory')}`;
    // The content volume itself is mounted by the preset.
    return pythonHttpServer({ directory, port: content.port, loopbackOnly: behindProxy, workingDir: gitSync.appMountPath });
  }

  private validateContainers(planned: Planned[], volumes: Map<string, SidecarPodVolume>): void {
    const names = new Map<string, string>();
    const ports = new Map<number, string>();
    const portNames = new Map<string, string>();
    for (const p of planned) {
      const s = p.spec;
      const name = this.validateName(p);
      const who = `${p.where} "${name}"`;
      if (names.has(name)) {
        throw new Error(`container name "${name}" is used more than once (${names.get(name)} and ${p.where}); container names must be unique in the pod`);
      }
      names.set(name, p.where);
      validateImage(s.image, `${who} image`);
      if (s.workingDir !== undefined) validateAbsolutePath(s.workingDir, `${who} workingDir`);
      for (const k of Object.keys(s.env ?? {})) validateEnvName(k, `${who} env`);
      if (p.role === 'init' && (s.readinessProbe || s.livenessProbe || s.startupProbe)) {
        throw new Error(`${who} must not have probes: init containers run to completion (make it a sidecar instead)`);
      }
      const own = new Set<number>();
      for (const port of s.ports ?? []) {
        validatePort(port.number, `${who} port`);
        if (own.has(port.number)) throw new Error(`${who} declares port ${port.number} more than once`);
        if (port.name !== undefined) {
          validatePortName(port.name, `${who} port name`);
          const holder = portNames.get(port.name);
          if (holder !== undefined) {
            throw new Error(`port name "${port.name}" is used by both ${holder} and ${who}: port names must be unique in the pod`);
          }
          portNames.set(port.name, who);
        }
        own.add(port.number);
        if (p.role === 'init') continue; // init containers have exited before the others start
        const other = ports.get(port.number);
        if (other !== undefined) {
          throw new Error(`port ${port.number} is declared by both ${other} and ${who}: containers of a pod share one network namespace, so each port can have one listener`);
        }
        ports.set(port.number, who);
      }
      const paths = new Set<string>(s.writableTmp ? ['/tmp'] : []);
      for (const m of s.volumeMounts ?? []) {
        if (!volumes.has(m.volume)) {
          throw new Error(`${who} mounts volume "${m.volume}", which is not declared (declared: ${[...volumes.keys()].join(', ') || 'none'})`);
        }
        validateAbsolutePath(m.mountPath, `${who} mountPath`);
        if (paths.has(m.mountPath)) throw new Error(`${who} mounts two volumes at "${m.mountPath}"`);
        paths.add(m.mountPath);
        if (m.subPath !== undefined) relativePath(m.subPath, `${who} subPath`);
      }
    }
  }
}
