// @ts-check
'use strict';
/**
 * Consul's HTTP API, on the same port and with the same tokens as the native
 * /kv and /discover routes (KV_CONSUL_API, on by default):
 *
 *   GET    /v1/kv/<ns>/<cm>/<key>        [{Key, Value (base64), Flags, CreateIndex, ModifyIndex, LockIndex}]
 *                                        (?raw, ?keys with ?separator=, ?recurse, ?index=&wait=)
 *   PUT    /v1/kv/<ns>/<cm>/<key>        set from the raw body (?cas=<index>, ?flags=0): answers true/false
 *   DELETE /v1/kv/<ns>/<cm>/<key>        (?recurse within one ConfigMap, ?cas=<index>): answers true/false
 *   PUT    /v1/txn                       KV verbs, atomic within one ConfigMap
 *   GET    /v1/catalog/services          {"<service>.<namespace>": [tags]}
 *   GET    /v1/catalog/service/<name>    one entry per EndpointSlice endpoint and port
 *   GET    /v1/health/service/<name>     the same with a readiness check (?passing: ready only)
 *   GET    /v1/status/leader, /v1/agent/self   enough for clients that ask before they start
 *   anything else under /v1/              501 naming what to use instead
 *
 * A Consul key is `<namespace>/<configmap>/<key>`. Indexes: ModifyIndex and
 * CreateIndex of a key are its ConfigMap's resourceVersion (so ?cas=<index> is
 * the API server's own resourceVersion precondition, one PATCH); X-Consul-Index
 * is the newest resourceVersion this replica's watches of the collections a
 * read covers have delivered (list, events, bookmarks), or of an object it
 * answers if newer: it only grows, across relists too. A blocking read
 * (?index=N&wait=) returns when an object it covers is newer than N, or one of
 * its kind was deleted from its namespace after N, or when wait passes.
 *
 * Writes go through the same guards (checkWritable) and the same KvWriter as
 * the native PUT and DELETE. Errors are text/plain with Consul's status codes
 * (403 "Permission denied", 403 "ACL not found", 404 empty for a missing key).
 */
const { HttpError, send, readBody } = require('./httputil.js');
const { bearerToken } = require('./auth.js');
const { rvNumber } = require('./cache.js');
const v = require('./validate.js');

const DEFAULT_WAIT_MS = 300_000; // Consul's default wait is 5 minutes (capped by KV_MAX_WAIT_SECONDS)
const MAX_TXN_OPS = 128;
const TXN_ATTEMPTS = 5;
const UINT = /^\d{1,20}$/;
const SEPARATOR_MAX = 16;
const DATACENTER = 'kubernetes';
const utf8 = new TextDecoder('utf-8', { fatal: true });
const SESSIONS_501 =
  'sessions and locks are not supported by kv-proxy: use compare-and-set instead ' +
  '(PUT /v1/kv/<key>?cas=<ModifyIndex>, or a /v1/txn with cas and check-index), ' +
  'and a Kubernetes Lease (coordination.k8s.io/v1) for leader election';
const SUPPORTED =
  '/v1/kv/<namespace>/<configmap>/<key>, /v1/txn, /v1/catalog/services, /v1/catalog/service/<name>, ' +
  '/v1/health/service/<name>, /v1/catalog/datacenters, /v1/status/leader and /v1/agent/self';
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/**
 * @typedef {import('node:http').IncomingMessage} Req
 * @typedef {import('node:http').ServerResponse} Res
 * @typedef {Record<string, any>} KubeObject
 * @typedef {{
 *   checkNamespace: (ns: string) => void,
 *   checkConfigMap: (name: string) => void,
 *   checkKey: (key: string) => void,
 *   checkWritable: (ns: string, name: string) => void,
 *   requireSynced: (resource: string, ns: string, name?: string) => { synced: boolean, stale: boolean },
 * }} Guards  the native routes' own checks, from app.js
 * @typedef {{ ns: string, names: string[] | undefined }} Covered  configmaps of ns (all, or these names)
 */

const DURATION_UNITS_MS = /** @type {Record<string, number>} */ ({ ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 });

/**
 * A wait as Consul takes it: a Go duration ("40000ms", "10s", "1m30s", "1.5s") or plain seconds.
 * @param {string} text
 * @returns {number | undefined} milliseconds
 */
function parseConsulWait(text) {
  if (/^\d{1,7}$/.test(text)) return Number(text) * 1000;
  if (text.length > 32 || !/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * DURATION_UNITS_MS[m[2]];
  return Number.isFinite(ms) ? Math.floor(ms) : undefined;
}

/** @param {string} s */
function shown(s) {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);
}

/**
 * A Consul-shaped error: the status code and a text/plain body.
 * @param {number} status
 * @param {string} message
 * @param {Record<string, string>} [headers]
 */
function consulError(status, message, headers = {}) {
  return new HttpError(status, message, headers);
}

/**
 * @param {string} method
 * @param {string[]} allowed
 */
function allow(method, allowed) {
  if (!allowed.includes(method)) {
    throw consulError(405, `method ${method} not allowed: use ${allowed.join(' or ')}`, { Allow: allowed.join(', ') });
  }
}

/**
 * The headers every Consul answer carries; the Go client refuses an answer without X-Consul-LastContact.
 * @param {bigint | undefined} index
 */
function metaHeaders(index) {
  /** @type {Record<string, string>} */
  const h = { 'X-Consul-KnownLeader': 'true', 'X-Consul-LastContact': '0' };
  if (index !== undefined) h['X-Consul-Index'] = String(index < 1n ? 1n : index);
  return h;
}

/**
 * Encoded single-key answers, per cached ConfigMap data (a new ConfigMapData
 * for every version, so an entry never outlives the version it describes):
 * a repeated read sends the same bytes without building them again.
 * @type {WeakMap<object, Map<string, Buffer>>}
 */
const ENCODED = new WeakMap();
const ENCODE_CACHE_MAX_BYTES = 16 * 1024;
/** Most KV keys whose parsing is remembered (then the memo starts over), as the native routes remember paths. */
const MAX_REMEMBERED_KEYS = 4096;
const KV_METHODS = ['GET', 'HEAD', 'PUT', 'DELETE'];

/**
 * What a /v1/kv key is, decided once per key: `dots` when a segment is "." or ".."; `parts` the namespace,
 * ConfigMap and key when it names one key of a ConfigMap that can exist (else null).
 * @typedef {{ dots: boolean, parts: [string, string, string] | null }} KeyInfo
 */

/**
 * @param {import('./app.js').AppDeps} deps
 * @param {Guards} guards
 */
function createConsul(deps, guards) {
  const { config, cache, writer, tokens, metrics, lifecycle } = deps;
  const maxWaitMs = config.maxWaitSeconds * 1000;

  /**
   * The token from X-Consul-Token, Authorization: Bearer, or ?token=, in that order.
   * @param {Req} req
   * @param {URLSearchParams} query
   * @param {boolean} write
   * @param {{ audit?: Record<string, any> }} [ctx] its audit entry, if any, gets the token's name
   */
  function authenticate(req, query, write, ctx) {
    const consulHeader = req.headers['x-consul-token'];
    let token;
    if (typeof consulHeader === 'string' && consulHeader.trim() !== '') token = consulHeader.trim();
    else if (req.headers.authorization) {
      token = bearerToken(req.headers.authorization);
      if (!token) throw consulError(403, 'ACL not found: malformed Authorization header, expected "Bearer <token>"');
    } else token = query.get('token') || undefined;
    if (!token || token.length > 4096)
      throw consulError(403, 'ACL not found: send a kv-proxy token as X-Consul-Token, Authorization: Bearer or ?token=');
    const id = tokens.identify(token);
    if (!id) throw consulError(403, 'ACL not found');
    if (ctx && ctx.audit) ctx.audit.token = id.name;
    const role = id.role;
    if (role !== 'read' && role !== 'write') throw consulError(403, 'Permission denied: this token may only scrape /metrics');
    if (write) {
      if (!config.writeEnabled) throw consulError(403, 'Permission denied: writes are disabled on this proxy (KV_WRITE_ENABLED=false)');
      if (role !== 'write') throw consulError(403, 'Permission denied: this token may only read');
    }
  }

  /**
   * Run a native guard; its errors become Consul-shaped.
   * @param {() => void} check
   */
  function guard(check) {
    try {
      check();
    } catch (err) {
      throw consulShaped(err);
    }
  }

  /**
   * An error from the shared code, as Consul would say it.
   * @param {unknown} err
   */
  function consulShaped(err) {
    if (!(err instanceof HttpError)) return err;
    if (err.status === 403) return consulError(403, `Permission denied: ${err.message}`, err.headers);
    if (err.status === 401) return consulError(403, `ACL not found: ${err.message}`);
    return consulError(err.status, err.message, err.headers);
  }

  // ------------------------------------------------------------ indexes ---

  /**
   * The newest resourceVersion the watches covering these objects have
   * delivered (list, events, bookmarks): each has applied every change up to
   * its own. Grows only (a relist starts at a newer resourceVersion).
   * @param {string} resource
   * @param {string[]} namespaces
   * @param {string} [name]
   */
  function progressOf(resource, namespaces, name) {
    let newest = 0n;
    for (const i of cache.informers) {
      if (i.scope.resource !== resource || !namespaces.includes(i.scope.namespace)) continue;
      if (name !== undefined && i.scope.name !== undefined && i.scope.name !== name) continue;
      if (i.progress > newest) newest = i.progress;
    }
    return newest;
  }

  /**
   * X-Consul-Index of an answer: the newest of the watches' progress and of
   * the objects answered (a write the proxy made is served before its watch
   * event arrives, and its resourceVersion may be ahead of the watch).
   * @param {bigint} progress
   * @param {KubeObject[]} objects
   */
  function indexOf(progress, objects) {
    let index = progress;
    for (const o of objects) {
      const rv = rvNumber(String(o.metadata.resourceVersion));
      if (rv > index) index = rv;
    }
    return index;
  }

  /**
   * Blocking read: with ?index=N, wait until changed(N) holds, up to ?wait
   * (default 5m, at most KV_MAX_WAIT_SECONDS). Without ?index, or with
   * index=0, answers at once.
   * @param {Res} res
   * @param {URLSearchParams} query
   * @param {(n: bigint) => boolean} changed
   * @returns {Promise<boolean>} false if the client went away
   */
  async function block(res, query, changed) {
    const text = query.get('index');
    if (text === null || text === '') return true;
    if (!UINT.test(text)) throw consulError(400, `Invalid index ${shown(text)}: use the X-Consul-Index of a previous answer`);
    const n = BigInt(text);
    if (n === 0n) return true;
    const waitText = query.get('wait');
    const requested = waitText === null || waitText === '' ? DEFAULT_WAIT_MS : parseConsulWait(waitText);
    if (requested === undefined) throw consulError(400, `Invalid wait time ${shown(waitText || '')}: use a duration such as 30s, 500ms, 5m or 1m30s`);
    const timeoutMs = Math.min(requested, maxWaitMs);
    const ready = () => changed(n);
    if (ready() || timeoutMs === 0 || lifecycle.shuttingDown) return true;
    const gone = new AbortController();
    const onClose = () => gone.abort();
    res.on('close', onClose);
    metrics.blockingReads.inc();
    try {
      // up to 1/16 of the wait added at random, as Consul does, so clients do not return in step
      const reason = await cache.waitUntil(ready, timeoutMs + Math.floor(Math.random() * (timeoutMs / 16)), gone.signal);
      return reason !== 'aborted';
    } finally {
      metrics.blockingReads.dec();
      res.off('close', onClose);
    }
  }

  /**
   * Whether any of these objects is newer than n, or one of their kind was removed from the namespace after n.
   * @param {string} resource
   * @param {string[]} namespaces
   * @param {() => KubeObject[]} objects
   * @returns {(n: bigint) => boolean}
   */
  function changedAfter(resource, namespaces, objects) {
    return (n) => namespaces.some((ns) => cache.removedAt(resource, ns) > n) || objects().some((o) => rvNumber(o.metadata.resourceVersion) > n);
  }

  // ---------------------------------------------------------------- kv ---

  /**
   * Split a Consul key into namespace, ConfigMap and ConfigMap key.
   * @param {string} key
   */
  function splitKey(key) {
    const parts = key.split('/');
    if (parts.length !== 3 || parts.some((p) => p === '')) {
      throw consulError(
        400,
        `Invalid key ${shown(key)}: keys are <namespace>/<configmap>/<key>, the key being 1-253 characters of a-z, A-Z, 0-9, "-", "_" and "."`,
      );
    }
    const [ns, name, k] = parts;
    guard(() => guards.checkNamespace(ns));
    guard(() => guards.checkConfigMap(name));
    guard(() => guards.checkKey(k));
    return { ns, name, k };
  }

  /**
   * @param {string} ns
   * @param {string} [name]
   */
  function synced(ns, name) {
    guard(() => guards.requireSynced('configmaps', ns, name));
  }

  /**
   * The JSON entry Consul answers for a key.
   * @param {string} fullKey
   * @param {string | undefined} value undefined: no Value field (txn set results)
   * @param {string} rv
   * @param {boolean} withValue
   */
  function entry(fullKey, value, rv, withValue) {
    const index = Number(rv);
    /** @type {Record<string, unknown>} */
    const e = { LockIndex: 0, Key: fullKey, Flags: 0, Value: null, CreateIndex: index, ModifyIndex: index };
    if (withValue && value !== undefined && value !== '') e.Value = Buffer.from(value, 'utf8').toString('base64');
    return e;
  }

  /**
   * The ConfigMaps a key prefix can reach, and whether every one of them is served.
   * @param {string} prefix
   * @returns {{ covered: Covered[], cmPrefix: string | undefined, nsComplete: boolean }}
   */
  function reach(prefix) {
    const parts = prefix.split('/');
    // a prefix no ConfigMap key can live under (a name Kubernetes would refuse) holds no keys: 404, as Consul answers
    if ((parts.length >= 2 && !v.isNamespaceName(parts[0])) || (parts.length >= 3 && !v.isConfigMapName(parts[1]))) {
      return { covered: [], cmPrefix: undefined, nsComplete: true };
    }
    if (parts.length === 1) {
      return {
        covered: config.namespaces.filter((ns) => ns.startsWith(parts[0])).map((ns) => ({ ns, names: config.configMapNames })),
        cmPrefix: undefined,
        nsComplete: false,
      };
    }
    const ns = parts[0];
    guard(() => guards.checkNamespace(ns));
    if (parts.length >= 3) guard(() => guards.checkConfigMap(parts[1]));
    return { covered: [{ ns, names: config.configMapNames }], cmPrefix: parts[1], nsComplete: true };
  }

  /**
   * The served ConfigMaps under a prefix, sorted by namespace and name.
   * @param {string} prefix
   */
  function configMapsUnder(prefix) {
    const { covered, cmPrefix } = reach(prefix);
    for (const c of covered) synced(c.ns);
    const exact = prefix.split('/').length >= 3;
    /** @type {KubeObject[]} */
    const out = [];
    for (const c of covered) {
      for (const obj of cache.list('configmaps', c.ns)) {
        const name = obj.metadata.name;
        if (cmPrefix !== undefined && (exact ? name !== cmPrefix : !name.startsWith(cmPrefix))) continue;
        if (c.names && !c.names.includes(name)) continue;
        out.push(obj);
      }
    }
    out.sort((a, b) => cmp(`${a.metadata.namespace}/${a.metadata.name}`, `${b.metadata.namespace}/${b.metadata.name}`));
    return { covered, objects: out };
  }

  /**
   * @param {Res} res
   * @param {URLSearchParams} query
   * @param {string} key
   * @param {KeyInfo} info
   */
  function getKv(res, query, key, info) {
    if (query.has('recurse') || query.has('keys')) return getTree(res, query, key);
    // a key that cannot exist in a ConfigMap is missing, as Consul would answer (writes of it are a 400)
    const parts = info.parts;
    if (parts === null) return send(res, 404, '', 'text/plain; charset=utf-8', metaHeaders(progressOf('configmaps', config.namespaces)));
    const [ns, name, k] = parts;
    // the native guards: served namespace and ConfigMap (403), synced cache (503)
    try {
      guards.checkNamespace(ns);
      guards.checkConfigMap(name);
      guards.requireSynced('configmaps', ns, name);
    } catch (err) {
      throw consulShaped(err);
    }
    if (query.has('index')) {
      const changed = changedAfter('configmaps', [ns], () => {
        const o = cache.get('configmaps', ns, name);
        return o ? [o] : [];
      });
      return block(res, query, changed).then((answered) => (answered ? answerKv(res, query, key, ns, name, k) : undefined));
    }
    return answerKv(res, query, key, ns, name, k);
  }

  /**
   * One key as it is cached now.
   * @param {Res} res
   * @param {URLSearchParams} query
   * @param {string} key
   * @param {string} ns
   * @param {string} name
   * @param {string} k
   */
  function answerKv(res, query, key, ns, name, k) {
    const obj = cache.get('configmaps', ns, name);
    const progress = progressOfOne('configmaps', ns, name);
    if (!obj) return send(res, 404, '', 'text/plain; charset=utf-8', metaHeaders(progress));
    // the same index as indexOf(progress, [obj]), without allocating per request
    const rv = rvOf(obj);
    const index = rv > progress ? rv : progress;
    const data = /** @type {KubeObject} */ (obj).data;
    if (query.has('raw')) {
      const raw = data.valueBuffer(k);
      if (raw === undefined) return send(res, 404, '', 'text/plain; charset=utf-8', metaHeaders(index));
      return sendNow(res, 'text/plain; charset=utf-8', raw, indexText(index));
    }
    let encoded = ENCODED.get(data);
    let body = encoded && encoded.get(key);
    if (!body) {
      const value = data.get(k);
      if (value === undefined) return send(res, 404, '', 'text/plain; charset=utf-8', metaHeaders(index));
      body = Buffer.from(JSON.stringify([entry(key, value, String(/** @type {KubeObject} */ (obj).metadata.resourceVersion), true)]), 'utf8');
      if (body.length <= ENCODE_CACHE_MAX_BYTES) {
        if (!encoded) ENCODED.set(data, (encoded = new Map()));
        encoded.set(key, body);
      }
    }
    return sendNow(res, 'application/json', body, indexText(index));
  }

  /**
   * {@link progressOf} for one namespace, without the list.
   * @param {string} resource
   * @param {string} namespace
   * @param {string} name
   */
  function progressOfOne(resource, namespace, name) {
    let newest = 0n;
    for (const i of cache.informers) {
      if (i.scope.resource !== resource || i.scope.namespace !== namespace) continue;
      if (i.scope.name !== undefined && i.scope.name !== name) continue;
      if (i.progress > newest) newest = i.progress;
    }
    return newest;
  }

  /** @type {WeakMap<object, bigint>} a cached object's resourceVersion as a number (objects are replaced, never changed) */
  const RV = new WeakMap();
  /** @param {KubeObject} obj */
  function rvOf(obj) {
    let rv = RV.get(obj);
    if (rv === undefined) {
      rv = rvNumber(String(obj.metadata.resourceVersion));
      RV.set(obj, rv);
    }
    return rv;
  }

  /** The X-Consul-Index text of the last index answered, kept: most answers repeat it. */
  let lastIndex = -1n;
  let lastIndexText = '1';
  /** @param {bigint} index */
  function indexText(index) {
    if (index !== lastIndex) {
      lastIndex = index;
      lastIndexText = String(index < 1n ? 1n : index);
    }
    return lastIndexText;
  }

  /**
   * A 200 written at once, as the native key read does (no header object spread per request).
   * @param {Res} res
   * @param {string} contentType
   * @param {Buffer} body
   * @param {string} index X-Consul-Index
   */
  function sendNow(res, contentType, body, index) {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(200, {
      'Content-Type': contentType,
      'Content-Length': String(body.length),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'X-Consul-KnownLeader': 'true',
      'X-Consul-LastContact': '0',
      'X-Consul-Index': index,
    });
    res.end(body);
  }

  /**
   * ?recurse and ?keys under a prefix.
   * @param {Res} res
   * @param {URLSearchParams} query
   * @param {string} prefix
   */
  async function getTree(res, query, prefix) {
    const separator = query.get('separator') ?? '';
    if (separator.length > SEPARATOR_MAX) throw consulError(400, `Invalid separator ${shown(separator)}`);
    const first = configMapsUnder(prefix);
    const namespaces = first.covered.map((c) => c.ns);
    const changed = changedAfter('configmaps', namespaces, () => configMapsUnder(prefix).objects);
    if (!(await block(res, query, changed))) return undefined;
    const { objects } = configMapsUnder(prefix);
    const headers = metaHeaders(indexOf(progressOf('configmaps', namespaces), objects));
    const keysOnly = query.has('keys');
    /** @type {unknown[]} */
    const out = [];
    const seen = new Set();
    for (const obj of objects) {
      const base = `${obj.metadata.namespace}/${obj.metadata.name}/`;
      for (const k of obj.data.keys()) {
        const full = base + k;
        if (!full.startsWith(prefix)) continue;
        if (!keysOnly) {
          out.push(entry(full, obj.data.get(k), String(obj.metadata.resourceVersion), true));
          continue;
        }
        let shownKey = full;
        if (separator !== '') {
          const at = full.indexOf(separator, prefix.length);
          if (at >= 0) shownKey = full.slice(0, at + separator.length);
        }
        if (!seen.has(shownKey)) {
          seen.add(shownKey);
          out.push(shownKey);
        }
      }
    }
    if (out.length === 0) return send(res, 404, '', 'text/plain; charset=utf-8', headers);
    // Consul's order: by key, byte-wise ("default/app-2/..." before "default/app/...")
    if (objects.length > 1) {
      out.sort((a, b) =>
        cmp(typeof a === 'string' ? a : /** @type {{ Key: string }} */ (a).Key, typeof b === 'string' ? b : /** @type {{ Key: string }} */ (b).Key),
      );
    }
    return send(res, 200, JSON.stringify(out), 'application/json', headers);
  }

  /**
   * @param {string | null} text
   * @param {string} what
   */
  function uintParam(text, what) {
    if (text === null) return undefined;
    if (!UINT.test(text)) throw consulError(400, `Invalid ${what} ${shown(text)}: expected an unsigned integer`);
    return BigInt(text);
  }

  /** @param {URLSearchParams} query */
  function refuseSessions(query) {
    if (query.has('acquire') || query.has('release')) throw consulError(501, SESSIONS_501);
  }

  /** @param {URLSearchParams} query */
  function checkFlags(query) {
    const flags = uintParam(query.get('flags'), 'flags');
    if (flags !== undefined && flags !== 0n) {
      throw consulError(400, `Flags ${flags} not supported: a ConfigMap has nowhere to keep them, so kv-proxy stores only flags=0 (omit ?flags)`);
    }
  }

  /**
   * Write through the native writer; a failed precondition is a CAS that did not hold.
   * @param {string} ns
   * @param {string} name
   * @param {import('./kv.js').Changes} changes
   * @param {import('./kv.js').WriteOptions} options
   * @returns {Promise<KubeObject | undefined>} undefined when the precondition failed
   */
  async function write(ns, name, changes, options) {
    guard(() => guards.checkWritable(ns, name));
    try {
      return await writer.merge(ns, name, changes, options);
    } catch (err) {
      if (err instanceof HttpError && err.status === 412) return undefined;
      throw consulShaped(err);
    }
  }

  /**
   * Options that make the write happen only against the cached version (or only create).
   * @param {KubeObject | undefined} obj
   * @returns {import('./kv.js').WriteOptions}
   */
  function against(obj) {
    return obj ? { ifMatch: String(obj.metadata.resourceVersion), create: false } : { create: true, exclusive: true };
  }

  /**
   * @param {Req} req
   * @param {Res} res
   * @param {URLSearchParams} query
   * @param {string} key
   */
  async function putKv(req, res, query, key) {
    refuseSessions(query);
    checkFlags(query);
    const cas = uintParam(query.get('cas'), 'cas');
    const { ns, name, k } = splitKey(key);
    synced(ns, name);
    guard(() => guards.checkWritable(ns, name));
    let body;
    try {
      body = await readBodyConsul(req, res);
    } catch (err) {
      throw consulShaped(err);
    }
    let value;
    try {
      value = utf8.decode(body);
    } catch {
      throw consulError(400, 'Value must be UTF-8 text: a ConfigMap key of kv-proxy holds text only');
    }
    /** @type {Record<string, string>} */
    const changes = Object.create(null);
    changes[k] = value;
    const obj = cache.get('configmaps', ns, name);
    /** @type {KubeObject | undefined} */
    let written;
    if (cas === undefined) written = await write(ns, name, changes, { create: true });
    else if (cas === 0n) written = obj && obj.data.has(k) ? undefined : await write(ns, name, changes, against(obj));
    else if (!obj || !obj.data.has(k) || String(obj.metadata.resourceVersion) !== String(cas)) written = undefined;
    else written = await write(ns, name, changes, { ifMatch: String(cas), create: false });
    return answerBool(res, written !== undefined, written);
  }

  /**
   * @param {Req} req
   * @param {Res} res
   */
  function readBodyConsul(req, res) {
    return readBody(req, res, config.maxBodyBytes);
  }

  /**
   * @param {Res} res
   * @param {boolean} ok
   * @param {KubeObject | undefined} written
   */
  function answerBool(res, ok, written) {
    const index = written ? rvNumber(written.metadata.resourceVersion) : undefined;
    return send(res, 200, ok ? 'true' : 'false', 'application/json', metaHeaders(index !== undefined && index > 0n ? index : undefined));
  }

  /**
   * @param {Res} res
   * @param {URLSearchParams} query
   * @param {string} key
   */
  async function deleteKv(res, query, key) {
    refuseSessions(query);
    if (query.has('recurse')) return deleteTree(res, key);
    const cas = uintParam(query.get('cas'), 'cas');
    const { ns, name, k } = splitKey(key);
    synced(ns, name);
    guard(() => guards.checkWritable(ns, name));
    const obj = cache.get('configmaps', ns, name);
    /** @type {Record<string, null>} */
    const changes = Object.create(null);
    changes[k] = null;
    if (cas !== undefined) {
      // Consul: cas=0 on delete never matches an existing key
      if (!obj || !obj.data.has(k) || cas === 0n || String(obj.metadata.resourceVersion) !== String(cas)) return answerBool(res, false, undefined);
      const written = await write(ns, name, changes, { ifMatch: String(cas), create: false });
      return answerBool(res, written !== undefined, written);
    }
    if (!obj || !obj.data.has(k)) return answerBool(res, true, undefined); // deleting what is not there succeeds, as in Consul
    const written = await write(ns, name, changes, { create: false }).catch((err) => {
      if (err instanceof HttpError && err.status === 404) return undefined;
      throw err;
    });
    return answerBool(res, true, written);
  }

  /**
   * DELETE ?recurse: the matching keys of one ConfigMap, in one patch.
   * @param {Res} res
   * @param {string} prefix
   */
  async function deleteTree(res, prefix) {
    const { objects } = configMapsUnder(prefix);
    const hit = objects.filter((o) =>
      o.data.keys().some((/** @type {string} */ k) => `${o.metadata.namespace}/${o.metadata.name}/${k}`.startsWith(prefix)),
    );
    if (hit.length > 1) {
      throw consulError(
        422,
        `Recursive delete of ${shown(prefix)} spans ${hit.length} ConfigMaps (${hit
          .slice(0, 3)
          .map((o) => `${o.metadata.namespace}/${o.metadata.name}`)
          .join(', ')}${hit.length > 3 ? ', ...' : ''}): ` + 'kv-proxy writes one ConfigMap at a time; delete <namespace>/<configmap>/ for each',
      );
    }
    if (hit.length === 0) return answerBool(res, true, undefined);
    const obj = hit[0];
    const { namespace: ns, name } = obj.metadata;
    /** @type {Record<string, null>} */
    const changes = Object.create(null);
    for (const k of obj.data.keys()) if (`${ns}/${name}/${k}`.startsWith(prefix)) changes[k] = null;
    const written = await write(ns, name, changes, { create: false }).catch((err) => {
      if (err instanceof HttpError && err.status === 404) return undefined;
      throw err;
    });
    return answerBool(res, true, written);
  }

  // --------------------------------------------------------------- txn ---

  /**
   * @param {Req} req
   * @param {Res} res
   * @param {{ route: string, audit?: Record<string, any> }} ctx
   * @param {string} method
   * @param {URLSearchParams} query
   */
  async function txn(req, res, ctx, method, query) {
    // any valid token before the body is read; a write token once the operations say they write
    authenticate(req, query, false);
    let body;
    try {
      body = await readBodyConsul(req, res);
    } catch (err) {
      throw consulShaped(err);
    }
    let ops;
    try {
      ops = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw consulError(400, `Failed to parse body: ${/** @type {Error} */ (err).message}`);
    }
    if (!Array.isArray(ops)) throw consulError(400, 'Failed to parse body: expected a JSON array of operations');
    if (ops.length === 0) throw consulError(400, 'Transaction has no operations');
    if (ops.length > MAX_TXN_OPS) throw consulError(413, `Transaction contains too many operations (${ops.length} > ${MAX_TXN_OPS})`);
    /** @type {{ verb: string, key: string, k: string, value: string | undefined, index: bigint }[]} */
    const parsed = [];
    /** @type {{ ns: string, name: string } | undefined} */
    let target;
    const mutating = new Set(['set', 'cas', 'delete', 'delete-cas', 'delete-tree']);
    let writes = false;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (!op || typeof op !== 'object' || Array.isArray(op)) throw consulError(400, `Operation ${i} is not an object`);
      if (!op.KV) {
        const kind = Object.keys(op)[0] || 'empty';
        throw consulError(501, `Operation ${i} (${kind}): only KV operations are supported in a kv-proxy transaction`);
      }
      const kv = op.KV;
      const verb = String(kv.Verb || '');
      if (['lock', 'unlock', 'check-session'].includes(verb)) throw consulError(501, `Operation ${i} (${verb}): ${SESSIONS_501}`);
      if (!['set', 'cas', 'get', 'get-tree', 'delete', 'delete-cas', 'delete-tree', 'check-index', 'check-not-exists'].includes(verb)) {
        throw consulError(400, `Operation ${i}: unknown KV verb ${shown(verb)}`);
      }
      if (kv.Flags !== undefined && kv.Flags !== 0)
        throw consulError(400, `Operation ${i}: Flags ${kv.Flags} not supported: kv-proxy stores only flags=0`);
      if (kv.Session) throw consulError(501, `Operation ${i}: ${SESSIONS_501}`);
      const key = String(kv.Key ?? '');
      /** @type {string} */
      let ns;
      /** @type {string} */
      let name;
      /** @type {string} */
      let k;
      if (verb === 'get-tree' || verb === 'delete-tree') {
        const parts = key.split('/');
        if (parts.length < 3)
          throw consulError(
            422,
            `Operation ${i}: ${verb} of ${shown(key)} would span ConfigMaps: in a transaction its prefix must start with <namespace>/<configmap>/`,
          );
        [ns, name] = parts;
        guard(() => guards.checkNamespace(ns));
        guard(() => guards.checkConfigMap(name));
        k = parts.slice(2).join('/');
      } else ({ ns, name, k } = splitKey(key));
      if (target && (target.ns !== ns || target.name !== name)) {
        throw consulError(
          422,
          `Transaction spans ConfigMaps ("${target.ns}/${target.name}" and "${ns}/${name}"): kv-proxy makes a transaction atomic ` +
            'with one resourceVersion-checked write to one ConfigMap, so all its keys must share <namespace>/<configmap>/',
        );
      }
      target = { ns, name };
      let value;
      if (verb === 'set' || verb === 'cas') {
        if (kv.Value !== undefined && kv.Value !== null && typeof kv.Value !== 'string')
          throw consulError(400, `Operation ${i}: Value must be base64 text`);
        try {
          value = utf8.decode(Buffer.from(kv.Value || '', 'base64'));
        } catch {
          throw consulError(400, `Operation ${i}: Value must be UTF-8 text once decoded: a ConfigMap key of kv-proxy holds text only`);
        }
      }
      const index = kv.Index === undefined || kv.Index === null ? 0n : UINT.test(String(kv.Index)) ? BigInt(kv.Index) : -1n;
      if (index < 0n) throw consulError(400, `Operation ${i}: Index must be an unsigned integer`);
      if (mutating.has(verb)) writes = true;
      parsed.push({ verb, key, k, value, index });
    }
    const { ns, name } = /** @type {{ ns: string, name: string }} */ (target);
    if (writes) {
      ctx.audit = { token: null, method, namespace: ns, configmap: name, keys: parsed.map((op) => op.k), api: 'consul' };
      authenticate(req, query, true, ctx);
    }
    synced(ns, name);
    if (writes) guard(() => guards.checkWritable(ns, name));

    for (let attempt = 0; attempt < TXN_ATTEMPTS; attempt++) {
      const obj = cache.get('configmaps', ns, name);
      const rv = obj ? String(obj.metadata.resourceVersion) : '0';
      /** @type {Map<string, string>} keys as the transaction goes */
      const data = new Map(obj ? obj.data.keys().map((/** @type {string} */ k) => [k, obj.data.get(k)]) : []);
      const touched = new Set();
      /** @type {Record<string, string | null>} */
      const changes = Object.create(null);
      /** @type {{ OpIndex: number, What: string }[]} */
      const errors = [];
      /** @type {{ at: number, key: string, k: string, withValue: boolean }[]} */
      const results = [];
      const indexOfKey = (/** @type {string} */ k) => (touched.has(k) ? -1n : BigInt(rv));
      parsed.forEach((op, i) => {
        const exists = data.has(op.k);
        const fail = (/** @type {string} */ what) => errors.push({ OpIndex: i, What: what });
        switch (op.verb) {
          case 'set':
          case 'cas':
            if (op.verb === 'cas' && (op.index === 0n ? exists : !exists || indexOfKey(op.k) !== op.index)) {
              fail(`failed to set key "${op.key}", index is stale`);
              return;
            }
            data.set(op.k, /** @type {string} */ (op.value));
            changes[op.k] = /** @type {string} */ (op.value);
            touched.add(op.k);
            results.push({ at: i, key: op.key, k: op.k, withValue: false });
            return;
          case 'get':
            if (!exists) fail(`key "${op.key}" doesn't exist`);
            else results.push({ at: i, key: op.key, k: op.k, withValue: true });
            return;
          case 'get-tree':
            for (const k of [...data.keys()].sort()) if (k.startsWith(op.k)) results.push({ at: i, key: `${ns}/${name}/${k}`, k, withValue: true });
            return;
          case 'check-index':
            if (!exists) fail(`key "${op.key}" doesn't exist`);
            else if (indexOfKey(op.k) !== op.index) fail(`current modify index ${indexOfKey(op.k)} != ${op.index}`);
            else results.push({ at: i, key: op.key, k: op.k, withValue: false });
            return;
          case 'check-not-exists':
            if (exists) fail(`key "${op.key}" exists`);
            return;
          case 'delete-cas':
          case 'delete':
            if (op.verb === 'delete-cas' && (!exists || indexOfKey(op.k) !== op.index)) {
              fail(`failed to delete key "${op.key}", index is stale`);
              return;
            }
            if (exists) {
              data.delete(op.k);
              changes[op.k] = null;
              touched.add(op.k);
            }
            return;
          case 'delete-tree':
            for (const k of [...data.keys()]) {
              if (!k.startsWith(op.k)) continue;
              data.delete(k);
              changes[k] = null;
              touched.add(k);
            }
            return;
          default:
        }
      });
      if (errors.length > 0) {
        return send(
          res,
          409,
          JSON.stringify({ Results: null, Errors: errors }),
          'application/json',
          metaHeaders(progressOf('configmaps', [ns], name)),
        );
      }
      let finalRv = rv;
      let finalData = data;
      if (Object.keys(changes).length > 0) {
        // Keys that did not exist and are deleted: nothing to send for them.
        for (const k of Object.keys(changes)) if (changes[k] === null && !(obj && obj.data.has(k))) delete changes[k];
      }
      if (Object.keys(changes).length > 0) {
        const written = await write(ns, name, changes, against(obj));
        if (written === undefined) {
          // the ConfigMap changed since this snapshot: wait for the cache to hold a newer one, then evaluate again
          const before = rvNumber(rv);
          await cache.waitUntil(
            () => {
              const now = cache.get('configmaps', ns, name);
              return now !== undefined && rvNumber(String(now.metadata.resourceVersion)) > before;
            },
            config.upstreamTimeoutMs,
            new AbortController().signal,
          );
          continue;
        }
        finalRv = String(written.metadata.resourceVersion);
        finalData = new Map(Object.entries(written.data || {}));
      }
      const out = results.map((r) => ({ KV: entry(r.key, r.withValue ? finalData.get(r.k) : undefined, finalRv, r.withValue) }));
      const index = rvNumber(finalRv);
      const progress = progressOf('configmaps', [ns], name);
      return send(res, 200, JSON.stringify({ Results: out, Errors: null }), 'application/json', metaHeaders(index > progress ? index : progress));
    }
    return send(
      res,
      409,
      JSON.stringify({ Results: null, Errors: [{ OpIndex: 0, What: `configmap "${ns}/${name}" kept changing during the transaction; retry` }] }),
      'application/json',
      metaHeaders(undefined),
    );
  }

  // ---------------------------------------------------------- catalog ---

  /**
   * The namespaces and Service name a catalog name stands for: "<service>.<namespace>",
   * or "<service>" with ?ns=<namespace>, or "<service>" in every served namespace.
   * @param {string} serviceName
   * @param {URLSearchParams} query
   */
  function resolveService(serviceName, query) {
    const dot = serviceName.indexOf('.');
    const svc = dot >= 0 ? serviceName.slice(0, dot) : serviceName;
    const nsText = dot >= 0 ? serviceName.slice(dot + 1) : query.get('ns');
    if (!v.isNamespaceName(svc)) throw consulError(400, `Invalid service name ${shown(serviceName)}: use <service>.<namespace>`);
    const namespaces = nsText ? [nsText] : config.namespaces;
    for (const ns of namespaces) guard(() => guards.checkNamespace(ns));
    return { svc, namespaces };
  }

  /** @param {string[]} namespaces */
  function discoverySynced(namespaces) {
    if (!config.discoveryEnabled) throw consulError(404, 'service discovery is disabled on this proxy (KV_DISCOVERY_ENABLED=false)');
    for (const ns of namespaces) {
      guard(() => guards.requireSynced('services', ns));
      guard(() => guards.requireSynced('endpointslices', ns));
    }
  }

  /** @param {string[]} namespaces */
  function discoveryProgress(namespaces) {
    return () => {
      const x = progressOf('services', namespaces);
      const y = progressOf('endpointslices', namespaces);
      return x > y ? x : y;
    };
  }

  /**
   * @param {string[]} namespaces
   * @param {string | undefined} svc only this Service
   */
  function discoveryChanged(namespaces, svc) {
    const services = changedAfter('services', namespaces, () =>
      namespaces.flatMap((ns) => cache.list('services', ns)).filter((s) => svc === undefined || s.metadata.name === svc),
    );
    const slices = changedAfter('endpointslices', namespaces, () =>
      namespaces
        .flatMap((ns) => cache.list('endpointslices', ns))
        .filter((s) => svc === undefined || (s.metadata.labels && s.metadata.labels[SERVICE_NAME_LABEL] === svc)),
    );
    return (/** @type {bigint} */ n) => services(n) || slices(n);
  }

  /**
   * @param {Res} res
   * @param {URLSearchParams} query
   */
  async function catalogServices(res, query) {
    const nsFilter = query.get('ns');
    const namespaces = nsFilter ? [nsFilter] : config.namespaces;
    for (const ns of namespaces) guard(() => guards.checkNamespace(ns));
    discoverySynced(namespaces);
    const progress = discoveryProgress(namespaces);
    if (!(await block(res, query, discoveryChanged(namespaces, undefined)))) return undefined;
    /** @type {[string, string[]][]} */
    const entries = [];
    for (const ns of namespaces) {
      for (const s of cache.list('services', ns)) {
        const tags = [...new Set((s.spec.ports || []).map((/** @type {any} */ p) => p.name).filter(Boolean))].sort();
        entries.push([`${s.metadata.name}.${ns}`, /** @type {string[]} */ (tags)]);
      }
    }
    entries.sort(([a], [b]) => cmp(a, b));
    return send(res, 200, JSON.stringify(Object.fromEntries(entries)), 'application/json', metaHeaders(progress()));
  }

  /**
   * The instances of a Service: one per EndpointSlice endpoint address and port.
   * @param {string} ns
   * @param {string} svc
   */
  function instances(ns, svc) {
    const service = cache.get('services', ns, svc);
    if (!service) return [];
    const out = [];
    const slices = cache
      .list('endpointslices', ns)
      .filter((s) => s.metadata.labels && s.metadata.labels[SERVICE_NAME_LABEL] === svc)
      .sort((a, b) => cmp(a.metadata.name, b.metadata.name));
    for (const slice of slices) {
      for (const ep of slice.endpoints || []) {
        const c = ep.conditions || {};
        // unset ready counts as ready, as the EndpointSlice API documents; terminating never
        const passing = c.ready !== false && c.terminating !== true;
        for (const address of ep.addresses || []) {
          for (const p of slice.ports || []) {
            if (typeof p.port !== 'number') continue;
            out.push({
              ns,
              svc,
              address,
              port: p.port,
              portName: p.name || '',
              passing,
              node: ep.nodeName || ep.hostname || (ep.targetRef && ep.targetRef.name) || address,
              id: `${svc}.${ns}-${(ep.targetRef && ep.targetRef.name) || address}-${p.name || p.port}`,
              index: Number(slice.metadata.resourceVersion) || 0,
            });
          }
        }
      }
    }
    return out.sort((a, b) => cmp(a.id, b.id));
  }

  /**
   * @param {Res} res
   * @param {URLSearchParams} query
   * @param {string} serviceName
   * @param {boolean} health
   */
  async function serviceInstances(res, query, serviceName, health) {
    const { svc, namespaces } = resolveService(serviceName, query);
    discoverySynced(namespaces);
    const progress = discoveryProgress(namespaces);
    if (!(await block(res, query, discoveryChanged(namespaces, svc)))) return undefined;
    const passingOnly = health && query.has('passing') && query.get('passing') !== 'false';
    const tag = query.get('tag');
    const all = namespaces
      .flatMap((ns) => instances(ns, svc))
      .filter((i) => !passingOnly || i.passing)
      .filter((i) => tag === null || tag === '' || i.portName === tag);
    const body = all.map((i) => {
      const name = `${i.svc}.${i.ns}`;
      const service = {
        ID: i.id,
        Service: name,
        Tags: i.portName ? [i.portName] : [],
        Address: i.address,
        Port: i.port,
        Meta: { 'k8s-namespace': i.ns, 'k8s-service': i.svc, ...(i.portName ? { 'k8s-port-name': i.portName } : {}) },
        Weights: { Passing: 1, Warning: 1 },
        EnableTagOverride: false,
        CreateIndex: i.index,
        ModifyIndex: i.index,
      };
      const node = {
        ID: '',
        Node: i.node,
        Address: i.address,
        Datacenter: DATACENTER,
        TaggedAddresses: null,
        Meta: { 'k8s-namespace': i.ns },
        CreateIndex: i.index,
        ModifyIndex: i.index,
      };
      if (!health) {
        return {
          ID: '',
          Node: i.node,
          Address: i.address,
          Datacenter: DATACENTER,
          TaggedAddresses: null,
          NodeMeta: node.Meta,
          ServiceKind: '',
          ServiceID: i.id,
          ServiceName: name,
          ServiceTags: service.Tags,
          ServiceAddress: i.address,
          ServicePort: i.port,
          ServiceMeta: service.Meta,
          ServiceWeights: service.Weights,
          ServiceEnableTagOverride: false,
          CreateIndex: i.index,
          ModifyIndex: i.index,
        };
      }
      const check = {
        Node: i.node,
        CheckID: `k8s-ready:${i.id}`,
        Name: 'Kubernetes endpoint readiness',
        Status: i.passing ? 'passing' : 'critical',
        Notes: '',
        Output: i.passing ? 'the EndpointSlice endpoint is ready' : 'the EndpointSlice endpoint is not ready or is terminating',
        ServiceID: i.id,
        ServiceName: name,
        ServiceTags: service.Tags,
        Type: 'kubernetes',
        CreateIndex: i.index,
        ModifyIndex: i.index,
      };
      return { Node: node, Service: service, Checks: [check] };
    });
    return send(res, 200, JSON.stringify(body), 'application/json', metaHeaders(progress()));
  }

  // ------------------------------------------------------------ routing ---

  /** @type {Map<string, KeyInfo>} */
  const keyInfos = new Map();

  /**
   * The parsing of a /v1/kv key, remembered: clients read the same few keys again and again.
   * @param {string} key
   * @returns {KeyInfo}
   */
  function keyInfoOf(key) {
    let info = keyInfos.get(key);
    if (info === undefined) {
      const segments = key.split('/');
      const dots = segments.some((p) => p === '.' || p === '..');
      const valid = segments.length === 3 && v.isNamespaceName(segments[0]) && v.isConfigMapName(segments[1]) && v.isConfigKey(segments[2]);
      info = { dots, parts: valid ? /** @type {[string, string, string]} */ (segments) : null };
      if (keyInfos.size >= MAX_REMEMBERED_KEYS) keyInfos.clear();
      keyInfos.set(key, info);
    }
    return info;
  }

  /**
   * @param {Req} req
   * @param {Res} res
   * @param {{ route: string, audit?: Record<string, any> }} ctx
   * @param {string} method
   * @param {string} rawPath starts with /v1
   * @param {URLSearchParams} query
   * @returns {void | Promise<void>}
   */
  function route(req, res, ctx, method, rawPath, query) {
    // answered at once where it can be (no promise on the plain GET path), later where it must
    /** @type {unknown} */
    let answer;
    try {
      answer = dispatch(req, res, ctx, method, rawPath, query);
    } catch (err) {
      return answerError(res, err);
    }
    if (answer instanceof Promise)
      return answer.then(
        () => undefined,
        (err) => {
          answerError(res, err);
        },
      );
    return undefined;
  }

  /**
   * A refusal as Consul says it; anything else goes on to the caller (a 500 there).
   * @param {Res} res
   * @param {unknown} err
   */
  function answerError(res, err) {
    if (!(err instanceof HttpError) || res.headersSent) throw err;
    // (send answers at once; its result is not needed)
    const headers = { ...metaHeaders(undefined), ...err.headers };
    if (lifecycle.shuttingDown) headers.Connection = 'close';
    return send(res, err.status, err.status === 404 && err.message === '' ? '' : `${err.message}\n`, 'text/plain; charset=utf-8', headers);
  }

  /**
   * @param {Req} req
   * @param {Res} res
   * @param {{ route: string, audit?: Record<string, any> }} ctx
   * @param {string} method
   * @param {string} rawPath
   * @param {URLSearchParams} query
   */
  function dispatch(req, res, ctx, method, rawPath, query) {
    let path = rawPath;
    if (rawPath.includes('%')) {
      try {
        path = decodeURIComponent(rawPath);
      } catch {
        throw consulError(400, 'Invalid path: bad percent-encoding');
      }
    }
    if (path.includes('\0') || path.includes('\\')) throw consulError(400, 'Invalid path');

    if (path === '/v1/kv' || path.startsWith('/v1/kv/')) {
      ctx.route = '/v1/kv';
      const key = path.slice('/v1/kv/'.length);
      const info = keyInfoOf(key);
      if (info.dots) throw consulError(400, `Invalid key ${shown(key)}: "." and ".." are not allowed`);
      allow(method, KV_METHODS);
      const write = method === 'PUT' || method === 'DELETE';
      if (write) {
        // one audit line per write, as on the native API (the names as given: the guards judge them)
        const [namespace = '', configmap = '', ...rest] = key.split('/');
        ctx.audit = { token: null, method, namespace, configmap, key: rest.join('/') || undefined, api: 'consul' };
      }
      authenticate(req, query, write, ctx);
      if (method === 'PUT') return putKv(req, res, query, key);
      if (method === 'DELETE') return deleteKv(res, query, key);
      return getKv(res, query, key, info);
    }
    if (path === '/v1/txn') {
      ctx.route = '/v1/txn';
      allow(method, ['PUT', 'POST']);
      return txn(req, res, ctx, method, query);
    }
    if (path === '/v1/catalog/services') {
      ctx.route = '/v1/catalog/services';
      allow(method, ['GET', 'HEAD']);
      authenticate(req, query, false);
      return catalogServices(res, query);
    }
    const m = /^\/v1\/(catalog|health)\/service\/([^/]+)$/.exec(path);
    if (m) {
      ctx.route = `/v1/${m[1]}/service/:name`;
      allow(method, ['GET', 'HEAD']);
      authenticate(req, query, false);
      return serviceInstances(res, query, m[2], m[1] === 'health');
    }
    if (path === '/v1/status/leader') {
      ctx.route = '/v1/status/leader';
      allow(method, ['GET', 'HEAD']);
      const host = typeof req.headers.host === 'string' ? req.headers.host : '127.0.0.1:8500';
      return send(res, 200, JSON.stringify(host), 'application/json', metaHeaders(undefined));
    }
    if (path === '/v1/catalog/datacenters') {
      ctx.route = '/v1/catalog/datacenters';
      allow(method, ['GET', 'HEAD']);
      return send(res, 200, JSON.stringify([DATACENTER]), 'application/json', metaHeaders(undefined));
    }
    if (path === '/v1/agent/self') {
      ctx.route = '/v1/agent/self';
      allow(method, ['GET', 'HEAD']);
      authenticate(req, query, false);
      const self = {
        Config: { Datacenter: DATACENTER, NodeName: 'kv-proxy', Server: true, Version: 'kv-proxy' },
        Member: { Name: 'kv-proxy', Tags: {} },
        Meta: {},
      };
      return send(res, 200, JSON.stringify(self), 'application/json', metaHeaders(undefined));
    }
    ctx.route = '/v1/(unsupported)';
    if (path.startsWith('/v1/session/') || path === '/v1/session' || path.startsWith('/v1/lock')) throw consulError(501, SESSIONS_501);
    throw consulError(501, `${path} is not supported by kv-proxy: it serves ${SUPPORTED}; use the Kubernetes API for anything else`);
  }

  return { route };
}

/**
 * @param {string} a
 * @param {string} b
 */
function cmp(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

module.exports = { createConsul };
