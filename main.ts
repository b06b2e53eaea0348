/**
 * The composition root. For each environment in config/environments.ts it
 * builds one cdk8s App writing to dist/<env>/ (a namespaces chart first, then
 * one chart per pattern), and one more App writing the ArgoCD Applications and
 * AppProjects to dist/argocd/. `npm run synth` (or `cdk8s synth`) runs this
 * file, which also writes the reviewer diagrams to docs/diagrams/; importing
 * it (from tests) writes nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Chart, YamlOutputType } from 'cdk8s';
import { ArgoCdChart, ArgoCdEnvironment } from './charts/argocd';
import { GeneralPurposeRunnerChart } from './charts/general-purpose-runner';
import { ImmutableConfigInitChart, ImmutableConfigMapChart } from './charts/immutable-config-init';
import { KvProxyChart } from './charts/kv-proxy';
import { NamespacesChart } from './charts/namespaces';
import { SidecarPodAuthChart, SidecarPodContentChart, SidecarPodHotPlugChart } from './charts/sidecar-pod';
import { StaticSiteChart } from './charts/static-site';
import { ARGOCD, ENVIRONMENTS, EnvironmentConfig } from './config/environments';

/** The folder under the output directory that holds the ArgoCD objects. */
export const ARGOCD_DIR = 'argocd';

/** One environment's App: its pattern charts, all depending on the namespaces chart. */
export function buildEnvironment(env: EnvironmentConfig, outdir: string): App {
  const app = new App({ outdir, yamlOutputType: YamlOutputType.FILE_PER_CHART });
  const charts: Chart[] = [
    new StaticSiteChart(app, 'static-site', env.staticSite),
    new ImmutableConfigInitChart(app, 'config-image', env.configImage),
    new ImmutableConfigMapChart(app, 'config-map', env.configMap),
    new SidecarPodAuthChart(app, 'sidecar-auth', env.sidecarAuth),
    new SidecarPodContentChart(app, 'sidecar-content', env.sidecarContent),
    new SidecarPodHotPlugChart(app, 'sidecar-hot-plug', env.sidecarHotPlug),
    new GeneralPurposeRunnerChart(app, 'general-purpose-runner', env.runner),
    new KvProxyChart(app, 'kv-proxy', env.kvProxy),
  ];
  const namespaces = new NamespacesChart(app, 'namespaces', { namespaces: charts.map((c) => c.namespace!).filter(Boolean) });
  for (const c of charts) c.addDependency(namespaces);
  return app;
}

/** What ArgoCD must allow for an environment, read off its synthesized objects. */
export function argoCdEnvironment(name: string, app: App): ArgoCdEnvironment {
  const objects = app.charts.flatMap((c) => c.toJson());
  const namespaces = new Set<string>();
  const clusterResources = new Set<string>();
  for (const o of objects) {
    if (o.metadata?.namespace) namespaces.add(o.metadata.namespace);
    else clusterResources.add(`${o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : ''}/${o.kind}`);
    if (o.kind === 'Namespace') namespaces.add(o.metadata.name);
  }
  return { name, path: `dist/${name}`, namespaces: [...namespaces].sort(), clusterResources: [...clusterResources].sort() };
}

/** Every App of the delivery: one per environment, then the ArgoCD one. */
export function buildApps(outdir: string = process.env.CDK8S_OUTDIR ?? 'dist'): Map<string, App> {
  const apps = new Map<string, App>();
  for (const env of ENVIRONMENTS) apps.set(env.name, buildEnvironment(env, path.join(outdir, env.name)));
  const argo = new App({ outdir: path.join(outdir, ARGOCD_DIR), yamlOutputType: YamlOutputType.FILE_PER_CHART });
  new ArgoCdChart(argo, 'applications', { settings: ARGOCD, environments: [...apps].map(([name, app]) => argoCdEnvironment(name, app)) });
  apps.set(ARGOCD_DIR, argo);
  return apps;
}

/** Synthesizes every App into `outdir`, replacing what a previous synth left there; returns the Apps. */
export function synthesize(outdir: string): Map<string, App> {
  const apps = buildApps(outdir);
  for (const dir of [...apps.keys()]) fs.rmSync(path.join(outdir, dir), { recursive: true, force: true });
  for (const app of apps.values()) app.synth();
  return apps;
}

if (require.main === module) {
  const outdir = process.env.CDK8S_OUTDIR ?? 'dist';
  const apps = synthesize(outdir);
  // say what was written: one line per manifest file, then a summary
  let files = 0;
  for (const app of apps.values()) {
    for (const f of fs.readdirSync(app.outdir).sort()) {
      files++;
      console.log(`  - ${path.join(app.outdir, f)}`);
    }
  }
  let diagrams = '';
  // the reviewer diagrams (docs/diagrams) describe the committed dist/: written
  // only by a synth into it, from the same objects; loaded only here
  if (path.resolve(outdir) === path.join(__dirname, 'dist')) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const review = require('./scripts/review/diagrams');
    review.writeDiagrams(apps);
    diagrams = ` and the diagrams under ${path.relative(process.cwd(), review.DIAGRAMS_DIR)}/`;
  }
  console.log(`synth: wrote ${files} manifest files under ${outdir}/${diagrams}`);
}
