/**
 * Applying synthesized folders to a real API server (see ./cluster.ts), the
 * way `kubectl apply --server-side` would in a cluster, and the checks a real
 * server can make that a schema cannot: admission (Pod Security on Pods),
 * defaulting, immutability, RBAC, CRD validation.
 * Used by `npm run verify` (./verify.ts) and the test/kube*.test.ts files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KubeCluster, KubectlResult } from '../../lib/verify/cluster';

const ROOT = path.resolve(__dirname, '..', '..');

/** Argo CD release whose manifests/crds the argocd folder is validated against (a Go module zip). */
export const ARGO_CD_MODULE = 'github.com/argoproj/argo-cd/v3';
export const ARGO_CD_VERSION = fs.readFileSync(path.join(ROOT, 'tools', 'kube', 'ARGO_CD_VERSION'), 'utf8').trim();
/** The CRDs of the objects cdk8s-patterns generates for Argo CD. */
export const ARGO_CD_CRDS = ['application-crd.yaml', 'appproject-crd.yaml'];
/** Who applies: the field manager of every server-side apply. */
export const FIELD_MANAGER = 'cdk8s-patterns';
/** Kinds whose pod template becomes Pods. */
export const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob']);

/** A manifest as parsed. */
export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: any }; [k: string]: any };

/** One YAML file of a folder, in apply order. */
export interface ManifestFile {
  readonly file: string;
  readonly objects: Manifest[];
}

/** The *.yaml / *.yml files of a folder, sorted by name (cdk8s numbers them in apply order), parsed. */
export function loadFolder(dir: string): ManifestFile[] {
  return fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => {
    const file = path.join(dir, f);
    const objects = parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => {
      if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
      return d.toJS() as Manifest;
    }).filter((o) => o && typeof o === 'object');
    return { file, objects };
  });
}

/** The folders to verify under `dir`: itself if it holds YAML, else each sub-folder that does. */
export function manifestFolders(dir: string): string[] {
  const yamlIn = (d: string) => fs.readdirSync(d).some((f) => /\.ya?ml$/.test(f));
  if (yamlIn(dir)) return [dir];
  return fs.readdirSync(dir).map((d) => path.join(dir, d)).filter((d) => fs.statSync(d).isDirectory() && yamlIn(d)).sort();
}

/** Namespaces and CRDs go first, then everything else (each group in file order). */
export function applyOrder(files: ManifestFile[]): ManifestFile[] {
  const first = (f: ManifestFile) => f.objects.length > 0 && f.objects.every((o) => o.kind === 'Namespace' || o.kind === 'CustomResourceDefinition');
  return [...files.filter(first), ...files.filter((f) => !first(f))];
}

/** `kubectl apply --server-side --warnings-as-errors` of one file. */
export function applyFile(cluster: KubeCluster, file: string, extra: string[] = []): Promise<KubectlResult> {
  return cluster.kubectl(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '--warnings-as-errors', '-f', file, ...extra]);
}

/** The namespaces the objects live in, and those they create. */
export function namespacesOf(objects: Manifest[]): { used: string[]; created: string[] } {
  const used = [...new Set(objects.map((o) => o.metadata.namespace).filter((n): n is string => !!n))].sort();
  const created = objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name).sort();
  return { used, created };
}

/**
 * What kube-controller-manager would have done by now, without which Pods
 * cannot be admitted: the `default` ServiceAccount of each namespace.
 */
export async function createDefaultServiceAccounts(cluster: KubeCluster, namespaces: string[]): Promise<void> {
  for (const ns of namespaces) {
    const r = await cluster.kubectl(['create', 'serviceaccount', 'default', '-n', ns]);
    if (r.code !== 0 && !/AlreadyExists/.test(r.stderr)) throw new Error(`serviceaccount default in ${ns}: ${r.stderr}`);
  }
}

/** The pod template of a workload as the Pod its controller would create. */
export function podFromTemplate(workload: Manifest): Manifest {
  const template = workload.kind === 'CronJob' ? workload.spec.jobTemplate.spec.template : workload.spec.template;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${workload.metadata.name}-${workload.kind.toLowerCase()}-pod`.slice(0, 63).replace(/-+$/, ''), namespace: workload.metadata.namespace ?? 'default', labels: template.metadata?.labels, annotations: template.metadata?.annotations },
    spec: template.spec,
  };
}

/** Creates a Pod with `--dry-run=server`: every admission plugin runs (Pod Security enforces on Pods), nothing is stored. */
export function dryRunPod(cluster: KubeCluster, pod: Manifest): Promise<KubectlResult> {
  return cluster.kubectl(['create', '--dry-run=server', '--warnings-as-errors', '-o', 'name', '-f', '-'], JSON.stringify(pod));
}

/** The Argo CD CRDs from the Go module cache (scripts/kube/build.sh downloads the module). */
export function argoCdCrdFiles(): string[] {
  const dir = path.join(argoCdModuleDir(), 'manifests', 'crds');
  return ARGO_CD_CRDS.map((f) => path.join(dir, f));
}

function argoCdModuleDir(): string {
  const gomodcache = process.env.GOMODCACHE || path.join(process.env.GOPATH || path.join(process.env.HOME || '/root', 'go'), 'pkg', 'mod');
  // the module cache escapes upper-case letters as !x
  const dir = path.join(gomodcache, `${ARGO_CD_MODULE.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`)}@${ARGO_CD_VERSION}`);
  if (!fs.existsSync(path.join(dir, 'manifests', 'crds'))) {
    throw new Error(`${dir}/manifests/crds is missing: run \`bash scripts/kube/build.sh\` (npm test runs it first), which runs go mod download ${ARGO_CD_MODULE}@${ARGO_CD_VERSION}`);
  }
  return dir;
}

/** Installs the Argo CD CRDs and waits until they are Established. */
export async function installArgoCdCrds(cluster: KubeCluster): Promise<void> {
  for (const file of argoCdCrdFiles()) {
    const r = await cluster.kubectl(['apply', '--server-side', '--field-manager=argocd-install', '-f', file]);
    if (r.code !== 0) throw new Error(`installing ${path.basename(file)}: ${r.stderr}`);
  }
  await cluster.kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/applications.argoproj.io', 'crd/appprojects.argoproj.io']);
}

/** One finding of verifyFolder. */
export interface Finding {
  readonly step: string;
  readonly ok: boolean;
  readonly output: string;
}

/**
 * Everything `npm run verify` checks for one folder, on a fresh cluster:
 * namespaces first; for built-in namespaces (not owned by the folder) the
 * cluster gets Pod Security `restricted` as a platform would; the `default`
 * ServiceAccounts a controller-manager would create; each file applied
 * server-side with warnings as errors; the Argo CD CRDs first when the folder
 * holds argoproj.io objects; then a Pod from every workload's template
 * (dry-run) so Pod Security enforces; then `kubectl diff --server-side`
 * (nothing changes on a second apply).
 */
export async function verifyFolder(cluster: KubeCluster, dir: string, report: (f: Finding) => void = () => undefined): Promise<Finding[]> {
  const findings: Finding[] = [];
  const add = (step: string, r: KubectlResult | { code: number; stdout: string; stderr: string }) => {
    const f = { step, ok: r.code === 0 && r.stderr.trim() === '', output: `${r.stdout}${r.stderr}`.trim() };
    findings.push(f);
    report(f);
  };
  const files = applyOrder(loadFolder(dir));
  const objects = files.flatMap((f) => f.objects);
  if (objects.some((o) => o.apiVersion?.startsWith('argoproj.io/'))) {
    await installArgoCdCrds(cluster);
    add(`Argo CD CRDs installed (${ARGO_CD_MODULE}@${ARGO_CD_VERSION} manifests/crds)`, { code: 0, stdout: '', stderr: '' });
  }
  const { used, created } = namespacesOf(objects);
  for (const f of files.filter((x) => x.objects.every((o) => o.kind === 'Namespace'))) add(`apply ${path.relative(process.cwd(), f.file)}`, await applyFile(cluster, f.file));
  for (const ns of used.filter((n) => !created.includes(n))) {
    // a namespace the folder uses but does not create: make it exist, restricted, as a platform would
    await cluster.kubectl(['create', 'namespace', ns]);
    await cluster.kubectlOk(['label', '--overwrite', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/enforce-version=v1.28']);
  }
  await createDefaultServiceAccounts(cluster, used);
  for (const f of files.filter((x) => !x.objects.every((o) => o.kind === 'Namespace'))) add(`apply ${path.relative(process.cwd(), f.file)}`, await applyFile(cluster, f.file));
  for (const w of objects.filter((o) => WORKLOAD_KINDS.has(o.kind))) {
    add(`Pod Security: a Pod from ${w.kind} ${w.metadata.namespace ?? 'default'}/${w.metadata.name}`, await dryRunPod(cluster, podFromTemplate(w)));
  }
  for (const f of files) {
    const r = await cluster.kubectl(['diff', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', f.file]);
    add(`diff ${path.relative(process.cwd(), f.file)} (a second apply changes nothing)`, r);
  }
  return findings;
}
