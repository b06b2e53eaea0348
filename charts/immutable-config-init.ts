import { Chart, ChartProps, Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { CopyStyle, Files, hardenedContainer, hardenedPodProps, ImmutableConfigInit, ImmutableConfigMap, WorkloadPolicy } from '../lib';

/**
 * The seed's config image, built from its `Dockerfile` (`FROM busybox`,
 * `ADD config.cfg /src/config.cfg`,
 * `ENTRYPOINT ["sh","-c","cp /src/config.cfg $1","--"]`). The seed never
 * tagged it: build it, tag it and push it where the cluster can pull it.
 */
export const SEED_CONFIG_IMAGE = 'magalixcorp/appconfig:1.0.0';
/**
 * The seed's Flask app (`FROM tiangolo/uwsgi-nginx-flask:python3.7`,
 * `COPY ./app /app`), untagged in the seed: build, tag and push it too.
 */
export const SEED_APP_IMAGE = 'magalixcorp/app:1.0.0';
/** The seed's `config.cfg`. */
export const SEED_CONFIG = 'MSG="Welcome to Flask"\n';

/**
 * How the app container runs the seed's image: its uWSGI serves the Flask app
 * over HTTP directly, as a non-root user on a non-privileged port, instead of
 * the image's default (`/entrypoint.sh` + supervisord + nginx on port 80),
 * which needs root and a writable root filesystem.
 */
export function flaskCommand(port: number): string[] {
  return ['uwsgi', '--http-socket', `:${port}`, '--master', '--die-on-term', '--need-app', '--chdir', '/app', '--module', 'main:app'];
}

/**
 * Environment that overrides the image's `UWSGI_PROCESSES=16` and
 * `UWSGI_CHEAPER=2`: two fixed workers that fit the memory limit.
 */
export const FLASK_ENV: Record<string, string> = { UWSGI_PROCESSES: '2', UWSGI_CHEAPER: '0' };

/** Props the two Flask charts share. */
export interface FlaskChartProps extends ChartProps {
  /**
   * Name of the Deployment and Service, and the `app.kubernetes.io/instance` label.
   * @default 'myflaskapp' (the seed's Pod name); 'myflaskapp-cm' for ImmutableConfigMapChart
   */
  readonly name?: string;
  /**
   * The Flask app image.
   * @default SEED_APP_IMAGE ('magalixcorp/app:1.0.0', which you build from the seed and push)
   */
  readonly appImage?: string;
  /**
   * Where the app reads its config; the seed's app reads `/config/config.cfg`.
   * @default '/config'
   */
  readonly mountPath?: string;
  /**
   * Port the app listens on (non-privileged, the pod runs as non-root).
   * @default 8080
   */
  readonly port?: number;
  /**
   * Pod replicas.
   * @default 1 (the seed runs one Pod)
   */
  readonly replicas?: number;
  /**
   * UID/GID of every container (and fsGroup).
   * @default 65532
   */
  readonly user?: number;
}

/**
 * What both charts build: the seed's Flask app as a hardened Deployment,
 * labelled and selected the library's way (name `immutable-config`, instance
 * `name`) and exposed the shared way (Service, NetworkPolicy, and a
 * PodDisruptionBudget with 2 or more replicas).
 */
class FlaskApp extends Construct {
  readonly deployment: kplus.Deployment;
  readonly service: kplus.Service;
  readonly app: kplus.Container;
  readonly mountPath: string;

  constructor(scope: Construct, id: string, name: string, props: FlaskChartProps) {
    super(scope, id);
    const port = props.port ?? 8080;
    const user = props.user ?? 65532;
    this.mountPath = props.mountPath ?? '/config';
    this.deployment = new kplus.Deployment(this, 'Deployment', { metadata: { name }, replicas: props.replicas ?? 1, ...hardenedPodProps({ user }) });
    this.app = this.deployment.addContainer(
      hardenedContainer(
        {
          name: 'app',
          image: props.appImage ?? SEED_APP_IMAGE,
          command: flaskCommand(port),
          envVariables: Object.fromEntries(Object.entries(FLASK_ENV).map(([k, v]) => [k, kplus.EnvValue.fromValue(v)])),
          ports: [{ number: port, name: 'http' }],
          // The app reads the config on every request: a 200 on / proves it is there.
          readiness: kplus.Probe.fromHttpGet('/', { port }),
          liveness: kplus.Probe.fromTcpSocket({ port, periodSeconds: Duration.seconds(10) }),
          resources: { memory: { request: Size.mebibytes(96), limit: Size.mebibytes(256) } },
        },
        { user },
      ),
    );
    // the library's policy for a workload built here: labels, selector, spread and PDB from 2 replicas, Service, NetworkPolicy
    this.service = new WorkloadPolicy(this, 'Policy', {
      workload: this.deployment,
      name: 'immutable-config',
      instance: name,
      component: 'web',
      port,
    }).service!;
  }
}

/** Props for {@link ImmutableConfigInitChart}. */
export interface ImmutableConfigInitChartProps extends FlaskChartProps {
  /**
   * The config image.
   * @default SEED_CONFIG_IMAGE ('magalixcorp/appconfig:1.0.0', which you build from the seed and push)
   */
  readonly configImage?: string;
  /**
   * How the init container copies the config.
   * @default CopyStyle.ENTRYPOINT (the seed's image copies to its argument)
   */
  readonly copyStyle?: CopyStyle;
  /**
   * Paths inside the config image to copy, with CopyStyle.COMMAND.
   * @default - ['/src/config.cfg'] with CopyStyle.COMMAND, none with CopyStyle.ENTRYPOINT
   */
  readonly configPaths?: string[];
}

/**
 * The seed's Flask example: the config image's init container copies
 * `config.cfg` into an emptyDir that the app mounts read-only at `/config`.
 */
export class ImmutableConfigInitChart extends Chart {
  public readonly deployment: kplus.Deployment;
  public readonly service: kplus.Service;
  public readonly config: ImmutableConfigInit;

  constructor(scope: Construct, id: string, props: ImmutableConfigInitChartProps = {}) {
    super(scope, id, { ...props, namespace: props.namespace ?? 'immutable-config-init' });
    const name = props.name ?? 'myflaskapp';
    const flask = new FlaskApp(this, 'App', name, props);
    this.deployment = flask.deployment;
    this.service = flask.service;
    const copyStyle = props.copyStyle ?? CopyStyle.ENTRYPOINT;
    this.config = new ImmutableConfigInit(this, 'Config', {
      workload: this.deployment,
      image: props.configImage ?? SEED_CONFIG_IMAGE,
      copyStyle,
      configPaths: props.configPaths ?? (copyStyle === CopyStyle.COMMAND ? ['/src/config.cfg'] : undefined),
      mountPath: flask.mountPath,
      volumeName: 'config-dir',
      initContainerName: 'appconfig',
    });
  }
}

/** Props for {@link ImmutableConfigMapChart}. */
export interface ImmutableConfigMapChartProps extends FlaskChartProps {
  /**
   * The config files.
   * @default - the seed's `config.cfg` (`MSG="Welcome to Flask"`)
   */
  readonly files?: Files;
}

/**
 * The same Flask app for teams without a config image: `config.cfg` lives in
 * an immutable ConfigMap whose name carries a hash of its content.
 */
export class ImmutableConfigMapChart extends Chart {
  public readonly deployment: kplus.Deployment;
  public readonly service: kplus.Service;
  public readonly config: ImmutableConfigMap;

  constructor(scope: Construct, id: string, props: ImmutableConfigMapChartProps = {}) {
    super(scope, id, { ...props, namespace: props.namespace ?? 'immutable-config-init' });
    const name = props.name ?? 'myflaskapp-cm';
    const flask = new FlaskApp(this, 'App', name, props);
    this.deployment = flask.deployment;
    this.service = flask.service;
    this.config = new ImmutableConfigMap(this, 'Config', {
      workload: this.deployment,
      files: props.files ?? Files.fromContent({ 'config.cfg': SEED_CONFIG }),
      mountPath: flask.mountPath,
      name: `${name}-config`,
      volumeName: 'config-dir',
    });
  }
}
