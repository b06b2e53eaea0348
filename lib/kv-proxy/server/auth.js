// @ts-check
'use strict';
/**
 * Client authentication with bearer tokens from a mounted Secret.
 *
 * KV_TOKENS_DIR holds the files `read-tokens` and `write-tokens`: one token per
 * line, blank lines and lines starting with # ignored. A write token can also
 * read. An optional `metrics-tokens` file holds tokens that may only scrape
 * /metrics (with KV_METRICS_AUTH=token), so a scraper never holds a key reader. Only SHA-256 digests are kept in memory; a presented token is hashed
 * and compared with every known digest using crypto.timingSafeEqual, so the
 * time taken does not depend on how much of a token matched or which one did.
 *
 * The files are re-read when they change: Secret volumes are updated by the
 * kubelet swapping a symlink, which fs.watch on the directory sees; a poll
 * every few seconds covers file systems where it does not.
 */
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { errorFields } = require('./log.js');

const FILES = /** @type {const} */ (['read-tokens', 'write-tokens', 'metrics-tokens']);
const POLL_MS = 2000;
const MAX_TOKEN_LENGTH = 4096;

/** @typedef {'read' | 'write' | 'metrics'} Role */

/** @param {string} token */
function digest(token) {
  return crypto.createHash('sha256').update(token, 'utf8').digest();
}

/**
 * @param {string} content
 * @returns {string[]}
 */
function parseTokens(content) {
  return content.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/**
 * The token from an `Authorization: Bearer <token>` header.
 * @param {string | undefined} header
 * @returns {string | undefined}
 */
function bearerToken(header) {
  if (!header) return undefined;
  const m = /^Bearer +([^\s]+) *$/i.exec(header);
  if (!m || m[1].length > MAX_TOKEN_LENGTH) return undefined;
  return m[1];
}

class TokenStore {
  /**
   * @param {string} dir
   * @param {import('./log.js').Logger} log
   * @param {import('./metrics.js').Metrics} metrics
   */
  constructor(dir, log, metrics) {
    this.dir = dir;
    this.log = log;
    this.metrics = metrics;
    /** @type {Buffer[]} */ this.readDigests = [];
    /** @type {Buffer[]} */ this.writeDigests = [];
    /** @type {Buffer[]} */ this.metricsDigests = [];
    /** @private */ this.fingerprint = '';
    /** @private @type {NodeJS.Timeout | undefined} */ this.timer = undefined;
    /** @private @type {fs.FSWatcher | undefined} */ this.watcher = undefined;
    /** @private @type {NodeJS.Timeout | undefined} */ this.debounce = undefined;
  }

  /**
   * Load the files. At startup (strict) a missing directory or both files
   * missing is an error; later a missing file counts as empty, so removing a
   * key from the Secret revokes its tokens.
   * @param {boolean} strict
   * @returns {{ read: number, write: number }}
   */
  load(strict) {
    /** @type {Record<string, string | undefined>} */
    const contents = {};
    for (const file of FILES) {
      try {
        contents[file] = fs.readFileSync(path.join(this.dir, file), 'utf8');
      } catch (err) {
        const code = /** @type {NodeJS.ErrnoException} */ (err).code;
        if (code !== 'ENOENT') throw new Error(`cannot read ${path.join(this.dir, file)}: ${code || err}`);
        contents[file] = undefined;
      }
    }
    if (strict && contents['read-tokens'] === undefined && contents['write-tokens'] === undefined) {
      throw new Error(`KV_TOKENS_DIR ${this.dir} has neither read-tokens nor write-tokens: mount the token Secret there`);
    }
    const fingerprint = crypto.createHash('sha256')
      .update(JSON.stringify([contents['read-tokens'] ?? null, contents['write-tokens'] ?? null, contents['metrics-tokens'] ?? null])).digest('hex');
    const counts = { read: this.readDigests.length, write: this.writeDigests.length };
    if (fingerprint === this.fingerprint) return counts;
    const write = parseTokens(contents['write-tokens'] || '');
    const read = parseTokens(contents['read-tokens'] || '');
    const scrape = parseTokens(contents['metrics-tokens'] || '');
    this.writeDigests = write.map(digest);
    this.readDigests = read.map(digest);
    this.metricsDigests = scrape.map(digest);
    this.fingerprint = fingerprint;
    this.metrics.tokenReloads.inc();
    this.log.info('client tokens loaded', { readTokens: read.length, writeTokens: write.length, metricsTokens: scrape.length });
    if (read.length + write.length === 0) this.log.warn('no client tokens configured: every /kv and /discover request will be rejected');
    return { read: read.length, write: write.length };
  }

  /** Reload on change, by fs.watch where it works and by polling. */
  start() {
    const reload = () => {
      try {
        this.load(false);
      } catch (err) {
        this.log.warn('cannot reload client tokens, keeping the previous ones', errorFields(err));
      }
    };
    this.timer = setInterval(reload, POLL_MS);
    this.timer.unref();
    try {
      this.watcher = fs.watch(this.dir, { persistent: false }, () => {
        clearTimeout(this.debounce);
        this.debounce = setTimeout(reload, 50);
        this.debounce.unref();
      });
      this.watcher.on('error', () => { /* the poll keeps working */ });
    } catch {
      // fs.watch is unavailable here; polling only.
    }
  }

  stop() {
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    if (this.watcher) this.watcher.close();
  }

  /**
   * The role a token grants, or undefined. Compares against every digest
   * without stopping early.
   * @param {string} token
   * @returns {Role | undefined}
   */
  check(token) {
    const d = digest(token);
    let write = false;
    let read = false;
    let scrape = false;
    for (const w of this.writeDigests) write = crypto.timingSafeEqual(d, w) || write;
    for (const r of this.readDigests) read = crypto.timingSafeEqual(d, r) || read;
    for (const m of this.metricsDigests) scrape = crypto.timingSafeEqual(d, m) || scrape;
    if (write) return 'write';
    if (read) return 'read';
    if (scrape) return 'metrics';
    return undefined;
  }
}

module.exports = { TokenStore, bearerToken, parseTokens };
