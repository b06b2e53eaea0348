/**
 * A generated app for the synth scaling benchmark: N StaticSites (or N
 * KvProxies) in one chart, synthesized to BENCH_OUTDIR. Prints one JSON line:
 * objects synthesized and in-process synth milliseconds.
 */
import * as fs from 'node:fs';
import { App, Chart } from 'cdk8s';
import { KvProxy } from '../../lib/kv-proxy';
import { StaticSite } from '../../lib/static-site';
import { Files } from '../../lib/workload';

const n = Number(process.env.BENCH_N ?? '10');
const pattern = process.env.BENCH_PATTERN ?? 'static-site';
const outdir = process.env.BENCH_OUTDIR ?? fs.mkdtempSync('/tmp/bench-scale-');

const started = process.hrtime.bigint();
const app = new App({ outdir });
const chart = new Chart(app, 'scale', { namespace: 'bench' });
for (let i = 0; i < n; i++) {
  if (pattern === 'kv-proxy') {
    new KvProxy(chart, `Proxy${i}`, { name: `kv-${i}`, namespaces: [`team-${i % 10}`] });
  } else {
    new StaticSite(chart, `Site${i}`, {
      name: `site-${i}`,
      files: Files.fromContent({ 'index.html': `<h1>site ${i}</h1>`, 'css/site.css': 'body{margin:0}' }),
    });
  }
}
const objects = chart.toJson().length;
app.synth();
const ms = Number(process.hrtime.bigint() - started) / 1e6;
process.stdout.write(`${JSON.stringify({ pattern, n, objects, synthMs: ms })}\n`);
