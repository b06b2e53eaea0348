// @ts-check
'use strict';
/**
 * Input validation: names, keys, path segments, durations and preconditions.
 * Pure functions, no I/O.
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const INDEX = /^[0-9A-Za-z._-]{1,64}$/;
const MAX_CONFIGMAP_BYTES = 1024 * 1024;

/** @param {string} s namespace: RFC 1123 label, at most 63 characters */
function isNamespaceName(s) {
  return s.length <= 63 && DNS_LABEL.test(s);
}

/** @param {string} s ConfigMap name: RFC 1123 subdomain, at most 253 characters */
function isConfigMapName(s) {
  return s.length <= 253 && DNS_SUBDOMAIN.test(s);
}

/** @param {string} s ConfigMap key: [-._a-zA-Z0-9]+, at most 253 characters, not "." or ".." */
function isConfigKey(s) {
  return s.length <= 253 && CONFIG_KEY.test(s) && s !== '.' && s !== '..';
}

/** @param {string} s a resourceVersion as a client may send it back */
function isIndex(s) {
  return INDEX.test(s);
}

/**
 * Split a raw request path into decoded segments, refusing anything that
 * could mean a different path after decoding: empty segments (double or
 * trailing slashes), "." and "..", encoded "/" or "\", NUL, bad escapes.
 * @param {string} rawPath the path part of req.url, still percent-encoded
 * @returns {string[] | undefined} decoded segments, or undefined if unsafe
 */
function pathSegments(rawPath) {
  if (!rawPath.startsWith('/')) return undefined;
  const raw = rawPath.slice(1).split('/');
  /** @type {string[]} */
  const out = [];
  for (const segment of raw) {
    if (segment === '') return undefined;
    let decoded;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return undefined;
    }
    if (decoded === '.' || decoded === '..' || /[/\\\0]/.test(decoded)) return undefined;
    out.push(decoded);
  }
  return out;
}

/**
 * A wait duration like Consul's: "30s", "1500ms", "5m", or plain seconds.
 * @param {string} s
 * @returns {number | undefined} milliseconds, or undefined if invalid
 */
function parseWait(s) {
  const m = /^(\d{1,7})(ms|s|m)?$/.exec(s);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60000 : n * 1000;
}

/**
 * The If-Match header: `*` or a single strong entity tag `"<resourceVersion>"`.
 * @param {string | undefined} header
 * @returns {{ ok: true, value: string | undefined } | { ok: false }}
 */
function parseIfMatch(header) {
  if (header === undefined) return { ok: true, value: undefined };
  const v = header.trim();
  if (v === '*') return { ok: true, value: '*' };
  const m = /^"([^"]*)"$/.exec(v);
  if (!m || !isIndex(m[1])) return { ok: false };
  return { ok: true, value: m[1] };
}

/**
 * Bytes a ConfigMap's data takes against the API server's 1 MiB limit.
 * @param {Record<string, string>} data
 */
function dataBytes(data) {
  let n = 0;
  for (const [k, v] of Object.entries(data)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

module.exports = {
  isNamespaceName,
  isConfigMapName,
  isConfigKey,
  isIndex,
  pathSegments,
  parseWait,
  parseIfMatch,
  dataBytes,
  MAX_CONFIGMAP_BYTES,
};
