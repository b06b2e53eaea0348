import * as path from 'node:path';
import { ApiObject, Chart, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import {
  DNS_EGRESS,
  EgressOptions,
  ExposeOptions,
  Exposure,
  IngressOptions,
  ResolvedExpose,
  WorkloadNetworkPolicy,
  apiServerEgress,
  exposeWorkload,
  resolveExpose,
  resolveSecretRef,
  tcpPort,
} from './expose';
import { readLocalDirectory, toConfigMapData } from './files';
import { addChecksumAnnotation, contentHash } from './hash';
import { parseImage } from './image';
import { NODE_LTS_IMAGE } from './images';
import { applyLabels, recommendedLabels, selectPods, selectorLabels } from './labels';
import { applySpread, resolveReplicas } from './policy';
import { hardenedContainer, hardenedPodProps } from './security';
import {
  MAX_CONFIGMAP_BYTES,
  validateBoolean,
  validateCidr,
  validateConfigMapKey,
  validateDnsLabel,
  validateDnsSubdomain,
  validateKnownProps,
  validateNetworkPolicyPeer,
  validateOneOf,
  validatePort,
  validatePositiveInteger,
  validateUniqueList,
  validateUnprivilegedPort,
} from './validate';
import { ResolvedSecurity, WorkloadSecurityOptions, mergeResources, resolveSecurity, toWholeSeconds } from './workload';
// The label selector is checked with the parser the server itself uses at startup,
// so a selector that synthesizes is one the pod accepts.
import { parseLabelSelector } from './kv-proxy/server/selector';
// The ConfigMaps the server never writes, whatever its configuration.
import { CLUSTER_CONFIGMAPS } from './kv-proxy/server/kv';

/** Where the server's source files live in this repository. */
export const KV_PROXY_SERVER_DIR = path.join(__dirname, 'kv-proxy', 'server');

/**
 * The stock image the proxy runs on: the official Node.js 24 (LTS) Alpine
 * image. It runs as any user (the server needs only `node:` builtins and reads
 * its source from a ConfigMap).
 */
export const KV_PROXY_DEFAULT_IMAGE = NODE_LTS_IMAGE;

/**
 * uid and gid the proxy runs as: 10000, above 10000 so it can never be a user
 * of the node (the official image's `node` user is 1000; node runs as any uid).
 */
export const KV_PROXY_NODE_USER = 10000;

/** Where the pod mounts the server source ConfigMap (read-only). */
export const KV_PROXY_SOURCE_PATH = '/opt/kv-proxy';

/** Where the pod mounts the client token Secret (read-only). */
export const KV_PROXY_TOKENS_PATH = '/etc/kv-proxy/tokens';

/** The entry point inside {@link KV_PROXY_SOURCE_PATH}. */
export const KV_PROXY_ENTRY = 'server.js';

/**
 * The Secret keys the server reads: newline-separated bearer tokens. A write
 * token also reads; a metrics token may only scrape /metrics (see `metricsAuth`).
 */
export const KV_PROXY_TOKEN_KEYS = ['read-tokens', 'write-tokens', 'metrics-tokens'] as const;

/**
 * The label that opts a ConfigMap in to writes through the proxy (`writableLabel`):
 * with writes on, the proxy writes only ConfigMaps carrying it or named in
 * `configMapNames`, and the ConfigMaps it creates carry it.
 */
export const KV_PROXY_WRITABLE_LABEL = 'kv-proxy.cdk8s-patterns.io/writable=true';

/** Every prop of {@link KvProxyProps}: anything else is refused (the compiler keeps this list complete). */
const KV_PROXY_PROPS: Record<keyof Required<KvProxyProps>, true> = {
  name: true,
  namespaces: true,
  configMapNames: true,
  labelSelector: true,
  writes: true,
  discovery: true,
  consulApi: true,
  tokenSecret: true,
  replicas: true,
  image: true,
  securityContext: true,
  port: true,
  resources: true,
  maxBodyBytes: true,
  maxWait: true,
  ingressReadTimeout: true,
  shutdownTimeout: true,
  drainDelay: true,
  accessLog: true,
  upstreamTimeout: true,
  catchUpTimeout: true,
  metricsPort: true,
  metricsAuth: true,
  metricsAllowFrom: true,
  writableLabel: true,
  auditLog: true,
  apiServerCidrs: true,
  apiServerPorts: true,
  serviceType: true,
  servicePort: true,
  ingress: true,
  networkPolicy: true,
  podDisruptionBudget: true,
};

/**
 * Node.js flags the proxy runs with: young-generation semi-spaces of 2 MiB
 * instead of 16, which keeps RSS with 1,000 cached ConfigMaps of 100 keys under
 * 80 MiB (see `npm run bench -- --only=kv-memory`).
 */
export const KV_PROXY_NODE_FLAGS = ['--max-semi-space-size=2'] as const;

/** How much of each request the server logs (`KV_ACCESS_LOG`). */
export enum KvProxyAccessLog {
  /** No access log; startup, watch and failure messages only. */
  OFF = 'off',
  /** One line per request answered 4xx or 5xx, or abandoned by the client (499). */
  ERRORS = 'errors',
  /** One line per request (measured at 14-20 % of GET throughput at 64 connections; see docs/benchmarks.md). */
  ALL = 'all',
}

/**
 * Resources for the proxy container, sized from the benchmark: with 1,000
 * cached ConfigMaps of 100 keys (7.6 KB of JSON each) RSS is about 80 MiB after
 * one GET of each, so 96Mi is requested; the 256Mi limit leaves room for
 * relists and bursts of large ConfigMaps. It keeps every ConfigMap it serves
 * in memory (and Services/EndpointSlices with discovery): size up for more.
 */
export const KV_PROXY_DEFAULT_RESOURCES: kplus.ContainerResources = {
  cpu: { request: kplus.Cpu.millis(50), limit: kplus.Cpu.millis(500) },
  memory: { request: Size.mebibytes(96), limit: Size.mebibytes(256) },
};

/**
 * Props for {@link KvProxy}. The Service, Ingress, NetworkPolicy and
 * PodDisruptionBudget options are the shared {@link ExposeOptions}; the
 * NetworkPolicy's egress is the proxy's own: DNS and the API server
 * (`apiServerPorts`, `apiServerCidrs`). Bearer tokens travel in every
 * request: give the Ingress a `tlsSecret` whenever clients are outside
 * the cluster.
 */
export interface KvProxyProps extends ExposeOptions {
  /**
   * Base name of every object (Deployment, Service, ServiceAccount, Roles, ...).
   * At most 47 characters, so that suffixes such as `-tokens` still fit.
   * @default 'kv-proxy'
   */
  readonly name?: string;

  /**
   * The namespaces whose ConfigMaps (and, with `discovery`, Services) the proxy
   * serves: the allowlist (`KV_NAMESPACES`). The proxy gets a Role in each of
   * them and nothing anywhere else. They need not include the proxy's own
   * namespace. {@link KvProxy.addNamespace} adds one later.
   */
  readonly namespaces: string[];

  /**
   * Serve only these ConfigMaps (`KV_CONFIGMAP_NAMES`). The Roles then name them
   * in `resourceNames`, and `create` is not granted (RBAC cannot restrict
   * `create` by name), so the ConfigMaps must exist before clients write to them.
   * @default - every ConfigMap in the allowed namespaces (subject to `labelSelector`)
   */
  readonly configMapNames?: string[];

  /**
   * Serve only ConfigMaps matching this label selector (`KV_LABEL_SELECTOR`),
   * e.g. `kv-proxy.example.com/exposed=true`. Enforced by the proxy, not by
   * RBAC (RBAC cannot select by label).
   * @default - no label filter
   */
  readonly labelSelector?: string;

  /**
   * Allow clients holding a write token to change keys (`KV_WRITE_ENABLED`);
   * grants `patch` (and `create` when `configMapNames` is not set) on ConfigMaps.
   * @default false - read-only: the proxy cannot change anything in the cluster
   */
  readonly writes?: boolean;

  /**
   * The label, `<key>=<value>`, that opts an existing ConfigMap in to writes
   * (`KV_WRITABLE_LABEL`). With `writes`, the proxy writes only ConfigMaps
   * carrying it or named in `configMapNames`, and labels the ConfigMaps it
   * creates with it; anything else is 403. Whatever this says, it never
   * writes `kube-root-ca.crt` (and the CA bundles OpenShift and Istio publish
   * the same way), ConfigMaps with `ownerReferences`, immutable ones, or its own source.
   * @default 'kv-proxy.cdk8s-patterns.io/writable=true'
   */
  readonly writableLabel?: string;

  /**
   * Where the audit trail goes (`KV_AUDIT_LOG`): one JSON line per write
   * request (time, token name, method, namespace/configmap/key, status,
   * index), whatever `accessLog` says. Tokens themselves are never logged.
   * @default 'stdout' - on, beside the other logs, as lines with `"msg":"audit"`
   */
  readonly auditLog?: 'stdout' | 'stderr' | 'off';

  /**
   * Serve `/discover/<namespace>` (`KV_DISCOVERY_ENABLED`); grants list/watch on
   * Services and EndpointSlices in the allowed namespaces.
   * @default false - off: discovery reveals every Service and endpoint address of the allowed
   * namespaces, which a key/value client does not need; turn it on where clients use it
   */
  readonly discovery?: boolean;

  /**
   * Also speak Consul's HTTP API on the same port with the same tokens
   * (`KV_CONSUL_API`): `/v1/kv/<namespace>/<configmap>/<key>`, `/v1/txn`, and with
   * `discovery` `/v1/catalog/*` and `/v1/health/service/*` (docs/kv-proxy-consul.md).
   * It grants nothing more: the same RBAC, tokens and write rules apply.
   * @default true - on: Consul clients (consul-template, Spring Cloud Consul, Traefik,
   * Prometheus' consul_sd_configs) can use the proxy as they are
   */
  readonly consulApi?: boolean;

  /**
   * The Secret, created out of band in the proxy's namespace, holding the
   * client bearer tokens under the keys `read-tokens`, `write-tokens` and,
   * with `metricsAuth: 'token'`, `metrics-tokens` (one token per line), e.g.
   * `kplus.Secret.fromSecretName(this, 'Tokens', 'kv-clients')`. Mounted at
   * /etc/kv-proxy/tokens; the server re-reads it when it changes.
   * @default - a reference to the Secret `<name>-tokens`, which you create
   */
  readonly tokenSecret?: kplus.ISecret;

  /**
   * Number of pods, 0-1000. From 2 replicas the pods are spread over nodes
   * (preferred anti-affinity on `kubernetes.io/hostname`) and get a
   * PodDisruptionBudget.
   * @default 2
   */
  readonly replicas?: number;

  /**
   * A Node.js image (Node.js 22 or 24, the tag pinning a full version x.y.z,
   * or a digest) with `node` on the PATH; the server runs from the mounted
   * ConfigMap, so no custom image is built.
   * @default 'node:24.13.0-alpine' (`Images.NODE_LTS`)
   */
  readonly image?: string;

  /**
   * Who the proxy runs as; the ids must be able to run `node` (the official
   * image runs as any uid). Everything else (non-root, read-only root, no
   * escalation, every capability dropped, RuntimeDefault) is fixed.
   * @default - uid, gid and fsGroup 10000 (no user of the node image has it; node runs as any uid)
   */
  readonly securityContext?: WorkloadSecurityOptions;

  /**
   * Port the server listens on (`PORT`). Must be 1024 or above: the container
   * runs as non-root with every capability dropped.
   * @default 8080
   */
  readonly port?: number;

  /**
   * Container resources, merged field by field over the defaults (give only
   * `memory.limit` and the rest stays).
   * @default - 50m/500m CPU, 96Mi/256Mi memory, 64Mi/256Mi ephemeral storage
   */
  readonly resources?: kplus.ContainerResources;

  /**
   * Largest request body accepted, in bytes (`KV_MAX_BODY_BYTES`); at most
   * 1 MiB, the most a ConfigMap can hold.
   * @default 1048576
   */
  readonly maxBodyBytes?: number;

  /**
   * Longest blocking read (long poll) a client may ask for, 0-3600 s in whole
   * seconds (`KV_MAX_WAIT_SECONDS`). Keep it below the read timeout of any
   * proxy in front (ingress-nginx and most load balancers: 60 s); with an
   * Ingress it must be below `ingressReadTimeout`.
   * @default Duration.seconds(50)
   */
  readonly maxWait?: Duration;

  /**
   * The read timeout of the Ingress controller in front (1 s to 1 day, whole
   * seconds): with `ingress`, `maxWait` must stay below it, or long polls end
   * in a 504 from the controller. Set it to acknowledge a longer timeout that
   * you configured (for ingress-nginx the annotation
   * `nginx.ingress.kubernetes.io/proxy-read-timeout` in `ingress.annotations`
   * is read for you). Needs an Ingress, from `ingress` or
   * {@link KvProxy.exposeViaIngress}; without one it is refused at synth.
   * @default - the `nginx.ingress.kubernetes.io/proxy-read-timeout` annotation if set, else 60 s (ingress-nginx's default)
   */
  readonly ingressReadTimeout?: Duration;

  /**
   * How long the server drains in-flight requests after SIGTERM, 1-3600 s
   * (`KV_SHUTDOWN_TIMEOUT_SECONDS`). The pod's terminationGracePeriodSeconds is
   * set above it: drainDelay + shutdownTimeout + 5 s.
   * @default Duration.seconds(20)
   */
  readonly shutdownTimeout?: Duration;

  /**
   * How long a terminating pod keeps serving (a preStop `sleep`) before it gets
   * SIGTERM, 0-300 s, so Services and Ingress controllers stop sending it
   * traffic first. 0 disables the hook (needed for images without a `sleep` binary).
   * @default Duration.seconds(5)
   */
  readonly drainDelay?: Duration;

  /**
   * Which requests the server logs, one JSON line each (`KV_ACCESS_LOG`).
   * Headers, and so tokens, are never logged.
   * @default KvProxyAccessLog.ERRORS - 4xx, 5xx and abandoned requests only, which costs
   * successful reads nothing
   */
  readonly accessLog?: KvProxyAccessLog;

  /**
   * Longest a write waits for the Kubernetes API, every attempt together,
   * 1-60 s (`KV_UPSTREAM_TIMEOUT_SECONDS`); then it answers 503 with
   * Retry-After. The write may still have been applied: read it back, or
   * write with If-Match, before retrying.
   * @default Duration.seconds(3)
   */
  readonly upstreamTimeout?: Duration;

  /**
   * Longest a read with `?min-index=N` (or `X-Kv-Min-Index: N`) waits for this
   * replica's cache to reach index N (read-your-writes across replicas),
   * 0-60 s (`KV_CATCH_UP_TIMEOUT_SECONDS`); then it answers 504.
   * @default Duration.seconds(5)
   */
  readonly catchUpTimeout?: Duration;

  /**
   * Serve /metrics on this container port instead of the serving port
   * (`KV_METRICS_PORT`): the Service and Ingress never expose it, and a
   * NetworkPolicy lets only `metricsAllowFrom` reach it. Use it where the
   * scraper reaches pods directly (a PodMonitor).
   * @default - /metrics on the serving port, behind a metrics token (`metricsAuth`)
   */
  readonly metricsPort?: number;

  /**
   * Whether /metrics needs a bearer token from the `metrics-tokens` key of
   * the token Secret (`KV_METRICS_AUTH`). Such a token may only scrape; read
   * and write tokens are refused on /metrics.
   * @default - 'token' on the serving port; 'none' on a separate `metricsPort`
   */
  readonly metricsAuth?: 'token' | 'none';

  /**
   * Peers allowed to reach `metricsPort` (an extra NetworkPolicy, `<name>-metrics`).
   * Needs `metricsPort` and the NetworkPolicy. {@link KvProxy.allowMetricsFrom} adds one later.
   * @default - pods in the proxy's namespace
   */
  readonly metricsAllowFrom?: k8s.NetworkPolicyPeer[];

  /**
   * Addresses of the API server for the NetworkPolicy's egress rule. Whether an ipBlock matches
   * the API server (often a host-network endpoint behind the `kubernetes`
   * Service) depends on the CNI.
   * @default - any address, on `apiServerPorts` only
   */
  readonly apiServerCidrs?: string[];

  /**
   * TCP ports the API server listens on: 443 is the `kubernetes` Service, 6443
   * the usual endpoint port that egress rules see after the Service is resolved.
   * @default [443, 6443]
   */
  readonly apiServerPorts?: number[];
}

/**
 * A small HTTP proxy in front of the Kubernetes API that exposes ConfigMaps as
 * a key/value store (and, optionally, Services for discovery) to clients with
 * bearer tokens, with least-privilege RBAC per allowed namespace.
 *
 * The server (plain JavaScript, `node:` builtins only) is shipped in an
 * immutable ConfigMap named after its content (`<name>-server-<hash>`), byte
 * for byte as reviewed in lib/kv-proxy/server/, and runs on the stock Node.js
 * image: `node /opt/kv-proxy/server.js`. A new version is a new ConfigMap, so
 * it rolls the pods. Clients can never change the code the pods run: the API
 * server refuses changes to an immutable ConfigMap, the Role grants no
 * `delete` or `update`, and the server refuses writes to its own source
 * (`KV_SELF_CONFIGMAPS`, 403) and to any immutable ConfigMap (409).
 *
 * Clients authenticate with bearer tokens: put TLS in front of the proxy
 * (the shared `ingress` option's TLS) whenever clients are outside the cluster.
 * Writes whose body is a JSON object need `Content-Type: application/json`;
 * a single-key PUT stores its raw body whatever its type. Every write answers
 * the index (resourceVersion) it produced in `X-Kv-Index`; a read with
 * `?min-index=<that index>` waits, on any replica, until that replica has seen
 * it (integer resourceVersions, as every etcd-backed API server issues).
 */
export class KvProxy extends Construct {
  /** The base name of every object. */
  public readonly name: string;
  /** The recommended labels on every object (name `kv-proxy`, instance `name`, component `api`). */
  public readonly labels: Readonly<Record<string, string>>;
  /** The pod selector: `app.kubernetes.io/name` and `app.kubernetes.io/instance`. */
  public readonly selector: Readonly<Record<string, string>>;
  /** The container port the server listens on. */
  public readonly port: number;
  /** The Service port. */
  public readonly servicePort: number;
  /** Number of pods. */
  public readonly replicas: number;
  /** The container image. */
  public readonly image: string;
  /** The immutable ConfigMap holding the server source, `<name>-server-<10 hex of the content hash>`. */
  public readonly sourceConfigMap: kplus.ConfigMap;
  /** The Secret with the client tokens (made out of band), mounted at /etc/kv-proxy/tokens. */
  public readonly tokenSecret: kplus.ISecret;
  /** The proxy's own ServiceAccount. */
  public readonly serviceAccount: kplus.ServiceAccount;
  /** One Role per served namespace, by namespace. */
  public readonly roles: Record<string, k8s.KubeRole> = {};
  /** One RoleBinding per served namespace, by namespace. */
  public readonly roleBindings: Record<string, k8s.KubeRoleBinding> = {};
  /** The Deployment. */
  public readonly deployment: kplus.Deployment;
  /** The proxy container. */
  public readonly container: kplus.Container;
  /** The ClusterIP (or NodePort, LoadBalancer) Service. */
  public readonly service: kplus.Service;
  /** The NetworkPolicy, unless `networkPolicy` is false. */
  public readonly networkPolicy?: WorkloadNetworkPolicy;
  /** The PodDisruptionBudget, unless disabled (by default with 2 or more replicas). */
  public readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;
  /** The NetworkPolicy that lets `metricsAllowFrom` reach `metricsPort`, if created. */
  public readonly metricsNetworkPolicy?: k8s.KubeNetworkPolicy;

  private readonly r: ResolvedKvProxy;
  private readonly namespaces: string[];
  private readonly exposure: Exposure;
  private readonly metricsFrom: k8s.NetworkPolicyPeer[];
  private metricsRule?: k8s.NetworkPolicyIngressRule & { from?: k8s.NetworkPolicyPeer[] };

  constructor(scope: Construct, id: string, props: KvProxyProps) {
    super(scope, id);
    const r = resolveKvProxy(props, { namespace: Chart.of(this).namespace, sourceDir: this.node.tryGetContext(KV_PROXY_SOURCE_DIR_CONTEXT) });
    this.r = r;
    [this.name, this.labels, this.selector, this.port, this.replicas, this.image] = [r.name, r.labels, r.selector, r.port, r.replicas, r.image];
    this.servicePort = r.expose.servicePort;
    // immutable and named after its content: nothing can change the code a pod runs, and a new version rolls the pods
    this.sourceConfigMap = new kplus.ConfigMap(this, 'ServerSource', {
      metadata: { name: r.sourceConfigMapName },
      data: { ...r.sourceFiles },
      immutable: true,
    });
    // only the proxy pod opts in to the token; anything else using this account does not get one
    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: { name: r.name }, automountToken: false });
    this.namespaces = [];
    for (const ns of r.namespaces) this.grantNamespace(ns);
    this.deployment = this.createDeployment();
    this.tokenSecret = r.tokenSecret ?? kplus.Secret.fromSecretName(this, 'Tokens', r.tokenSecretName);
    this.container = this.addProxyContainer();
    addChecksumAnnotation(this.deployment, 'server', r.sourceFiles);
    this.exposure = exposeWorkload(this, r.expose, {
      name: r.name,
      selector: r.selector,
      targetPort: r.port,
      // DNS, for any name lookup the runtime makes (the API server itself is reached by IP),
      // and the API server: by port only unless its addresses are given
      egress: [DNS_EGRESS, apiServerEgress(r.apiServer.cidrs ? [...r.apiServer.cidrs] : undefined, [...r.apiServer.ports])],
      labels: r.labels,
    });
    [this.service, this.networkPolicy] = [this.exposure.service, this.exposure.networkPolicy];
    this.podDisruptionBudget = this.exposure.podDisruptionBudget;
    this.metricsFrom = [...(r.metrics.allowFrom ?? [])];
    this.metricsNetworkPolicy = this.createMetricsNetworkPolicy();
    this.node.addValidation({ validate: () => checkIngressReadTimeoutUsed(r.timeouts.ingressReadGiven, this.ingress) });
    applyLabels(this, this.labels);
  }

  /** The Ingress, when there is one (from the `ingress` prop or {@link KvProxy.exposeViaIngress}). */
  public get ingress(): kplus.Ingress | undefined {
    return this.exposure.ingress;
  }

  /**
   * Serves one more namespace: adds it to `KV_NAMESPACES` and creates a Role
   * and RoleBinding there, as an entry of the `namespaces` prop does (the same
   * checks, and errors that name `namespaces`).
   */
  public addNamespace(namespace: string): void {
    const all = checkNamespaces([...this.namespaces, namespace], this.r);
    this.grantNamespace(all[all.length - 1]);
    this.container.env.addVariable('KV_NAMESPACES', kplus.EnvValue.fromValue(this.namespaces.join(',')));
    applyLabels(this, this.labels);
  }

  /**
   * Lets `peer` reach `metricsPort`, as an entry of the `metricsAllowFrom` prop
   * (so, as with the prop, the proxy's own namespace is no longer let in by default).
   */
  public allowMetricsFrom(peer: k8s.NetworkPolicyPeer): void {
    checkMetricsAllowFrom([...this.metricsFrom, peer], this.r.metrics.port, this.r.expose);
    this.metricsFrom.push(peer);
    this.refreshMetricsFrom();
  }

  /** Lets `peer` connect to the serving port, as an entry of `networkPolicy.allowFrom`. */
  public allowFrom(peer: k8s.NetworkPolicyPeer): void {
    this.exposure.allowFrom(peer);
  }

  /** Lets the pods of these namespaces connect, as entries of `networkPolicy.allowFromNamespaces`. */
  public allowFromNamespaces(...namespaces: string[]): void {
    this.exposure.allowFromNamespaces(...namespaces);
  }

  /**
   * Creates the Ingress, as the `ingress` prop does (one per proxy), with the
   * same check of `maxWait` against the controller's read timeout
   * (`ingressReadTimeout`, else the `nginx.ingress.kubernetes.io/proxy-read-timeout`
   * annotation, else 60 s).
   */
  public exposeViaIngress(options: IngressOptions): kplus.Ingress {
    const annotations = options !== null && typeof options === 'object' ? options.annotations : undefined;
    checkIngressReadTimeout(
      this.r.timeouts.maxWait,
      this.r.timeouts.ingressReadGiven,
      annotations !== null && typeof annotations === 'object' ? annotations : undefined,
    );
    return this.exposure.exposeViaIngress(options);
  }

  /**
   * Lets the pods connect to `peer` (on `options.ports` only, when given),
   * beyond what the pattern's NetworkPolicy already allows (DNS and the API server).
   */
  public allowEgressTo(peer: k8s.NetworkPolicyPeer, options: EgressOptions = {}): void {
    if (!this.networkPolicy) {
      throw new Error(`allowEgressTo needs the NetworkPolicy, got networkPolicy false for "${this.name}" (manage traffic yourself)`);
    }
    this.networkPolicy.allowEgressTo(peer, options);
  }

  /** A Role and RoleBinding in `target`, bound to the proxy's own ServiceAccount. */
  private grantNamespace(target: string): void {
    const rbac = this.node.tryFindChild('Rbac') ?? new Construct(this, 'Rbac');
    const scope = new Construct(rbac, target);
    const role = new k8s.KubeRole(scope, 'Role', { metadata: { name: this.r.name, namespace: target }, rules: [...this.r.rules] });
    this.roles[target] = role;
    this.roleBindings[target] = new k8s.KubeRoleBinding(scope, 'RoleBinding', {
      metadata: { name: this.r.name, namespace: target },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.name },
      subjects: [{ kind: 'ServiceAccount', name: this.serviceAccount.name, namespace: this.r.namespace }],
    });
    this.namespaces.push(target);
  }

  /** The Deployment: the proxy's ServiceAccount token, stable selector, spread over nodes from 2 replicas. */
  private createDeployment(): kplus.Deployment {
    const ids = this.r.securityContext;
    const deployment = new kplus.Deployment(this, 'Resource', {
      metadata: { name: this.r.name },
      replicas: this.r.replicas,
      select: false,
      serviceAccount: this.serviceAccount,
      securityContext: hardenedPodProps({ user: ids.user, group: ids.group, fsGroup: ids.fsGroup }).securityContext,
      // the server calls the API server with this pod's own ServiceAccount token
      automountServiceAccountToken: true,
      terminationGracePeriod: Duration.seconds(this.r.timeouts.terminationGracePeriod),
    });
    // an explicit, stable selector (a Deployment's selector is immutable): name + instance
    selectPods(deployment, this.r.selector);
    // prefer spreading the replicas over nodes, without blocking scheduling on a single node
    applySpread(deployment, this.r.selector, this.r.replicas);
    // no env vars for every Service in the namespace (KUBERNETES_SERVICE_* is always set)
    ApiObject.of(deployment).addJsonPatch(JsonPatch.add('/spec/template/spec/enableServiceLinks', false));
    return deployment;
  }

  /** The proxy container, running the mounted server source with the token Secret. */
  private addProxyContainer(): kplus.Container {
    const r = this.r;
    const sourceVolume = kplus.Volume.fromConfigMap(this, 'ServerSourceVolume', this.sourceConfigMap, { name: 'server', defaultMode: 0o444 });
    const tokenVolume = kplus.Volume.fromSecret(this, 'TokensVolume', this.tokenSecret, { name: 'tokens', defaultMode: 0o440 });
    const drain = r.timeouts.drainDelay;
    const container = this.deployment.addContainer(
      hardenedContainer({
        name: 'kv-proxy',
        image: r.image,
        command: ['node', ...KV_PROXY_NODE_FLAGS, `${KV_PROXY_SOURCE_PATH}/${KV_PROXY_ENTRY}`],
        ports: [{ name: 'http', number: r.port }, ...(r.metrics.port !== undefined ? [{ name: 'metrics', number: r.metrics.port }] : [])],
        envVariables: Object.fromEntries(Object.entries(r.serverEnv).map(([k, v]) => [k, kplus.EnvValue.fromValue(v)])),
        liveness: kplus.Probe.fromHttpGet('/healthz', {
          port: r.port,
          periodSeconds: Duration.seconds(10),
          timeoutSeconds: Duration.seconds(2),
          failureThreshold: 3,
        }),
        readiness: kplus.Probe.fromHttpGet('/readyz', {
          port: r.port,
          periodSeconds: Duration.seconds(5),
          timeoutSeconds: Duration.seconds(2),
          failureThreshold: 2,
        }),
        lifecycle: drain > 0 ? { preStop: kplus.Handler.fromCommand(['sleep', String(drain)]) } : undefined,
        resources: r.resources,
        securityContext: { user: r.securityContext.user, group: r.securityContext.group },
      }),
    );
    container.mount(KV_PROXY_SOURCE_PATH, sourceVolume, { readOnly: true });
    container.mount(KV_PROXY_TOKENS_PATH, tokenVolume, { readOnly: true });
    return container;
  }

  /** NetworkPolicies add up: with `metricsPort` (and the NetworkPolicy), one that only opens the metrics port to the scrapers. */
  private createMetricsNetworkPolicy(): k8s.KubeNetworkPolicy | undefined {
    if (this.r.metrics.port === undefined || !this.networkPolicy) return undefined;
    // the policy holds this rule object, so allowMetricsFrom extends it
    this.metricsRule = { from: [], ports: [tcpPort(this.r.metrics.port)] };
    this.refreshMetricsFrom();
    return new k8s.KubeNetworkPolicy(this, 'MetricsNetworkPolicy', {
      metadata: { name: `${this.r.name}-metrics` },
      spec: { podSelector: { matchLabels: { ...this.r.selector } }, policyTypes: ['Ingress'], ingress: [this.metricsRule] },
    });
  }

  private refreshMetricsFrom(): void {
    if (this.metricsRule) this.metricsRule.from = this.metricsFrom.length ? [...this.metricsFrom] : [{ podSelector: {} }];
  }
}

/**
 * The context key that points the construct at another server source folder
 * (every `*.js` directly in it, with `server.js`): a test hook, for running
 * the construct against a changed server. Set it on the chart before the
 * construct is created: `chart.node.setContext(KV_PROXY_SOURCE_DIR_CONTEXT, dir)`.
 * @internal
 */
export const KV_PROXY_SOURCE_DIR_CONTEXT = 'cdk8s-patterns:kv-proxy:sourceDir';

/** What {@link resolveKvProxy} needs from the construct tree. @internal */
export interface KvProxyResolveContext {
  /** The chart's namespace, where the proxy runs. */
  readonly namespace?: string;
  /** The server source folder; KV_PROXY_SERVER_DIR when left out. */
  readonly sourceDir?: string;
}

/** {@link KvProxyProps} with every default decided and every value checked; plain data. @internal */
export interface ResolvedKvProxy {
  readonly name: string;
  /** The namespace the proxy runs in (the chart's). */
  readonly namespace: string;
  readonly namespaces: readonly string[];
  readonly configMapNames?: readonly string[];
  readonly labelSelector?: string;
  readonly writes: boolean;
  readonly writableLabel: string;
  readonly auditLog: 'stdout' | 'stderr' | 'off';
  readonly discovery: boolean;
  readonly consulApi: boolean;
  /** The name of the token Secret. */
  readonly tokenSecretName: string;
  /** The token Secret as given, if given. */
  readonly tokenSecret?: kplus.ISecret;
  readonly replicas: number;
  readonly image: string;
  readonly securityContext: ResolvedSecurity;
  readonly port: number;
  readonly resources: kplus.ContainerResources;
  readonly maxBodyBytes: number;
  readonly accessLog: KvProxyAccessLog;
  /** Every time, in whole seconds. */
  readonly timeouts: {
    readonly maxWait: number;
    /** `ingressReadTimeout` as given: checked with the `ingress` prop or by `exposeViaIngress`; refused at synth without an Ingress. */
    readonly ingressReadGiven?: number;
    /** The Ingress controller's read timeout that `maxWait` was checked against, with an `ingress`. */
    readonly ingressRead?: number;
    readonly shutdown: number;
    readonly drainDelay: number;
    readonly upstream: number;
    readonly catchUp: number;
    /** drainDelay + shutdown + 5. */
    readonly terminationGracePeriod: number;
  };
  readonly metrics: { readonly port?: number; readonly auth: 'token' | 'none'; readonly allowFrom?: readonly k8s.NetworkPolicyPeer[] };
  readonly apiServer: { readonly cidrs?: readonly string[]; readonly ports: readonly number[] };
  readonly expose: ResolvedExpose;
  readonly labels: Readonly<Record<string, string>>;
  readonly selector: Readonly<Record<string, string>>;
  /** The folder the server source was read from. */
  readonly sourceDir: string;
  /** The server's source files as shipped: file name to content, sorted by name. */
  readonly sourceFiles: Readonly<Record<string, string>>;
  /** sha256 of the source files, the pod-template `checksum/server` annotation. */
  readonly sourceHash: string;
  /** `<name>-server-<10 hex of the content hash>`. */
  readonly sourceConfigMapName: string;
  /** The RBAC rules each Role grants (the same in every namespace). */
  readonly rules: readonly k8s.PolicyRule[];
  /** The environment of the container, as the server reads it. */
  readonly serverEnv: Readonly<Record<string, string>>;
}

/**
 * Validates {@link KvProxyProps} and decides every default; reads the server
 * source; creates no construct.
 * @internal
 */
export function resolveKvProxy(props: KvProxyProps, context: KvProxyResolveContext): ResolvedKvProxy {
  validateKnownProps(props, KV_PROXY_PROPS, 'KvProxy props');
  const name = validateDnsLabel(props.name ?? 'kv-proxy', 'name');
  if (name.length > 47) throw new Error(`name must be at most 47 characters (object names append suffixes such as "-tokens"), got "${name}"`);
  const namespace = context.namespace;
  if (!namespace) {
    throw new Error(
      'KvProxy needs a namespace: set `namespace` on its chart ' + "(the RoleBindings in other namespaces must name the ServiceAccount's namespace)",
    );
  }
  const scope = resolveScope(props);
  const sourceDir = context.sourceDir ?? KV_PROXY_SERVER_DIR;
  const sourceFiles = readServerSource(sourceDir);
  const sourceConfigMapName = `${name}-server-${contentHash(sourceFiles, 10)}`;
  const partial = { namespace, configMapNames: scope.configMapNames, sourceConfigMapName };
  const namespaces = checkNamespaces(props.namespaces, partial);
  const replicas = resolveReplicas(props.replicas);
  const expose = resolveExpose(props, replicas);
  const timeouts = resolveTimeouts(props, expose);
  if (scope.writes && (expose.serviceType === kplus.ServiceType.NODE_PORT || expose.serviceType === kplus.ServiceType.LOAD_BALANCER)) {
    throw new Error(
      `serviceType must be ClusterIP when writes is true, got "${expose.serviceType}": a ${expose.serviceType} Service ` +
        'carries the bearer tokens and the writes in cleartext; expose it through ingress with ingress.tlsSecret instead',
    );
  }
  const apiServer = resolveApiServer(props, expose);
  const port = validateUnprivilegedPort(props.port ?? 8080, 'port');
  const metrics = resolveMetrics(props, port, expose);
  const tokenSecret = props.tokenSecret === undefined ? undefined : resolveSecretRef(props.tokenSecret, 'tokenSecret', `${name}-tokens`);
  const labels = recommendedLabels({ name: 'kv-proxy', instance: name, component: 'api' });
  const r = {
    name,
    namespace,
    namespaces,
    ...scope,
    tokenSecretName: tokenSecret?.name ?? `${name}-tokens`,
    tokenSecret,
    replicas,
    image: validateNodeImage(props.image ?? KV_PROXY_DEFAULT_IMAGE, 'image'),
    securityContext: resolveSecurity(props.securityContext, 'securityContext', { user: KV_PROXY_NODE_USER }),
    port,
    resources: mergeResources(KV_PROXY_DEFAULT_RESOURCES, props.resources, 'resources'),
    maxBodyBytes: validatePositiveInteger(props.maxBodyBytes ?? MAX_CONFIGMAP_BYTES, 'maxBodyBytes', 1, MAX_CONFIGMAP_BYTES),
    accessLog: validateOneOf(props.accessLog ?? KvProxyAccessLog.ERRORS, KvProxyAccessLog, 'accessLog'),
    timeouts,
    metrics,
    apiServer,
    expose,
    labels,
    selector: selectorLabels(labels),
    sourceDir,
    sourceFiles,
    sourceHash: contentHash(sourceFiles, 64),
    sourceConfigMapName,
    rules: kvProxyRules({ configMapNames: scope.configMapNames, writes: scope.writes, discovery: scope.discovery }),
  };
  return Object.freeze({ ...r, serverEnv: serverEnv(r) });
}

/** What the proxy serves and may do: namespaces aside, the props that shape the RBAC rules and the server's scope. */
function resolveScope(props: KvProxyProps) {
  let configMapNames: string[] | undefined;
  if (props.configMapNames !== undefined) {
    configMapNames = validateUniqueList(props.configMapNames, 'configMapNames', (v, p) => validateDnsSubdomain(v, p));
    if (configMapNames.length === 0) throw new Error('configMapNames must not be empty (omit it to serve every ConfigMap), got []');
  }
  const labelSelector = props.labelSelector === undefined ? undefined : validateKvLabelSelector(props.labelSelector);
  const writes = validateBoolean(props.writes ?? false, 'writes');
  const writableLabel = validateWritableLabel(props.writableLabel ?? KV_PROXY_WRITABLE_LABEL);
  const published = writes ? configMapNames?.find((n) => CLUSTER_CONFIGMAPS.has(n)) : undefined;
  if (published) {
    throw new Error(`configMapNames must not include "${published}" when writes is true: the cluster publishes it and the proxy never writes it`);
  }
  const auditLog = props.auditLog ?? 'stdout';
  if (!['stdout', 'stderr', 'off'].includes(auditLog)) throw new Error(`auditLog must be one of stdout, stderr, off, got "${auditLog}"`);
  const discovery = validateBoolean(props.discovery ?? false, 'discovery');
  const consulApi = validateBoolean(props.consulApi ?? true, 'consulApi');
  return { configMapNames, labelSelector, writes, writableLabel, auditLog, discovery, consulApi };
}

/**
 * The served namespaces (the `namespaces` prop, or it plus {@link KvProxy.addNamespace}'s):
 * DNS labels, no repeats, at least one, and not the proxy's own when `configMapNames` names its source.
 */
function checkNamespaces(
  namespaces: string[],
  r: { readonly namespace: string; readonly configMapNames?: readonly string[]; readonly sourceConfigMapName: string },
): string[] {
  const list = validateUniqueList(namespaces, 'namespaces', (v, p) => validateDnsLabel(v, p));
  if (list.length === 0) throw new Error('namespaces must list at least one namespace to serve, got []');
  if (r.configMapNames?.includes(r.sourceConfigMapName) && list.includes(r.namespace)) {
    throw new Error(`configMapNames must not include the proxy's own source ConfigMap, got "${r.sourceConfigMapName}"`);
  }
  return list;
}

/** `labelSelector`: a selector the server's own parser accepts, not empty, no empty set. */
function validateKvLabelSelector(selector: string): string {
  if (typeof selector !== 'string') throw new Error(`labelSelector must be a string such as "app=kv,tier in (a,b)", got ${JSON.stringify(selector)}`);
  let parsed: { requirements: unknown[] };
  try {
    parsed = parseLabelSelector(selector);
  } catch (err) {
    throw new Error(`labelSelector must be a Kubernetes label selector such as "app=kv,tier in (a,b)", got "${selector}": ${(err as Error).message}`);
  }
  if (parsed.requirements.length === 0) throw new Error(`labelSelector must not be empty (omit it to serve every ConfigMap), got "${selector}"`);
  // the API server refuses an empty set ("values set can't be empty"): every list call would fail with 400
  const emptySet = /([A-Za-z0-9_./-]+)\s+(in|notin)\s*\(\s*\)/.exec(selector);
  if (emptySet) {
    throw new Error(`labelSelector must list at least one value in "${emptySet[0]}" (the API server refuses an empty set), got "${selector}"`);
  }
  return selector.trim();
}

/** Every time prop in whole seconds, with the Ingress read-timeout check. */
function resolveTimeouts(props: KvProxyProps, expose: ResolvedExpose): ResolvedKvProxy['timeouts'] {
  const maxWait = toWholeSeconds(props.maxWait, 'maxWait', Duration.seconds(50), 0, 3600);
  const given =
    props.ingressReadTimeout === undefined
      ? undefined
      : toWholeSeconds(props.ingressReadTimeout, 'ingressReadTimeout', Duration.seconds(60), 1, 86400);
  const ingressRead = expose.ingress ? checkIngressReadTimeout(maxWait, given, expose.ingress.annotations) : undefined;
  const shutdown = toWholeSeconds(props.shutdownTimeout, 'shutdownTimeout', Duration.seconds(20), 1, 3600);
  const drainDelay = toWholeSeconds(props.drainDelay, 'drainDelay', Duration.seconds(5), 0, 300);
  const upstream = toWholeSeconds(props.upstreamTimeout, 'upstreamTimeout', Duration.seconds(3), 1, 60);
  const catchUp = toWholeSeconds(props.catchUpTimeout, 'catchUpTimeout', Duration.seconds(5), 0, 60);
  const terminationGracePeriod = drainDelay + shutdown + 5;
  return { maxWait, ingressReadGiven: given, ingressRead, shutdown, drainDelay, upstream, catchUp, terminationGracePeriod };
}

/** `apiServerPorts` and `apiServerCidrs`: only with the NetworkPolicy they shape. */
function resolveApiServer(props: KvProxyProps, expose: ResolvedExpose): ResolvedKvProxy['apiServer'] {
  if (!expose.networkPolicy && (props.apiServerCidrs || props.apiServerPorts)) {
    throw new Error('networkPolicy is false but apiServerCidrs or apiServerPorts is set: remove them or enable the NetworkPolicy');
  }
  const ports = validateUniqueList(props.apiServerPorts ?? [443, 6443], 'apiServerPorts', validatePort);
  if (ports.length === 0) throw new Error('apiServerPorts must list at least one port, got []');
  let cidrs: string[] | undefined;
  if (props.apiServerCidrs !== undefined) {
    cidrs = validateUniqueList(props.apiServerCidrs, 'apiServerCidrs', validateCidr);
    if (cidrs.length === 0) throw new Error('apiServerCidrs must not be empty (omit it to allow any address on the API server ports), got []');
  }
  return { cidrs, ports };
}

/** `metricsPort`, `metricsAuth` and `metricsAllowFrom`. */
function resolveMetrics(props: KvProxyProps, port: number, expose: ResolvedExpose): ResolvedKvProxy['metrics'] {
  let metricsPort: number | undefined;
  if (props.metricsPort !== undefined) {
    metricsPort = validateUnprivilegedPort(props.metricsPort, 'metricsPort');
    if (metricsPort === port) throw new Error(`metricsPort must differ from port, got ${metricsPort} for both`);
  }
  if (props.metricsAllowFrom !== undefined) {
    if (metricsPort !== undefined && expose.networkPolicy && (!Array.isArray(props.metricsAllowFrom) || props.metricsAllowFrom.length === 0)) {
      throw new Error(
        "metricsAllowFrom must list at least one peer (omit it for the proxy's own namespace), " + `got ${JSON.stringify(props.metricsAllowFrom)}`,
      );
    }
    checkMetricsAllowFrom(props.metricsAllowFrom, metricsPort, expose);
  }
  const auth = props.metricsAuth ?? (metricsPort === undefined ? 'token' : 'none');
  validateOneOf(auth, ['token', 'none'], 'metricsAuth');
  return { port: metricsPort, auth, allowFrom: props.metricsAllowFrom === undefined ? undefined : [...props.metricsAllowFrom] };
}

/** `metricsAllowFrom` (the prop, or it plus {@link KvProxy.allowMetricsFrom}'s peers): needs metricsPort and the NetworkPolicy. */
function checkMetricsAllowFrom(peers: k8s.NetworkPolicyPeer[], metricsPort: number | undefined, expose: ResolvedExpose): void {
  if (metricsPort === undefined) {
    throw new Error(
      'metricsAllowFrom is set without metricsPort: /metrics is on the serving port, reachable as the serving port is; ' +
        'set metricsPort or remove metricsAllowFrom',
    );
  }
  if (!expose.networkPolicy) {
    throw new Error(
      'metricsAllowFrom is set but networkPolicy is false: it only shapes the NetworkPolicy in front of metricsPort, ' +
        'which is not created; remove metricsAllowFrom or enable networkPolicy',
    );
  }
  peers.forEach((peer, i) => validateNetworkPolicyPeer(peer, `metricsAllowFrom[${i}]`));
}

/** The container's environment: the server's whole configuration. */
function serverEnv(r: Omit<ResolvedKvProxy, 'serverEnv'>): Record<string, string> {
  return {
    PORT: String(r.port),
    KV_NAMESPACES: r.namespaces.join(','),
    ...(r.configMapNames ? { KV_CONFIGMAP_NAMES: r.configMapNames.join(',') } : {}),
    ...(r.labelSelector ? { KV_LABEL_SELECTOR: r.labelSelector } : {}),
    KV_WRITE_ENABLED: String(r.writes),
    KV_DISCOVERY_ENABLED: String(r.discovery),
    KV_CONSUL_API: String(r.consulApi),
    KV_TOKENS_DIR: KV_PROXY_TOKENS_PATH,
    KV_MAX_BODY_BYTES: String(r.maxBodyBytes),
    KV_MAX_WAIT_SECONDS: String(r.timeouts.maxWait),
    KV_SHUTDOWN_TIMEOUT_SECONDS: String(r.timeouts.shutdown),
    // never written nor created through the proxy, whatever the RBAC allows: this
    // version's source and any other (a previous or next version, or one re-created)
    KV_SELF_CONFIGMAPS: `${r.namespace}/${r.name}-server-*`,
    KV_ACCESS_LOG: r.accessLog,
    KV_UPSTREAM_TIMEOUT_SECONDS: String(r.timeouts.upstream),
    KV_CATCH_UP_TIMEOUT_SECONDS: String(r.timeouts.catchUp),
    ...(r.metrics.port !== undefined ? { KV_METRICS_PORT: String(r.metrics.port) } : {}),
    KV_METRICS_AUTH: r.metrics.auth,
    KV_WRITABLE_LABEL: r.writableLabel,
    KV_AUDIT_LOG: r.auditLog,
  };
}

/** Inputs of {@link kvProxyRules}. */
export interface KvProxyRulesOptions {
  readonly configMapNames?: string[];
  readonly writes: boolean;
  readonly discovery: boolean;
}

/**
 * The RBAC rules the proxy needs in each allowed namespace, and nothing more:
 * - ConfigMaps: get/list/watch, restricted by resourceNames when names are given;
 * - with writes: patch, and create only without names (RBAC cannot restrict
 *   create by resourceNames, so named ConfigMaps must already exist);
 * - with discovery: list/watch on Services and discovery.k8s.io EndpointSlices.
 */
export function kvProxyRules(opts: KvProxyRulesOptions): k8s.PolicyRule[] {
  const verbs = ['get', 'list', 'watch'];
  if (opts.writes) verbs.push(...(opts.configMapNames ? ['patch'] : ['create', 'patch']));
  const rules: k8s.PolicyRule[] = [
    {
      apiGroups: [''],
      resources: ['configmaps'],
      ...(opts.configMapNames ? { resourceNames: [...opts.configMapNames] } : {}),
      verbs,
    },
  ];
  if (opts.discovery) {
    rules.push(
      { apiGroups: [''], resources: ['services'], verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
    );
  }
  return rules;
}

/**
 * Reads the server's source: every regular `*.js` file directly in `dir`,
 * byte for byte, keyed by file name and sorted. Fails when `server.js` is
 * missing, a file is not UTF-8, or the whole would not fit in a ConfigMap.
 */
export function readServerSource(dir: string = KV_PROXY_SERVER_DIR): Record<string, string> {
  const entries = readLocalDirectory(dir, 'sourceDir', { recursive: false, include: (name, isDir) => !isDir && name.endsWith('.js') });
  const names = entries.map((e) => e.path);
  if (!names.includes(KV_PROXY_ENTRY)) {
    throw new Error(
      `sourceDir "${dir}" has no ${KV_PROXY_ENTRY} (found: ${names.join(', ') || 'no .js files'}): ` +
        `the pod runs node ${KV_PROXY_SOURCE_PATH}/${KV_PROXY_ENTRY}`,
    );
  }
  // the file names are the keys: the server requires './x.js' by name
  for (const name of names) validateConfigMapKey(name, `sourceDir file name "${name}"`);
  return toConfigMapData(entries, 'sourceDir', { binary: false, tooLargeHint: 'the server source must fit in one ConfigMap' }).data;
}

/** `writableLabel`: exactly one `<key>=<value>` label with a non-empty value. */
function validateWritableLabel(label: string): string {
  const wrong = (why: string) =>
    new Error(`writableLabel must be one label "<key>=<value>", e.g. "${KV_PROXY_WRITABLE_LABEL}", ` + `got ${JSON.stringify(label)}: ${why}`);
  if (typeof label !== 'string') throw wrong('not a string');
  let parsed: { requirements: Array<{ op: string; values: string[] }> };
  try {
    parsed = parseLabelSelector(label);
  } catch (err) {
    throw wrong((err as Error).message);
  }
  const [r, more] = parsed.requirements;
  if (!r || more || r.op !== 'eq' || r.values[0] === '') throw wrong('it must be exactly one "<key>=<value>" with a non-empty value');
  return label.trim();
}

/** The Node.js major versions the server (lib/kv-proxy/server) is tested on and supports. */
export const KV_PROXY_NODE_MAJOR_VERSIONS: readonly number[] = [22, 24];

/**
 * A Node.js image the shipped server can run on: when the tag names a Node
 * version (`node:24.13.0-alpine`, `22-slim`, `v22.1.0`), its major must be in
 * {@link KV_PROXY_NODE_MAJOR_VERSIONS}. A tag that names no version (a
 * digest, a house build) is accepted as is.
 */
export function validateNodeImage(image: string, prop: string): string {
  const ref = parseImage(image, prop);
  const m = ref.tag === undefined ? null : /^v?(\d+)(?:[.-]|$)/.exec(ref.tag);
  if (!ref.digest && !(ref.tag !== undefined && /^v?\d+\.\d+\.\d+(?:[-.].*)?$/.test(ref.tag))) {
    throw new Error(
      `${prop} must pin a full Node.js version x.y.z in its tag (e.g. "node:24.13.0-alpine") or a digest, got "${image}": ` +
        'a floating tag such as "22", "22-alpine" or "lts" moves to new releases without a change here',
    );
  }
  if (m && !KV_PROXY_NODE_MAJOR_VERSIONS.includes(Number(m[1]))) {
    throw new Error(
      `${prop} must run Node.js ${KV_PROXY_NODE_MAJOR_VERSIONS.join(' or ')} (the versions the server supports), ` +
        `got "${image}" (Node.js ${m[1]})`,
    );
  }
  return image;
}

/** `ingressReadTimeout` without any Ingress (neither `ingress` nor `exposeViaIngress`) shapes nothing: refused at synth. */
function checkIngressReadTimeoutUsed(given: number | undefined, ingress: kplus.Ingress | undefined): string[] {
  if (given === undefined || ingress) return [];
  return [`ingressReadTimeout only applies with ingress, got ${given} s without an ingress (set ingress or call exposeViaIngress)`];
}

/** The nginx Ingress annotation that sets the read timeout (seconds, optionally with an "s"). */
const NGINX_READ_TIMEOUT = 'nginx.ingress.kubernetes.io/proxy-read-timeout';

/**
 * With an Ingress, a long poll must end before the controller's read timeout
 * (see {@link KvProxyProps.ingressReadTimeout}): `maxWait` (seconds) below
 * `given`, else the nginx annotation, else 60 s. Returns that timeout.
 */
function checkIngressReadTimeout(maxWait: number, given: number | undefined, annotations: Record<string, string> | undefined): number {
  const annotation = annotations?.[NGINX_READ_TIMEOUT];
  const fromAnnotation = annotation === undefined ? undefined : /^\d+s?$/.test(annotation) ? parseInt(annotation, 10) : NaN;
  if (Number.isNaN(fromAnnotation)) {
    throw new Error(`ingress.annotations "${NGINX_READ_TIMEOUT}" must be a number of seconds such as "120", got ${JSON.stringify(annotation)}`);
  }
  const timeout = given ?? fromAnnotation ?? 60;
  if (maxWait >= timeout) {
    const source = given !== undefined ? 'ingressReadTimeout' : fromAnnotation !== undefined ? `from ${NGINX_READ_TIMEOUT}` : 'the common default';
    throw new Error(
      `maxWait must be below the Ingress read timeout (${timeout} s, ${source}), got ${maxWait} s: ` +
        "long polls would end in a 504 from the controller; lower maxWait, or raise the controller's timeout " +
        `and set ingressReadTimeout (or the ${NGINX_READ_TIMEOUT} annotation)`,
    );
  }
  return timeout;
}
