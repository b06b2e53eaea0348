/**
 * A real kube-apiserver (with etcd) for a test file: started once in
 * beforeAll, stopped by PID in afterAll. See lib/verify/cluster.ts for what
 * it is and is not (no controller-manager, no scheduler, no kubelet).
 */
import * as path from 'node:path';
import { ClusterOptions, KubeCluster, KubectlResult } from '../../lib/verify/cluster';

export { KubeCluster } from '../../lib/verify/cluster';
export type { KubectlResult } from '../../lib/verify/cluster';

export const DIST = path.resolve(__dirname, '..', '..', 'dist');

/** Starting etcd + kube-apiserver takes ~10 s on 2 busy cores; allow for a slow machine. */
const START_TIMEOUT_MS = 180000;

/** Registers beforeAll/afterAll for one cluster; call the returned function inside tests. */
export function useKubeCluster(options: ClusterOptions = {}): () => KubeCluster {
  let cluster: KubeCluster | undefined;
  beforeAll(async () => {
    cluster = await KubeCluster.start(options);
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    await cluster?.stop();
  }, 60000);
  return () => {
    if (!cluster) throw new Error('the cluster did not start (see beforeAll)');
    return cluster;
  };
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the order of results. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

/** A kubectl outcome as a test compares it: exit code and stderr (warnings go there). */
export function outcome(r: KubectlResult): { code: number; stderr: string } {
  return { code: r.code, stderr: r.stderr.trim() };
}
