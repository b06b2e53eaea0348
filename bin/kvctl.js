#!/usr/bin/env node
// @ts-check
'use strict';
/**
 * kvctl: a command-line client for kv-proxy. Node builtins only.
 *
 * Exit codes: 0 success, 1 error (HTTP or network), 2 usage error,
 * 3 not found (the ConfigMap or key does not exist).
 */
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const { parseArgs } = require('node:util');

const USAGE = `usage: kvctl [--url URL] [--token-file FILE] <command> ...

commands:
  get <ns>/<cm> [key]             print all keys as JSON, or one value
  set <ns>/<cm> key=value...      merge keys into the ConfigMap (creates it)
  delete <ns>/<cm> key            remove one key
  list <ns>/<cm> [--prefix P]     print key names, one per line
  watch <ns>/<cm> [key]           print the ConfigMap (a JSON line) or the value
                                  now and after every change, until interrupted
  discover <ns>                   print Services with clusterIP, ports, endpoints
  consul <ns>/<cm> [key]          print the Consul key of each key (<ns>/<cm>/<key>),
                                  read through the proxy's Consul API (/v1/kv), with
                                  its ModifyIndex and native path

options:
  --url URL          kv-proxy base URL (default: $KV_URL or http://127.0.0.1:8080)
  --token-file FILE  file holding the bearer token (default: $KV_TOKEN)
  --prefix P         only keys starting with P (list)
  --min-index N      read only once this replica has seen index N, the X-Kv-Index
                     a write answered (get, list): read-your-writes across replicas
  -h, --help         show this help

exit codes: 0 ok, 1 error, 2 usage error, 3 not found`;

const EXIT_ERROR = 1;
const EXIT_USAGE = 2;
const EXIT_NOT_FOUND = 3;
const WATCH_WAIT = '60s';

class CliError extends Error {
  /** @param {string} message @param {number} code */
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/** @param {string} message */
const usage = (message) => new CliError(`${message}\n\n${USAGE}`, EXIT_USAGE);

/**
 * @typedef {{ status: number, headers: http.IncomingHttpHeaders, body: string }} Reply
 * @typedef {{ base: URL, token: string }} Target
 */

/**
 * @param {Target} target
 * @param {string} method
 * @param {string} path starts with /
 * @param {{ body?: string, contentType?: string, timeoutMs?: number, headers?: Record<string, string> }} [options]
 * @returns {Promise<Reply>}
 */
function request(target, method, path, options = {}) {
  const url = new URL(target.base.href);
  const q = path.indexOf('?');
  url.pathname = `${target.base.pathname.replace(/\/$/, '')}${q >= 0 ? path.slice(0, q) : path}`;
  url.search = q >= 0 ? path.slice(q) : '';
  /** @type {Record<string, string>} */
  const headers = { 'Authorization': `Bearer ${target.token}`, 'User-Agent': 'kvctl', ...options.headers };
  if (options.body !== undefined) {
    headers['Content-Type'] = options.contentType || 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(options.body));
  }
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method, headers }, (res) => {
      const chunks = /** @type {Buffer[]} */ ([]);
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode || 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(options.timeoutMs || 30_000, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => {
      const code = /** @type {NodeJS.ErrnoException} */ (err).code;
      reject(new CliError(`cannot reach ${target.base.origin}: ${code || err.message}`, EXIT_ERROR));
    });
    req.end(options.body);
  });
}

/**
 * The server's error message: {"error": "..."} or the text.
 * @param {Reply} reply
 */
function errorText(reply) {
  try {
    const parsed = JSON.parse(reply.body);
    if (parsed && typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: show the text
  }
  return reply.body.trim().slice(0, 500) || '(no message)';
}

/**
 * Turn a non-2xx reply into a CliError with the server's message.
 * @param {Reply} reply
 * @returns {Reply}
 */
function check(reply) {
  if (reply.status >= 200 && reply.status < 300) return reply;
  const reason = http.STATUS_CODES[reply.status] || '';
  throw new CliError(`${reply.status} ${reason}: ${errorText(reply)}`, reply.status === 404 ? EXIT_NOT_FOUND : EXIT_ERROR);
}

/**
 * @param {Reply} reply
 * @returns {any}
 */
function json(reply) {
  try {
    return JSON.parse(reply.body);
  } catch {
    throw new CliError(`the server did not answer JSON (${reply.headers['content-type'] || 'no content type'}): is --url a kv-proxy?`, EXIT_ERROR);
  }
}

/**
 * "<ns>/<cm>" as an encoded /kv path.
 * @param {string | undefined} arg
 */
function kvPath(arg) {
  const m = arg === undefined ? null : /^([^/]+)\/([^/]+)$/.exec(arg);
  if (!m) throw usage(`expected <namespace>/<configmap>, got ${arg === undefined ? 'nothing' : JSON.stringify(arg)}`);
  return `/kv/${encodeURIComponent(m[1])}/${encodeURIComponent(m[2])}`;
}

/**
 * @param {string} file
 * @returns {string}
 */
function readToken(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read token file ${file}: ${/** @type {NodeJS.ErrnoException} */ (err).code || err}`, EXIT_USAGE);
  }
  // the first line that is not blank or a comment; in the Secret's "<name> <token>" format, its last field
  const line = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== '' && !l.startsWith('#'));
  const token = line && line.split(/\s+/).pop();
  if (!token) throw new CliError(`token file ${file} holds no token`, EXIT_USAGE);
  return token;
}

/** @param {string} text */
function out(text) {
  process.stdout.write(text);
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @param {Target} target
 * @param {string} path
 * @param {string | undefined} key
 */
async function watch(target, path, key) {
  const resource = key === undefined ? path : `${path}/${encodeURIComponent(key)}`;
  /** @type {string | undefined} */
  let index;
  /** @type {string | undefined} */
  let lastShown;
  let backoff = 0;
  for (;;) {
    const query = index === undefined ? '' : `?index=${encodeURIComponent(index)}&wait=${WATCH_WAIT}`;
    let reply;
    try {
      reply = await request(target, 'GET', `${resource}${query}`, { timeoutMs: 90_000 });
    } catch (err) {
      backoff = Math.min(5000, backoff === 0 ? 250 : backoff * 2);
      process.stderr.write(`kvctl: ${/** @type {Error} */ (err).message}, retrying in ${backoff} ms\n`);
      await sleep(backoff);
      continue;
    }
    if (reply.status >= 500) {
      backoff = Math.min(5000, backoff === 0 ? 250 : backoff * 2);
      process.stderr.write(`kvctl: ${reply.status} ${http.STATUS_CODES[reply.status] || ''}, retrying in ${backoff} ms\n`);
      await sleep(backoff);
      continue;
    }
    backoff = 0;
    const next = reply.headers['x-kv-index'];
    if (reply.status === 404) {
      const shown = `404:${reply.body}`;
      if (shown !== lastShown) process.stderr.write(`kvctl: ${errorText(reply)}, waiting\n`);
      lastShown = shown;
    } else {
      check(reply);
      const shown = key === undefined ? `${JSON.stringify(json(reply))}\n` : `${reply.body}\n`;
      if (shown !== lastShown) out(shown);
      lastShown = shown;
    }
    if (typeof next !== 'string') throw new CliError('the server did not send X-Kv-Index: is this kv-proxy?', EXIT_ERROR);
    index = next;
  }
}

/**
 * @param {string[]} argv
 * @param {NodeJS.ProcessEnv} env
 */
async function main(argv, env) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'url': { type: 'string' },
        'token-file': { type: 'string' },
        'prefix': { type: 'string' },
        'min-index': { type: 'string' },
        'help': { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw usage(/** @type {Error} */ (err).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(`${USAGE}\n`);
    return;
  }
  const [command, ...args] = positionals;
  if (!command) throw usage('no command given');
  const commands = ['get', 'set', 'delete', 'list', 'watch', 'discover', 'consul'];
  if (!commands.includes(command)) throw usage(`unknown command ${JSON.stringify(command)}`);
  if (values.prefix !== undefined && command !== 'list') throw usage('--prefix only applies to list');
  const minIndex = values['min-index'];
  if (minIndex !== undefined && command !== 'get' && command !== 'list') throw usage('--min-index only applies to get and list');
  if (minIndex !== undefined && !/^\d{1,20}$/.test(minIndex))
    throw usage(`--min-index must be the X-Kv-Index of a write (an integer), got ${JSON.stringify(minIndex)}`);
  const readOptions = minIndex === undefined ? {} : { headers: { 'X-Kv-Min-Index': minIndex } };

  const urlText = values.url || env.KV_URL || 'http://127.0.0.1:8080';
  let base;
  try {
    base = new URL(urlText);
  } catch {
    throw usage(`--url must be a URL such as http://kv-proxy.example:8080, got ${JSON.stringify(urlText)}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw usage(`--url must be http or https, got ${JSON.stringify(urlText)}`);
  const tokenFile = values['token-file'];
  const token = tokenFile ? readToken(tokenFile) : (env.KV_TOKEN || '').trim();
  if (!token) throw usage('no token: pass --token-file FILE or set KV_TOKEN');
  const target = { base, token };

  /** @param {number} min @param {number} max */
  const arity = (min, max) => {
    if (args.length < min || args.length > max) {
      throw usage(
        `${command} takes ${min === max ? min : `${min} to ${max === Infinity ? 'any number of' : max}`} ` +
          `argument${max === 1 ? '' : 's'}, got ${args.length}`,
      );
    }
  };

  switch (command) {
    case 'get': {
      arity(1, 2);
      const path = kvPath(args[0]);
      if (args.length === 2) {
        const reply = check(await request(target, 'GET', `${path}/${encodeURIComponent(args[1])}`, readOptions));
        out(process.stdout.isTTY && !reply.body.endsWith('\n') ? `${reply.body}\n` : reply.body);
      } else {
        const reply = check(await request(target, 'GET', path, readOptions));
        out(`${JSON.stringify(json(reply), null, 2)}\n`);
      }
      return;
    }
    case 'set': {
      arity(2, Infinity);
      const path = kvPath(args[0]);
      /** @type {Record<string, string>} */
      const data = {};
      for (const pair of args.slice(1)) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw usage(`expected key=value, got ${JSON.stringify(pair)}`);
        Object.defineProperty(data, pair.slice(0, eq), { value: pair.slice(eq + 1), enumerable: true, writable: true, configurable: true });
      }
      const reply = check(await request(target, 'POST', path, { body: JSON.stringify(data) }));
      out(`${JSON.stringify(json(reply), null, 2)}\n`);
      return;
    }
    case 'delete': {
      arity(2, 2);
      const path = kvPath(args[0]);
      check(await request(target, 'DELETE', `${path}/${encodeURIComponent(args[1])}`));
      out(`deleted ${args[1]} from ${args[0]}\n`);
      return;
    }
    case 'list': {
      arity(1, 1);
      const prefix = values.prefix === undefined ? '' : `&prefix=${encodeURIComponent(values.prefix)}`;
      const reply = check(await request(target, 'GET', `${kvPath(args[0])}?keys${prefix}`, readOptions));
      const keys = /** @type {string[]} */ (json(reply));
      out(keys.map((k) => `${k}\n`).join(''));
      return;
    }
    case 'watch': {
      arity(1, 2);
      await watch(target, kvPath(args[0]), args[1]);
      return;
    }
    case 'discover': {
      arity(1, 1);
      if (!/^[^/]+$/.test(args[0])) throw usage(`expected a namespace, got ${JSON.stringify(args[0])}`);
      const reply = check(await request(target, 'GET', `/discover/${encodeURIComponent(args[0])}`));
      out(`${JSON.stringify(json(reply), null, 2)}\n`);
      return;
    }
    case 'consul': {
      // The key layout of the Consul API: <namespace>/<configmap>/<key>, shown with what reads it natively.
      arity(1, 2);
      const path = kvPath(args[0]);
      const consulPath = `/v1${path}/${args.length === 2 ? encodeURIComponent(args[1]) : '?recurse'}`;
      const reply = check(await request(target, 'GET', consulPath, { headers: { 'X-Consul-Token': target.token } }));
      const entries = /** @type {{ Key: string, ModifyIndex: number }[]} */ (json(reply));
      out(
        `CONSUL KEY\tMODIFY INDEX\tNATIVE PATH\n${entries
          .map((e) => {
            const key = e.Key.split('/').slice(2).join('/');
            return `${e.Key}\t${e.ModifyIndex}\t${path}/${encodeURIComponent(key)}\n`;
          })
          .join('')}`,
      );
      return;
    }
    default:
      throw usage(`unknown command ${JSON.stringify(command)}`);
  }
}

process.on('SIGINT', () => process.exit(0));
main(process.argv.slice(2), process.env).catch((err) => {
  if (err instanceof CliError) {
    process.stderr.write(`kvctl: ${err.message}\n`);
    process.exitCode = err.code;
  } else {
    process.stderr.write(`kvctl: unexpected error: ${err && err.message}\n`);
    process.exitCode = EXIT_ERROR;
  }
});
