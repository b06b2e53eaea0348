import * as kplus from 'cdk8s-plus-28';
import { Size, SizeRoundingBehavior } from 'cdk8s';
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

/**
 * Throws `<prop> is required` for undefined and null: a missing prop is named
 * as missing, not reported as "got undefined".
 */
export function required<T>(value: T | undefined | null, prop: string): T {
  if (value === undefined || value === null) throw new Error(`${prop} is required`);
  return value;
}

/** A value as error messages show it: numbers as they are, anything else as JSON (so `"8080"` is visibly a string). */
function show(value: unknown): string {
  return typeof value === 'number' ? String(value) : value === undefined ? 'undefined' : JSON.stringify(value);
}

/** The largest ConfigMap the API server accepts: 1 MiB of keys and values. */
export const MAX_CONFIGMAP_BYTES = 1024 * 1024;

/** DNS-1123 label: lowercase alphanumerics and '-', at most 63 characters. */
export function validateDnsLabel(value: string, prop: string): string {
  required(value, prop);
  if (typeof value !== 'string' || value.length > 63 || !DNS_LABEL.test(value)) {
    throw new Error(
      `${prop} must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with an alphanumeric, ` +
        `at most 63 characters), got "${value}"`,
    );
  }
  return value;
}

/** DNS-1123 subdomain: dot-separated labels, at most 253 characters. */
export function validateDnsSubdomain(value: string, prop: string): string {
  required(value, prop);
  if (typeof value !== 'string' || value.length > 253 || !DNS_SUBDOMAIN.test(value)) {
    throw new Error(`${prop} must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most 253 characters), got "${value}"`);
  }
  return value;
}

/** A ConfigMap data key: `[-._a-zA-Z0-9]+`, at most 253 characters, not `.` or `..`. */
export function validateConfigMapKey(key: string, prop: string): string {
  required(key, prop);
  if (typeof key !== 'string' || key.length > 253 || !CONFIG_MAP_KEY.test(key) || key === '.' || key === '..') {
    throw new Error(
      `${prop} must be a valid ConfigMap key (letters, digits, '-', '_' and '.', at most 253 characters, not "." or ".."), got "${key}"`,
    );
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
  required(key, prop);
  const name = typeof key === 'string' ? (key.split('/').pop() ?? '') : '';
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
  required(p, prop);
  const segments = typeof p === 'string' ? p.split('/') : [];
  if (!segments.length || segments.some((s) => !CONFIG_MAP_KEY.test(s) || s === '.' || s === '..')) {
    throw new Error(`${prop} must be a relative path of letters, digits, '-', '_' and '.' segments (no "..", no leading "/"), got "${p}"`);
  }
  return p;
}

/** A label value: at most 63 characters of alphanumerics, '-', '_' and '.'. */
export function validateLabelValue(value: string, prop: string): string {
  required(value, prop);
  if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
    throw new Error(
      `${prop} must be a valid label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with an alphanumeric), got "${value}"`,
    );
  }
  return value;
}

/** A TCP/UDP port number, 1-65535. */
export function validatePort(port: number, prop: string): number {
  required(port, prop);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${prop} must be an integer port 1-65535, got ${show(port)}`);
  }
  return port;
}

/** A named port: IANA service name, at most 15 characters, with at least one letter. */
export function validatePortName(name: string, prop: string): string {
  required(name, prop);
  if (typeof name !== 'string' || name.length > 15 || !IANA_SVC_NAME.test(name) || name.includes('--')) {
    throw new Error(`${prop} must be an IANA service name (at most 15 lowercase letters, digits and '-', with at least one letter), got "${name}"`);
  }
  return name;
}

/** An environment variable name. */
export function validateEnvName(name: string, prop: string): string {
  required(name, prop);
  if (typeof name !== 'string' || !ENV_NAME.test(name)) {
    throw new Error(
      `${prop} must be a valid environment variable name (letters, digits, '_', '-' and '.', not starting with a digit), got "${name}"`,
    );
  }
  return name;
}

/** An absolute, normalised POSIX path: starts with '/', no '..' segments, no empty segments. */
export function validateAbsolutePath(path: string, prop: string): string {
  required(path, prop);
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
  required(value, prop);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${prop} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `${min}-${max}`}, got ${show(value)}`);
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

/** A TCP port a container may listen on without root or NET_BIND_SERVICE: 1024-65535. */
export function validateUnprivilegedPort(port: number, prop: string): number {
  required(port, prop);
  if (!Number.isInteger(port) || port < 1024 || port > 65535) {
    throw new Error(`${prop} must be an integer 1024-65535 (the container runs as non-root without NET_BIND_SERVICE), got ${show(port)}`);
  }
  return port;
}

const HTTP_PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;

/** An absolute URL path such as `/` or `/healthz`: no spaces, query, fragment or "."/".." segments. */
export function validateHttpPath(p: string, prop: string): string {
  required(p, prop);
  if (typeof p !== 'string' || !HTTP_PATH.test(p) || p.split('/').some((s) => s === '.' || s === '..')) {
    throw new Error(
      `${prop} must be an absolute URL path like "/" or "/healthz" (no spaces, "?", "#", "." or ".." segments), got ${JSON.stringify(p)}`,
    );
  }
  return p;
}

const WILDCARD_HOST = /^\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** An Ingress host: a DNS-1123 subdomain, or one with a leading `*.` wildcard label. */
export function validateIngressHost(host: string, prop: string): string {
  required(host, prop);
  if (typeof host === 'string' && WILDCARD_HOST.test(host) && host.length <= 253) return host;
  if (typeof host !== 'string' || host.length > 253 || !DNS_SUBDOMAIN.test(host)) {
    throw new Error(`${prop} must be a host name such as "www.example.com" or "*.example.com", got ${JSON.stringify(host)}`);
  }
  return host;
}

const IPV4_CIDR = /(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(?:3[0-2]|[12]?\d)/;
const IPV6_CIDR = /[0-9a-fA-F:]*:[0-9a-fA-F:.]*\/(?:12[0-8]|1[01]\d|[1-9]?\d)/;
const CIDR = new RegExp(`^(?:${IPV4_CIDR.source}|${IPV6_CIDR.source})$`);

/** An IPv4 or IPv6 CIDR such as `10.0.0.0/8`. */
export function validateCidr(cidr: string, prop: string): string {
  required(cidr, prop);
  if (typeof cidr !== 'string' || !CIDR.test(cidr)) {
    throw new Error(`${prop} must be a CIDR such as "10.0.0.0/8" or "fd00::/8", got ${JSON.stringify(cidr)}`);
  }
  return cidr;
}

/** A list whose entries each pass `check` and do not repeat; returns a copy. */
export function validateUniqueList<T extends string | number>(values: T[], prop: string, check: (v: T, prop: string) => T): T[] {
  required(values, prop);
  if (!Array.isArray(values)) throw new Error(`${prop} must be a list, got ${JSON.stringify(values)}`);
  const seen = new Set<T>();
  values.forEach((v, i) => {
    check(v, `${prop}[${i}]`);
    if (seen.has(v)) throw new Error(`${prop} must not repeat entries, got ${JSON.stringify(v)} twice`);
    seen.add(v);
  });
  return [...values];
}

/**
 * One of a fixed set of values (an enum's values or a string union), matched
 * exactly: a value in another case is refused with the allowed spellings, never
 * silently treated as the default.
 */
export function validateOneOf<T extends string>(value: T, allowed: readonly T[] | Record<string, T>, prop: string): T {
  required(value, prop);
  const values = (Array.isArray(allowed) ? allowed : Object.values(allowed)) as readonly T[];
  if (!values.includes(value)) {
    const hint = typeof value === 'string' ? values.find((v) => v.toLowerCase() === value.toLowerCase()) : undefined;
    throw new Error(
      `${prop} must be one of ${values.map((v) => `"${v}"`).join(', ')}, got ${JSON.stringify(value)}${hint ? ` (did you mean "${hint}"?)` : ''}`,
    );
  }
  return value;
}

/** A boolean, not a string such as "false". */
export function validateBoolean(value: boolean, prop: string): boolean {
  required(value, prop);
  if (typeof value !== 'boolean') throw new Error(`${prop} must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

/** An IANA time zone the JavaScript runtime (and so the tz database) knows, e.g. `Europe/Berlin` or `Etc/UTC`. */
export function validateTimeZone(zone: string, prop: string): string {
  required(zone, prop);
  let resolved: string | undefined;
  if (typeof zone === 'string' && /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(zone)) {
    try {
      resolved = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
    } catch {
      resolved = undefined;
    }
  }
  if (resolved === undefined) throw new Error(`${prop} must be an IANA time zone such as "Europe/Berlin" or "Etc/UTC", got ${JSON.stringify(zone)}`);
  // the JavaScript runtime ignores case, the tz database the cluster reads does not: "europe/berlin" would fail there
  const caseMismatch = resolved.toLowerCase() === zone.toLowerCase() ? resolved !== zone : zone.split('/').some((seg) => !/^[A-Z]/.test(seg));
  if (caseMismatch) {
    throw new Error(
      `${prop} must be an IANA time zone in its exact case, got ${JSON.stringify(zone)}` +
        (resolved.toLowerCase() === zone.toLowerCase() ? ` (did you mean "${resolved}"?)` : ''),
    );
  }
  return zone;
}

/** The verbs Kubernetes RBAC authorizes (resource and non-resource requests). */
export const RBAC_VERBS = [
  'get',
  'list',
  'watch',
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
  'impersonate',
  'bind',
  'escalate',
  'use',
  'approve',
  'sign',
  'attest',
  'proxy',
] as const;

/** An RBAC verb (see {@link RBAC_VERBS}); `*` only when wildcards are allowed by the caller. */
export function validateRbacVerb(verb: string, prop: string): string {
  required(verb, prop);
  if (!(RBAC_VERBS as readonly string[]).includes(verb)) {
    throw new Error(`${prop} must be an RBAC verb (${RBAC_VERBS.join(', ')}), got ${JSON.stringify(verb)}`);
  }
  return verb;
}

/** Text with at least one non-white-space character (a script, an entry point). */
export function validateNonEmptyText(value: string, prop: string): string {
  required(value, prop);
  if (typeof value !== 'string' || value.trim() === '') throw new Error(`${prop} must not be empty, got ${JSON.stringify(value)}`);
  return value;
}

/**
 * Environment variables in cdk8s-plus's words: each value must be a
 * `kplus.EnvValue` (or, where `allowStrings`, a string); numbers, booleans and
 * objects are refused rather than emitted as a variable with no value.
 */
export function validateEnvVariables(env: Record<string, unknown>, prop: string, allowStrings: boolean = false): Record<string, kplus.EnvValue> {
  if (env === null || typeof env !== 'object' || Array.isArray(env))
    throw new Error(`${prop} must be an object of name to value, got ${JSON.stringify(env)}`);
  const out: Record<string, kplus.EnvValue> = {};
  for (const [name, value] of Object.entries(env)) {
    validateEnvName(name, `${prop} name`);
    if (value instanceof kplus.EnvValue) out[name] = value;
    else if (allowStrings && typeof value === 'string') out[name] = kplus.EnvValue.fromValue(value);
    else {
      throw new Error(
        `${prop} "${name}" must be ${allowStrings ? 'a string or ' : ''}a kplus.EnvValue ` +
          `(EnvValue.fromValue("..."), fromSecretValue, fromConfigMap...), got ${typeof value}` +
          (value === undefined ? '' : ` ${JSON.stringify(value)}`),
      );
    }
  }
  return out;
}

function cpuMillis(amount: string): number {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(String(amount));
  return m ? Number(m[1]) * (m[2] === 'm' ? 1 : 1000) : NaN;
}

const RESOURCE_PROPS: Record<keyof Required<kplus.ContainerResources>, true> = { cpu: true, memory: true, ephemeralStorage: true };
const RESOURCE_SIDES = { request: true, limit: true } as const;

/**
 * Container resources: only `cpu`, `memory` and `ephemeralStorage`, each a
 * `request` and/or `limit` of the right type; CPU in whole millicores of at
 * least 1m; sizes finite and limits above zero; requests at most their limits
 * (the API server rejects the pod otherwise).
 */
export function validateResources(resources: kplus.ContainerResources | undefined, prop: string): kplus.ContainerResources | undefined {
  if (resources === undefined) return undefined;
  if (resources === null || typeof resources !== 'object')
    throw new Error(`${prop} must be kplus.ContainerResources ({ cpu, memory, ephemeralStorage }), got ${JSON.stringify(resources)}`);
  validateKnownProps(resources, RESOURCE_PROPS, prop);
  for (const [kind, type, example] of [
    ['cpu', kplus.Cpu, 'Cpu.millis(100)'],
    ['memory', Size, 'Size.mebibytes(64)'],
    ['ephemeralStorage', Size, 'Size.mebibytes(64)'],
  ] as const) {
    const r = (resources as Record<string, Record<string, unknown> | undefined>)[kind];
    if (r === undefined) continue;
    if (r === null || typeof r !== 'object') throw new Error(`${prop}.${kind} must be an object { request?, limit? }, got ${JSON.stringify(r)}`);
    validateKnownProps(r, RESOURCE_SIDES, `${prop}.${kind}`);
    for (const side of ['request', 'limit']) {
      const v = r[side];
      if (v === undefined) continue;
      if (!(v instanceof type)) {
        throw new Error(`${prop}.${kind}.${side} must be a ${example.split('.')[0]} such as ${example}, got ${JSON.stringify(v)}`);
      }
      if (v instanceof kplus.Cpu) {
        const millis = cpuMillis(v.amount);
        if (!Number.isFinite(millis) || millis < 1 || !Number.isInteger(millis)) {
          throw new Error(`${prop}.cpu.${side} must be whole millicores of at least 1m (Cpu.millis(1) or more), got ${JSON.stringify(v.amount)}`);
        }
      } else {
        const kibs = (v as Size).toKibibytes({ rounding: SizeRoundingBehavior.NONE });
        if (!Number.isFinite(kibs)) throw new Error(`${prop}.${kind}.${side} must be a finite size such as ${example}, got ${kibs}Ki`);
        if (side === 'limit' && kibs <= 0) {
          throw new Error(
            `${prop}.${kind}.limit must be above zero (a zero limit kills the container at start; omit the limit instead), got ${kibs}Ki`,
          );
        }
      }
    }
  }
  const cpu = resources.cpu;
  if (cpu?.request && cpu?.limit && cpuMillis(cpu.request.amount) > cpuMillis(cpu.limit.amount)) {
    throw new Error(`${prop}.cpu.request must not exceed ${prop}.cpu.limit, got request ${cpu.request.amount} and limit ${cpu.limit.amount}`);
  }
  const mem = resources.memory;
  const kib = (s: { toKibibytes(o: { rounding: SizeRoundingBehavior }): number }) => s.toKibibytes({ rounding: SizeRoundingBehavior.NONE });
  if (mem?.request && mem?.limit && kib(mem.request) > kib(mem.limit)) {
    throw new Error(`${prop}.memory.request must not exceed ${prop}.memory.limit, got request ${kib(mem.request)}Ki and limit ${kib(mem.limit)}Ki`);
  }
  const eph = resources.ephemeralStorage;
  if (eph?.request && eph?.limit && kib(eph.request) > kib(eph.limit)) {
    throw new Error(
      `${prop}.ephemeralStorage.request must not exceed ${prop}.ephemeralStorage.limit, ` +
        `got request ${kib(eph.request)}Ki and limit ${kib(eph.limit)}Ki`,
    );
  }
  return resources;
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const HEADER_VALUE_FORBIDDEN = /[\x00-\x1f\x7f$]/;

/** An HTTP header value for a generated config: no control characters and no `$` (nginx variables). */
export function validateHeaderValue(value: string, prop: string): string {
  required(value, prop);
  if (typeof value !== 'string' || HEADER_VALUE_FORBIDDEN.test(value)) {
    throw new Error(`${prop} must be a header value without control characters or '$', got ${JSON.stringify(value)}`);
  }
  return value;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

/**
 * The known name closest to `key`: the same name in another case, a name it
 * starts or ends (`replica` for `replicas`), or the one at the smallest
 * edit distance (Levenshtein, case-insensitive) when that is at most a third
 * of the name (at least 2); undefined when nothing is that close.
 */
export function nearestName(key: string, names: readonly string[]): string | undefined {
  const lower = String(key).toLowerCase();
  const exactCase = names.find((n) => n.toLowerCase() === lower);
  if (exactCase) return exactCase;
  const scored = names.map((n) => [n, editDistance(n.toLowerCase(), lower)] as const).sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0]));
  const prefix = scored.find(([n]) => n.length >= 4 && lower.length >= 3 && (lower.startsWith(n.toLowerCase()) || n.toLowerCase().startsWith(lower)));
  if (prefix) return prefix[0];
  const best = scored[0];
  return best && best[1] <= Math.max(2, Math.floor(lower.length / 3)) ? best[0] : undefined;
}

/**
 * Refuses props an options object does not have: from JavaScript, or through a
 * spread, a misspelled prop (`replica`, `ingressHost`) would otherwise be
 * silently ignored and its default used. `known` is typed by each caller as
 * `Record<keyof Required<XxxProps>, true>`, so the compiler keeps it complete.
 */
export function validateKnownProps(props: object, known: Record<string, true>, prop: string): void {
  if (props === null || typeof props !== 'object' || Array.isArray(props)) {
    throw new Error(`${prop} must be an object of options, got ${JSON.stringify(props)}`);
  }
  const names = Object.keys(known);
  for (const key of Object.keys(props)) {
    if (Object.prototype.hasOwnProperty.call(known, key)) continue;
    const hint = nearestName(key, names);
    throw new Error(`${prop} has no option "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}: the options are ${names.join(', ')}`);
  }
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FILE_EXTENSION = /^[a-z0-9][a-z0-9+_-]*$/;
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;
const RBAC_RESOURCE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(\/[a-z]+)?$/;
const API_GROUP = /^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** An HTTP header name (RFC 9110 token characters). */
export function validateHeaderName(name: string, prop: string): string {
  required(name, prop);
  if (typeof name !== 'string' || !HEADER_NAME.test(name))
    throw new Error(`${prop} must be an HTTP header name (token characters), got ${JSON.stringify(name)}`);
  return name;
}

/** A file extension without the dot, lowercase: `html`, `woff2`. */
export function validateFileExtension(ext: string, prop: string): string {
  required(ext, prop);
  if (typeof ext !== 'string' || !FILE_EXTENSION.test(ext))
    throw new Error(`${prop} must be lowercase letters and digits without the dot, got ${JSON.stringify(ext)}`);
  return ext;
}

/** A lowercase media type such as `text/html`. */
export function validateMediaType(type: string, prop: string): string {
  required(type, prop);
  if (typeof type !== 'string' || !MEDIA_TYPE.test(type))
    throw new Error(`${prop} must be a lowercase media type like "text/html", got ${JSON.stringify(type)}`);
  return type;
}

/** An RBAC resource such as `pods` or a subresource such as `pods/log`. */
export function validateRbacResource(resource: string, prop: string): string {
  required(resource, prop);
  if (typeof resource !== 'string' || !RBAC_RESOURCE.test(resource))
    throw new Error(`${prop} must be a lowercase resource such as "pods" or "pods/log", got ${JSON.stringify(resource)}`);
  return resource;
}

/** An API group: `""` for the core group, or a DNS subdomain such as `apps`. */
export function validateApiGroup(group: string, prop: string): string {
  required(group, prop);
  if (typeof group !== 'string' || !API_GROUP.test(group))
    throw new Error(`${prop} must be an API group such as "" (core) or "apps", got ${JSON.stringify(group)}`);
  return group;
}

const GIT_REPO = /^\S+$/;
const GIT_REF = /^[^\s~^:?*[\\]+$/;
const PATH_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const AUTH_REALM = /^[A-Za-z0-9 ._-]{1,64}$/;

/** A git repository URL (anything git accepts, without white space). */
export function validateGitRepo(repo: string, prop: string): string {
  required(repo, prop);
  if (typeof repo !== 'string' || !GIT_REPO.test(repo))
    throw new Error(`${prop} must be a git repository URL without spaces, got ${JSON.stringify(repo)}`);
  return repo;
}

/** A git branch, tag or commit hash: no white space or `~^:?*[\`. */
export function validateGitRef(ref: string, prop: string): string {
  required(ref, prop);
  if (typeof ref !== 'string' || !GIT_REF.test(ref))
    throw new Error(`${prop} must be a branch, tag or hash without spaces or ~^:?*[\\, got ${JSON.stringify(ref)}`);
  return ref;
}

/** One path segment (a file or link name): letters, digits, '.', '_' and '-', not starting with '.'. */
export function validatePathSegment(name: string, prop: string): string {
  required(name, prop);
  if (typeof name !== 'string' || !PATH_SEGMENT.test(name))
    throw new Error(`${prop} must be a single path segment of letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`);
  return name;
}

/** An HTTP basic-auth realm that is safe inside a generated config: 1-64 letters, digits, spaces, '.', '_' or '-'. */
export function validateAuthRealm(realm: string, prop: string): string {
  required(realm, prop);
  if (typeof realm !== 'string' || !AUTH_REALM.test(realm))
    throw new Error(`${prop} must be 1-64 letters, digits, spaces, '.', '_' or '-', got ${JSON.stringify(realm)}`);
  return realm;
}

/** A list (an array), or undefined when the prop is optional and left out. */
export function validateList<T>(value: T[] | undefined, prop: string): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`${prop} must be a list, got ${JSON.stringify(value)}`);
  return value;
}

/** A plain object used as a map (not an array, not null), or undefined when optional. */
export function validateRecord<T>(value: Record<string, T> | undefined, prop: string): Record<string, T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new Error(`${prop} must be an object of name to value, got ${JSON.stringify(value)}`);
  return value;
}

const SELECTOR_PROPS = { matchLabels: true, matchExpressions: true } as const;
const EXPRESSION_PROPS = { key: true, operator: true, values: true } as const;
const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/**
 * A label selector (`matchLabels` and/or `matchExpressions`) as a
 * NetworkPolicy, Deployment or PodDisruptionBudget takes it: keys are
 * qualified names, values are label values (the API server refuses the
 * object otherwise), `In`/`NotIn` list values and `Exists`/`DoesNotExist` do not.
 */
export function validateLabelSelector(selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] }, prop: string): void {
  if (selector === null || typeof selector !== 'object' || Array.isArray(selector)) {
    throw new Error(`${prop} must be a label selector { matchLabels?, matchExpressions? }, got ${JSON.stringify(selector)}`);
  }
  validateKnownProps(selector, SELECTOR_PROPS, prop);
  for (const [key, value] of Object.entries(validateRecord(selector.matchLabels, `${prop}.matchLabels`))) {
    validateQualifiedName(key, `${prop}.matchLabels key`, 'app.kubernetes.io/name');
    validateLabelValue(value, `${prop}.matchLabels "${key}"`);
  }
  validateList(selector.matchExpressions, `${prop}.matchExpressions`).forEach((e, i) => {
    const where = `${prop}.matchExpressions[${i}]`;
    if (e === null || typeof e !== 'object') throw new Error(`${where} must be { key, operator, values? }, got ${JSON.stringify(e)}`);
    validateKnownProps(e, EXPRESSION_PROPS, where);
    const x = e as { key: string; operator: string; values?: string[] };
    validateQualifiedName(x.key, `${where}.key`, 'app.kubernetes.io/name');
    validateOneOf(x.operator, SELECTOR_OPERATORS, `${where}.operator`);
    const values = validateList(x.values, `${where}.values`);
    if ((x.operator === 'In' || x.operator === 'NotIn') && values.length === 0) {
      throw new Error(`${where}.values must list at least one value with operator ${x.operator}, got ${JSON.stringify(x.values)}`);
    }
    if ((x.operator === 'Exists' || x.operator === 'DoesNotExist') && values.length > 0) {
      throw new Error(`${where}.values must be empty with operator ${x.operator}, got ${JSON.stringify(x.values)}`);
    }
    values.forEach((v, j) => validateLabelValue(v, `${where}.values[${j}]`));
  });
}

/** True when `inner` lies inside `outer` with a longer prefix (IPv4 by address; IPv6 by family and prefix only). */
function cidrStrictlyWithin(inner: string, outer: string): boolean {
  const [innerIp, innerBits] = inner.split('/');
  const [outerIp, outerBits] = outer.split('/');
  if (inner.includes(':') !== outer.includes(':') || Number(innerBits) <= Number(outerBits)) return false;
  if (inner.includes(':')) return true;
  const num = (ip: string) => ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const block = 2 ** (32 - Number(outerBits));
  return Math.floor(num(innerIp) / block) === Math.floor(num(outerIp) / block);
}

const PEER_PROPS = { podSelector: true, namespaceSelector: true, ipBlock: true } as const;
const IP_BLOCK_PROPS = { cidr: true, except: true } as const;

/** A NetworkPolicy peer: podSelector and/or namespaceSelector, or an ipBlock, each checked as the API server does. */
export function validateNetworkPolicyPeer(
  peer: { podSelector?: any; namespaceSelector?: any; ipBlock?: { cidr: string; except?: string[] } },
  where: string,
): void {
  if (!peer || typeof peer !== 'object' || (peer.podSelector === undefined && peer.namespaceSelector === undefined && peer.ipBlock === undefined)) {
    throw new Error(`${where} must set podSelector, namespaceSelector or ipBlock, got ${JSON.stringify(peer)}`);
  }
  validateKnownProps(peer, PEER_PROPS, where);
  if (peer.ipBlock && (peer.podSelector || peer.namespaceSelector)) {
    throw new Error(`${where} must not combine ipBlock with a selector, got ${JSON.stringify(peer)}`);
  }
  if (peer.podSelector !== undefined) validateLabelSelector(peer.podSelector, `${where}.podSelector`);
  if (peer.namespaceSelector !== undefined) validateLabelSelector(peer.namespaceSelector, `${where}.namespaceSelector`);
  if (peer.ipBlock) {
    validateKnownProps(peer.ipBlock, IP_BLOCK_PROPS, `${where}.ipBlock`);
    validateCidr(peer.ipBlock.cidr, `${where}.ipBlock.cidr`);
    validateList(peer.ipBlock.except, `${where}.ipBlock.except`).forEach((c, j) => {
      validateCidr(c, `${where}.ipBlock.except[${j}]`);
      if (!cidrStrictlyWithin(c, peer.ipBlock!.cidr)) {
        throw new Error(
          `${where}.ipBlock.except[${j}] must be a strict subset of ipBlock.cidr "${peer.ipBlock!.cidr}" ` +
            `(the API server refuses it otherwise), got "${c}"`,
        );
      }
    });
  }
}

/**
 * The API groups of Kubernetes' built-in resources (1.28), for catching an
 * RBAC rule that names a resource in the wrong group: such a rule grants
 * nothing. Resources served by more than one group list each.
 */
export const BUILTIN_RESOURCE_GROUPS: Readonly<Record<string, readonly string[]>> = {
  // core ("")
  bindings: [''],
  componentstatuses: [''],
  configmaps: [''],
  endpoints: [''],
  events: ['', 'events.k8s.io'],
  limitranges: [''],
  namespaces: [''],
  nodes: [''],
  persistentvolumeclaims: [''],
  persistentvolumes: [''],
  pods: [''],
  podtemplates: [''],
  replicationcontrollers: [''],
  resourcequotas: [''],
  secrets: [''],
  serviceaccounts: [''],
  services: [''],
  // apps
  controllerrevisions: ['apps'],
  daemonsets: ['apps'],
  deployments: ['apps'],
  replicasets: ['apps'],
  statefulsets: ['apps'],
  // batch
  cronjobs: ['batch'],
  jobs: ['batch'],
  // autoscaling, policy, networking, discovery, coordination
  horizontalpodautoscalers: ['autoscaling'],
  poddisruptionbudgets: ['policy'],
  ingresses: ['networking.k8s.io'],
  ingressclasses: ['networking.k8s.io'],
  networkpolicies: ['networking.k8s.io'],
  endpointslices: ['discovery.k8s.io'],
  leases: ['coordination.k8s.io'],
  // rbac, storage, scheduling, certificates, admission, apiextensions, node
  roles: ['rbac.authorization.k8s.io'],
  rolebindings: ['rbac.authorization.k8s.io'],
  clusterroles: ['rbac.authorization.k8s.io'],
  clusterrolebindings: ['rbac.authorization.k8s.io'],
  storageclasses: ['storage.k8s.io'],
  volumeattachments: ['storage.k8s.io'],
  csidrivers: ['storage.k8s.io'],
  csinodes: ['storage.k8s.io'],
  csistoragecapacities: ['storage.k8s.io'],
  priorityclasses: ['scheduling.k8s.io'],
  runtimeclasses: ['node.k8s.io'],
  certificatesigningrequests: ['certificates.k8s.io'],
  mutatingwebhookconfigurations: ['admissionregistration.k8s.io'],
  validatingwebhookconfigurations: ['admissionregistration.k8s.io'],
  validatingadmissionpolicies: ['admissionregistration.k8s.io'],
  validatingadmissionpolicybindings: ['admissionregistration.k8s.io'],
  customresourcedefinitions: ['apiextensions.k8s.io'],
  apiservices: ['apiregistration.k8s.io'],
  flowschemas: ['flowcontrol.apiserver.k8s.io'],
  prioritylevelconfigurations: ['flowcontrol.apiserver.k8s.io'],
  tokenreviews: ['authentication.k8s.io'],
  subjectaccessreviews: ['authorization.k8s.io'],
  selfsubjectaccessreviews: ['authorization.k8s.io'],
  localsubjectaccessreviews: ['authorization.k8s.io'],
};

/**
 * Refuses a rule whose built-in resources (see {@link BUILTIN_RESOURCE_GROUPS})
 * are in none of its API groups, such as `deployments` in the core group `""`.
 * Wildcard groups and unknown (custom) resources are not checked.
 */
export function validateRbacResourceGroups(resources: readonly string[], apiGroups: readonly string[], where: string): void {
  if (apiGroups.includes('*')) return;
  resources.forEach((resource, i) => {
    const groups = BUILTIN_RESOURCE_GROUPS[String(resource).split('/')[0]];
    if (!groups || groups.some((g) => apiGroups.includes(g))) return;
    const shown = (g: string) => (g === '' ? '"" (core)' : `"${g}"`);
    throw new Error(
      `${where}.resources[${i}] "${resource}" is in API group ${groups.map(shown).join(' or ')}, ` +
        `got apiGroups [${apiGroups.map(shown).join(', ')}]: ` +
        `add ${shown(groups[0])} to apiGroups${apiGroups.length > 1 || resources.length > 1 ? ' or give it a rule of its own' : ''}`,
    );
  });
}

/** Built-in resources that are cluster-scoped: a namespaced Role that names them grants nothing. */
export const CLUSTER_SCOPED_RESOURCES: ReadonlySet<string> = new Set([
  'namespaces',
  'nodes',
  'persistentvolumes',
  'componentstatuses',
  'storageclasses',
  'volumeattachments',
  'csidrivers',
  'csinodes',
  'clusterroles',
  'clusterrolebindings',
  'priorityclasses',
  'runtimeclasses',
  'certificatesigningrequests',
  'mutatingwebhookconfigurations',
  'validatingwebhookconfigurations',
  'validatingadmissionpolicies',
  'validatingadmissionpolicybindings',
  'customresourcedefinitions',
  'apiservices',
  'flowschemas',
  'prioritylevelconfigurations',
  'ingressclasses',
  'tokenreviews',
  'subjectaccessreviews',
  'selfsubjectaccessreviews',
]);

/**
 * Whether a Size is a whole number of mebibytes, at least 1: cdk8s-plus-28 writes an emptyDir's
 * `sizeLimit` in whole MiB only (and fails deep inside synth otherwise).
 */
export function isWholeMebibytes(size: Size): boolean {
  let mib: number;
  try {
    mib = size.toMebibytes({ rounding: SizeRoundingBehavior.FAIL });
  } catch {
    return false;
  }
  return Number.isInteger(mib) && mib >= 1;
}
