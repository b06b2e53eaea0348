// @ts-check
'use strict';
/**
 * Kubernetes label selectors (KV_LABEL_SELECTOR): parsed once at startup,
 * sent to the API server on list/watch, and evaluated locally to decide
 * whether a write may touch an object and which labels a created ConfigMap gets.
 *
 * Supported: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`,
 * joined by commas (AND), as in the Kubernetes label selector syntax.
 */

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/**
 * @typedef {{ key: string, op: 'eq' | 'ne' | 'in' | 'notin' | 'exists' | 'absent', values: string[] }} Requirement
 * @typedef {{
 *   text: string,
 *   requirements: Requirement[],
 *   matches: (labels: Record<string, string> | undefined) => boolean,
 *   labelsForCreate: () => Record<string, string>,
 * }} LabelSelector
 */

/** @param {string} key */
function checkKey(key) {
  const name = key.includes('/') ? key.slice(key.indexOf('/') + 1) : key;
  const prefix = key.includes('/') ? key.slice(0, key.indexOf('/')) : '';
  if (!LABEL_KEY.test(key) || name.length > 63 || prefix.length > 253) {
    throw new Error(`invalid label key "${key}"`);
  }
}

/** @param {string} value */
function checkValue(value) {
  if (value.length > 63 || !LABEL_VALUE.test(value)) throw new Error(`invalid label value "${value}"`);
}

/**
 * Split on commas that are not inside parentheses.
 * @param {string} text
 */
function splitTopLevel(text) {
  const parts = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (depth < 0) throw new Error('unbalanced parentheses');
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (depth !== 0) throw new Error('unbalanced parentheses');
  parts.push(current);
  return parts.map((p) => p.trim());
}

/**
 * @param {string} part
 * @returns {Requirement}
 */
function parseRequirement(part) {
  let m;
  if ((m = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(part))) {
    const values = m[3].split(',').map((v) => v.trim());
    checkKey(m[1]);
    values.forEach(checkValue);
    return { key: m[1], op: m[2] === 'in' ? 'in' : 'notin', values };
  }
  if ((m = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s!=]*)$/.exec(part))) {
    checkKey(m[1]);
    checkValue(m[3]);
    return { key: m[1], op: m[2] === '!=' ? 'ne' : 'eq', values: [m[3]] };
  }
  if ((m = /^!\s*([^\s!=()]+)$/.exec(part))) {
    checkKey(m[1]);
    return { key: m[1], op: 'absent', values: [] };
  }
  if ((m = /^([^\s!=()]+)$/.exec(part))) {
    checkKey(m[1]);
    return { key: m[1], op: 'exists', values: [] };
  }
  throw new Error(`cannot parse requirement "${part}"`);
}

/**
 * @param {Requirement} r
 * @param {Record<string, string>} labels
 */
function satisfies(r, labels) {
  const has = Object.hasOwn(labels, r.key);
  switch (r.op) {
    case 'eq':
      return has && labels[r.key] === r.values[0];
    case 'ne':
      return !has || labels[r.key] !== r.values[0];
    case 'in':
      return has && r.values.includes(labels[r.key]);
    case 'notin':
      return !has || !r.values.includes(labels[r.key]);
    case 'exists':
      return has;
    case 'absent':
      return !has;
    default:
      return false;
  }
}

/**
 * Parse a label selector. Throws an Error naming the problem.
 * @param {string} text
 * @returns {LabelSelector}
 */
function parseLabelSelector(text) {
  const trimmed = text.trim();
  const requirements =
    trimmed === ''
      ? []
      : splitTopLevel(trimmed).map((part) => {
          if (part === '') throw new Error('empty requirement');
          return parseRequirement(part);
        });
  return {
    text: requirements.length === 0 ? '' : trimmed,
    requirements,
    matches: (labels) => requirements.every((r) => satisfies(r, labels || {})),
    labelsForCreate: () =>
      Object.fromEntries(requirements.filter((r) => r.op === 'eq' || (r.op === 'in' && r.values.length === 1)).map((r) => [r.key, r.values[0]])),
  };
}

module.exports = { parseLabelSelector };
