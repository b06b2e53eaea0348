// @ts-check
'use strict';
/**
 * Kubernetes API client: plain requests and watch streams.
 *
 * In a pod it talks to https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
 * with the service account token (re-read every minute, and right after a
 * 401, because bound tokens rotate) and the cluster CA. With KUBE_API_URL it
 * talks to that URL, e.g. `kubectl proxy`, optionally with KUBE_TOKEN_FILE
 * and KUBE_CA_FILE.
 *
 * Failures that are not the caller's business become UpstreamError:
 * no connection, timeouts, 5xx and 429 are "unavailable" (the proxy answers
 * 503), 401/403 are "rejected" (502: the proxy itself is misconfigured).
 * Every request has a deadline for the whole exchange (KV_UPSTREAM_TIMEOUT_SECONDS,
 * 30 s for list pages), so an API server that accepts connections and
 * never answers costs a client at most that long.
 * Other statuses (404, 409, 410, 422, ...) are returned to the caller.
 */
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');

const TOKEN_TTL_MS = 60_000;
/** Lists of large collections may take longer than a write may wait. */
const LIST_TIMEOUT_MS = 30_000;

class UpstreamError extends Error {
  /**
   * @param {'unavailable' | 'rejected'} kind
   * @param {string} message
   * @param {{ status?: number, retryAfterSeconds?: number, timedOut?: boolean }} [extra]
   */
  constructor(kind, message, extra = {}) {
    super(message);
    this.name = 'UpstreamError';
    this.kind = kind;
    this.timedOut = extra.timedOut === true;
    this.status = extra.status;
    this.retryAfterSeconds = extra.retryAfterSeconds;
  }
}

/**
 * @typedef {{ status: number, body: any }} KubeResponse
 * @typedef {{ type: string, object: any }} WatchEvent
 * @typedef {{ kind: 'ended' } | { kind: 'stopped' } | { kind: 'failed', error: Error } | { kind: 'status', status: number, body: any }} WatchOutcome
 * @typedef {{
 *   onOpen: () => void,
 *   onEvent: (event: WatchEvent) => boolean | void,
 *   signal: AbortSignal,
 *   idleTimeoutMs: number,
 * }} WatchHandlers  onEvent returns true to stop the stream
 */

/**
 * A short message from an API server error body (a Status object, or text).
 * @param {any} body
 */
function statusMessage(body) {
  if (body && typeof body === 'object' && typeof body.message === 'string') return body.message;
  if (typeof body === 'string') return body.slice(0, 200);
  return '';
}

class KubeClient {
  /**
   * @param {import('./config.js').KubeConfig} config
   * @param {import('./log.js').Logger} log
   * @param {import('./metrics.js').Metrics} metrics
   * @param {number} [timeoutMs] deadline of one request (KV_UPSTREAM_TIMEOUT_SECONDS)
   */
  constructor(config, log, metrics, timeoutMs = 3000) {
    this.baseUrl = config.baseUrl;
    this.timeoutMs = timeoutMs;
    this.tokenFile = config.tokenFile;
    this.log = log;
    this.metrics = metrics;
    this.https = config.baseUrl.protocol === 'https:';
    /** @type {Buffer | undefined} */
    this.ca = undefined;
    if (config.caFile) {
      try {
        this.ca = fs.readFileSync(config.caFile);
      } catch (err) {
        throw new Error(`cannot read the Kubernetes API CA certificate ${config.caFile}: ${/** @type {NodeJS.ErrnoException} */ (err).code || err}`);
      }
    }
    /** @private @type {{ value: string | undefined, readAt: number }} */
    this.token = { value: undefined, readAt: 0 };
    if (this.tokenFile) this.readToken(true);
    const options = { keepAlive: true, maxSockets: 64, ...(this.ca ? { ca: this.ca } : {}) };
    /** @private */
    this.agent = this.https ? new https.Agent(options) : new http.Agent(options);
    /** @private watches get their own connections so they never queue behind requests */
    this.watchAgent = this.https ? new https.Agent({ keepAlive: false, ...(this.ca ? { ca: this.ca } : {}) }) : new http.Agent({ keepAlive: false });
  }

  /**
   * @private
   * @param {boolean} strict throw instead of keeping the previous token
   */
  readToken(strict) {
    if (!this.tokenFile) return;
    try {
      const value = fs.readFileSync(this.tokenFile, 'utf8').trim();
      if (value === '') throw new Error('the file is empty');
      this.token = { value, readAt: Date.now() };
    } catch (err) {
      const reason = /** @type {NodeJS.ErrnoException} */ (err).code || /** @type {Error} */ (err).message;
      if (strict) throw new Error(`cannot read the Kubernetes API token ${this.tokenFile}: ${reason}`);
      this.log.warn('cannot re-read the Kubernetes API token, keeping the previous one', { file: this.tokenFile, reason });
      this.token.readAt = Date.now();
    }
  }

  /** @private */
  headers() {
    if (this.tokenFile && Date.now() - this.token.readAt > TOKEN_TTL_MS) this.readToken(false);
    /** @type {Record<string, string>} */
    const h = { 'Accept': 'application/json', 'User-Agent': 'kv-proxy' };
    if (this.token.value) h.Authorization = `Bearer ${this.token.value}`;
    return h;
  }

  /**
   * @private
   * @param {string} path e.g. /api/v1/namespaces/default/configmaps
   * @param {Record<string, string | undefined>} [query]
   */
  url(path, query = {}) {
    const url = new URL(this.baseUrl.href);
    url.pathname = `${this.baseUrl.pathname.replace(/\/$/, '')}${path}`;
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    return url;
  }

  /**
   * @private
   * @param {string} verb
   * @param {string} resource
   * @param {number} status
   */
  count(verb, resource, status) {
    this.metrics.upstreamRequests.inc({ verb, resource, code: status });
    if (status === 401) this.token.readAt = 0; // a rotated token: read it again next time
  }

  /**
   * One request. Resolves with status and parsed body for statuses the caller
   * handles; rejects with UpstreamError otherwise.
   * @param {string} method
   * @param {string} path
   * @param {{
   *   verb: string, resource: string, query?: Record<string, string | undefined>,
   *   body?: unknown, contentType?: string, deadline?: number,
   * }} options
   *   deadline: Date.now() by which the answer must be in (a write's overall bound)
   * @returns {Promise<KubeResponse>}
   */
  async request(method, path, options) {
    const { verb, resource } = options;
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const timeoutMs = Math.min(
      verb === 'list' ? LIST_TIMEOUT_MS : this.timeoutMs,
      options.deadline === undefined ? Infinity : options.deadline - Date.now(),
    );
    let res;
    try {
      if (timeoutMs <= 0) throw Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' });
      res = await this.send(method, this.url(path, options.query), payload, options.contentType, timeoutMs);
    } catch (err) {
      const e = /** @type {NodeJS.ErrnoException} */ (err);
      this.metrics.upstreamRequests.inc({ verb, resource, code: 0 });
      const timedOut = e.code === 'ETIMEDOUT';
      this.metrics.upstreamErrors.inc({ verb, resource, reason: timedOut ? 'timeout' : 'connection' });
      throw new UpstreamError(
        'unavailable',
        timedOut
          ? `the Kubernetes API did not answer within ${Math.round(this.timeoutMs / 100) / 10} s`
          : `Kubernetes API unreachable: ${e.code || e.message}`,
        { timedOut },
      );
    }
    this.count(verb, resource, res.status);
    if (res.status === 401 || res.status === 403) {
      this.metrics.upstreamErrors.inc({ verb, resource, reason: res.status === 401 ? 'unauthorized' : 'forbidden' });
      throw new UpstreamError('rejected', `Kubernetes API refused ${verb} ${resource} (${res.status}): ${statusMessage(res.body)}`, {
        status: res.status,
      });
    }
    if (res.status >= 500 || res.status === 429) {
      this.metrics.upstreamErrors.inc({ verb, resource, reason: `http_${res.status}` });
      throw new UpstreamError('unavailable', `Kubernetes API error ${res.status}: ${statusMessage(res.body)}`, {
        status: res.status,
        retryAfterSeconds: res.retryAfter,
      });
    }
    return { status: res.status, body: res.body };
  }

  /**
   * @private
   * @param {string} method
   * @param {URL} url
   * @param {Buffer | undefined} payload
   * @param {string | undefined} contentType
   * @param {number} timeoutMs for the whole exchange, not per socket read
   * @param {boolean} [retried]
   * @returns {Promise<{ status: number, body: any, retryAfter: number | undefined }>}
   */
  send(method, url, payload, contentType, timeoutMs, retried = false) {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const headers = this.headers();
      if (payload) {
        headers['Content-Type'] = contentType || 'application/json';
        headers['Content-Length'] = String(payload.length);
      }
      const lib = this.https ? https : http;
      const req = lib.request(url, { method, headers, agent: this.agent }, (res) => {
        const chunks = /** @type {Buffer[]} */ ([]);
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body;
          try {
            body = text === '' ? undefined : JSON.parse(text);
          } catch {
            body = text;
          }
          const retryAfter = Number(res.headers['retry-after']);
          resolve({ status: res.statusCode || 0, body, retryAfter: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined });
        });
      });
      const timer = setTimeout(() => {
        const err = /** @type {NodeJS.ErrnoException} */ (new Error('request timed out'));
        err.code = 'ETIMEDOUT';
        req.destroy(err);
      }, timeoutMs);
      req.on('close', () => clearTimeout(timer));
      req.on('error', (err) => {
        clearTimeout(timer);
        // A kept-alive connection the server had already closed: safe to try once more.
        const left = deadline - Date.now();
        if (!retried && left > 0 && req.reusedSocket && /** @type {NodeJS.ErrnoException} */ (err).code === 'ECONNRESET') {
          this.send(method, url, payload, contentType, left, true).then(resolve, reject);
        } else {
          reject(err);
        }
      });
      req.end(payload);
    });
  }

  /**
   * Open a watch and feed its events to handlers.onEvent until it ends.
   * Never rejects: the outcome says how it ended.
   * @param {string} path
   * @param {Record<string, string | undefined>} query without watch=true
   * @param {string} resource
   * @param {WatchHandlers} handlers
   * @returns {Promise<WatchOutcome>}
   */
  watch(path, query, resource, handlers) {
    return new Promise((resolve) => {
      let done = false;
      /** @param {WatchOutcome} outcome */
      const finish = (outcome) => {
        if (done) return;
        done = true;
        handlers.signal.removeEventListener('abort', onAbort);
        resolve(outcome);
      };
      const lib = this.https ? https : http;
      const req = lib.request(this.url(path, { ...query, watch: 'true' }), { headers: this.headers(), agent: this.watchAgent }, (res) => {
        const status = res.statusCode || 0;
        this.count('watch', resource, status);
        if (status !== 200) {
          const chunks = /** @type {Buffer[]} */ ([]);
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            let body;
            try {
              body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              body = undefined;
            }
            finish({ kind: 'status', status, body });
          });
          res.on('error', (error) => finish({ kind: 'failed', error }));
          return;
        }
        handlers.onOpen();
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (/** @type {string} */ chunk) => {
          buffer += chunk;
          let nl;
          while (!done && (nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line === '') continue;
            let event;
            try {
              event = JSON.parse(line);
            } catch (err) {
              req.destroy();
              finish({ kind: 'failed', error: new Error(`malformed watch event: ${/** @type {Error} */ (err).message}`) });
              return;
            }
            if (handlers.onEvent(event) === true) {
              req.destroy();
              finish({ kind: 'stopped' });
              return;
            }
          }
        });
        res.on('end', () => finish({ kind: 'ended' }));
        res.on('error', (error) => finish({ kind: 'failed', error }));
        res.on('close', () => finish({ kind: 'failed', error: new Error('watch connection closed') }));
      });
      req.setTimeout(handlers.idleTimeoutMs, () => req.destroy(new Error('watch idle timeout')));
      req.on('error', (error) => {
        if (!done) this.metrics.upstreamErrors.inc({ verb: 'watch', resource, reason: 'connection' });
        finish({ kind: 'failed', error });
      });
      const onAbort = () => {
        req.destroy();
        finish({ kind: 'stopped' });
      };
      if (handlers.signal.aborted) onAbort();
      else handlers.signal.addEventListener('abort', onAbort);
      req.end();
    });
  }

  /** Close pooled connections (shutdown). */
  close() {
    this.agent.destroy();
    this.watchAgent.destroy();
  }
}

module.exports = { KubeClient, UpstreamError, statusMessage };
