import { Chart, Cron, Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import {
  DNS_EGRESS,
  EgressOptions,
  EXPOSE_OPTION_NAMES,
  ExposeOptions,
  Exposure,
  exposeWorkload,
  IngressOptions,
  ResolvedExpose,
  resolveExpose,
  WorkloadNetworkPolicy,
  apiServerEgress,
} from './expose';
import { validateCronSchedule } from './general-purpose-runner/schedule';
import { applyLabels, selectPods, selectorLabels } from './labels';
import { applySpread, resolveReplicas } from './policy';
import {
  attachScriptBundle,
  onApiAccess,
  RbacRule,
  ResolvedScriptBundle,
  resolveScriptBundle,
  SCRIPT_BUNDLE_OPTIONS,
  ScriptBundle,
  ScriptBundleOptions,
  validateScriptProps,
} from './script-bundle';
import { hardenedPodProps } from './security';
import {
  validateCidr,
  validateDnsLabel,
  validateOneOf,
  validatePort,
  validatePositiveInteger,
  validateTimeZone,
  validateUniqueList,
  validateUnprivilegedPort,
} from './validate';
import { Files, toWholeSeconds } from './workload';

/**
 * ScriptService, ScriptJob and ScriptCronJob: a workload of one kind, a
 * {@link ScriptBundle} on it, the recommended labels, a selector by name and
 * instance, and a NetworkPolicy (egress to DNS, to the API server once the
 * scripts have rules, and to what `allowEgressTo` adds).
 */

const MAX_SECONDS = 2147483647;

/** What the three script workloads take besides the bundle's options: the API server's place, for the NetworkPolicy. */
export interface ScriptWorkloadOptions extends ScriptBundleOptions {
  /**
   * Addresses of the API server for the NetworkPolicy's egress rule (with
   * `rules` or `clusterRules`).
   * @default - any address, on `apiServerPorts` only
   */
  readonly apiServerCidrs?: string[];
  /**
   * TCP ports the API server listens on, for the NetworkPolicy's egress rule
   * (with `rules` or `clusterRules`).
   * @default [443, 6443]
   */
  readonly apiServerPorts?: number[];
}

/** Props for {@link ScriptService}. */
export interface ScriptServiceProps extends ScriptWorkloadOptions, ExposeOptions {
  /**
   * Container port the scripts serve on, also given to them as `PORT`
   * (1024-65535: they run as non-root).
   * @default 8080
   */
  readonly port?: number;
  /**
   * Pod replicas (0-1000). From 2, the pods are spread over nodes and get a
   * PodDisruptionBudget.
   * @default 2
   */
  readonly replicas?: number;
  /**
   * HTTP path of the readiness probe; with it, liveness is a TCP check on
   * `port` (every 10 s, 6 failures).
   * @default - readiness is a TCP check on `port`; no liveness probe
   */
  readonly healthPath?: string;
}

/** Props for {@link ScriptJob}. */
export interface ScriptJobProps extends ScriptWorkloadOptions {
  /**
   * Retries before the Job is marked failed (0-1000).
   * @default 2
   */
  readonly backoffLimit?: number;
  /**
   * How long the Job may run before it is stopped (whole seconds).
   * @default Duration.minutes(10)
   */
  readonly activeDeadline?: Duration;
  /**
   * How long a finished Job is kept, with its logs, before it is deleted.
   * @default Duration.days(1)
   */
  readonly ttlAfterFinished?: Duration;
}

/** Props for {@link ScriptCronJob}. */
export interface ScriptCronJobProps extends ScriptWorkloadOptions {
  /**
   * Cron schedule: five fields (values, names, ranges, lists, steps) or a
   * macro such as `@hourly`; kept as given.
   */
  readonly schedule: string;
  /**
   * IANA time zone of the schedule, e.g. `Europe/Berlin`.
   * @default - the kube-controller-manager's time zone
   */
  readonly timeZone?: string;
  /**
   * What to do when a run is due while the previous one still runs.
   * @default kplus.ConcurrencyPolicy.FORBID
   */
  readonly concurrencyPolicy?: kplus.ConcurrencyPolicy;
  /**
   * How late a missed run may still start (at least 10 seconds).
   * @default Duration.minutes(5)
   */
  readonly startingDeadline?: Duration;
  /**
   * Finished successful Jobs to keep (0-100).
   * @default 3
   */
  readonly successfulJobsRetained?: number;
  /**
   * Finished failed Jobs to keep (0-100).
   * @default 1
   */
  readonly failedJobsRetained?: number;
  /**
   * Retries before a run is marked failed (0-1000).
   * @default 2
   */
  readonly backoffLimit?: number;
  /**
   * How long a run may take before it is stopped.
   * @default Duration.minutes(10)
   */
  readonly activeDeadline?: Duration;
}

const WORKLOAD_OPTIONS: Record<keyof Required<ScriptWorkloadOptions>, true> = {
  ...SCRIPT_BUNDLE_OPTIONS,
  apiServerCidrs: true,
  apiServerPorts: true,
};
const SERVICE_PROPS: Record<keyof Required<ScriptServiceProps>, true> = {
  ...WORKLOAD_OPTIONS,
  port: true,
  replicas: true,
  healthPath: true,
  ...(Object.fromEntries(EXPOSE_OPTION_NAMES.map((n) => [n, true])) as Record<keyof Required<ExposeOptions>, true>),
};
const JOB_PROPS: Record<keyof Required<ScriptJobProps>, true> = {
  ...WORKLOAD_OPTIONS,
  backoffLimit: true,
  activeDeadline: true,
  ttlAfterFinished: true,
};
const CRON_PROPS: Record<keyof Required<ScriptCronJobProps>, true> = {
  ...WORKLOAD_OPTIONS,
  schedule: true,
  timeZone: true,
  concurrencyPolicy: true,
  startingDeadline: true,
  successfulJobsRetained: true,
  failedJobsRetained: true,
  backoffLimit: true,
  activeDeadline: true,
};

/** Where the API server is, for the NetworkPolicy. @internal */
export interface ResolvedApiServer {
  readonly cidrs?: string[];
  readonly ports?: number[];
}

/** The parts every script workload resolves. @internal */
export interface ResolvedScriptWorkload {
  readonly bundle: ResolvedScriptBundle;
  readonly selector: Readonly<Record<string, string>>;
  readonly apiServer: ResolvedApiServer;
}

/** A resolved {@link ScriptServiceProps}. @internal */
export interface ResolvedScriptService extends ResolvedScriptWorkload {
  readonly port: number;
  readonly replicas: number;
  readonly expose: ResolvedExpose;
}

/** A resolved {@link ScriptJobProps}. @internal */
export interface ResolvedScriptJob extends ResolvedScriptWorkload {
  readonly backoffLimit: number;
  /** Seconds. */
  readonly activeDeadline: number;
  /** Seconds. */
  readonly ttlAfterFinished: number;
}

/** A resolved {@link ScriptCronJobProps}. @internal */
export interface ResolvedScriptCronJob extends ResolvedScriptWorkload {
  readonly schedule: string;
  readonly timeZone?: string;
  readonly concurrencyPolicy: kplus.ConcurrencyPolicy;
  /** Seconds. */
  readonly startingDeadline: number;
  readonly successfulJobsRetained: number;
  readonly failedJobsRetained: number;
  readonly backoffLimit: number;
  /** Seconds. */
  readonly activeDeadline: number;
}

function resolveWorkload(props: ScriptWorkloadOptions, bundle: ResolvedScriptBundle, networkPolicy: boolean): ResolvedScriptWorkload {
  const cidrs = props.apiServerCidrs === undefined ? undefined : validateUniqueList(props.apiServerCidrs, 'apiServerCidrs', validateCidr);
  const ports = props.apiServerPorts === undefined ? undefined : validateUniqueList(props.apiServerPorts, 'apiServerPorts', validatePort);
  for (const [n, v] of [
    ['apiServerCidrs', cidrs],
    ['apiServerPorts', ports],
  ] as const) {
    if (v === undefined) continue;
    if (!bundle.rules && !bundle.clusterRules) {
      throw new Error(`${n} only applies with rules or clusterRules (a pod with an API token), got ${JSON.stringify(v)} without them`);
    }
    if (!networkPolicy) throw new Error(`${n} only applies to the NetworkPolicy, got ${JSON.stringify(v)} with networkPolicy false`);
  }
  return { bundle, selector: selectorLabels(bundle.labels), apiServer: { cidrs, ports } };
}

/** Validates a ScriptService's props and decides every default; creates no construct. @internal */
export function resolveScriptService(props: ScriptServiceProps, namespace?: string): ResolvedScriptService {
  validateScriptProps(props, SERVICE_PROPS, 'ScriptService props');
  const port = validateUnprivilegedPort(props.port ?? 8080, 'port');
  const replicas = resolveReplicas(props.replicas);
  const expose = resolveExpose(props, replicas);
  const bundle = resolveScriptBundle(props, { namespace, component: 'server', ownsPod: true, service: { port, healthPath: props.healthPath } });
  return { ...resolveWorkload(props, bundle, expose.networkPolicy !== undefined), port, replicas, expose };
}

function resolveBatch(props: ScriptJobProps | ScriptCronJobProps) {
  return {
    backoffLimit: validatePositiveInteger(props.backoffLimit ?? 2, 'backoffLimit', 0, 1000),
    activeDeadline: toWholeSeconds(props.activeDeadline, 'activeDeadline', Duration.minutes(10), 1, MAX_SECONDS),
  };
}

/** Validates a ScriptJob's props and decides every default; creates no construct. @internal */
export function resolveScriptJob(props: ScriptJobProps, namespace?: string): ResolvedScriptJob {
  validateScriptProps(props, JOB_PROPS, 'ScriptJob props');
  const bundle = resolveScriptBundle(props, { namespace, component: 'job', ownsPod: true });
  return {
    ...resolveWorkload(props, bundle, true),
    ...resolveBatch(props),
    ttlAfterFinished: toWholeSeconds(props.ttlAfterFinished, 'ttlAfterFinished', Duration.days(1), 0, MAX_SECONDS),
  };
}

/** Validates a ScriptCronJob's props and decides every default; creates no construct. @internal */
export function resolveScriptCronJob(props: ScriptCronJobProps, namespace?: string): ResolvedScriptCronJob {
  validateScriptProps(props, CRON_PROPS, 'ScriptCronJob props');
  const name = validateDnsLabel(props.name ?? 'runner', 'name');
  if (name.length > 52) throw new Error(`name must be at most 52 characters for a CronJob, got "${name}" (${name.length})`);
  const bundle = resolveScriptBundle(props, { namespace, component: 'cronjob', ownsPod: true });
  return {
    ...resolveWorkload(props, bundle, true),
    ...resolveBatch(props),
    schedule: validateCronSchedule(props.schedule, 'schedule'),
    timeZone: props.timeZone === undefined ? undefined : validateTimeZone(props.timeZone, 'timeZone'),
    concurrencyPolicy: validateOneOf(props.concurrencyPolicy ?? kplus.ConcurrencyPolicy.FORBID, kplus.ConcurrencyPolicy, 'concurrencyPolicy'),
    startingDeadline: toWholeSeconds(props.startingDeadline, 'startingDeadline', Duration.minutes(5), 10, MAX_SECONDS),
    successfulJobsRetained: validatePositiveInteger(props.successfulJobsRetained ?? 3, 'successfulJobsRetained', 0, 100),
    failedJobsRetained: validatePositiveInteger(props.failedJobsRetained ?? 1, 'failedJobsRetained', 0, 100),
  };
}

/** The pod props of every script workload: its name and the hardening, as the bundle's user. */
function podProps(b: ResolvedScriptBundle) {
  return { metadata: { name: b.name }, ...hardenedPodProps({ user: b.security.user, group: b.security.group, fsGroup: b.security.fsGroup }) };
}

/** Egress to the API server once the scripts hold a token (rules now, or a later `allow`). */
function openApiEgress(bundle: ScriptBundle, networkPolicy: WorkloadNetworkPolicy | undefined, api: ResolvedApiServer): void {
  if (networkPolicy) onApiAccess(bundle, () => networkPolicy.addEgressRule(apiServerEgress(api.cidrs, api.ports)));
}

/** The NetworkPolicy of a Job or CronJob: it serves nothing, so nothing may connect to it; DNS out. */
function closedNetworkPolicy(scope: Construct, name: string, selector: Readonly<Record<string, string>>): WorkloadNetworkPolicy {
  return new WorkloadNetworkPolicy(scope, 'NetworkPolicy', { name, selector: { ...selector }, ingress: [], egress: [DNS_EGRESS] });
}

function allowEgress(networkPolicy: WorkloadNetworkPolicy | undefined, name: string, peer: k8s.NetworkPolicyPeer, options: EgressOptions): void {
  if (!networkPolicy) throw new Error(`allowEgressTo needs the NetworkPolicy, got networkPolicy false for "${name}" (manage traffic yourself)`);
  networkPolicy.allowEgressTo(peer, options);
}

/**
 * Scripts on a stock image as a long-running server: a Deployment `<name>`
 * with a {@link ScriptBundle}, a Service `<name>` (port 80 to `port`), a
 * NetworkPolicy (pods of the namespace in; DNS out, the API server with
 * rules), an optional Ingress, and from 2 replicas a PodDisruptionBudget and
 * spread over nodes.
 */
export class ScriptService extends Construct {
  /** The name of the Deployment, its Service and every object. */
  public readonly name: string;
  /** The recommended labels (component `server`) on every object and pod. */
  public readonly labels: Readonly<Record<string, string>>;
  /** The pod selector: `app.kubernetes.io/name` and `app.kubernetes.io/instance`. */
  public readonly selector: Readonly<Record<string, string>>;
  /** The image the scripts run on. */
  public readonly image: string;
  /** The container port. */
  public readonly port: number;
  /** The Service port. */
  public readonly servicePort: number;
  /** Pod replicas. */
  public readonly replicas: number;
  /** The Deployment. */
  public readonly deployment: kplus.Deployment;
  /** The scripts, their container, ConfigMaps and RBAC. */
  public readonly bundle: ScriptBundle;
  /** The Service. */
  public readonly service: kplus.Service;
  /** The NetworkPolicy, unless `networkPolicy` is false. */
  public readonly networkPolicy?: WorkloadNetworkPolicy;
  /** The PodDisruptionBudget, from 2 replicas unless `podDisruptionBudget` is false. */
  public readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;

  private readonly exposure: Exposure;

  constructor(scope: Construct, id: string, props: ScriptServiceProps) {
    super(scope, id);
    const r = resolveScriptService(props, Chart.of(this).namespace);
    this.name = r.bundle.name;
    this.labels = r.bundle.labels;
    this.selector = r.selector;
    this.image = r.bundle.image;
    this.port = r.port;
    this.servicePort = r.expose.servicePort;
    this.replicas = r.replicas;
    this.deployment = new kplus.Deployment(this, 'Resource', { ...podProps(r.bundle), replicas: r.replicas, select: false });
    this.bundle = attachScriptBundle(this, 'Bundle', this.deployment, r.bundle);
    applySpread(this.deployment, r.selector, r.replicas);
    selectPods(this.deployment, r.selector);
    this.exposure = exposeWorkload(this, r.expose, {
      name: this.name,
      selector: r.selector,
      targetPort: r.port,
      egress: [DNS_EGRESS],
      labels: this.labels,
    });
    this.service = this.exposure.service;
    this.networkPolicy = this.exposure.networkPolicy;
    this.podDisruptionBudget = this.exposure.podDisruptionBudget;
    openApiEgress(this.bundle, this.networkPolicy, r.apiServer);
    applyLabels(this, this.labels);
  }

  /** The Ingress, from the `ingress` prop or {@link ScriptService.exposeViaIngress}. */
  public get ingress(): kplus.Ingress | undefined {
    return this.exposure.ingress;
  }

  /** {@link ScriptBundle.addFiles}. */
  public addFiles(files: Files): void {
    this.bundle.addFiles(files);
  }

  /** {@link ScriptBundle.addEnv}; `PORT` only as `port`. */
  public addEnv(name: string, value: kplus.EnvValue): void {
    this.bundle.addEnv(name, value);
  }

  /** {@link ScriptBundle.allow}; the NetworkPolicy lets the pods reach the API server. */
  public allow(rule: RbacRule): void {
    this.bundle.allow(rule);
  }

  /** {@link ScriptBundle.allowClusterWide}; the NetworkPolicy lets the pods reach the API server. */
  public allowClusterWide(rule: RbacRule): void {
    this.bundle.allowClusterWide(rule);
  }

  /** Lets `peer` connect to the port, as an entry of `networkPolicy.allowFrom`. */
  public allowFrom(peer: k8s.NetworkPolicyPeer): void {
    this.exposure.allowFrom(peer);
  }

  /** Lets the pods of these namespaces connect, as entries of `networkPolicy.allowFromNamespaces`. */
  public allowFromNamespaces(...namespaces: string[]): void {
    this.exposure.allowFromNamespaces(...namespaces);
  }

  /** Creates the Ingress, as the `ingress` prop does (one per service). */
  public exposeViaIngress(options: IngressOptions): kplus.Ingress {
    return this.exposure.exposeViaIngress(options);
  }

  /** Lets the pods connect to `peer` (on `options.ports` only, when given): whatever the scripts call beyond DNS and the API server. */
  public allowEgressTo(peer: k8s.NetworkPolicyPeer, options: EgressOptions = {}): void {
    allowEgress(this.networkPolicy, this.name, peer, options);
  }
}

/**
 * Scripts on a stock image as a one-shot Job `<name>` (restartPolicy Never)
 * with a {@link ScriptBundle}, and a NetworkPolicy that lets nothing in and
 * DNS out (the API server with rules).
 */
export class ScriptJob extends Construct {
  /** The name of the Job and every object. */
  public readonly name: string;
  /** The recommended labels (component `job`) on every object and pod. */
  public readonly labels: Readonly<Record<string, string>>;
  /** The pod selector: `app.kubernetes.io/name` and `app.kubernetes.io/instance`. */
  public readonly selector: Readonly<Record<string, string>>;
  /** The image the scripts run on. */
  public readonly image: string;
  /** The Job. */
  public readonly job: kplus.Job;
  /** The scripts, their container, ConfigMaps and RBAC. */
  public readonly bundle: ScriptBundle;
  /** The NetworkPolicy. */
  public readonly networkPolicy: WorkloadNetworkPolicy;

  constructor(scope: Construct, id: string, props: ScriptJobProps) {
    super(scope, id);
    const r = resolveScriptJob(props, Chart.of(this).namespace);
    this.name = r.bundle.name;
    this.labels = r.bundle.labels;
    this.selector = r.selector;
    this.image = r.bundle.image;
    this.job = new kplus.Job(this, 'Resource', {
      ...podProps(r.bundle),
      backoffLimit: r.backoffLimit,
      activeDeadline: Duration.seconds(r.activeDeadline),
      ttlAfterFinished: Duration.seconds(r.ttlAfterFinished),
    });
    this.bundle = attachScriptBundle(this, 'Bundle', this.job, r.bundle);
    selectPods(this.job, r.selector);
    this.networkPolicy = closedNetworkPolicy(this, this.name, r.selector);
    openApiEgress(this.bundle, this.networkPolicy, r.apiServer);
    applyLabels(this, this.labels);
  }

  /** {@link ScriptBundle.addFiles}. */
  public addFiles(files: Files): void {
    this.bundle.addFiles(files);
  }

  /** {@link ScriptBundle.addEnv}. */
  public addEnv(name: string, value: kplus.EnvValue): void {
    this.bundle.addEnv(name, value);
  }

  /** {@link ScriptBundle.allow}; the NetworkPolicy lets the pod reach the API server. */
  public allow(rule: RbacRule): void {
    this.bundle.allow(rule);
  }

  /** {@link ScriptBundle.allowClusterWide}; the NetworkPolicy lets the pod reach the API server. */
  public allowClusterWide(rule: RbacRule): void {
    this.bundle.allowClusterWide(rule);
  }

  /** Lets the pod connect to `peer` (on `options.ports` only, when given). */
  public allowEgressTo(peer: k8s.NetworkPolicyPeer, options: EgressOptions = {}): void {
    allowEgress(this.networkPolicy, this.name, peer, options);
  }
}

/**
 * Scripts on a stock image on a schedule: a CronJob `<name>` with a
 * {@link ScriptBundle}, and a NetworkPolicy that lets nothing in and DNS out
 * (the API server with rules).
 */
export class ScriptCronJob extends Construct {
  /** The name of the CronJob and every object. */
  public readonly name: string;
  /** The recommended labels (component `cronjob`) on every object and pod. */
  public readonly labels: Readonly<Record<string, string>>;
  /** The pod selector: `app.kubernetes.io/name` and `app.kubernetes.io/instance`. */
  public readonly selector: Readonly<Record<string, string>>;
  /** The image the scripts run on. */
  public readonly image: string;
  /** The CronJob. */
  public readonly cronJob: kplus.CronJob;
  /** The scripts, their container, ConfigMaps and RBAC. */
  public readonly bundle: ScriptBundle;
  /** The NetworkPolicy. */
  public readonly networkPolicy: WorkloadNetworkPolicy;

  constructor(scope: Construct, id: string, props: ScriptCronJobProps) {
    super(scope, id);
    const r = resolveScriptCronJob(props, Chart.of(this).namespace);
    this.name = r.bundle.name;
    this.labels = r.bundle.labels;
    this.selector = r.selector;
    this.image = r.bundle.image;
    // Cron has only a public readonly expressionString: the schedule is kept exactly as given (macros included)
    const schedule: Cron = { expressionString: r.schedule };
    this.cronJob = new kplus.CronJob(this, 'Resource', {
      ...podProps(r.bundle),
      schedule,
      timeZone: r.timeZone,
      concurrencyPolicy: r.concurrencyPolicy,
      startingDeadline: Duration.seconds(r.startingDeadline),
      successfulJobsRetained: r.successfulJobsRetained,
      failedJobsRetained: r.failedJobsRetained,
      backoffLimit: r.backoffLimit,
      activeDeadline: Duration.seconds(r.activeDeadline),
    });
    this.bundle = attachScriptBundle(this, 'Bundle', this.cronJob, r.bundle);
    selectPods(this.cronJob, r.selector);
    this.networkPolicy = closedNetworkPolicy(this, this.name, r.selector);
    openApiEgress(this.bundle, this.networkPolicy, r.apiServer);
    applyLabels(this, this.labels);
  }

  /** {@link ScriptBundle.addFiles}. */
  public addFiles(files: Files): void {
    this.bundle.addFiles(files);
  }

  /** {@link ScriptBundle.addEnv}. */
  public addEnv(name: string, value: kplus.EnvValue): void {
    this.bundle.addEnv(name, value);
  }

  /** {@link ScriptBundle.allow}; the NetworkPolicy lets the pods reach the API server. */
  public allow(rule: RbacRule): void {
    this.bundle.allow(rule);
  }

  /** {@link ScriptBundle.allowClusterWide}; the NetworkPolicy lets the pods reach the API server. */
  public allowClusterWide(rule: RbacRule): void {
    this.bundle.allowClusterWide(rule);
  }

  /** Lets the pods connect to `peer` (on `options.ports` only, when given). */
  public allowEgressTo(peer: k8s.NetworkPolicyPeer, options: EgressOptions = {}): void {
    allowEgress(this.networkPolicy, this.name, peer, options);
  }
}
