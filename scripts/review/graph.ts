/**
 * The objects a chart creates and how they reference each other, derived from
 * the synthesized objects (never hand-drawn), rendered as Mermaid.
 */
import { K8sObject, objectId, podSpecOf, selectorMatches } from '../../lib/testing/gate';

export interface GraphNode {
  /** `Kind/namespace/name`. */
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  /** True for objects referenced but not in the set (created out of band). */
  readonly external: boolean;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  /** What the reference is: `backend`, `selects`, `mounts`, `env`, `runs as`, `binds`, `subject`. */
  readonly label: string;
}

export interface Graph {
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
}

function idOf(kind: string, ns: string | undefined, name: string): string {
  return objectId({ apiVersion: '', kind, metadata: { namespace: ns, name } });
}

/** Derives the reference graph of a set of objects. */
export function buildGraph(objects: K8sObject[]): Graph {
  const nodes = new Map<string, GraphNode>();
  const edges = new Map<string, GraphEdge>();
  for (const o of objects) nodes.set(objectId(o), { id: objectId(o), kind: o.kind, name: o.metadata.name ?? '?', external: false });
  const edge = (from: string, kind: string, ns: string | undefined, name: string, label: string) => {
    const to = idOf(kind, ns, name);
    if (!nodes.has(to)) nodes.set(to, { id: to, kind, name, external: true });
    edges.set(`${from}|${to}|${label}`, { from, to, label });
  };
  const workloads = objects.map((o) => ({ o, p: podSpecOf(o) })).filter((w) => w.p?.spec);
  const selected = (ns: string | undefined, match: (labels: Record<string, string>) => boolean) =>
    workloads.filter((w) => w.o.metadata.namespace === ns && match(w.p!.labels));

  for (const o of objects) {
    const id = objectId(o);
    const ns = o.metadata.namespace;
    const p = podSpecOf(o);
    if (p?.spec) {
      for (const v of p.spec.volumes ?? []) {
        if (v.configMap) edge(id, 'ConfigMap', ns, v.configMap.name, 'mounts');
        if (v.secret) edge(id, 'Secret', ns, v.secret.secretName, 'mounts');
        for (const s of v.projected?.sources ?? []) {
          if (s.configMap) edge(id, 'ConfigMap', ns, s.configMap.name, 'mounts');
          if (s.secret) edge(id, 'Secret', ns, s.secret.name, 'mounts');
        }
      }
      for (const c of [...(p.spec.initContainers ?? []), ...(p.spec.containers ?? [])]) {
        for (const e of c.env ?? []) {
          if (e.valueFrom?.configMapKeyRef) edge(id, 'ConfigMap', ns, e.valueFrom.configMapKeyRef.name, 'env');
          if (e.valueFrom?.secretKeyRef) edge(id, 'Secret', ns, e.valueFrom.secretKeyRef.name, 'env');
        }
        for (const e of c.envFrom ?? []) {
          if (e.configMapRef) edge(id, 'ConfigMap', ns, e.configMapRef.name, 'env');
          if (e.secretRef) edge(id, 'Secret', ns, e.secretRef.name, 'env');
        }
      }
      const sa = p.spec.serviceAccountName;
      if (sa && sa !== 'default') edge(id, 'ServiceAccount', ns, sa, 'runs as');
    }
    if (o.kind === 'Service' && o.spec?.selector && Object.keys(o.spec.selector).length) {
      for (const w of selected(ns, (l) => Object.entries<string>(o.spec.selector).every(([k, v]) => l[k] === v))) {
        edge(id, w.o.kind, ns, w.o.metadata.name!, 'selects');
      }
    }
    if (o.kind === 'Ingress') {
      const backends = [o.spec?.defaultBackend, ...(o.spec?.rules ?? []).flatMap((r: any) => (r.http?.paths ?? []).map((x: any) => x.backend))];
      for (const b of backends) if (b?.service) edge(id, 'Service', ns, b.service.name, 'backend');
      for (const t of o.spec?.tls ?? []) if (t.secretName) edge(id, 'Secret', ns, t.secretName, 'tls');
    }
    if (o.kind === 'Application' && o.spec?.project) edge(id, 'AppProject', ns, o.spec.project, 'project');
    if (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') {
      edge(id, o.roleRef.kind, o.roleRef.kind === 'Role' ? ns : undefined, o.roleRef.name, 'binds');
      for (const s of o.subjects ?? []) if (s.kind === 'ServiceAccount') edge(id, 'ServiceAccount', s.namespace ?? ns, s.name, 'subject');
    }
    if ((o.kind === 'NetworkPolicy' && o.spec?.podSelector) || (o.kind === 'PodDisruptionBudget' && o.spec?.selector)) {
      const sel = o.kind === 'NetworkPolicy' ? o.spec.podSelector : o.spec.selector;
      for (const w of selected(
        ns,
        (l) =>
          selectorMatches(sel, l) ||
          (o.kind === 'NetworkPolicy' && !Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length),
      )) {
        edge(id, w.o.kind, ns, w.o.metadata.name!, 'selects');
      }
    }
  }
  const sortBy = <T>(xs: T[], key: (x: T) => string) => xs.sort((a, b) => key(a).localeCompare(key(b)));
  return {
    nodes: sortBy([...nodes.values()], (n) => n.id),
    edges: sortBy([...edges.values()], (e) => `${e.from}|${e.to}|${e.label}`),
  };
}

/** Renders a graph as a Mermaid flowchart (left to right); external objects are dashed. */
export function toMermaid(graph: Graph): string {
  const ids = new Map(graph.nodes.map((n, i) => [n.id, `n${i}`]));
  const lines = ['flowchart LR'];
  for (const n of graph.nodes) {
    const label = `${n.kind}<br/>${n.name}${n.external ? '<br/>(external)' : ''}`.replace(/"/g, '#quot;');
    lines.push(`  ${ids.get(n.id)}["${label}"]`);
  }
  for (const e of graph.edges) lines.push(`  ${ids.get(e.from)} -->|${e.label}| ${ids.get(e.to)}`);
  const ext = graph.nodes.filter((n) => n.external).map((n) => ids.get(n.id));
  if (ext.length) {
    lines.push('  classDef external stroke-dasharray: 5 5');
    lines.push(`  class ${ext.join(',')} external`);
  }
  return `${lines.join('\n')}\n`;
}
