/**
 * The namespaces API (seed 000) of GeneralPurposeRunnerChart against a real
 * kube-apiserver + etcd (test/support/kube.ts): its ServiceAccount, ClusterRole
 * and ClusterRoleBinding applied from the synthesized objects, its token from
 * TokenRequest (`kubectl create token`), the server's CA mounted as the kubelet
 * mounts it, and KUBERNETES_SERVICE_HOST/PORT pointing at the server as the
 * kubelet sets them. The script runs from the synthesized Deployment on the pod
 * sandbox (support/pod-sandbox.ts). A refusal (403) comes from the server's own
 * RBAC, a wrong CA from the server's real certificate.
 *
 * Forced paging (pages of 2, which the real server does not do on demand for a
 * handful of namespaces) stays on the HTTPS stand-in in general-purpose-runner.run.test.ts.
 *
 * Test-only environment override: HOST=127.0.0.1 so the server binds loopback.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Testing } from 'cdk8s';
import { GeneralPurposeRunnerChart } from '../charts/general-purpose-runner';
import { K8sObject } from '../lib/testing';
import { debianImages } from './fixtures/general-purpose-runner/images';
import { freePort, PodSandbox, request, requirePrograms, RunningContainer } from './support/pod-sandbox';
import { useKubeCluster } from './support/kube';
import { findObject, synthObjects } from './support/synth';

const NS = 'general-purpose-runner';
const LOOPBACK = { HOST: '127.0.0.1' };
const RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

describe('GeneralPurposeRunnerChart namespaces API on a real kube-apiserver', () => {
  const cluster = useKubeCluster();
  let port: number;
  let objects: K8sObject[];
  let dep: K8sObject;
  const sandboxes: PodSandbox[] = [];

  beforeAll(async () => {
    requirePrograms('/usr/bin/python3', '/usr/bin/openssl');
    port = await freePort();
    objects = synthObjects(new GeneralPurposeRunnerChart(Testing.app(), 'gpr', { port }));
    dep = findObject(objects, 'Deployment', 'namespaces-api');
    const c = cluster();
    await c.kubectlOk(['create', 'namespace', NS]);
    // GIVEN the runner's own identity and rules, as synthesized
    const rbac = objects.filter((o) => RBAC_KINDS.has(o.kind));
    expect(rbac.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ServiceAccount']);
    await c.kubectlOk(['apply', '--server-side', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }));
    // and a ServiceAccount the chart grants nothing, for the refusal
    await c.kubectlOk(['create', 'serviceaccount', 'nobody', '-n', NS]);
  }, 180000);

  afterEach(async () => {
    await Promise.all(sandboxes.splice(0).map((s) => s.cleanup()));
  });

  /** Runs the namespaces-api container with `token` and `ca` mounted, against `apiPort`. */
  async function start(token: string, ca: string, apiPort: number): Promise<RunningContainer> {
    const pod = await PodSandbox.create(objects, dep, { images: debianImages, serviceAccount: { 'token': token, 'ca.crt': ca, 'namespace': NS } });
    sandboxes.push(pod);
    const srv = pod.start('namespaces-api', {
      envOverrides: LOOPBACK,
      runtimeEnv: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(apiPort) },
    });
    await srv.waitFor(/listening on/, 60000);
    return srv;
  }

  const namespaces = async () => {
    const res = await request(`http://127.0.0.1:${port}/namespaces`);
    return { status: res.status, body: JSON.parse(res.body.toString('utf8')) };
  };
  const tokenFor = async (sa: string) => (await cluster().kubectlOk(['create', 'token', sa, '-n', NS, '--duration=1h'])).trim();

  test('lists every namespace the API server has, with its ServiceAccount token and the cluster CA, over verified TLS', async () => {
    // GIVEN the Deployment automounts the token of its own ServiceAccount
    expect(dep.spec.template.spec.automountServiceAccountToken).toBe(true);
    expect(dep.spec.template.spec.serviceAccountName).toBe('namespaces-api');
    const token = await tokenFor('namespaces-api');
    const srv = await start(token, cluster().ca, cluster().port);
    // WHEN
    const res = await namespaces();
    // THEN it returns what the server holds
    const live = (await cluster().kubectlOk(['get', 'namespaces', '-o', 'jsonpath={.items[*].metadata.name}'])).trim().split(/\s+/).sort();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ namespaces: live, count: live.length });
    expect(live).toEqual(expect.arrayContaining(['default', 'kube-system', NS]));
    const out = await srv.stop();
    expect(`${out.stdout}${out.stderr}`).not.toContain(token);
  });

  test('answers 502 when the API server refuses (a ServiceAccount without the ClusterRole: a real 403), without leaking the token', async () => {
    const token = await tokenFor('nobody');
    const srv = await start(token, cluster().ca, cluster().port);
    const res = await namespaces();
    expect(res.status).toBe(502);
    expect(res.body.error).toMatch(/answered 403/);
    const out = await srv.stop();
    for (const text of [JSON.stringify(res.body), out.stdout, out.stderr]) expect(text).not.toContain(token);
  });

  test('answers 503 when the API server is unreachable (nothing listens on the port), without leaking the token', async () => {
    const token = await tokenFor('namespaces-api');
    const closedPort = await freePort();
    const srv = await start(token, cluster().ca, closedPort);
    const res = await namespaces();
    expect(res.status).toBe(503);
    const out = await srv.stop();
    for (const text of [JSON.stringify(res.body), out.stdout, out.stderr]) expect(text).not.toContain(token);
  });

  test('refuses the real API server when the mounted CA did not sign its certificate', async () => {
    // GIVEN a CA of another cluster
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpr-other-ca-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          'ca.key',
          '-out',
          'ca.crt',
          '-days',
          '1',
          '-subj',
          '/CN=another-cluster-ca',
          '-addext',
          'basicConstraints=critical,CA:TRUE',
          '-addext',
          'keyUsage=critical,keyCertSign,cRLSign',
        ],
        { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const srv = await start(await tokenFor('namespaces-api'), fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8'), cluster().port);
      // WHEN
      const res = await namespaces();
      // THEN
      expect(res.status).toBe(503);
      expect(res.body.error).toMatch(/CERTIFICATE_VERIFY_FAILED/);
      await srv.stop();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
