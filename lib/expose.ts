import { Lazy } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import {
  validateDnsLabel,
  validateNetworkPolicyPeer,
  validateDnsSubdomain,
  validateHttpPath,
  validateIngressHost,
  validateOneOf,
  validatePort,
  validateKnownProps,
  validatePositiveInteger,
  validateQualifiedName,
  validateRecord,
  validateUniqueList,
} from './validate';

const INGRESS_OPTIONS: Record<keyof Required<IngressOptions>, true> = { host: true, path: true, className: true, tlsSecret: true, annotations: true };
const NETWORK_POLICY_OPTIONS: Record<keyof Required<NetworkPolicyOptions>, true> = {
  allowFromNamespaces: true,
  allowFrom: true,
  ingressControllerNamespace: true,
};
const PDB_OPTIONS: Record<keyof Required<PodDisruptionBudgetOptions>, true> = { maxUnavailable: true };

/**
 * One way to expose a workload, shared by every construct: a Service, an
 * optional Ingress (with TLS), a NetworkPolicy and a PodDisruptionBudget,
 * with the same option names, shapes and defaults everywhere. Constructs
 * extend {@link ExposeOptions} in their props (as cdk8s-plus composes
 * `ExposeDeploymentViaIngressOptions`), resolve it once with
 * {@link resolveExpose} and build it with {@link exposeWorkload}.
 */

/** The Ingress controller namespace the default NetworkPolicy lets in when there is an Ingress. */
export const DEFAULT_INGRESS_CONTROLLER_NAMESPACE = 'ingress-nginx';

/**
 * An Ingress to the workload's Service.
 */
export interface IngressOptions {
  /**
   * Host name the Ingress answers for, e.g. `www.example.com` or `*.example.com`.
   * @default - every host
   */
  readonly host?: string;
  /**
   * Path prefix routed to the Service (`pathType: Prefix`). The workload sees
   * the full path.
   * @default '/'
   */
  readonly path?: string;
  /**
   * `ingressClassName`.
   * @default - the cluster's default IngressClass
   */
  readonly className?: string;
  /**
   * A `kubernetes.io/tls` Secret in the workload's namespace that terminates
   * TLS for `host` (required with it). For a Secret made out of band (e.g. by
   * cert-manager): `kplus.Secret.fromSecretName(this, 'Tls', 'www-tls')`.
   * @default - no TLS
   */
  readonly tlsSecret?: kplus.ISecret;
  /**
   * Annotations for the Ingress (controller settings such as timeouts).
   * @default - none
   */
  readonly annotations?: Record<string, string>;
}

/**
 * The NetworkPolicy in front of the workload: ingress only to the ports the
 * Service targets, only from the listed sources. Egress is the pattern's
 * (see each construct).
 */
export interface NetworkPolicyOptions {
  /**
   * Namespaces (by name) whose pods may connect.
   * @default - pods in the workload's own namespace, unless `allowFrom` is given
   */
  readonly allowFromNamespaces?: string[];
  /**
   * Peers that may connect (ipBlocks, pod or namespace selectors), in
   * addition to `allowFromNamespaces`.
   * @default - none (the workload's own namespace, unless `allowFromNamespaces` is given)
   */
  readonly allowFrom?: k8s.NetworkPolicyPeer[];
  /**
   * Namespace of the Ingress controller, let in whenever an Ingress is created.
   * @default 'ingress-nginx'
   */
  readonly ingressControllerNamespace?: string;
}

/**
 * The PodDisruptionBudget of a Deployment.
 */
export interface PodDisruptionBudgetOptions {
  /**
   * Pods that a voluntary disruption (a node drain) may take down at once.
   * @default 1
   */
  readonly maxUnavailable?: number;
}

/**
 * How a construct exposes its workload. The same props in every construct
 * that serves traffic.
 */
export interface ExposeOptions {
  /**
   * Type of the Service.
   * @default kplus.ServiceType.CLUSTER_IP
   */
  readonly serviceType?: kplus.ServiceType;
  /**
   * Port of the Service (it targets the container port).
   * @default 80
   */
  readonly servicePort?: number;
  /**
   * Expose the Service through an Ingress.
   * @default - no Ingress
   */
  readonly ingress?: IngressOptions;
  /**
   * The NetworkPolicy; `false` creates none (manage traffic yourself).
   * @default - a NetworkPolicy admitting pods of the same namespace (and the
   * Ingress controller's namespace when there is an Ingress) to the served port
   */
  readonly networkPolicy?: NetworkPolicyOptions | false;
  /**
   * The PodDisruptionBudget; `false` creates none.
   * @default - maxUnavailable 1 for a Deployment with 2 or more replicas; none otherwise
   */
  readonly podDisruptionBudget?: PodDisruptionBudgetOptions | false;
}

/** {@link ExposeOptions} with every default applied and every value checked. */
export interface ResolvedExpose {
  readonly serviceType: kplus.ServiceType;
  readonly servicePort: number;
  readonly ingress?: {
    readonly host?: string;
    readonly path: string;
    readonly className?: string;
    readonly tlsSecret?: kplus.ISecret;
    readonly annotations?: Record<string, string>;
  };
  readonly networkPolicy?: {
    readonly allowFromNamespaces?: string[];
    readonly allowFrom: k8s.NetworkPolicyPeer[];
    readonly ingressControllerNamespace: string;
  };
  readonly podDisruptionBudget?: { readonly maxUnavailable: number };
}

/** The option names of {@link ExposeOptions}, for constructs that accept them only in some modes. */
export const EXPOSE_OPTION_NAMES = ['serviceType', 'servicePort', 'ingress', 'networkPolicy', 'podDisruptionBudget'] as const;

/**
 * Applies the defaults of {@link ExposeOptions} and validates them.
 *
 * @param replicas the Deployment's replicas, or undefined for a bare Pod (no PodDisruptionBudget)
 */
export function resolveExpose(opts: ExposeOptions, replicas: number | undefined): ResolvedExpose {
  if (opts.serviceType === kplus.ServiceType.EXTERNAL_NAME) {
    throw new Error(
      `serviceType must be ClusterIP, NodePort or LoadBalancer, got "${opts.serviceType}": an ExternalName Service is a ` +
        `DNS alias for a name outside the cluster and cannot send traffic to this workload`,
    );
  }
  const serviceType = validateOneOf(
    opts.serviceType ?? kplus.ServiceType.CLUSTER_IP,
    [kplus.ServiceType.CLUSTER_IP, kplus.ServiceType.NODE_PORT, kplus.ServiceType.LOAD_BALANCER],
    'serviceType',
  );
  const servicePort = validatePort(opts.servicePort ?? 80, 'servicePort');
  return {
    serviceType,
    servicePort,
    ingress: opts.ingress === undefined ? undefined : resolveIngress(opts.ingress),
    networkPolicy: opts.networkPolicy === false ? undefined : resolveNetworkPolicy(opts.networkPolicy === undefined ? {} : opts.networkPolicy),
    podDisruptionBudget: resolvePdb(opts.podDisruptionBudget, replicas),
  };
}

function resolveIngress(o: IngressOptions): NonNullable<ResolvedExpose['ingress']> {
  if (o === null || typeof o !== 'object') throw new Error(`ingress must be an object of IngressOptions, got ${JSON.stringify(o)}`);
  validateKnownProps(o, INGRESS_OPTIONS, 'ingress');
  const host = o.host === undefined ? undefined : validateIngressHost(o.host, 'ingress.host');
  const className = o.className === undefined ? undefined : validateDnsSubdomain(o.className, 'ingress.className');
  const tlsSecret = o.tlsSecret === undefined ? undefined : resolveSecretRef(o.tlsSecret, 'ingress.tlsSecret', 'www-tls');
  if (tlsSecret !== undefined && host === undefined) {
    throw new Error(`ingress.tlsSecret needs ingress.host (the certificate's host), got the Secret "${tlsSecret.name}" without a host`);
  }
  for (const [key, value] of Object.entries(validateRecord(o.annotations, 'ingress.annotations'))) {
    validateQualifiedName(key, 'ingress.annotations key', 'nginx.ingress.kubernetes.io/proxy-read-timeout');
    if (typeof value !== 'string') throw new Error(`ingress.annotations "${key}" must be a string, got ${JSON.stringify(value)}`);
  }
  return { host, path: validateHttpPath(o.path ?? '/', 'ingress.path'), className, tlsSecret, annotations: o.annotations };
}

function resolveNetworkPolicy(o: NetworkPolicyOptions): ResolvedExpose['networkPolicy'] {
  if (o === null || typeof o !== 'object') throw new Error(`networkPolicy must be NetworkPolicyOptions or false, got ${JSON.stringify(o)}`);
  validateKnownProps(o, NETWORK_POLICY_OPTIONS, 'networkPolicy');
  let namespaces: string[] | undefined;
  if (o.allowFromNamespaces !== undefined) {
    namespaces = validateUniqueList(o.allowFromNamespaces, 'networkPolicy.allowFromNamespaces', validateDnsLabel);
    if (namespaces.length === 0)
      throw new Error("networkPolicy.allowFromNamespaces must list at least one namespace (omit it for the workload's own namespace), got []");
  }
  if (o.allowFrom !== undefined && (!Array.isArray(o.allowFrom) || o.allowFrom.length === 0)) {
    throw new Error(
      `networkPolicy.allowFrom must list at least one peer (omit it for the workload's own namespace; set networkPolicy ` +
        `to false to manage traffic yourself), got ${JSON.stringify(o.allowFrom)}`,
    );
  }
  const allowFrom = [...(o.allowFrom ?? [])];
  allowFrom.forEach((peer, i) => validateNetworkPolicyPeer(peer, `networkPolicy.allowFrom[${i}]`));
  const ingressControllerNamespace = validateDnsLabel(
    o.ingressControllerNamespace ?? DEFAULT_INGRESS_CONTROLLER_NAMESPACE,
    'networkPolicy.ingressControllerNamespace',
  );
  return { allowFromNamespaces: namespaces, allowFrom, ingressControllerNamespace };
}

function resolvePdb(o: PodDisruptionBudgetOptions | false | undefined, replicas: number | undefined): ResolvedExpose['podDisruptionBudget'] {
  if (o === false) return undefined;
  if (o !== undefined && (o === null || typeof o !== 'object')) {
    throw new Error(`podDisruptionBudget must be PodDisruptionBudgetOptions or false, got ${JSON.stringify(o)}`);
  }
  if (o !== undefined) validateKnownProps(o, PDB_OPTIONS, 'podDisruptionBudget');
  if (replicas === undefined) {
    if (o !== undefined) throw new Error('podDisruptionBudget applies to Deployments only, got it for a bare Pod');
    return undefined;
  }
  if (o === undefined && replicas < 2) return undefined;
  const maxUnavailable = validatePositiveInteger(o?.maxUnavailable ?? 1, 'podDisruptionBudget.maxUnavailable', 1, 1000);
  if (maxUnavailable >= replicas && o !== undefined && replicas > 1) {
    throw new Error(`podDisruptionBudget.maxUnavailable must be below replicas (${replicas}) to keep a pod through a drain, got ${maxUnavailable}`);
  }
  return { maxUnavailable };
}

/**
 * Checks a reference to a Secret (`kplus.ISecret`): a string is refused with
 * the way to make a reference, and the name must be a DNS subdomain.
 */
export function resolveSecretRef(secret: kplus.ISecret, prop: string, example: string): kplus.ISecret {
  if (secret === null || typeof secret !== 'object' || typeof (secret as { name?: unknown }).name !== 'string') {
    throw new Error(
      `${prop} must be a kplus.ISecret, such as kplus.Secret.fromSecretName(this, 'Secret', '${example}') for a Secret made out of band, ` +
        `got ${JSON.stringify(secret)}`,
    );
  }
  validateDnsSubdomain(secret.name, `${prop} name`);
  return secret;
}

// ---------------------------------------------------------------- egress ---

/** A TCP port of a NetworkPolicy rule. */
export function tcpPort(port: number): k8s.NetworkPolicyPort {
  return { protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) };
}

/** DNS lookups (UDP and TCP 53, any address): every pattern that resolves a name needs it. */
export const DNS_EGRESS: k8s.NetworkPolicyEgressRule = {
  ports: [{ protocol: 'UDP', port: k8s.IntOrString.fromNumber(53) }, tcpPort(53)],
};

/**
 * The TCP ports the API server is reached on: 443 (the `kubernetes` Service) and 6443 (the usual endpoint port egress
 * rules see after the Service is resolved).
 */
export const DEFAULT_API_SERVER_PORTS = [443, 6443];

/**
 * Egress to the Kubernetes API server, for pods that call it (they have RBAC
 * rules): `ports` to `cidrs`, or to any address when the API server's
 * addresses are not known (whether an ipBlock matches the API server, often a
 * host-network endpoint behind the `kubernetes` Service, depends on the CNI).
 */
export function apiServerEgress(cidrs: string[] | undefined, ports: number[] = DEFAULT_API_SERVER_PORTS): k8s.NetworkPolicyEgressRule {
  return { ...(cidrs ? { to: cidrs.map((cidr) => ({ ipBlock: { cidr } })) } : {}), ports: ports.map(tcpPort) };
}

/** Options for `allowEgressTo` of the constructs. */
export interface EgressOptions {
  /**
   * Ports the workload may connect to on the peer.
   * @default - every port
   */
  readonly ports?: number[];
  /**
   * Protocol of `ports`.
   * @default 'TCP'
   */
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
}

/** Checks a NetworkPolicy peer: a podSelector, a namespaceSelector (or both), or an ipBlock alone. */
export function validatePeer(peer: k8s.NetworkPolicyPeer, where: string): k8s.NetworkPolicyPeer {
  validateNetworkPolicyPeer(peer, where);
  return peer;
}

/** Props for {@link WorkloadNetworkPolicy}. */
export interface WorkloadNetworkPolicyProps {
  /** Name of the NetworkPolicy. */
  readonly name: string;
  /** The pods it selects (matchLabels). */
  readonly selector: Record<string, string>;
  /** Who may connect (`[]`: nobody). */
  readonly ingress: k8s.NetworkPolicyIngressRule[];
  /** Where the pods may connect (`[]`: nowhere); {@link WorkloadNetworkPolicy.allowEgressTo} adds to it. */
  readonly egress: k8s.NetworkPolicyEgressRule[];
}

/**
 * The NetworkPolicy of a pattern's pods: it covers both directions
 * (`policyTypes: [Ingress, Egress]`), so whatever the rules do not list is
 * refused, and egress grows with `allowEgressTo`.
 */
export class WorkloadNetworkPolicy extends k8s.KubeNetworkPolicy {
  /** The egress rules, as written at synth. */
  public readonly egressRules: k8s.NetworkPolicyEgressRule[];

  /** @internal the constructs make it; use their `networkPolicy` field */
  constructor(scope: Construct, id: string, props: WorkloadNetworkPolicyProps) {
    const egressRules = [...props.egress];
    super(scope, id, {
      metadata: { name: props.name },
      spec: {
        podSelector: { matchLabels: { ...props.selector } },
        policyTypes: ['Ingress', 'Egress'],
        // empty lists are what the policy types already mean (deny all); the API server drops
        // them, so writing them would make every server-side apply a change
        ingress: Lazy.any({ produce: () => (props.ingress.length ? props.ingress : undefined) }),
        egress: Lazy.any({ produce: () => (egressRules.length ? egressRules : undefined) }),
      },
    });
    this.egressRules = egressRules;
  }

  /** Adds an egress rule as written (ports without `to`: those ports at any address). */
  public addEgressRule(rule: k8s.NetworkPolicyEgressRule): void {
    if (!rule || typeof rule !== 'object' || (rule.to === undefined && rule.ports === undefined)) {
      throw new Error(`an egress rule must set to or ports (a rule with neither allows everything), got ${JSON.stringify(rule)}`);
    }
    (rule.to ?? []).forEach((peer, i) => validatePeer(peer, `egress rule to[${i}]`));
    this.egressRules.push(rule);
  }

  /**
   * Lets the selected pods connect to `peer` (on `options.ports` only, when given),
   * as cdk8s-plus's `connections.allowTo` does for its own workloads.
   */
  public allowEgressTo(peer: k8s.NetworkPolicyPeer, options: EgressOptions = {}, where = 'allowEgressTo peer'): void {
    validatePeer(peer, where);
    if (options === null || typeof options !== 'object')
      throw new Error(`allowEgressTo options must be EgressOptions, got ${JSON.stringify(options)}`);
    const protocol = validateOneOf(options.protocol ?? 'TCP', { TCP: 'TCP', UDP: 'UDP', SCTP: 'SCTP' }, 'allowEgressTo options.protocol');
    const ports =
      options.ports === undefined ? undefined : validateUniqueList(options.ports, 'allowEgressTo options.ports', (p, prop) => validatePort(p, prop));
    if (ports !== undefined && ports.length === 0)
      throw new Error('allowEgressTo options.ports must list at least one port (omit it for every port), got []');
    this.addEgressRule({ to: [peer], ...(ports ? { ports: ports.map((port) => ({ protocol, port: k8s.IntOrString.fromNumber(port) })) } : {}) });
  }
}

/** What {@link exposeWorkload} needs to know about the workload. */
export interface ExposeTarget {
  /** Name of every object created. */
  readonly name: string;
  /** The stable pod selector (see labels.ts). */
  readonly selector: Record<string, string>;
  /** The container port the Service targets and the NetworkPolicy opens. */
  readonly targetPort: number;
  /**
   * The pattern's egress rules (`[]`: no egress at all).
   * @default - DNS only ({@link DNS_EGRESS})
   */
  readonly egress?: k8s.NetworkPolicyEgressRule[];
  /**
   * Labels for an Ingress made after construction by `exposeViaIngress` (the
   * construct labels what it makes while it is built).
   * @default - none
   */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * The objects {@link exposeWorkload} created, and the verbs that add to them
 * after construction. Each verb checks its input exactly as the matching
 * {@link ExposeOptions} prop does, and its errors name that prop.
 */
export class Exposure {
  public readonly service: kplus.Service;
  public readonly networkPolicy?: WorkloadNetworkPolicy;
  public readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;
  private _ingress?: kplus.Ingress;
  private ingressHost?: string;
  private readonly np?: { namespaces?: string[]; allowFrom: k8s.NetworkPolicyPeer[]; ingressControllerNamespace: string };
  private readonly rule: k8s.NetworkPolicyIngressRule & { from?: k8s.NetworkPolicyPeer[] };

  constructor(
    private readonly scope: Construct,
    private readonly r: ResolvedExpose,
    private readonly target: ExposeTarget,
  ) {
    this.service = new kplus.Service(scope, 'Service', {
      metadata: { name: target.name },
      type: r.serviceType,
      ports: [{ name: 'http', port: r.servicePort, targetPort: target.targetPort }],
    });
    for (const [k, v] of Object.entries(target.selector)) this.service.selectLabel(k, v);
    this.rule = { ports: [tcpPort(target.targetPort)] };
    if (r.ingress) this.buildIngress(r.ingress);
    if (r.networkPolicy) {
      const np = r.networkPolicy;
      this.np = {
        namespaces: np.allowFromNamespaces ? [...np.allowFromNamespaces] : undefined,
        allowFrom: [...np.allowFrom],
        ingressControllerNamespace: np.ingressControllerNamespace,
      };
      this.networkPolicy = new WorkloadNetworkPolicy(scope, 'NetworkPolicy', {
        name: target.name,
        selector: target.selector,
        ingress: [this.rule],
        egress: target.egress ?? [DNS_EGRESS],
      });
    }
    if (r.podDisruptionBudget) {
      this.podDisruptionBudget = new k8s.KubePodDisruptionBudget(scope, 'PodDisruptionBudget', {
        metadata: { name: target.name },
        spec: { maxUnavailable: k8s.IntOrString.fromNumber(r.podDisruptionBudget.maxUnavailable), selector: { matchLabels: { ...target.selector } } },
      });
    }
    this.refreshFrom();
  }

  /** The Ingress, when there is one (from the `ingress` prop or `exposeViaIngress`). */
  public get ingress(): kplus.Ingress | undefined {
    return this._ingress;
  }

  /**
   * Lets `peer` connect to the served port, as an entry of `networkPolicy.allowFrom`
   * (so, as with the prop, the workload's own namespace is no longer let in by default).
   */
  public allowFrom(peer: k8s.NetworkPolicyPeer): void {
    const np = this.needPolicy('allowFrom');
    validateNetworkPolicyPeer(peer, `networkPolicy.allowFrom[${np.allowFrom.length}]`);
    np.allowFrom.push(peer);
    this.refreshFrom();
  }

  /** Lets the pods of these namespaces connect, as entries of `networkPolicy.allowFromNamespaces`. */
  public allowFromNamespaces(...namespaces: string[]): void {
    const np = this.needPolicy('allowFromNamespaces');
    const all = [...(np.namespaces ?? []), ...namespaces];
    if (namespaces.length === 0) throw new Error('networkPolicy.allowFromNamespaces must list at least one namespace, got none');
    np.namespaces = validateUniqueList(all, 'networkPolicy.allowFromNamespaces', validateDnsLabel);
    this.refreshFrom();
  }

  /** Creates the Ingress, as the `ingress` prop does; there is one Ingress per workload. */
  public exposeViaIngress(options: IngressOptions): kplus.Ingress {
    if (this._ingress) {
      throw new Error(
        `ingress is already set${this.ingressHost ? ` (host "${this.ingressHost}")` : ''}: one Ingress per workload; ` +
          'add rules to the returned kplus.Ingress instead',
      );
    }
    const ingress = this.buildIngress(resolveIngress(options));
    for (const [k, v] of Object.entries(this.target.labels ?? {})) ingress.metadata.addLabel(k, v);
    this.refreshFrom();
    return ingress;
  }

  private needPolicy(verb: string): NonNullable<Exposure['np']> {
    if (!this.np)
      throw new Error(`${verb} needs the NetworkPolicy, but networkPolicy is false: remove networkPolicy: false, or manage traffic yourself`);
    return this.np;
  }

  private buildIngress(i: NonNullable<ResolvedExpose['ingress']>): kplus.Ingress {
    const ingress = new kplus.Ingress(this.scope, 'Ingress', {
      metadata: { name: this.target.name, annotations: i.annotations },
      className: i.className,
      tls: i.tlsSecret === undefined ? undefined : [{ hosts: [i.host!], secret: i.tlsSecret }],
    });
    const backend = kplus.IngressBackend.fromService(this.service, { port: this.r.servicePort });
    if (i.host !== undefined) ingress.addHostRule(i.host, i.path, backend, kplus.HttpIngressPathType.PREFIX);
    else ingress.addRule(i.path, backend, kplus.HttpIngressPathType.PREFIX);
    this._ingress = ingress;
    this.ingressHost = i.host;
    return ingress;
  }

  private refreshFrom(): void {
    const np = this.np;
    if (!np) return;
    const ingress = this._ingress;
    const namespaces = [...(np.namespaces ?? [])];
    if (ingress && np.namespaces !== undefined && !namespaces.includes(np.ingressControllerNamespace)) {
      namespaces.push(np.ingressControllerNamespace);
    }
    const ownNamespace = np.namespaces === undefined && np.allowFrom.length === 0;
    const ctl = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': np.ingressControllerNamespace } } };
    const inNamespaces = {
      namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: namespaces.sort() }] },
    };
    this.rule.from = [
      ...(ownNamespace ? [{ podSelector: {} }] : []),
      ...(ingress && np.namespaces === undefined ? [ctl] : []),
      ...(namespaces.length ? [inNamespaces] : []),
      ...np.allowFrom,
    ];
  }
}

/**
 * Creates the Service (`Service`), and as resolved the Ingress (`Ingress`),
 * NetworkPolicy (`NetworkPolicy`) and PodDisruptionBudget
 * (`PodDisruptionBudget`), all named `target.name` and selecting by `target.selector`.
 */
export function exposeWorkload(scope: Construct, r: ResolvedExpose, target: ExposeTarget): Exposure {
  return new Exposure(scope, r, target);
}
