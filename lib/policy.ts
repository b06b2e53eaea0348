import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import {
  DNS_EGRESS,
  EgressOptions,
  ExposeOptions,
  Exposure,
  exposeWorkload,
  IngressOptions,
  resolveExpose,
  ResolvedExpose,
  WorkloadNetworkPolicy,
} from './expose';
import { addChecksumAnnotation, PodTemplateOwner, stableStringify } from './hash';
import { applyLabels, recommendedLabels, selectorLabels, spreadOverNodes } from './labels';
import { validateKnownProps, validateLabelValue, validatePort, validatePositiveInteger } from './validate';

/**
 * The one defaults policy of every construct (internal; {@link WorkloadPolicy}
 * applies it to workloads users build):
 *
 * - `servicePort`: 80 for every Service (see `resolveExpose`).
 * - `replicas`: default 2, from 0 to 1000, for every Deployment.
 * - spread over nodes and a PodDisruptionBudget: both from 2 replicas
 *   (`podDisruptionBudget: false` turns the budget off); neither for a Job,
 *   a CronJob or a bare Pod.
 * - a NetworkPolicy wherever a Service is made, unless `networkPolicy: false`.
 * - `resources` merged field by field over the defaults (`mergeResources`).
 */

/** Replicas of every Deployment a construct makes, unless `replicas` says otherwise. */
export const DEFAULT_REPLICAS = 2;
/** The most replicas a construct accepts. */
export const MAX_REPLICAS = 1000;
/** Replicas from which pods are spread over nodes and get a PodDisruptionBudget. */
export const SPREAD_FROM_REPLICAS = 2;

/** A `replicas` prop: default 2, a whole number from 0 to 1000. */
export function resolveReplicas(replicas: number | undefined, prop: string = 'replicas'): number {
  return validatePositiveInteger(replicas ?? DEFAULT_REPLICAS, prop, 0, MAX_REPLICAS);
}

/** Spreads a Deployment's pods over nodes when it has {@link SPREAD_FROM_REPLICAS} or more replicas. */
export function applySpread(deployment: kplus.Deployment, selector: Record<string, string>, replicas: number): void {
  if (replicas >= SPREAD_FROM_REPLICAS) spreadOverNodes(deployment, selector);
}

// ------------------------------------------------------- WorkloadPolicy ---

/** Props for {@link WorkloadPolicy}. */
export interface WorkloadPolicyProps extends ExposeOptions {
  /**
   * A workload you built with cdk8s-plus: a Deployment, StatefulSet, DaemonSet,
   * Job, CronJob or Pod. Build its pod with `hardenedPodProps` and its
   * containers with `hardenedContainer`: the policy checks the hardening
   * at synth and refuses what misses it.
   */
  readonly workload: kplus.AbstractPod;
  /** `app.kubernetes.io/name`: the application, e.g. `web`. */
  readonly name: string;
  /**
   * `app.kubernetes.io/instance`: this installation; also the name of the
   * Service, NetworkPolicy and PodDisruptionBudget.
   * @default - the workload's `metadata.name`
   */
  readonly instance?: string;
  /**
   * `app.kubernetes.io/component`.
   * @default - no component label
   */
  readonly component?: string;
  /**
   * `app.kubernetes.io/part-of`.
   * @default - no part-of label
   */
  readonly partOf?: string;
  /**
   * The container port to serve. With it: a Service (port `servicePort`,
   * default 80) targeting it, a NetworkPolicy admitting the namespace to it,
   * and an Ingress when `ingress` is given, as every construct of this
   * library makes them. A container of the workload must declare the port.
   * @default - no Service; a NetworkPolicy that lets nothing in
   */
  readonly port?: number;
  /**
   * Egress the NetworkPolicy allows (`[]`: none at all).
   * @default - DNS only
   */
  readonly egress?: k8s.NetworkPolicyEgressRule[];
}

type Selectable = kplus.Deployment | kplus.StatefulSet | kplus.DaemonSet | kplus.Job | kplus.CronJob | kplus.Pod;
const WORKLOAD_POLICY_PROPS: Record<keyof Required<WorkloadPolicyProps>, true> = {
  workload: true,
  name: true,
  instance: true,
  component: true,
  partOf: true,
  port: true,
  egress: true,
  serviceType: true,
  servicePort: true,
  ingress: true,
  networkPolicy: true,
  podDisruptionBudget: true,
};

/**
 * The policy of this library's constructs, for a workload you build yourself
 * with cdk8s-plus, so it gets the same labels, selectors, hardening checks,
 * spread and exposure:
 *
 * 1. Selects its pods by `app.kubernetes.io/name` + `app.kubernetes.io/instance`
 *    and removes cdk8s-plus's construct-path label (`cdk8s.io/metadata.addr`)
 *    from the selector and the pod template (a selector derived from the
 *    construct path changes when the construct moves, and a Deployment's
 *    selector is immutable).
 * 2. Puts the recommended labels on the workload, its pod template and every
 *    object the policy makes.
 * 3. Removes the TCP startupProbe cdk8s-plus adds to a container made with
 *    `portNumber` and no `startup` (a probe with any option of yours stays).
 * 4. Checks at synth that every container and the pod carry the hardening
 *    (`hardenedContainer`, `hardenedPodProps`) and refuses what
 *    misses it, naming the container and the field. It does not rewrite
 *    your containers.
 * 5. Deployments and StatefulSets: replicas from 0 to 1000; from 2 replicas
 *    the pods are spread over nodes (preferred pod anti-affinity on
 *    `kubernetes.io/hostname`, weight 100, unless the pod has its own
 *    pod anti-affinity) and get a PodDisruptionBudget (`maxUnavailable: 1`,
 *    unless `podDisruptionBudget: false`).
 * 6. With `port`: a Service on port 80, a NetworkPolicy admitting the
 *    workload's namespace (see {@link ExposeOptions}), and an Ingress when
 *    asked. Without: a NetworkPolicy that lets nothing in. Egress: DNS only,
 *    unless `egress` or `allowEgressTo` say more.
 *
 * @example
 * const web = new kplus.Deployment(chart, 'Web', {
 *   metadata: { name: 'web' }, replicas: 3, ...hardenedPodProps(),
 *   containers: [hardenedContainer({ name: 'app', image: 'registry.example.com/web:3.1.0', portNumber: 8080 })],
 * });
 * new WorkloadPolicy(chart, 'WebPolicy', { workload: web, name: 'web', port: 8080 });
 */
export class WorkloadPolicy extends Construct {
  /** The recommended labels put on every object. */
  public readonly labels: Readonly<Record<string, string>>;
  /** The pod selector: `app.kubernetes.io/name` and `app.kubernetes.io/instance`. */
  public readonly selector: Readonly<Record<string, string>>;
  /** The workload's replicas (Deployments and StatefulSets). */
  public readonly replicas?: number;
  /** The Service, with `port`. */
  public readonly service?: kplus.Service;
  /** The NetworkPolicy, with `port` unless `networkPolicy: false`. */
  public readonly networkPolicy?: WorkloadNetworkPolicy;
  /** The PodDisruptionBudget, from 2 replicas unless `podDisruptionBudget: false`. */
  public readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;
  private readonly exposure?: Exposure;
  private readonly workload: Selectable;

  constructor(scope: Construct, id: string, props: WorkloadPolicyProps) {
    super(scope, id);
    const r = resolveWorkloadPolicy(props);
    this.workload = r.workload;
    this.labels = r.labels;
    this.selector = r.selector;
    this.replicas = r.replicas;
    selectWorkload(r.workload, r.selector);
    if (r.expose)
      this.exposure = exposeWorkload(this, r.expose, {
        name: r.instance,
        selector: r.selector,
        targetPort: r.port!,
        egress: r.egress,
        labels: r.labels,
      });
    else if (r.pdb) this.podDisruptionBudget = podDisruptionBudget(this, r.instance, r.selector, r.pdb.maxUnavailable);
    this.service = this.exposure?.service;
    this.networkPolicy = this.exposure ? this.exposure.networkPolicy : r.isolate ? isolate(this, r) : undefined;
    this.podDisruptionBudget = this.podDisruptionBudget ?? this.exposure?.podDisruptionBudget;
    labelWorkload(r.workload, r.labels);
    applyLabels(this, r.labels);
    this.node.addValidation({ validate: () => this.finish(r) });
  }

  /** The Ingress, when there is one. */
  public get ingress(): kplus.Ingress | undefined {
    return this.exposure?.ingress;
  }

  /** Rolls the pods whenever `content` changes: a checksum of it in a pod template annotation `checksum/<name>`. */
  public rollOnChange(name: string, content: unknown): void {
    if (typeof name !== 'string' || name.length > 63 || !/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name)) {
      throw new Error(
        `rollOnChange name must be the name part of an annotation key (1-63 letters, digits, '-', '_' or '.', ` +
          `starting and ending with an alphanumeric), got ${JSON.stringify(name)}`,
      );
    }
    if (this.workload instanceof kplus.Pod) throw new Error('rollOnChange needs a workload with a pod template (a bare Pod is replaced, not rolled)');
    addChecksumAnnotation(this.workload as PodTemplateOwner, name, content);
  }

  /** Lets `peer` connect to `port`, as an entry of `networkPolicy.allowFrom`. */
  public allowFrom(peer: k8s.NetworkPolicyPeer): void {
    this.needExposure('allowFrom').allowFrom(peer);
  }

  /** Lets the pods of these namespaces connect to `port`, as `networkPolicy.allowFromNamespaces`. */
  public allowFromNamespaces(...namespaces: string[]): void {
    this.needExposure('allowFromNamespaces').allowFromNamespaces(...namespaces);
  }

  /** Creates the Ingress to the Service, as the `ingress` prop does. */
  public exposeViaIngress(options: IngressOptions): kplus.Ingress {
    return this.needExposure('exposeViaIngress').exposeViaIngress(options);
  }

  /** Lets the pods connect to `peer` (on `options.ports` only, when given). */
  public allowEgressTo(peer: k8s.NetworkPolicyPeer, options: EgressOptions = {}): void {
    if (!this.networkPolicy) throw new Error('allowEgressTo needs the NetworkPolicy, but networkPolicy is false');
    this.networkPolicy.allowEgressTo(peer, options);
  }

  private needExposure(verb: string): Exposure {
    if (!this.exposure) throw new Error(`${verb} needs a Service: give WorkloadPolicy a port`);
    return this.exposure;
  }

  /** At synth, when every container exists: startup probes, the served port, hardening, spread. */
  private finish(r: ResolvedWorkloadPolicy): string[] {
    const errors: string[] = [];
    const w = r.workload;
    const containers = [...w.initContainers, ...w.containers];
    for (const c of containers) dropDefaultStartupProbe(c);
    if (r.port !== undefined && !w.containers.some((c) => c.ports.some((p) => p.number === r.port))) {
      errors.push(
        `WorkloadPolicy "${r.instance}": port ${r.port} is served by no container ` +
          `(declared: ${w.containers.map((c) => `${c.name} ${JSON.stringify(c.ports.map((p) => p.number))}`).join(', ') || 'no containers'}): ` +
          'set portNumber or ports on the container, or fix port',
      );
    }
    errors.push(...hardeningErrors(w, r.instance));
    if (r.spread) spreadUnlessOwnAntiAffinity(w as kplus.Deployment, r.selector);
    return errors;
  }
}

interface ResolvedWorkloadPolicy {
  readonly workload: Selectable;
  readonly instance: string;
  readonly labels: Record<string, string>;
  readonly selector: Record<string, string>;
  readonly replicas?: number;
  readonly spread: boolean;
  readonly port?: number;
  readonly egress?: k8s.NetworkPolicyEgressRule[];
  readonly expose?: ResolvedExpose;
  readonly pdb?: { maxUnavailable: number };
  readonly isolate: boolean;
}

/** Without a port: a NetworkPolicy that lets nothing in, with DNS egress (or `egress`), as the constructs give their Jobs. */
function isolate(scope: Construct, r: ResolvedWorkloadPolicy): WorkloadNetworkPolicy {
  return new WorkloadNetworkPolicy(scope, 'NetworkPolicy', { name: r.instance, selector: r.selector, ingress: [], egress: r.egress ?? [DNS_EGRESS] });
}

function resolveWorkloadPolicy(props: WorkloadPolicyProps): ResolvedWorkloadPolicy {
  if (props === null || typeof props !== 'object') throw new Error(`WorkloadPolicy props must be an object, got ${JSON.stringify(props)}`);
  validateKnownProps(props, WORKLOAD_POLICY_PROPS, 'WorkloadPolicy props');
  const w = props.workload as unknown;
  const kinds = [kplus.Deployment, kplus.StatefulSet, kplus.DaemonSet, kplus.Job, kplus.CronJob, kplus.Pod];
  if (!kinds.some((k) => w instanceof k)) {
    throw new Error(`workload must be a cdk8s-plus Deployment, StatefulSet, DaemonSet, Job, CronJob or Pod, got ${describe(w)}`);
  }
  const workload = w as Selectable;
  validateLabelValue(props.name, 'name');
  const instance = validateLabelValue(props.instance ?? workload.name, props.instance === undefined ? 'instance (the workload name)' : 'instance');
  if (props.component !== undefined) validateLabelValue(props.component, 'component');
  if (props.partOf !== undefined) validateLabelValue(props.partOf, 'partOf');
  const labels = recommendedLabels({ name: props.name, instance, component: props.component, partOf: props.partOf });
  const selector = selectorLabels(labels);
  const scaled = workload instanceof kplus.Deployment || workload instanceof kplus.StatefulSet;
  let replicas: number | undefined;
  if (scaled) {
    const own = (workload as kplus.Deployment).replicas;
    replicas = validatePositiveInteger(own ?? (workload instanceof kplus.Deployment ? 2 : 1), 'workload replicas', 0, MAX_REPLICAS);
  }
  const spread = scaled && replicas! >= SPREAD_FROM_REPLICAS;
  if (props.podDisruptionBudget !== undefined && props.podDisruptionBudget !== false && !scaled) {
    throw new Error(`podDisruptionBudget applies to Deployments and StatefulSets only, got it for a ${workload.constructor.name}`);
  }
  let port: number | undefined;
  let expose: ResolvedExpose | undefined;
  let pdb: ResolvedWorkloadPolicy['pdb'];
  if (props.port !== undefined) {
    port = validatePort(props.port, 'port');
    expose = resolveExpose(props, replicas);
  } else {
    for (const k of ['serviceType', 'servicePort', 'ingress'] as const) {
      if (props[k] !== undefined) throw new Error(`${k} needs port (the container port the Service targets), got ${k} without port`);
    }
    const np = props.networkPolicy;
    if (np !== undefined && np !== false) {
      throw new Error(
        `networkPolicy options need port (they say who may connect to it), got ${JSON.stringify(np)} without port: ` +
          'without port the NetworkPolicy lets nothing in; set networkPolicy: false to manage traffic yourself',
      );
    }
    pdb = scaled ? resolveExpose({ podDisruptionBudget: props.podDisruptionBudget }, replicas).podDisruptionBudget : undefined;
  }
  if (props.egress !== undefined && (!Array.isArray(props.egress) || props.networkPolicy === false)) {
    throw new Error(
      `egress must be a list of NetworkPolicy egress rules and needs the NetworkPolicy (networkPolicy is not false), ` +
        `got ${JSON.stringify(props.egress)}`,
    );
  }
  const isolate = port === undefined && props.networkPolicy !== false;
  return { workload, instance, labels, selector, replicas, spread, port, egress: props.egress, expose, pdb, isolate };
}

function describe(x: unknown): string {
  if (x === null || typeof x !== 'object') return JSON.stringify(x);
  return `a ${(x as object).constructor?.name ?? 'object'}`;
}

/** Selects by `selector` only, whether or not the workload was made with `select: false`. */
function selectWorkload(w: Selectable, selector: Record<string, string>): void {
  const addr = kplus.Pod.ADDRESS_LABEL;
  if (!(w instanceof kplus.Pod) && !(w instanceof kplus.Job) && !(w instanceof kplus.CronJob)) {
    const wl = w as kplus.Deployment;
    if (Object.keys(wl.matchLabels).includes(addr)) {
      // made without `select: false`: drop cdk8s-plus's construct-path matcher from the selector
      (wl as unknown as { _matchLabels: Record<string, string> })._matchLabels = {};
    }
    wl.select(kplus.LabelSelector.of({ labels: selector }));
    if (w instanceof kplus.StatefulSet) {
      // its governing Service selected the pods by the construct-path label when the StatefulSet was made
      const own = (w.service as unknown as { _selector?: Record<string, string> })._selector;
      if (own && addr in own) delete own[addr];
      for (const [k, v] of Object.entries(selector)) w.service.selectLabel(k, v);
    }
  }
  const podMetadata = w instanceof kplus.Pod ? w.metadata : w.podMetadata;
  for (const [k, v] of Object.entries(selector)) podMetadata.addLabel(k, v);
  const labelsPath =
    w instanceof kplus.Pod
      ? '/metadata/labels'
      : w instanceof kplus.CronJob
        ? '/spec/jobTemplate/spec/template/metadata/labels'
        : '/spec/template/metadata/labels';
  ApiObject.of(w).addJsonPatch(JsonPatch.remove(`${labelsPath}/${addr.replace(/~/g, '~0').replace(/\//g, '~1')}`));
}

function labelWorkload(w: Selectable, labels: Record<string, string>): void {
  for (const [k, v] of Object.entries(labels)) {
    w.metadata.addLabel(k, v);
    if (!(w instanceof kplus.Pod)) w.podMetadata.addLabel(k, v);
  }
}

function podDisruptionBudget(scope: Construct, name: string, selector: Record<string, string>, maxUnavailable: number): k8s.KubePodDisruptionBudget {
  return new k8s.KubePodDisruptionBudget(scope, 'PodDisruptionBudget', {
    metadata: { name },
    spec: { maxUnavailable: k8s.IntOrString.fromNumber(maxUnavailable), selector: { matchLabels: { ...selector } } },
  });
}

/** The TCP startupProbe cdk8s-plus adds to a container with `portNumber` and no `startup`. */
function dropDefaultStartupProbe(c: kplus.Container): void {
  const own = c as unknown as { _startup?: { _toKube(c: kplus.Container): unknown } };
  if (c.portNumber === undefined || own._startup === undefined) return;
  const cdk8sDefault = kplus.Probe.fromTcpSocket({ port: c.portNumber })._toKube(c);
  if (stableStringify(own._startup._toKube(c)) === stableStringify(cdk8sDefault)) own._startup = undefined;
}

/** What `hardenedContainer` and `hardenedPodProps` set, checked on the workload as built. */
function hardeningErrors(w: Selectable, instance: string): string[] {
  const errors: string[] = [];
  const pod = w.securityContext;
  const podSeccomp = (pod as unknown as { seccompProfile?: { type?: string } }).seccompProfile?.type;
  const fix = 'build it with hardenedContainer(...)';
  for (const c of [...w.initContainers, ...w.containers]) {
    const sc = c.securityContext;
    const where = `WorkloadPolicy "${instance}": container "${c.name}" securityContext`;
    if (sc.ensureNonRoot === false) errors.push(`${where}.ensureNonRoot must be true, got false: ${fix}`);
    if (sc.readOnlyRootFilesystem !== true) errors.push(`${where}.readOnlyRootFilesystem must be true, got ${sc.readOnlyRootFilesystem}: ${fix}`);
    if (sc.allowPrivilegeEscalation !== false)
      errors.push(`${where}.allowPrivilegeEscalation must be false, got ${sc.allowPrivilegeEscalation}: ${fix}`);
    if (sc.privileged === true) errors.push(`${where}.privileged must be false, got true: ${fix}`);
    const drop = (sc.capabilities?.drop ?? []).map(String);
    if (!drop.includes('ALL')) errors.push(`${where}.capabilities.drop must include ALL, got ${JSON.stringify(drop)}: ${fix}`);
    const seccomp = sc.seccompProfile?.type ?? podSeccomp;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') {
      errors.push(`${where}.seccompProfile.type must be RuntimeDefault or Localhost, got ${seccomp ?? 'none'}: ${fix}`);
    }
    const user = sc.user ?? pod.user;
    if (user === undefined || user === 0) errors.push(`${where}.user must be a non-zero UID (here or on the pod), got ${user ?? 'none'}: ${fix}`);
  }
  if (pod.ensureNonRoot === false)
    errors.push(`WorkloadPolicy "${instance}": pod securityContext.ensureNonRoot must be true, got false: build it with hardenedPodProps()`);
  if (w.automountServiceAccountToken && w.serviceAccount === undefined) {
    errors.push(
      `WorkloadPolicy "${instance}": pod automountServiceAccountToken must be false without a serviceAccount ` +
        "(the default ServiceAccount's token would be mounted for nothing): build it with hardenedPodProps()",
    );
  }
  return errors;
}

/** Spread from 2 replicas, unless the pod template has its own pod anti-affinity. */
function spreadUnlessOwnAntiAffinity(w: kplus.Deployment, selector: Record<string, string>): void {
  const json = ApiObject.of(w).toJson() as { spec?: { template?: { spec?: { affinity?: { podAntiAffinity?: unknown } } } } };
  const affinity = json.spec?.template?.spec?.affinity;
  if (affinity?.podAntiAffinity !== undefined) return;
  const term = {
    preferredDuringSchedulingIgnoredDuringExecution: [
      {
        weight: 100,
        podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { ...selector } } },
      },
    ],
  };
  if (affinity === undefined) spreadOverNodes(w, selector);
  else ApiObject.of(w).addJsonPatch(JsonPatch.add('/spec/template/spec/affinity/podAntiAffinity', term));
}
