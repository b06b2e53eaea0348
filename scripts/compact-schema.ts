/**
 * Writes lib/testing/k8s-1.28.0-definitions.min.json, the schema the
 * testing gate ships, from the vendored official one (see lib/testing/schema.ts).
 * `npm run schema`; test/api.test.ts fails when the committed file is stale.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SCHEMA_FILE_NAME, stripDescriptions } from '../lib/testing/schema';

export const OFFICIAL_SCHEMA = path.join(__dirname, '..', 'schemas', 'kubernetes', 'v1.28.0', '_definitions.json');
export const COMPACT_SCHEMA = path.join(__dirname, '..', 'lib', 'testing', SCHEMA_FILE_NAME);

/** The compact file's exact text for the official schema. */
export function compactSchemaText(): string {
  return `${JSON.stringify(stripDescriptions(JSON.parse(fs.readFileSync(OFFICIAL_SCHEMA, 'utf8'))))}\n`;
}

if (require.main === module) {
  const text = compactSchemaText();
  fs.writeFileSync(COMPACT_SCHEMA, text);
  console.log(`wrote ${path.relative(process.cwd(), COMPACT_SCHEMA)} (${text.length} bytes)`);
}
