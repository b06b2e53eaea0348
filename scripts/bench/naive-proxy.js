// @ts-check
/**
 * The seed's design as a benchmark baseline: every client GET is relayed to
 * the Kubernetes API (one API call per request, no cache, no auth).
 */
'use strict';
const http = require('node:http');

/** @param {string} apiUrl */
function createNaiveProxy(apiUrl) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  return http.createServer((req, res) => {
    const m = /^\/kv\/([^/]+)\/([^/?]+)$/.exec(req.url ?? '');
    if (req.method !== 'GET' || !m) {
      res.writeHead(404).end();
      return;
    }
    http
      .get(`${apiUrl}/api/v1/namespaces/${m[1]}/configmaps/${m[2]}`, { agent }, (up) => {
        const chunks = /** @type {Buffer[]} */ ([]);
        up.on('data', (c) => chunks.push(c));
        up.on('end', () => {
          if (up.statusCode !== 200) {
            res.writeHead(up.statusCode ?? 502).end();
            return;
          }
          const cm = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          const body = JSON.stringify(cm.data ?? {});
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
        });
      })
      .on('error', () => {
        res.writeHead(502).end();
      });
  });
}

module.exports = { createNaiveProxy };
