/**
 * `cdk8s-patterns/testing`: the validation gate this library's own tests use,
 * for a platform team to assert that their charts pass the same checks:
 * the Kubernetes 1.28 schema (strict: unknown fields fail), what the API
 * server enforces beyond it, Pod Security "restricted" plus hardening, and
 * references across the set of objects.
 *
 * ```ts
 * import { Testing } from 'cdk8s';
 * import { assertValid } from 'cdk8s-patterns/testing';
 * assertValid(Testing.synth(chart));
 * ```
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Yaml } from 'cdk8s';
import { K8sObject } from './gate';

export { assertValid, formatViolations, MIN_RUN_AS_ID, objectId, validateObjects } from './gate';
export type { GateOptions, K8sObject, Violation } from './gate';

/**
 * Reads the objects of synthesized manifests: each path is a YAML file
 * (one or more documents) or a directory searched recursively for
 * `*.yaml` and `*.yml`, in name order. Empty documents are skipped.
 */
export function loadManifests(...paths: string[]): K8sObject[] {
  const files: string[] = [];
  const visit = (p: string): void => {
    if (fs.statSync(p).isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) visit(path.join(p, name));
    } else if (/\.ya?ml$/.test(p) || paths.includes(p)) {
      files.push(p);
    }
  };
  for (const p of paths) visit(p);
  return files.flatMap((f) => Yaml.load(f)).filter((o): o is K8sObject => o !== null && o !== undefined);
}
