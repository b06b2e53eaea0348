// @ts-check
'use strict';
/**
 * A cached ConfigMap's data, held once: the UTF-8 JSON body that
 * `GET /kv/<ns>/<cm>` sends (outside the JavaScript heap), plus an index of
 * where each key's value sits in it. A single-key read decodes its slice; a
 * whole-ConfigMap read sends the body as it is. Keys are a sorted array
 * searched by bisection (never properties of an object), so names such as
 * `__proto__` or `constructor` are ordinary keys; the array costs far less
 * than a Map per ConfigMap and shares the key strings JSON.parse interned.
 *
 * Per value the index keeps its byte offset and length inside the quotes,
 * and whether its JSON text has escapes (then it is decoded with JSON.parse).
 */

const ESCAPED = 0x80000000;
/** Characters JSON.stringify escapes (and lone surrogates, which it writes as \\u escapes). */
// eslint-disable-next-line no-control-regex -- the control characters JSON.stringify escapes are what this finds
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

class ConfigMapData {
  /**
   * @param {Record<string, unknown>} data a ConfigMap's `data` as the API server
   *   sent it (JSON.parse makes every key an own property); non-string values are skipped
   */
  constructor(data) {
    // Sorted as the API server sorts them (ConfigMap keys are ASCII, so code-unit
    // order is byte order); usually already sorted, then sort() is one pass.
    const keys = Object.keys(data)
      .filter((k) => typeof data[k] === 'string')
      .sort();
    /** @private sorted; key i's value is described by slots[2i], slots[2i+1] */
    this.sortedKeys = keys;
    /** @private value i: slots[2i] = byte offset inside its quotes, slots[2i+1] = byte length | ESCAPED */
    this.slots = new Uint32Array(keys.length * 2);
    // Two passes: sizes first, then one buffer written in place (no big temporary string).
    /** @type {string[]} */
    const jsonKeys = new Array(keys.length);
    /** @type {(string | undefined)[]} */
    const escapedValues = new Array(keys.length);
    let total = 3; // "{", "}", "\n"
    let bytes = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const value = /** @type {string} */ (data[key]);
      jsonKeys[i] = JSON.stringify(key);
      const json = NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : undefined;
      escapedValues[i] = json;
      const valueBytes = Buffer.byteLength(value);
      total += (i === 0 ? 0 : 1) + Buffer.byteLength(jsonKeys[i]) + 1 + (json === undefined ? valueBytes + 2 : Buffer.byteLength(json));
      bytes += Buffer.byteLength(key) + valueBytes;
    }
    const body = Buffer.allocUnsafeSlow(total);
    let at = body.write('{', 0, 'latin1');
    for (let i = 0; i < keys.length; i++) {
      if (i > 0) at += body.write(',', at, 'latin1');
      at += body.write(jsonKeys[i], at, 'utf8');
      at += body.write(':', at, 'latin1');
      const json = escapedValues[i];
      if (json === undefined) {
        at += body.write('"', at, 'latin1');
        const n = body.write(/** @type {string} */ (data[keys[i]]), at, 'utf8');
        this.slots[2 * i] = at;
        this.slots[2 * i + 1] = n;
        at += n;
        at += body.write('"', at, 'latin1');
      } else {
        const n = body.write(json, at, 'utf8');
        this.slots[2 * i] = at + 1;
        this.slots[2 * i + 1] = ((n - 2) | ESCAPED) >>> 0;
        at += n;
      }
    }
    body.write('}\n', at, 'latin1');
    /** The JSON object of every key, with a trailing newline, as served. */
    this.body = body;
    /** Bytes of keys and values, as counted against the API server's 1 MiB limit. */
    this.bytes = bytes;
  }

  /** Number of keys. */
  get size() {
    return this.sortedKeys.length;
  }

  /**
   * Position of a key in sortedKeys, or -1.
   * @private
   * @param {string} key
   */
  find(key) {
    const keys = this.sortedKeys;
    let lo = 0;
    let hi = keys.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = keys[mid];
      if (k === key) return mid;
      if (k < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** @param {string} key */
  has(key) {
    return this.find(key) >= 0;
  }

  /**
   * @param {string} key
   * @returns {string | undefined}
   */
  get(key) {
    const i = this.find(key);
    if (i < 0) return undefined;
    const start = this.slots[2 * i];
    const slot = this.slots[2 * i + 1];
    if ((slot & ESCAPED) === 0) return this.body.toString('utf8', start, start + slot);
    const length = slot & ~ESCAPED;
    return JSON.parse(this.body.toString('utf8', start - 1, start + length + 1));
  }

  /**
   * A key's value as UTF-8 bytes, as a single-key read sends it: a view into
   * the body (no copy) unless the value has JSON escapes. undefined when absent.
   * @param {string} key
   * @returns {Buffer | undefined}
   */
  valueBuffer(key) {
    const i = this.find(key);
    if (i < 0) return undefined;
    const start = this.slots[2 * i];
    const slot = this.slots[2 * i + 1];
    if ((slot & ESCAPED) === 0) return this.body.subarray(start, start + slot);
    return Buffer.from(/** @type {string} */ (this.get(key)), 'utf8');
  }

  /** Keys, sorted (the API server's order). */
  keys() {
    return [...this.sortedKeys];
  }

  /**
   * Byte length of a key's value (for size checks), 0 when absent.
   * @param {string} key
   */
  valueBytes(key) {
    const v = this.get(key);
    return v === undefined ? 0 : Buffer.byteLength(v);
  }
}

/** Data of no keys, for a ConfigMap that does not exist yet. */
const EMPTY = new ConfigMapData({});

module.exports = { ConfigMapData, EMPTY };
