/**
 * The composition root: instantiates the pattern charts. `npm run synth` (or
 * `cdk8s synth`) runs this file and writes one YAML file per chart to dist/.
 * Importing it (from tests) writes nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, YamlOutputType } from 'cdk8s';

/** Builds the whole app in memory; nothing is written until `synthesize()`. */
export function buildApp(outdir: string = process.env.CDK8S_OUTDIR ?? 'dist'): App {
  const app = new App({ outdir, yamlOutputType: YamlOutputType.FILE_PER_CHART });
  // --- pattern charts (one line each) ---
  return app;
}

/** Synthesizes into `outdir`, replacing the YAML a previous synth left there. */
export function synthesize(outdir: string): void {
  if (fs.existsSync(outdir)) {
    for (const f of fs.readdirSync(outdir)) if (f.endsWith('.k8s.yaml')) fs.rmSync(path.join(outdir, f));
  }
  buildApp(outdir).synth();
}

if (require.main === module) {
  synthesize(process.env.CDK8S_OUTDIR ?? 'dist');
}
