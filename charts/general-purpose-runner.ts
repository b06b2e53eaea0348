import * as path from 'node:path';
import { Chart, ChartProps, Duration } from 'cdk8s';
import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-28';
import { Files, IngressOptions, ScriptCronJob, ScriptJob, ScriptRuntime, ScriptService } from '../lib';

/** Where the scripts this chart ships live; they are read at synth. */
export const GENERAL_PURPOSE_RUNNER_SCRIPTS = path.join(__dirname, 'scripts', 'general-purpose-runner');

const script = (name: string) => path.join(GENERAL_PURPOSE_RUNNER_SCRIPTS, name);

/**
 * Props for {@link GeneralPurposeRunnerChart}.
 */
export interface GeneralPurposeRunnerChartProps extends ChartProps {
  /**
   * The greeter's greeting (seed 003: env GREETING).
   * @default 'Hi'
   */
  readonly greeting?: string;
  /**
   * The greeter's target (seed 003: the command-line argument).
   * @default 'Universe'
   */
  readonly target?: string;
  /**
   * Container port of the two servers.
   * @default 8080
   */
  readonly port?: number;
  /**
   * Replicas of the two servers (greeter, namespaces-api); 2 or more adds a
   * PodDisruptionBudget and spreads them over nodes.
   * @default 1
   */
  readonly replicas?: number;
  /**
   * Expose the greeter through an Ingress.
   * @default - no Ingress
   */
  readonly greeterIngress?: IngressOptions;
  /**
   * Schedule of the greeter monitor CronJob.
   * @default '*\/5 * * * *'
   */
  readonly monitorSchedule?: string;
}

/**
 * The general-purpose runner app: four small programs on two stock images,
 * with no image built for any of them.
 *
 * - `greeter` (seed 003): the basicserver greeting server on python, the
 *   target from args (`Universe`), the greeting from env (`GREETING=Hi`):
 *   answers "Hi, Universe!". Deployment + Service (+ Ingress).
 * - `namespaces-api` (seed 000): a REST API listing namespaces through the
 *   Kubernetes API, with its own ServiceAccount and a ClusterRole that may
 *   only `list` `namespaces`. Deployment + Service.
 * - `greeter-smoke-test`: a one-shot Job on python checking the greeter's answer.
 * - `greeter-monitor`: a CronJob on busybox (sh + wget) doing the same check.
 *
 * Namespace: `general-purpose-runner` unless given. It references nothing
 * created out of band.
 */
export class GeneralPurposeRunnerChart extends Chart {
  public readonly greeter: ScriptService;
  public readonly namespacesApi: ScriptService;
  public readonly smokeTest: ScriptJob;
  public readonly monitor: ScriptCronJob;

  constructor(scope: Construct, id: string, props: GeneralPurposeRunnerChartProps = {}) {
    super(scope, id, { ...props, namespace: props.namespace ?? 'general-purpose-runner' });
    const greeting = props.greeting ?? 'Hi';
    const target = props.target ?? 'Universe';
    const port = props.port ?? 8080;
    // the chart's own default: one replica of each server (the constructs' default is 2)
    const replicas = props.replicas ?? 1;
    const partOf = 'general-purpose-runner';
    const text = (value: string) => kplus.EnvValue.fromValue(value);

    this.greeter = new ScriptService(this, 'Greeter', {
      name: 'greeter',
      runtime: ScriptRuntime.PYTHON,
      files: Files.fromPaths([script('greeter.py'), script('serving.py')]),
      entrypoint: 'greeter.py',
      args: [target],
      envVariables: { GREETING: text(greeting) },
      port,
      replicas,
      healthPath: '/',
      ingress: props.greeterIngress,
      partOf,
    });

    this.namespacesApi = new ScriptService(this, 'NamespacesApi', {
      name: 'namespaces-api',
      runtime: ScriptRuntime.PYTHON,
      files: Files.fromPaths([script('namespaces_api.py'), script('serving.py')]),
      entrypoint: 'namespaces_api.py',
      port,
      replicas,
      healthPath: '/healthz',
      clusterRules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['list'] }],
      partOf,
    });

    const greeterUrl = `http://${this.greeter.service.name}:${this.greeter.servicePort}/`;
    const expect = `${greeting}, ${target}!`;

    this.smokeTest = new ScriptJob(this, 'SmokeTest', {
      name: 'greeter-smoke-test',
      runtime: ScriptRuntime.PYTHON,
      files: Files.fromPaths([script('smoke_test.py')]),
      envVariables: { TARGET_URL: text(greeterUrl), EXPECT: text(expect), ATTEMPTS: text('10'), DELAY_SECONDS: text('3') },
      backoffLimit: 1,
      activeDeadline: Duration.minutes(2),
      partOf,
    });

    this.monitor = new ScriptCronJob(this, 'Monitor', {
      name: 'greeter-monitor',
      runtime: ScriptRuntime.BUSYBOX,
      files: Files.fromPaths([script('greeter_monitor.sh')]),
      envVariables: { TARGET_URL: text(greeterUrl), EXPECT: text(expect) },
      schedule: props.monitorSchedule ?? '*/5 * * * *',
      backoffLimit: 0,
      activeDeadline: Duration.minutes(1),
      partOf,
    });

    // the two checks call the greeter: their only egress beyond DNS
    for (const check of [this.smokeTest, this.monitor]) {
      check.allowEgressTo({ podSelector: { matchLabels: { ...this.greeter.selector } } }, { ports: [port] });
    }
  }
}
