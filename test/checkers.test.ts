/**
 * The practice checkers platform teams run on generated manifests, built here
 * from Go modules (tools/checkers, scripts/checkers/build.sh): kube-score
 * v1.20.0 and kubectl-validate with its embedded Kubernetes 1.28 schemas,
 * offline. Both run on every dist/ folder and on a separate consumer app's
 * output (test/fixtures/consumer, synthesized here against lib/), with only
 * the checks listed in scripts/checkers/kube-score-ignore.json switched off.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadManifests, validateObjects } from '../lib/testing';
import { checkPaths, formatReport, loadIgnoreList, runKubeScore, runKubectlValidate } from '../scripts/checkers/run';

// the consumer app imports the package by name: here, the library's sources
jest.mock('cdk8s-patterns', () => jest.requireActual('../lib'), { virtual: true });

const DIST = path.join(__dirname, '..', 'dist');
jest.setTimeout(300_000);

/** The report of a folder with nothing to fix. */
const clean = (p: string, files: number) =>
  `${path.relative(process.cwd(), p)}: kube-score 0 CRITICAL, 0 WARNING; kubectl-validate ${files} file(s), 0 error(s)`;

let consumerOut: string;
beforeAll(() => {
  consumerOut = fs.mkdtempSync(path.join(os.tmpdir(), 'checkers-consumer-'));

  const { buildApp } = require('./fixtures/consumer/main');
  buildApp(consumerOut).synth();
});
afterAll(() => {
  if (consumerOut) fs.rmSync(consumerOut, { recursive: true, force: true });
});

describe('kube-score and kubectl-validate', () => {
  test('every dist/ folder: 0 CRITICAL and 0 WARNING from kube-score, every object valid for kubectl-validate', () => {
    const reports = checkPaths([DIST]);
    expect(reports.map((r) => path.relative(DIST, r.path))).toEqual(['argocd', 'dev', 'prod']);
    for (const r of reports) {
      expect(r.files.length).toBeGreaterThan(0);
      // the report lists every finding under this line, so a failure says what to fix
      expect(formatReport(r)).toBe(clean(r.path, r.files.length));
      expect(r.kubeScore).toEqual([]);
      expect(r.kubectlValidate).toEqual([]);
    }
  });

  test("the consumer app's output: 0 CRITICAL and 0 WARNING from kube-score, every object valid for kubectl-validate", () => {
    const [r] = checkPaths([consumerOut]);
    expect(r.files.map((f) => path.basename(f))).toEqual(['platform.k8s.yaml']);
    expect(formatReport(r)).toBe(clean(r.path, 1));
    expect(r.kubeScore).toEqual([]);
    expect(r.kubectlValidate).toEqual([]);
    // and the gate, which learned the same rules, agrees
    expect(validateObjects(loadManifests(consumerOut), { external: ['Secret/platform/flags-tokens'] })).toEqual([]);
  });

  test('the checks switched off are few, each with its reason, and the docs show every one', () => {
    const ignore = loadIgnoreList();
    expect(ignore.map((e) => e.check).sort()).toEqual(['container-image-pull-policy', 'deployment-replicas']);
    // deployment-replicas only where one replica is the point (dev), never for prod or a user's folder
    expect(ignore.find((e) => e.check === 'deployment-replicas')!.paths).toEqual(['dist/dev']);
    const docs = fs.readFileSync(path.join(__dirname, '..', 'docs', 'testing.md'), 'utf8');
    for (const e of ignore) expect(docs).toContain(e.check);
  });

  test('both checkers flag a broken manifest: the runner is no rubber stamp', () => {
    // GIVEN dist/prod's static site with a writable root filesystem and a misspelt field
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'checkers-broken-'));
    try {
      const file = path.join(dir, 'site.yaml');
      fs.writeFileSync(
        file,
        fs
          .readFileSync(path.join(DIST, 'prod', '0001-static-site.k8s.yaml'), 'utf8')
          .replace('readOnlyRootFilesystem: true', 'readOnlyRootFilesystm: true'),
      );
      // WHEN checked  THEN kube-score sees the writable root filesystem, kubectl-validate the unknown field
      expect(runKubeScore([file])).toEqual([
        expect.objectContaining({
          grade: 'CRITICAL',
          object: 'Deployment/web-prod/nginx',
          check: 'container-security-context-readonlyrootfilesystem',
        }),
      ]);
      expect(runKubectlValidate([file])).toEqual([
        expect.objectContaining({ message: expect.stringMatching(/readOnlyRootFilesystm: Invalid value: value provided for unknown field/) }),
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
