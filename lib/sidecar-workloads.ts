import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import {
  EgressOptions,
  ExposeOptions,
  Exposure,
  IngressOptions,
  ResolvedExpose,
  WorkloadNetworkPolicy,
  exposeWorkload,
  resolveExpose,
} from './expose';
import { applyLabels, recommendedLabels, selectPods, selectorLabels } from './labels';
import { applySpread, resolveReplicas } from './policy';
import { hardenedPodProps } from './security';
import { ResolvedSidecars, SIDECARS_OPTIONS, Sidecars, SidecarsOptions, attachSidecars, checkPortEnv, resolveSidecars } from './sidecars';
import { validateDnsLabel, validateKnownProps, validatePort } from './validate';
import { SidecarContainer } from './workload';

const EXPOSE_PROPS = { serviceType: true, servicePort: true, ingress: true, networkPolicy: true, podDisruptionBudget: true } as const;
const DEPLOYMENT_PROPS: Record<keyof Required<SidecarDeploymentProps>, true> = {
  ...SIDECARS_OPTIONS,
  ...EXPOSE_PROPS,
  name: true,
  replicas: true,
  serviceTargetPort: true,
};
const BARE_POD_PROPS: Record<keyof Required<SidecarBarePodProps>, true> = { ...SIDECARS_OPTIONS, name: true };

/**
 * Props for {@link SidecarDeployment}. The Service, Ingress, NetworkPolicy and
 * PodDisruptionBudget options are the shared {@link ExposeOptions}: a
 * ClusterIP Service on port 80, a NetworkPolicy admitting pods of the same
 * namespace to the Service's target port only (the auth proxy's, with
 * `authProxy`, so nothing reaches the app's own port) and egress to DNS and,
 * with the content and hot-plug presets, git's remote (its port, any address).
 * From 2 replicas the pods are spread over nodes and get a PodDisruptionBudget.
 */
export interface SidecarDeploymentProps extends SidecarsOptions, ExposeOptions {
  /**
   * Name of the Deployment, Service, ConfigMaps and NetworkPolicy; the `app.kubernetes.io/instance` label.
   * @default 'sidecar-pod'
   */
  readonly name?: string;
  /**
   * Number of pods (0-1000). From 2 the pods are spread over nodes and get a PodDisruptionBudget.
   * @default 2
   */
  readonly replicas?: number;
  /**
   * The container port the Service sends traffic to: a TCP port of the app or
   * a sidecar. With `authProxy` it must be the proxy's port.
   * @default - the auth proxy's port with `authProxy`, otherwise the app's first port
   */
  readonly serviceTargetPort?: number;
}

/** Props for {@link SidecarBarePod}. */
export interface SidecarBarePodProps extends SidecarsOptions {
  /**
   * Name of the Pod, ConfigMaps and NetworkPolicy; the `app.kubernetes.io/instance` label.
   * @default 'sidecar-pod'
   */
  readonly name?: string;
}

/** {@link SidecarDeploymentProps} resolved: plain data, every default decided. (internal: not in the main entry) */
export interface ResolvedSidecarDeployment {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly selector: Record<string, string>;
  readonly replicas: number;
  readonly serviceTargetPort: number;
  readonly expose: ResolvedExpose;
  readonly sidecars: ResolvedSidecars;
}

/** {@link SidecarBarePodProps} resolved. (internal: not in the main entry) */
export interface ResolvedSidecarBarePod {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly selector: Record<string, string>;
  readonly sidecars: ResolvedSidecars;
}

function names(name: string | undefined): { name: string; labels: Record<string, string>; selector: Record<string, string> } {
  const n = validateDnsLabel(name ?? 'sidecar-pod', 'name');
  const labels = recommendedLabels({ name: 'sidecar-pod', instance: n });
  return { name: n, labels, selector: selectorLabels(labels) };
}

/** Validates {@link SidecarDeploymentProps} and decides every default; creates no construct. (internal: not in the main entry) */
export function resolveSidecarDeployment(props: SidecarDeploymentProps): ResolvedSidecarDeployment {
  validateKnownProps(props, DEPLOYMENT_PROPS, 'SidecarDeployment props');
  const { name, labels, selector } = names(props.name);
  const replicas = resolveReplicas(props.replicas);
  const sidecars = resolveSidecars(props, name);
  const target = resolveServiceTarget(sidecars, props.serviceTargetPort);
  const expose = resolveExpose(props, replicas);
  return { name, labels, selector, replicas, serviceTargetPort: target.port, expose, sidecars: { ...sidecars, appPort: target.appPort } };
}

/** Validates {@link SidecarBarePodProps} and decides every default; creates no construct. (internal: not in the main entry) */
export function resolveSidecarBarePod(props: SidecarBarePodProps): ResolvedSidecarBarePod {
  validateKnownProps(props, BARE_POD_PROPS, 'SidecarBarePod props');
  const { name, labels, selector } = names(props.name);
  return { name, labels, selector, sidecars: resolveSidecars(props, name) };
}

/** The container port the Service targets: the auth proxy's, or a declared TCP port of the app or a sidecar. */
function resolveServiceTarget(r: ResolvedSidecars, given: number | undefined): { port: number; appPort?: ResolvedSidecars['appPort'] } {
  const long = r.plan.containers.filter((x) => x.role !== 'init');
  const portOwner = new Map<number, string>();
  for (const p of long) for (const port of p.spec.ports ?? []) portOwner.set(port.number, p.spec.name);
  const app = r.app.spec;
  if (r.auth) {
    const target = r.auth.port;
    if (given !== undefined && given !== target) {
      if (portOwner.get(given) === app.name || given === r.auth.upstream) {
        throw new Error(
          `serviceTargetPort must be the auth proxy's port ${target} when authProxy is set, got the app's port ${given}: ` +
            'traffic would bypass authentication',
        );
      }
      throw new Error(`serviceTargetPort must be the auth proxy's port ${target} when authProxy is set, got ${given}`);
    }
    return { port: target, appPort: r.appPort };
  }
  const t = given ?? app.ports?.[0]?.number;
  if (t === undefined) {
    throw new Error(
      `serviceTargetPort is required when the app "${app.name}" declares no ports (or use SidecarBarePod, or Sidecars on your own workload)`,
    );
  }
  const target = validatePort(t, 'serviceTargetPort');
  if (!portOwner.has(target)) {
    throw new Error(`serviceTargetPort ${target} is not a port of the app or a sidecar (declared: ${[...portOwner.keys()].join(', ') || 'none'})`);
  }
  const spec = long.flatMap((x) => x.spec.ports ?? []).find((x) => x.number === target);
  if (spec?.protocol !== undefined && spec.protocol !== kplus.Protocol.TCP) {
    throw new Error(`serviceTargetPort ${target} must be a TCP port (the Service and the NetworkPolicy speak TCP), got protocol ${spec.protocol}`);
  }
  if (portOwner.get(target) !== app.name) return { port: target };
  const appPort = { port: target, why: `the Service targets the app's port ${target}` };
  checkPortEnv(app.envVariables, target, appPort.why);
  return { port: target, appPort };
}

/**
 * A Deployment whose pods run {@link Sidecars} (an app, sidecars, init
 * containers and the presets), exposed the shared way: a Service on port 80,
 * a NetworkPolicy, an optional Ingress, and from 2 replicas spread over nodes
 * with a PodDisruptionBudget. Every container is hardened for Pod Security
 * Standards "restricted".
 */
export class SidecarDeployment extends Construct {
  /** Name of the Deployment, Service and generated objects; the `app.kubernetes.io/instance` label. */
  public readonly name: string;
  /** The recommended labels on every object (name `sidecar-pod`, instance `name`). */
  public readonly labels: Readonly<Record<string, string>>;
  /** The pod selector: `app.kubernetes.io/name` and `app.kubernetes.io/instance`. */
  public readonly selector: Readonly<Record<string, string>>;
  /** The Deployment. */
  public readonly deployment: kplus.Deployment;
  /** The containers, volumes and presets of its pods; its verbs are forwarded here too. */
  public readonly sidecars: Sidecars;
  /** The Service. */
  public readonly service: kplus.Service;
  /** The NetworkPolicy admitting the Service's target port only, unless `networkPolicy` is false. */
  public readonly networkPolicy?: WorkloadNetworkPolicy;
  /** The PodDisruptionBudget, when there is one (2 or more replicas by default). */
  public readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;
  /** The replica count. */
  public readonly replicas: number;
  /** The Service's port. */
  public readonly servicePort: number;
  /** The container port the Service targets. */
  public readonly serviceTargetPort: number;

  private readonly exposure: Exposure;

  constructor(scope: Construct, id: string, props: SidecarDeploymentProps = {}) {
    super(scope, id);
    const r = resolveSidecarDeployment(props);
    this.name = r.name;
    this.labels = r.labels;
    this.selector = r.selector;
    this.replicas = r.replicas;
    this.servicePort = r.expose.servicePort;
    this.serviceTargetPort = r.serviceTargetPort;
    const pod = hardenedPodProps({ user: r.sidecars.app.user, group: r.sidecars.app.group, fsGroup: r.sidecars.fsGroup });
    this.deployment = new kplus.Deployment(this, 'Resource', { ...pod, metadata: { name: r.name }, replicas: r.replicas, select: false });
    selectPods(this.deployment, r.selector);
    applySpread(this.deployment, r.selector, r.replicas);
    this.sidecars = attachSidecars(this, this.deployment, r.sidecars);
    this.exposure = exposeWorkload(this, r.expose, {
      name: r.name,
      selector: r.selector,
      targetPort: r.serviceTargetPort,
      egress: r.sidecars.egress,
      labels: r.labels,
    });
    this.service = this.exposure.service;
    this.networkPolicy = this.exposure.networkPolicy;
    this.podDisruptionBudget = this.exposure.podDisruptionBudget;
    applyLabels(this, r.labels);
  }

  /** The Ingress, when there is one (from the `ingress` prop or {@link SidecarDeployment.exposeViaIngress}). */
  public get ingress(): kplus.Ingress | undefined {
    return this.exposure.ingress;
  }

  /** {@link Sidecars.addSidecar}. */
  public addSidecar(container: SidecarContainer): kplus.Container {
    return this.sidecars.addSidecar(container);
  }

  /** {@link Sidecars.addInitContainer}. */
  public addInitContainer(container: SidecarContainer): kplus.Container {
    return this.sidecars.addInitContainer(container);
  }

  /** {@link Sidecars.addVolume}. */
  public addVolume(volume: kplus.Volume): void {
    this.sidecars.addVolume(volume);
  }

  /** {@link Sidecars.addEnv}; an env `PORT` must be the port traffic reaches the app on. */
  public addEnv(name: string, value: kplus.EnvValue): void {
    this.sidecars.addEnv(name, value);
  }

  /** Lets `peer` connect to the Service's target port, as an entry of `networkPolicy.allowFrom`. */
  public allowFrom(peer: k8s.NetworkPolicyPeer): void {
    this.exposure.allowFrom(peer);
  }

  /** Lets the pods of these namespaces connect, as entries of `networkPolicy.allowFromNamespaces`. */
  public allowFromNamespaces(...namespaces: string[]): void {
    this.exposure.allowFromNamespaces(...namespaces);
  }

  /** Creates the Ingress to the Service, as the `ingress` prop does; one per Deployment. */
  public exposeViaIngress(options: IngressOptions): kplus.Ingress {
    return this.exposure.exposeViaIngress(options);
  }

  /**
   * Lets the pods connect to `peer` (on `options.ports` only, when given),
   * beyond DNS and (with the content and hot-plug presets) git's remote.
   */
  public allowEgressTo(peer: k8s.NetworkPolicyPeer, options: EgressOptions = {}): void {
    if (!this.networkPolicy)
      throw new Error(`allowEgressTo needs the NetworkPolicy, got networkPolicy false for "${this.name}" (manage traffic yourself)`);
    this.networkPolicy.allowEgressTo(peer, options);
  }
}

/**
 * A bare Pod running {@link Sidecars}: nothing recreates it, and it has no
 * Service, no PodDisruptionBudget and no spread. Its NetworkPolicy lets
 * nothing in and lets it reach DNS (and, with the content and hot-plug
 * presets, git's remote); {@link SidecarBarePod.allowEgressTo} adds to that. For traffic
 * to the pod use {@link SidecarDeployment}.
 */
export class SidecarBarePod extends Construct {
  /** Name of the Pod and generated objects; the `app.kubernetes.io/instance` label. */
  public readonly name: string;
  /** The recommended labels on every object (name `sidecar-pod`, instance `name`). */
  public readonly labels: Readonly<Record<string, string>>;
  /** The pod's selector labels: `app.kubernetes.io/name` and `app.kubernetes.io/instance`. */
  public readonly selector: Readonly<Record<string, string>>;
  /** The Pod. */
  public readonly pod: kplus.Pod;
  /** The containers, volumes and presets of the pod; its verbs are forwarded here too. */
  public readonly sidecars: Sidecars;
  /** The NetworkPolicy: no ingress, egress to DNS (and git's remote with a git-sync preset). */
  public readonly networkPolicy: WorkloadNetworkPolicy;

  constructor(scope: Construct, id: string, props: SidecarBarePodProps = {}) {
    super(scope, id);
    const r = resolveSidecarBarePod(props);
    this.name = r.name;
    this.labels = r.labels;
    this.selector = r.selector;
    const pod = hardenedPodProps({ user: r.sidecars.app.user, group: r.sidecars.app.group, fsGroup: r.sidecars.fsGroup });
    this.pod = new kplus.Pod(this, 'Resource', { ...pod, metadata: { name: r.name } });
    selectPods(this.pod, r.selector);
    this.sidecars = attachSidecars(this, this.pod, r.sidecars);
    // no Service: nothing may connect to the pod
    this.networkPolicy = new WorkloadNetworkPolicy(this, 'NetworkPolicy', {
      name: r.name,
      selector: r.selector,
      ingress: [],
      egress: r.sidecars.egress,
    });
    applyLabels(this, r.labels);
  }

  /** {@link Sidecars.addSidecar}. */
  public addSidecar(container: SidecarContainer): kplus.Container {
    return this.sidecars.addSidecar(container);
  }

  /** {@link Sidecars.addInitContainer}. */
  public addInitContainer(container: SidecarContainer): kplus.Container {
    return this.sidecars.addInitContainer(container);
  }

  /** {@link Sidecars.addVolume}. */
  public addVolume(volume: kplus.Volume): void {
    this.sidecars.addVolume(volume);
  }

  /** {@link Sidecars.addEnv}. */
  public addEnv(name: string, value: kplus.EnvValue): void {
    this.sidecars.addEnv(name, value);
  }

  /** Lets the pod connect to `peer` (on `options.ports` only, when given), beyond DNS and git's remote. */
  public allowEgressTo(peer: k8s.NetworkPolicyPeer, options: EgressOptions = {}): void {
    this.networkPolicy.allowEgressTo(peer, options);
  }
}
