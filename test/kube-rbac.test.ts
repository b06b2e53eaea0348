/**
 * The RBAC the constructs generate, decided by a real kube-apiserver's RBAC
 * authorizer: `kubectl auth can-i --as=system:serviceaccount:<ns>:<sa>` for
 * every ServiceAccount bound by a generated Role or ClusterRole (the full
 * matrix as SubjectAccessReviews, the question `kubectl auth can-i --as` asks,
 * and a sample through kubectl itself, which must agree).
 *
 * Sources: the RBAC objects of dist/dev and dist/prod, and KvProxy variants
 * the environments do not use (several namespaces, configMapNames, read-only).
 *
 * Expectations come from two places:
 *  - derived from the synthesized rules: every granted verb is allowed, in each
 *    bound namespace (and only there), on each named resource (and no other
 *    name); every other verb on those resources is refused;
 *  - explicit, independent of the manifests: what each ServiceAccount must
 *    never do (secrets, exec, tokens, RBAC escalation, anything anywhere) and
 *    what KvProxy needs for its props (reads, patch with writes, create only
 *    without configMapNames, list/watch of Services and EndpointSlices only
 *    with discovery, nothing cluster-wide).
 */
import * as path from 'node:path';
import { KvProxy, KvProxyProps } from '../lib/kv-proxy';
import { Manifest, loadFolder } from '../scripts/kube/apply';
import { DIST, mapLimit, useKubeCluster } from './support/kube';
import { synthObjects, testChart } from './support/synth';

const RBAC_KINDS = new Set(['Namespace', 'ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']);
const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];

/** One `kubectl auth can-i` question and the answer expected. */
interface Check {
  readonly sa: string; // namespace:name
  readonly verb: string;
  readonly resource: string; // resource[.group][/name]
  readonly namespace?: string; // undefined: cluster scope (--all-namespaces for namespaced resources)
  readonly subresource?: string;
  readonly allowed: boolean;
  readonly why: string;
}

interface Grant {
  readonly namespace?: string;
  readonly group: string;
  readonly resource: string;
  readonly verbs: string[];
  readonly names?: string[];
}

const qualified = (resource: string, group: string) => (group ? `${resource}.${group}` : resource);

/** What each ServiceAccount is granted, from Roles/ClusterRoles and their bindings. */
function grantsOf(objects: Manifest[]): Map<string, Grant[]> {
  const out = new Map<string, Grant[]>();
  for (const b of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    const role = objects.find(
      (o) =>
        o.kind === b.roleRef.kind &&
        o.metadata.name === b.roleRef.name &&
        (b.roleRef.kind === 'ClusterRole' || o.metadata.namespace === b.metadata.namespace),
    );
    if (!role) throw new Error(`${b.kind} ${b.metadata.name} refers to a missing ${b.roleRef.kind} ${b.roleRef.name}`);
    for (const s of b.subjects.filter((x: any) => x.kind === 'ServiceAccount')) {
      const key = `${s.namespace}:${s.name}`;
      const list = out.get(key) ?? [];
      for (const r of role.rules) {
        for (const group of r.apiGroups) {
          for (const resource of r.resources) {
            list.push({
              namespace: b.kind === 'RoleBinding' ? b.metadata.namespace : undefined,
              group,
              resource,
              verbs: r.verbs,
              names: r.resourceNames,
            });
          }
        }
      }
      out.set(key, list);
    }
  }
  return out;
}

/** The checks derived from the grants. */
function derivedChecks(sa: string, grants: Grant[], otherNamespaces: string[]): Check[] {
  const checks: Check[] = [];
  const allows = (ns: string | undefined, group: string, resource: string, verb: string, name?: string) =>
    grants.some(
      (g) =>
        (g.namespace === undefined || g.namespace === ns) &&
        g.group === group &&
        g.resource === resource &&
        g.verbs.includes(verb) &&
        (!g.names || (name !== undefined && g.names.includes(name))),
    );
  for (const g of grants) {
    const res = qualified(g.resource, g.group);
    for (const verb of g.verbs) {
      for (const name of g.names ?? [undefined]) {
        checks.push({
          sa,
          verb,
          resource: name ? `${res}/${name}` : res,
          namespace: g.namespace,
          allowed: true,
          why: 'granted by the synthesized rules',
        });
      }
    }
    for (const verb of VERBS.filter((v) => !allows(g.namespace, g.group, g.resource, v, g.names?.[0]))) {
      checks.push({
        sa,
        verb,
        resource: g.names ? `${res}/${g.names[0]}` : res,
        namespace: g.namespace,
        allowed: false,
        why: 'a verb the rules do not grant',
      });
    }
    if (g.names) {
      for (const verb of g.verbs.filter((v) => !allows(g.namespace, g.group, g.resource, v, 'not-a-granted-name'))) {
        checks.push({ sa, verb, resource: `${res}/not-a-granted-name`, namespace: g.namespace, allowed: false, why: 'a name outside resourceNames' });
      }
    }
    if (g.namespace !== undefined) {
      for (const ns of otherNamespaces.filter((n) => !grants.some((x) => x.namespace === n && x.group === g.group && x.resource === g.resource))) {
        for (const verb of g.verbs) checks.push({ sa, verb, resource: res, namespace: ns, allowed: false, why: 'a namespace it is not bound in' });
      }
      for (const verb of g.verbs.filter((v) => v !== 'create')) {
        checks.push({ sa, verb, resource: res, allowed: false, why: 'cluster-wide (all namespaces)' });
      }
    }
  }
  return checks;
}

/** What no generated ServiceAccount may ever do, in its own namespace and cluster-wide. */
function neverChecks(sa: string, namespaces: string[]): Check[] {
  const checks: Check[] = [];
  for (const ns of [...namespaces, undefined]) {
    for (const verb of ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'])
      checks.push({ sa, verb, resource: 'secrets', namespace: ns, allowed: false, why: 'never secrets' });
    checks.push({ sa, verb: 'create', resource: 'pods', subresource: 'exec', namespace: ns, allowed: false, why: 'never exec into pods' });
    checks.push({ sa, verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: ns, allowed: false, why: 'never mint tokens' });
    checks.push({
      sa,
      verb: 'create',
      resource: 'rolebindings.rbac.authorization.k8s.io',
      namespace: ns,
      allowed: false,
      why: 'never grant itself more',
    });
    checks.push({ sa, verb: 'escalate', resource: 'roles.rbac.authorization.k8s.io', namespace: ns, allowed: false, why: 'never escalate' });
    checks.push({ sa, verb: '*', resource: '*.*', namespace: ns, allowed: false, why: 'no wildcard' });
    checks.push({ sa, verb: 'create', resource: 'pods', namespace: ns, allowed: false, why: 'no workloads of its own' });
  }
  checks.push({ sa, verb: 'create', resource: 'clusterrolebindings.rbac.authorization.k8s.io', allowed: false, why: 'never grant itself more' });
  return checks;
}

/** What a KvProxy needs and must not have, from its props alone (not from its Roles). */
function kvProxyChecks(sa: string, props: KvProxyProps, outside: string[]): Check[] {
  const checks: Check[] = [];
  const names = props.configMapNames;
  for (const ns of props.namespaces) {
    const cm = (n?: string) => (n ? `configmaps/${n}` : 'configmaps');
    for (const n of names ?? [undefined]) {
      for (const verb of ['get', 'list', 'watch']) checks.push({ sa, verb, resource: cm(n), namespace: ns, allowed: true, why: 'reads' });
      checks.push({ sa, verb: 'patch', resource: cm(n), namespace: ns, allowed: props.writes === true, why: props.writes ? 'writes' : 'read-only' });
      for (const verb of ['update', 'delete'])
        checks.push({ sa, verb, resource: cm(n), namespace: ns, allowed: false, why: 'never replaces or deletes' });
    }
    checks.push({
      sa,
      verb: 'create',
      resource: 'configmaps',
      namespace: ns,
      allowed: props.writes === true && !names,
      why: names ? 'no create when names are given' : props.writes ? 'writes create' : 'read-only',
    });
    checks.push({ sa, verb: 'deletecollection', resource: 'configmaps', namespace: ns, allowed: false, why: 'never deletes' });
    for (const r of ['services', 'endpointslices.discovery.k8s.io']) {
      for (const verb of ['list', 'watch'])
        checks.push({ sa, verb, resource: r, namespace: ns, allowed: props.discovery === true, why: props.discovery ? 'discovery' : 'no discovery' });
      checks.push({ sa, verb: 'patch', resource: r, namespace: ns, allowed: false, why: 'discovery only reads' });
    }
  }
  for (const ns of outside) {
    for (const verb of ['get', 'list', 'watch', 'create', 'patch'])
      checks.push({ sa, verb, resource: 'configmaps', namespace: ns, allowed: false, why: 'nothing outside its namespaces' });
  }
  for (const verb of ['list', 'watch']) checks.push({ sa, verb, resource: 'configmaps', allowed: false, why: 'nothing cluster-wide' });
  checks.push({ sa, verb: 'list', resource: 'namespaces', allowed: false, why: 'nothing cluster-wide' });
  return checks;
}

/** KvProxy variants the environments do not use; each in namespaces of its own. */
const VARIANTS: Array<{ namespace: string; props: KvProxyProps }> = [
  { namespace: 'kv-multi', props: { namespaces: ['kv-multi', 'kv-multi-b'], writes: true, discovery: true } },
  { namespace: 'kv-names', props: { namespaces: ['kv-names'], configMapNames: ['flags', 'limits'], writes: true } },
  { namespace: 'kv-ro', props: { namespaces: ['kv-ro'] } },
];

describe('generated RBAC, decided by a real kube-apiserver', () => {
  const cluster = useKubeCluster();
  const dist = ['dev', 'prod'].flatMap((env) => loadFolder(path.join(DIST, env)).flatMap((f) => f.objects)).filter((o) => RBAC_KINDS.has(o.kind));
  const variants = VARIANTS.map((v) => {
    const chart = testChart(v.namespace);
    const kv = new KvProxy(chart, 'Kv', { name: 'kv', ...v.props });
    const objects = (synthObjects(chart) as Manifest[]).filter((o) => RBAC_KINDS.has(o.kind));
    const sa = objects.find((o) => o.kind === 'ServiceAccount')!;
    return { ...v, kv, objects, sa: `${sa.metadata.namespace ?? v.namespace}:${sa.metadata.name}` };
  });
  const all = [...dist, ...variants.flatMap((v) => v.objects)];
  const grants = grantsOf(all);
  const namespaces = [
    ...new Set([...all.map((o) => o.metadata.namespace), ...VARIANTS.flatMap((v) => v.props.namespaces), 'default'].filter((n): n is string => !!n)),
  ].sort();

  test('the generated ServiceAccounts, Roles, ClusterRoles and bindings apply; every binding names a generated role', async () => {
    expect(grants.size).toBeGreaterThanOrEqual(2 + VARIANTS.length);
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        ...namespaces
          .filter((n) => n !== 'default' && !all.some((o) => o.kind === 'Namespace' && o.metadata.name === n))
          .map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
        ...all,
      ],
    };
    const r = await cluster().kubectl(['apply', '--server-side', '--warnings-as-errors', '-f', '-'], JSON.stringify(list));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  });

  const matrix = (): Check[] => {
    const checks: Check[] = [];
    for (const [sa, g] of grants) {
      const [saNs] = sa.split(':');
      const bound = [...new Set(g.map((x) => x.namespace).filter((n): n is string => !!n))];
      checks.push(
        ...derivedChecks(
          sa,
          g,
          namespaces.filter((n) => !bound.includes(n)),
        ),
      );
      checks.push(...neverChecks(sa, [...new Set([saNs, ...bound])]));
    }
    for (const v of variants) checks.push(...kvProxyChecks(v.sa, v.props, namespaces.filter((n) => !v.props.namespaces.includes(n)).slice(0, 3)));
    // the KvProxy of each environment, from the environment's props as synthesized (dev: default; prod: kv-prod)
    for (const [sa, ns] of [
      ['default:k8skv', 'default'],
      ['kv-prod:k8skv', 'kv-prod'],
    ]) {
      expect(grants.has(sa)).toBe(true);
      checks.push(...kvProxyChecks(sa, { namespaces: [ns], writes: true, discovery: true }, namespaces.filter((n) => n !== ns).slice(0, 3)));
    }
    return checks;
  };

  /** The question as `kubectl auth can-i` takes it. */
  const canIArgs = (c: Check) => [
    'auth',
    'can-i',
    c.verb,
    c.resource,
    `--as=system:serviceaccount:${c.sa}`,
    ...(c.subresource ? [`--subresource=${c.subresource}`] : []),
    ...(c.namespace ? ['-n', c.namespace] : ['--all-namespaces']),
  ];

  /** The same question as a SubjectAccessReview: what `kubectl auth can-i --as` asks the RBAC authorizer, without a process per question. */
  const review = async (c: Check): Promise<boolean> => {
    const [saNs, saName] = c.sa.split(':');
    const [qualifiedResource, name] = c.resource.split('/');
    const dot = qualifiedResource.indexOf('.');
    const resource = dot < 0 ? qualifiedResource : qualifiedResource.slice(0, dot);
    const group = dot < 0 ? '' : qualifiedResource.slice(dot + 1);
    const r = await cluster().request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: `system:serviceaccount:${saNs}:${saName}`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${saNs}`, 'system:authenticated'],
        resourceAttributes: {
          verb: c.verb,
          group,
          resource,
          ...(c.subresource ? { subresource: c.subresource } : {}),
          ...(name ? { name } : {}),
          namespace: c.namespace ?? '',
        },
      },
    });
    if (r.status !== 201) throw new Error(`SubjectAccessReview: ${r.status} ${r.body}`);
    return JSON.parse(r.body).status.allowed === true;
  };
  const describeCheck = (c: Check) =>
    `${c.sa} ${c.verb} ${c.resource}${c.subresource ? `/${c.subresource}` : ''} in ${c.namespace ?? '(all namespaces)'}: ` +
    `expected ${c.allowed ? 'allowed' : 'refused'} (${c.why})`;

  test('every expected answer, allowed and refused, for every generated ServiceAccount (SubjectAccessReview)', async () => {
    const checks = matrix();
    expect(checks.filter((c) => c.allowed).length).toBeGreaterThan(20);
    expect(checks.filter((c) => !c.allowed).length).toBeGreaterThan(100);
    const answers = await mapLimit(checks, 8, review);
    expect(checks.filter((c, i) => answers[i] !== c.allowed).map(describeCheck)).toEqual([]);
  }, 120000);

  test('kubectl auth can-i --as agrees: every allowed answer and every tenth refusal, asked through kubectl', async () => {
    const all = matrix();
    const refused = all.filter((c) => !c.allowed);
    const sample = [...all.filter((c) => c.allowed), ...refused.filter((_, i) => i % 10 === 0)];
    const answers = await mapLimit(sample, 2, async (c) => {
      const r = await cluster().kubectl(canIArgs(c));
      if (r.code > 1 || !/^(yes|no)\b/.test(r.stdout)) throw new Error(`kubectl ${canIArgs(c).join(' ')}: ${r.code} ${r.stdout}${r.stderr}`);
      return r.stdout.startsWith('yes');
    });
    expect(sample.filter((c, i) => answers[i] !== c.allowed).map(describeCheck)).toEqual([]);
  }, 300000);

  test('the matrix can fail: an unbound ServiceAccount is refused what the KvProxy is allowed', async () => {
    const r = await cluster().kubectl(['auth', 'can-i', 'get', 'configmaps', '--as=system:serviceaccount:default:nobody', '-n', 'default']);
    expect(r.stdout.trim()).toBe('no');
    const admin = await cluster().kubectl(['auth', 'can-i', 'get', 'secrets', '-n', 'default']);
    expect(admin.stdout.trim()).toBe('yes');
  });
});
