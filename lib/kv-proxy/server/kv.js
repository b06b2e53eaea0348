// @ts-check
'use strict';
/**
 * Writes to ConfigMaps, as JSON merge patches (RFC 7386) so concurrent writers
 * of different keys never overwrite each other, with create-on-first-write
 * and the race of two creators handled. Reads are not here: they come from
 * the cache.
 *
 * Compare-and-set: a client's If-Match resourceVersion is sent inside the
 * patch (metadata.resourceVersion), so the API server checks it atomically
 * and its 409 Conflict becomes our 412.
 *
 * Coalescing: while one write to a ConfigMap is in flight, the plain merges
 * (no If-Match, not a delete) that arrive for it are combined into the next
 * single patch, keys in arrival order (a later writer of the same key wins, as
 * it would one after the other). Concurrent writers then cost the API server
 * one patch per round instead of one each, which keeps writes within the
 * upstream timeout when many clients write at once. A lone writer is sent at
 * once. Every writer still gets the stored ConfigMap, and its own deadline.
 */
const { HttpError } = require('./httputil.js');
const { UpstreamError, statusMessage } = require('./kube.js');
const { MAX_CONFIGMAP_BYTES } = require('./validate.js');
const { ConfigMapData, EMPTY } = require('./data.js');

const MERGE_PATCH = 'application/merge-patch+json';
const MAX_ATTEMPTS = 5;

/**
 * @typedef {Record<string, any>} KubeObject
 * @typedef {Record<string, string | null>} Changes  null removes the key
 * @typedef {{ changes: Changes, resolve: (obj: KubeObject) => void, reject: (err: unknown) => void, expired?: boolean }} Member
 * @typedef {{ ifMatch?: string, create: boolean, exclusive?: boolean }} WriteOptions
 *   ifMatch: undefined, '*' (must exist) or a resourceVersion;
 *   create: whether a missing ConfigMap may be created;
 *   exclusive: create only (412 when it exists by then), for compare-and-set on a new ConfigMap
 */

/**
 * The status a client sees for an upstream failure.
 * @param {unknown} err
 * @returns {HttpError | undefined}
 */
function upstreamHttpError(err) {
  if (!(err instanceof UpstreamError)) return undefined;
  if (err.kind === 'rejected') {
    return new HttpError(502, `the Kubernetes API refused the proxy's request (${err.status}): check the proxy's RBAC and service account`);
  }
  return new HttpError(503, err.timedOut
    ? `${err.message}: the write may or may not have been applied; read it back (or write with If-Match) before retrying`
    : 'the Kubernetes API is unavailable, try again later',
  { 'Retry-After': String(err.retryAfterSeconds || 2) });
}

/**
 * @param {string} namespace
 * @param {string} name
 */
function immutable(namespace, name) {
  return new HttpError(409, `configmap "${namespace}/${name}" is immutable: its keys cannot change; create a new ConfigMap instead`);
}

class KvWriter {
  /**
   * @param {import('./config.js').Config} config
   * @param {import('./kube.js').KubeClient} kube
   * @param {import('./cache.js').Cache} cache
   */
  constructor(config, kube, cache) {
    this.config = config;
    this.kube = kube;
    this.cache = cache;
    /**
     * Per "namespace/name": whether a write is in flight, and the writers
     * waiting for the next one.
     * @private @type {Map<string, { running: boolean, next: Member[] }>}
     */
    this.queues = new Map();
  }

  /**
   * Merge changes into a ConfigMap. Returns the ConfigMap as stored.
   * @param {string} namespace
   * @param {string} name
   * @param {Changes} changes
   * @param {WriteOptions} options
   * @returns {Promise<KubeObject>}
   */
  async merge(namespace, name, changes, options) {
    const timeoutMs = this.config.upstreamTimeoutMs || 3000;
    if (options.ifMatch !== undefined || !options.create || options.exclusive) return this.mergeAlone(namespace, name, changes, options, Date.now() + timeoutMs);
    // Coalesced with other plain merges; this writer's own bound still holds.
    this.checkSize(this.cache.get('configmaps', namespace, name)?.data ?? EMPTY, changes);
    /** @type {NodeJS.Timeout | undefined} */
    let timer;
    const member = /** @type {Member} */ ({ changes });
    const result = new Promise((resolve, reject) => {
      member.resolve = resolve;
      member.reject = reject;
    });
    const key = `${namespace}/${name}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = { running: false, next: [] };
      this.queues.set(key, queue);
    }
    queue.next.push(member);
    if (!queue.running) this.drain(namespace, name, key, queue);
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => {
        member.expired = true; // not sent yet: it never will be
        reject(upstreamHttpError(new UpstreamError('unavailable', `the Kubernetes API did not answer within ${timeoutMs / 1000} s`, { timedOut: true })));
      }, timeoutMs);
    });
    try {
      return /** @type {KubeObject} */ (await Promise.race([result, late]));
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Send the waiting writers of one ConfigMap, one combined patch at a time.
   * @private
   * @param {string} namespace
   * @param {string} name
   * @param {string} key
   * @param {{ running: boolean, next: Member[] }} queue
   */
  async drain(namespace, name, key, queue) {
    queue.running = true;
    try {
      while (queue.next.length > 0) {
        const members = queue.next.filter((m) => !m.expired);
        queue.next = [];
        if (members.length === 0) continue;
        /** @type {Changes} */
        const combined = Object.create(null);
        for (const m of members) for (const k of Object.keys(m.changes)) combined[k] = m.changes[k];
        const deadline = Date.now() + (this.config.upstreamTimeoutMs || 3000);
        try {
          const stored = await this.mergeAlone(namespace, name, combined, { create: true }, deadline);
          for (const m of members) m.resolve(stored);
        } catch (err) {
          if (members.length > 1 && err instanceof HttpError && err.status === 413) {
            // Together they do not fit: each on its own, so only the one that overflows fails.
            for (const m of members) {
              await this.mergeAlone(namespace, name, m.changes, { create: true }, Date.now() + (this.config.upstreamTimeoutMs || 3000))
                .then(m.resolve, m.reject);
            }
          } else {
            for (const m of members) m.reject(err);
          }
        }
      }
    } finally {
      queue.running = false;
      if (this.queues.get(key) === queue && queue.next.length === 0) this.queues.delete(key);
    }
  }

  /**
   * One write on its own, bounded by deadline for every attempt together
   * (KV_UPSTREAM_TIMEOUT_SECONDS).
   * @private
   * @param {string} namespace
   * @param {string} name
   * @param {Changes} changes
   * @param {WriteOptions} options
   * @param {number} deadline
   * @returns {Promise<KubeObject>}
   */
  async mergeAlone(namespace, name, changes, options, deadline) {
    try {
      return await this.mergeOnce(namespace, name, changes, options, deadline);
    } catch (err) {
      throw upstreamHttpError(err) || err;
    }
  }

  /**
   * @private
   * @param {string} namespace
   * @param {string} name
   * @param {Changes} changes
   * @param {WriteOptions} options
   * @param {number} deadline
   * @returns {Promise<KubeObject>}
   */
  async mergeOnce(namespace, name, changes, options, deadline) {
    const cached = this.cache.get('configmaps', namespace, name);
    this.checkSize(cached ? cached.data : EMPTY, changes);
    const selector = this.config.labelSelector;
    // A ConfigMap the cache does not hold may exist outside KV_LABEL_SELECTOR:
    // with a selector, look before patching so we never touch one.
    const verify = !cached && selector !== undefined;
    /** @type {'patch' | 'create'} */
    let mode = options.exclusive ? 'create' : cached || options.ifMatch !== undefined || !options.create ? 'patch' : 'create';

    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      let expectedRv = options.ifMatch !== undefined && options.ifMatch !== '*' ? options.ifMatch : undefined;
      if (mode === 'patch' && verify) {
        const current = await this.fetchVisible(namespace, name, deadline);
        if (!current) {
          if (options.ifMatch !== undefined) throw this.preconditionFailed(namespace, name, true);
          if (!options.create) throw this.notFound(namespace, name);
          mode = 'create';
        } else {
          this.checkSize(new ConfigMapData(current.data || {}), changes);
          // Pin the version we checked the labels of.
          if (expectedRv === undefined) expectedRv = current.metadata.resourceVersion;
          else if (expectedRv !== current.metadata.resourceVersion) throw this.preconditionFailed(namespace, name, false);
        }
      }

      if (mode === 'patch') {
        /** @type {Record<string, unknown>} */
        const patch = { data: changes };
        if (expectedRv !== undefined) patch.metadata = { resourceVersion: expectedRv };
        const r = await this.kube.request('PATCH', `/api/v1/namespaces/${namespace}/configmaps/${name}`, {
          verb: 'patch', resource: 'configmaps', body: patch, contentType: MERGE_PATCH, deadline,
        });
        if (r.status === 200) return this.stored(r.body);
        if (r.status === 404) {
          if (options.ifMatch !== undefined) throw this.preconditionFailed(namespace, name, true);
          if (!options.create) throw this.notFound(namespace, name);
          mode = 'create';
          continue;
        }
        if (r.status === 409) {
          if (options.ifMatch !== undefined) throw this.preconditionFailed(namespace, name, false);
          if (verify) continue; // changed since we looked: look again
        }
        throw this.unexpected('patch', r, namespace, name);
      }

      const r = await this.kube.request('POST', `/api/v1/namespaces/${namespace}/configmaps`, {
        verb: 'create', resource: 'configmaps', body: this.newConfigMap(namespace, name, changes), deadline,
      });
      if (r.status === 201 || r.status === 200) return this.stored(r.body);
      if (r.status === 409) {
        if (options.exclusive) throw this.preconditionFailed(namespace, name, false);
        mode = 'patch'; // someone else created it first: merge into theirs
        continue;
      }
      throw this.unexpected('create', r, namespace, name);
    }
    throw new HttpError(503, 'too many concurrent changes to this configmap, try again', { 'Retry-After': '1' });
  }

  /**
   * The ConfigMap if it exists and is visible through KV_LABEL_SELECTOR.
   * @private
   * @param {string} namespace
   * @param {string} name
   * @param {number} deadline
   * @returns {Promise<KubeObject | undefined>}
   */
  async fetchVisible(namespace, name, deadline) {
    const r = await this.kube.request('GET', `/api/v1/namespaces/${namespace}/configmaps/${name}`, { verb: 'get', resource: 'configmaps', deadline });
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw this.unexpected('get', r, namespace, name);
    const selector = /** @type {import('./selector.js').LabelSelector} */ (this.config.labelSelector);
    if (!selector.matches(r.body.metadata && r.body.metadata.labels)) {
      throw new HttpError(403, `configmap "${namespace}/${name}" does not match KV_LABEL_SELECTOR and cannot be written through this proxy`);
    }
    if (r.body.immutable === true) throw immutable(namespace, name);
    return r.body;
  }

  /**
   * @private
   * @param {string} namespace
   * @param {string} name
   * @param {Changes} changes
   */
  newConfigMap(namespace, name, changes) {
    if (this.config.configMapNames) {
      // the construct grants no create when names are given (RBAC cannot restrict create by name)
      throw new HttpError(404, `configmap "${namespace}/${name}" does not exist: with KV_CONFIGMAP_NAMES this proxy does not create ConfigMaps; create it first`);
    }
    const data = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== null));
    /** @type {Record<string, unknown>} */
    const metadata = { name, namespace };
    const selector = this.config.labelSelector;
    if (selector) {
      const labels = selector.labelsForCreate();
      if (!selector.matches(labels)) {
        throw new HttpError(403, `configmap "${namespace}/${name}" does not exist and cannot be created: KV_LABEL_SELECTOR "${selector.text}" does not say which labels it needs`);
      }
      metadata.labels = labels;
    }
    return { apiVersion: 'v1', kind: 'ConfigMap', metadata, data };
  }

  /**
   * @private
   * @param {KubeObject} obj
   */
  stored(obj) {
    if (!obj || !obj.metadata) throw new HttpError(502, 'the Kubernetes API answered a write with an unexpected body');
    this.cache.applyWrite('configmaps', obj);
    return obj;
  }

  /**
   * Refuse a change that would take the ConfigMap over the API server's
   * 1 MiB limit. Counts only the changed keys against the current size,
   * which the cached data knows.
   * @private
   * @param {import('./data.js').ConfigMapData} current
   * @param {Changes} changes
   */
  checkSize(current, changes) {
    let bytes = current.bytes;
    for (const [k, v] of Object.entries(changes)) {
      if (current.has(k)) bytes -= Buffer.byteLength(k) + current.valueBytes(k);
      if (v !== null) bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
    }
    if (bytes > MAX_CONFIGMAP_BYTES) {
      throw new HttpError(413, `the configmap would hold ${bytes} bytes of keys and values, more than the ${MAX_CONFIGMAP_BYTES} a ConfigMap can hold`);
    }
  }

  /**
   * @private
   * @param {string} namespace
   * @param {string} name
   * @param {boolean} missing
   */
  preconditionFailed(namespace, name, missing) {
    return new HttpError(412, missing
      ? `If-Match failed: configmap "${namespace}/${name}" does not exist`
      : `If-Match failed: configmap "${namespace}/${name}" has changed`);
  }

  /**
   * @private
   * @param {string} namespace
   * @param {string} name
   */
  notFound(namespace, name) {
    return new HttpError(404, `configmap "${namespace}/${name}" not found`);
  }

  /**
   * @private
   * @param {string} verb
   * @param {import('./kube.js').KubeResponse} r
   * @param {string} namespace
   * @param {string} name
   */
  unexpected(verb, r, namespace, name) {
    const message = statusMessage(r.body);
    if (r.status === 422 && /field is immutable when `immutable` is set/.test(message)) return immutable(namespace, name);
    if (r.status === 422 && /Too long|at most \d+ bytes/.test(message)) {
      return new HttpError(413, 'the configmap would exceed the 1 MiB a ConfigMap can hold');
    }
    if (r.status === 422 || r.status === 400) return new HttpError(400, `the Kubernetes API rejected the change: ${message}`);
    return new HttpError(502, `unexpected answer from the Kubernetes API to ${verb} (${r.status}): ${message}`);
  }
}

module.exports = { KvWriter, upstreamHttpError };
