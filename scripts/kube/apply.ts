/**
 * Applying synthesized folders to a real API server (see lib/verify/cluster.ts), the
 * way `kubectl apply --server-side` would in a cluster, and the checks a real
 * server can make that a schema cannot: admission (Pod Security on Pods),
 * defaulting, immutability, RBAC, CRD validation.
 * Used by the test/kube*.test.ts files, which apply with kubectl as a
 * platform engineer would; `npm run verify` (bin/cdk8s-patterns.js verify,
 * lib/verify/) checks any folder the same way over the API.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KubeCluster, KubectlResult } from '../../lib/verify/cluster';
import { ARGO_CD_CRDS, ARGO_CD_MODULE, ARGO_CD_VERSION, FIELD_MANAGER } from '../../lib/verify/checks';

export { ARGO_CD_CRDS, ARGO_CD_MODULE, ARGO_CD_VERSION, FIELD_MANAGER };

/** Kinds whose pod template becomes Pods. */
export const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob']);

/** A manifest as parsed. */
export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: any };
  [k: string]: any;
};

/** One YAML file of a folder, in apply order. */
export interface ManifestFile {
  readonly file: string;
  readonly objects: Manifest[];
}

/** The *.yaml / *.yml files of a folder, sorted by name (cdk8s numbers them in apply order), parsed. */
export function loadFolder(dir: string): ManifestFile[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => {
      const file = path.join(dir, f);
      const objects = parseAllDocuments(fs.readFileSync(file, 'utf8'))
        .map((d) => {
          if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
          return d.toJS() as Manifest;
        })
        .filter((o) => o && typeof o === 'object');
      return { file, objects };
    });
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
  const created = objects
    .filter((o) => o.kind === 'Namespace')
    .map((o) => o.metadata.name)
    .sort();
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
    metadata: {
      name: `${workload.metadata.name}-${workload.kind.toLowerCase()}-pod`.slice(0, 63).replace(/-+$/, ''),
      namespace: workload.metadata.namespace ?? 'default',
      labels: template.metadata?.labels,
      annotations: template.metadata?.annotations,
    },
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
    throw new Error(
      `${dir}/manifests/crds is missing: run \`bash scripts/kube/build.sh\` (npm test runs it first), ` +
        `which runs go mod download ${ARGO_CD_MODULE}@${ARGO_CD_VERSION}`,
    );
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
