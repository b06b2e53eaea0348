#!/usr/bin/env node
// @ts-check
'use strict';
/**
 * cdk8s-patterns: the package's command line. `cdk8s-patterns verify <dir>`
 * applies synthesized YAML to a real, throw-away kube-apiserver and reports
 * what it says (cdk8s-patterns verify --help).
 *
 * Runs the compiled build/verify/cli.js of the installed package. In a source
 * checkout run under ts-node (`npm run verify`), it runs lib/verify/cli.ts.
 */
const fs = require('node:fs');
const path = require('node:path');

const source = path.join(__dirname, '..', 'lib', 'verify', 'cli.ts');
const built = path.join(__dirname, '..', 'build', 'verify', 'cli.js');
if (!require.extensions['.ts'] && !fs.existsSync(built)) {
  // a source checkout: nothing compiled yet
  process.stderr.write(`cdk8s-patterns: ${built} is missing: run \`npm run build\` first, or \`npm run verify\` in the repository\n`);
  process.exit(3);
}
const cli = require.extensions['.ts'] && fs.existsSync(source) ? require(source) : require(built);

cli.main(process.argv.slice(2)).then(
  (/** @type {number} */ code) => {
    process.exitCode = code;
  },
  (/** @type {unknown} */ e) => {
    process.stderr.write(`cdk8s-patterns: ${e instanceof Error ? e.stack : e}\n`);
    process.exitCode = 1;
  },
);
