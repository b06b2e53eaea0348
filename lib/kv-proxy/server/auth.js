// @ts-check
'use strict';
/**
 * Client authentication with bearer tokens from a mounted Secret.
 *
 * KV_TOKENS_DIR holds the files `read-tokens` and `write-tokens`: one token per
 * line, blank lines and lines starting with # ignored. A line is either the
 * token alone (the original format) or `<name> <token>`: a name of 1-64
 * characters of A-Z a-z 0-9 . _ @ - , whitespace, then the token. The name is
 * what the audit trail (audit.js) records for the writes made with that
 * token; an unnamed token is `<file>#<n>` (its position among the file's
 * tokens). Tokens never contain whitespace (a bearer token cannot), so the two
 * formats cannot be confused. A write token can also read. An optional
 * `metrics-tokens` file holds tokens that may only scrape /metrics (with
 * KV_METRICS_AUTH=token), so a scraper never holds a key reader.
 *
 * SHA-256 digests of the tokens are compared with crypto.timingSafeEqual
 * against every known digest, so the time taken does not depend on how much
 * of a token matched or which one did. A token that authenticated is then
 * remembered (a bounded map from the token to its role and name, emptied on
 * every reload), so a client's following requests cost a map lookup instead
 * of a hash: the tokens are in this process's memory either way (the mounted
 * files), and only valid tokens are ever remembered.
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
const TOKEN_NAME = /^[A-Za-z0-9._@-]{1,64}$/;
/** Most authenticated tokens remembered at once (then the map starts over). */
const MAX_REMEMBERED = 1024;

/**
 * @typedef {'read' | 'write' | 'metrics'} Role
 * @typedef {{ role: Role, name: string }} Identity
 * @typedef {{ name: string, token: string }} NamedToken
 * @typedef {{ name: string, digest: Buffer }} KnownToken
 */

/** @param {string} token */
function digest(token) {
  return crypto.createHash('sha256').update(token, 'utf8').digest();
}

/**
 * The tokens of one file, each with its name: `<token>` or `<name> <token>`
 * per line; an unnamed token is `<file>#<n>`. Lines that are neither are
 * counted in `invalid` (never logged: they may hold a token).
 * @param {string} content
 * @param {string} [file] the file name, for the names of unnamed tokens
 * @returns {NamedToken[] & { invalid?: number }}
 */
function parseTokens(content, file = 'tokens') {
  /** @type {NamedToken[] & { invalid?: number }} */
  const out = [];
  let invalid = 0;
  for (const raw of content.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    if (parts.length === 1) out.push({ name: `${file}#${out.length + 1}`, token: parts[0] });
    else if (parts.length === 2 && TOKEN_NAME.test(parts[0])) out.push({ name: parts[0], token: parts[1] });
    else invalid++;
  }
  if (invalid > 0) out.invalid = invalid;
  return out;
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
    /** @type {KnownToken[]} */ this.readDigests = [];
    /** @type {KnownToken[]} */ this.writeDigests = [];
    /** @type {KnownToken[]} */ this.metricsDigests = [];
    /** @private @type {Map<string, Identity>} tokens that authenticated since the last reload */
    this.remembered = new Map();
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
    const fingerprint = crypto
      .createHash('sha256')
      .update(JSON.stringify([contents['read-tokens'] ?? null, contents['write-tokens'] ?? null, contents['metrics-tokens'] ?? null]))
      .digest('hex');
    const counts = { read: this.readDigests.length, write: this.writeDigests.length };
    if (fingerprint === this.fingerprint) return counts;
    const write = parseTokens(contents['write-tokens'] || '', 'write-tokens');
    const read = parseTokens(contents['read-tokens'] || '', 'read-tokens');
    const scrape = parseTokens(contents['metrics-tokens'] || '', 'metrics-tokens');
    /** @param {NamedToken[]} list */
    const known = (list) => list.map((t) => ({ name: t.name, digest: digest(t.token) }));
    this.writeDigests = known(write);
    this.readDigests = known(read);
    this.metricsDigests = known(scrape);
    this.remembered = new Map();
    this.fingerprint = fingerprint;
    this.metrics.tokenReloads.inc();
    this.log.info('client tokens loaded', { readTokens: read.length, writeTokens: write.length, metricsTokens: scrape.length });
    const invalid = (write.invalid || 0) + (read.invalid || 0) + (scrape.invalid || 0);
    if (invalid > 0)
      this.log.warn('token lines ignored: each line must be "<token>" or "<name> <token>" (name: 1-64 of A-Z a-z 0-9 . _ @ -)', { lines: invalid });
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
      this.watcher.on('error', () => {
        /* the poll keeps working */
      });
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
   * The role a token grants, or undefined.
   * @param {string} token
   * @returns {Role | undefined}
   */
  check(token) {
    const id = this.identify(token);
    return id && id.role;
  }

  /**
   * The role a token grants and its name, or undefined. Compares against
   * every digest without stopping early; a token that matched is remembered
   * until the next reload.
   * @param {string} token
   * @returns {Identity | undefined}
   */
  identify(token) {
    const seen = this.remembered.get(token);
    if (seen !== undefined) return seen;
    const d = digest(token);
    /** @param {KnownToken[]} list @returns {string | undefined} */
    const find = (list) => {
      let name;
      for (const k of list) if (crypto.timingSafeEqual(d, k.digest) && name === undefined) name = k.name;
      return name;
    };
    const write = find(this.writeDigests);
    const read = find(this.readDigests);
    const scrape = find(this.metricsDigests);
    /** @type {Identity | undefined} */
    let id;
    if (write !== undefined) id = { role: 'write', name: write };
    else if (read !== undefined) id = { role: 'read', name: read };
    else if (scrape !== undefined) id = { role: 'metrics', name: scrape };
    if (id) {
      if (this.remembered.size >= MAX_REMEMBERED) this.remembered.clear();
      this.remembered.set(token, id);
    }
    return id;
  }
}

module.exports = { TokenStore, bearerToken, parseTokens };
