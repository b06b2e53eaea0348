// @ts-check
'use strict';
/**
 * One JSON object per line on stdout. Callers pass fields explicitly; nothing
 * here looks at requests, so headers (and the tokens in them) never reach the log.
 */

/**
 * @typedef {'debug' | 'info' | 'warn' | 'error'} Level
 * @typedef {{
 *   debug: (msg: string, fields?: Record<string, unknown>) => void,
 *   info: (msg: string, fields?: Record<string, unknown>) => void,
 *   warn: (msg: string, fields?: Record<string, unknown>) => void,
 *   error: (msg: string, fields?: Record<string, unknown>) => void,
 * }} Logger
 */

/**
 * An Error as loggable fields: message, code and stack (stacks go to the log only).
 * @param {unknown} err
 * @returns {Record<string, unknown>}
 */
function errorFields(err) {
  if (err instanceof Error) {
    const code = /** @type {{ code?: unknown }} */ (err).code;
    return { error: err.message, ...(code ? { code } : {}), stack: err.stack };
  }
  return { error: String(err) };
}

/**
 * @param {{ write: (line: string) => unknown }} [out]
 * @returns {Logger}
 */
function createLogger(out = process.stdout) {
  /** @param {Level} level @param {string} msg @param {Record<string, unknown>} [fields] */
  const write = (level, msg, fields) => {
    out.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
  };
}

module.exports = { createLogger, errorFields };
