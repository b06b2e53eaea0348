/**
 * The gate (cdk8s-patterns/testing) learned the rules kube-score enforces, so
 * users see them in jest: the same broken manifests, fed to both, are
 * flagged by both. The base is dist/prod's static site (a Deployment behind a
 * Service, with its NetworkPolicy and PodDisruptionBudget), which both accept.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { K8sObject, loadManifests, validateObjects } from '../lib/testing';
import { runKubeScore, ScoreFinding } from '../scripts/checkers/run';

const SITE = path.join(__dirname, '..', 'dist', 'prod', '0001-static-site.k8s.yaml');
const DEPLOYMENT = 'Deployment/web-prod/nginx';
jest.setTimeout(120_000);

let work: string;
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'checkers-gate-'));
});
afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** dist/prod's static site with one change. */
function site(mutate: (byKind: (kind: string) => any, objects: K8sObject[]) => void): K8sObject[] {
  const objects = loadManifests(SITE);
  mutate((kind) => objects.find((o) => o.kind === kind), objects);
  return objects;
}
const nginx = (d: any) => d.spec.template.spec.containers[0];

/** kube-score's findings on the objects, written as YAML. */
function score(objects: K8sObject[], name: string): ScoreFinding[] {
  const file = path.join(work, `${name.replace(/\W+/g, '-')}.yaml`);
  fs.writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
  return runKubeScore([file]);
}

describe('the gate and kube-score on the same manifests', () => {
  test("both accept dist/prod's static site as it is", () => {
    const objects = site(() => undefined);
    expect(validateObjects(objects, { minReplicas: 2 })).toEqual([]);
    expect(score(objects, 'as-is')).toEqual([]);
  });

  // the broken manifest, the gate's rule, kube-score's check and its grade
  const cases: Array<[string, Parameters<typeof site>[0], string, string, 'CRITICAL' | 'WARNING']> = [
    [
      'a uid and gid below 10000',
      (k) => {
        Object.assign(nginx(k('Deployment')).securityContext, { runAsUser: 101, runAsGroup: 101 });
      },
      'run-as-id',
      'container-security-context-user-group-id',
      'CRITICAL',
    ],
    [
      'no ephemeral-storage request or limit',
      (k) => {
        for (const r of Object.values<any>(nginx(k('Deployment')).resources)) delete r['ephemeral-storage'];
      },
      'ephemeral-storage',
      'container-ephemeral-storage-request-and-limit',
      'CRITICAL',
    ],
    [
      'liveness the same as readiness',
      (k) => {
        nginx(k('Deployment')).livenessProbe = { ...nginx(k('Deployment')).readinessProbe, periodSeconds: 10 };
      },
      'probes',
      'pod-probes-identical',
      'CRITICAL',
    ],
    [
      'no NetworkPolicy at all',
      (_k, all) => {
        all.splice(
          all.findIndex((o) => o.kind === 'NetworkPolicy'),
          1,
        );
      },
      'networkpolicy',
      'pod-networkpolicy',
      'CRITICAL',
    ],
    [
      'a NetworkPolicy for ingress only',
      (k) => {
        k('NetworkPolicy').spec.policyTypes = ['Ingress'];
      },
      'networkpolicy',
      'pod-networkpolicy',
      'WARNING',
    ],
    [
      'one replica in production',
      (k) => {
        k('Deployment').spec.replicas = 1;
      },
      'replicas',
      'deployment-replicas',
      'WARNING',
    ],
    [
      'no PodDisruptionBudget',
      (_k, all) => {
        all.splice(
          all.findIndex((o) => o.kind === 'PodDisruptionBudget'),
          1,
        );
      },
      'replicas',
      'deployment-has-poddisruptionbudget',
      'CRITICAL',
    ],
    [
      'no anti-affinity or topology spread',
      (k) => {
        delete k('Deployment').spec.template.spec.affinity;
      },
      'replicas',
      'deployment-has-host-podantiaffinity',
      'WARNING',
    ],
  ];

  test.each(cases)('both flag %s', (what, mutate, rule, check, grade) => {
    // GIVEN the site with one defect  WHEN the gate (production: minReplicas 2) and kube-score check it
    const objects = site(mutate);
    // THEN the gate names the Deployment and its rule, and kube-score its check
    expect(validateObjects(objects, { minReplicas: 2 })).toEqual(expect.arrayContaining([expect.objectContaining({ object: DEPLOYMENT, rule })]));
    expect(score(objects, what)).toEqual(expect.arrayContaining([expect.objectContaining({ object: DEPLOYMENT, check, grade })]));
  });
});
