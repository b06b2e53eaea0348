// @ts-check
// The ceiling: a bare Node `http` server answering every request with the same bytes a
// KvProxy GET answers (argv[2]: a file with the body; argv[3]: the response headers as
// JSON, those the proxy sends), written the way the Node docs write one. Prints its URL
// as one JSON line.
'use strict';
const fs = require('node:fs');
const http = require('node:http');

const body = fs.readFileSync(process.argv[2]);
/** @type {Record<string, string>} */
const headers = JSON.parse(process.argv[3] || '{}');

const server = http.createServer((req, res) => {
  res.writeHead(200, headers);
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const addr = /** @type {import('node:net').AddressInfo} */ (server.address());
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${addr.port}` })}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
