// @ts-check
'use strict';
/**
 * The audit trail: one JSON line per write request, whatever KV_ACCESS_LOG
 * says, on KV_AUDIT_LOG (`stdout`, the default, `stderr`, or `off`):
 *
 *   {"time":"2026-12-06T22:40:00.000Z","level":"info","msg":"audit","token":"ci-deployer",
 *    "method":"PUT","namespace":"default","configmap":"flags","key":"beta","status":200,"index":"81240"}
 *
 * - token: the name the tokens Secret gives the token (`<name> <token>` lines,
 *   auth.js), `<file>#<n>` for an unnamed one, null when no valid token was sent;
 *   never the token itself;
 * - key: the key of a single-key write; keys: the keys of an object write (as
 *   sent, when the body was read);
 * - status: the HTTP status answered (499: the client went away first);
 * - index: the X-Kv-Index answered (the resourceVersion the write produced,
 *   or the ConfigMap's as this replica holds it), null when there is none.
 *
 * Refused and failed writes are audited as well as successful ones. Every
 * surface that writes (the native /kv routes and any other) records through
 * the same function, so one trail covers them all.
 */

/**
 * @typedef {{
 *   token: string | null,
 *   method: string,
 *   namespace: string,
 *   configmap: string,
 *   key?: string,
 *   keys?: string[],
 *   status: number,
 *   index: string | null,
 *   [more: string]: unknown,
 * }} AuditRecord
 * @typedef {{ record: (entry: AuditRecord) => void, enabled: boolean }} Audit
 */

/** Longest namespace, name or key written to the trail (client input, so bounded). */
const MAX_FIELD = 253;

/** @param {unknown} s */
function bounded(s) {
  return typeof s === 'string' && s.length > MAX_FIELD ? `${s.slice(0, MAX_FIELD)}...` : s;
}

/**
 * @param {import('./config.js').AuditLog} mode
 * @param {{ write: (line: string) => unknown }} [out] where `stdout` goes (tests)
 * @returns {Audit}
 */
function createAudit(mode, out) {
  if (mode === 'off') return { enabled: false, record: () => {} };
  const stream = out || (mode === 'stderr' ? process.stderr : process.stdout);
  return {
    enabled: true,
    record(entry) {
      /** @type {Record<string, unknown>} */
      const line = { time: new Date().toISOString(), level: 'info', msg: 'audit' };
      for (const [k, v] of Object.entries(entry)) {
        if (v === undefined) continue;
        line[k] = Array.isArray(v) ? v.slice(0, 1000).map(bounded) : bounded(v);
      }
      stream.write(`${JSON.stringify(line)}\n`);
    },
  };
}

module.exports = { createAudit };
