// @ts-check
// Runs the naive relay baseline in its own process: argv[2] is the API URL; prints its URL as one JSON line.
'use strict';
const { createNaiveProxy } = require('./naive-proxy.js');

const server = createNaiveProxy(process.argv[2]);
server.listen(0, '127.0.0.1', () => {
  const addr = /** @type {import('node:net').AddressInfo} */ (server.address());
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${addr.port}` })}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
