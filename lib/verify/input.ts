/**
 * What the verify command reads: files and folders of Kubernetes YAML (or
 * JSON), each document an object, with the file and document it came from
 * so that every failure can name them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';

/** A Kubernetes object as parsed. */
export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: any };
  [k: string]: any;
};

/** One object of the input and where it came from. */
export interface InputObject {
  /** The file, relative to the working directory. */
  readonly file: string;
  /** 1-based document number in the file. */
  readonly document: number;
  readonly object: Manifest;
}

/** A problem with the input itself (not the server's verdict). */
export interface InputProblem {
  readonly file: string;
  readonly document?: number;
  readonly message: string;
}

/** The files verified together on one fresh server, and what to call them. */
export interface InputSet {
  readonly label: string;
  readonly files: string[];
}

const MANIFEST_FILE = /\.(ya?ml|json)$/;

/** The manifest files directly in `dir` (not recursive, as `kubectl apply -f <dir>`), sorted by name. */
export function manifestFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && MANIFEST_FILE.test(e.name))
    .map((e) => path.join(dir, e.name))
    .sort();
}

/**
 * The sets to verify. Every file argument, and every folder holding manifest
 * files, go into one set in the order given. A folder with no manifest files of
 * its own whose sub-folders hold some (dist/dev, dist/prod: one folder per
 * environment) gives one set per sub-folder, each verified on its own server.
 * Throws (a usage error) on a path that does not exist or holds no manifests.
 */
export function inputSets(paths: readonly string[]): InputSet[] {
  const together: string[] = [];
  const labels: string[] = [];
  const apart: InputSet[] = [];
  for (const p of paths) {
    const stat = fs.statSync(p, { throwIfNoEntry: false });
    if (!stat) throw new Error(`${p}: no such file or folder`);
    if (stat.isFile()) {
      together.push(p);
      labels.push(p);
      continue;
    }
    const files = manifestFiles(p);
    if (files.length) {
      together.push(...files);
      labels.push(p);
      continue;
    }
    const subs = fs
      .readdirSync(p, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(p, e.name))
      .sort()
      .filter((d) => manifestFiles(d).length > 0);
    if (!subs.length) throw new Error(`${p}: no .yaml, .yml or .json files in it or its sub-folders`);
    apart.push(...subs.map((d) => ({ label: d, files: manifestFiles(d) })));
  }
  return [...(together.length ? [{ label: labels.join(' '), files: together }] : []), ...apart];
}

/** Every object of the files, in order; `List` documents give their items. */
export function readObjects(files: readonly string[]): { objects: InputObject[]; problems: InputProblem[] } {
  const objects: InputObject[] = [];
  const problems: InputProblem[] = [];
  for (const f of files) {
    const file = path.relative(process.cwd(), f) || f;
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch (e) {
      problems.push({ file, message: (e as Error).message });
      continue;
    }
    // YAML 1.1, as Kubernetes (sigs.k8s.io/yaml) reads it: yes/no/on/off are booleans
    parseAllDocuments(text, { version: '1.1' }).forEach((doc, i) => {
      const document = i + 1;
      if (doc.errors.length) {
        problems.push({ file, document, message: doc.errors[0].message.replace(/\s*\n[\s\S]*/, '') });
        return;
      }
      const value = doc.toJS();
      if (value === null || value === undefined) return; // an empty document
      const items = value?.kind === 'List' && Array.isArray(value.items) ? value.items : [value];
      for (const o of items) {
        const fields: Array<[string, unknown]> = [
          ['apiVersion', o?.apiVersion],
          ['kind', o?.kind],
          ['metadata.name', o?.metadata?.name],
        ];
        const booleans = fields.filter(([, v]) => typeof v === 'boolean');
        if (booleans.length) {
          problems.push({
            file,
            document,
            message:
              `${booleans.map(([k, v]) => `${k} is ${v}`).join(', ')}, not a string: ` +
              'YAML 1.1, as Kubernetes reads it, takes y, n, yes, no, on and off for booleans (quote it)',
          });
          continue;
        }
        const missing = fields.filter(([, v]) => typeof v !== 'string' || !v).map(([k]) => k);
        if (missing.length) {
          problems.push({ file, document, message: `${missing.join(', ')} missing: server-side apply needs apiVersion, kind and metadata.name` });
          continue;
        }
        objects.push({ file, document, object: o });
      }
    });
  }
  return { objects, problems };
}

/** `Deployment shop/web`, `Namespace shop`. */
export function objectName(o: Manifest): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

/** Namespaces and CustomResourceDefinitions: applied before everything else. */
export function isFirst(o: Manifest): boolean {
  return (
    (o.apiVersion === 'v1' && o.kind === 'Namespace') || (o.apiVersion.startsWith('apiextensions.k8s.io/') && o.kind === 'CustomResourceDefinition')
  );
}

/** The pod template of a workload (apps/v1, batch/v1, core ReplicationController), if it is one. */
export function podTemplateOf(o: Manifest): { metadata?: any; spec: any } | undefined {
  const workloads: Record<string, string[]> = {
    'apps/v1': ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'],
    'batch/v1': ['Job'],
    'v1': ['ReplicationController'],
  };
  if (o.apiVersion === 'batch/v1' && o.kind === 'CronJob') return o.spec?.jobTemplate?.spec?.template;
  return workloads[o.apiVersion]?.includes(o.kind) ? o.spec?.template : undefined;
}
