/**
 * Every committed dist/<env> folder, applied to a real kube-apiserver
 * (one fresh server per folder) the way a platform engineer would apply it:
 * namespaces first, then each file with `kubectl apply --server-side
 * --warnings-as-errors`. Then what only a real server knows:
 *  - Pod Security admission: it only warns on workload objects but enforces on
 *    Pods, so a Pod is created (dry-run=server) from every workload template,
 *    and a privileged variant of one per namespace must be refused;
 *  - defaulting and field ownership: `kubectl diff --server-side` is empty;
 *  - immutable ConfigMaps refuse updates.
 * And dist/argocd, applied after Argo CD's real CRDs (manifests/crds of the
 * argo-cd Go module, version in tools/kube/ARGO_CD_VERSION).
 *
 * There is no controller-manager: the `default` ServiceAccounts it would make
 * are created by the test (the ServiceAccount admission plugin needs them for
 * Pods). dev puts some workloads in the built-in `default` namespace, which
 * the namespaces chart never owns (BUILTIN_NAMESPACES): the test labels it
 * `restricted` as a platform would, so those Pods are held to the same policy.
 */
import * as path from 'node:path';
import { BUILTIN_NAMESPACES } from '../charts/namespaces';
import {
  ARGO_CD_VERSION,
  FIELD_MANAGER,
  Manifest,
  WORKLOAD_KINDS,
  applyFile,
  applyOrder,
  createDefaultServiceAccounts,
  dryRunPod,
  installArgoCdCrds,
  loadFolder,
  namespacesOf,
  podFromTemplate,
} from '../scripts/kube/apply';
import { DIST, mapLimit, outcome, useKubeCluster } from './support/kube';

const ENVS = ['dev', 'prod'];
/**
 * The tests below run kubectl one call after another (the stored-object check
 * alone makes one call per object, about 60): a fraction of a second each when
 * idle, several seconds each on two busy cores. A generous bound for all of
 * them; a hang still fails, with the test's name.
 */
const KUBECTL_TEST_TIMEOUT_MS = 600_000;
const ok = { code: 0, stderr: '' };
const rel = (f: string) => path.relative(DIST, f);

describe.each(ENVS)('dist/%s on a real kube-apiserver', (env) => {
  const cluster = useKubeCluster();
  const files = applyOrder(loadFolder(path.join(DIST, env)));
  const objects = files.flatMap((f) => f.objects);
  const { used, created } = namespacesOf(objects);
  const namespaceFiles = files.filter((f) => f.objects.every((o) => o.kind === 'Namespace'));
  const otherFiles = files.filter((f) => !namespaceFiles.includes(f));
  const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind));

  test('the namespaces file comes first and creates every namespace that is not built in', () => {
    expect(namespaceFiles.map((f) => rel(f.file))).toEqual([`${env}/0000-namespaces.k8s.yaml`]);
    expect(used.filter((n) => !created.includes(n) && !BUILTIN_NAMESPACES.has(n))).toEqual([]);
    expect(workloads.length).toBeGreaterThan(0);
  });

  test(
    'namespaces apply server-side with no errors and no warnings, each enforcing Pod Security restricted (v1.28)',
    async () => {
      for (const f of namespaceFiles) expect([rel(f.file), outcome(await applyFile(cluster(), f.file))]).toEqual([rel(f.file), ok]);
      const live = JSON.parse(await cluster().kubectlOk(['get', 'namespaces', '-o', 'json'])).items as Manifest[];
      for (const ns of created) {
        const labels = live.find((n) => n.metadata.name === ns)?.metadata.labels ?? {};
        expect([ns, labels['pod-security.kubernetes.io/enforce'], labels['pod-security.kubernetes.io/enforce-version']]).toEqual([
          ns,
          'restricted',
          'v1.28',
        ]);
      }
      // what the cluster provides: built-in namespaces held to the same policy, and the controller-manager's ServiceAccounts
      for (const ns of used.filter((n) => BUILTIN_NAMESPACES.has(n))) {
        await cluster().kubectlOk([
          'label',
          '--overwrite',
          'namespace',
          ns,
          'pod-security.kubernetes.io/enforce=restricted',
          'pod-security.kubernetes.io/enforce-version=v1.28',
        ]);
      }
      await createDefaultServiceAccounts(cluster(), used);
    },
    KUBECTL_TEST_TIMEOUT_MS,
  );

  test(
    'every other file applies server-side, in order, with no errors and no warnings',
    async () => {
      expect(otherFiles.length).toBeGreaterThan(0);
      for (const f of otherFiles) expect([rel(f.file), outcome(await applyFile(cluster(), f.file))]).toEqual([rel(f.file), ok]);
      // and the server stores every object
      for (const o of objects) {
        const r = await cluster().kubectl([
          'get',
          `${o.kind}.${o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : ''}`.replace(/\.$/, ''),
          o.metadata.name,
          ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []),
          '-o',
          'name',
        ]);
        expect([o.kind, o.metadata.name, r.code]).toEqual([o.kind, o.metadata.name, 0]);
      }
    },
    KUBECTL_TEST_TIMEOUT_MS,
  );

  test(
    'a second apply changes nothing: kubectl diff --server-side is empty for every file',
    async () => {
      for (const f of files) {
        const r = await cluster().kubectl(['diff', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', f.file]);
        expect([rel(f.file), r.code, r.stdout, r.stderr]).toEqual([rel(f.file), 0, '', '']);
      }
    },
    KUBECTL_TEST_TIMEOUT_MS,
  );

  test(
    'a Pod from every workload template is admitted under Pod Security restricted, with no warnings',
    async () => {
      const results = await mapLimit(workloads, 3, async (w) => [
        `${w.kind}/${w.metadata.name}`,
        outcome(await dryRunPod(cluster(), podFromTemplate(w))),
      ]);
      expect(results).toEqual(workloads.map((w) => [`${w.kind}/${w.metadata.name}`, ok]));
    },
    KUBECTL_TEST_TIMEOUT_MS,
  );

  test(
    'Pod Security enforces in every namespace with workloads: a privileged variant of a Pod is refused',
    async () => {
      const namespaces = [...new Set(workloads.map((w) => w.metadata.namespace ?? 'default'))];
      expect(namespaces.length).toBeGreaterThan(0);
      for (const ns of namespaces) {
        const pod = podFromTemplate(workloads.find((w) => (w.metadata.namespace ?? 'default') === ns)!);
        const spec = JSON.parse(JSON.stringify(pod.spec));
        spec.containers[0].securityContext = { ...spec.containers[0].securityContext, privileged: true, allowPrivilegeEscalation: true };
        const r = await dryRunPod(cluster(), { ...pod, spec });
        expect([ns, r.code]).toEqual([ns, 1]);
        expect(r.stderr).toMatch(/violates PodSecurity "restricted:v1\.28": .*privileged/);
        expect(r.stderr).toMatch(/allowPrivilegeEscalation != false/);
      }
    },
    KUBECTL_TEST_TIMEOUT_MS,
  );

  const immutable = objects.filter((o) => o.kind === 'ConfigMap' && o.immutable === true);
  const mutable = objects.filter((o) => o.kind === 'ConfigMap' && o.immutable !== true);

  test(
    'immutable ConfigMaps refuse an update; a mutable one (the control) accepts it',
    async () => {
      expect(immutable.length).toBeGreaterThan(0);
      const change = (cm: Manifest) => JSON.stringify({ data: { [Object.keys(cm.data ?? { changed: '' })[0]]: 'changed by the test' } });
      for (const cm of immutable) {
        const r = await cluster().kubectl(['patch', 'configmap', cm.metadata.name, '-n', cm.metadata.namespace!, '--type=merge', '-p', change(cm)]);
        expect([cm.metadata.name, r.code]).toEqual([cm.metadata.name, 1]);
        expect(r.stderr).toMatch(/field is immutable when `immutable` is set/);
        const live = JSON.parse(await cluster().kubectlOk(['get', 'configmap', cm.metadata.name, '-n', cm.metadata.namespace!, '-o', 'json']));
        expect(live.data ?? {}).toEqual(cm.data ?? {});
      }
      // the control must run: without it a refusal could be the server refusing every patch
      expect(mutable.length).toBeGreaterThan(0);
      const cm = mutable[0];
      const r = await cluster().kubectl([
        'patch',
        'configmap',
        cm.metadata.name,
        '-n',
        cm.metadata.namespace!,
        '--type=merge',
        '--dry-run=server',
        '-p',
        change(cm),
      ]);
      expect([cm.metadata.name, outcome(r)]).toEqual([cm.metadata.name, ok]);
    },
    KUBECTL_TEST_TIMEOUT_MS,
  );

  test('the KvProxy server source ConfigMap is one of them: immutable, so the update test above covers it', () => {
    const source = objects.filter((o) => o.kind === 'ConfigMap' && Object.keys(o.data ?? {}).includes('server.js'));
    expect(source).toHaveLength(1);
    expect(source[0].immutable).toBe(true);
    expect(immutable).toContain(source[0]);
  });
});

describe("dist/argocd on a real kube-apiserver with Argo CD's CRDs", () => {
  const cluster = useKubeCluster();
  const files = loadFolder(path.join(DIST, 'argocd'));

  test(
    `Argo CD ${ARGO_CD_VERSION} CRDs install and the Applications and AppProjects apply with no errors and no warnings`,
    async () => {
      await installArgoCdCrds(cluster());
      // Argo CD's install makes its namespace
      await cluster().kubectlOk(['create', 'namespace', 'argocd']);
      const kinds = files.flatMap((f) => f.objects.map((o) => o.kind)).sort();
      expect(new Set(kinds)).toEqual(new Set(['AppProject', 'Application']));
      for (const f of files) expect([rel(f.file), outcome(await applyFile(cluster(), f.file))]).toEqual([rel(f.file), ok]);
      const stored = JSON.parse(
        await cluster().kubectlOk(['get', 'applications.argoproj.io,appprojects.argoproj.io', '-n', 'argocd', '-o', 'json']),
      ).items;
      expect(stored.map((o: Manifest) => o.kind).sort()).toEqual(kinds);
    },
    KUBECTL_TEST_TIMEOUT_MS,
  );

  test(
    'the CRD schema is enforced: an Application with an unknown field is refused (the control)',
    async () => {
      const app = files.flatMap((f) => f.objects).find((o) => o.kind === 'Application')!;
      const bad = { ...app, metadata: { name: 'bad', namespace: 'argocd' }, spec: { ...app.spec, destinationn: app.spec.destination } };
      const r = await cluster().kubectl(['apply', '--server-side', '--warnings-as-errors', '-f', '-'], JSON.stringify(bad));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/\.spec\.destinationn: field not declared in schema/);
    },
    KUBECTL_TEST_TIMEOUT_MS,
  );
});
