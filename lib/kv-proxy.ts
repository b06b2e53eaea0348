import * as path from 'node:path';
import { ApiObject, Chart, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { DNS_EGRESS, EgressOptions, ExposeOptions, ResolvedExpose, WorkloadNetworkPolicy, apiServerEgress, exposeWorkload, resolveExpose } from './expose';
import { readLocalDirectory, toConfigMapData } from './files';
import { addChecksumAnnotation, contentHash } from './hash';
import { parseImage } from './image';
import { applyLabels, recommendedLabels, selectPods, selectorLabels, spreadOverNodes } from './labels';
import { hardenedContainer, hardenedPodProps } from './security';
import {
  MAX_CONFIGMAP_BYTES, validateCidr, validateConfigMapKey, validateDnsLabel, validateDnsSubdomain, validatePort,
  validateBoolean, validateKnownProps, validateNetworkPolicyPeer, validateOneOf, validateResources, validatePositiveInteger, validateUniqueList, validateUnprivilegedPort,
} from './validate';
// The label selector is checked with the parser the server itself uses at startup,
// so a selector that synthesizes is one the pod accepts.
import { parseLabelSelector } from './kv-proxy/server/selector';
// The ConfigMaps the server never writes, whatever its configuration.
import { CLUSTER_CONFIGMAPS } from './kv-proxy/server/kv';
import { NODE_LTS_IMAGE } from './images';

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
  name: true, namespaces: true, configMapNames: true, labelSelector: true, writes: true, discovery: true, consulApi: true, tokenSecretName: true, replicas: true, image: true, user: true, port: true, resources: true, maxBodyBytes: true, maxWaitSeconds: true, ingressReadTimeoutSeconds: true, shutdownTimeoutSeconds: true, drainDelaySeconds: true, sourceDir: true, accessLog: true, upstreamTimeoutSeconds: true, catchUpTimeoutSeconds: true, metricsPort: true, metricsAuth: true, metricsAllowFrom: true, writableLabel: true, auditLog: true, apiServerCidrs: true, apiServerPorts: true, serviceType: true, servicePort: true, ingress: true, networkPolicy: true, podDisruptionBudget: true,
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
   * @default 'kv-proxy'
   */
  readonly name?: string;

  /**
   * The namespaces whose ConfigMaps (and, with `discovery`, Services) the proxy
   * serves: the allowlist (`KV_NAMESPACES`). The proxy gets a Role in each of
   * them and nothing anywhere else. They need not include the proxy's own namespace.
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
   * @default KV_PROXY_WRITABLE_LABEL ('kv-proxy.cdk8s-patterns.io/writable=true')
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
   * Name of the Secret, created out of band, holding the client bearer tokens
   * under the keys `read-tokens`, `write-tokens` and, with `metricsAuth: 'token'`,
   * `metrics-tokens` (one token per line).
   * Mounted at /etc/kv-proxy/tokens; the server re-reads it when it changes.
   * @default - `<name>-tokens`
   */
  readonly tokenSecretName?: string;

  /**
   * Number of pods.
   * @default 2
   */
  readonly replicas?: number;

  /**
   * A Node.js image (on a supported LTS line) with `node` on the PATH; the server
   * runs from the mounted ConfigMap, so no custom image is built.
   * @default KV_PROXY_DEFAULT_IMAGE ('node:24.13.0-alpine')
   */
  readonly image?: string;

  /**
   * uid and gid the container runs as; must be able to run `node`.
   * @default KV_PROXY_NODE_USER (10000)
   */
  readonly user?: number;

  /**
   * Port the server listens on (`PORT`). Must be 1024 or above: the container
   * runs as non-root with every capability dropped.
   * @default 8080
   */
  readonly port?: number;

  /**
   * Container resources.
   * @default KV_PROXY_DEFAULT_RESOURCES - 50m/500m CPU, 96Mi/256Mi memory
   */
  readonly resources?: kplus.ContainerResources;

  /**
   * Largest request body accepted, in bytes (`KV_MAX_BODY_BYTES`); at most
   * 1 MiB, the most a ConfigMap can hold.
   * @default 1048576
   */
  readonly maxBodyBytes?: number;

  /**
   * Longest blocking read (long poll) a client may ask for, in seconds
   * (`KV_MAX_WAIT_SECONDS`). Keep it below the read timeout of any proxy in
   * front (ingress-nginx and most load balancers: 60 s).
   * @default 50
   */
  readonly maxWaitSeconds?: number;

  /**
   * The read timeout of the Ingress controller in front, in seconds: with an
   * `ingress`, `maxWaitSeconds` must stay below it, or long polls end in a
   * 504 from the controller. Set it to acknowledge a longer timeout that you
   * configured (for ingress-nginx the annotation
   * `nginx.ingress.kubernetes.io/proxy-read-timeout` in `ingress.annotations`
   * is read for you).
   * @default - the `nginx.ingress.kubernetes.io/proxy-read-timeout` annotation if set, else 60 (ingress-nginx's default)
   */
  readonly ingressReadTimeoutSeconds?: number;

  /**
   * Seconds the server drains in-flight requests after SIGTERM
   * (`KV_SHUTDOWN_TIMEOUT_SECONDS`). The pod's terminationGracePeriodSeconds is
   * set above it: drainDelaySeconds + shutdownTimeoutSeconds + 5.
   * @default 20
   */
  readonly shutdownTimeoutSeconds?: number;

  /**
   * Seconds a terminating pod keeps serving (a preStop `sleep`) before it gets
   * SIGTERM, so Services and Ingress controllers stop sending it traffic first.
   * 0 disables the hook (needed for images without a `sleep` binary).
   * @default 5
   */
  readonly drainDelaySeconds?: number;

  /**
   * Directory holding the server source: every `*.js` file directly in it is
   * shipped, and it must contain `server.js`.
   * @default KV_PROXY_SERVER_DIR - lib/kv-proxy/server in this repository
   */
  readonly sourceDir?: string;

  /**
   * Which requests the server logs, one JSON line each (`KV_ACCESS_LOG`).
   * Headers, and so tokens, are never logged.
   * @default KvProxyAccessLog.ERRORS - 4xx, 5xx and abandoned requests only, which costs
   * successful reads nothing
   */
  readonly accessLog?: KvProxyAccessLog;

  /**
   * Longest a write waits for the Kubernetes API, in seconds, every attempt
   * together (`KV_UPSTREAM_TIMEOUT_SECONDS`); then it answers 503 with
   * Retry-After. The write may still have been applied: read it back, or
   * write with If-Match, before retrying.
   * @default 3
   */
  readonly upstreamTimeoutSeconds?: number;

  /**
   * Longest a read with `?min-index=N` (or `X-Kv-Min-Index: N`) waits for this
   * replica's cache to reach index N (read-your-writes across replicas), in
   * seconds (`KV_CATCH_UP_TIMEOUT_SECONDS`); then it answers 504.
   * @default 5
   */
  readonly catchUpTimeoutSeconds?: number;

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
   * Peers allowed to reach `metricsPort` (an extra NetworkPolicy).
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
  /** The namespace the proxy runs in (the chart's). */
  public readonly namespace: string;
  /** The namespaces served (KV_NAMESPACES). */
  public readonly namespaces: string[];
  /** The ConfigMap names served, if restricted. */
  public readonly configMapNames?: string[];
  /** The label selector, if any. */
  public readonly labelSelector?: string;
  /** Whether writes are enabled. */
  public readonly writes: boolean;
  /** Whether discovery is enabled. */
  public readonly discovery: boolean;
  /** Whether Consul's HTTP API is served (`/v1/...`). */
  public readonly consulApi: boolean;
  /** The out-of-band Secret with the client tokens. */
  public readonly tokenSecretName: string;
  /** Number of pods. */
  public readonly replicas: number;
  /** The container image. */
  public readonly image: string;
  /** uid/gid of the container. */
  public readonly user: number;
  /** The container port. */
  public readonly port: number;
  /** The Service port. */
  public readonly servicePort: number;
  /** The Service type. */
  public readonly serviceType: kplus.ServiceType;
  /** TCP ports the NetworkPolicy lets the proxy reach the API server on. */
  public readonly apiServerPorts: number[];
  /** API server addresses the NetworkPolicy allows, if restricted. */
  public readonly apiServerCidrs?: string[];
  /** The recommended labels on every object (name `kv-proxy`, instance `name`). */
  public readonly labels: Readonly<Record<string, string>>;
  /** The pod selector: `app.kubernetes.io/name` and `app.kubernetes.io/instance`. */
  public readonly selector: Readonly<Record<string, string>>;
  /** KV_MAX_BODY_BYTES. */
  public readonly maxBodyBytes: number;
  /** KV_MAX_WAIT_SECONDS. */
  public readonly maxWaitSeconds: number;
  /** KV_SHUTDOWN_TIMEOUT_SECONDS. */
  public readonly shutdownTimeoutSeconds: number;
  /** preStop delay in seconds (0: no hook). */
  public readonly drainDelaySeconds: number;
  /** The pod's terminationGracePeriodSeconds. */
  public readonly terminationGracePeriodSeconds: number;
  /** The directory the server source was read from. */
  public readonly sourceDir: string;
  /** The server's source files as shipped: file name to content, sorted by name. */
  public readonly sourceFiles: Record<string, string>;
  /** sha256 of the source files, also the pod-template `checksum/server` annotation. */
  public readonly sourceHash: string;
  /** The environment of the container, as the server reads it. */
  public readonly env: Record<string, string>;
  /** Name of the immutable server-source ConfigMap: `<name>-server-<10 hex of the content hash>`. */
  public readonly sourceConfigMapName: string;
  /** KV_ACCESS_LOG. */
  public readonly accessLog: KvProxyAccessLog;
  /** KV_UPSTREAM_TIMEOUT_SECONDS. */
  public readonly upstreamTimeoutSeconds: number;
  /** KV_CATCH_UP_TIMEOUT_SECONDS. */
  public readonly catchUpTimeoutSeconds: number;
  /** KV_METRICS_PORT, if /metrics has a port of its own. */
  public readonly metricsPort?: number;
  /** KV_METRICS_AUTH. */
  public readonly metricsAuth: 'token' | 'none';
  /** KV_WRITABLE_LABEL: the label that opts a ConfigMap in to writes, `<key>=<value>`. */
  public readonly writableLabel: string;
  /** KV_AUDIT_LOG. */
  public readonly auditLog: 'stdout' | 'stderr' | 'off';
  /** The NetworkPolicy that lets `metricsAllowFrom` reach `metricsPort`, if created. */
  public readonly metricsNetworkPolicy?: k8s.KubeNetworkPolicy;

  /** ConfigMap holding the server source. */
  public readonly sourceConfigMap: kplus.ConfigMap;
  /** The proxy's own ServiceAccount. */
  public readonly serviceAccount: kplus.ServiceAccount;
  /** One Role per allowed namespace, by namespace. */
  public readonly roles: Record<string, k8s.KubeRole>;
  /** One RoleBinding per allowed namespace, by namespace. */
  public readonly roleBindings: Record<string, k8s.KubeRoleBinding>;
  /** The RBAC rules each Role grants (the same in every namespace). */
  public readonly rules: k8s.PolicyRule[];
  /** The Deployment. */
  public readonly deployment: kplus.Deployment;
  /** The proxy container. */
  public readonly container: kplus.Container;
  /** The ClusterIP Service. */
  public readonly service: kplus.Service;
  /** The Ingress, if created. */
  public readonly ingress?: kplus.Ingress;
  /** The NetworkPolicy, if created. */
  public readonly networkPolicy?: WorkloadNetworkPolicy;
  /** The PodDisruptionBudget, unless disabled (by default with 2 or more replicas). */
  public readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;

  private readonly expose: ResolvedExpose;

  constructor(scope: Construct, id: string, props: KvProxyProps) {
    super(scope, id);

    // ------------------------------------------------------------ inputs ---
    validateKnownProps(props, KV_PROXY_PROPS, 'KvProxy props');
    this.name = validateDnsLabel(props.name ?? 'kv-proxy', 'name');
    if (this.name.length > 47) throw new Error(`name must be at most 47 characters (object names append suffixes such as "-tokens"), got "${this.name}"`);
    const ns = Chart.of(this).namespace;
    if (!ns) throw new Error('KvProxy needs a namespace: set `namespace` on its chart (the RoleBindings in other namespaces must name the ServiceAccount\'s namespace)');
    this.namespace = ns;

    this.namespaces = validateUniqueList(props.namespaces, 'namespaces', (v, p) => validateDnsLabel(v, p));
    if (this.namespaces.length === 0) throw new Error('namespaces must list at least one namespace to serve, got []');
    if (props.configMapNames !== undefined) {
      this.configMapNames = validateUniqueList(props.configMapNames, 'configMapNames', (v, p) => validateDnsSubdomain(v, p));
      if (this.configMapNames.length === 0) throw new Error('configMapNames must not be empty (omit it to serve every ConfigMap), got []');
    }
    if (props.labelSelector !== undefined) {
      if (typeof props.labelSelector !== 'string') throw new Error(`labelSelector must be a string such as "app=kv,tier in (a,b)", got ${JSON.stringify(props.labelSelector)}`);
      let parsed: { requirements: unknown[] };
      try {
        parsed = parseLabelSelector(props.labelSelector);
      } catch (err) {
        throw new Error(`labelSelector must be a Kubernetes label selector such as "app=kv,tier in (a,b)", got "${props.labelSelector}": ${(err as Error).message}`);
      }
      if (parsed.requirements.length === 0) throw new Error(`labelSelector must not be empty (omit it to serve every ConfigMap), got "${props.labelSelector}"`);
      // the API server refuses an empty set ("values set can't be empty"): every list call would fail with 400
      const emptySet = /([A-Za-z0-9_./-]+)\s+(in|notin)\s*\(\s*\)/.exec(props.labelSelector);
      if (emptySet) throw new Error(`labelSelector must list at least one value in "${emptySet[0]}" (the API server refuses an empty set), got "${props.labelSelector}"`);
      this.labelSelector = props.labelSelector.trim();
    }
    this.writes = validateBoolean(props.writes ?? false, 'writes');
    this.writableLabel = validateWritableLabel(props.writableLabel ?? KV_PROXY_WRITABLE_LABEL);
    const published = this.writes ? this.configMapNames?.find((n) => CLUSTER_CONFIGMAPS.has(n)) : undefined;
    if (published) throw new Error(`configMapNames must not include "${published}" when writes is true: the cluster publishes it and the proxy never writes it`);
    this.auditLog = props.auditLog ?? 'stdout';
    if (!['stdout', 'stderr', 'off'].includes(this.auditLog)) throw new Error(`auditLog must be one of stdout, stderr, off, got "${this.auditLog}"`);
    this.discovery = validateBoolean(props.discovery ?? false, 'discovery');
    this.consulApi = validateBoolean(props.consulApi ?? true, 'consulApi');
    this.tokenSecretName = validateDnsSubdomain(props.tokenSecretName ?? `${this.name}-tokens`, 'tokenSecretName');
    this.replicas = validatePositiveInteger(props.replicas ?? 2, 'replicas', 1, 100);
    this.image = validateNodeImage(props.image ?? KV_PROXY_DEFAULT_IMAGE, 'image');
    this.user = validatePositiveInteger(props.user ?? KV_PROXY_NODE_USER, 'user', 1, 2147483647);
    this.port = validateUnprivilegedPort(props.port ?? 8080, 'port');
    this.expose = resolveExpose(props, this.replicas);
    this.servicePort = this.expose.servicePort;
    this.serviceType = this.expose.serviceType;
    this.maxBodyBytes = validatePositiveInteger(props.maxBodyBytes ?? MAX_CONFIGMAP_BYTES, 'maxBodyBytes', 1, MAX_CONFIGMAP_BYTES);
    this.maxWaitSeconds = validatePositiveInteger(props.maxWaitSeconds ?? 50, 'maxWaitSeconds', 0, 3600);
    checkIngressReadTimeout(this.expose, this.maxWaitSeconds, props.ingressReadTimeoutSeconds);
    if (this.writes && (this.serviceType === kplus.ServiceType.NODE_PORT || this.serviceType === kplus.ServiceType.LOAD_BALANCER)) {
      throw new Error(`serviceType must be ClusterIP when writes is true, got "${this.serviceType}": a ${this.serviceType} Service carries the bearer tokens and the writes in cleartext; `
        + 'expose it through ingress with ingress.tlsSecret instead');
    }
    this.shutdownTimeoutSeconds = validatePositiveInteger(props.shutdownTimeoutSeconds ?? 20, 'shutdownTimeoutSeconds', 1, 3600);
    this.drainDelaySeconds = validatePositiveInteger(props.drainDelaySeconds ?? 5, 'drainDelaySeconds', 0, 300);
    this.terminationGracePeriodSeconds = this.drainDelaySeconds + this.shutdownTimeoutSeconds + 5;

    if (!this.expose.networkPolicy && (props.apiServerCidrs || props.apiServerPorts)) {
      throw new Error('networkPolicy is false but apiServerCidrs or apiServerPorts is set: remove them or enable the NetworkPolicy');
    }
    this.apiServerPorts = validateUniqueList(props.apiServerPorts ?? [443, 6443], 'apiServerPorts', validatePort);
    if (this.apiServerPorts.length === 0) throw new Error('apiServerPorts must list at least one port, got []');
    if (props.apiServerCidrs !== undefined) {
      this.apiServerCidrs = validateUniqueList(props.apiServerCidrs, 'apiServerCidrs', validateCidr);
      if (this.apiServerCidrs.length === 0) throw new Error('apiServerCidrs must not be empty (omit it to allow any address on the API server ports), got []');
    }
    this.labels = recommendedLabels({ name: 'kv-proxy', instance: this.name, component: 'api' });
    this.selector = selectorLabels(this.labels);

    // ------------------------------------------------------ server source ---
    this.sourceDir = props.sourceDir ?? KV_PROXY_SERVER_DIR;
    this.sourceFiles = readServerSource(this.sourceDir);
    this.sourceConfigMapName = `${this.name}-server-${contentHash(this.sourceFiles, 10)}`;
    if (this.configMapNames?.includes(this.sourceConfigMapName) && this.namespaces.includes(this.namespace)) {
      throw new Error(`configMapNames must not include the proxy's own source ConfigMap, got "${this.sourceConfigMapName}"`);
    }
    this.accessLog = validateOneOf(props.accessLog ?? KvProxyAccessLog.ERRORS, KvProxyAccessLog, 'accessLog');
    this.upstreamTimeoutSeconds = validatePositiveInteger(props.upstreamTimeoutSeconds ?? 3, 'upstreamTimeoutSeconds', 1, 60);
    this.catchUpTimeoutSeconds = validatePositiveInteger(props.catchUpTimeoutSeconds ?? 5, 'catchUpTimeoutSeconds', 0, 60);
    if (props.metricsPort !== undefined) {
      this.metricsPort = validateUnprivilegedPort(props.metricsPort, 'metricsPort');
      if (this.metricsPort === this.port) throw new Error(`metricsPort must differ from port, got ${this.metricsPort} for both`);
      if (props.metricsAllowFrom !== undefined && !this.expose.networkPolicy) {
        throw new Error('metricsAllowFrom is set but networkPolicy is false: it only shapes the NetworkPolicy in front of metricsPort, which is not created; remove metricsAllowFrom or enable networkPolicy');
      }
      if (props.metricsAllowFrom !== undefined && (!Array.isArray(props.metricsAllowFrom) || props.metricsAllowFrom.length === 0)) {
        throw new Error(`metricsAllowFrom must list at least one peer (omit it for the proxy's own namespace), got ${JSON.stringify(props.metricsAllowFrom)}`);
      }
      (props.metricsAllowFrom ?? []).forEach((peer, i) => validateNetworkPolicyPeer(peer, `metricsAllowFrom[${i}]`));
    } else if (props.metricsAllowFrom !== undefined) {
      throw new Error('metricsAllowFrom is set without metricsPort: /metrics is on the serving port, reachable as the serving port is; set metricsPort or remove metricsAllowFrom');
    }
    this.metricsAuth = props.metricsAuth ?? (this.metricsPort === undefined ? 'token' : 'none');
    validateOneOf(this.metricsAuth, ['token', 'none'], 'metricsAuth');
    this.env = {
      PORT: String(this.port),
      KV_NAMESPACES: this.namespaces.join(','),
      ...(this.configMapNames ? { KV_CONFIGMAP_NAMES: this.configMapNames.join(',') } : {}),
      ...(this.labelSelector ? { KV_LABEL_SELECTOR: this.labelSelector } : {}),
      KV_WRITE_ENABLED: String(this.writes),
      KV_DISCOVERY_ENABLED: String(this.discovery),
      KV_CONSUL_API: String(this.consulApi),
      KV_TOKENS_DIR: KV_PROXY_TOKENS_PATH,
      KV_MAX_BODY_BYTES: String(this.maxBodyBytes),
      KV_MAX_WAIT_SECONDS: String(this.maxWaitSeconds),
      KV_SHUTDOWN_TIMEOUT_SECONDS: String(this.shutdownTimeoutSeconds),
      // never written nor created through the proxy, whatever the RBAC allows: this
      // version's source and any other (a previous or next version, or one re-created)
      KV_SELF_CONFIGMAPS: `${this.namespace}/${this.name}-server-*`,
      KV_ACCESS_LOG: this.accessLog,
      KV_UPSTREAM_TIMEOUT_SECONDS: String(this.upstreamTimeoutSeconds),
      KV_CATCH_UP_TIMEOUT_SECONDS: String(this.catchUpTimeoutSeconds),
      ...(this.metricsPort !== undefined ? { KV_METRICS_PORT: String(this.metricsPort) } : {}),
      KV_METRICS_AUTH: this.metricsAuth,
      KV_WRITABLE_LABEL: this.writableLabel,
      KV_AUDIT_LOG: this.auditLog,
    };

    // Immutable and named after its content: nothing can change the code a
    // pod runs, and a new version is a new ConfigMap that rolls the pods.
    this.sourceConfigMap = new kplus.ConfigMap(this, 'ServerSource', {
      metadata: { name: this.sourceConfigMapName },
      data: this.sourceFiles,
      immutable: true,
    });

    // ------------------------------------------------- RBAC and workload ---
    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name: this.name },
      // only the proxy pod opts in to the token; anything else using this account does not get one
      automountToken: false,
    });
    this.rules = kvProxyRules({ configMapNames: this.configMapNames, writes: this.writes, discovery: this.discovery });
    const rbac = this.createRbac();
    this.roles = rbac.roles;
    this.roleBindings = rbac.roleBindings;
    this.deployment = this.createDeployment();
    this.container = this.addProxyContainer(validateResources(props.resources ?? KV_PROXY_DEFAULT_RESOURCES, 'resources')!);
    this.sourceHash = addChecksumAnnotation(this.deployment, 'server', this.sourceFiles);

    // ---------------------------------------------------------- network ---
    const tcp = (port: number) => ({ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) });
    const exposure = exposeWorkload(this, this.expose, {
      name: this.name,
      selector: this.selector,
      targetPort: this.port,
      // DNS, for any name lookup the runtime makes (the API server itself is reached by IP),
      // and the API server: by port only unless its addresses are given
      egress: [DNS_EGRESS, apiServerEgress(this.apiServerCidrs, this.apiServerPorts)],
    });
    this.service = exposure.service;
    this.ingress = exposure.ingress;
    this.networkPolicy = exposure.networkPolicy;
    this.podDisruptionBudget = exposure.podDisruptionBudget;

    if (this.metricsPort !== undefined && this.networkPolicy) {
      // NetworkPolicies add up: this one only opens the metrics port to the scrapers.
      this.metricsNetworkPolicy = new k8s.KubeNetworkPolicy(this, 'MetricsNetworkPolicy', {
        metadata: { name: `${this.name}-metrics` },
        spec: {
          podSelector: { matchLabels: { ...this.selector } },
          policyTypes: ['Ingress'],
          ingress: [{ from: props.metricsAllowFrom ?? [{ podSelector: {} }], ports: [tcp(this.metricsPort)] }],
        },
      });
    }

    applyLabels(this, this.labels);
  }

  /**
   * Lets the pods connect to `peer` (on `options.ports` only, when given),
   * beyond what the pattern's NetworkPolicy already allows (DNS and the API server).
   */
  public allowEgressTo(peer: k8s.NetworkPolicyPeer, options: EgressOptions = {}): void {
    if (!this.networkPolicy) throw new Error(`allowEgressTo needs the NetworkPolicy, got networkPolicy false for "${this.name}" (manage traffic yourself)`);
    this.networkPolicy.allowEgressTo(peer, options);
  }

  /** One Role and RoleBinding per served namespace, bound to the proxy's own ServiceAccount. */
  private createRbac(): { roles: Record<string, k8s.KubeRole>; roleBindings: Record<string, k8s.KubeRoleBinding> } {
    const roles: Record<string, k8s.KubeRole> = {};
    const roleBindings: Record<string, k8s.KubeRoleBinding> = {};
    const rbac = new Construct(this, 'Rbac');
    for (const target of this.namespaces) {
      const scope = new Construct(rbac, target);
      const role = new k8s.KubeRole(scope, 'Role', {
        metadata: { name: this.name, namespace: target },
        rules: this.rules,
      });
      roles[target] = role;
      roleBindings[target] = new k8s.KubeRoleBinding(scope, 'RoleBinding', {
        metadata: { name: this.name, namespace: target },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.name },
        subjects: [{ kind: 'ServiceAccount', name: this.serviceAccount.name, namespace: this.namespace }],
      });
    }
    return { roles, roleBindings };
  }

  /** The Deployment: the proxy's ServiceAccount token, stable selector, spread over nodes. */
  private createDeployment(): kplus.Deployment {
    const pod = hardenedPodProps({ user: this.user });
    const deployment = new kplus.Deployment(this, 'Resource', {
      metadata: { name: this.name },
      replicas: this.replicas,
      select: false,
      serviceAccount: this.serviceAccount,
      securityContext: pod.securityContext,
      // the server calls the API server with this pod's own ServiceAccount token
      automountServiceAccountToken: true,
      terminationGracePeriod: Duration.seconds(this.terminationGracePeriodSeconds),
    });
    // an explicit, stable selector (a Deployment's selector is immutable): name + instance
    selectPods(deployment, this.selector);
    // prefer spreading the replicas over nodes, without blocking scheduling on a single node
    spreadOverNodes(deployment, this.selector);
    // no env vars for every Service in the namespace (KUBERNETES_SERVICE_* is always set)
    ApiObject.of(deployment).addJsonPatch(JsonPatch.add('/spec/template/spec/enableServiceLinks', false));
    return deployment;
  }

  /** The proxy container, running the mounted server source with the token Secret. */
  private addProxyContainer(resources: kplus.ContainerResources): kplus.Container {
    const sourceVolume = kplus.Volume.fromConfigMap(this, 'ServerSourceVolume', this.sourceConfigMap, {
      name: 'server', defaultMode: 0o444,
    });
    const tokenVolume = kplus.Volume.fromSecret(this, 'TokensVolume',
      kplus.Secret.fromSecretName(this, 'Tokens', this.tokenSecretName), { name: 'tokens', defaultMode: 0o440 });

    const container = this.deployment.addContainer(hardenedContainer({
      name: 'kv-proxy',
      image: this.image,
      command: ['node', ...KV_PROXY_NODE_FLAGS, `${KV_PROXY_SOURCE_PATH}/${KV_PROXY_ENTRY}`],
      ports: [{ name: 'http', number: this.port }, ...(this.metricsPort !== undefined ? [{ name: 'metrics', number: this.metricsPort }] : [])],
      envVariables: Object.fromEntries(Object.entries(this.env).map(([k, v]) => [k, kplus.EnvValue.fromValue(v)])),
      liveness: kplus.Probe.fromHttpGet('/healthz', {
        port: this.port, periodSeconds: Duration.seconds(10), timeoutSeconds: Duration.seconds(2), failureThreshold: 3,
      }),
      readiness: kplus.Probe.fromHttpGet('/readyz', {
        port: this.port, periodSeconds: Duration.seconds(5), timeoutSeconds: Duration.seconds(2), failureThreshold: 2,
      }),
      lifecycle: this.drainDelaySeconds > 0
        ? { preStop: kplus.Handler.fromCommand(['sleep', String(this.drainDelaySeconds)]) }
        : undefined,
      resources,
      securityContext: { user: this.user, group: this.user },
    }));
    container.mount(KV_PROXY_SOURCE_PATH, sourceVolume, { readOnly: true });
    container.mount(KV_PROXY_TOKENS_PATH, tokenVolume, { readOnly: true });
    return container;
  }
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
  const rules: k8s.PolicyRule[] = [{
    apiGroups: [''],
    resources: ['configmaps'],
    ...(opts.configMapNames ? { resourceNames: [...opts.configMapNames] } : {}),
    verbs,
  }];
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
    throw new Error(`sourceDir "${dir}" has no ${KV_PROXY_ENTRY} (found: ${names.join(', ') || 'no .js files'}): the pod runs node ${KV_PROXY_SOURCE_PATH}/${KV_PROXY_ENTRY}`);
  }
  // the file names are the keys: the server requires './x.js' by name
  for (const name of names) validateConfigMapKey(name, `sourceDir file name "${name}"`);
  return toConfigMapData(entries, 'sourceDir', { binary: false, tooLargeHint: 'the server source must fit in one ConfigMap' }).data;
}

/** `writableLabel`: exactly one `<key>=<value>` label with a non-empty value. */
function validateWritableLabel(label: string): string {
  const wrong = (why: string) => new Error(`writableLabel must be one label "<key>=<value>", e.g. "${KV_PROXY_WRITABLE_LABEL}", got ${JSON.stringify(label)}: ${why}`);
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
    throw new Error(`${prop} must pin a full Node.js version x.y.z in its tag (e.g. "node:24.13.0-alpine") or a digest, got "${image}": a floating tag such as "22", "22-alpine" or "lts" moves to new releases without a change here`);
  }
  if (m && !KV_PROXY_NODE_MAJOR_VERSIONS.includes(Number(m[1]))) {
    throw new Error(`${prop} must run Node.js ${KV_PROXY_NODE_MAJOR_VERSIONS.join(' or ')} (the versions the server supports), got "${image}" (Node.js ${m[1]})`);
  }
  return image;
}

/** The nginx Ingress annotation that sets the read timeout (seconds, optionally with an "s"). */
const NGINX_READ_TIMEOUT = 'nginx.ingress.kubernetes.io/proxy-read-timeout';

/** With an Ingress, a long poll must end before the controller's read timeout (see {@link KvProxyProps.ingressReadTimeoutSeconds}). */
function checkIngressReadTimeout(expose: ResolvedExpose, maxWaitSeconds: number, given: number | undefined): void {
  if (given !== undefined) validatePositiveInteger(given, 'ingressReadTimeoutSeconds', 1, 86400);
  if (!expose.ingress) {
    if (given !== undefined) throw new Error(`ingressReadTimeoutSeconds only applies with ingress, got ${given} without an ingress`);
    return;
  }
  const annotation = expose.ingress.annotations?.[NGINX_READ_TIMEOUT];
  const fromAnnotation = annotation === undefined ? undefined : /^\d+s?$/.test(annotation) ? parseInt(annotation, 10) : NaN;
  if (Number.isNaN(fromAnnotation)) throw new Error(`ingress.annotations "${NGINX_READ_TIMEOUT}" must be a number of seconds such as "120", got ${JSON.stringify(annotation)}`);
  const timeout = given ?? fromAnnotation ?? 60;
  if (maxWaitSeconds >= timeout) {
    const source = given !== undefined ? 'ingressReadTimeoutSeconds' : fromAnnotation !== undefined ? `from ${NGINX_READ_TIMEOUT}` : 'the common default';
    throw new Error(`maxWaitSeconds must be below the Ingress read timeout (${timeout} s, ${source}), got ${maxWaitSeconds}: `
      + `long polls would end in a 504 from the controller; lower maxWaitSeconds, or raise the controller's timeout and set ingressReadTimeoutSeconds (or the ${NGINX_READ_TIMEOUT} annotation)`);
  }
}
