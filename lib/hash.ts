import { createHash } from 'node:crypto';
import { validateLabelValue } from './validate';

/**
 * Serialises a value to JSON with object keys sorted at every level, so equal
 * content always hashes the same regardless of insertion order.
 */
export function stableStringify(value: unknown): string {
  if (Buffer.isBuffer(value)) return JSON.stringify(value.toString('base64'));
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A short, deterministic content hash (hex sha256 prefix) of any JSON-able value.
 *
 * @param length hex characters to keep, 8-64
 */
export function contentHash(content: unknown, length: number = 16): string {
  if (!Number.isInteger(length) || length < 8 || length > 64) {
    throw new Error(`length must be an integer 8-64, got ${length}`);
  }
  return createHash('sha256').update(stableStringify(content)).digest('hex').slice(0, length);
}

/** Anything with pod-template metadata: cdk8s-plus Deployments, Jobs, CronJobs, Pods. */
export interface PodTemplateOwner {
  readonly podMetadata: { addAnnotation(key: string, value: string): void };
}

/**
 * Helm's checksum pattern, computed at synth: puts `checksum/<name>: <hash of
 * content>` on the pod template, so changing the content (a ConfigMap the pods
 * mount) changes the template and the workload rolls, with no controller.
 *
 * @param name the annotation name after `checksum/`, usually the ConfigMap's role (e.g. `content`)
 */
export function addChecksumAnnotation(workload: PodTemplateOwner, name: string, content: unknown): string {
  validateLabelValue(name, 'checksum name');
  const hash = contentHash(content, 64);
  workload.podMetadata.addAnnotation(`checksum/${name}`, hash);
  return hash;
}
