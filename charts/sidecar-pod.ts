/**
 * The seed's "Containers Patterns" example as three charts, one per pattern:
 * a Python web server (`python -m http.server 8080` serving the `static`
 * folder of github.com/cesarvr/demos-webgl), the busybox helper sidecar you
 * can `kubectl exec` into to reach the server on localhost, and one of the
 * three patterns (authentication, shared content, hot plug).
 *
 * The seed's pod cloned the repository at startup inside the Python
 * container; here git-sync does it, as an init container (auth chart,
 * seed 003's init containers) or a sidecar (content and hot-plug charts).
 */
import { Chart, ChartProps, Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { HotPlugReload, Images, SidecarContainer, SidecarDeployment, SidecarMode } from '../lib';

/** The folder git-sync makes below its volume (`--root`); the `GitSyncOptions` of the presets use the same. */
const GIT_SYNC_ROOT = 'repo';
/** git-sync v4's UID and GID. */
const GIT_SYNC_USER = 65533;
/** Resources of the one-time clone: git needs more memory than the web server to index a fetched pack. */
const GIT_SYNC_RESOURCES: kplus.ContainerResources = {
  cpu: { request: kplus.Cpu.millis(50), limit: kplus.Cpu.millis(500) },
  memory: { request: Size.mebibytes(64), limit: Size.mebibytes(256) },
};

/** The seed's content repository. */
export const SEED_REPO = 'https://github.com/cesarvr/demos-webgl';

/** Props shared by the three sidecar-pod charts. */
export interface SidecarPodChartProps extends ChartProps {
  /**
   * Name of the workload and its Service.
   * @default - 'python-pod-auth', 'python-pod-content' or 'python-pod-hot-plug'
   */
  readonly name?: string;
  /**
   * Repository holding the site (served from its `static` folder).
   * @default SEED_REPO (https://github.com/cesarvr/demos-webgl)
   */
  readonly repo?: string;
  /**
   * Branch, tag or hash to follow.
   * @default 'HEAD'
   */
  readonly ref?: string;
  /**
   * Run the seed's busybox helper sidecar (`kubectl exec -c helper` to reach
   * the web server on localhost:8080).
   * @default true
   */
  readonly helper?: boolean;
  /**
   * Classic or native sidecars (native: Kubernetes >= 1.29, or 1.28 with the
   * SidecarContainers feature gate).
   * @default SidecarMode.CLASSIC
   */
  readonly sidecarMode?: SidecarMode;
  /**
   * Pod replicas; 2 or more adds a PodDisruptionBudget and spreads them over nodes.
   * @default 1
   */
  readonly replicas?: number;
}

/** The namespace the sidecar-pod charts default to. */
export const SIDECAR_POD_NAMESPACE = 'sidecar-pod';

/**
 * The seed's busybox sidecar, which sleeps so you can exec into it; it stops
 * at once on SIGTERM. No probes: it serves nothing, so there is no readiness
 * to report, and a liveness probe could only check that `sleep` runs.
 */
export function busyboxHelper(): SidecarContainer {
  return {
    name: 'helper',
    image: Images.BUSYBOX,
    command: ['sh', '-c', "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"],
  };
}

/** Options for {@link pythonServer}. */
export interface PythonServerOptions {
  /** The folder to serve (`--directory`), resolved afresh on every request. */
  readonly directory?: string;
  /** Bind 127.0.0.1 only (behind the auth proxy); the probes then run inside the container. */
  readonly loopbackOnly?: boolean;
  readonly workingDir?: string;
  readonly volumeMounts?: kplus.VolumeMount[];
}

/**
 * The seed's web server, `python -m http.server 8080` from a stock Python
 * image. Readiness fails while the folder is missing (404 until the first
 * sync); liveness only checks the port. Behind the proxy it binds 127.0.0.1
 * and both probes run inside the container (the kubelet cannot reach a loopback address).
 */
export function pythonServer(options: PythonServerOptions = {}): SidecarContainer {
  const python = (code: string) =>
    kplus.Probe.fromCommand(['python3', '-c', code], { periodSeconds: Duration.seconds(5), timeoutSeconds: Duration.seconds(3) });
  const loopback = options.loopbackOnly === true;
  return {
    name: 'web',
    image: Images.PYTHON,
    // -P keeps the working directory off sys.path: it may hold synced files.
    command: ['python3', '-P', '-m', 'http.server'],
    args: ['8080', '--bind', loopback ? '127.0.0.1' : '0.0.0.0', ...(options.directory ? ['--directory', options.directory] : [])],
    workingDir: options.workingDir,
    ports: [{ number: 8080, name: 'http' }],
    volumeMounts: options.volumeMounts,
    readiness: loopback
      ? python('import urllib.request; urllib.request.urlopen("http://127.0.0.1:8080/", timeout=2)')
      : kplus.Probe.fromHttpGet('/', { port: 8080, periodSeconds: Duration.seconds(5) }),
    liveness: loopback
      ? python('import socket; socket.create_connection(("127.0.0.1", 8080), 2).close()')
      : kplus.Probe.fromTcpSocket({ port: 8080, periodSeconds: Duration.seconds(10) }),
  };
}

/** Egress to a git remote over https (443) or http (80), at any address: a NetworkPolicy cannot name a host. */
function gitRemoteEgress(repo: string): k8s.NetworkPolicyEgressRule {
  const url = new URL(repo);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : url.protocol === 'http:' ? 80 : undefined;
  if (port === undefined) throw new Error(`repo must be an https or http URL, got ${JSON.stringify(repo)}`);
  return { ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) }] };
}

function chartProps(props: SidecarPodChartProps): ChartProps {
  return { ...props, namespace: props.namespace ?? SIDECAR_POD_NAMESPACE };
}

/** Props for {@link SidecarPodAuthChart}. */
export interface SidecarPodAuthChartProps extends SidecarPodChartProps {
  /**
   * The Secret (created out of band) with the htpasswd file under key `htpasswd`.
   * @default - '<name>-htpasswd'
   */
  readonly htpasswdSecret?: string;
}

/**
 * Authentication pattern: the seed's web server, now bound to 127.0.0.1:8080,
 * behind an nginx basic-auth proxy on 8081. The Service keeps the seed's port
 * 8080 but targets the proxy. An init container clones the site once, as the
 * seed's pod did at startup.
 */
export class SidecarPodAuthChart extends Chart {
  public readonly pod: SidecarDeployment;
  /** The Secret the proxy reads its htpasswd file from. */
  public readonly htpasswdSecret: string;

  constructor(scope: Construct, id: string, props: SidecarPodAuthChartProps = {}) {
    super(scope, id, chartProps(props));
    const name = props.name ?? 'python-pod-auth';
    this.htpasswdSecret = props.htpasswdSecret ?? `${name}-htpasswd`;
    const content = kplus.Volume.fromEmptyDir(this, 'Content', 'content', { sizeLimit: Size.mebibytes(64) });
    this.pod = new SidecarDeployment(this, 'SidecarPod', {
      name,
      sidecarMode: props.sidecarMode,
      replicas: props.replicas ?? 1,
      initContainers: [
        {
          name: 'clone',
          image: Images.GIT_SYNC,
          args: [`--repo=${props.repo ?? SEED_REPO}`, `--ref=${props.ref ?? 'HEAD'}`, `--root=/git/${GIT_SYNC_ROOT}`, '--link=demos', '--one-time'],
          securityContext: { user: GIT_SYNC_USER },
          writableTmp: true,
          resources: GIT_SYNC_RESOURCES,
          volumeMounts: [{ volume: content, path: '/git', readOnly: false }],
        },
      ],
      app: pythonServer({
        directory: `/srv/content/${GIT_SYNC_ROOT}/demos/static`,
        workingDir: '/srv/content',
        loopbackOnly: true,
        volumeMounts: [{ volume: content, path: '/srv/content' }],
      }),
      sidecars: props.helper === false ? [] : [busyboxHelper()],
      securityContext: { fsGroup: GIT_SYNC_USER },
      authProxy: { htpasswd: kplus.Secret.fromSecretName(this, 'Htpasswd', this.htpasswdSecret), port: 8081 },
      servicePort: 8080,
    });
    // the clone init container fetches from the repository: git's remote port, any address
    this.pod.networkPolicy!.addEgressRule(gitRemoteEgress(props.repo ?? SEED_REPO));
  }
}

/**
 * Shared-content pattern: git-sync keeps the repository in a shared volume
 * (new commits show up within 30 s) and the seed's web server serves its
 * `static` folder read-only on 8080.
 */
export class SidecarPodContentChart extends Chart {
  public readonly pod: SidecarDeployment;

  constructor(scope: Construct, id: string, props: SidecarPodChartProps = {}) {
    super(scope, id, chartProps(props));
    this.pod = new SidecarDeployment(this, 'SidecarPod', {
      name: props.name ?? 'python-pod-content',
      sidecarMode: props.sidecarMode,
      replicas: props.replicas ?? 1,
      servicePort: 8080,
      content: {
        repo: props.repo ?? SEED_REPO,
        ref: props.ref,
        link: 'demos',
        directory: 'static',
        period: Duration.seconds(30),
      },
      sidecars: props.helper === false ? [] : [busyboxHelper()],
    });
  }
}

/**
 * Hot-plug pattern: git-sync follows a branch or tag into a shared volume and
 * the app, started in the synced folder like the seed's
 * `cd demos/static && python -m http.server 8080`, is restarted in its
 * container whenever a new version lands (HotPlugReload.restartOnChange).
 */
export class SidecarPodHotPlugChart extends Chart {
  public readonly pod: SidecarDeployment;

  constructor(scope: Construct, id: string, props: SidecarPodChartProps = {}) {
    super(scope, id, chartProps(props));
    this.pod = new SidecarDeployment(this, 'SidecarPod', {
      name: props.name ?? 'python-pod-hot-plug',
      sidecarMode: props.sidecarMode,
      replicas: props.replicas ?? 1,
      servicePort: 8080,
      // The seed's way: start in the folder (resolved at each restart), serve the working directory.
      app: pythonServer({ workingDir: `/srv/code/${GIT_SYNC_ROOT}/demos/static` }),
      hotPlug: {
        repo: props.repo ?? SEED_REPO,
        ref: props.ref,
        link: 'demos',
        period: Duration.seconds(30),
        reload: HotPlugReload.restartOnChange({ poll: Duration.seconds(3) }),
      },
      sidecars: props.helper === false ? [] : [busyboxHelper()],
    });
  }
}
