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
 *
 * Where writes may go (writeRefusal, checked here so every surface that
 * writes through KvWriter inherits it): never to the proxy's own source
 * (KV_SELF_CONFIGMAPS), to ConfigMaps the cluster publishes into every
 * namespace (kube-root-ca.crt and its kin), to ConfigMaps a controller owns
 * (ownerReferences) or to immutable ones; and, with KV_WRITE_SCOPE=labeled
 * (the default), only to ConfigMaps carrying KV_WRITABLE_LABEL or named in
 * KV_CONFIGMAP_NAMES. ConfigMaps the proxy creates carry that label. Every
 * patch pins the resourceVersion whose metadata was checked, so a ConfigMap
 * that changed meanwhile (a label removed, an owner added) is looked at again
 * (409 from the API server, then a GET) before it is written.
 */
const { HttpError } = require('./httputil.js');
const { UpstreamError, statusMessage } = require('./kube.js');
const { MAX_CONFIGMAP_BYTES } = require('./validate.js');
const { ConfigMapData, EMPTY } = require('./data.js');

/**
 * A resourceVersion as an integer, or -1n when it is not one.
 * @param {string} rv
 */
function rvNumber(rv) {
  return /^\d{1,20}$/.test(rv) ? BigInt(rv) : -1n;
}

const MERGE_PATCH = 'application/merge-patch+json';
const MAX_ATTEMPTS = 5;

/**
 * ConfigMaps the cluster (or a platform component) publishes into every
 * namespace: the CA bundles pods trust. Never written nor created, whatever
 * the configuration.
 */
const CLUSTER_CONFIGMAPS = new Map([
  ['kube-root-ca.crt', "the cluster's CA bundle, published by kube-controller-manager; every pod in the namespace trusts it for the API server"],
  ['openshift-service-ca.crt', "OpenShift's service CA bundle, published into every namespace"],
  ['istio-ca-root-cert', "Istio's root CA, published into every namespace by istiod"],
]);

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
  return new HttpError(
    503,
    err.timedOut
      ? `${err.message}: the write may or may not have been applied; read it back (or write with If-Match) before retrying`
      : 'the Kubernetes API is unavailable, try again later',
    { 'Retry-After': String(err.retryAfterSeconds || 2) },
  );
}

/**
 * @param {string} namespace
 * @param {string} name
 */
function immutable(namespace, name) {
  return new HttpError(403, `configmap "${namespace}/${name}" is immutable: its keys cannot change; create a new ConfigMap instead`);
}

/**
 * Why the proxy must not write (nor create) this ConfigMap, or null when it
 * may. Every write goes through KvWriter, which checks this against the
 * ConfigMap as the cache or the API server holds it, and pins that version;
 * other surfaces call it too, to refuse before reading a body. The answer
 * for a refusal is 403 with this reason.
 * @param {Pick<import('./config.js').Config, 'selfConfigMaps' | 'configMapNames' | 'writableLabel' | 'writeScope'>} config
 * @param {string} namespace
 * @param {string} name
 * @param {KubeObject | undefined} cm the ConfigMap as it exists (trimmed by the cache or as the
 *   API server sent it); undefined when it does not exist (a create)
 * @returns {string | null}
 */
function writeRefusal(config, namespace, name, cm) {
  const ref = `${namespace}/${name}`;
  for (const self of config.selfConfigMaps || []) {
    if (self.endsWith('*') ? ref.startsWith(self.slice(0, -1)) : ref === self) {
      return `configmap "${ref}" holds this proxy's own code and cannot be written through it`;
    }
  }
  const published = CLUSTER_CONFIGMAPS.get(name);
  if (published !== undefined) return `configmap "${ref}" is ${published}: it is never written through this proxy`;
  if (!cm) return null;
  if (cm.immutable === true) return `configmap "${ref}" is immutable: its keys cannot change; create a new ConfigMap instead`;
  const meta = cm.metadata || {};
  const owners = Array.isArray(meta.ownerReferences) ? meta.ownerReferences : [];
  if (owners.length > 0) {
    const owner = owners[0] || {};
    return (
      `configmap "${ref}" is owned by ${owner.kind || 'another object'} "${owner.name || '?'}" (ownerReferences): ` +
      'its controller manages it, so it is never written through this proxy'
    );
  }
  if ((config.writeScope || 'labeled') === 'labeled' && !(config.configMapNames && config.configMapNames.includes(name))) {
    const { key, value } = config.writableLabel;
    const labels = meta.labels || {};
    if (!Object.hasOwn(labels, key) || labels[key] !== value) {
      return `configmap "${ref}" is not opted in to writes through this proxy: it needs the label ${key}=${value}`;
    }
  }
  return null;
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
   * writeRefusal against the ConfigMap as this replica's cache holds it, as
   * an HttpError 403 (undefined when the write may go ahead). KvWriter checks
   * again against the version it patches; this lets a handler refuse before
   * it reads a body.
   * @param {string} namespace
   * @param {string} name
   * @returns {HttpError | undefined}
   */
  refusal(namespace, name) {
    const reason = writeRefusal(this.config, namespace, name, this.cache.get('configmaps', namespace, name));
    return reason === null ? undefined : new HttpError(403, reason);
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
    if (options.ifMatch !== undefined || !options.create || options.exclusive)
      return this.mergeAlone(namespace, name, changes, options, Date.now() + timeoutMs);
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
        reject(
          upstreamHttpError(new UpstreamError('unavailable', `the Kubernetes API did not answer within ${timeoutMs / 1000} s`, { timedOut: true })),
        );
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
              await this.mergeAlone(namespace, name, m.changes, { create: true }, Date.now() + (this.config.upstreamTimeoutMs || 3000)).then(
                m.resolve,
                m.reject,
              );
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
   * One write: check the ConfigMap as it exists (writeRefusal, the label
   * selector, the size), then patch exactly the version checked, or create
   * it. A conflict (someone changed or created it meanwhile) is looked up
   * again with a GET and checked again.
   * @private
   * @param {string} namespace
   * @param {string} name
   * @param {Changes} changes
   * @param {WriteOptions} options
   * @param {number} deadline
   * @returns {Promise<KubeObject>}
   */
  async mergeOnce(namespace, name, changes, options, deadline) {
    const ifMatch = options.ifMatch;
    /** @type {KubeObject | undefined} the ConfigMap as we believe it is */
    let current = this.cache.get('configmaps', namespace, name);
    // A ConfigMap the cache does not hold may exist nonetheless: outside
    // KV_LABEL_SELECTOR, or just created. Look before anything but a create
    // (a create cannot overwrite; its 409 makes us look).
    let looked = false;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (!current && !looked && (this.config.labelSelector !== undefined || ifMatch !== undefined || !options.create)) {
        current = await this.fetch(namespace, name, deadline);
        looked = true;
      }
      const reason = writeRefusal(this.config, namespace, name, current);
      if (reason !== null) throw new HttpError(403, reason);
      // create only: one that exists already fails the precondition
      if (options.exclusive && current) throw this.preconditionFailed(namespace, name, false);

      if (!current) {
        if (ifMatch !== undefined) throw this.preconditionFailed(namespace, name, true);
        if (!options.create) throw this.notFound(namespace, name);
        this.checkSize(EMPTY, changes);
        const r = await this.kube.request('POST', `/api/v1/namespaces/${namespace}/configmaps`, {
          verb: 'create',
          resource: 'configmaps',
          body: this.newConfigMap(namespace, name, changes),
          deadline,
        });
        if (r.status === 201 || r.status === 200) return this.stored(r.body);
        if (r.status !== 409) throw this.unexpected('create', r, namespace, name);
        if (options.exclusive) throw this.preconditionFailed(namespace, name, false);
        // someone else created it first: look at theirs before merging into it
        current = await this.fetch(namespace, name, deadline);
        looked = true;
        continue;
      }

      const selector = this.config.labelSelector;
      if (selector && !selector.matches(current.metadata && current.metadata.labels)) {
        throw new HttpError(403, `configmap "${namespace}/${name}" does not match KV_LABEL_SELECTOR and cannot be written through this proxy`);
      }
      this.checkSize(current.data instanceof ConfigMapData ? current.data : new ConfigMapData(current.data || {}), changes);
      const checkedRv = String(current.metadata.resourceVersion);
      const pinned = ifMatch !== undefined && ifMatch !== '*' ? ifMatch : checkedRv;
      // A client's If-Match older than the version checked cannot succeed (the API server
      // answers 409: 412). A newer one is a version not checked yet: look at it first.
      if (pinned !== checkedRv && !(rvNumber(pinned) >= 0n && rvNumber(pinned) < rvNumber(checkedRv))) {
        if (looked) throw this.preconditionFailed(namespace, name, false);
        current = await this.fetch(namespace, name, deadline);
        looked = true;
        continue;
      }
      // Pin the version whose metadata was checked: the API server refuses (409) if it changed since.
      const r = await this.kube.request('PATCH', `/api/v1/namespaces/${namespace}/configmaps/${name}`, {
        verb: 'patch',
        resource: 'configmaps',
        body: { metadata: { resourceVersion: pinned }, data: changes },
        contentType: MERGE_PATCH,
        deadline,
      });
      if (r.status === 200) return this.stored(r.body);
      if (r.status === 404) {
        current = undefined;
        looked = true;
        continue;
      }
      if (r.status === 409) {
        if (ifMatch !== undefined && ifMatch !== '*') throw this.preconditionFailed(namespace, name, false);
        current = await this.fetch(namespace, name, deadline);
        looked = true;
        continue;
      }
      throw this.unexpected('patch', r, namespace, name);
    }
    throw new HttpError(503, 'too many concurrent changes to this configmap, try again', { 'Retry-After': '1' });
  }

  /**
   * The ConfigMap as the API server holds it now, or undefined.
   * @private
   * @param {string} namespace
   * @param {string} name
   * @param {number} deadline
   * @returns {Promise<KubeObject | undefined>}
   */
  async fetch(namespace, name, deadline) {
    const r = await this.kube.request('GET', `/api/v1/namespaces/${namespace}/configmaps/${name}`, { verb: 'get', resource: 'configmaps', deadline });
    if (r.status === 404) return undefined;
    if (r.status !== 200 || !r.body || !r.body.metadata) throw this.unexpected('get', r, namespace, name);
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
      throw new HttpError(
        404,
        `configmap "${namespace}/${name}" does not exist: with KV_CONFIGMAP_NAMES this proxy does not create ConfigMaps; create it first`,
      );
    }
    const data = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== null));
    /** @type {Record<string, string>} the opt-in label, so the proxy may write it again */
    const labels = { [this.config.writableLabel.key]: this.config.writableLabel.value };
    const selector = this.config.labelSelector;
    if (selector) {
      Object.assign(labels, selector.labelsForCreate());
      if (!selector.matches(labels)) {
        throw new HttpError(
          403,
          `configmap "${namespace}/${name}" does not exist and cannot be created: ` +
            `KV_LABEL_SELECTOR "${selector.text}" does not say which labels it needs`,
        );
      }
    }
    const metadata = { name, namespace, labels };
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
      throw new HttpError(
        413,
        `the configmap would hold ${bytes} bytes of keys and values, more than the ${MAX_CONFIGMAP_BYTES} a ConfigMap can hold`,
      );
    }
  }

  /**
   * @private
   * @param {string} namespace
   * @param {string} name
   * @param {boolean} missing
   */
  preconditionFailed(namespace, name, missing) {
    return new HttpError(
      412,
      missing ? `If-Match failed: configmap "${namespace}/${name}" does not exist` : `If-Match failed: configmap "${namespace}/${name}" has changed`,
    );
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

module.exports = { KvWriter, upstreamHttpError, writeRefusal, CLUSTER_CONFIGMAPS };
