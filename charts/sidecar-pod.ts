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
import { Chart, ChartProps, Duration } from 'cdk8s';
import { Construct } from 'constructs';
import {
  BUSYBOX_IMAGE, gitRemoteEgress, GIT_SYNC_IMAGE, GIT_SYNC_RESOURCES, GIT_SYNC_ROOT_DIR, GIT_SYNC_UID, HotPlugReload, pythonHttpServer, SidecarMode, SidecarPod, SidecarPodContainer,
} from '../lib';

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
export function busyboxHelper(): SidecarPodContainer {
  return {
    name: 'helper',
    image: BUSYBOX_IMAGE,
    command: ['sh', '-c', "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"],
  };
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
  public readonly pod: SidecarPod;
  /** The Secret the proxy reads its htpasswd file from. */
  public readonly htpasswdSecret: string;

  constructor(scope: Construct, id: string, props: SidecarPodAuthChartProps = {}) {
    super(scope, id, chartProps(props));
    const name = props.name ?? 'python-pod-auth';
    this.htpasswdSecret = props.htpasswdSecret ?? `${name}-htpasswd`;
    this.pod = new SidecarPod(this, 'SidecarPod', {
      name,
      sidecarMode: props.sidecarMode,
      replicas: props.replicas,
      volumes: [{ name: 'content' }],
      initContainers: [{
        name: 'clone',
        image: GIT_SYNC_IMAGE,
        args: [`--repo=${props.repo ?? SEED_REPO}`, `--ref=${props.ref ?? 'HEAD'}`, `--root=/git/${GIT_SYNC_ROOT_DIR}`, '--link=demos', '--one-time'],
        securityContext: { user: GIT_SYNC_UID },
        writableTmp: true,
        resources: GIT_SYNC_RESOURCES,
        volumeMounts: [{ volume: 'content', path: '/git', readOnly: false }],
      }],
      app: pythonHttpServer({
        directory: `/srv/content/${GIT_SYNC_ROOT_DIR}/demos/static`,
        workingDir: '/srv/content',
        loopbackOnly: true,
        volumeMounts: [{ volume: 'content', path: '/srv/content' }],
      }),
      sidecars: props.helper === false ? [] : [busyboxHelper()],
      fsGroup: GIT_SYNC_UID,
      authProxy: { htpasswdSecret: this.htpasswdSecret, port: 8081 },
      servicePort: 8080,
    });
    // the clone init container fetches from the repository: git's remote port, any address
    const remote = gitRemoteEgress(props.repo ?? SEED_REPO);
    if (remote) this.pod.networkPolicy!.addEgressRule(remote);
  }
}

/**
 * Shared-content pattern: git-sync keeps the repository in a shared volume
 * (new commits show up within 30 s) and the seed's web server serves its
 * `static` folder read-only on 8080.
 */
export class SidecarPodContentChart extends Chart {
  public readonly pod: SidecarPod;

  constructor(scope: Construct, id: string, props: SidecarPodChartProps = {}) {
    super(scope, id, chartProps(props));
    this.pod = new SidecarPod(this, 'SidecarPod', {
      name: props.name ?? 'python-pod-content',
      sidecarMode: props.sidecarMode,
      replicas: props.replicas,
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
  public readonly pod: SidecarPod;

  constructor(scope: Construct, id: string, props: SidecarPodChartProps = {}) {
    super(scope, id, chartProps(props));
    const folder = `/srv/code/${GIT_SYNC_ROOT_DIR}/demos/static`;
    const server = pythonHttpServer({ directory: folder });
    this.pod = new SidecarPod(this, 'SidecarPod', {
      name: props.name ?? 'python-pod-hot-plug',
      sidecarMode: props.sidecarMode,
      replicas: props.replicas,
      app: {
        ...server,
        // The seed's way: start in the folder (resolved at each restart), serve the working directory.
        args: ['8080', '--bind', '0.0.0.0'],
        workingDir: folder,
      },
      hotPlug: {
        repo: props.repo ?? SEED_REPO,
        ref: props.ref,
        link: 'demos',
        period: Duration.seconds(30),
        reload: HotPlugReload.restartOnChange({ pollSeconds: 3 }),
      },
      sidecars: props.helper === false ? [] : [busyboxHelper()],
    });
  }
}
