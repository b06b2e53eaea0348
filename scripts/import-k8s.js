#!/usr/bin/env node
// Regenerates imports/ with the real `cdk8s import`, offline (see offline-k8s-schema.js).
// IMPORT_OUTDIR writes elsewhere (the test suite uses it to prove imports/ is reproducible).
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const cli = path.join(path.dirname(require.resolve('cdk8s-cli/package.json')), 'bin', 'cdk8s');
const r = spawnSync(
  process.execPath,
  [
    '-r',
    path.join(__dirname, 'offline-k8s-schema.js'),
    cli,
    'import',
    '--check-upgrade=false',
    '--output',
    process.env.IMPORT_OUTDIR || 'imports',
    ...process.argv.slice(2),
  ],
  { cwd: root, stdio: 'inherit' },
);
process.exit(r.status ?? 1);
