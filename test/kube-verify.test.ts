/**
 * The verifier (lib/verify, `npm run verify`) reports what a real API server
 * says about a folder: this folder is made to fail its checks, so the
 * command that passes on dist/ (kube-dist.test.ts) is known to be able to fail.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { verifyFiles } from '../lib/verify/verify';
import { manifestFiles } from '../lib/verify/input';
import { useKubeCluster } from './support/kube';

const ROOT = path.resolve(__dirname, '..');

/** A Deployment whose pod template the restricted Pod Security level refuses (no securityContext at all). */
const deployment = (namespace: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'loose', namespace },
  spec: {
    selector: { matchLabels: { app: 'loose' } },
    template: { metadata: { labels: { app: 'loose' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.37' }] } },
  },
});

describe('npm run verify can fail', () => {
  const cluster = useKubeCluster({ podSecurity: 'restricted' });
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-'));
    fs.writeFileSync(
      path.join(dir, '0000-namespaces.yaml'),
      stringify({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'strict', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
      }),
    );
    fs.writeFileSync(path.join(dir, '0001-app.yaml'), stringify(deployment('strict')));
    // a ConfigMap with a field the schema does not know
    fs.writeFileSync(
      path.join(dir, '0002-config.yaml'),
      stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'strict' }, data: { a: '1' }, datta: { b: '2' } }),
    );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test(
    'the workload Pod Security refuses (its warning on apply, its Pod) and the unknown field ' + 'are each reported with file, object and message',
    async () => {
      const outcomes = await verifyFiles(cluster(), manifestFiles(dir), { crds: [], podSecurity: 'restricted', canI: false });
      const rel = (f: string) => path.relative(process.cwd(), path.join(dir, f));
      expect(outcomes.map((o) => [o.id, o.ok])).toEqual([
        ['read', true],
        ['apply', false],
        ['namespace-labels', true],
        ['pods', false],
        ['reapply', true],
      ]);
      const apply = outcomes.find((o) => o.id === 'apply')!;
      expect(apply.failures.map((f) => [f.file, f.object])).toEqual([
        [rel('0001-app.yaml'), 'Deployment strict/loose'],
        [rel('0002-config.yaml'), 'ConfigMap strict/c'],
      ]);
      expect(apply.failures[0].message).toMatch(/^Warning: would violate PodSecurity "restricted:latest"/);
      expect(apply.failures[1].message).toMatch(/\.datta: field not declared in schema/);
      const pods = outcomes.find((o) => o.id === 'pods')!;
      expect(pods.failures.map((f) => [f.file, f.object])).toEqual([[rel('0001-app.yaml'), 'Deployment strict/loose']]);
      expect(pods.failures[0].message).toMatch(/is forbidden: violates PodSecurity "restricted:latest"/);
      // the refused ConfigMap was never stored: the second apply covers the two stored objects
      expect(outcomes.find((o) => o.id === 'reapply')!.summary).toBe('2 of 2 objects unchanged');
    },
  );

  test('a second apply that changes an object is reported with what changed: the same ConfigMap twice, the later one winning each time', async () => {
    const twice = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-twice-'));
    try {
      const cm = (a: string) => stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'twice', namespace: 'default' }, data: { a } });
      fs.writeFileSync(path.join(twice, 'a.yaml'), cm('1'));
      fs.writeFileSync(path.join(twice, 'b.yaml'), cm('2'));
      const outcomes = await verifyFiles(cluster(), manifestFiles(twice), { crds: [], podSecurity: 'restricted', canI: false });
      const rel = (f: string) => path.relative(process.cwd(), path.join(twice, f));
      expect(outcomes.find((o) => o.id === 'read')!.failures).toEqual([
        {
          file: rel('b.yaml'),
          document: 1,
          object: 'ConfigMap default/twice',
          message: `the same object as ${rel('a.yaml')} document 1: the later one silently wins`,
        },
      ]);
      // applying a.yaml again sets data.a back to 1, then b.yaml sets it to 2 again
      expect(outcomes.find((o) => o.id === 'reapply')!.failures.map((f) => [f.file, f.message])).toEqual([
        [rel('a.yaml'), 'a second apply changed .data.a'],
        [rel('b.yaml'), 'a second apply changed .data.a'],
      ]);
    } finally {
      fs.rmSync(twice, { recursive: true, force: true });
    }
  });

  test('a Namespace whose label lowers Pod Security below the enforced level fails, unless --pod-security labels', async () => {
    const labelled = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-labels-'));
    try {
      fs.writeFileSync(
        path.join(labelled, 'ns.yaml'),
        stringify({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: 'agents', labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } },
        }),
      );
      const restricted = await verifyFiles(cluster(), manifestFiles(labelled), { crds: [], podSecurity: 'restricted', canI: false });
      expect(restricted.find((o) => o.id === 'namespace-labels')!.failures.map((f) => [f.object, f.message])).toEqual([
        [
          'Namespace agents',
          'pod-security.kubernetes.io/enforce=privileged is weaker than restricted, which verify enforces on every namespace ' +
            '(--pod-security labels honours namespace labels instead)',
        ],
      ]);
      const labels = await verifyFiles(cluster(), manifestFiles(labelled), { crds: [], podSecurity: 'labels', canI: false });
      expect(labels.map((o) => [o.id, o.ok])).toEqual([
        ['read', true],
        ['apply', true],
        ['reapply', true],
      ]);
    } finally {
      fs.rmSync(labelled, { recursive: true, force: true });
    }
  });

  test("npm run verify exits 1 and prints FAIL lines with the server's message and kube-score's", () => {
    const r = spawnSync('npm', ['run', '--silent', 'verify', '--', dir], { cwd: ROOT, encoding: 'utf8', timeout: 240000 });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/kube-apiserver v1\.36\.3/);
    expect(r.stdout).toMatch(/^FAIL {2}a Pod from every workload template is admitted: 1 of 1 refused/m);
    expect(r.stdout).toMatch(
      /^ {8}\S*0001-app\.yaml: Deployment strict\/loose: pods "loose-deployment-pod" is forbidden: violates PodSecurity "restricted:latest"/m,
    );
    // the repository's verify adds the practice checkers (scripts/verify.ts): kube-score flags the same Deployment
    expect(r.stdout).toMatch(/^FAIL {2}kube-score and kubectl-validate find nothing: kube-score [1-9]\d* CRITICAL/m);
    expect(r.stdout).toMatch(/0001-app\.yaml: Deployment strict\/loose: kube-score \[CRITICAL\] container-security-context-/m);
    expect(r.stdout).toMatch(/\n3 check\(s\) failed\n/);
  }, 240000);
});
