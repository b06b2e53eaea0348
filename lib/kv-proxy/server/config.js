// @ts-check
'use strict';
/**
 * Configuration from environment variables, validated once at startup.
 * Every problem is collected so one failed start names all of them.
 */
const { parseLabelSelector } = require('./selector.js');
const { isNamespaceName, isConfigMapName } = require('./validate.js');

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * @typedef {{
 *   baseUrl: URL,
 *   tokenFile: string | undefined,
 *   caFile: string | undefined,
 *   inCluster: boolean,
 * }} KubeConfig
 * @typedef {{
 *   port: number,
 *   listenAddress: string | undefined,
 *   kube: KubeConfig,
 *   namespaces: string[],
 *   configMapNames: string[] | undefined,
 *   labelSelector: import('./selector.js').LabelSelector | undefined,
 *   writeEnabled: boolean,
 *   discoveryEnabled: boolean,
 *   consulApi: boolean,
 *   tokensDir: string,
 *   maxBodyBytes: number,
 *   maxWaitSeconds: number,
 *   shutdownTimeoutSeconds: number,
 *   selfConfigMaps: string[],
 *   accessLog: AccessLog,
 *   upstreamTimeoutMs: number,
 *   catchUpTimeoutMs: number,
 *   metricsPort: number | undefined,
 *   metricsAuth: 'none' | 'token',
 *   writableLabel: { key: string, value: string },
 *   writeScope: WriteScope,
 *   auditLog: AuditLog,
 * }} Config
 * @typedef {'off' | 'errors' | 'all'} AccessLog
 * @typedef {'labeled' | 'any'} WriteScope
 *   labeled: only ConfigMaps carrying writableLabel (or named in KV_CONFIGMAP_NAMES) are written;
 *   any: every ConfigMap served. Either way some are never written (kv.js writeRefusal).
 * @typedef {'stdout' | 'stderr' | 'off'} AuditLog
 */

/** The label that opts a ConfigMap in to writes through the proxy, unless KV_WRITABLE_LABEL says another. */
const DEFAULT_WRITABLE_LABEL = 'kv-proxy.cdk8s-patterns.io/writable=true';

class ConfigError extends Error {
  /** @param {string[]} problems */
  constructor(problems) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * @param {NodeJS.ProcessEnv} env
 * @param {string} name
 */
function text(env, name) {
  const v = env[name];
  return v === undefined ? '' : v.trim();
}

/**
 * @param {NodeJS.ProcessEnv} env
 * @param {string} name
 * @param {number} fallback
 * @param {number} min
 * @param {number} max
 * @param {string[]} problems
 */
function integer(env, name, fallback, min, max, problems) {
  const raw = text(env, name);
  if (raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    problems.push(`${name} must be an integer ${min}-${max}, got "${raw}"`);
    return fallback;
  }
  return Number(raw);
}

/**
 * @param {NodeJS.ProcessEnv} env
 * @param {string} name
 * @param {boolean} fallback
 * @param {string[]} problems
 */
function boolean(env, name, fallback, problems) {
  const raw = text(env, name).toLowerCase();
  if (raw === '') return fallback;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  problems.push(`${name} must be true or false, got "${text(env, name)}"`);
  return fallback;
}

/**
 * @param {NodeJS.ProcessEnv} env
 * @param {string} name
 * @param {string[]} allowed the first is the default
 * @param {string[]} problems
 */
function oneOf(env, name, allowed, problems) {
  const raw = text(env, name).toLowerCase();
  if (raw === '') return allowed[0];
  if (allowed.includes(raw)) return raw;
  problems.push(`${name} must be one of ${allowed.join(', ')}, got "${text(env, name)}"`);
  return allowed[0];
}

/**
 * @param {string} raw
 */
function commaList(raw) {
  return [
    ...new Set(
      raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    ),
  ];
}

/**
 * @param {NodeJS.ProcessEnv} env
 * @param {string[]} problems
 * @returns {KubeConfig}
 */
function kubeConfig(env, problems) {
  const apiUrl = text(env, 'KUBE_API_URL');
  const fallback = { baseUrl: new URL('http://127.0.0.1'), tokenFile: undefined, caFile: undefined, inCluster: false };
  if (apiUrl !== '') {
    let url;
    try {
      url = new URL(apiUrl);
    } catch {
      problems.push(`KUBE_API_URL must be an http(s) URL such as http://127.0.0.1:8001, got "${apiUrl}"`);
      return fallback;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      problems.push(`KUBE_API_URL must use http or https, got "${apiUrl}"`);
      return fallback;
    }
    if (url.search || url.hash || url.username || url.password) {
      problems.push(`KUBE_API_URL must not contain credentials, a query or a fragment, got "${url.origin}${url.pathname}..."`);
      return fallback;
    }
    const caFile = text(env, 'KUBE_CA_FILE') || undefined;
    if (caFile && url.protocol !== 'https:') problems.push('KUBE_CA_FILE is set but KUBE_API_URL is not https');
    return { baseUrl: url, tokenFile: text(env, 'KUBE_TOKEN_FILE') || undefined, caFile, inCluster: false };
  }
  const host = text(env, 'KUBERNETES_SERVICE_HOST');
  const port = text(env, 'KUBERNETES_SERVICE_PORT');
  if (host === '' || port === '') {
    problems.push(
      'KUBE_API_URL is not set and KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are missing: ' +
        'run in a pod, or set KUBE_API_URL (e.g. http://127.0.0.1:8001 with `kubectl proxy`)',
    );
    return fallback;
  }
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    problems.push(`KUBERNETES_SERVICE_PORT must be a port number, got "${port}"`);
    return fallback;
  }
  let baseUrl;
  try {
    baseUrl = new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`);
  } catch {
    problems.push(`KUBERNETES_SERVICE_HOST is not a valid host, got "${host}"`);
    return fallback;
  }
  return {
    baseUrl,
    tokenFile: `${SERVICE_ACCOUNT_DIR}/token`,
    caFile: `${SERVICE_ACCOUNT_DIR}/ca.crt`,
    inCluster: true,
  };
}

/**
 * Read and validate the configuration. Throws ConfigError listing every problem.
 * @param {NodeJS.ProcessEnv} env
 * @returns {Config}
 */
function loadConfig(env) {
  /** @type {string[]} */
  const problems = [];

  const port = integer(env, 'PORT', 8080, 0, 65535, problems);
  const listenAddress = text(env, 'KV_LISTEN_ADDRESS') || undefined;
  const kube = kubeConfig(env, problems);

  const namespaces = commaList(text(env, 'KV_NAMESPACES'));
  if (namespaces.length === 0) {
    problems.push('KV_NAMESPACES is required: a comma-separated list of the namespaces to serve, e.g. "default,apps"');
  }
  for (const ns of namespaces) {
    if (!isNamespaceName(ns)) problems.push(`KV_NAMESPACES contains "${ns}", which is not a valid namespace name (lowercase RFC 1123 label)`);
  }

  const names = commaList(text(env, 'KV_CONFIGMAP_NAMES'));
  for (const name of names) {
    if (!isConfigMapName(name))
      problems.push(`KV_CONFIGMAP_NAMES contains "${name}", which is not a valid ConfigMap name (lowercase RFC 1123 subdomain)`);
  }

  let labelSelector;
  const selectorText = text(env, 'KV_LABEL_SELECTOR');
  if (selectorText !== '') {
    try {
      labelSelector = parseLabelSelector(selectorText);
    } catch (err) {
      problems.push(`KV_LABEL_SELECTOR "${selectorText}" is not a valid label selector: ${/** @type {Error} */ (err).message}`);
    }
  }

  // The ConfigMaps the proxy runs from ("<namespace>/<name>", or "<namespace>/<prefix>*"
  // for every version of a content-named one): never written, nor created, through it.
  const selfConfigMaps = commaList(text(env, 'KV_SELF_CONFIGMAPS'));
  for (const ref of selfConfigMaps) {
    const [ns, name, more] = ref.split('/');
    const base = name && name.endsWith('*') ? name.slice(0, -1).replace(/[-.]$/, '') : name;
    if (more !== undefined || !ns || !base || !isNamespaceName(ns) || !isConfigMapName(base)) {
      problems.push(`KV_SELF_CONFIGMAPS contains "${ref}", which is not "<namespace>/<configmap name>" or "<namespace>/<name prefix>*"`);
    }
  }

  // The label that opts a ConfigMap in to writes: one "<key>=<value>".
  let writableLabel = { key: 'kv-proxy.cdk8s-patterns.io/writable', value: 'true' };
  const writableText = text(env, 'KV_WRITABLE_LABEL') || DEFAULT_WRITABLE_LABEL;
  try {
    const parsed = parseLabelSelector(writableText);
    const [r, more] = parsed.requirements;
    if (!r || more || r.op !== 'eq' || r.values[0] === '') throw new Error('it must be exactly one "<key>=<value>" with a non-empty value');
    writableLabel = { key: r.key, value: r.values[0] };
  } catch (err) {
    problems.push(
      `KV_WRITABLE_LABEL must be one label "<key>=<value>", e.g. "${DEFAULT_WRITABLE_LABEL}", ` +
        `got "${writableText}": ${/** @type {Error} */ (err).message}`,
    );
  }

  const metricsPort = integer(env, 'KV_METRICS_PORT', 0, 0, 65535, problems);
  if (metricsPort !== 0 && metricsPort === port) problems.push(`KV_METRICS_PORT must differ from PORT, got ${metricsPort} for both`);

  const config = {
    port,
    listenAddress,
    kube,
    namespaces,
    configMapNames: names.length > 0 ? names : undefined,
    labelSelector: labelSelector && labelSelector.requirements.length > 0 ? labelSelector : undefined,
    writeEnabled: boolean(env, 'KV_WRITE_ENABLED', false, problems),
    discoveryEnabled: boolean(env, 'KV_DISCOVERY_ENABLED', false, problems),
    consulApi: boolean(env, 'KV_CONSUL_API', true, problems),
    tokensDir: text(env, 'KV_TOKENS_DIR') || '/etc/kv-proxy/tokens',
    maxBodyBytes: integer(env, 'KV_MAX_BODY_BYTES', 1048576, 1, 64 * 1048576, problems),
    maxWaitSeconds: integer(env, 'KV_MAX_WAIT_SECONDS', 300, 0, 3600, problems),
    shutdownTimeoutSeconds: integer(env, 'KV_SHUTDOWN_TIMEOUT_SECONDS', 20, 0, 3600, problems),
    selfConfigMaps,
    accessLog: /** @type {AccessLog} */ (oneOf(env, 'KV_ACCESS_LOG', ['errors', 'all', 'off'], problems)),
    upstreamTimeoutMs: integer(env, 'KV_UPSTREAM_TIMEOUT_SECONDS', 3, 1, 60, problems) * 1000,
    catchUpTimeoutMs: integer(env, 'KV_CATCH_UP_TIMEOUT_SECONDS', 5, 0, 60, problems) * 1000,
    metricsPort: metricsPort === 0 ? undefined : metricsPort,
    metricsAuth: /** @type {'none' | 'token'} */ (oneOf(env, 'KV_METRICS_AUTH', ['none', 'token'], problems)),
    writableLabel,
    writeScope: /** @type {WriteScope} */ (oneOf(env, 'KV_WRITE_SCOPE', ['labeled', 'any'], problems)),
    auditLog: /** @type {AuditLog} */ (oneOf(env, 'KV_AUDIT_LOG', ['stdout', 'stderr', 'off'], problems)),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

module.exports = { loadConfig, ConfigError, SERVICE_ACCOUNT_DIR, DEFAULT_WRITABLE_LABEL };
