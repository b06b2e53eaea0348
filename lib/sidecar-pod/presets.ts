/**
 * The presets of {@link Sidecars}: the authentication proxy (nginx basic
 * auth), the git-sync sidecar of the shared-content and hot-plug presets, how
 * a hot-plugged app reloads, and the Python web server. Each preset builds
 * {@link PlannedSpec}s: a {@link SidecarContainer} whose mounts name their
 * volume. Imports the vocabulary (lib/workload.ts), never the constructs.
 */
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { validateImage } from '../image';
import { GIT_SYNC_IMAGE as GIT_SYNC, NGINX_UNPRIVILEGED_IMAGE, PYTHON_IMAGE } from '../images';
import { resolveSecretRef } from '../expose';
import { DEFAULT_RESOURCES, resolveSizeLimit } from '../security';
import {
  required,
  validateAbsolutePath,
  validateAuthRealm,
  validateGitRef,
  validateGitRepo,
  validatePathSegment,
  validateConfigMapKey,
  validatePort,
  validatePositiveInteger,
  validateUnprivilegedPort,
} from '../validate';
import { mergeResources, SidecarContainer, toWholeSeconds } from '../workload';
import { renderAuthProxyConfig } from './nginx-auth';

/** A mount that names its volume (the presets' volumes are made when the pod is built). (internal: not in the main entry) */
export interface NamedMount {
  readonly volume: string;
  readonly path: string;
  readonly readOnly?: boolean;
  readonly subPath?: string;
  readonly subPathExpr?: string;
  readonly propagation?: kplus.MountPropagation;
}

/** A container as planned: a {@link SidecarContainer} whose mounts name their volume. (internal: not in the main entry) */
export interface PlannedSpec extends Omit<SidecarContainer, 'volumeMounts'> {
  readonly volumeMounts?: NamedMount[];
}

/** nginx on Alpine, built to run as a non-root user (uid/gid 101) on unprivileged ports. */
export const AUTH_PROXY_IMAGE = NGINX_UNPRIVILEGED_IMAGE;
/**
 * The uid and gid the auth proxy runs as: 10101, above 10000 so it can never
 * be a user of the node (the image's own `nginx` user is 101; the unprivileged
 * image runs as any user and writes only to its /tmp emptyDir).
 */
export const AUTH_PROXY_UID = 10101;
/** The path the auth proxy answers 200 "ok" on itself, without credentials and without asking the app: its readiness probe. */
export const AUTH_PROXY_HEALTH_PATH = '/.auth-proxy/healthz';
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

/**
 * The `sizeLimit` of the /tmp emptyDir of the presets' own sidecars: git-sync
 * (its HOME: git writes ~/.gitconfig there; the repository lives in the shared
 * volume) and the auth proxy's nginx (its pid file and, for request bodies over
 * 16 KiB, up to client_max_body_size = 1 MiB each, temp files; responses are
 * streamed, not spooled). Measured by the runtime proofs after syncs and
 * requests: 4 KiB (git-sync, clone) and 28 KiB (nginx), under 0.2% of 16 MiB
 * (docs/testing.md, "How the sizes were chosen"). The same size as StaticSite's
 * nginx emptyDirs. Set `tmpSizeLimit` to change it.
 */
export const PRESET_TMP_SIZE_LIMIT = Size.mebibytes(16);

/** The authentication preset: a reverse proxy that demands credentials. */
export interface AuthProxyOptions {
  /**
   * The Secret, created out of band, that holds an htpasswd file
   * (e.g. `htpasswd -nbB user password`, or `openssl passwd -apr1`):
   * `kplus.Secret.fromSecretName(this, 'Users', 'site-users')`.
   * Credentials never appear in the manifests.
   */
  readonly htpasswd: kplus.ISecret;
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
   * The proxy image: nginx built to run unprivileged (it runs as UID 10101).
   * @default Images.NGINX_UNPRIVILEGED (nginxinc/nginx-unprivileged:1.28.0-alpine)
   */
  readonly image?: string;
  /**
   * `sizeLimit` of the proxy's /tmp emptyDir (its pid file and spooled request bodies).
   * @default Size.mebibytes(16)
   */
  readonly tmpSizeLimit?: Size;
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
   * The git-sync image (v4). It runs as UID and GID 65533 (with
   * `HotPlugReload.signal()`: as the app's UID).
   * @default Images.GIT_SYNC (registry.k8s.io/git-sync/git-sync:v4.4.0)
   */
  readonly image?: string;
  /**
   * Name of the shared volume. Give a `kplus.Volume.fromEmptyDir` of this
   * name in `volumes` to size it; otherwise an emptyDir of this name (64 MiB)
   * is created.
   * @default 'content' for the content preset, 'code' for hot-plug
   */
  readonly volume?: string;
  /**
   * Where git-sync mounts the volume; `--root` is its `repo` directory
   * (so the link is `<appMountPath>/repo/<link>` in the app).
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
   * static server to index a fetched pack), merged field by field over the
   * defaults.
   * @default - CPU 50m requested, 500m limit; memory 64Mi requested, 256Mi limit; ephemeral storage 64Mi requested, 256Mi limit
   */
  readonly resources?: kplus.ContainerResources;
  /**
   * `sizeLimit` of git-sync's /tmp emptyDir (its HOME). Size the synced
   * repository itself by giving the shared `volume` in `volumes` with a `sizeLimit`.
   * @default Size.mebibytes(16)
   */
  readonly tmpSizeLimit?: Size;
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
   * How often the supervisor looks at the link (whole seconds, 1 s to 1 hour).
   * @default Duration.seconds(3)
   */
  readonly poll?: Duration;
}

/** Options for `HotPlugReload.signal()`. */
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
 * - `HotPlugReload.signal()`: git-sync's exec hook signals the app through
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
    if (options === null || typeof options !== 'object') throw new Error(`hotPlug reload options must be { poll? }, got ${JSON.stringify(options)}`);
    for (const k of Object.keys(options)) {
      if (k !== 'poll')
        throw new Error(`hotPlug reload options has no option "${k}"${k === 'pollSeconds' ? ' (did you mean "poll"?)' : ''}: the options are poll`);
    }
    toWholeSeconds(options.poll, 'hotPlug reload poll', Duration.seconds(3), 1, 3600);
    return new HotPlugReload(HotPlugReloadKind.RESTART_ON_CHANGE, options.poll ?? Duration.seconds(3));
  }

  /** Signal the app after every sync, from git-sync's exec hook through a shared process namespace. */
  public static signal(options: SignalReloadOptions): HotPlugReload {
    const name = required(options?.processName, 'hotPlug reload processName');
    if (typeof name !== 'string' || !/^[^/\s]{1,15}$/.test(name)) {
      throw new Error(
        `hotPlug reload processName must be a process name of 1-15 characters without "/" or spaces (as in /proc/<pid>/comm), got "${name}"`,
      );
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
    /** Poll interval of the restart-on-change supervisor. */
    public readonly poll?: Duration,
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
  readonly volumeMounts?: NamedMount[];
  /**
   * The image.
   * @default WEB_SERVER_IMAGE (python:3.12.8-slim-bookworm)
   */
  readonly image?: string;
}

/**
 * The shared-content web server as a container: `python -m http.server` from a stock
 * Python image. Readiness fails while the directory is missing (http.server
 * answers 404 until the first sync publishes it); liveness only checks that
 * the port accepts connections, so a missing directory never restarts it.
 * With `loopbackOnly` both probes run inside the container, since the kubelet
 * cannot reach a loopback address.
 */
export function pythonHttpServer(options: PythonHttpServerOptions): PlannedSpec {
  const port = validateUnprivilegedPort(options.port ?? 8080, 'web server port');
  const directory = validateAbsolutePath(options.directory, 'web server directory');
  const bind = options.loopbackOnly ? '127.0.0.1' : '0.0.0.0';
  const python = (code: string) =>
    kplus.Probe.fromCommand(['python3', '-c', code], { periodSeconds: Duration.seconds(5), timeoutSeconds: Duration.seconds(3) });
  const readiness = options.loopbackOnly
    ? python(`import urllib.request; urllib.request.urlopen("http://127.0.0.1:${port}/", timeout=2)`)
    : kplus.Probe.fromHttpGet('/', { port, periodSeconds: Duration.seconds(5) });
  const liveness = options.loopbackOnly
    ? python(`import socket; socket.create_connection(("127.0.0.1", ${port}), 2).close()`)
    : kplus.Probe.fromTcpSocket({ port, periodSeconds: Duration.seconds(10) });
  return {
    name: options.name ?? 'web',
    image: options.image ?? WEB_SERVER_IMAGE,
    // -P keeps the working directory off sys.path: it may hold synced files.
    command: ['python3', '-P', '-m', 'http.server'],
    args: [String(port), '--bind', bind, '--directory', directory],
    workingDir: options.workingDir,
    ports: [{ number: port, name: 'http' }],
    volumeMounts: options.volumeMounts,
    readiness,
    liveness,
  };
}

const GIT_SCHEME_PORTS: Record<string, number> = { 'https': 443, 'http': 80, 'ssh': 22, 'git+ssh': 22, 'ssh+git': 22, 'git': 9418 };

/**
 * The NetworkPolicy egress rule git needs to reach `repo`: the remote's TCP
 * port (the one in the URL, else https 443, http 80, ssh and scp-like
 * `user@host:path` 22, `git://` 9418) at any address, since a NetworkPolicy
 * cannot name a host. A local path or `file://` needs none (undefined).
 */
export function gitRemoteEgress(repo: string, prop = 'repo'): k8s.NetworkPolicyEgressRule | undefined {
  validateGitRepo(repo, prop);
  let port: number | undefined;
  const url = /^([a-z][a-z0-9+.-]*):\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^:/]*)(?::(\d*))?/i.exec(repo);
  if (url) {
    const scheme = url[1].toLowerCase();
    if (scheme === 'file') return undefined;
    port = url[2] ? validatePort(Number(url[2]), `${prop} port`) : GIT_SCHEME_PORTS[scheme];
    if (port === undefined) throw new Error(`${prop} must use https, http, ssh or git (or a user@host:path remote), got ${JSON.stringify(repo)}`);
  } else if (/^[^/]+:/.test(repo)) {
    port = 22; // scp-like user@host:path
  } else {
    return undefined;
  }
  return { ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) }] };
}

/** A git-sync preset's options, resolved and checked. */
export interface ResolvedGitSync {
  /** `content` or `hotPlug`: how error messages name the preset. */
  readonly preset: 'content' | 'hotPlug';
  readonly opts: GitSyncOptions;
  readonly volume: string;
  readonly mountPath: string;
  readonly root: string;
  readonly appMountPath: string;
  readonly link: string;
  readonly ref: string;
  readonly periodSeconds: number;
  readonly httpPort: number;
  readonly image: string;
  /** The link as the app sees it. */
  readonly appLinkPath: string;
  /** `sizeLimit` of git-sync's /tmp emptyDir. */
  readonly tmpSizeLimit: Size;
  /** The container's resources, merged over {@link GIT_SYNC_RESOURCES}. */
  readonly resources: kplus.ContainerResources;
}

/** Resolves and checks the options of the content or hot-plug preset. */
export function resolveGitSync(preset: 'content' | 'hotPlug', opts: GitSyncOptions): ResolvedGitSync {
  if (opts === null || typeof opts !== 'object') throw new Error(`${preset} must be an object of options, got ${JSON.stringify(opts)}`);
  validateGitRepo(opts.repo, `${preset}.repo`);
  const ref = validateGitRef(opts.ref ?? 'HEAD', `${preset}.ref`);
  const link = validatePathSegment(opts.link ?? 'current', `${preset}.link`);
  if (opts.period !== undefined && !(opts.period instanceof Duration)) {
    throw new Error(`${preset}.period must be a cdk8s Duration such as Duration.seconds(30), got ${JSON.stringify(opts.period)}`);
  }
  const millis = (opts.period ?? Duration.seconds(60)).toMilliseconds();
  if (!Number.isInteger(millis / 1000) || millis < 1000) {
    throw new Error(`${preset}.period must be a whole number of seconds >= 1, got ${millis / 1000}s`);
  }
  if (opts.depth !== undefined) validatePositiveInteger(opts.depth, `${preset}.depth`, 0, 1000000);
  const volume = opts.volume ?? (preset === 'content' ? 'content' : 'code');
  const mountPath = validateAbsolutePath(opts.mountPath ?? '/git', `${preset}.mountPath`);
  const appMountPath = validateAbsolutePath(opts.appMountPath ?? (preset === 'content' ? '/srv/content' : '/srv/code'), `${preset}.appMountPath`);
  const httpPort = validateUnprivilegedPort(opts.httpPort ?? 8089, `${preset}.httpPort`);
  const image = validateImage(opts.image ?? GIT_SYNC_IMAGE, `${preset}.image`);
  const root = `${mountPath === '/' ? '' : mountPath}/${GIT_SYNC_ROOT_DIR}`;
  const appLinkPath = `${appMountPath === '/' ? '' : appMountPath}/${GIT_SYNC_ROOT_DIR}/${link}`;
  const tmpSizeLimit = resolveSizeLimit(opts.tmpSizeLimit, `${preset}.tmpSizeLimit`, PRESET_TMP_SIZE_LIMIT);
  const resources = mergeResources(GIT_SYNC_RESOURCES, opts.resources, `${preset}.resources`);
  return {
    preset,
    opts,
    volume,
    mountPath,
    root,
    appMountPath,
    link,
    ref,
    periodSeconds: millis / 1000,
    httpPort,
    image,
    appLinkPath,
    tmpSizeLimit,
    resources,
  };
}

/**
 * The git-sync sidecar of the content and hot-plug presets. Probes: readiness
 * on git-sync's `/` (fails until the first sync is published), and for native
 * sidecars a startup probe that holds the app back until then. No liveness
 * probe: `/` also fails while the upstream is unreachable, and an upstream
 * outage must not restart the container (it keeps serving the last good
 * sync, `--max-failures=-1`); git-sync exits by itself on fatal errors.
 */
export function gitSyncContainer(
  gitSync: ResolvedGitSync,
  reload: HotPlugReload | undefined,
  native: boolean,
  appIds: { user: number; group: number },
): PlannedSpec {
  const signal = reload?.kind === HotPlugReloadKind.SIGNAL ? reload : undefined;
  const args = [
    `--repo=${gitSync.opts.repo}`,
    `--ref=${gitSync.ref}`,
    `--period=${gitSync.periodSeconds}s`,
    `--root=${gitSync.root}`,
    `--link=${gitSync.link}`,
    `--http-bind=:${gitSync.httpPort}`,
    // Keep serving the last good sync through upstream outages: exiting on a failed
    // sync would restart the container and take the pod out of its Service.
    '--max-failures=-1',
  ];
  if (gitSync.opts.depth !== undefined) args.push(`--depth=${gitSync.opts.depth}`);
  if (signal) args.push(`--exechook-command=${HOT_PLUG_SCRIPTS_DIR}/signal-app.sh`);
  const probe = (periodSeconds: number, failureThreshold: number) =>
    kplus.Probe.fromHttpGet('/', { port: gitSync.httpPort, periodSeconds: Duration.seconds(periodSeconds), failureThreshold });
  const appUser = appIds.user;
  const appGroup = appIds.group;
  return {
    name: 'git-sync',
    image: gitSync.image,
    args,
    // With the signal reload git-sync must share the app's UID: kill(2) across UIDs needs CAP_KILL.
    securityContext: signal ? { user: appUser, group: appGroup } : { user: GIT_SYNC_UID, group: GIT_SYNC_UID },
    envVariables: signal
      ? {
          HOT_PLUG_SIGNAL: kplus.EnvValue.fromValue(signal.signal!),
          HOT_PLUG_PROCESS: kplus.EnvValue.fromValue(signal.processName!),
        }
      : undefined,
    writableTmp: true, // the image's HOME is /tmp (git writes ~/.gitconfig)
    resources: gitSync.resources,
    ports: [{ number: gitSync.httpPort, name: 'git-sync' }],
    volumeMounts: [
      { volume: gitSync.volume, path: gitSync.mountPath, readOnly: false },
      ...(signal ? [{ volume: 'hot-plug-scripts', path: HOT_PLUG_SCRIPTS_DIR, readOnly: true }] : []),
    ],
    readiness: probe(5, 3),
    // A native sidecar's startup probe holds the app back until the first sync (up to 5 minutes).
    startup: native ? probe(2, 150) : undefined,
  };
}

/** The auth proxy sidecar, its nginx.conf and ports. */
export interface AuthProxy {
  /** The nginx sidecar. */
  readonly container: PlannedSpec;
  /** The generated nginx.conf, by file name. */
  readonly configData: Record<string, string>;
  /** The port the proxy listens on. */
  readonly port: number;
  /** The app's port on 127.0.0.1. */
  readonly upstream: number;
  /** The Secret with the htpasswd file. */
  readonly htpasswd: kplus.ISecret;
  /** The htpasswd file's key in the Secret. */
  readonly htpasswdKey: string;
  /** The basic-auth realm. */
  readonly realm: string;
  /** The proxy image. */
  readonly image: string;
  /** `sizeLimit` of the proxy's /tmp emptyDir. */
  readonly tmpSizeLimit: Size;
}

/**
 * The nginx sidecar of the authentication preset. Probes: readiness asks
 * {@link AUTH_PROXY_HEALTH_PATH}, which nginx answers itself without
 * credentials (every other path answers 401 without them); liveness only
 * checks that the port accepts connections, over a longer threshold, so a
 * busy proxy is taken out of the Service before it is ever restarted.
 */
export function authProxyContainer(auth: AuthProxyOptions, app: PlannedSpec): AuthProxy {
  if (auth === null || typeof auth !== 'object') throw new Error(`authProxy must be an object of options, got ${JSON.stringify(auth)}`);
  const htpasswd = resolveSecretRef(required(auth.htpasswd, 'authProxy.htpasswd'), 'authProxy.htpasswd', 'site-users');
  const htpasswdKey = validateConfigMapKey(auth.htpasswdKey ?? 'htpasswd', 'authProxy.htpasswdKey');
  const port = validateUnprivilegedPort(auth.port ?? 8081, 'authProxy.port');
  const appPort = auth.upstreamPort ?? app.ports?.[0]?.number;
  if (appPort === undefined) {
    throw new Error(`authProxy.upstreamPort is required when the app "${app.name}" declares no ports`);
  }
  const upstream = validatePort(appPort, 'authProxy.upstreamPort');
  const appPorts = (app.ports ?? []).map((x) => x.number);
  if (appPorts.length && !appPorts.includes(upstream)) {
    throw new Error(
      `authProxy.upstreamPort must be a port the app "${app.name}" serves (app.ports: ${appPorts.join(', ')}), got ${upstream}: ` +
        'the proxy would forward to a port nothing listens on',
    );
  }
  if (upstream === port) {
    throw new Error(`authProxy.upstreamPort must differ from authProxy.port ${port}: the proxy would forward to itself`);
  }
  const realm = validateAuthRealm(auth.realm ?? 'Restricted', 'authProxy.realm');
  const configData = {
    'nginx.conf': renderAuthProxyConfig({
      listenPort: port,
      upstreamPort: upstream,
      realm,
      tmpDir: '/tmp',
      htpasswdPath: `${AUTH_PROXY_HTPASSWD_DIR}/htpasswd`,
      healthPath: AUTH_PROXY_HEALTH_PATH,
    }),
  };
  const readiness = kplus.Probe.fromHttpGet(AUTH_PROXY_HEALTH_PATH, { port, periodSeconds: Duration.seconds(5) });
  const liveness = kplus.Probe.fromTcpSocket({ port, periodSeconds: Duration.seconds(10), failureThreshold: 6 });
  const container: PlannedSpec = {
    name: 'auth-proxy',
    image: validateImage(auth.image ?? AUTH_PROXY_IMAGE, 'authProxy.image'),
    command: ['nginx', '-c', `${AUTH_PROXY_CONFIG_DIR}/nginx.conf`, '-e', 'stderr'],
    securityContext: { user: AUTH_PROXY_UID, group: AUTH_PROXY_UID },
    writableTmp: true,
    ports: [{ number: port, name: 'auth-proxy' }],
    volumeMounts: [
      { volume: 'auth-proxy-config', path: AUTH_PROXY_CONFIG_DIR },
      { volume: 'auth-proxy-htpasswd', path: AUTH_PROXY_HTPASSWD_DIR },
    ],
    readiness,
    liveness,
  };
  const tmpSizeLimit = resolveSizeLimit(auth.tmpSizeLimit, 'authProxy.tmpSizeLimit', PRESET_TMP_SIZE_LIMIT);
  return { container, configData, port, upstream, htpasswd, htpasswdKey, realm, image: container.image, tmpSizeLimit };
}
