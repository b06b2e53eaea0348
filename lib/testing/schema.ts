/**
 * The Kubernetes 1.28 schema the gate validates against, as the package
 * ships it: the official `_definitions.json` (kubernetes-json-schema
 * v1.28.0, 1 MB) with every `description` annotation removed (226 kB,
 * about 19 kB compressed). Descriptions are annotations only in JSON Schema,
 * so validation is unchanged; every type, `required` list, format and
 * `x-kubernetes-*` extension is kept. `npm run schema` writes the file from
 * the vendored official copy and a test checks the two agree.
 */

/** File name of the compact definitions, beside the compiled gate. */
export const SCHEMA_FILE_NAME = 'k8s-1.28.0-definitions.min.json';

/**
 * Drops the `description` annotations of a JSON Schema document, keeping
 * everything else in order. A property that is literally named
 * `description` (inside `properties`) is kept: it is a field, not an annotation.
 */
export function stripDescriptions(node: unknown, inProperties = false): unknown {
  if (Array.isArray(node)) return node.map((n) => stripDescriptions(n));
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'description' && !inProperties) continue;
    out[k] = stripDescriptions(v, k === 'properties' && !inProperties);
  }
  return out;
}
