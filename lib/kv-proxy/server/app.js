// @ts-check
'use strict';
/**
 * Routing and request handlers.
 *
 *   GET    /healthz                      liveness
 *   GET    /readyz                       503 until every watched collection is listed
 *   GET    /metrics                      Prometheus text format (on KV_METRICS_PORT instead when set;
 *                                        with KV_METRICS_AUTH=token it needs a token from metrics-tokens)
 *   GET    /kv/<ns>/<cm>                 all keys as a JSON object (?keys, ?prefix=, ?index=&wait=, ?min-index=)
 *   POST   /kv/<ns>/<cm>                 merge a JSON object of string values (PUT is the same);
 *                                        Content-Type must be application/json (415 otherwise)
 *   DELETE /kv/<ns>/<cm>?key=<key>       remove one key
 *   GET    /kv/<ns>/<cm>/<key>           one value as text/plain (?index=&wait=, ?min-index=)
 *   PUT    /kv/<ns>/<cm>/<key>           set one value from the raw body, whatever its Content-Type
 *   DELETE /kv/<ns>/<cm>/<key>           remove one key
 *   GET    /discover/<ns>                Services with clusterIP, ports and ready endpoints
 *   *      /v1/...                       Consul's KV, txn, catalog and health API (consul.js; KV_CONSUL_API)
 *
 * Every /kv and /discover request needs `Authorization: Bearer <token>`.
 *
 * Indexes are resourceVersions. Every write answers the one it produced in
 * X-Kv-Index. A read with `?min-index=N` (or `X-Kv-Min-Index: N`) waits until
 * this replica's cache has seen index N, up to KV_CATCH_UP_TIMEOUT_SECONDS,
 * then answers 504 if it has not: read-your-writes on any replica. This
 * orders resourceVersions as integers, which every etcd-backed API server
 * issues; Kubernetes calls them opaque, so min-index accepts integers only.
 *
 * Writes go only where kv.js writeRefusal allows (403 otherwise): never to
 * the ConfigMaps the proxy runs from, kube-root-ca.crt and its kin, owned or
 * immutable ConfigMaps; by default only to those labeled for it. Every write
 * request is one audit line (audit.js). Keys are own properties only: names
 * such as `__proto__` or `constructor` are ordinary keys.
 */
const { HttpError, sendJson, sendText, sendError, send, readBody } = require('./httputil.js');
const { bearerToken } = require('./auth.js');
const { discover } = require('./discovery.js');
const { createConsul } = require('./consul.js');
const { errorFields } = require('./log.js');
const { createAudit } = require('./audit.js');
const v = require('./validate.js');

const DEFAULT_WAIT_MS = 60_000;
const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
/** The query of a URL without one: never changed, shared. */
const EMPTY_QUERY = new URLSearchParams('');
const CONFIGMAP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'];
const KEY_METHODS = ['GET', 'HEAD', 'PUT', 'DELETE'];
/** Most request paths whose parsing is remembered (then the memo starts over). */
const MAX_REMEMBERED_PATHS = 256;
const MIN_INDEX = /^\d{1,20}$/;
const READ_METHODS = ['GET', 'HEAD'];
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const REALM = 'Bearer realm="kv-proxy"';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * @typedef {import('node:http').IncomingMessage} Req
 * @typedef {import('node:http').ServerResponse} Res
 * @typedef {{
 *   config: import('./config.js').Config,
 *   cache: import('./cache.js').Cache,
 *   writer: import('./kv.js').KvWriter,
 *   tokens: import('./auth.js').TokenStore,
 *   metrics: import('./metrics.js').Metrics,
 *   log: import('./log.js').Logger,
 *   audit?: import('./audit.js').Audit,
 *   lifecycle: { shuttingDown: boolean },
 * }} AppDeps
 * @typedef {{
 *   route: string,
 *   audit?: {
 *     token: string | null, method: string, namespace: string, configmap: string,
 *     key?: string, keys?: string[], index?: string, api?: string,
 *   },
 * }} Ctx
 */

/** @param {string} s a client-supplied value, shortened for messages */
function shown(s) {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);
}

/**
 * The value of an own key, never one inherited from Object.prototype.
 * @param {Record<string, string>} data
 * @param {string} key
 * @returns {string | undefined}
 */
function own(data, key) {
  return Object.hasOwn(data, key) ? data[key] : undefined;
}

/** @param {unknown} x @returns {x is Record<string, unknown>} */
function isPlainObject(x) {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Whether an error means the client went away (an aborted upload), which is
 * the client's doing: logged as one access-log line, never as a failure.
 * @param {unknown} err
 * @param {Req} req
 */
function clientGone(err, req) {
  const code = /** @type {NodeJS.ErrnoException} */ (err) && /** @type {NodeJS.ErrnoException} */ (err).code;
  return code === 'ECONNRESET' || code === 'ECONNABORTED' || (req.destroyed && !req.complete);
}

/**
 * @param {string} method
 * @param {string[]} allowed
 */
function allow(method, allowed) {
  if (!allowed.includes(method)) {
    throw new HttpError(405, `method ${method} is not allowed here`, { Allow: allowed.join(', ') });
  }
}

/**
 * @param {AppDeps} deps
 * @returns {(req: Req, res: Res) => void}
 */
function createApp(deps) {
  const { config, cache, writer, tokens, metrics, log, lifecycle } = deps;
  const audit = deps.audit || createAudit(config.auditLog || 'stdout');
  const maxWaitMs = config.maxWaitSeconds * 1000;
  const accessLog = config.accessLog || 'all';
  const metricsAuth = config.metricsAuth || 'none';

  /**
   * @param {Req} req
   * @param {boolean} write
   * @param {Ctx} ctx its audit entry, if any, gets the token's name
   */
  function authenticate(req, write, ctx) {
    const header = req.headers.authorization;
    if (!header) throw new HttpError(401, 'missing bearer token', { 'WWW-Authenticate': REALM });
    const token = bearerToken(header);
    if (!token)
      throw new HttpError(401, 'malformed Authorization header, expected "Bearer <token>"', {
        'WWW-Authenticate': `${REALM}, error="invalid_request"`,
      });
    const id = tokens.identify(token);
    if (!id) throw new HttpError(401, 'invalid token', { 'WWW-Authenticate': `${REALM}, error="invalid_token"` });
    if (ctx.audit) ctx.audit.token = id.name;
    const role = id.role;
    if (role !== 'read' && role !== 'write')
      throw new HttpError(403, 'this token may only scrape /metrics', { 'WWW-Authenticate': `${REALM}, error="insufficient_scope"` });
    if (write) {
      if (!config.writeEnabled) throw new HttpError(403, 'writes are disabled on this proxy (KV_WRITE_ENABLED=false)');
      if (role !== 'write') throw new HttpError(403, 'this token may only read', { 'WWW-Authenticate': `${REALM}, error="insufficient_scope"` });
    }
  }

  /** @param {string} ns */
  function checkNamespace(ns) {
    if (config.namespaces.includes(ns)) return; // validated at startup
    if (!v.isNamespaceName(ns)) throw new HttpError(400, `invalid namespace name ${shown(ns)}`);
    throw new HttpError(403, `namespace ${shown(ns)} is not served by this proxy`);
  }

  /** @param {string} name */
  function checkConfigMap(name) {
    if (!v.isConfigMapName(name)) throw new HttpError(400, `invalid configmap name ${shown(name)}`);
    if (config.configMapNames && !config.configMapNames.includes(name)) {
      throw new HttpError(403, `configmap ${shown(name)} is not served by this proxy`);
    }
  }

  /**
   * Refuse writes that must never happen, before the body is read (kv.js
   * writeRefusal, against the cached ConfigMap; the writer checks again
   * against the version it patches).
   * @param {string} ns
   * @param {string} name
   */
  function checkWritable(ns, name) {
    const refused = writer.refusal(ns, name);
    if (refused) throw refused;
  }

  /**
   * A JSON body needs Content-Type: application/json (charset, if any, utf-8).
   * @param {Req} req
   */
  function requireJson(req) {
    const header = req.headers['content-type'];
    const parts =
      typeof header === 'string'
        ? header
            .toLowerCase()
            .split(';')
            .map((p) => p.trim())
        : [''];
    const charset = parts.slice(1).find((p) => p.startsWith('charset='));
    if (parts[0] !== 'application/json' || (charset !== undefined && !/^charset="?utf-8"?$/.test(charset))) {
      throw new HttpError(
        415,
        `a JSON body needs Content-Type: application/json (UTF-8), got ${header ? shown(header) : 'none'}; ` +
          'to set one key to a raw value, PUT it to /kv/<namespace>/<configmap>/<key>',
        { 'Accept-Post': 'application/json' },
      );
    }
  }

  /** @param {string} key */
  function checkKey(key) {
    if (!v.isConfigKey(key)) {
      throw new HttpError(400, `invalid key ${shown(key)}: keys are 1-253 characters of a-z, A-Z, 0-9, "-", "_" and ".", and not "." or ".."`);
    }
  }

  /**
   * @param {string} resource
   * @param {string} ns
   * @param {string} [name]
   */
  function requireSynced(resource, ns, name) {
    const state = cache.state(resource, ns, name);
    if (!state.synced) throw new HttpError(503, 'the cache is still loading, try again shortly', { 'Retry-After': '1' });
    return state;
  }

  /**
   * The index (resourceVersion) a client waits on; "0" for a missing ConfigMap.
   * @param {string} ns
   * @param {string} name
   */
  function indexOf(ns, name) {
    const obj = cache.get('configmaps', ns, name);
    return obj ? String(obj.metadata.resourceVersion) : '0';
  }

  /**
   * Whether a blocking read on ?index=N should keep waiting: the ConfigMap is
   * still at N, or this replica holds an older version than N (it is behind
   * the replica that gave the client N; answering would go back in time).
   * @param {string} ns
   * @param {string} name
   * @param {string} index
   */
  function unchanged(ns, name, index) {
    const current = indexOf(ns, name);
    if (current === index) return true;
    return current !== '0' && MIN_INDEX.test(current) && MIN_INDEX.test(index) && BigInt(current) < BigInt(index);
  }

  /**
   * Read-your-writes: with ?min-index=N or X-Kv-Min-Index: N, wait until
   * this replica's cache has seen index N, at most KV_CATCH_UP_TIMEOUT_SECONDS.
   * @param {Req} req
   * @param {Res} res
   * @param {URLSearchParams} query
   * @param {string} ns
   * @param {string} name
   * @returns {Promise<boolean>} false if the client went away
   */
  async function catchUp(req, res, query, ns, name) {
    const header = req.headers['x-kv-min-index'];
    const text = query.get('min-index') ?? (typeof header === 'string' ? header.trim() : null);
    if (text === null) return true;
    if (!MIN_INDEX.test(text)) {
      throw new HttpError(400, `invalid min-index ${shown(text)}: use the X-Kv-Index of a write (an integer resourceVersion)`);
    }
    const wanted = BigInt(text);
    if (cache.hasSeen('configmaps', ns, name, wanted)) return true;
    const gone = new AbortController();
    const onClose = () => gone.abort();
    res.on('close', onClose);
    metrics.blockingReads.inc();
    let reason;
    try {
      reason = await cache.waitUntil(() => cache.hasSeen('configmaps', ns, name, wanted), config.catchUpTimeoutMs, gone.signal);
    } finally {
      metrics.blockingReads.dec();
      res.off('close', onClose);
    }
    if (reason === 'aborted') return false;
    if (reason !== 'changed') {
      const seen = cache.seenIndex('configmaps', ns, name);
      throw new HttpError(
        504,
        `this replica has not caught up to index ${text} within ${config.catchUpTimeoutMs / 1000} s (it has seen ${seen}); ` +
          'retry, or read from another replica',
        { 'Retry-After': '1', 'X-Kv-Index': indexOf(ns, name) },
        { index: String(seen) },
      );
    }
    return true;
  }

  /**
   * Blocking read: wait while the ConfigMap's index equals ?index, up to ?wait.
   * @param {Res} res
   * @param {URLSearchParams} query
   * @param {string} ns
   * @param {string} name
   * @returns {Promise<boolean>} false if the client went away
   */
  async function maybeWait(res, query, ns, name) {
    const index = query.get('index');
    if (index === null) return true;
    if (!v.isIndex(index)) throw new HttpError(400, `invalid index ${shown(index)}: use the X-Kv-Index of a previous response`);
    const waitText = query.get('wait');
    const requested = waitText === null ? DEFAULT_WAIT_MS : v.parseWait(waitText);
    if (requested === undefined) throw new HttpError(400, `invalid wait ${shown(waitText || '')}: use e.g. 30s, 500ms or 5m`);
    const deadline = Date.now() + Math.min(requested, maxWaitMs);
    const gone = new AbortController();
    const onClose = () => gone.abort();
    res.on('close', onClose);
    metrics.blockingReads.inc();
    try {
      while (unchanged(ns, name, index) && Date.now() < deadline && !lifecycle.shuttingDown) {
        const reason = await cache.waitForChange('configmaps', ns, name, deadline - Date.now(), gone.signal);
        if (reason !== 'changed') break;
      }
    } finally {
      metrics.blockingReads.dec();
      res.off('close', onClose);
    }
    return !gone.signal.aborted;
  }

  /**
   * Headers describing the cached ConfigMap; throws 404 when it is missing.
   * @param {Req} req
   * @param {string} ns
   * @param {string} name
   * @returns {{ obj: Record<string, any>, headers: Record<string, string>, notModified: boolean }}
   */
  function current(req, ns, name) {
    const obj = cache.get('configmaps', ns, name);
    const index = obj ? String(obj.metadata.resourceVersion) : '0';
    /** @type {Record<string, string>} */
    const headers = { 'X-Kv-Index': index };
    if (cache.state('configmaps', ns, name).stale) headers['X-Kv-Stale'] = 'true';
    if (!obj) throw new HttpError(404, `configmap "${ns}/${name}" not found`, headers);
    headers.ETag = `"${index}"`;
    return { obj, headers, notModified: notModified(req, headers.ETag) };
  }

  /**
   * @param {Req} req
   * @returns {string | undefined}
   */
  function ifMatchOf(req) {
    const h = req.headers['if-match'];
    const parsed = v.parseIfMatch(typeof h === 'string' ? h : undefined);
    if (!parsed.ok) throw new HttpError(400, 'invalid If-Match header: use "*" or the quoted ETag of a previous response');
    return parsed.value;
  }

  /**
   * Response headers after a write (and the index for its audit line).
   * @param {Record<string, any>} obj
   * @param {Ctx} ctx
   */
  function writtenHeaders(obj, ctx) {
    const rv = String(obj.metadata.resourceVersion);
    if (ctx.audit) ctx.audit.index = rv;
    return { 'ETag': `"${rv}"`, 'X-Kv-Index': rv };
  }

  /**
   * What every read of this version of a ConfigMap answers, built once: the
   * index, the ETag and the length of the whole-ConfigMap body (the body
   * itself is built when the cache takes the version, data.js). The cache
   * holds a new object for every new version (the watch replaces it), so this
   * is rebuilt exactly when the ConfigMap changes. Small (three strings), so
   * 1,000 ConfigMaps cost about 100 kB.
   * @param {Record<string, any>} obj a cached ConfigMap
   * @returns {{ index: string, etag: string, length: string }}
   */
  function served(obj) {
    let r = obj.served;
    if (r === undefined) {
      const index = String(obj.metadata.resourceVersion);
      r = { index, etag: `"${index}"`, length: String(obj.data.body.length) };
      obj.served = r;
    }
    return r;
  }

  /**
   * Whether If-None-Match names this ETag (or is *).
   * @param {Req} req
   * @param {string} etag
   */
  function notModified(req, etag) {
    const inm = req.headers['if-none-match'];
    if (typeof inm !== 'string') return false;
    if (inm === etag) return true;
    return inm
      .split(',')
      .map((t) => t.trim().replace(/^W\//, ''))
      .some((t) => t === '*' || t === etag);
  }

  /**
   * Whether a read must wait (blocking read or min-index) before answering.
   * @param {Req} req
   * @param {URLSearchParams} query
   */
  function waits(req, query) {
    return (query !== EMPTY_QUERY && (query.has('index') || query.has('min-index'))) || req.headers['x-kv-min-index'] !== undefined;
  }

  /**
   * @param {Req} req
   * @param {Res} res
   * @param {URLSearchParams} query
   * @param {string} ns
   * @param {string} name
   * @returns {Promise<void> | void}
   */
  function getConfigMap(req, res, query, ns, name) {
    requireSynced('configmaps', ns, name);
    const prefix = query.get('prefix');
    if (prefix !== null && (prefix.length > 253 || !/^[-._a-zA-Z0-9]*$/.test(prefix))) {
      throw new HttpError(400, `invalid prefix ${shown(prefix)}`);
    }
    if (waits(req, query)) {
      return (async () => {
        if (!(await catchUp(req, res, query, ns, name))) return;
        if (!(await maybeWait(res, query, ns, name))) return;
        answerConfigMap(req, res, query, ns, name, prefix);
      })();
    }
    return answerConfigMap(req, res, query, ns, name, prefix);
  }

  /**
   * @param {Req} req
   * @param {Res} res
   * @param {URLSearchParams} query
   * @param {string} ns
   * @param {string} name
   * @param {string | null} prefix
   */
  function answerConfigMap(req, res, query, ns, name, prefix) {
    const obj = cache.get('configmaps', ns, name);
    const whole = prefix === null && (query === EMPTY_QUERY || !query.has('keys'));
    if (obj && whole && !cache.state('configmaps', ns, name).stale && !notModified(req, served(obj).etag)) {
      // The hot path: the body and headers built when the cache took this version.
      if (res.headersSent || res.destroyed) return;
      const r = served(obj);
      res.writeHead(200, {
        'Content-Type': JSON_TYPE,
        'Content-Length': r.length,
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        'X-Kv-Index': r.index,
        'ETag': r.etag,
      });
      res.end(obj.data.body);
      return;
    }
    const { headers, notModified: same } = current(req, ns, name);
    if (same) return send(res, 304, '', JSON_TYPE, headers);
    /** @type {import('./data.js').ConfigMapData} */
    const data = /** @type {Record<string, any>} */ (obj).data;
    if (whole) return send(res, 200, data.body, JSON_TYPE, headers);
    const keys = data.keys().filter((k) => prefix === null || k.startsWith(prefix));
    if (query.has('keys')) return sendJson(res, 200, keys.sort(), headers);
    // Object.fromEntries defines own properties: "__proto__" stays a key.
    return sendJson(res, 200, Object.fromEntries(keys.map((k) => [k, data.get(k)])), headers);
  }

  /**
   * @param {Req} req
   * @param {Res} res
   * @param {URLSearchParams} query
   * @param {string} ns
   * @param {string} name
   * @param {string} key
   * @returns {Promise<void> | void}
   */
  function getKey(req, res, query, ns, name, key) {
    requireSynced('configmaps', ns, name);
    if (waits(req, query)) {
      return (async () => {
        if (!(await catchUp(req, res, query, ns, name))) return;
        if (!(await maybeWait(res, query, ns, name))) return;
        answerKey(req, res, ns, name, key);
      })();
    }
    return answerKey(req, res, ns, name, key);
  }

  /**
   * @param {Req} req
   * @param {Res} res
   * @param {string} ns
   * @param {string} name
   * @param {string} key
   */
  function answerKey(req, res, ns, name, key) {
    const obj = cache.get('configmaps', ns, name);
    const value = obj ? obj.data.valueBuffer(key) : undefined;
    if (obj && value !== undefined && !cache.state('configmaps', ns, name).stale && !notModified(req, served(obj).etag)) {
      if (res.headersSent || res.destroyed) return;
      const r = served(obj);
      res.writeHead(200, {
        'Content-Type': TEXT_TYPE,
        'Content-Length': String(value.length),
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        'X-Kv-Index': r.index,
        'ETag': r.etag,
      });
      res.end(value);
      return;
    }
    const { headers, notModified: same } = current(req, ns, name);
    if (value === undefined) throw new HttpError(404, `key "${key}" not found in configmap "${ns}/${name}"`, headers);
    if (same) return send(res, 304, '', TEXT_TYPE, headers);
    return send(res, 200, value, TEXT_TYPE, headers);
  }

  /**
   * @param {Req} req
   * @param {Res} res
   * @param {Ctx} ctx
   * @param {string} ns
   * @param {string} name
   */
  async function postConfigMap(req, res, ctx, ns, name) {
    const ifMatch = ifMatchOf(req);
    requireJson(req);
    requireSynced('configmaps', ns, name);
    checkWritable(ns, name);
    const body = await readBody(req, res, config.maxBodyBytes);
    let parsed;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new HttpError(400, `malformed JSON body: ${/** @type {Error} */ (err).message}`);
    }
    if (!isPlainObject(parsed)) throw new HttpError(400, 'the body must be a JSON object of string values, e.g. {"key":"value"}');
    if (ctx.audit) ctx.audit.keys = Object.keys(parsed);
    for (const [k, value] of Object.entries(parsed)) {
      checkKey(k);
      if (typeof value !== 'string')
        throw new HttpError(
          400,
          `the value of ${shown(k)} must be a string, got ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}`,
        );
    }
    requireSynced('configmaps', ns, name);
    const obj = await writer.merge(ns, name, /** @type {Record<string, string>} */ (parsed), { ifMatch, create: true });
    return sendJson(res, 200, obj.data || {}, writtenHeaders(obj, ctx));
  }

  /**
   * @param {Req} req
   * @param {Res} res
   * @param {Ctx} ctx
   * @param {string} ns
   * @param {string} name
   * @param {string} key
   */
  async function putKey(req, res, ctx, ns, name, key) {
    const ifMatch = ifMatchOf(req);
    requireSynced('configmaps', ns, name);
    checkWritable(ns, name);
    const body = await readBody(req, res, config.maxBodyBytes);
    let value;
    try {
      value = utf8.decode(body);
    } catch {
      throw new HttpError(400, 'the value must be UTF-8 text');
    }
    requireSynced('configmaps', ns, name);
    /** @type {Record<string, string>} */
    const changes = Object.create(null);
    changes[key] = value;
    const obj = await writer.merge(ns, name, changes, { ifMatch, create: true });
    return sendText(res, 200, own(obj.data || {}, key) ?? value, writtenHeaders(obj, ctx));
  }

  /**
   * @param {Req} req
   * @param {Res} res
   * @param {Ctx} ctx
   * @param {string} ns
   * @param {string} name
   * @param {string} key
   */
  async function deleteKey(req, res, ctx, ns, name, key) {
    const ifMatch = ifMatchOf(req);
    requireSynced('configmaps', ns, name);
    checkWritable(ns, name);
    const obj = cache.get('configmaps', ns, name);
    if (!obj) throw new HttpError(404, `configmap "${ns}/${name}" not found`, {}, { success: false });
    if (!obj.data.has(key)) throw new HttpError(404, `key "${key}" not found in configmap "${ns}/${name}"`, {}, { success: false });
    /** @type {Record<string, null>} */
    const changes = Object.create(null);
    changes[key] = null;
    const written = await writer.merge(ns, name, changes, { ifMatch, create: false });
    return sendJson(res, 200, { success: true }, writtenHeaders(written, ctx));
  }

  /**
   * @param {Res} res
   * @param {string} ns
   */
  function getDiscovery(res, ns) {
    const a = requireSynced('services', ns);
    const b = requireSynced('endpointslices', ns);
    /** @type {Record<string, string>} */
    const headers = a.stale || b.stale ? { 'X-Kv-Stale': 'true' } : {};
    return sendJson(res, 200, discover(cache.list('services', ns), cache.list('endpointslices', ns)), headers);
  }

  /**
   * @param {Req} req
   * @param {Res} res
   * @param {string} method
   */
  function serveMetrics(req, res, method) {
    allow(method, READ_METHODS);
    if (metricsAuth === 'token') {
      const header = req.headers.authorization;
      const token = header ? bearerToken(header) : undefined;
      if (!token) throw new HttpError(401, 'missing bearer token: /metrics needs a token from metrics-tokens', { 'WWW-Authenticate': REALM });
      const role = tokens.check(token);
      if (!role) throw new HttpError(401, 'invalid token', { 'WWW-Authenticate': `${REALM}, error="invalid_token"` });
      if (role !== 'metrics')
        throw new HttpError(403, '/metrics needs a token from metrics-tokens', { 'WWW-Authenticate': `${REALM}, error="insufficient_scope"` });
    }
    metrics.ready.set({}, cache.ready() && !lifecycle.shuttingDown ? 1 : 0);
    return send(res, 200, metrics.registry.render(), 'text/plain; version=0.0.4; charset=utf-8');
  }

  // Consul's API answers with the same guards and writer as the routes above.
  const consul =
    config.consulApi === false ? undefined : createConsul(deps, { checkNamespace, checkConfigMap, checkKey, checkWritable, requireSynced });

  /** @type {Map<string, string[] | null>} raw path -> decoded segments (null: unsafe) */
  const paths = new Map();

  /**
   * v.pathSegments, remembered: clients ask for the same few paths again and again.
   * @param {string} rawPath
   */
  function segmentsOf(rawPath) {
    let segments = paths.get(rawPath);
    if (segments === undefined) {
      segments = v.pathSegments(rawPath) || null;
      if (paths.size >= MAX_REMEMBERED_PATHS) paths.clear();
      paths.set(rawPath, segments);
    }
    return segments;
  }

  /**
   * Answers the request: at once (returns undefined) or later (returns the
   * promise of it). Throws an HttpError for a refusal.
   * @param {Req} req
   * @param {Res} res
   * @param {Ctx} ctx
   * @returns {Promise<void> | void}
   */
  function route(req, res, ctx) {
    const method = req.method || 'GET';
    const rawUrl = req.url || '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
    const query = q >= 0 ? new URLSearchParams(rawUrl.slice(q + 1)) : EMPTY_QUERY;

    if (rawPath === '/healthz') {
      ctx.route = '/healthz';
      allow(method, READ_METHODS);
      return sendJson(res, 200, { status: 'ok' });
    }
    if (rawPath === '/readyz') {
      ctx.route = '/readyz';
      allow(method, READ_METHODS);
      if (lifecycle.shuttingDown) return sendError(res, 503, 'shutting down');
      if (!cache.ready()) return sendError(res, 503, 'not ready: waiting for the first list', {}, { waitingFor: cache.pending() });
      return sendJson(res, 200, { status: 'ready' });
    }
    if (rawPath === '/metrics' && config.metricsPort === undefined) {
      ctx.route = '/metrics';
      return serveMetrics(req, res, method);
    }

    if (consul && (rawPath === '/v1' || rawPath.startsWith('/v1/'))) return consul.route(req, res, ctx, method, rawPath, query);

    const isKv = rawPath === '/kv' || rawPath.startsWith('/kv/');
    const isDiscover = rawPath === '/discover' || rawPath.startsWith('/discover/');
    if (!isKv && !isDiscover) throw new HttpError(404, 'not found');
    const segments = segmentsOf(rawPath);
    if (!segments) {
      ctx.route = isKv ? '/kv/(invalid)' : '/discover/(invalid)';
      throw new HttpError(400, 'invalid path: empty segments, "." and "..", and encoded "/" or "\\" are not allowed');
    }

    if (isDiscover) {
      if (segments.length !== 2) throw new HttpError(404, 'not found: use /discover/<namespace>');
      ctx.route = '/discover/:namespace';
      if (!config.discoveryEnabled) throw new HttpError(404, 'service discovery is disabled on this proxy (KV_DISCOVERY_ENABLED=false)');
      allow(method, READ_METHODS);
      authenticate(req, false, ctx);
      checkNamespace(segments[1]);
      return getDiscovery(res, segments[1]);
    }

    if (segments.length === 3) {
      ctx.route = '/kv/:namespace/:configmap';
      allow(method, CONFIGMAP_METHODS);
      const [, ns, name] = segments;
      const write = !READ_METHODS.includes(method);
      if (write) ctx.audit = { token: null, method, namespace: ns, configmap: name };
      authenticate(req, write, ctx);
      checkNamespace(ns);
      checkConfigMap(name);
      if (method === 'GET' || method === 'HEAD') return getConfigMap(req, res, query, ns, name);
      if (method === 'DELETE') {
        const key = query.get('key');
        if (key !== null && ctx.audit) ctx.audit.key = key;
        if (key === null) throw new HttpError(400, 'query parameter "key" is required: DELETE /kv/<namespace>/<configmap>?key=<key>');
        checkKey(key);
        return deleteKey(req, res, ctx, ns, name, key);
      }
      return postConfigMap(req, res, ctx, ns, name);
    }
    if (segments.length === 4) {
      ctx.route = '/kv/:namespace/:configmap/:key';
      allow(method, KEY_METHODS);
      const [, ns, name, key] = segments;
      const write = !READ_METHODS.includes(method);
      if (write) ctx.audit = { token: null, method, namespace: ns, configmap: name, key };
      authenticate(req, write, ctx);
      checkNamespace(ns);
      checkConfigMap(name);
      checkKey(key);
      if (method === 'GET' || method === 'HEAD') return getKey(req, res, query, ns, name, key);
      if (method === 'PUT') return putKey(req, res, ctx, ns, name, key);
      return deleteKey(req, res, ctx, ns, name, key);
    }
    throw new HttpError(404, 'not found: use /kv/<namespace>/<configmap>[/<key>]');
  }

  /**
   * Answer an error, whatever state the response is in: an HttpError as
   * itself; anything else as a generic 500 (the stack goes to the log only);
   * after the headers went out, by closing the connection, so no request is
   * ever left waiting.
   * @param {Req} req
   * @param {Res} res
   * @param {Ctx} ctx
   * @param {string} method
   * @param {unknown} err
   */
  function fail(req, res, ctx, method, err) {
    if (clientGone(err, req) || res.destroyed) {
      res.destroy();
      return;
    }
    if (res.headersSent) {
      log.error('request failed after the response started', { method, route: ctx.route, ...errorFields(err) });
      res.destroy();
      return;
    }
    if (err instanceof HttpError) {
      if (lifecycle.shuttingDown) err.headers.Connection = 'close';
      sendError(res, err.status, err.message, err.headers, err.extra);
      return;
    }
    log.error('request failed', { method, route: ctx.route, ...errorFields(err) });
    sendError(res, 500, 'internal error');
  }

  /** @type {Map<string, { requests: { value: number }, duration: { counts: number[], sum: number, count: number } }>} */
  const series = new Map();

  /**
   * The metric series of a route, method and status, looked up once.
   * @param {string} route
   * @param {string} method
   * @param {number} code
   */
  function seriesOf(route, method, code) {
    const key = `${route} ${method} ${code}`;
    let s = series.get(key);
    if (s === undefined) {
      s = { requests: metrics.httpRequests.seriesFor({ route, method, code }), duration: metrics.httpDuration.seriesFor({ route }) };
      series.set(key, s);
    }
    return s;
  }

  /**
   * Count, time and (per KV_ACCESS_LOG) log each request once, when it ends
   * ('close' follows 'finish', and comes alone when the client went away);
   * a write request is also one audit line.
   * @param {Res} res
   * @param {Ctx} ctx
   * @param {string} method
   */
  function observe(res, ctx, method) {
    const started = performance.now();
    res.once('close', () => {
      const status = res.writableFinished ? res.statusCode : 499;
      const seconds = (performance.now() - started) / 1000;
      const s = seriesOf(ctx.route, method, status);
      s.requests.value += 1;
      metrics.httpDuration.observeSeries(s.duration, seconds);
      if (ctx.audit && audit.enabled) {
        // a write that did not happen: the index of the ConfigMap as this replica holds it
        const a = ctx.audit;
        const held =
          a.index === undefined && v.isNamespaceName(a.namespace) && v.isConfigMapName(a.configmap)
            ? cache.get('configmaps', a.namespace, a.configmap)
            : undefined;
        audit.record({ ...a, status, index: a.index ?? (held ? String(held.metadata.resourceVersion) : null) });
      }
      if (accessLog === 'off' || (accessLog === 'errors' && status < 400)) return;
      const fields = { method, route: ctx.route, status, ms: Math.round(seconds * 10000) / 10 };
      if (status >= 500) log.error('request', fields);
      else if (status >= 400) log.warn('request', fields);
      else log.info('request', fields);
    });
  }

  /**
   * @param {Req} req
   * @param {Res} res
   */
  function handle(req, res) {
    /** @type {Ctx} */
    const ctx = { route: '(unmatched)' };
    const method = KNOWN_METHODS.has(req.method || '') ? /** @type {string} */ (req.method) : 'OTHER';
    try {
      if (lifecycle.shuttingDown) res.setHeader('Connection', 'close');
      observe(res, ctx, method);
      const later = route(req, res, ctx);
      if (later !== undefined) {
        later
          .catch((err) => fail(req, res, ctx, method, err))
          .catch((err) => {
            log.error('cannot send error response', errorFields(err));
            res.destroy();
          });
      }
    } catch (err) {
      try {
        fail(req, res, ctx, method, err);
      } catch {
        res.destroy();
      }
    }
  }

  /**
   * The handler for the KV_METRICS_PORT listener: /metrics and nothing else.
   * @param {Req} req
   * @param {Res} res
   */
  handle.metrics = function handleMetrics(req, res) {
    const ctx = { route: '/metrics' };
    const method = KNOWN_METHODS.has(req.method || '') ? /** @type {string} */ (req.method) : 'OTHER';
    try {
      const q = (req.url || '/').indexOf('?');
      const rawPath = q >= 0 ? (req.url || '/').slice(0, q) : req.url;
      if (rawPath !== '/metrics') {
        ctx.route = '(unmatched)';
        throw new HttpError(404, 'not found: this port serves /metrics only');
      }
      serveMetrics(req, res, method);
    } catch (err) {
      try {
        fail(req, res, ctx, method, err);
      } catch {
        res.destroy();
      }
    }
  };

  return handle;
}

module.exports = { createApp };
