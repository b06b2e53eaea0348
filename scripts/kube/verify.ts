/**
 * `npm run verify [-- <dir>...]`: applies synthesized manifests to a real
 * Kubernetes API server started on this machine (etcd + kube-apiserver built
 * from tools/kube, see scripts/kube/build.sh), one fresh server per folder,
 * and reports every error and warning. Exits 1 if there is any.
 *
 * <dir> defaults to dist/: each sub-folder with YAML (dist/dev, dist/prod,
 * dist/argocd) is verified on its own; a folder holding YAML is verified as is.
 * Checks: server-side apply of every file in order (namespaces first) with
 * warnings as errors; Argo CD's CRDs installed first for argoproj.io objects;
 * a Pod from each workload's template created with --dry-run=server in its
 * namespace, where Pod Security enforces (built-in namespaces the folder uses
 * but does not create get `restricted`); `kubectl diff --server-side` after
 * the apply (a second apply changes nothing).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { manifestFolders, verifyFolder } from './apply';
import { KubeCluster } from '../../lib/verify/cluster';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write('usage: npm run verify [-- <dir>...]   (default: dist/)\n');
    return 0;
  }
  const build = spawnSync('bash', [path.join(__dirname, 'build.sh')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (build.status !== 0) return 1;
  const folders = (args.length ? args : ['dist']).flatMap((d) => {
    const found = manifestFolders(path.resolve(d));
    if (!found.length) throw new Error(`${d}: no YAML files in it or its sub-folders`);
    return found;
  });
  let failed = 0;
  for (const dir of folders) {
    const cluster = await KubeCluster.start();
    try {
      const version = await cluster.version();
      process.stdout.write(`\n${path.relative(process.cwd(), dir) || '.'}: kube-apiserver ${version} (started in ${(cluster.startupMs / 1000).toFixed(1)} s)\n`);
      const findings = await verifyFolder(cluster, dir, (f) => {
        process.stdout.write(`  ${f.ok ? 'ok  ' : 'FAIL'} ${f.step}\n`);
        if (!f.ok) process.stdout.write(`${f.output.split('\n').map((l) => `       ${l}`).join('\n')}\n`);
      });
      failed += findings.filter((f) => !f.ok).length;
    } finally {
      await cluster.stop();
    }
  }
  process.stdout.write(failed ? `\n${failed} problem(s)\n` : '\nno errors, no warnings\n');
  return failed ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (e) => { process.stderr.write(`${e instanceof Error ? e.message : e}\n`); process.exitCode = 1; });
