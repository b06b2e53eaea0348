// @ts-check
'use strict';
/**
 * A Kubernetes API server stand-in for tests and benchmarks.
 *
 * It serves the calls a ConfigMap/Service/EndpointSlice client makes, with the
 * semantics of the real API server (see "API Concepts" in the Kubernetes docs):
 * - one global, monotonically increasing resourceVersion;
 * - list (with labelSelector, fieldSelector on metadata.name/namespace,
 *   limit/continue) returning metadata.resourceVersion;
 * - watch as a chunked stream of JSON lines `{"type","object"}` with
 *   ADDED/MODIFIED/DELETED/BOOKMARK/ERROR, resuming from a resourceVersion,
 *   objects moving in/out of a selector reported as ADDED/DELETED, and a
 *   bounded history: a too-old resourceVersion gets an ERROR event with a
 *   410 "Expired" Status;
 * - create (201, 409 AlreadyExists), JSON merge patch per RFC 7386 (null deletes,
 *   409 Conflict when metadata.resourceVersion does not match, no-op patches do
 *   not bump the resourceVersion), delete, 404 NotFound, 422 Invalid, all as
 *   Status objects;
 * - optional bearer-token authentication (401) and a permission table in the
 *   shape of RBAC rules (403), including resourceNames semantics: a rule with
 *   names allows get/patch/update/delete of those names, list/watch only with
 *   fieldSelector=metadata.name=<one of them>, and never create.
 *
 * Test controls: start/stop (an outage: the listener closes and open watches
 * are dropped; state survives and start() reuses the port), compact(), call
 * counters, direct mutations as another client would make them, and faults.
 *
 * Only node: builtins, so a benchmark can use it without a build step.
 */
const http = require('node:http');
const crypto = require('node:crypto');

/**
 * @typedef {Record<string, any>} KubeObject
 * @typedef {{ verbs: string[], resources: string[], namespaces?: string[], names?: string[] }} PermissionRule
 * @typedef {{
 *   verb: string, method: string, path: string, resource: string,
 *   namespace: string, name: string, query: Record<string, string>, status: number,
 *   faulted: boolean
 * }} ApiCall
 * @typedef {{
 *   status?: number, delayMs?: number, destroy?: boolean, hang?: boolean,
 *   retryAfterSeconds?: number, reply?: { status: number, body: unknown },
 * }} Fault
 *   hang: accept the request and never answer (until stop() drops the connection);
 *   reply: answer this status and JSON body instead (an API server or gateway that misbehaves)
 * @typedef {{
 *   rv: number, resource: string, type: 'ADDED'|'MODIFIED'|'DELETED',
 *   object: KubeObject, previous: KubeObject | undefined,
 *   lines: Map<string, string>
 * }} HistoryEvent  lines caches the serialized event per type seen by watchers
 * @typedef {{
 *   resource: string, namespace: string, selector: Selector,
 *   res: http.ServerResponse, bookmarks: boolean, timers: NodeJS.Timeout[],
 *   pending: number[]
 * }} Watcher  pending: resourceVersions held back by eventDelayMs, oldest first
 * @typedef {{
 *   labels: (labels: Record<string, string>) => boolean,
 *   fields: (obj: KubeObject) => boolean,
 *   pinnedName: string | undefined
 * }} Selector
 * @typedef {{
 *   tokens?: string[],
 *   permissions?: PermissionRule[],
 *   historyLimit?: number,
 *   bookmarkIntervalMs?: number,
 *   user?: string,
 * }} FakeKubeApiOptions
 */

/** @type {Record<string, { group: string, version: string, kind: string }>} */
const RESOURCES = {
  configmaps: { group: '', version: 'v1', kind: 'ConfigMap' },
  services: { group: '', version: 'v1', kind: 'Service' },
  endpointslices: { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice' },
};

const CORE_PATH = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?(configmaps|services)(?:\/([^/]+))?$/;
const GROUP_PATH = /^\/apis\/(discovery\.k8s\.io)\/v1\/(?:namespaces\/([^/]+)\/)?(endpointslices)(?:\/([^/]+))?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;
const MAX_CONFIGMAP_BYTES = 1024 * 1024;
const FIRST_RESOURCE_VERSION = 1000;

/** @param {string} resource */
function apiVersionOf(resource) {
  const r = RESOURCES[resource];
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** @param {unknown} value @returns {any} */
function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** @param {unknown} v @returns {v is Record<string, any>} */
function isPlainObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * JSON merge patch, RFC 7386: objects merge recursively, null deletes,
 * anything else replaces. Returns a new value; the inputs are not modified.
 * @param {unknown} target
 * @param {unknown} patch
 * @returns {unknown}
 */
function mergePatch(target, patch) {
  if (!isPlainObject(patch)) return clone(patch);
  /** @type {Record<string, any>} */
  const result = isPlainObject(target) ? { ...target } : {}; // spread defines own properties, even "__proto__"
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete result[key];
    } else {
      Object.defineProperty(result, key, {
        value: mergePatch(Object.hasOwn(result, key) ? result[key] : undefined, value),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return result;
}

/**
 * Structural equality of JSON values.
 * @param {unknown} a
 * @param {unknown} b
 * @returns {boolean}
 */
function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && deepEqual(/** @type {any} */ (a)[k], /** @type {any} */ (b)[k]));
}

/**
 * A Status object as the API server returns for failures.
 * @param {number} code
 * @param {string} reason
 * @param {string} message
 * @param {Record<string, unknown>} [details]
 */
function statusObject(code, reason, message, details) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code };
}

/**
 * Label selector, equality- and set-based:
 * `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma = AND.
 * @param {string} text
 * @returns {(labels: Record<string, string>) => boolean}
 */
function parseLabelSelector(text) {
  /** @type {((labels: Record<string, string>) => boolean)[]} */
  const tests = [];
  const parts = text.match(/([^,(]+(\([^)]*\))?)/g) || [];
  for (const raw of parts) {
    const part = raw.trim();
    if (!part) continue;
    let m;
    if ((m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part))) {
      const [, key, op, list] = m;
      const values = list.split(',').map((s) => s.trim());
      tests.push(op === 'in' ? (l) => Object.hasOwn(l, key) && values.includes(l[key]) : (l) => !Object.hasOwn(l, key) || !values.includes(l[key]));
    } else if ((m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(part))) {
      const [, key, op, value] = m;
      tests.push(op === '!=' ? (l) => l[key] !== value : (l) => Object.hasOwn(l, key) && l[key] === value);
    } else if ((m = /^!\s*([\w./-]+)$/.exec(part))) {
      const key = m[1];
      tests.push((l) => !Object.hasOwn(l, key));
    } else if ((m = /^([\w./-]+)$/.exec(part))) {
      const key = m[1];
      tests.push((l) => Object.hasOwn(l, key));
    } else {
      throw new Error(`unable to parse requirement: ${part}`);
    }
  }
  return (labels) => tests.every((t) => t(labels));
}

/**
 * Field selector on metadata.name and metadata.namespace (what the API server
 * supports for every resource).
 * @param {string} text
 * @returns {{ test: (obj: KubeObject) => boolean, pinnedName: string | undefined }}
 */
function parseFieldSelector(text) {
  /** @type {((obj: KubeObject) => boolean)[]} */
  const tests = [];
  /** @type {string | undefined} */
  let pinnedName;
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (!part) continue;
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw new Error(`invalid selector: '${part}'`);
    const [, field, op, value] = m;
    if (field !== 'metadata.name' && field !== 'metadata.namespace') {
      throw new Error(`field label not supported: ${field}`);
    }
    const key = field === 'metadata.name' ? 'name' : 'namespace';
    if (key === 'name' && op !== '!=') pinnedName = value;
    tests.push(op === '!=' ? (o) => o.metadata[key] !== value : (o) => o.metadata[key] === value);
  }
  return { test: (obj) => tests.every((t) => t(obj)), pinnedName };
}

/**
 * Validate a ConfigMap as the API server does: key syntax, string values,
 * at most 1 MiB of keys and values. When `previous` (already valid) is given,
 * only the keys the patch touched are checked and the size is computed from
 * the previous size, which keeps large ConfigMaps cheap to patch.
 * @param {KubeObject} cm
 * @param {KubeObject} [previous]
 * @param {Record<string, unknown>} [patch]
 * @returns {string | undefined}
 */
function validateConfigMap(cm, previous, patch) {
  const data = cm.data === undefined ? {} : cm.data;
  const binary = cm.binaryData === undefined ? {} : cm.binaryData;
  if (!isPlainObject(data)) return 'data: Invalid value: must be an object';
  if (!isPlainObject(binary)) return 'binaryData: Invalid value: must be an object';
  const incremental =
    previous &&
    patch &&
    isPlainObject(previous.data) &&
    !previous.binaryData &&
    Object.keys(binary).length === 0 &&
    (patch.data === undefined || isPlainObject(patch.data));
  const touched = incremental ? Object.keys(/** @type {any} */ (patch).data || {}) : [...Object.keys(data), ...Object.keys(binary)];
  for (const key of touched) {
    const value = Object.hasOwn(data, key) ? data[key] : Object.hasOwn(binary, key) ? binary[key] : undefined;
    if (value === undefined) continue; // removed
    if (!CONFIGMAP_KEY.test(key) || key.length > 253 || key === '.' || key === '..') {
      return `data[${key}]: Invalid value: "${key}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`;
    }
    if (typeof value !== 'string') return `data[${key}]: Invalid value: must be a string`;
  }
  let size;
  if (incremental) {
    const before = /** @type {Record<string, string>} */ (/** @type {KubeObject} */ (previous).data);
    size = dataSize(before);
    for (const key of touched) {
      if (Object.hasOwn(before, key)) size -= Buffer.byteLength(key) + Buffer.byteLength(before[key]);
      if (Object.hasOwn(data, key)) size += Buffer.byteLength(key) + Buffer.byteLength(data[key]);
    }
    dataSizes.set(data, size);
  } else {
    size = dataSize(data) + dataSize(binary);
  }
  if (size > MAX_CONFIGMAP_BYTES) return `[]: Too long: must have at most ${MAX_CONFIGMAP_BYTES} bytes`;
  return undefined;
}

/** @param {KubeObject} obj */
function objectKey(obj) {
  return `${obj.metadata.namespace || ''}/${obj.metadata.name}`;
}

/**
 * Whether applying a merge patch would change nothing (the API server then
 * keeps the resourceVersion). Walks the patch only.
 * @param {unknown} target
 * @param {unknown} patch
 * @returns {boolean}
 */
function patchIsNoop(target, patch) {
  if (!isPlainObject(patch)) return deepEqual(target, patch);
  if (!isPlainObject(target)) return false;
  return Object.entries(patch).every(([k, v]) => (v === null ? !Object.hasOwn(target, k) : Object.hasOwn(target, k) && patchIsNoop(target[k], v)));
}

/** @type {WeakMap<object, number>} bytes of a (never modified) data object */
const dataSizes = new WeakMap();

/** @param {Record<string, string>} data */
function dataSize(data) {
  let n = dataSizes.get(data);
  if (n === undefined) {
    n = 0;
    for (const [k, v] of Object.entries(data)) n += Buffer.byteLength(k) + Buffer.byteLength(String(v));
    dataSizes.set(data, n);
  }
  return n;
}

/** @param {number} ms */
function sleep(ms) {
  // unref: a delayed answer must not keep a test or benchmark process alive
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

class FakeKubeApi {
  /** @param {FakeKubeApiOptions} [options] */
  constructor(options = {}) {
    /** Accepted bearer tokens; undefined means no authentication (like `kubectl proxy`). */
    this.tokens = options.tokens ? new Set(options.tokens) : undefined;
    /** RBAC-like rules; undefined means everything is allowed. */
    this.permissions = options.permissions;
    this.historyLimit = options.historyLimit ?? 10000;
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    this.user = options.user ?? 'system:serviceaccount:default:kv-proxy';
    /** @type {ApiCall[]} every request served, in order */
    this.calls = [];
    /** @type {((call: ApiCall) => Fault | undefined) | undefined} */
    this.fault = undefined;
    /** Delay before changes reach open watches (a slow watch), in order. */
    this.eventDelayMs = 0;
    /** holdEvents() is on: watch events wait in `held` until releaseEvents(). */
    this.holding = false;
    /** @type {Array<{ w: Watcher, event: HistoryEvent }>} */
    this.held = [];
    /** @private */ this.rv = FIRST_RESOURCE_VERSION;
    /** @private the oldest resourceVersion a watch may resume from */ this.compactedRv = FIRST_RESOURCE_VERSION;
    /** @private @type {HistoryEvent[]} */ this.history = [];
    /**
     * Stored objects are never modified in place: a change stores a new
     * object, so history events and the store can share them without copies.
     * @private @type {Map<string, Map<string, KubeObject>>}
     */
    this.store = new Map(Object.keys(RESOURCES).map((r) => [r, new Map()]));
    /** @private @type {Set<Watcher>} */ this.watchers = new Set();
    /** @private @type {Set<import('node:net').Socket>} */ this.sockets = new Set();
    /** @private @type {http.Server | undefined} */ this.server = undefined;
    /** @private */ this.port = 0;
    /** @private */ this.host = '127.0.0.1';
  }

  /** The base URL, e.g. http://127.0.0.1:34567. */
  get url() {
    return `http://${this.host}:${this.port}`;
  }

  /** The current (latest) resourceVersion. */
  get resourceVersion() {
    return String(this.rv);
  }

  /**
   * Start listening. After stop(), start() without arguments reuses the port,
   * so clients configured with the URL reconnect as to a restarted API server.
   * @param {number} [port]
   * @param {string} [host]
   * @returns {Promise<string>} the base URL
   */
  async start(port, host) {
    if (this.server) throw new Error('fake kube api is already listening');
    if (host) this.host = host;
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) this.sendStatus(res, statusObject(500, 'InternalError', String(err && err.stack)));
        else res.destroy();
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    const listenPort = port ?? this.port;
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, this.host, () => resolve(undefined));
    });
    const address = server.address();
    if (address && typeof address === 'object') this.port = address.port;
    this.server = server;
    return this.url;
  }

  /**
   * Simulate an outage: stop accepting connections, drop open watches and
   * keep-alive connections. State and history are kept.
   */
  async stop() {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const w of this.watchers) this.endWatch(w);
    const closed = new Promise((resolve) => server.close(() => resolve(undefined)));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /**
   * End every open watch stream cleanly, as the API server does when a
   * watch times out or it restarts its watch cache. Clients resume from
   * their last resourceVersion.
   */
  dropWatches() {
    for (const w of this.watchers) {
      for (const t of w.timers) clearTimeout(t);
      this.watchers.delete(w);
      w.res.end();
    }
  }

  /** Forget the whole event history: every watch resuming from an older resourceVersion gets 410. */
  compact() {
    this.history = [];
    this.compactedRv = this.rv;
  }

  /**
   * Holds every watch event back (as eventDelayMs does, but until
   * releaseEvents()), so a test decides when the watch delivers a change.
   * Bookmarks never pass a held event.
   */
  holdEvents() {
    this.holding = true;
  }

  /** Delivers the held watch events, in order, and stops holding. */
  releaseEvents() {
    this.holding = false;
    const held = this.held;
    this.held = [];
    for (const { w, event } of held) {
      w.pending.shift();
      if (this.watchers.has(w)) this.deliver(w, event);
    }
  }

  /**
   * Calls matching a filter, e.g. `countCalls({ verb: 'patch', resource: 'configmaps' })`.
   * @param {Partial<Pick<ApiCall, 'verb' | 'resource' | 'namespace' | 'name' | 'status' | 'method'>>} [filter]
   */
  countCalls(filter = {}) {
    return this.calls.filter((c) => Object.entries(filter).every(([k, v]) => /** @type {any} */ (c)[k] === v)).length;
  }

  resetCalls() {
    this.calls = [];
  }

  /** Number of currently open watch streams. */
  get openWatches() {
    return this.watchers.size;
  }

  // ---------------------------------------------------------------------------
  // Direct access, as another client (kubectl, a controller) would change things.

  /**
   * @param {string} resource
   * @param {string} namespace
   * @param {string} name
   * @returns {KubeObject | undefined} a copy
   */
  getObject(resource, namespace, name) {
    return clone(this.collection(resource).get(`${namespace}/${name}`));
  }

  /**
   * Create or replace an object (bumps resourceVersion, notifies watches).
   * @param {string} resource
   * @param {KubeObject} obj with metadata.name and metadata.namespace
   * @returns {KubeObject} the stored copy
   */
  putObject(resource, obj) {
    const existing = this.collection(resource).get(objectKey(obj));
    const next = clone(obj);
    next.apiVersion = apiVersionOf(resource);
    next.kind = RESOURCES[resource].kind;
    next.metadata = {
      uid: existing ? existing.metadata.uid : crypto.randomUUID(),
      creationTimestamp: existing ? existing.metadata.creationTimestamp : new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      ...next.metadata,
    };
    return clone(this.commit(resource, existing ? 'MODIFIED' : 'ADDED', next, existing));
  }

  /**
   * Apply a JSON merge patch directly.
   * @param {string} resource
   * @param {string} namespace
   * @param {string} name
   * @param {Record<string, unknown>} patch
   */
  patchObject(resource, namespace, name, patch) {
    const existing = this.collection(resource).get(`${namespace}/${name}`);
    if (!existing) throw new Error(`${resource} ${namespace}/${name} not found`);
    const next = /** @type {KubeObject} */ (mergePatch(existing, patch));
    next.metadata = { ...next.metadata }; // never share (and then modify) the stored metadata
    next.metadata.name = name;
    next.metadata.namespace = namespace;
    if (patchIsNoop(existing, patch)) return clone(existing);
    return clone(this.commit(resource, 'MODIFIED', next, existing));
  }

  /**
   * @param {string} resource
   * @param {string} namespace
   * @param {string} name
   * @returns {boolean} whether it existed
   */
  deleteObject(resource, namespace, name) {
    const existing = this.collection(resource).get(`${namespace}/${name}`);
    if (!existing) return false;
    this.commit(resource, 'DELETED', { ...existing, metadata: { ...existing.metadata } }, existing);
    return true;
  }

  /**
   * @param {string} namespace
   * @param {string} name
   * @param {Record<string, string>} data
   * @param {Record<string, string>} [labels]
   */
  setConfigMap(namespace, name, data, labels) {
    const existing = this.collection('configmaps').get(`${namespace}/${name}`);
    const metadata = { ...(existing ? existing.metadata : {}), name, namespace };
    if (labels) metadata.labels = labels;
    return this.putObject('configmaps', { metadata, data });
  }

  /**
   * @param {string} namespace
   * @param {string} name
   * @param {{ clusterIP?: string, type?: string, ports?: { name?: string, port: number, targetPort?: number | string, protocol?: string }[] }} spec
   */
  setService(namespace, name, spec) {
    const ports = (spec.ports || []).map((p) => ({ protocol: 'TCP', targetPort: p.port, ...p }));
    return this.putObject('services', {
      metadata: { name, namespace },
      spec: { type: spec.type || 'ClusterIP', clusterIP: spec.clusterIP || '10.96.0.10', clusterIPs: [spec.clusterIP || '10.96.0.10'], ports },
    });
  }

  /**
   * @param {string} namespace
   * @param {string} name
   * @param {string} serviceName
   * @param {{ addresses: string[], ready?: boolean | null, terminating?: boolean, nodeName?: string }[]} endpoints
   * @param {{ name?: string, port: number, protocol?: string }[]} ports
   */
  setEndpointSlice(namespace, name, serviceName, endpoints, ports) {
    return this.putObject('endpointslices', {
      metadata: { name, namespace, labels: { 'kubernetes.io/service-name': serviceName } },
      addressType: 'IPv4',
      endpoints: endpoints.map((e) => {
        /** @type {Record<string, unknown>} */
        const conditions = {};
        if (e.ready !== null) conditions.ready = e.ready !== false;
        if (e.terminating !== undefined) conditions.terminating = e.terminating;
        return { addresses: e.addresses, conditions, ...(e.nodeName ? { nodeName: e.nodeName } : {}) };
      }),
      ports: ports.map((p) => ({ protocol: 'TCP', ...p })),
    });
  }

  // ---------------------------------------------------------------------------
  // Internals

  /** @private @param {string} resource */
  collection(resource) {
    const c = this.store.get(resource);
    if (!c) throw new Error(`unknown resource ${resource}`);
    return c;
  }

  /**
   * Store a change, append it to the history and fan it out to watches.
   * Takes ownership of object; returns the stored (shared) object.
   * @private
   * @param {string} resource
   * @param {'ADDED'|'MODIFIED'|'DELETED'} type
   * @param {KubeObject} object
   * @param {KubeObject | undefined} previous
   */
  commit(resource, type, object, previous) {
    this.rv += 1;
    object.metadata.resourceVersion = String(this.rv);
    const collection = this.collection(resource);
    if (type === 'DELETED') collection.delete(objectKey(object));
    else collection.set(objectKey(object), object);
    /** @type {HistoryEvent} */
    const event = { rv: this.rv, resource, type, object, previous, lines: new Map() };
    this.history.push(event);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped) this.compactedRv = dropped.rv;
    }
    for (const w of this.watchers) {
      if (this.holding) {
        w.pending.push(event.rv);
        this.held.push({ w, event });
      } else if (this.eventDelayMs > 0) {
        w.pending.push(event.rv);
        setTimeout(() => {
          w.pending.shift();
          if (this.watchers.has(w)) this.deliver(w, event);
        }, this.eventDelayMs).unref();
      } else {
        this.deliver(w, event);
      }
    }
    return object;
  }

  /**
   * The event a watcher sees for a change, taking its selectors into account:
   * an object leaving the selection is DELETED, one entering it is ADDED.
   * @private
   * @param {Watcher} w
   * @param {HistoryEvent} e
   * @returns {{ type: string, object: KubeObject } | undefined}
   */
  viewFor(w, e) {
    if (e.resource !== w.resource) return undefined;
    const sees = (/** @type {KubeObject | undefined} */ o) =>
      !!o && (!w.namespace || o.metadata.namespace === w.namespace) && w.selector.labels(o.metadata.labels || {}) && w.selector.fields(o);
    const before = e.type !== 'ADDED' && sees(e.previous);
    const after = sees(e.object);
    if (e.type === 'DELETED') return before ? { type: 'DELETED', object: e.object } : undefined;
    if (before && after) return { type: e.type, object: e.object };
    if (after) return { type: 'ADDED', object: e.object };
    if (before) return { type: 'DELETED', object: e.object };
    return undefined;
  }

  /** @private @param {Watcher} w @param {HistoryEvent} e */
  deliver(w, e) {
    const view = this.viewFor(w, e);
    if (!view) return;
    let line = e.lines.get(view.type);
    if (line === undefined) {
      line = `${JSON.stringify(view)}\n`;
      e.lines.set(view.type, line);
    }
    w.res.write(line);
  }

  /** @private @param {Watcher} w */
  endWatch(w) {
    for (const t of w.timers) clearTimeout(t);
    this.watchers.delete(w);
    w.res.destroy();
  }

  /**
   * @private
   * @param {http.ServerResponse} res
   * @param {ReturnType<typeof statusObject>} status
   */
  sendStatus(res, status) {
    this.sendJson(res, status.code, status);
  }

  /**
   * @private
   * @param {http.ServerResponse} res
   * @param {number} code
   * @param {unknown} body
   */
  sendJson(res, code, body) {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  /**
   * @private
   * @param {http.IncomingMessage} req
   * @returns {Promise<string>}
   */
  async readBody(req) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  }

  /**
   * @private
   * @param {ApiCall} call
   * @param {URLSearchParams} query
   * @returns {boolean}
   */
  allowed(call, query) {
    if (!this.permissions) return true;
    let pinned;
    try {
      pinned = parseFieldSelector(query.get('fieldSelector') || '').pinnedName;
    } catch {
      pinned = undefined;
    }
    return this.permissions.some((rule) => {
      if (!rule.verbs.includes(call.verb) && !rule.verbs.includes('*')) return false;
      if (!rule.resources.includes(call.resource) && !rule.resources.includes('*')) return false;
      if (rule.namespaces && !rule.namespaces.includes(call.namespace)) return false;
      if (!rule.names) return true;
      if (call.verb === 'create') return false;
      if (call.verb === 'list' || call.verb === 'watch') return pinned !== undefined && rule.names.includes(pinned);
      return rule.names.includes(call.name);
    });
  }

  /**
   * @private
   * @param {http.IncomingMessage} req
   * @param {http.ServerResponse} res
   */
  async handle(req, res) {
    const url = new URL(req.url || '/', 'http://fake');
    const query = url.searchParams;
    const method = req.method || 'GET';
    let namespace = '';
    let resource = '';
    let name = '';
    let m;
    if ((m = CORE_PATH.exec(url.pathname))) {
      [, namespace = '', resource, name = ''] = m;
    } else if ((m = GROUP_PATH.exec(url.pathname))) {
      [, , namespace = '', resource, name = ''] = m;
    }
    const watching = query.get('watch') === 'true' || query.get('watch') === '1';
    const verb =
      {
        GET: name ? 'get' : watching ? 'watch' : 'list',
        POST: 'create',
        PATCH: 'patch',
        PUT: 'update',
        DELETE: 'delete',
      }[method] || method.toLowerCase();
    /** @type {ApiCall} */
    const call = {
      verb,
      method,
      path: url.pathname,
      resource,
      namespace,
      name,
      query: Object.fromEntries(query.entries()),
      status: 0,
      faulted: false,
    };
    this.calls.push(call);
    const respond = (/** @type {ReturnType<typeof statusObject>} */ s) => {
      call.status = s.code;
      this.sendStatus(res, s);
    };

    if (this.tokens) {
      const auth = req.headers.authorization || '';
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      if (!this.tokens.has(token)) return respond(statusObject(401, 'Unauthorized', 'Unauthorized'));
    }
    if (!resource) {
      return respond(statusObject(404, 'NotFound', 'the server could not find the requested resource'));
    }
    if (!this.allowed(call, query)) {
      const target = name ? `${resource} "${name}"` : resource;
      const group = RESOURCES[resource].group;
      const where = namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope';
      return respond(
        statusObject(
          403,
          'Forbidden',
          `${target} is forbidden: User "${this.user}" cannot ${verb} resource "${resource}" in API group "${group}"${where}`,
          { name: name || undefined, kind: resource },
        ),
      );
    }
    const fault = this.fault && this.fault(call);
    if (fault) {
      call.faulted = true;
      if (fault.delayMs) await sleep(fault.delayMs);
      if (fault.destroy) {
        call.status = -1;
        res.destroy();
        return undefined;
      }
      if (fault.hang) {
        call.status = -2;
        return undefined; // the socket stays open and silent
      }
      if (fault.reply) {
        call.status = fault.reply.status;
        return this.sendJson(res, fault.reply.status, fault.reply.body);
      }
      if (fault.status) {
        if (fault.retryAfterSeconds) res.setHeader('Retry-After', String(fault.retryAfterSeconds));
        return respond(statusObject(fault.status, fault.status >= 500 ? 'InternalError' : 'BadRequest', `injected fault ${fault.status}`));
      }
    }

    switch (verb) {
      case 'get':
        return this.handleGet(call, res, respond);
      case 'list':
        return this.handleList(call, query, res, respond);
      case 'watch':
        return this.handleWatch(call, query, res, respond);
      case 'create':
        return this.handleCreate(call, await this.readBody(req), res, respond);
      case 'patch':
        return this.handlePatch(call, req, await this.readBody(req), res, respond);
      case 'delete':
        return this.handleDelete(call, res, respond);
      default:
        return respond(statusObject(405, 'MethodNotAllowed', `${method} is not supported by this fake`));
    }
  }

  /**
   * @private
   * @param {ApiCall} call
   * @param {http.ServerResponse} res
   * @param {(s: ReturnType<typeof statusObject>) => void} respond
   */
  handleGet(call, res, respond) {
    const obj = this.collection(call.resource).get(`${call.namespace}/${call.name}`);
    if (!obj) return respond(this.notFound(call));
    call.status = 200;
    return this.sendJson(res, 200, obj);
  }

  /** @private @param {ApiCall} call */
  notFound(call) {
    return statusObject(404, 'NotFound', `${call.resource} "${call.name}" not found`, { name: call.name, kind: call.resource });
  }

  /**
   * @private
   * @param {URLSearchParams} query
   * @returns {Selector | ReturnType<typeof statusObject>}
   */
  selectorFor(query) {
    try {
      const fields = parseFieldSelector(query.get('fieldSelector') || '');
      return { labels: parseLabelSelector(query.get('labelSelector') || ''), fields: fields.test, pinnedName: fields.pinnedName };
    } catch (err) {
      return statusObject(400, 'BadRequest', /** @type {Error} */ (err).message);
    }
  }

  /**
   * @private
   * @param {ApiCall} call
   * @param {URLSearchParams} query
   * @param {http.ServerResponse} res
   * @param {(s: ReturnType<typeof statusObject>) => void} respond
   */
  handleList(call, query, res, respond) {
    const selector = this.selectorFor(query);
    if ('code' in selector) return respond(selector);
    let listRv = this.rv;
    let after = '';
    const token = query.get('continue');
    if (token) {
      let parsed;
      try {
        parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
      } catch {
        return respond(statusObject(400, 'BadRequest', 'continue key is not valid'));
      }
      if (parsed.rv < this.compactedRv) {
        return respond(
          statusObject(
            410,
            'Expired',
            'The provided continue parameter is too old to display a consistent list result. ' +
              'You can start a new list without the continue parameter.',
          ),
        );
      }
      listRv = parsed.rv;
      after = parsed.after;
    }
    const all = [...this.collection(call.resource).values()]
      .filter((o) => !call.namespace || o.metadata.namespace === call.namespace)
      .filter((o) => selector.labels(o.metadata.labels || {}) && selector.fields(o))
      .sort((a, b) => (objectKey(a) < objectKey(b) ? -1 : objectKey(a) > objectKey(b) ? 1 : 0))
      .filter((o) => objectKey(o) > after);
    const limit = Number(query.get('limit') || 0);
    const page = limit > 0 ? all.slice(0, limit) : all;
    /** @type {Record<string, unknown>} */
    const metadata = { resourceVersion: String(listRv) };
    if (limit > 0 && all.length > limit) {
      metadata.continue = Buffer.from(JSON.stringify({ rv: listRv, after: objectKey(page[page.length - 1]) })).toString('base64url');
      metadata.remainingItemCount = all.length - limit;
    }
    call.status = 200;
    return this.sendJson(res, 200, {
      kind: `${RESOURCES[call.resource].kind}List`,
      apiVersion: apiVersionOf(call.resource),
      metadata,
      items: page.map(({ kind: _kind, apiVersion: _apiVersion, ...item }) => item),
    });
  }

  /**
   * @private
   * @param {ApiCall} call
   * @param {URLSearchParams} query
   * @param {http.ServerResponse} res
   * @param {(s: ReturnType<typeof statusObject>) => void} respond
   */
  handleWatch(call, query, res, respond) {
    const selector = this.selectorFor(query);
    if ('code' in selector) return respond(selector);
    const from = query.get('resourceVersion') || '';
    if (from !== '' && from !== '0' && !/^\d+$/.test(from)) {
      return respond(statusObject(400, 'BadRequest', `invalid resource version: ${from}`));
    }
    call.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    /** @type {Watcher} */
    const w = {
      resource: call.resource,
      namespace: call.namespace,
      selector,
      res,
      bookmarks: query.get('allowWatchBookmarks') === 'true',
      timers: [],
      pending: [],
    };
    if (from !== '' && from !== '0' && Number(from) < this.compactedRv) {
      // The real API server answers a too-old resourceVersion on a watch with
      // 200 and a single ERROR event carrying a 410 Status, then closes.
      res.end(
        `${JSON.stringify({
          type: 'ERROR',
          object: statusObject(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`),
        })}\n`,
      );
      return undefined;
    }
    if (from === '' || from === '0') {
      for (const obj of this.collection(call.resource).values()) {
        this.deliver(w, {
          rv: Number(obj.metadata.resourceVersion),
          resource: call.resource,
          type: 'ADDED',
          object: obj,
          previous: undefined,
          lines: new Map(),
        });
      }
    } else {
      for (const e of this.history) if (e.rv > Number(from)) this.deliver(w, e);
    }
    this.watchers.add(w);
    res.on('close', () => this.endWatch(w));
    if (w.bookmarks) {
      const tick = () => {
        w.res.write(
          `${JSON.stringify({
            type: 'BOOKMARK',
            // A bookmark promises every event up to its resourceVersion was sent:
            // never past an event still held back by eventDelayMs.
            object: {
              kind: RESOURCES[call.resource].kind,
              apiVersion: apiVersionOf(call.resource),
              metadata: { resourceVersion: String(w.pending.length > 0 ? w.pending[0] - 1 : this.rv) },
            },
          })}\n`,
        );
        w.timers[0] = setTimeout(tick, this.bookmarkIntervalMs);
      };
      w.timers[0] = setTimeout(tick, this.bookmarkIntervalMs);
    }
    const timeoutSeconds = Number(query.get('timeoutSeconds') || 0);
    if (timeoutSeconds > 0) {
      w.timers[1] = setTimeout(() => {
        for (const t of w.timers) clearTimeout(t);
        this.watchers.delete(w);
        w.res.end();
      }, timeoutSeconds * 1000);
    }
    return undefined;
  }

  /**
   * @private
   * @param {ApiCall} call
   * @param {string} body
   * @param {http.ServerResponse} res
   * @param {(s: ReturnType<typeof statusObject>) => void} respond
   */
  handleCreate(call, body, res, respond) {
    let obj;
    try {
      obj = JSON.parse(body);
    } catch (err) {
      return respond(statusObject(400, 'BadRequest', `json: ${/** @type {Error} */ (err).message}`));
    }
    if (!isPlainObject(obj) || !isPlainObject(obj.metadata)) {
      return respond(statusObject(400, 'BadRequest', "Object 'metadata' is missing"));
    }
    const name = obj.metadata.name;
    if (obj.metadata.namespace && obj.metadata.namespace !== call.namespace) {
      return respond(statusObject(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request'));
    }
    if (typeof name !== 'string' || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
      return respond(statusObject(422, 'Invalid', `${RESOURCES[call.resource].kind} "${name}" is invalid: metadata.name: Invalid value`));
    }
    if (call.resource === 'configmaps') {
      const problem = validateConfigMap(obj);
      if (problem) return respond(statusObject(422, 'Invalid', `ConfigMap "${name}" is invalid: ${problem}`, { name, kind: 'configmaps' }));
    }
    if (this.collection(call.resource).has(`${call.namespace}/${name}`)) {
      return respond(statusObject(409, 'AlreadyExists', `${call.resource} "${name}" already exists`, { name, kind: call.resource }));
    }
    obj.metadata.namespace = call.namespace;
    delete obj.metadata.resourceVersion;
    const stored = this.putObject(call.resource, obj);
    call.status = 201;
    return this.sendJson(res, 201, stored);
  }

  /**
   * @private
   * @param {ApiCall} call
   * @param {http.IncomingMessage} req
   * @param {string} body
   * @param {http.ServerResponse} res
   * @param {(s: ReturnType<typeof statusObject>) => void} respond
   */
  handlePatch(call, req, body, res, respond) {
    const type = (req.headers['content-type'] || '').split(';')[0].trim();
    if (type !== 'application/merge-patch+json' && type !== 'application/strategic-merge-patch+json') {
      return respond(
        statusObject(
          415,
          'UnsupportedMediaType',
          'the body of the request was in an unknown format - accepted media types include: ' +
            `application/merge-patch+json, application/strategic-merge-patch+json (got ${type})`,
        ),
      );
    }
    let patch;
    try {
      patch = JSON.parse(body);
    } catch (err) {
      return respond(statusObject(400, 'BadRequest', `error decoding patch: ${/** @type {Error} */ (err).message}`));
    }
    if (!isPlainObject(patch)) return respond(statusObject(400, 'BadRequest', 'error decoding patch: not an object'));
    const existing = this.collection(call.resource).get(`${call.namespace}/${call.name}`);
    if (!existing) return respond(this.notFound(call));
    const wanted = isPlainObject(patch.metadata) ? patch.metadata.resourceVersion : undefined;
    if (wanted !== undefined && wanted !== null && String(wanted) !== existing.metadata.resourceVersion) {
      return respond(
        statusObject(
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${call.resource} "${call.name}": ` +
            'the object has been modified; please apply your changes to the latest version and try again',
          { name: call.name, kind: call.resource },
        ),
      );
    }
    const next = /** @type {KubeObject} */ (mergePatch(existing, patch));
    if (call.resource === 'configmaps' && existing.immutable === true) {
      // As the API server: an immutable ConfigMap's data, binaryData and immutable flag cannot change.
      const changed = ['data', 'binaryData', 'immutable'].filter((f) => !deepEqual(existing[f], next[f]));
      if (changed.length > 0) {
        return respond(
          statusObject(
            422,
            'Invalid',
            `ConfigMap "${call.name}" is invalid: ${changed.map((f) => `${f}: Forbidden: field is immutable when \`immutable\` is set`).join(', ')}`,
            { name: call.name, kind: 'configmaps' },
          ),
        );
      }
    }
    next.metadata = { ...next.metadata }; // never share (and then modify) the stored metadata
    next.metadata.name = existing.metadata.name;
    next.metadata.namespace = existing.metadata.namespace;
    next.metadata.uid = existing.metadata.uid;
    next.metadata.resourceVersion = existing.metadata.resourceVersion;
    if (call.resource === 'configmaps') {
      const problem = validateConfigMap(next, existing, patch);
      if (problem)
        return respond(statusObject(422, 'Invalid', `ConfigMap "${call.name}" is invalid: ${problem}`, { name: call.name, kind: 'configmaps' }));
    }
    call.status = 200;
    if (patchIsNoop(existing, patch)) return this.sendJson(res, 200, existing);
    return this.sendJson(res, 200, this.commit(call.resource, 'MODIFIED', next, existing));
  }

  /**
   * @private
   * @param {ApiCall} call
   * @param {http.ServerResponse} res
   * @param {(s: ReturnType<typeof statusObject>) => void} respond
   */
  handleDelete(call, res, respond) {
    if (!this.deleteObject(call.resource, call.namespace, call.name)) return respond(this.notFound(call));
    call.status = 200;
    return this.sendJson(res, 200, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name: call.name, kind: call.resource },
    });
  }
}

module.exports = { FakeKubeApi, mergePatch, parseLabelSelector, parseFieldSelector };

// `node test/support/fake-kube-api.js [port]`: serve an empty fake API (no
// auth, no permission table) for manual runs and benchmarks; stop with SIGTERM.
if (require.main === module) {
  const api = new FakeKubeApi();
  api.start(Number(process.argv[2] || 0)).then((url) => {
    process.stdout.write(`${JSON.stringify({ msg: 'fake kube api listening', url })}\n`);
  });
  const stop = () => {
    api.stop();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
