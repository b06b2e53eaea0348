// @ts-check
'use strict';
/**
 * The watch-fed cache every read is answered from.
 *
 * One Informer per watched collection lists it once, then watches from the
 * list's resourceVersion (with bookmarks), resuming from the last
 * resourceVersion it saw when a stream ends, relisting on 410 Gone, and
 * reconnecting with a short capped backoff when the API server is away. The
 * API server sees one list and one long-lived watch per collection, whatever
 * the read rate.
 *
 * Objects are trimmed to the fields the proxy serves (no managedFields, no
 * annotations such as kubectl's last-applied-configuration), and a
 * ConfigMap's data is held once, as the JSON body reads send (data.js). Writes made through the
 * proxy are applied from the API server's response when they are newer than
 * what the watch delivered, so a client reads its own write at once.
 */
const crypto = require('node:crypto');
const { statusMessage } = require('./kube.js');
const { errorFields } = require('./log.js');
const { ConfigMapData } = require('./data.js');

// Small pages keep the transient memory of a list (text + parsed page) low.
const PAGE_SIZE = '100';
const BACKOFF_START_MS = 100;
const BACKOFF_CAP_MS = 1000;
const BACKOFF_CAP_REJECTED_MS = 5000;
const WATCH_MIN_SECONDS = 240;
const WATCH_MAX_SECONDS = 300;
const SYNCED = Object.freeze({ synced: true, stale: false });
const SYNCED_STALE = Object.freeze({ synced: true, stale: true });
const LOADING = Object.freeze({ synced: false, stale: false });
const LOADING_STALE = Object.freeze({ synced: false, stale: true });

/**
 * @typedef {Record<string, any>} KubeObject
 * @typedef {{
 *   resource: 'configmaps' | 'services' | 'endpointslices',
 *   apiPath: string,
 *   namespace: string,
 *   name: string | undefined,
 *   labelSelector: import('./selector.js').LabelSelector | undefined,
 * }} Scope
 * @typedef {'changed' | 'timeout' | 'aborted' | 'shutdown'} WakeReason
 */

/**
 * Whether resourceVersion a is strictly newer than b. resourceVersions are
 * opaque to clients, but every API server backed by etcd issues increasing
 * integers; only those are ordered, anything else is treated as "different".
 * @param {string | undefined} a
 * @param {string | undefined} b
 */
function isNewer(a, b) {
  if (a === undefined) return false;
  if (b === undefined) return true;
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(a) > BigInt(b);
  return a !== b;
}

/**
 * A resourceVersion as an integer, or -1n when it is not one.
 * @param {string | undefined} rv
 */
function rvNumber(rv) {
  return typeof rv === 'string' && /^\d{1,20}$/.test(rv) ? BigInt(rv) : -1n;
}

/**
 * Keep only what the proxy serves: no managedFields, annotations, status.
 * @param {string} resource
 * @param {KubeObject} obj
 * @returns {KubeObject}
 */
function trim(resource, obj) {
  const m = obj.metadata || {};
  const metadata = { name: m.name, namespace: m.namespace, resourceVersion: m.resourceVersion, labels: m.labels || {} };
  if (resource === 'configmaps') {
    /** @type {KubeObject} */
    const cm = { metadata, data: new ConfigMapData(obj.data || {}) };
    if (obj.immutable === true) cm.immutable = true;
    // Kept (rare, small) because a ConfigMap a controller owns is never written (kv.js writeRefusal).
    if (Array.isArray(m.ownerReferences) && m.ownerReferences.length > 0) {
      /** @type {KubeObject} */ (metadata).ownerReferences = m.ownerReferences.map((/** @type {KubeObject} */ o) => ({ kind: o.kind, name: o.name }));
    }
    return cm;
  }
  if (resource === 'services') {
    const spec = obj.spec || {};
    return { metadata, spec: { type: spec.type, clusterIP: spec.clusterIP, clusterIPs: spec.clusterIPs, ports: spec.ports || [] } };
  }
  return { metadata, addressType: obj.addressType, endpoints: obj.endpoints || [], ports: obj.ports || [] };
}

/** @param {number} ms @param {AbortSignal} signal */
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve(undefined);
    }
    signal.addEventListener('abort', done);
  });
}

/**
 * @param {number} previous
 * @param {number} cap
 */
function nextBackoff(previous, cap) {
  const base = Math.min(cap, previous === 0 ? BACKOFF_START_MS : previous * 2);
  return Math.round(base * (0.8 + Math.random() * 0.2));
}

class Informer {
  /**
   * @param {Scope} scope
   * @param {import('./kube.js').KubeClient} kube
   * @param {Cache} cache
   * @param {import('./log.js').Logger} log
   * @param {import('./metrics.js').Metrics} metrics
   */
  constructor(scope, kube, cache, log, metrics) {
    this.scope = scope;
    this.kube = kube;
    this.cache = cache;
    this.log = log;
    this.metrics = metrics;
    /** listed at least once */
    this.synced = false;
    /** the last list or watch attempt failed, or the open watch broke: reads may be stale */
    this.failing = false;
    /** @type {string | undefined} resume point; undefined = list first */
    this.resourceVersion = undefined;
    /**
     * The highest resourceVersion seen (list, event or bookmark) as an
     * integer: every change up to it has been applied to the cache.
     */
    this.progress = -1n;
    this.abort = new AbortController();
    /** @type {Promise<void> | undefined} */
    this.running = undefined;
  }

  get description() {
    const s = this.scope;
    return `${s.resource} in ${s.namespace}${s.name ? ` named ${s.name}` : ''}`;
  }

  /** @param {KubeObject} obj */
  covers(obj) {
    const m = obj.metadata || {};
    return m.namespace === this.scope.namespace && (this.scope.name === undefined || m.name === this.scope.name);
  }

  /** @param {KubeObject} obj whether this informer's watch would deliver it */
  matches(obj) {
    return this.covers(obj) && (!this.scope.labelSelector || this.scope.labelSelector.matches(obj.metadata.labels));
  }

  /** @private */
  selectors() {
    return {
      labelSelector: this.scope.labelSelector ? this.scope.labelSelector.text : undefined,
      fieldSelector: this.scope.name ? `metadata.name=${this.scope.name}` : undefined,
    };
  }

  start() {
    this.running = this.run().catch((err) => {
      this.log.error('informer crashed', { collection: this.description, ...errorFields(err) });
    });
  }

  async stop() {
    this.abort.abort();
    await this.running;
  }

  /** @private */
  async run() {
    const signal = this.abort.signal;
    let delay = 0;
    while (!signal.aborted) {
      if (delay > 0) await sleep(delay, signal);
      if (signal.aborted) break;
      if (this.resourceVersion === undefined) {
        try {
          await this.list();
          delay = 0;
        } catch (err) {
          this.failing = true;
          const rejected = /** @type {{ kind?: string }} */ (err).kind === 'rejected';
          delay = nextBackoff(delay, rejected ? BACKOFF_CAP_REJECTED_MS : BACKOFF_CAP_MS);
          this.log.warn('list failed, retrying', { collection: this.description, retryInMs: delay, error: /** @type {Error} */ (err).message });
          continue;
        }
      }
      const timeoutSeconds = crypto.randomInt(WATCH_MIN_SECONDS, WATCH_MAX_SECONDS + 1);
      const started = Date.now();
      /** @type {'expired' | 'error-event' | undefined} */
      let stopReason;
      const outcome = await this.kube.watch(
        this.scope.apiPath,
        {
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: 'true',
          timeoutSeconds: String(timeoutSeconds),
          ...this.selectors(),
        },
        this.scope.resource,
        {
          signal,
          idleTimeoutMs: (timeoutSeconds + 60) * 1000,
          onOpen: () => {
            if (this.failing) this.log.info('watch re-established', { collection: this.description, resourceVersion: this.resourceVersion });
            this.failing = false;
            delay = 0;
          },
          onEvent: (event) => {
            const reason = this.onEvent(event);
            if (reason) stopReason = reason;
            return reason !== undefined;
          },
        },
      );
      if (signal.aborted) break;
      const resource = this.scope.resource;
      if ((outcome.kind === 'stopped' && stopReason === 'expired') || (outcome.kind === 'status' && outcome.status === 410)) {
        this.metrics.watchRestarts.inc({ resource, reason: 'expired' });
        this.log.info('watch expired (410), relisting', { collection: this.description, resourceVersion: this.resourceVersion });
        this.resourceVersion = undefined;
        delay = 0;
      } else if (outcome.kind === 'ended') {
        this.metrics.watchRestarts.inc({ resource, reason: 'closed' });
        delay = Date.now() - started < 1000 ? nextBackoff(delay, BACKOFF_CAP_MS) : 0;
      } else {
        this.failing = true;
        this.metrics.watchRestarts.inc({ resource, reason: 'error' });
        const rejected = outcome.kind === 'status' && (outcome.status === 401 || outcome.status === 403);
        delay = nextBackoff(delay, rejected ? BACKOFF_CAP_REJECTED_MS : BACKOFF_CAP_MS);
        const why =
          outcome.kind === 'failed'
            ? outcome.error.message
            : outcome.kind === 'status'
              ? `HTTP ${outcome.status} ${statusMessage(outcome.body)}`
              : 'ERROR event';
        this.log.warn('watch failed, reconnecting', { collection: this.description, retryInMs: delay, error: why });
      }
    }
  }

  /**
   * @private
   * @param {import('./kube.js').WatchEvent} event
   * @returns {'expired' | 'error-event' | undefined} why the stream must stop
   */
  onEvent(event) {
    const obj = event && event.object;
    const type = event && event.type;
    this.metrics.watchEvents.inc({ resource: this.scope.resource, type: String(type) });
    if (type === 'ERROR') {
      if (obj && obj.code === 410) return 'expired';
      this.log.warn('watch ERROR event', { collection: this.description, code: obj && obj.code, message: statusMessage(obj) });
      return 'error-event';
    }
    if (!obj || !obj.metadata) return undefined;
    const rv = obj.metadata.resourceVersion;
    if (type === 'ADDED' || type === 'MODIFIED') this.cache.upsert(this.scope.resource, obj);
    else if (type === 'DELETED') this.cache.remove(this.scope.resource, obj);
    else if (type !== 'BOOKMARK') return undefined;
    if (rv) {
      this.resourceVersion = rv;
      this.advance(rv);
    }
    return undefined;
  }

  /**
   * @private
   * @param {string} rv
   */
  advance(rv) {
    const n = rvNumber(rv);
    if (n > this.progress) {
      this.progress = n;
      this.cache.progressed();
    }
  }

  /** @private */
  async list() {
    const resource = this.scope.resource;
    for (let attempt = 0; ; attempt++) {
      /** @type {KubeObject[]} */
      const items = [];
      /** @type {string | undefined} */
      let cont;
      let listRv;
      let expired = false;
      do {
        const r = await this.kube.request('GET', this.scope.apiPath, {
          verb: 'list',
          resource,
          query: { ...this.selectors(), limit: PAGE_SIZE, continue: cont },
        });
        if (r.status === 410 && cont !== undefined) {
          expired = true; // the continue token outlived the history: start over
          break;
        }
        if (r.status !== 200 || !r.body || !Array.isArray(r.body.items)) {
          throw new Error(`list ${this.description} answered ${r.status}: ${statusMessage(r.body)}`);
        }
        items.push(...r.body.items);
        listRv = r.body.metadata && r.body.metadata.resourceVersion;
        cont = r.body.metadata && r.body.metadata.continue ? r.body.metadata.continue : undefined;
      } while (cont !== undefined);
      if (expired && attempt < 3) continue;
      if (expired || typeof listRv !== 'string') throw new Error(`list ${this.description} did not complete`);
      this.metrics.relists.inc({ resource });
      this.cache.replace(this, items, listRv);
      this.resourceVersion = listRv;
      this.advance(listRv);
      if (!this.synced) this.log.info('collection synced', { collection: this.description, objects: items.length, resourceVersion: listRv });
      this.synced = true;
      return;
    }
  }
}

class Cache {
  /**
   * @param {import('./log.js').Logger} log
   * @param {import('./metrics.js').Metrics} metrics
   */
  constructor(log, metrics) {
    this.log = log;
    /** @type {Map<string, Map<string, KubeObject>>} resource -> "ns/name" -> object */
    this.objects = new Map([
      ['configmaps', new Map()],
      ['services', new Map()],
      ['endpointslices', new Map()],
    ]);
    /** @type {Informer[]} */
    this.informers = [];
    /** @private @type {Map<string, Set<(reason: WakeReason) => void>>} */
    this.waiters = new Map();
    /** @private @type {Set<{ ready: () => boolean, wake: (reason: WakeReason) => void }>} */
    this.conditions = new Set();
    this.shuttingDown = false;
    /** @private @type {Map<string, bigint>} "resource/namespace" -> resourceVersion of the latest removal seen */
    this.removals = new Map();
    metrics.cacheObjects.collect = () => [...this.objects].map(([resource, m]) => ({ labels: { resource }, value: m.size }));
    metrics.stale.collect = () => [{ value: this.informers.some((i) => i.synced && i.failing) ? 1 : 0 }];
  }

  /** @param {Informer} informer */
  add(informer) {
    this.informers.push(informer);
  }

  start() {
    for (const i of this.informers) i.start();
  }

  /** Stop every watch and answer every waiting blocking read. */
  async stop() {
    this.shuttingDown = true;
    this.wakeAll('shutdown');
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  /** Every watched collection has been listed. */
  ready() {
    return this.informers.every((i) => i.synced);
  }

  /** Collections not listed yet (for /readyz). */
  pending() {
    return this.informers.filter((i) => !i.synced).map((i) => i.description);
  }

  /**
   * @param {string} resource
   * @param {string} namespace
   * @param {string} [name]
   */
  informerFor(resource, namespace, name) {
    return this.informers.find(
      (i) => i.scope.resource === resource && i.scope.namespace === namespace && (i.scope.name === undefined || i.scope.name === name),
    );
  }

  /**
   * Whether reads of these objects can be answered, and whether they may be stale.
   * @param {string} resource
   * @param {string} namespace
   * @param {string} [name]
   */
  state(resource, namespace, name) {
    // On every read: no allocation (the answers are shared constants).
    let found = false;
    let synced = true;
    let stale = false;
    for (const i of this.informers) {
      const s = i.scope;
      if (s.resource !== resource || s.namespace !== namespace || (name !== undefined && s.name !== undefined && s.name !== name)) continue;
      found = true;
      if (!i.synced) synced = false;
      if (i.failing) stale = true;
    }
    if (!found || !synced) return stale ? LOADING_STALE : LOADING;
    return stale ? SYNCED_STALE : SYNCED;
  }

  /**
   * @param {string} resource
   * @param {string} namespace
   * @param {string} name
   * @returns {KubeObject | undefined}
   */
  get(resource, namespace, name) {
    return /** @type {Map<string, KubeObject>} */ (this.objects.get(resource)).get(`${namespace}/${name}`);
  }

  /**
   * @param {string} resource
   * @param {string} namespace
   * @returns {KubeObject[]}
   */
  list(resource, namespace) {
    return [.../** @type {Map<string, KubeObject>} */ (this.objects.get(resource)).values()].filter((o) => o.metadata.namespace === namespace);
  }

  /**
   * Store an object unless the cache already holds a newer version.
   * @param {string} resource
   * @param {KubeObject} obj
   */
  upsert(resource, obj) {
    const store = /** @type {Map<string, KubeObject>} */ (this.objects.get(resource));
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    const existing = store.get(key);
    if (existing && !isNewer(obj.metadata.resourceVersion, existing.metadata.resourceVersion)) return;
    store.set(key, trim(resource, obj));
    this.notify(resource, key, 'changed');
  }

  /**
   * @param {string} resource
   * @param {KubeObject} obj the object as deleted
   */
  remove(resource, obj) {
    const store = /** @type {Map<string, KubeObject>} */ (this.objects.get(resource));
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    const existing = store.get(key);
    if (!existing || isNewer(existing.metadata.resourceVersion, obj.metadata.resourceVersion)) return;
    store.delete(key);
    this.noteRemoval(resource, obj.metadata.namespace, obj.metadata.resourceVersion);
    this.notify(resource, key, 'changed');
  }

  /**
   * Replace what an informer covers with a fresh list, keeping objects the
   * proxy wrote after the list was taken.
   * @param {Informer} informer
   * @param {KubeObject[]} items
   * @param {string} listRv
   */
  replace(informer, items, listRv) {
    const resource = informer.scope.resource;
    const store = /** @type {Map<string, KubeObject>} */ (this.objects.get(resource));
    const seen = new Set();
    for (const item of items) {
      if (!item.metadata.namespace) item.metadata.namespace = informer.scope.namespace;
      seen.add(`${item.metadata.namespace}/${item.metadata.name}`);
      this.upsert(resource, item);
    }
    for (const [key, obj] of store) {
      if (informer.covers(obj) && !seen.has(key) && !isNewer(obj.metadata.resourceVersion, listRv)) {
        store.delete(key);
        this.noteRemoval(resource, obj.metadata.namespace, listRv);
        this.notify(resource, key, 'changed');
      }
    }
  }

  /**
   * @private
   * @param {string} resource
   * @param {string} namespace
   * @param {string | undefined} rv the deletion's resourceVersion (or the relist's)
   */
  noteRemoval(resource, namespace, rv) {
    const key = `${resource}/${namespace}`;
    const n = rvNumber(rv);
    if (n > (this.removals.get(key) ?? -1n)) this.removals.set(key, n);
  }

  /**
   * The resourceVersion of the latest removal of an object of this kind from
   * the namespace (-1n if none): blocking reads over many objects wake on it.
   * @param {string} resource
   * @param {string} namespace
   */
  removedAt(resource, namespace) {
    return this.removals.get(`${resource}/${namespace}`) ?? -1n;
  }

  /**
   * Apply an object returned by a write the proxy made (PATCH or create).
   * @param {string} resource
   * @param {KubeObject} obj
   */
  applyWrite(resource, obj) {
    const informer = this.informerFor(resource, obj.metadata.namespace, obj.metadata.name);
    if (informer && informer.matches(obj)) this.upsert(resource, obj);
  }

  /**
   * Wait until the object at this key changes, the timeout passes, the
   * client goes away or the server shuts down.
   * @param {string} resource
   * @param {string} namespace
   * @param {string} name
   * @param {number} timeoutMs
   * @param {AbortSignal} signal
   * @returns {Promise<WakeReason>}
   */
  waitForChange(resource, namespace, name, timeoutMs, signal) {
    if (this.shuttingDown) return Promise.resolve('shutdown');
    if (signal.aborted) return Promise.resolve('aborted');
    const key = `${resource}/${namespace}/${name}`;
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) {
        set = new Set();
        this.waiters.set(key, set);
      }
      const waiters = set;
      /** @param {WakeReason} reason */
      const wake = (reason) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        waiters.delete(wake);
        if (waiters.size === 0 && this.waiters.get(key) === waiters) this.waiters.delete(key);
        resolve(reason);
      };
      const timer = setTimeout(() => wake('timeout'), timeoutMs);
      const onAbort = () => wake('aborted');
      signal.addEventListener('abort', onAbort);
      waiters.add(wake);
    });
  }

  /**
   * @private
   * @param {string} resource
   * @param {string} key
   * @param {WakeReason} reason
   */
  notify(resource, key, reason) {
    const set = this.waiters.get(`${resource}/${key}`);
    if (set) for (const wake of [...set]) wake(reason);
    this.progressed();
  }

  /** @param {WakeReason} reason */
  wakeAll(reason) {
    for (const set of [...this.waiters.values()]) for (const wake of [...set]) wake(reason);
    for (const c of [...this.conditions]) c.wake(reason);
  }

  /**
   * The index this replica has seen for an object: the higher of its cached
   * version and the progress of the watch that covers it (every change up to
   * that has been applied). -1n when unknown.
   * @param {string} resource
   * @param {string} namespace
   * @param {string} name
   * @returns {bigint}
   */
  seenIndex(resource, namespace, name) {
    const informers = this.informers.filter(
      (i) => i.scope.resource === resource && i.scope.namespace === namespace && (i.scope.name === undefined || i.scope.name === name),
    );
    let seen = informers.length > 0 ? informers.reduce((m, i) => (i.progress < m ? i.progress : m), informers[0].progress) : -1n;
    const obj = this.get(resource, namespace, name);
    const own = obj ? rvNumber(obj.metadata.resourceVersion) : -1n;
    if (own > seen) seen = own;
    return seen;
  }

  /**
   * Whether this replica has seen index n for the object (read-your-writes).
   * @param {string} resource
   * @param {string} namespace
   * @param {string} name
   * @param {bigint} n
   */
  hasSeen(resource, namespace, name, n) {
    return this.seenIndex(resource, namespace, name) >= n;
  }

  /**
   * Wait until ready() holds (checked on every cache change and watch
   * progress), the timeout passes, the client goes away or the server shuts down.
   * @param {() => boolean} ready
   * @param {number} timeoutMs
   * @param {AbortSignal} signal
   * @returns {Promise<WakeReason>} 'changed' once ready() holds
   */
  waitUntil(ready, timeoutMs, signal) {
    if (ready()) return Promise.resolve('changed');
    if (this.shuttingDown) return Promise.resolve('shutdown');
    if (signal.aborted) return Promise.resolve('aborted');
    return new Promise((resolve) => {
      /** @param {WakeReason} reason */
      const wake = (reason) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.conditions.delete(entry);
        resolve(reason);
      };
      const entry = { ready, wake };
      const timer = setTimeout(() => wake('timeout'), timeoutMs);
      const onAbort = () => wake('aborted');
      signal.addEventListener('abort', onAbort);
      this.conditions.add(entry);
    });
  }

  /** Watch progress or a change: wake the conditions that now hold. */
  progressed() {
    if (this.conditions.size === 0) return;
    for (const c of [...this.conditions]) if (c.ready()) c.wake('changed');
  }
}

/**
 * The informers a configuration needs: ConfigMaps per namespace (or per
 * namespace and name when KV_CONFIGMAP_NAMES pins them, so RBAC can use
 * resourceNames), plus Services and EndpointSlices when discovery is on.
 * @param {import('./config.js').Config} config
 * @returns {Scope[]}
 */
function scopesFor(config) {
  /** @type {Scope[]} */
  const scopes = [];
  for (const ns of config.namespaces) {
    const apiPath = `/api/v1/namespaces/${ns}/configmaps`;
    for (const name of config.configMapNames || [undefined]) {
      scopes.push({ resource: 'configmaps', apiPath, namespace: ns, name, labelSelector: config.labelSelector });
    }
    if (config.discoveryEnabled) {
      scopes.push({ resource: 'services', apiPath: `/api/v1/namespaces/${ns}/services`, namespace: ns, name: undefined, labelSelector: undefined });
      scopes.push({
        resource: 'endpointslices',
        apiPath: `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
        namespace: ns,
        name: undefined,
        labelSelector: undefined,
      });
    }
  }
  return scopes;
}

module.exports = { Cache, Informer, scopesFor, isNewer, rvNumber };
