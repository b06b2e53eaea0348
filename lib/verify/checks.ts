/**
 * The checks of `cdk8s-patterns verify`, as a list: each one gets the
 * context (the server, the input, what earlier checks applied) and returns a
 * one-line summary and its failures, each naming the file, the object and
 * the server's own message. More checks plug in by adding to the list
 * (see {@link CHECKS}).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiClient, ApiResponse, objectPath, Resource, RestMapper, serverMessage } from './api';
import { KubeCluster } from './cluster';
import { InputObject, InputProblem, isFirst, Manifest, manifestFiles, objectName, podTemplateOf, readObjects } from './input';

/** Who applies: the field manager of every server-side apply. */
export const FIELD_MANAGER = 'cdk8s-patterns';
/** Pod Security levels, weakest first. */
export const POD_SECURITY_LEVELS = ['privileged', 'baseline', 'restricted'] as const;
/** How Pod Security is enforced: a level on every namespace, or only the namespaces' labels. */
export type PodSecurityMode = 'restricted' | 'baseline' | 'labels';

const ROOT = path.resolve(__dirname, '..', '..');
/** Argo CD release whose manifests/crds are installed for argoproj.io objects (a Go module zip). */
export const ARGO_CD_MODULE = 'github.com/argoproj/argo-cd/v3';
export const ARGO_CD_VERSION = fs.readFileSync(path.join(ROOT, 'tools', 'kube', 'ARGO_CD_VERSION'), 'utf8').trim();
/** The CRDs of the objects cdk8s-patterns generates for Argo CD. */
export const ARGO_CD_CRDS = ['application-crd.yaml', 'appproject-crd.yaml'];
/** Namespaces every cluster has. */
const BUILT_IN_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/** What verify was asked to do. */
export interface VerifyOptions {
  /** Files and folders of CustomResourceDefinitions applied first. */
  readonly crds: readonly string[];
  readonly podSecurity: PodSecurityMode;
  /** Report what every ServiceAccount of the input may do. */
  readonly canI: boolean;
}

/** One failure: where, what, and the server's own message. */
export interface Failure {
  readonly file?: string;
  readonly document?: number;
  /** `Deployment shop/web` */
  readonly object?: string;
  readonly message: string;
}

/** What a check found. */
export interface CheckResult {
  /** One line: what was checked, how many. */
  readonly summary: string;
  readonly failures: readonly Failure[];
  /** Report lines that are not failures (the --can-i report). */
  readonly notes?: readonly string[];
}

/** One check of the list. */
export interface Check {
  /** A short name (read, crds, apply, ...). */
  readonly id: string;
  /** What passing means, in a few words. */
  readonly title: string;
  /** Whether the check has anything to do here; one that has not prints nothing. @default - always */
  enabled?(ctx: VerifyContext): boolean;
  run(ctx: VerifyContext): Promise<CheckResult>;
}

/** Everything the checks share for one set of files on one server. */
export class VerifyContext {
  public readonly api: ApiClient;
  /** The input's objects, in the order given. */
  public readonly objects: InputObject[];
  /** What could not be read. */
  public readonly problems: InputProblem[];
  /** The objects the server stored (applied with or without warnings), with its answer. */
  public readonly applied = new Map<InputObject, Manifest>();
  /** Namespaces that exist on the server. */
  public readonly namespaces = new Set<string>(BUILT_IN_NAMESPACES);
  private mapper?: RestMapper;

  constructor(
    public readonly cluster: KubeCluster,
    public readonly files: readonly string[],
    public readonly options: VerifyOptions,
  ) {
    this.api = new ApiClient(cluster.server, cluster.ca, cluster.adminToken);
    ({ objects: this.objects, problems: this.problems } = readObjects(files));
  }

  /** The server's REST mapping (discovery), read again after CRDs were added. */
  public async restMapper(refresh = false): Promise<RestMapper> {
    if (!this.mapper || refresh) this.mapper = await RestMapper.discover(this.api);
    return this.mapper;
  }

  /** Server-side apply of one object with strict field validation. */
  public async apply(o: Manifest): Promise<{ response?: ApiResponse; error?: string }> {
    const found = await this.resource(o);
    if ('error' in found) return { error: found.error };
    const { resource } = found;
    const namespace = resource.namespaced ? (o.metadata.namespace ?? 'default') : undefined;
    const body = { ...o, metadata: { ...o.metadata, ...(namespace ? { namespace } : {}) } };
    if (!resource.namespaced) delete body.metadata.namespace;
    const response = await this.api.request(
      'PATCH',
      `${objectPath(resource, namespace, o.metadata.name)}?fieldManager=${FIELD_MANAGER}&fieldValidation=Strict`,
      { body, contentType: 'application/apply-patch+yaml' },
    );
    return { response };
  }

  /** The live object, or undefined. */
  public async get(o: Manifest): Promise<Manifest | undefined> {
    const found = await this.resource(o);
    if ('error' in found) return undefined;
    const r = await this.api.request(
      'GET',
      objectPath(found.resource, found.resource.namespaced ? (o.metadata.namespace ?? 'default') : undefined, o.metadata.name),
    );
    return r.status === 200 ? r.body : undefined;
  }

  /** The resource serving `o`, or why there is none (naming --crds for a custom resource). */
  public async resource(o: Manifest): Promise<{ resource: Resource } | { error: string }> {
    let mapper = await this.restMapper();
    let resource = mapper.find(o.apiVersion, o.kind);
    if (!resource && this.addedCrds) {
      // discovery follows an Established CRD within moments
      for (let i = 0; i < 20 && !resource; i++) {
        await new Promise((r) => setTimeout(r, 250));
        mapper = await this.restMapper(true);
        resource = mapper.find(o.apiVersion, o.kind);
      }
    }
    if (resource) return { resource };
    const served = mapper.versionsOf(o.apiVersion, o.kind);
    if (served.length) return { error: `the server does not serve ${o.kind} in ${o.apiVersion}; it serves ${o.kind} in ${served.join(', ')}` };
    return {
      error:
        `the server has no ${o.kind} in ${o.apiVersion}: ` +
        'if it is a custom resource, give its CustomResourceDefinition with --crds <file|dir> (or put the CRD in the input)',
    };
  }

  /** Set once a CRD was applied, so discovery is read again for unknown kinds. */
  public addedCrds = false;
}

/** A failure for an object of the input. */
export function failure(input: InputObject, message: string): Failure {
  return { file: input.file, document: input.document, object: objectName(input.object), message };
}

/** The outcome of an apply as a failure message, or undefined when it is clean (no error, no warning). */
function applyProblem(r: { response?: ApiResponse; error?: string }): string | undefined {
  if (r.error) return r.error;
  const res = r.response!;
  if (res.status >= 400) return serverMessage(res);
  if (res.warnings.length) return res.warnings.map((w) => `Warning: ${w}`).join('; ');
  return undefined;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Waits until the CRD is Established; the server's reason when it is not. */
async function established(ctx: VerifyContext, name: string): Promise<string | undefined> {
  let last = 'not Established';
  for (let i = 0; i < 240; i++) {
    const r = await ctx.api.request('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(name)}`);
    const conditions: any[] = r.body?.status?.conditions ?? [];
    if (conditions.some((c) => c.type === 'Established' && c.status === 'True')) return undefined;
    const refused = conditions.find((c) => c.type === 'NamesAccepted' && c.status === 'False');
    if (refused) return `NamesAccepted False: ${refused.message}`;
    last = conditions.map((c) => `${c.type}=${c.status}${c.message ? ` (${c.message})` : ''}`).join(', ') || last;
    await new Promise((res) => setTimeout(res, 250));
  }
  return `not Established after 60 s: ${last}`;
}

/** Applies CRDs (server-side, warnings as errors) and waits until each is Established. */
async function applyCrds(ctx: VerifyContext, crds: readonly InputObject[]): Promise<Failure[]> {
  const failures: Failure[] = [];
  for (const c of crds) {
    const problem = applyProblem(await ctx.apply(c.object));
    if (problem) {
      failures.push(failure(c, problem));
      continue;
    }
    const notReady = await established(ctx, c.object.metadata.name);
    if (notReady) failures.push(failure(c, notReady));
    ctx.addedCrds = true;
  }
  if (crds.length) await ctx.restMapper(true);
  return failures;
}

/** The Argo CD CRDs from the Go module cache, when `go mod download` has put them there (scripts/kube/build.sh does). */
export function argoCdCrdFiles(): string[] | undefined {
  const gomodcache = process.env.GOMODCACHE || path.join(process.env.GOPATH || path.join(process.env.HOME || '/root', 'go'), 'pkg', 'mod');
  // the module cache escapes upper-case letters as !x
  const dir = path.join(gomodcache, `${ARGO_CD_MODULE.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`)}@${ARGO_CD_VERSION}`, 'manifests', 'crds');
  const files = ARGO_CD_CRDS.map((f) => path.join(dir, f));
  return files.every((f) => fs.existsSync(f)) ? files : undefined;
}

/** Every document parses, names what server-side apply needs, and no object comes twice. */
export const READ_CHECK: Check = {
  id: 'read',
  title: 'read the input',
  async run(ctx) {
    const failures: Failure[] = ctx.problems.map((p) => ({ file: p.file, document: p.document, message: p.message }));
    const seen = new Map<string, InputObject>();
    for (const o of ctx.objects) {
      const group = o.object.apiVersion.includes('/') ? o.object.apiVersion.split('/')[0] : '';
      const key = `${group}|${o.object.kind}|${o.object.metadata.namespace ?? ''}|${o.object.metadata.name}`;
      const first = seen.get(key);
      if (first) failures.push(failure(o, `the same object as ${first.file} document ${first.document}: the later one silently wins`));
      else seen.set(key, o);
    }
    if (!ctx.objects.length && !failures.length) failures.push({ message: `no objects in ${ctx.files.join(', ')}: nothing to verify` });
    return { summary: `${plural(ctx.files.length, 'file')}, ${plural(ctx.objects.length, 'object')}`, failures };
  },
};

/** --crds, and Argo CD's CRDs for argoproj.io objects nobody gave CRDs for. */
export const CRDS_CHECK: Check = {
  id: 'crds',
  title: 'CRDs applied first are Established (--crds)',
  enabled: (ctx) => ctx.options.crds.length > 0 || argoCrdsNeeded(ctx),
  async run(ctx) {
    const files = ctx.options.crds.flatMap((p) => (fs.statSync(p).isDirectory() ? manifestFiles(p) : [p]));
    const argo = argoCrdsNeeded(ctx) ? (argoCdCrdFiles() ?? []) : [];
    const { objects, problems } = readObjects([...files, ...argo]);
    const crds = objects.filter((o) => isFirst(o.object) && o.object.kind === 'CustomResourceDefinition');
    const others = objects.length - crds.length;
    const failures: Failure[] = problems.map((p) => ({ file: p.file, document: p.document, message: p.message }));
    if (!crds.length && !argo.length) failures.push({ message: `no CustomResourceDefinition in ${ctx.options.crds.join(', ')}` });
    failures.push(...(await applyCrds(ctx, crds)));
    const notes = [
      ...(argo.length ? [`Argo CD's CRDs for the argoproj.io objects (${ARGO_CD_MODULE}@${ARGO_CD_VERSION} manifests/crds)`] : []),
      ...(others
        ? [`${plural(others, 'object')} that ${others === 1 ? 'is' : 'are'} not a CustomResourceDefinition left out (--crds applies CRDs only)`]
        : []),
    ];
    return { summary: plural(crds.length, 'CustomResourceDefinition'), failures, notes };
  },
};

function argoCrdsNeeded(ctx: VerifyContext): boolean {
  const given =
    ctx.options.crds.length > 0 || ctx.objects.some((o) => o.object.kind === 'CustomResourceDefinition' && o.object.spec?.group === 'argoproj.io');
  return !given && ctx.objects.some((o) => o.object.apiVersion.startsWith('argoproj.io/')) && argoCdCrdFiles() !== undefined;
}

/**
 * Server-side apply of every object with strict field validation and
 * warnings as errors: Namespaces and CRDs first (even from the same file),
 * then what a cluster would already have (namespaces the input uses but does
 * not create, each namespace's `default` ServiceAccount), then the rest in
 * the order given.
 */
export const APPLY_CHECK: Check = {
  id: 'apply',
  title: 'server-side apply, warnings as errors',
  async run(ctx) {
    const failures: Failure[] = [];
    const applyAll = async (objects: InputObject[]) => {
      for (const o of objects) {
        const r = await ctx.apply(o.object);
        if (r.response && r.response.status < 400) ctx.applied.set(o, r.response.body);
        const problem = applyProblem(r);
        if (problem) failures.push(failure(o, problem));
      }
    };
    const first = ctx.objects.filter((o) => isFirst(o.object));
    const namespaces = first.filter((o) => o.object.kind === 'Namespace');
    await applyAll(namespaces);
    for (const ns of namespaces) if (ctx.applied.has(ns)) ctx.namespaces.add(ns.object.metadata.name);
    const crds = first.filter((o) => o.object.kind === 'CustomResourceDefinition');
    failures.push(...(await applyCrds(ctx, crds)));
    for (const c of crds) if (!failures.some((f) => f.object === objectName(c.object))) ctx.applied.set(c, c.object);
    // what the platform would have: the namespaces the input uses, and their default ServiceAccounts
    const rest = ctx.objects.filter((o) => !isFirst(o.object));
    const mapper = await ctx.restMapper();
    const used = [
      ...new Set(
        rest.filter((o) => mapper.find(o.object.apiVersion, o.object.kind)?.namespaced).map((o) => o.object.metadata.namespace ?? 'default'),
      ),
    ];
    const created: string[] = [];
    for (const ns of used.filter((n) => !ctx.namespaces.has(n))) {
      const r = await ctx.api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
      if (r.status < 400) {
        created.push(ns);
        ctx.namespaces.add(ns);
      }
    }
    for (const ns of ctx.namespaces) {
      await ctx.api.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, {
        body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } },
      });
    }
    await applyAll(rest);
    const total = ctx.objects.length;
    const counted = failures.length ? `${failures.length} of ${plural(total, 'object')} failed` : `${plural(total, 'object')}`;
    const platform = created.length ? ` (namespaces the input uses but does not create, created as a platform would: ${created.join(', ')})` : '';
    const summary = `${counted}${platform}`;
    return { summary, failures };
  },
};

/** No Namespace's label lowers the Pod Security level verify enforces (unless --pod-security labels). */
export const NAMESPACE_LABELS_CHECK: Check = {
  id: 'namespace-labels',
  title: 'no namespace label lowers Pod Security',
  enabled: (ctx) => ctx.options.podSecurity !== 'labels' && ctx.objects.some((o) => o.object.kind === 'Namespace'),
  async run(ctx) {
    const level = ctx.options.podSecurity as 'restricted' | 'baseline';
    const namespaces = ctx.objects.filter((o) => o.object.apiVersion === 'v1' && o.object.kind === 'Namespace');
    const failures: Failure[] = [];
    for (const ns of namespaces) {
      const label = ns.object.metadata.labels?.['pod-security.kubernetes.io/enforce'];
      if (label !== undefined && POD_SECURITY_LEVELS.indexOf(label as any) < POD_SECURITY_LEVELS.indexOf(level)) {
        failures.push(
          failure(
            ns,
            `pod-security.kubernetes.io/enforce=${label} is weaker than ${level}, which verify enforces on every namespace ` +
              '(--pod-security labels honours namespace labels instead)',
          ),
        );
      }
    }
    return { summary: `${plural(namespaces.length, 'namespace')} at ${level} or stricter`, failures };
  },
};

/** The Pod a workload's controller would create. */
export function podFromTemplate(workload: Manifest, template: { metadata?: any; spec: any }): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${workload.metadata.name}-${workload.kind.toLowerCase()}-pod`.slice(0, 63).replace(/-+$/, ''),
      namespace: workload.metadata.namespace ?? 'default',
      ...(template.metadata?.labels ? { labels: template.metadata.labels } : {}),
      ...(template.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
    },
    spec: template.spec,
  };
}

/** A Pod from every workload template, created with dry-run: every admission plugin runs (Pod Security enforces on Pods). */
export const PODS_CHECK: Check = {
  id: 'pods',
  title: 'a Pod from every workload template is admitted',
  enabled: (ctx) => ctx.objects.some((o) => podTemplateOf(o.object)),
  async run(ctx) {
    const workloads = ctx.objects.filter((o) => podTemplateOf(o.object));
    const failures: Failure[] = [];
    for (const w of workloads) {
      const pod = podFromTemplate(w.object, podTemplateOf(w.object)!);
      const r = await ctx.api.request(
        'POST',
        `/api/v1/namespaces/${encodeURIComponent(pod.metadata.namespace!)}/pods?dryRun=All&fieldValidation=Strict`,
        { body: pod },
      );
      const problem = applyProblem({ response: r });
      if (problem) failures.push(failure(w, problem));
    }
    const how = ctx.options.podSecurity === 'labels' ? 'namespace labels' : `${ctx.options.podSecurity} on every namespace`;
    return {
      summary: `${failures.length ? `${failures.length} of ${workloads.length} refused` : plural(workloads.length, 'Pod')} (Pod Security: ${how})`,
      failures,
    };
  },
};

/** The JSON paths where two objects differ (metadata.resourceVersion and managedFields aside). */
export function changedPaths(a: any, b: any, at = ''): string[] {
  if (at === '.metadata.resourceVersion' || at === '.metadata.managedFields') return [];
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) {
    return JSON.stringify(a) === JSON.stringify(b) ? [] : [at || '.'];
  }
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys.flatMap((k) => changedPaths(a[k], b[k], Array.isArray(a) ? `${at}[${k}]` : `${at}.${k}`));
}

/** A second server-side apply of every stored object changes nothing in it (managedFields and resourceVersion aside). */
export const REAPPLY_CHECK: Check = {
  id: 'reapply',
  title: 'a second apply changes nothing',
  enabled: (ctx) => ctx.applied.size > 0,
  async run(ctx) {
    const failures: Failure[] = [];
    for (const o of ctx.applied.keys()) {
      const before = await ctx.get(o.object);
      const r = await ctx.apply(o.object);
      if (r.error || r.response!.status >= 400) {
        failures.push(failure(o, r.error ?? serverMessage(r.response!)));
        continue;
      }
      // what kubectl diff --server-side compares: the object, not the field-ownership bookkeeping
      // (the server may rewrite managedFields alone, e.g. a Namespace's kubernetes.io/metadata.name label)
      const paths = changedPaths(before, r.response!.body);
      if (paths.length)
        failures.push(
          failure(o, `a second apply changed ${paths.slice(0, 5).join(', ')}${paths.length > 5 ? `, and ${paths.length - 5} more` : ''}`),
        );
    }
    return { summary: `${ctx.applied.size - failures.length} of ${plural(ctx.applied.size, 'object')} unchanged`, failures };
  },
};

type Rule = { verbs: string[]; apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; nonResourceURLs?: string[] };

/** `get,list,watch configmaps [flags]`, `get /healthz` */
function ruleText(r: Rule): string {
  const verbs = r.verbs.join(',');
  if (r.nonResourceURLs) return `${verbs} ${r.nonResourceURLs.join(',')}`;
  const groups = r.apiGroups ?? [''];
  const resources = (r.resources ?? []).flatMap((res) => groups.map((g) => (g ? `${res}.${g}` : res)));
  return `${verbs} ${resources.join(',')}${r.resourceNames?.length ? ` [${r.resourceNames.join(',')}]` : ''}`;
}

/** What `user` may do in `namespace` (SelfSubjectRulesReview, impersonating), as rule texts. */
async function rulesOf(ctx: VerifyContext, namespace: string, sa: { namespace: string; name: string }): Promise<Set<string>> {
  const r = await ctx.api.request('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } },
    as: {
      user: `system:serviceaccount:${sa.namespace}:${sa.name}`,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`, 'system:authenticated'],
    },
  });
  if (r.status >= 400) throw new Error(serverMessage(r));
  const status = r.body.status ?? {};
  return new Set([...(status.resourceRules ?? []), ...(status.nonResourceRules ?? [])].map(ruleText));
}

/** What every ServiceAccount of the input may do, beyond what any ServiceAccount may (RBAC as applied). */
export const CAN_I_CHECK: Check = {
  id: 'can-i',
  title: 'what each ServiceAccount may do (--can-i)',
  enabled: (ctx) => ctx.options.canI,
  async run(ctx) {
    const accounts = [...ctx.applied.keys()].filter((o) => o.object.apiVersion === 'v1' && o.object.kind === 'ServiceAccount');
    const namespaces = [
      ...new Set([...ctx.namespaces].filter((n) => !BUILT_IN_NAMESPACES.includes(n) || ctx.objects.some((o) => o.object.metadata.namespace === n))),
    ].sort();
    // a namespace nobody binds anything in: what is left is granted cluster-wide
    const nowhere = 'cdk8s-patterns-verify-nowhere';
    const notes: string[] = [];
    const failures: Failure[] = [];
    for (const a of accounts) {
      const sa = { namespace: a.object.metadata.namespace ?? 'default', name: a.object.metadata.name };
      const nobody = { namespace: sa.namespace, name: 'cdk8s-patterns-verify-nobody' };
      try {
        const minus = (x: Set<string>, ...ys: Set<string>[]) => [...x].filter((r) => !ys.some((y) => y.has(r)));
        const baseNowhere = await rulesOf(ctx, nowhere, nobody);
        const everywhere = minus(await rulesOf(ctx, nowhere, sa), baseNowhere);
        const parts = everywhere.length ? [`in every namespace: ${everywhere.join('; ')}`] : [];
        for (const ns of namespaces) {
          const extra = minus(await rulesOf(ctx, ns, sa), await rulesOf(ctx, ns, nobody), new Set(everywhere));
          if (extra.length) parts.push(`in ${ns}: ${extra.join('; ')}`);
        }
        notes.push(
          `ServiceAccount ${sa.namespace}/${sa.name}: ${parts.length ? parts.join(' | ') : 'nothing beyond what every ServiceAccount may do'}`,
        );
      } catch (e) {
        failures.push(failure(a, (e as Error).message));
      }
    }
    return { summary: plural(accounts.length, 'ServiceAccount'), failures, notes };
  },
};

/**
 * The checks, in the order they run. A check is an object with an id, a
 * title and `run(ctx)`; plug in more by passing your own list to
 * verifyFiles (for example a schema or lint runner that reads `ctx.files`).
 */
export const CHECKS: readonly Check[] = [READ_CHECK, CRDS_CHECK, APPLY_CHECK, NAMESPACE_LABELS_CHECK, PODS_CHECK, REAPPLY_CHECK, CAN_I_CHECK];
