/**
 * `npm run verify` (scripts/kube/verify.ts) reports what a real API server
 * says about a folder: these folders are made to fail each of its checks,
 * so the command that passes on dist/ (kube-dist.test.ts) is known to be
 * able to fail.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { verifyFolder } from '../scripts/kube/apply';
import { useKubeCluster } from './support/kube';

const ROOT = path.resolve(__dirname, '..');

/** A Deployment whose pod template the restricted Pod Security level refuses (no securityContext at all). */
const deployment = (namespace: string) => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'loose', namespace },
  spec: { selector: { matchLabels: { app: 'loose' } }, template: { metadata: { labels: { app: 'loose' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.37' }] } } },
});

describe('npm run verify can fail', () => {
  const cluster = useKubeCluster();
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-'));
    fs.writeFileSync(path.join(dir, '0000-namespaces.yaml'), stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'strict', labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' } } }));
    fs.writeFileSync(path.join(dir, '0001-app.yaml'), stringify(deployment('strict')));
    // a ConfigMap with a field the schema does not know
    fs.writeFileSync(path.join(dir, '0002-config.yaml'), stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'strict' }, data: { a: '1' }, datta: { b: '2' } }));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a workload Pod Security refuses, its warning on apply, and an unknown field are each reported', async () => {
    const findings = await verifyFolder(cluster(), dir);
    const failed = findings.filter((f) => !f.ok);
    expect(findings.find((f) => f.step.endsWith('0000-namespaces.yaml'))?.ok).toBe(true);
    expect(failed.map((f) => f.step)).toEqual([
      `apply ${path.relative(process.cwd(), path.join(dir, '0001-app.yaml'))}`,
      `apply ${path.relative(process.cwd(), path.join(dir, '0002-config.yaml'))}`,
      'Pod Security: a Pod from Deployment strict/loose',
      // the server warns again on the diff's dry-run apply
      `diff ${path.relative(process.cwd(), path.join(dir, '0001-app.yaml'))} (a second apply changes nothing)`,
      // the ConfigMap's unknown field is refused again
      `diff ${path.relative(process.cwd(), path.join(dir, '0002-config.yaml'))} (a second apply changes nothing)`,
    ]);
    expect(failed[0].output).toMatch(/would violate PodSecurity "restricted:latest"/);
    expect(failed[1].output).toMatch(/datta/);
    expect(failed[2].output).toMatch(/violates PodSecurity "restricted:latest"/);
  });

  test('the command exits 1 and prints FAIL with the server\'s message', () => {
    const r = spawnSync(process.execPath, ['-r', 'ts-node/register', path.join(ROOT, 'scripts', 'kube', 'verify.ts'), dir], { cwd: ROOT, encoding: 'utf8', timeout: 240000 });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/kube-apiserver v1\.36\.3/);
    expect(r.stdout).toMatch(/FAIL Pod Security: a Pod from Deployment strict\/loose/);
    expect(r.stdout).toMatch(/\n5 problem\(s\)\n/);
  }, 240000);
});
