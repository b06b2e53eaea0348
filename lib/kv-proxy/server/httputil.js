// @ts-check
'use strict';
/**
 * HTTP plumbing shared by the handlers: errors that carry a status, JSON and
 * text responses, and bounded request body reading.
 */

class HttpError extends Error {
  /**
   * @param {number} status
   * @param {string} message safe to show to the client
   * @param {Record<string, string>} [headers]
   * @param {Record<string, unknown>} [extra] more fields for the JSON body beside "error"
   */
  constructor(status, message, headers = {}, extra = undefined) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.headers = headers;
    this.extra = extra;
  }
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {string | Buffer} body
 * @param {string} contentType
 * @param {Record<string, string>} [headers]
 */
function send(res, status, body, contentType, headers = {}) {
  if (res.headersSent || res.destroyed) return;
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': String(buf.length),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(buf);
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {unknown} value
 * @param {Record<string, string>} [headers]
 */
function sendJson(res, status, value, headers) {
  send(res, status, `${JSON.stringify(value)}\n`, 'application/json; charset=utf-8', headers);
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {string} text
 * @param {Record<string, string>} [headers]
 */
function sendText(res, status, text, headers) {
  send(res, status, text, 'text/plain; charset=utf-8', headers);
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {string} message
 * @param {Record<string, string>} [headers]
 * @param {Record<string, unknown>} [extra] more fields beside "error"
 */
function sendError(res, status, message, headers, extra) {
  sendJson(res, status, { error: message, ...extra }, headers);
}

/**
 * Read a request body of at most maxBytes. A declared Content-Length over
 * the limit fails before anything is read; a body that grows past it stops
 * being read at the limit. Either way the connection is closed after the 413
 * so the rest of the upload is never consumed.
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 * @param {number} maxBytes
 * @returns {Promise<Buffer>}
 */
function readBody(req, res, maxBytes) {
  const tooLarge = () => new HttpError(413, `request body is larger than ${maxBytes} bytes`, { Connection: 'close' });
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge());
  if (/** @type {{ expectsContinue?: boolean }} */ (req).expectsContinue) res.writeContinue();
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    let size = 0;
    let failed = false;
    const onData = (/** @type {Buffer} */ chunk) => {
      size += chunk.length;
      if (size > maxBytes) {
        failed = true;
        req.off('data', onData);
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
    });
    // A client that goes away mid-upload: not an error of ours (see app.js clientGone).
    req.on('close', () => {
      if (!failed && !req.complete) {
        const err = /** @type {NodeJS.ErrnoException} */ (new Error('the client closed the connection before sending the whole body'));
        err.code = 'ECONNRESET';
        reject(err);
      }
    });
  });
}

module.exports = { HttpError, send, sendJson, sendText, sendError, readBody };
