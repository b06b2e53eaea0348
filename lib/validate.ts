/**
 * Input checks shared by every construct. Each throws a plain Error whose
 * message names the prop, the bad value and what is allowed.
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFIG_MAP_KEY = /^[-._a-zA-Z0-9]+$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const IANA_SVC_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** The largest ConfigMap the API server accepts: 1 MiB of keys and values. */
export const MAX_CONFIGMAP_BYTES = 1024 * 1024;

/** DNS-1123 label: lowercase alphanumerics and '-', at most 63 characters. */
export function validateDnsLabel(value: string, prop: string): string {
  if (typeof value !== 'string' || value.length > 63 || !DNS_LABEL.test(value)) {
    throw new Error(`${prop} must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with an alphanumeric, at most 63 characters), got "${value}"`);
  }
  return value;
}

/** DNS-1123 subdomain: dot-separated labels, at most 253 characters. */
export function validateDnsSubdomain(value: string, prop: string): string {
  if (typeof value !== 'string' || value.length > 253 || !DNS_SUBDOMAIN.test(value)) {
    throw new Error(`${prop} must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most 253 characters), got "${value}"`);
  }
  return value;
}

/** A ConfigMap data key: `[-._a-zA-Z0-9]+`, at most 253 characters, not `.` or `..`. */
export function validateConfigMapKey(key: string, prop: string): string {
  if (typeof key !== 'string' || key.length > 253 || !CONFIG_MAP_KEY.test(key) || key === '.' || key === '..') {
    throw new Error(`${prop} must be a valid ConfigMap key (letters, digits, '-', '_' and '.', at most 253 characters, not "." or ".."), got "${key}"`);
  }
  return key;
}

/** True for a string that can be a ConfigMap data key: `[-._a-zA-Z0-9]+` (length and `.`/`..` not checked). */
export function isConfigMapKeyText(s: string): boolean {
  return typeof s === 'string' && CONFIG_MAP_KEY.test(s);
}

/**
 * A label or annotation key: an optional DNS-subdomain prefix and `/`, then a
 * name of at most 63 alphanumerics, '-', '_' and '.'.
 */
export function validateQualifiedName(key: string, prop: string, example: string = 'example.com/name'): string {
  const name = typeof key === 'string' ? key.split('/').pop() ?? '' : '';
  if (typeof key !== 'string' || key.length > 253 + 1 + 63 || name.length > 63 || !QUALIFIED_NAME.test(key)) {
    throw new Error(`${prop} must be a qualified name such as "${example}", got "${key}"`);
  }
  return key;
}

/**
 * A relative path whose segments could each be a ConfigMap key: letters,
 * digits, '-', '_' and '.', no empty, "." or ".." segments, no leading "/".
 */
export function validateRelativePath(p: string, prop: string): string {
  const segments = typeof p === 'string' ? p.split('/') : [];
  if (!segments.length || segments.some((s) => !CONFIG_MAP_KEY.test(s) || s === '.' || s === '..')) {
    throw new Error(`${prop} must be a relative path of letters, digits, '-', '_' and '.' segments (no "..", no leading "/"), got "${p}"`);
  }
  return p;
}

/** A label value: at most 63 characters of alphanumerics, '-', '_' and '.'. */
export function validateLabelValue(value: string, prop: string): string {
  if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
    throw new Error(`${prop} must be a valid label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with an alphanumeric), got "${value}"`);
  }
  return value;
}

/** A TCP/UDP port number, 1-65535. */
export function validatePort(port: number, prop: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${prop} must be an integer port 1-65535, got ${port}`);
  }
  return port;
}

/** A named port: IANA service name, at most 15 characters, with at least one letter. */
export function validatePortName(name: string, prop: string): string {
  if (typeof name !== 'string' || name.length > 15 || !IANA_SVC_NAME.test(name) || name.includes('--')) {
    throw new Error(`${prop} must be an IANA service name (at most 15 lowercase letters, digits and '-', with at least one letter), got "${name}"`);
  }
  return name;
}

/** An environment variable name. */
export function validateEnvName(name: string, prop: string): string {
  if (typeof name !== 'string' || !ENV_NAME.test(name)) {
    throw new Error(`${prop} must be a valid environment variable name (letters, digits, '_', '-' and '.', not starting with a digit), got "${name}"`);
  }
  return name;
}

/** An absolute, normalised POSIX path: starts with '/', no '..' segments, no empty segments. */
export function validateAbsolutePath(path: string, prop: string): string {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new Error(`${prop} must be an absolute path starting with "/", got "${path}"`);
  }
  const segments = path.split('/').slice(1);
  if (path !== '/' && segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`${prop} must be a normalised absolute path without empty, "." or ".." segments, got "${path}"`);
  }
  return path;
}

/** A positive integer (counts such as replicas or sizes). */
export function validatePositiveInteger(value: number, prop: string, min: number = 1, max: number = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${prop} must be an integer ${min}-${max}, got ${value}`);
  }
  return value;
}

/** True when `inner` is `outer` or lies below it (path-wise, not string-prefix-wise). */
export function pathIsWithin(inner: string, outer: string): boolean {
  if (outer === '/') return true;
  return inner === outer || inner.startsWith(outer.endsWith('/') ? outer : `${outer}/`);
}

/**
 * Bytes a ConfigMap's data and binaryData count against the 1 MiB limit,
 * computed the way the API server does: key length plus value bytes.
 */
export function configMapSize(data: Record<string, string> = {}, binaryData: Record<string, Buffer | string> = {}): number {
  let total = 0;
  for (const [k, v] of Object.entries(data)) total += Buffer.byteLength(k) + Buffer.byteLength(v, 'utf8');
  for (const [k, v] of Object.entries(binaryData)) {
    total += Buffer.byteLength(k) + (Buffer.isBuffer(v) ? v.length : Buffer.from(v, 'base64').length);
  }
  return total;
}

/** Formats a byte count for error messages, e.g. `1.3 MiB (1363148 bytes)`. */
export function formatBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return mib >= 0.1 ? `${mib.toFixed(2)} MiB (${bytes} bytes)` : `${(bytes / 1024).toFixed(1)} KiB (${bytes} bytes)`;
}
