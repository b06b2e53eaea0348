/**
 * HashiCorp's own Consul client (github.com/hashicorp/consul/api v1.34.5, in
 * tools/consul-client) against the KvProxy of dist/dev on a real
 * kube-apiserver, through the in-cluster path a pod takes (see
 * test/support/kube-kv-proxy.ts). The Go test binary is built once per
 * scripts/gobin/key.sh key by scripts/consul-client/build.sh and cached
 * outside the work tree; each Go test runs on its own (-test.run) so a failure
 * names the flow that broke, with the Go test's own output.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { K8sObject } from '../lib/testing/gate';
import { binary } from '../lib/verify/cluster';
import { loadFolder } from '../scripts/kube/apply';
import { DIST, useKubeCluster } from './support/kube';
import { KvProxyPod, READ_TOKEN, WRITE_TOKEN, startDistKvProxyPod } from './support/kube-kv-proxy';

const ROOT = path.resolve(__dirname, '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === null ? `\n${err.message}` : '') });
    });
  });
}

describe("HashiCorp's Consul client against KvProxy (dist/dev) on a real kube-apiserver", () => {
  const cluster = useKubeCluster();
  const files = loadFolder(path.join(DIST, 'dev'));
  const objects = files.flatMap((f) => f.objects);
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.spec.template.spec.containers.some((c: any) => c.name === 'kv-proxy'))!;
  const ns = deployment.metadata.namespace ?? 'default';
  let pod: KvProxyPod | undefined;
  let goTest = '';

  beforeAll(async () => {
    // a cold build downloads the module and compiles it (about a minute on 2 cores); later runs reuse it
    const built = await run('bash', [path.join(ROOT, 'scripts/consul-client/build.sh')], process.env, 600000);
    if (built.code !== 0) throw new Error(`scripts/consul-client/build.sh failed:\n${built.stderr}`);
    goTest = built.stdout.trim().split('\n').pop()!;
    pod = await startDistKvProxyPod(cluster(), files, deployment as K8sObject);
  }, 900000);

  afterAll(async () => {
    await pod?.stop();
  });

  const goRun = (name: string) =>
    run(
      goTest,
      ['-test.run', `^${name}$`, '-test.v', '-test.count=1', '-test.timeout=4m'],
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        CONSUL_HTTP_ADDR: pod!.url.replace(/^http:\/\//, ''),
        KV_WRITE_TOKEN: WRITE_TOKEN,
        KV_READ_TOKEN: READ_TOKEN,
        KV_NAMESPACE: ns,
        KUBECTL: binary('kubectl'),
        KUBECONFIG: cluster().kubeconfig,
      },
      300000,
    );

  const flows: [string, string][] = [
    ['TestPutGetListKeysDelete', 'put, get, list, keys with a separator, delete and delete-tree; a read token cannot put'],
    ['TestCASConflict', 'a CAS conflict: two writers with the same ModifyIndex, the second answers false; delete-cas'],
    ['TestBlockingQueryReturnsAfterAChange', 'a blocking query returns with the new value and a higher index after a change'],
    ['TestTxn', 'a txn applies check-index, cas, set, get atomically; a stale cas applies nothing; a txn across ConfigMaps is refused'],
    [
      'TestCatalogAndHealthForAServiceWhoseEndpointBecomesReady',
      'catalog and health for a Service; a blocking ?passing query sees its endpoint become ready',
    ],
    ['TestSessionsAreNotSupported', 'sessions answer 501 naming compare-and-set'],
  ];
  test.each(flows)(
    '%s: %s',
    async (name) => {
      const r = await goRun(name);
      const out = `${r.stdout}\n${r.stderr}\n--- proxy log ---\n${pod!.logs().slice(-3000)}`;
      const passed = r.stdout.includes(`--- PASS: ${name} `);
      // the Go test's output (and the proxy's log) show in the diff when it fails
      expect({ code: r.code, passed, output: r.code === 0 && passed ? '' : out }).toEqual({ code: 0, passed: true, output: '' });
    },
    300000,
  );
});
