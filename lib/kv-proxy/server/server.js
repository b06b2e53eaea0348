// @ts-check
'use strict';
/**
 * kv-proxy entry point: `node server.js`.
 *
 * Reads its configuration from the environment (see config.js), refuses to
 * start with a clear message on stderr when it is wrong, serves HTTP, and on
 * SIGTERM or SIGINT stops accepting connections, closes its watches, answers
 * in-flight requests (blocking reads return at once with the current value),
 * waits for them up to KV_SHUTDOWN_TIMEOUT_SECONDS and then lets the process
 * end. It writes nothing to disk.
 */
const http = require('node:http');
const { loadConfig, ConfigError } = require('./config.js');
const { createLogger, errorFields } = require('./log.js');
const { createMetrics } = require('./metrics.js');
const { TokenStore } = require('./auth.js');
const { KubeClient } = require('./kube.js');
const { Cache, Informer, scopesFor } = require('./cache.js');
const { KvWriter } = require('./kv.js');
const { createApp } = require('./app.js');
const { createAudit } = require('./audit.js');

/** @param {string} message */
function refuseToStart(message) {
  process.stderr.write(`kv-proxy: ${message}\n`);
  process.exit(1);
}

function main() {
  const log = createLogger();

  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) return refuseToStart(err.message);
    throw err;
  }

  const metrics = createMetrics();
  const tokens = new TokenStore(config.tokensDir, log, metrics);
  let kube;
  try {
    tokens.load(true);
    kube = new KubeClient(config.kube, log, metrics, config.upstreamTimeoutMs);
  } catch (err) {
    return refuseToStart(/** @type {Error} */ (err).message);
  }

  const cache = new Cache(log, metrics);
  for (const scope of scopesFor(config)) cache.add(new Informer(scope, kube, cache, log, metrics));
  const writer = new KvWriter(config, kube, cache);
  const lifecycle = { shuttingDown: false };
  const audit = createAudit(config.auditLog);
  const handle = createApp({ config, cache, writer, tokens, metrics, log, audit, lifecycle });

  const server = http.createServer(
    {
      requestTimeout: 30_000, // to receive a whole request; blocking reads wait after that
      headersTimeout: 20_000,
      keepAliveTimeout: 65_000, // longer than typical ingress upstream keep-alive
    },
    handle,
  );
  server.on('checkContinue', (req, res) => {
    // Answer 100 Continue only when the handler starts reading the body,
    // so an oversized or unauthorized upload is refused before it is sent.
    /** @type {{ expectsContinue?: boolean }} */ (req).expectsContinue = true;
    handle(req, res);
  });
  server.on('clientError', (err, socket) => {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    // ECONNRESET / HPE_INVALID_EOF_STATE: the client hung up mid-request (an
    // aborted upload); its request, if any, is logged once as a 499.
    if (code === 'ECONNRESET' || code === 'HPE_INVALID_EOF_STATE' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const reason = http.STATUS_CODES[status] || 'Bad Request';
    const body = JSON.stringify({ error: reason.toLowerCase() });
    log.warn('client error', { code, status });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  server.once('error', (err) => {
    refuseToStart(`cannot listen on port ${config.port}: ${/** @type {NodeJS.ErrnoException} */ (err).code || err.message}`);
  });

  // KV_METRICS_PORT: /metrics on a port of its own, which the Service and Ingress do not expose.
  /** @type {http.Server | undefined} */
  let metricsServer;
  if (config.metricsPort !== undefined) {
    const metricsPort = config.metricsPort;
    metricsServer = http.createServer({ requestTimeout: 10_000, headersTimeout: 10_000 }, /** @type {any} */ (handle).metrics);
    metricsServer.on('clientError', (_err, socket) => socket.destroy());
    metricsServer.once('error', (err) => {
      refuseToStart(`cannot listen on KV_METRICS_PORT ${metricsPort}: ${/** @type {NodeJS.ErrnoException} */ (err).code || err.message}`);
    });
    metricsServer.listen(metricsPort, config.listenAddress);
  }

  server.listen(config.port, config.listenAddress, () => {
    const address = server.address();
    log.info('listening', {
      port: address && typeof address === 'object' ? address.port : config.port,
      kubeApi: config.kube.baseUrl.origin,
      inCluster: config.kube.inCluster,
      namespaces: config.namespaces,
      configMapNames: config.configMapNames,
      labelSelector: config.labelSelector ? config.labelSelector.text : undefined,
      writeEnabled: config.writeEnabled,
      discoveryEnabled: config.discoveryEnabled,
      accessLog: config.accessLog,
      upstreamTimeoutSeconds: config.upstreamTimeoutMs / 1000,
      metricsPort: config.metricsPort,
      metricsAuth: config.metricsAuth,
      writableLabel: `${config.writableLabel.key}=${config.writableLabel.value}`,
      writeScope: config.writeScope,
      auditLog: config.auditLog,
    });
    tokens.start();
    cache.start();
  });

  let stopping = false;
  /** @param {string} reason */
  const shutdown = (reason) => {
    if (stopping) {
      log.info('already shutting down', { reason });
      return;
    }
    stopping = true;
    lifecycle.shuttingDown = true;
    const timeoutMs = config.shutdownTimeoutSeconds * 1000;
    log.info('shutting down', { reason, timeoutSeconds: config.shutdownTimeoutSeconds });

    const closed = new Promise((resolve) => server.close(() => resolve(undefined)));
    if (metricsServer) {
      metricsServer.close();
      metricsServer.closeAllConnections();
    }
    // Keep-alive connections become idle as their last response is sent:
    // close them as that happens so server.close() can complete.
    server.closeIdleConnections();
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    const force = setTimeout(() => {
      log.warn('shutdown timeout reached, closing remaining connections');
      server.closeAllConnections();
    }, timeoutMs);
    tokens.stop();
    Promise.all([closed, cache.stop()]).then(
      () => {
        clearInterval(sweep);
        clearTimeout(force);
        kube.close();
        log.info('stopped');
        // Nothing should be left to keep the event loop alive; if something
        // is, do not hang the pod's termination on it.
        setTimeout(() => process.exit(), 1000).unref();
      },
      (err) => {
        log.error('shutdown failed', errorFields(err));
        process.exitCode = 1;
        setTimeout(() => process.exit(), 0).unref();
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('uncaughtException', (err) => {
    log.error('uncaught exception', errorFields(err));
    process.exitCode = 1;
    shutdown('uncaughtException');
  });
  process.on('unhandledRejection', (err) => {
    log.error('unhandled rejection', errorFields(err));
  });
  return undefined;
}

main();
