/**
 * The validation gate: what a real API server and its admission would say
 * about a set of synthesized objects, without a cluster.
 *
 *  1. schema: every object against the official Kubernetes 1.28 definitions,
 *     strictly (unknown fields, wrong types, missing required fields fail);
 *  2. semantics the API server enforces beyond the schema (names, labels,
 *     ConfigMap keys and size, unique container and volume names, mounts of
 *     defined volumes, selectors matching templates, label values in every
 *     selector);
 *  3. Pod Security Standards "restricted" (v1.28) plus this project's
 *     hardening (read-only root filesystem, explicit non-zero UID/GID,
 *     resource limits, pinned images) and the rules the practice checkers
 *     platform teams run (kube-score) enforce: UID/GID of 10000 or above,
 *     ephemeral-storage requests and limits, a `sizeLimit` on every emptyDir,
 *     liveness different from readiness, every pod selected by an ingress and
 *     an egress NetworkPolicy, and with {@link GateOptions.minReplicas} 2 or
 *     more replicas, a PodDisruptionBudget and anti-affinity or topology
 *     spread for every Deployment behind a Service;
 *  4. references across the set (ConfigMaps/Secrets, Services, Ingress
 *     backends, RBAC bindings, service accounts, PDBs, NetworkPolicies).
 *
 * Every violation names the object (`Kind/namespace/name`) and the rule.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { SCHEMA_FILE_NAME } from './schema';

/**
 * A Kubernetes object as synthesized (`Testing.synth(chart)`, `chart.toJson()`)
 * or read from YAML ({@link loadManifests}): loosely typed on purpose, since
 * the gate's job is to find what is wrong with it.
 */
export interface K8sObject {
  /** e.g. `apps/v1` */
  apiVersion: string;
  /** e.g. `Deployment` */
  kind: string;
  /** The object's metadata; `name` is required by the gate. */
  metadata: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: any };
  /** Everything else (`spec`, `data`, ...). */
  [k: string]: any;
}

/** One thing the API server, admission or the hardening rules would refuse. */
export interface Violation {
  /** `Kind/namespace/name` (namespace omitted for cluster-scoped objects). */
  readonly object: string;
  /** Rule id, e.g. `schema`, `pss-restricted`, `ref-configmap`. */
  readonly rule: string;
  /** What is wrong, naming the field or the reference. */
  readonly message: string;
}

/** Options for {@link validateObjects} and {@link assertValid}. */
export interface GateOptions {
  /**
   * Objects created out of band that references may point at, as
   * `Kind/namespace/name` (e.g. `Secret/default/kv-proxy-tokens`).
   */
  readonly external?: string[];
  /**
   * The replicas every Deployment behind a Service must have, with a
   * PodDisruptionBudget and pod anti-affinity or topology spread over nodes
   * (a production environment: kube-score's deployment-replicas,
   * deployment-has-poddisruptionbudget and deployment-has-host-podantiaffinity).
   * @default - not checked (a dev environment may run one replica)
   */
  readonly minReplicas?: number;
}

/**
 * The lowest UID and GID the gate accepts: below it a container may share a user with the node
 * (kube-score's container-security-context-user-group-id).
 */
export const MIN_RUN_AS_ID = 10000;

const SCHEMA_FILE = path.join(__dirname, SCHEMA_FILE_NAME);

// ---------------------------------------------------------------- schema ---

interface SchemaIndex {
  ajv: Ajv;
  byGvk: Map<string, string>;
  cache: Map<string, ValidateFunction>;
}
let schemaIndex: SchemaIndex | undefined;

/** Makes every object schema closed: unknown fields are errors, as with `kubectl --validate=strict`. */
function closeSchemas(node: any): void {
  if (Array.isArray(node)) {
    node.forEach(closeSchemas);
    return;
  }
  if (!node || typeof node !== 'object') return;
  if (node.properties && node.additionalProperties === undefined && !node['x-kubernetes-preserve-unknown-fields']) {
    node.additionalProperties = false;
  }
  for (const v of Object.values(node)) closeSchemas(v);
}

function loadSchemas(): SchemaIndex {
  if (schemaIndex) return schemaIndex;
  const doc = JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8'));
  closeSchemas(doc.definitions);
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addFormat('int-or-string', true);
  ajv.addSchema({ $id: 'k8s', definitions: doc.definitions });
  const byGvk = new Map<string, string>();
  for (const [name, def] of Object.entries<any>(doc.definitions)) {
    for (const gvk of def['x-kubernetes-group-version-kind'] ?? []) {
      const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
      byGvk.set(`${apiVersion}/${gvk.kind}`, name);
    }
  }
  schemaIndex = { ajv, byGvk, cache: new Map() };
  return schemaIndex;
}

function schemaViolations(o: K8sObject, id: string): Violation[] {
  const idx = loadSchemas();
  const def = idx.byGvk.get(`${o.apiVersion}/${o.kind}`);
  if (!def) return [{ object: id, rule: 'schema', message: `unknown apiVersion/kind ${o.apiVersion}/${o.kind} for Kubernetes 1.28` }];
  let validate = idx.cache.get(def);
  if (!validate) {
    validate = idx.ajv.compile({ $ref: `k8s#/definitions/${def}` });
    idx.cache.set(def, validate);
  }
  if (validate(o)) return [];
  // oneOf noise (IntOrString/Quantity) repeats; keep distinct, readable messages
  const seen = new Set<string>();
  const out: Violation[] = [];
  for (const e of validate.errors ?? []) {
    const where = e.instancePath || '/';
    let msg: string;
    if (e.keyword === 'additionalProperties') msg = `${where}: unknown field "${(e.params as any).additionalProperty}"`;
    else if (e.keyword === 'required') msg = `${where}: missing required field "${(e.params as any).missingProperty}"`;
    else msg = `${where}: ${e.message}`;
    if (!seen.has(msg)) {
      seen.add(msg);
      out.push({ object: id, rule: 'schema', message: msg });
    }
  }
  return out;
}

// ------------------------------------------------------------- semantics ---

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const CONFIG_MAP_KEY = /^[-._a-zA-Z0-9]+$/;
const IANA_SVC_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const MAX_CONFIGMAP_BYTES = 1024 * 1024;

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
  'CustomResourceDefinition',
  'PriorityClass',
  'IngressClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
]);
const LABEL_NAMED = new Set(['Service', 'Namespace']);
const PATH_SEGMENT_NAMED = new Set(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);

function isDnsLabel(s: unknown): boolean {
  return typeof s === 'string' && s.length <= 63 && DNS_LABEL.test(s);
}
function isDnsSubdomain(s: unknown): boolean {
  return typeof s === 'string' && s.length <= 253 && DNS_SUBDOMAIN.test(s);
}

function isQualifiedKey(key: string): boolean {
  const parts = key.split('/');
  if (parts.length > 2) return false;
  const name = parts[parts.length - 1];
  if (parts.length === 2 && !isDnsSubdomain(parts[0])) return false;
  return name.length <= 63 && QUALIFIED_NAME.test(name);
}

/** `Kind/namespace/name` of an object (namespace omitted for cluster-scoped kinds), as violations name it. */
export function objectId(o: K8sObject): string {
  const ns = CLUSTER_SCOPED.has(o?.kind) ? undefined : o?.metadata?.namespace;
  return [o?.kind ?? '?', ns, o?.metadata?.name ?? '?'].filter((x) => x !== undefined).join('/');
}

/** The pod template spec of a workload (or the Pod's own spec). */
export function podSpecOf(o: K8sObject): { spec: any; labels: Record<string, string> } | undefined {
  switch (o.kind) {
    case 'Pod':
      return { spec: o.spec, labels: o.metadata?.labels ?? {} };
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'Job':
      return o.spec?.template ? { spec: o.spec.template.spec, labels: o.spec.template.metadata?.labels ?? {} } : undefined;
    case 'CronJob': {
      const t = o.spec?.jobTemplate?.spec?.template;
      return t ? { spec: t.spec, labels: t.metadata?.labels ?? {} } : undefined;
    }
    default:
      return undefined;
  }
}

function allContainers(spec: any): any[] {
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? []), ...(spec?.ephemeralContainers ?? [])];
}

/** Kubernetes label-selector semantics (matchLabels AND matchExpressions). */
export function selectorMatches(selector: any, labels: Record<string, string>): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries<string>(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(labels[e.key])) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(labels[e.key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function metadataViolations(o: K8sObject, id: string): Violation[] {
  const out: Violation[] = [];
  const v = (message: string, rule = 'metadata') => out.push({ object: id, rule, message });
  const name = o.metadata?.name;
  if (PATH_SEGMENT_NAMED.has(o.kind)) {
    if (typeof name !== 'string' || !name || name === '.' || name === '..' || /[/%]/.test(name))
      v(`name "${name}" must be a non-empty path segment without "/" or "%"`, 'name');
  } else if (LABEL_NAMED.has(o.kind)) {
    if (!isDnsLabel(name)) v(`name "${name}" must be a DNS-1123 label (lowercase alphanumerics and "-", at most 63 characters)`, 'name');
  } else if (!isDnsSubdomain(name)) {
    v(`name "${name}" must be a DNS-1123 subdomain (lowercase alphanumerics, "-" and ".", at most 253 characters)`, 'name');
  }
  if (o.kind === 'CronJob' && typeof name === 'string' && name.length > 52) v(`CronJob name "${name}" must be at most 52 characters`, 'name');
  if (o.kind === 'Job' && typeof name === 'string' && name.length > 63) v(`Job name "${name}" must be at most 63 characters`, 'name');
  const ns = o.metadata?.namespace;
  if (ns !== undefined && !isDnsLabel(ns)) v(`namespace "${ns}" must be a DNS-1123 label`, 'name');
  const checkLabels = (labels: Record<string, string> | undefined, where: string) => {
    for (const [k, val] of Object.entries(labels ?? {})) {
      if (!isQualifiedKey(k)) v(`${where} label key "${k}" is not a valid qualified name`, 'labels');
      if (typeof val !== 'string' || val.length > 63 || !LABEL_VALUE.test(val))
        v(`${where} label "${k}" has invalid value "${val}" (at most 63 alphanumerics, "-", "_", ".")`, 'labels');
    }
  };
  const checkAnnotations = (ann: Record<string, string> | undefined, where: string) => {
    let size = 0;
    for (const [k, val] of Object.entries(ann ?? {})) {
      if (!isQualifiedKey(k)) v(`${where} annotation key "${k}" is not a valid qualified name`, 'labels');
      size += k.length + String(val).length;
    }
    if (size > 256 * 1024) v(`${where} annotations total ${size} bytes, more than 256 KiB`, 'labels');
  };
  checkLabels(o.metadata?.labels, 'metadata');
  checkAnnotations(o.metadata?.annotations, 'metadata');
  const tmpl = o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template : o.spec?.template;
  if (tmpl?.metadata) {
    checkLabels(tmpl.metadata.labels, 'pod template');
    checkAnnotations(tmpl.metadata.annotations, 'pod template');
  }
  if (o.kind === 'CronJob' && o.spec?.jobTemplate?.metadata) checkLabels(o.spec.jobTemplate.metadata.labels, 'job template');
  return out;
}

/**
 * Every label selector in the object (workload and PDB selectors, NetworkPolicy
 * pod and peer selectors, topology spread and affinity terms, a Service's
 * selector map): keys must be qualified names and values label values, as
 * the API server checks them; `In`/`NotIn` need values, `Exists`/`DoesNotExist` none.
 */
function selectorViolations(o: K8sObject, id: string): Violation[] {
  const out: Violation[] = [];
  const v = (message: string) => out.push({ object: id, rule: 'selector-labels', message });
  const checkPairs = (labels: unknown, where: string) => {
    if (labels === null || typeof labels !== 'object') return;
    for (const [k, val] of Object.entries(labels as Record<string, unknown>)) {
      if (!isQualifiedKey(k)) v(`${where} key "${k}" is not a valid qualified name`);
      if (typeof val !== 'string' || val.length > 63 || !LABEL_VALUE.test(val))
        v(
          `${where} "${k}" has invalid label value ${JSON.stringify(val)} ` +
            '(at most 63 alphanumerics, "-", "_", ".", starting and ending with an alphanumeric)',
        );
    }
  };
  const walk = (node: any, where: string) => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach((x, i) => walk(x, `${where}[${i}]`));
      return;
    }
    for (const [key, child] of Object.entries<any>(node)) {
      const at = where ? `${where}.${key}` : key;
      if (key === 'matchLabels') checkPairs(child, at);
      else if (key === 'matchExpressions' && Array.isArray(child)) {
        child.forEach((e: any, i: number) => {
          const ew = `${at}[${i}]`;
          if (!e || typeof e.key !== 'string' || !isQualifiedKey(e.key)) v(`${ew} key ${JSON.stringify(e?.key)} is not a valid qualified name`);
          const values: unknown[] = Array.isArray(e?.values) ? e.values : [];
          if ((e?.operator === 'In' || e?.operator === 'NotIn') && values.length === 0) v(`${ew} operator ${e.operator} needs at least one value`);
          if ((e?.operator === 'Exists' || e?.operator === 'DoesNotExist') && values.length > 0)
            v(`${ew} operator ${e.operator} must have no values`);
          values.forEach((val, j) => {
            if (typeof val !== 'string' || val.length > 63 || !LABEL_VALUE.test(val))
              v(`${ew}.values[${j}] has invalid label value ${JSON.stringify(val)}`);
          });
        });
      } else if (key !== 'metadata' && key !== 'data' && key !== 'binaryData' && key !== 'stringData') walk(child, at);
    }
  };
  walk({ spec: o.spec }, '');
  if (o.kind === 'Service') checkPairs(o.spec?.selector, 'spec.selector');
  return out;
}

function configMapViolations(o: K8sObject, id: string): Violation[] {
  if (o.kind !== 'ConfigMap' && o.kind !== 'Secret') return [];
  const out: Violation[] = [];
  const data: Record<string, string> = o.kind === 'Secret' ? { ...(o.stringData ?? {}) } : (o.data ?? {});
  const binary: Record<string, string> = o.kind === 'Secret' ? (o.data ?? {}) : (o.binaryData ?? {});
  let size = 0;
  for (const [k, val] of Object.entries(data)) {
    size += Buffer.byteLength(k) + Buffer.byteLength(String(val));
  }
  for (const [k, val] of Object.entries(binary)) {
    size += Buffer.byteLength(k) + Buffer.from(String(val), 'base64').length;
  }
  for (const k of [...Object.keys(data), ...Object.keys(binary)]) {
    if (k.length > 253 || !CONFIG_MAP_KEY.test(k) || k === '.' || k === '..') {
      out.push({ object: id, rule: 'configmap-key', message: `key "${k}" must match [-._a-zA-Z0-9]+ (at most 253 characters, not "." or "..")` });
    }
  }
  if (o.kind === 'ConfigMap') {
    for (const k of Object.keys(binary)) {
      if (k in data) out.push({ object: id, rule: 'configmap-key', message: `key "${k}" is in both data and binaryData` });
    }
  }
  if (size > MAX_CONFIGMAP_BYTES) {
    out.push({ object: id, rule: 'configmap-size', message: `total size ${size} bytes exceeds the 1 MiB (${MAX_CONFIGMAP_BYTES} bytes) limit` });
  }
  return out;
}

function podSpecViolations(o: K8sObject, id: string): Violation[] {
  const p = podSpecOf(o);
  if (!p?.spec) return [];
  const out: Violation[] = [];
  const v = (rule: string, message: string) => out.push({ object: id, rule, message });
  const spec = p.spec;
  const containers = allContainers(spec);
  const names = new Set<string>();
  for (const c of containers) {
    if (!isDnsLabel(c.name)) v('containers', `container name "${c.name}" must be a DNS-1123 label`);
    if (names.has(c.name)) v('containers', `container name "${c.name}" is used more than once`);
    names.add(c.name);
  }
  for (const c of spec.containers ?? []) {
    if (c.restartPolicy !== undefined) v('containers', `container "${c.name}": restartPolicy is only allowed on init containers`);
  }
  for (const c of spec.initContainers ?? []) {
    if (c.restartPolicy !== undefined && c.restartPolicy !== 'Always')
      v('containers', `init container "${c.name}": restartPolicy may only be "Always"`);
    if (c.restartPolicy !== 'Always' && (c.readinessProbe || c.livenessProbe || c.startupProbe || c.lifecycle)) {
      v('containers', `init container "${c.name}" may not have probes or lifecycle hooks unless it is a sidecar (restartPolicy: Always)`);
    }
  }
  const volumes = new Map<string, any>();
  for (const vol of spec.volumes ?? []) {
    if (!isDnsLabel(vol.name)) v('volumes', `volume name "${vol.name}" must be a DNS-1123 label`);
    if (volumes.has(vol.name)) v('volumes', `volume name "${vol.name}" is defined more than once`);
    volumes.set(vol.name, vol);
  }
  for (const c of containers) {
    const paths = new Set<string>();
    for (const m of c.volumeMounts ?? []) {
      if (!volumes.has(m.name)) v('volume-mounts', `container "${c.name}" mounts volume "${m.name}", which is not defined in the pod`);
      if (typeof m.mountPath !== 'string' || !m.mountPath.startsWith('/'))
        v('volume-mounts', `container "${c.name}" mountPath "${m.mountPath}" must be absolute`);
      if (paths.has(m.mountPath)) v('volume-mounts', `container "${c.name}" mounts two volumes at "${m.mountPath}"`);
      paths.add(m.mountPath);
      if (m.subPath !== undefined && (String(m.subPath).startsWith('/') || String(m.subPath).split('/').includes('..'))) {
        v('volume-mounts', `container "${c.name}" subPath "${m.subPath}" must be relative without ".."`);
      }
    }
    const portNames = new Set<string>();
    const portNums = new Set<string>();
    for (const port of c.ports ?? []) {
      if (port.name !== undefined) {
        if (port.name.length > 15 || !IANA_SVC_NAME.test(port.name))
          v('ports', `container "${c.name}" port name "${port.name}" must be an IANA service name (at most 15 characters)`);
        if (portNames.has(port.name)) v('ports', `container "${c.name}" port name "${port.name}" is used more than once`);
        portNames.add(port.name);
      }
      const key = `${port.containerPort}/${port.protocol ?? 'TCP'}`;
      if (portNums.has(key)) v('ports', `container "${c.name}" declares port ${key} more than once`);
      portNums.add(key);
      if (!(port.containerPort >= 1 && port.containerPort <= 65535))
        v('ports', `container "${c.name}" containerPort ${port.containerPort} must be 1-65535`);
    }
  }
  // workload selector must match its template labels
  const selectorOwner = ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet'].includes(o.kind) || (o.kind === 'Job' && o.spec?.manualSelector);
  if (selectorOwner) {
    const sel = o.spec?.selector;
    const empty = !sel || (!Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length);
    if (empty) v('selector', 'spec.selector is empty');
    else if (!selectorMatches(sel, p.labels))
      v('selector', `spec.selector ${JSON.stringify(sel)} does not match the pod template labels ${JSON.stringify(p.labels)}`);
  }
  return out;
}

// ------------------------------------------- Pod Security Standards ---

const RESTRICTED_VOLUME_TYPES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t']);

/** Pod Security Standards "restricted", as of Kubernetes 1.28. */
function pssViolations(o: K8sObject, id: string): Violation[] {
  const p = podSpecOf(o);
  if (!p?.spec) return [];
  const spec = p.spec;
  const out: Violation[] = [];
  const v = (message: string) => out.push({ object: id, rule: 'pss-restricted', message });
  if (spec.hostNetwork) v('hostNetwork must not be true');
  if (spec.hostPID) v('hostPID must not be true');
  if (spec.hostIPC) v('hostIPC must not be true');
  const psc = spec.securityContext ?? {};
  for (const s of psc.sysctls ?? []) if (!SAFE_SYSCTLS.has(s.name)) v(`sysctl "${s.name}" is not in the safe set`);
  for (const vol of spec.volumes ?? []) {
    const type = Object.keys(vol).find((k) => k !== 'name');
    if (type && !RESTRICTED_VOLUME_TYPES.has(type)) v(`volume "${vol.name}" uses type "${type}", not allowed under restricted`);
  }
  const podSeccomp = psc.seccompProfile?.type;
  if (podSeccomp === 'Unconfined') v('pod seccompProfile must not be Unconfined');
  if (psc.runAsUser === 0) v('pod runAsUser must not be 0');
  if (psc.seLinuxOptions && (!SELINUX_TYPES.has(psc.seLinuxOptions.type ?? '') || psc.seLinuxOptions.user || psc.seLinuxOptions.role))
    v('pod seLinuxOptions not allowed');
  for (const c of allContainers(spec)) {
    const sc = c.securityContext ?? {};
    const who = `container "${c.name}"`;
    if (sc.privileged) v(`${who} must not be privileged`);
    if (sc.allowPrivilegeEscalation !== false) v(`${who} must set allowPrivilegeEscalation: false`);
    const runAsNonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
    if (runAsNonRoot !== true) v(`${who} must run with runAsNonRoot: true (pod or container)`);
    if (sc.runAsUser === 0) v(`${who} runAsUser must not be 0`);
    const seccomp = sc.seccompProfile?.type ?? podSeccomp;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost')
      v(`${who} must set seccompProfile type RuntimeDefault or Localhost (pod or container)`);
    const drop: string[] = sc.capabilities?.drop ?? [];
    if (!drop.includes('ALL')) v(`${who} must drop ALL capabilities`);
    for (const cap of sc.capabilities?.add ?? []) if (cap !== 'NET_BIND_SERVICE') v(`${who} may only add NET_BIND_SERVICE, adds "${cap}"`);
    for (const port of c.ports ?? []) if (port.hostPort) v(`${who} must not use hostPort ${port.hostPort}`);
    if (sc.procMount && sc.procMount !== 'Default') v(`${who} procMount must be Default`);
    if (sc.seLinuxOptions && (!SELINUX_TYPES.has(sc.seLinuxOptions.type ?? '') || sc.seLinuxOptions.user || sc.seLinuxOptions.role))
      v(`${who} seLinuxOptions not allowed`);
  }
  return out;
}

/** Whether two probes check the same thing (kube-score's pod-probes-identical): same HTTP path and port, same TCP port, or same command. */
function probesIdentical(r: any, l: any): boolean {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (r.httpGet && l.httpGet) return r.httpGet.path === l.httpGet.path && same(r.httpGet.port, l.httpGet.port);
  if (r.tcpSocket && l.tcpSocket) return same(r.tcpSocket.port, l.tcpSocket.port);
  if (r.exec && l.exec) return same(r.exec.command, l.exec.command);
  if (r.grpc && l.grpc) return same(r.grpc, l.grpc);
  return false;
}

/** This project's hardening on top of PSS restricted. */
function hardeningViolations(o: K8sObject, id: string): Violation[] {
  const p = podSpecOf(o);
  if (!p?.spec) return [];
  const out: Violation[] = [];
  for (const vol of p.spec.volumes ?? []) {
    if (vol.emptyDir && vol.emptyDir.sizeLimit === undefined) {
      out.push({
        object: id,
        rule: 'emptydir-size-limit',
        message: `emptyDir volume "${vol.name}" must set sizeLimit (else it may fill the node's disk or, with medium Memory, its memory)`,
      });
    }
  }
  const psc = p.spec.securityContext ?? {};
  for (const c of allContainers(p.spec)) {
    const sc = c.securityContext ?? {};
    const who = `container "${c.name}"`;
    const v = (message: string) => out.push({ object: id, rule: 'hardening', message: `${who} ${message}` });
    if (sc.readOnlyRootFilesystem !== true) v('must set readOnlyRootFilesystem: true');
    const uid = sc.runAsUser ?? psc.runAsUser;
    const gid = sc.runAsGroup ?? psc.runAsGroup;
    if (!(Number.isInteger(uid) && uid > 0)) v('must run with an explicit non-zero runAsUser');
    if (!(Number.isInteger(gid) && gid > 0)) v('must run with an explicit non-zero runAsGroup');
    if (Number.isInteger(uid) && uid > 0 && uid < MIN_RUN_AS_ID)
      out.push({ object: id, rule: 'run-as-id', message: `${who} runs as uid ${uid}, below ${MIN_RUN_AS_ID}: it may share a user with the node` });
    if (Number.isInteger(gid) && gid > 0 && gid < MIN_RUN_AS_ID)
      out.push({ object: id, rule: 'run-as-id', message: `${who} runs as gid ${gid}, below ${MIN_RUN_AS_ID}: it may share a group with the node` });
    if (!c.resources?.limits?.memory) v('must set a memory limit');
    if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory) v('must request cpu and memory');
    if (!c.resources?.requests?.['ephemeral-storage'] || !c.resources?.limits?.['ephemeral-storage']) {
      out.push({
        object: id,
        rule: 'ephemeral-storage',
        message: `${who} must request and limit ephemeral-storage (else its logs and emptyDirs may fill the node's disk)`,
      });
    }
    if (c.readinessProbe && c.livenessProbe && probesIdentical(c.readinessProbe, c.livenessProbe)) {
      out.push({
        object: id,
        rule: 'probes',
        message: `${who} has the same liveness and readiness probe: a busy container would be restarted instead of only taken out of the Service`,
      });
    }
    const image: string = c.image ?? '';
    const withoutDigest = image.split('@')[0];
    const lastPart = withoutDigest.split('/').pop() ?? '';
    const tag = lastPart.includes(':') ? lastPart.split(':').pop() : undefined;
    if (!image.includes('@sha256:') && !tag) v(`image "${image}" must be pinned with a tag or digest`);
    if (tag === 'latest') v(`image "${image}" must not use the "latest" tag`);
  }
  return out;
}

// ------------------------------------------------------------ references ---

class ObjectIndex {
  private readonly byKey = new Map<string, K8sObject>();
  constructor(
    objects: K8sObject[],
    private readonly external: Set<string>,
  ) {
    for (const o of objects) this.byKey.set(objectId(o), o);
  }
  get(kind: string, ns: string | undefined, name: string): K8sObject | undefined {
    return this.byKey.get(objectId({ apiVersion: '', kind, metadata: { namespace: ns, name } }));
  }
  isExternal(kind: string, ns: string | undefined, name: string): boolean {
    return this.external.has(objectId({ apiVersion: '', kind, metadata: { namespace: ns, name } }));
  }
  all(): K8sObject[] {
    return [...this.byKey.values()];
  }
}

const BUILTIN_CLUSTER_ROLES = new Set(['cluster-admin', 'admin', 'edit', 'view']);

function referenceViolations(objects: K8sObject[], opts: GateOptions): Violation[] {
  const out: Violation[] = [];
  const idx = new ObjectIndex(objects, new Set(opts.external ?? []));
  const templates = objects.map((o) => ({ o, p: podSpecOf(o) })).filter((x) => x.p?.spec);

  const checkKeys = (id: string, rule: string, target: K8sObject, keys: string[], what: string) => {
    const present = new Set([...Object.keys(target.data ?? {}), ...Object.keys(target.binaryData ?? {}), ...Object.keys(target.stringData ?? {})]);
    for (const k of keys)
      if (!present.has(k)) out.push({ object: id, rule, message: `${what} refers to key "${k}", which ${objectId(target)} does not have` });
  };
  const ref = (id: string, kind: 'ConfigMap' | 'Secret', ns: string | undefined, name: string, optional: boolean, keys: string[], what: string) => {
    const rule = kind === 'ConfigMap' ? 'ref-configmap' : 'ref-secret';
    const target = idx.get(kind, ns, name);
    if (target) {
      if (!optional) checkKeys(id, rule, target, keys, what);
      return;
    }
    if (optional || idx.isExternal(kind, ns, name)) return;
    out.push({
      object: id,
      rule,
      message: `${what} refers to ${kind} "${name}", which is not in the synthesized set (declare it external if it is created out of band)`,
    });
  };

  for (const { o, p } of templates) {
    const id = objectId(o);
    const ns = o.metadata.namespace;
    const spec = p!.spec;
    for (const vol of spec.volumes ?? []) {
      if (vol.configMap)
        ref(
          id,
          'ConfigMap',
          ns,
          vol.configMap.name,
          !!vol.configMap.optional,
          (vol.configMap.items ?? []).map((i: any) => i.key),
          `volume "${vol.name}"`,
        );
      if (vol.secret)
        ref(
          id,
          'Secret',
          ns,
          vol.secret.secretName,
          !!vol.secret.optional,
          (vol.secret.items ?? []).map((i: any) => i.key),
          `volume "${vol.name}"`,
        );
      for (const src of vol.projected?.sources ?? []) {
        if (src.configMap)
          ref(
            id,
            'ConfigMap',
            ns,
            src.configMap.name,
            !!src.configMap.optional,
            (src.configMap.items ?? []).map((i: any) => i.key),
            `projected volume "${vol.name}"`,
          );
        if (src.secret)
          ref(
            id,
            'Secret',
            ns,
            src.secret.name,
            !!src.secret.optional,
            (src.secret.items ?? []).map((i: any) => i.key),
            `projected volume "${vol.name}"`,
          );
      }
    }
    for (const c of allContainers(spec)) {
      for (const e of c.env ?? []) {
        const cm = e.valueFrom?.configMapKeyRef;
        if (cm) ref(id, 'ConfigMap', ns, cm.name, !!cm.optional, [cm.key], `container "${c.name}" env ${e.name}`);
        const s = e.valueFrom?.secretKeyRef;
        if (s) ref(id, 'Secret', ns, s.name, !!s.optional, [s.key], `container "${c.name}" env ${e.name}`);
      }
      for (const e of c.envFrom ?? []) {
        if (e.configMapRef) ref(id, 'ConfigMap', ns, e.configMapRef.name, !!e.configMapRef.optional, [], `container "${c.name}" envFrom`);
        if (e.secretRef) ref(id, 'Secret', ns, e.secretRef.name, !!e.secretRef.optional, [], `container "${c.name}" envFrom`);
      }
    }
    const sa = spec.serviceAccountName ?? spec.serviceAccount;
    if (sa && sa !== 'default' && !idx.get('ServiceAccount', ns, sa) && !idx.isExternal('ServiceAccount', ns, sa)) {
      out.push({ object: id, rule: 'ref-serviceaccount', message: `serviceAccountName "${sa}" is not in the synthesized set` });
    }
  }

  const podsSelectedBy = (ns: string | undefined, selector: (labels: Record<string, string>) => boolean) =>
    templates.filter((t) => t.o.metadata.namespace === ns && selector(t.p!.labels));

  // every pod is selected by a NetworkPolicy for each direction (kube-score's pod-networkpolicy)
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy' && o.spec?.podSelector);
  const types = (np: K8sObject): string[] => np.spec.policyTypes ?? ['Ingress', ...(np.spec.egress ? ['Egress'] : [])];
  for (const t of templates) {
    const ns = t.o.metadata.namespace;
    const selecting = policies.filter((np) => np.metadata.namespace === ns && selectorMatches(np.spec.podSelector, t.p!.labels));
    for (const dir of ['Ingress', 'Egress']) {
      if (!selecting.some((np) => types(np).includes(dir))) {
        out.push({
          object: objectId(t.o),
          rule: 'networkpolicy',
          message:
            `no NetworkPolicy with policyType ${dir} selects its pods ${JSON.stringify(t.p!.labels)}: ` +
            (dir === 'Ingress' ? 'anything may connect to them' : 'they may connect anywhere'),
        });
      }
    }
  }

  // production: Deployments behind a Service survive a node's loss and a drain
  if (opts.minReplicas !== undefined) {
    const services = objects.filter((o) => o.kind === 'Service' && o.spec?.selector && Object.keys(o.spec.selector).length);
    const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget' && o.spec?.selector);
    for (const t of templates.filter((x) => x.o.kind === 'Deployment')) {
      const ns = t.o.metadata.namespace;
      const labels = t.p!.labels;
      if (!services.some((svc) => svc.metadata.namespace === ns && Object.entries<string>(svc.spec.selector).every(([k, val]) => labels[k] === val)))
        continue;
      const id = objectId(t.o);
      const replicas = t.o.spec?.replicas ?? 1;
      if (replicas < opts.minReplicas)
        out.push({ object: id, rule: 'replicas', message: `serves a Service with ${replicas} replica(s), fewer than ${opts.minReplicas}` });
      if (!pdbs.some((pdb) => pdb.metadata.namespace === ns && selectorMatches(pdb.spec.selector, labels))) {
        out.push({
          object: id,
          rule: 'replicas',
          message: 'serves a Service without a PodDisruptionBudget: a node drain may take every pod down at once',
        });
      }
      const aff = t.p!.spec.affinity?.podAntiAffinity;
      const antiAffinity = [
        ...(aff?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
        ...(aff?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w: any) => w.podAffinityTerm),
      ].some((term: any) => term?.topologyKey === 'kubernetes.io/hostname' && selectorMatches(term.labelSelector, labels));
      const spread = (t.p!.spec.topologySpreadConstraints ?? []).some((c: any) => selectorMatches(c.labelSelector, labels));
      if (!antiAffinity && !spread)
        out.push({
          object: id,
          rule: 'replicas',
          message: 'serves a Service without pod anti-affinity on kubernetes.io/hostname or a topology spread: its replicas may share one node',
        });
    }
  }

  for (const o of objects) {
    const id = objectId(o);
    const ns = o.metadata?.namespace;
    if (o.kind === 'Service' && o.spec?.selector && Object.keys(o.spec.selector).length && o.spec.type !== 'ExternalName') {
      const matched = podsSelectedBy(ns, (l) => Object.entries<string>(o.spec.selector).every(([k, val]) => l[k] === val));
      if (!matched.length) {
        out.push({
          object: id,
          rule: 'ref-service-selector',
          message: `selector ${JSON.stringify(o.spec.selector)} matches no pod template in namespace "${ns}"`,
        });
      } else {
        for (const port of o.spec.ports ?? []) {
          const target = port.targetPort ?? port.port;
          const ok = matched.some((m) =>
            (m.p!.spec.containers ?? [])
              .concat((m.p!.spec.initContainers ?? []).filter((c: any) => c.restartPolicy === 'Always'))
              .some((c: any) =>
                (c.ports ?? []).some(
                  (cp: any) =>
                    (typeof target === 'string' ? cp.name === target : cp.containerPort === target) &&
                    (cp.protocol ?? 'TCP') === (port.protocol ?? 'TCP'),
                ),
              ),
          );
          if (!ok)
            out.push({
              object: id,
              rule: 'ref-service-port',
              message: `port ${port.name ?? port.port} targets ${JSON.stringify(target)}, which no selected container declares`,
            });
        }
      }
    }
    if (o.kind === 'Ingress') {
      const backends: any[] = [];
      if (o.spec?.defaultBackend) backends.push(o.spec.defaultBackend);
      for (const r of o.spec?.rules ?? []) for (const pth of r.http?.paths ?? []) backends.push(pth.backend);
      for (const b of backends) {
        if (!b?.service) continue;
        const svc = idx.get('Service', ns, b.service.name);
        if (!svc) {
          out.push({ object: id, rule: 'ref-ingress-backend', message: `backend Service "${b.service.name}" is not in the synthesized set` });
          continue;
        }
        const p = b.service.port ?? {};
        const ok = (svc.spec?.ports ?? []).some((sp: any) => (p.name !== undefined ? sp.name === p.name : sp.port === p.number));
        if (!ok)
          out.push({
            object: id,
            rule: 'ref-ingress-backend',
            message: `backend port ${JSON.stringify(p)} does not exist on Service "${b.service.name}"`,
          });
      }
    }
    if (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') {
      const rr = o.roleRef ?? {};
      if (rr.kind === 'Role') {
        if (o.kind === 'ClusterRoleBinding')
          out.push({ object: id, rule: 'ref-rbac', message: 'a ClusterRoleBinding can only refer to a ClusterRole' });
        else if (!idx.get('Role', ns, rr.name) && !idx.isExternal('Role', ns, rr.name))
          out.push({ object: id, rule: 'ref-rbac', message: `roleRef Role "${rr.name}" is not in namespace "${ns}" of the synthesized set` });
      } else if (rr.kind === 'ClusterRole') {
        if (
          !idx.get('ClusterRole', undefined, rr.name) &&
          !BUILTIN_CLUSTER_ROLES.has(rr.name) &&
          !idx.isExternal('ClusterRole', undefined, rr.name)
        ) {
          out.push({ object: id, rule: 'ref-rbac', message: `roleRef ClusterRole "${rr.name}" is not in the synthesized set` });
        }
      }
      for (const s of o.subjects ?? []) {
        if (s.kind !== 'ServiceAccount') continue;
        const sns = s.namespace ?? ns;
        if (!sns) out.push({ object: id, rule: 'ref-rbac', message: `ServiceAccount subject "${s.name}" needs a namespace` });
        else if (!idx.get('ServiceAccount', sns, s.name) && !idx.isExternal('ServiceAccount', sns, s.name)) {
          out.push({ object: id, rule: 'ref-rbac', message: `subject ServiceAccount "${sns}/${s.name}" is not in the synthesized set` });
        }
      }
    }
    if (o.kind === 'PodDisruptionBudget' && o.spec?.selector) {
      if (!podsSelectedBy(ns, (l) => selectorMatches(o.spec.selector, l)).length) {
        out.push({
          object: id,
          rule: 'ref-pdb-selector',
          message: `selector ${JSON.stringify(o.spec.selector)} matches no pod template in namespace "${ns}"`,
        });
      }
    }
    if (o.kind === 'NetworkPolicy' && o.spec?.podSelector) {
      const sel = o.spec.podSelector;
      const selectsAll = !Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length;
      if (!selectsAll && !podsSelectedBy(ns, (l) => selectorMatches(sel, l)).length) {
        out.push({
          object: id,
          rule: 'ref-networkpolicy-selector',
          message: `podSelector ${JSON.stringify(sel)} matches no pod template in namespace "${ns}"`,
        });
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------ gate ---

/** Runs every rule over a set of objects and returns all violations. */
export function validateObjects(objects: K8sObject[], opts: GateOptions = {}): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<string>();
  for (const o of objects) {
    const id = objectId(o);
    if (!o || typeof o !== 'object' || !o.apiVersion || !o.kind || !o.metadata) {
      out.push({ object: id, rule: 'schema', message: 'object must have apiVersion, kind and metadata' });
      continue;
    }
    if (seen.has(id)) out.push({ object: id, rule: 'duplicate', message: 'the same kind, namespace and name appear more than once' });
    seen.add(id);
    out.push(
      ...schemaViolations(o, id),
      ...metadataViolations(o, id),
      ...configMapViolations(o, id),
      ...selectorViolations(o, id),
      ...podSpecViolations(o, id),
      ...pssViolations(o, id),
      ...hardeningViolations(o, id),
    );
  }
  out.push(...referenceViolations(objects, opts));
  return out;
}

/** One line per violation: `Kind/namespace/name: [rule] message`. */
export function formatViolations(violations: Violation[]): string {
  return violations.map((x) => `${x.object}: [${x.rule}] ${x.message}`).join('\n');
}

/** Throws with every violation listed, one per line, when the set is not valid. */
export function assertValid(objects: K8sObject[], opts: GateOptions = {}): void {
  const violations = validateObjects(objects, opts);
  if (violations.length) {
    throw new Error(`${violations.length} manifest violation(s):\n${formatViolations(violations)}`);
  }
}
