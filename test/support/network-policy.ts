/**
 * NetworkPolicy semantics (networking.k8s.io/v1), evaluated on synthesized
 * objects: may this pod connect to that peer on this port? Policies add up:
 * a pod selected by no policy of a direction is open in that direction; a pod
 * selected by one is closed but for what some selecting policy's rules allow.
 * Pods never match ipBlocks here (whether they do depends on the CNI), and
 * named ports are not resolved, so every answer is the conservative one.
 */
import { selectorMatches } from '../../lib/testing/gate';

/** A pod (its namespace and labels) or an address outside the cluster. */
export type Endpoint = { readonly namespace: string; readonly labels: Record<string, string> } | { readonly ip: string };

/** The pod template of a workload as an {@link Endpoint}. */
export function podOf(objects: any[], kind: string, namespace: string, name: string): Endpoint {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name && x.metadata.namespace === namespace);
  if (!o) throw new Error(`no ${kind} ${namespace}/${name}`);
  const t = kind === 'CronJob' ? o.spec.jobTemplate.spec.template : o.spec.template;
  return { namespace, labels: t.metadata.labels };
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function inCidr(ip: string, cidr: string): boolean {
  if (cidr.includes(':') || ip.includes(':')) return cidr === '::/0' && ip.includes(':');
  const [base, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipToInt(ip) / size) === Math.floor(ipToInt(base) / size);
}

function peerMatches(peer: any, policyNamespace: string, e: Endpoint): boolean {
  if (peer.ipBlock) {
    return 'ip' in e && inCidr(e.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c: string) => inCidr(e.ip, c));
  }
  if ('ip' in e) return false;
  const nsOk = peer.namespaceSelector
    ? selectorMatches(peer.namespaceSelector, { 'kubernetes.io/metadata.name': e.namespace })
    : e.namespace === policyNamespace;
  return nsOk && (peer.podSelector === undefined || selectorMatches(peer.podSelector, e.labels));
}

function portMatches(ports: any[] | undefined, port: number, protocol: string): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some(
    (p) =>
      (p.protocol ?? 'TCP') === protocol &&
      (p.port === undefined || (typeof p.port === 'number' && (p.endPort === undefined ? p.port === port : port >= p.port && port <= p.endPort))),
  );
}

function policyTypes(np: any): string[] {
  return np.spec.policyTypes ?? ['Ingress', ...(np.spec.egress ? ['Egress'] : [])];
}

function selecting(objects: any[], pod: Endpoint, direction: 'Ingress' | 'Egress'): any[] {
  if ('ip' in pod) return [];
  return objects.filter(
    (o) =>
      o.kind === 'NetworkPolicy' &&
      o.metadata.namespace === pod.namespace &&
      selectorMatches(o.spec.podSelector, pod.labels) &&
      policyTypes(o).includes(direction),
  );
}

/** Whether `from` may open a connection to `to` on `port`: egress of `from` and ingress of `to` must both allow it. */
export function allowed(objects: any[], from: Endpoint, to: Endpoint, port: number, protocol = 'TCP'): boolean {
  const out = selecting(objects, from, 'Egress');
  const egressOk =
    out.length === 0 ||
    out.some((np) =>
      (np.spec.egress ?? []).some(
        (r: any) =>
          (!r.to || r.to.length === 0 || r.to.some((p: any) => peerMatches(p, np.metadata.namespace, to))) && portMatches(r.ports, port, protocol),
      ),
    );
  const inn = selecting(objects, to, 'Ingress');
  const ingressOk =
    inn.length === 0 ||
    inn.some((np) =>
      (np.spec.ingress ?? []).some(
        (r: any) =>
          (!r.from || r.from.length === 0 || r.from.some((p: any) => peerMatches(p, np.metadata.namespace, from))) &&
          portMatches(r.ports, port, protocol),
      ),
    );
  return egressOk && ingressOk;
}

/** Whether some NetworkPolicy selects the pod for each direction. */
export function isolated(objects: any[], pod: Endpoint): { ingress: boolean; egress: boolean } {
  return { ingress: selecting(objects, pod, 'Ingress').length > 0, egress: selecting(objects, pod, 'Egress').length > 0 };
}
