#!/usr/bin/env node
// Builds the package into build/: `tsc -p tsconfig.build.json` compiles lib/
// to JavaScript with declarations, then every runtime asset under lib/ (the
// kv-proxy server's *.js, the sidecar scripts, unpack.py, the testing gate's
// schema) is copied verbatim beside the compiled module that reads it via
// __dirname. The kv-proxy server's JavaScript is copied over tsc's re-emit,
// so the ConfigMap a consumer synthesizes holds exactly the reviewed file.
// `npm run build`; `npm pack` runs it (prepack).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const src = path.join(root, 'lib');
const out = path.join(root, 'build');

fs.rmSync(out, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
  cwd: root,
});

let assets = 0;
(function copy(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const from = path.join(dir, e.name);
    if (e.isDirectory()) {
      copy(from);
      continue;
    }
    if (e.name.endsWith('.ts')) continue;
    const to = path.join(out, path.relative(src, from));
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(from, to);
    fs.chmodSync(to, fs.statSync(from).mode);
    assets++;
  }
})(src);
// The server's modules run in the pod, not in the consumer's compiler: their
// declarations (emitted because kv-proxy.ts imports selector.js) are not shipped.
const server = path.join(out, 'kv-proxy', 'server');
for (const f of fs.readdirSync(server)) if (f.endsWith('.d.ts')) fs.rmSync(path.join(server, f));
// The verify command's modules (build/verify, run by bin/cdk8s-patterns.js) are
// not part of the API: the main entry does not export them, so no declarations.
const verify = path.join(out, 'verify');
for (const f of fs.readdirSync(verify)) if (f.endsWith('.d.ts')) fs.rmSync(path.join(verify, f));
console.error(`build: compiled lib/ into build/ and copied ${assets} runtime assets`);
