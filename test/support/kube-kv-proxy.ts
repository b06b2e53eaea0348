/**
 * A KvProxy pod from synthesized objects, on the pod sandbox, talking to a
 * real kube-apiserver the way it does in a cluster:
 *  - its ServiceAccount token from TokenRequest (`kubectl create token`), the
 *    API server's CA and the namespace projected at
 *    /var/run/secrets/kubernetes.io/serviceaccount (automountServiceAccountToken);
 *  - KUBERNETES_SERVICE_HOST/PORT set, as the kubelet sets them, so the server
 *    takes its in-cluster HTTPS path;
 *  - the client-token Secret created in the cluster and projected from it.
 * Only PORT and KV_LISTEN_ADDRESS are overridden (host network: a free port on
 * 127.0.0.1 instead of the pod's own IP).
 */
import * as http from 'node:http';
import { K8sObject } from '../../lib/testing/gate';
import { KubeCluster } from '../../lib/verify/cluster';
import { applyFile } from '../../scripts/kube/apply';
import { PodSandbox, RunningContainer, freePort, releasePort } from './pod-sandbox';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The client tokens the test puts in the out-of-band Secret, one per role. */
export const READ_TOKEN = 'kube-read-token-0123456789abcdef';
export const WRITE_TOKEN = 'kube-write-token-fedcba9876543210';
export const METRICS_TOKEN = 'kube-metrics-token-00112233445566';
const TOKENS = { 'read-tokens': `${READ_TOKEN}\n`, 'write-tokens': `${WRITE_TOKEN}\n`, 'metrics-tokens': `${METRICS_TOKEN}\n` };

/** An HTTP answer with its body parsed as JSON when it is JSON. */
export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
  ms: number;
}

/** One request; an object body is sent as JSON, a string body as text/plain. */
export function call(method: string, url: string, token?: string, body?: unknown, timeoutMs = 20000): Promise<Reply> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string | number> = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (payload !== undefined)
      Object.assign(headers, {
        'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json',
        'Content-Length': Buffer.byteLength(payload),
      });
    const req = http.request(url, { method, headers, timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* text */
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, ms: Date.now() - t0 });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** A Prometheus counter from a /metrics text, summed over the series whose labels include `labels`. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** The proxy's /metrics (with the metrics token: the construct sets KV_METRICS_AUTH=token). */
export async function metricsText(url: string): Promise<string> {
  const r = await call('GET', `${url}/metrics`, METRICS_TOKEN);
  if (r.status !== 200) throw new Error(`/metrics: ${r.status} ${JSON.stringify(r.body)}`);
  return String(r.body);
}

/**
 * The proxy's calls the API server refused (401/403), by its own metrics, and
 * how many calls it answered at all (so a zero means something).
 */
export async function upstreamRefusals(url: string): Promise<{ refused: number; answered: number }> {
  const text = await metricsText(url);
  return {
    refused:
      metric(text, 'kv_proxy_upstream_errors_total', { reason: 'forbidden' }) +
      metric(text, 'kv_proxy_upstream_errors_total', { reason: 'unauthorized' }),
    answered: metric(text, 'kv_proxy_upstream_requests_total', { code: '200' }),
  };
}

/** A running KvProxy pod. */
export interface KvProxyPod {
  readonly sandbox: PodSandbox;
  readonly container: RunningContainer;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** The namespace of the Deployment. */
  readonly namespace: string;
  /** The container's stdout and stderr so far. */
  logs(): string;
  stop(): Promise<void>;
}

/** Polls `fn` until it returns something other than undefined; the bound is generous (a busy machine), the message says what was awaited. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60000, context: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen in ${timeoutMs} ms\n${context().slice(-4000)}`);
    await sleep(100);
  }
}

/**
 * Applies the environment's namespaces and the KvProxy's own files (ServiceAccount, Role, RoleBinding, ConfigMap,
 * Deployment, ...) of a synthesized folder, then starts the pod with {@link startKvProxyPod}.
 */
export async function startDistKvProxyPod(
  cluster: KubeCluster,
  files: { file: string; objects: unknown[] }[],
  deployment: K8sObject,
): Promise<KvProxyPod> {
  for (const f of files.filter((x) => /namespaces|kv-proxy/.test(x.file))) {
    const r = await applyFile(cluster, f.file);
    if (r.code !== 0) throw new Error(`${f.file}: ${r.stderr}`);
  }
  return startKvProxyPod(cluster, files.flatMap((f) => f.objects) as K8sObject[], deployment);
}

/**
 * Creates the token Secret (READ_TOKEN, WRITE_TOKEN, METRICS_TOKEN) in the cluster, requests the ServiceAccount token,
 * starts the `kv-proxy` container of `deployment` and waits for /readyz.
 * The objects (ServiceAccount, Roles, bindings) must already be applied.
 */
export async function startKvProxyPod(
  cluster: KubeCluster,
  objects: K8sObject[],
  deployment: K8sObject,
  tokens: Record<string, string> = TOKENS,
): Promise<KvProxyPod> {
  const spec = deployment.spec.template.spec;
  const ns = deployment.metadata.namespace ?? 'default';
  const secretName: string = spec.volumes.find((v: any) => v.secret).secret.secretName;
  await cluster.kubectlOk([
    'create',
    'secret',
    'generic',
    secretName,
    '-n',
    ns,
    ...Object.entries(tokens).map(([k, v]) => `--from-literal=${k}=${v}`),
  ]);
  const secret = JSON.parse(await cluster.kubectlOk(['get', 'secret', secretName, '-n', ns, '-o', 'json']));
  const mounted = Object.fromEntries(Object.entries<string>(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  const token = (await cluster.kubectlOk(['create', 'token', spec.serviceAccountName, '-n', ns, '--duration=1h'])).trim();
  const sandbox = await PodSandbox.create(objects, deployment, {
    secrets: { [secretName]: mounted },
    serviceAccount: { 'token': token, 'ca.crt': cluster.ca, 'namespace': ns },
    // node:24-alpine's PATH; the host's node stands in for the image's
    images: (image) => (image.startsWith('node:') ? { env: { PATH: '/usr/local/bin:/usr/bin:/bin' } } : undefined),
  });
  const port = await freePort();
  const container = sandbox.start('kv-proxy', {
    runtimeEnv: { KUBERNETES_SERVICE_HOST: cluster.host, KUBERNETES_SERVICE_PORT: String(cluster.port) },
    envOverrides: { PORT: String(port), KV_LISTEN_ADDRESS: '127.0.0.1' },
  });
  const logs = () => {
    const o = container.output();
    return `${o.stdout}${o.stderr}`;
  };
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await container.stop(5000);
    await sandbox.cleanup();
    releasePort(port);
  };
  try {
    const state = await waitFor(
      'readiness',
      async () => {
        if (container.process.exitCode !== null || container.process.signalCode !== null) return 'exited';
        return (await call('GET', `${url}/readyz`)).status === 200 ? 'ready' : undefined;
      },
      120000,
      logs,
    );
    if (state === 'exited') throw new Error(`the kv-proxy container exited:\n${logs()}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { sandbox, container, url, namespace: ns, logs, stop };
}
