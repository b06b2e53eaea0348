import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { AppProject } from '@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject';
import { Application } from '@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application';
import { ARGOCD_DIR, buildApps, buildEnvironment, synthesize } from '../main';
import { checkDist, compareDirs } from '../scripts/check-dist';
import { diffTrees, readTree } from '../scripts/review/diff';
import { KvProxyChart } from '../charts/kv-proxy';
import { SidecarPodAuthChart } from '../charts/sidecar-pod';
import { ENVIRONMENTS } from '../config/environments';
import { assertValid, K8sObject } from '../lib/testing';
import { findObject } from './support/synth';

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

/**
 * Credentials the app references but, by design, never creates: they are made out of band.
 * (cdk8s's Chart answers `instanceof` for any chart, hence the constructor check.)
 */
function externalObjects(app: App): string[] {
  return app.charts.flatMap((c) => {
    if (c.constructor === KvProxyChart) return [`Secret/${(c as Chart).namespace}/${(c as KvProxyChart).proxy.tokenSecret.name}`];
    if (c.constructor === SidecarPodAuthChart) return [`Secret/${(c as Chart).namespace}/${(c as SidecarPodAuthChart).htpasswdSecret}`];
    return [];
  });
}

const objectsOf = (app: App): K8sObject[] => app.charts.flatMap((c) => c.toJson());

describe('the app in main.ts', () => {
  const apps = buildApps(path.join(os.tmpdir(), 'never-written'));

  test('builds one app per environment plus the ArgoCD app', () => {
    expect([...apps.keys()]).toEqual([...ENVIRONMENTS.map((e) => e.name), ARGOCD_DIR]);
  });

  test.each(ENVIRONMENTS.map((e) => e.name))('every object of environment %s passes the validation gate', (env) => {
    const app = apps.get(env)!;
    const objects = objectsOf(app);
    expect(objects.length).toBeGreaterThan(30);
    const external = externalObjects(app);
    expect(external).toHaveLength(2);
    assertValid(objects, { external });
  });

  test('namespaces come first (chart order and sync wave) and every namespaced object lives in one of them or in default', () => {
    for (const env of ENVIRONMENTS) {
      const app = apps.get(env.name)!;
      expect(app.charts[0].node.id).toBe('namespaces');
      const created = objectsOf(app).filter((o) => o.kind === 'Namespace');
      for (const ns of created) {
        expect(ns.metadata.annotations!['argocd.argoproj.io/sync-wave']).toBe('-1');
        expect(ns.metadata.labels!['pod-security.kubernetes.io/enforce']).toBe('restricted');
      }
      const names = new Set([...created.map((n) => n.metadata.name), 'default']);
      for (const o of objectsOf(app)) if (o.metadata.namespace) expect(names).toContain(o.metadata.namespace);
    }
  });

  test('the ArgoCD objects pass the Argo CD CRD schema and allow exactly what each environment needs', () => {
    const objects = objectsOf(apps.get(ARGOCD_DIR)!);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'AppProject/patterns-dev',
      'Application/patterns-dev',
      'AppProject/patterns-prod',
      'Application/patterns-prod',
    ]);
    for (const o of objects) {
      if (o.kind === 'Application') new Application(o as any).validate();
      else new AppProject(o as any).validate();
    }
    for (const env of ENVIRONMENTS) {
      const envObjects = objectsOf(apps.get(env.name)!);
      const app = findObject(objects, 'Application', `patterns-${env.name}`);
      expect(app.metadata.namespace).toBe('argocd');
      expect(app.spec.source).toEqual({
        repoURL: 'https://git.example.com/platform/cdk8s-patterns.git',
        targetRevision: 'main',
        path: `dist/${env.name}`,
        directory: { recurse: false },
      });
      expect(app.spec.project).toBe(`patterns-${env.name}`);
      expect(app.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
      const project = findObject(objects, 'AppProject', `patterns-${env.name}`);
      const used = [
        ...new Set(envObjects.map((o) => o.metadata.namespace ?? (o.kind === 'Namespace' ? o.metadata.name : undefined)).filter(Boolean)),
      ].sort();
      expect(project.spec.destinations.map((d: any) => d.namespace)).toEqual(used);
      expect(project.spec.sourceRepos).toEqual(['https://git.example.com/platform/cdk8s-patterns.git']);
      const clusterKinds = [...new Set(envObjects.filter((o) => !o.metadata.namespace).map((o) => o.kind))].sort();
      expect(project.spec.clusterResourceWhitelist.map((w: any) => w.kind).sort()).toEqual(clusterKinds);
      expect(used).toContain(app.spec.destination.namespace);
    }
  });

  test('two environments differ exactly where their config differs', () => {
    // GIVEN the dev config and a copy that changes only the static site's replicas
    const dev = ENVIRONMENTS.find((e) => e.name === 'dev')!;
    const a = tmp('env-a-');
    const b = tmp('env-b-');
    buildEnvironment(dev, a).synth();
    buildEnvironment({ ...dev, staticSite: { ...dev.staticSite, replicas: 5 } }, b).synth();
    // WHEN compared object by object  THEN only that field of that Deployment changed
    const changes = diffTrees(readTree(a), readTree(b));
    expect(changes.map((f) => f.changes.map((c) => [f.file, c.id, c.paths]))).toEqual([
      [['0001-static-site.k8s.yaml', 'Deployment/testing/nginx', ['spec.replicas']]],
    ]);
  });

  test('dev and prod differ in namespaces, replicas and hosts as configured', () => {
    const prod = objectsOf(apps.get('prod')!);
    expect(findObject(prod, 'Deployment', 'nginx').metadata.namespace).toBe('web-prod');
    expect(findObject(prod, 'Deployment', 'nginx').spec.replicas).toBe(3);
    expect(findObject(prod, 'Deployment', 'k8skv').spec.replicas).toBe(3);
    expect(
      prod
        .filter((o) => o.kind === 'Ingress')
        .flatMap((i) => i.spec.rules.map((r: any) => r.host))
        .sort(),
    ).toEqual(['greeter.example.com', 'kv.example.com']);
    const dev = objectsOf(apps.get('dev')!);
    expect(findObject(dev, 'Deployment', 'nginx').metadata.namespace).toBe('testing');
    expect(findObject(dev, 'Deployment', 'nginx').spec.replicas).toBe(2);
  });
});

describe('dist/ for GitOps', () => {
  test('dist/ equals a fresh synth (run `npm run synth` and commit dist/ when this fails)', () => {
    const result = checkDist(DIST);
    if (!result.identical) throw new Error(`dist/ is stale:\n${result.diff.slice(0, 6000)}`);
  });

  test('synth is deterministic: two runs are byte-identical', () => {
    const a = tmp('synth-a-');
    const b = tmp('synth-b-');
    synthesize(a);
    synthesize(b);
    expect(fs.readdirSync(a, { recursive: true }).length).toBeGreaterThan(10);
    expect(compareDirs(a, b)).toEqual({ identical: true, diff: '', changedFiles: [] });
  });

  test('the drift check fails on a hand-edited file and on a stale extra file, and passes on a fresh synth', () => {
    const dir = tmp('drift-');
    synthesize(dir);
    expect(checkDist(dir).identical).toBe(true);
    const file = path.join(dir, 'dev', '0001-static-site.k8s.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('replicas: 2', 'replicas: 7'));
    const edited = checkDist(dir);
    expect(edited.identical).toBe(false);
    expect(edited.changedFiles).toEqual(['dev/0001-static-site.k8s.yaml']);
    expect(edited.diff).toContain('-  replicas: 7\n+  replicas: 2');
    synthesize(dir);
    fs.writeFileSync(path.join(dir, 'dev', '0009-removed-chart.k8s.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\n');
    expect(checkDist(dir).changedFiles).toEqual(['dev/0009-removed-chart.k8s.yaml']);
  });

  test('the pipeline commands exit 1 with a readable report on drift and 0 on a fresh synth', () => {
    // GIVEN a fresh synth and a hand-edited copy
    const fresh = tmp('cli-fresh-');
    synthesize(fresh);
    const edited = tmp('cli-edited-');
    synthesize(edited);
    const file = path.join(edited, 'prod', '0001-static-site.k8s.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('replicas: 3', 'replicas: 9'));
    const run = (args: string[]) => spawnSync(process.execPath, ['-r', 'ts-node/register', ...args], { cwd: ROOT, encoding: 'utf8' });
    // WHEN the drift check runs  THEN
    const ok = run(['scripts/check-dist.ts', fresh]);
    expect(ok.status).toBe(0);
    const drift = run(['scripts/check-dist.ts', edited]);
    expect(drift.status).toBe(1);
    expect(drift.stdout).toContain('--- committed/prod/0001-static-site.k8s.yaml');
    expect(drift.stdout).toContain('-  replicas: 9\n+  replicas: 3');
    expect(drift.stderr).toContain('1 file(s) differ from a fresh synth: prod/0001-static-site.k8s.yaml');
  });

  test('each environment folder holds only complete Kubernetes YAML manifests, as ArgoCD reads a plain directory', () => {
    for (const env of [...ENVIRONMENTS.map((e) => e.name), ARGOCD_DIR]) {
      const files = fs.readdirSync(path.join(DIST, env));
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) {
        expect(f).toMatch(/^(\d{4}-)?[a-z0-9-]+\.k8s\.yaml$/);
        for (const o of readTree(path.join(DIST, env)).get(f)!) {
          expect(typeof o.apiVersion).toBe('string');
          expect(typeof o.kind).toBe('string');
          expect(typeof o.metadata.name).toBe('string');
        }
      }
    }
    expect(fs.readdirSync(DIST).sort()).toEqual([ARGOCD_DIR, ...ENVIRONMENTS.map((e) => e.name)].sort());
  });

  test('importing main.ts writes nothing', () => {
    const target = path.join(os.tmpdir(), `never-written-${process.pid}`);
    const apps = buildApps(target);
    expect(apps.size).toBe(ENVIRONMENTS.length + 1);
    expect(fs.existsSync(target)).toBe(false);
  });
});
