// Preloaded into the real cdk8s CLI by scripts/import-k8s.js (`node -r`).
// cdk8s-cli downloads the Kubernetes schema for `k8s@X.Y.Z` from a hard-coded
// URL; this machine has no internet. The CLI's own `download()` already reads
// plain file paths, so we redirect exactly that schema URL to the vendored copy
// in schemas/kubernetes/ and refuse every other remote fetch loudly.
'use strict';
const path = require('node:path');
// cdk8s-cli's package "exports" hide lib/util, so resolve it by file path.
const cliRoot = path.dirname(require.resolve('cdk8s-cli/package.json'));
const util = require(path.join(cliRoot, 'lib', 'util.js'));

const SCHEMA_URL = /^https:\/\/raw\.githubusercontent\.com\/cdk8s-team\/cdk8s\/[^/]+\/kubernetes-schemas\/v(\d+\.\d+\.\d+)\/_definitions\.json$/;
const schemaRoot = process.env.K8S_SCHEMA_ROOT || path.join(__dirname, '..', 'schemas', 'kubernetes');
const original = util.download;

util.download = async function offlineDownload(url) {
  const m = SCHEMA_URL.exec(url);
  if (m) {
    return original(path.join(schemaRoot, `v${m[1]}`, '_definitions.json'));
  }
  if (/^https?:/.test(url)) {
    throw new Error(`offline import: refusing to download ${url}; only the vendored k8s schema is available`);
  }
  return original(url);
};
