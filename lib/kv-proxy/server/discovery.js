// @ts-check
'use strict';
/**
 * Service discovery from cached Services and discovery.k8s.io/v1
 * EndpointSlices: per Service its type, clusterIP, ports and the addresses of
 * ready endpoints (an endpoint whose ready condition is unset counts as
 * ready, as the EndpointSlice API documents; terminating ones do not).
 */

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/**
 * @typedef {Record<string, any>} KubeObject
 * @typedef {{ name?: string, port: number, protocol: string, targetPort?: number | string, nodePort?: number }} ServicePort
 * @typedef {{
 *   type: string,
 *   clusterIP: string | null,
 *   ports: ServicePort[],
 *   endpoints: { addresses: string[], ports: { name?: string, port: number, protocol: string }[] },
 * }} ServiceInfo
 */

/**
 * @param {KubeObject[]} services
 * @param {KubeObject[]} slices
 * @returns {Record<string, ServiceInfo>} keyed by Service name, sorted
 */
function discover(services, slices) {
  /** @type {Map<string, KubeObject[]>} */
  const byService = new Map();
  for (const slice of slices) {
    const svc = slice.metadata.labels && slice.metadata.labels[SERVICE_NAME_LABEL];
    if (!svc) continue;
    const list = byService.get(svc) || [];
    list.push(slice);
    byService.set(svc, list);
  }
  /** @type {[string, ServiceInfo][]} */
  const entries = [];
  for (const svc of services) {
    const spec = svc.spec || {};
    const addresses = new Set();
    /** @type {Map<string, { name?: string, port: number, protocol: string }>} */
    const endpointPorts = new Map();
    for (const slice of byService.get(svc.metadata.name) || []) {
      let any = false;
      for (const ep of slice.endpoints || []) {
        const c = ep.conditions || {};
        if (c.ready === false || c.terminating === true) continue;
        for (const a of ep.addresses || []) addresses.add(a);
        any = true;
      }
      if (!any) continue;
      for (const p of slice.ports || []) {
        if (typeof p.port !== 'number') continue;
        const port = { ...(p.name ? { name: p.name } : {}), port: p.port, protocol: p.protocol || 'TCP' };
        endpointPorts.set(`${port.name || ''}/${port.port}/${port.protocol}`, port);
      }
    }
    entries.push([
      svc.metadata.name,
      {
        type: spec.type || 'ClusterIP',
        clusterIP: spec.clusterIP || null,
        ports: (spec.ports || []).map((/** @type {any} */ p) => ({
          ...(p.name ? { name: p.name } : {}),
          port: p.port,
          protocol: p.protocol || 'TCP',
          ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
          ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
        })),
        endpoints: {
          addresses: [...addresses].sort(),
          ports: [...endpointPorts.values()].sort((a, b) => a.port - b.port),
        },
      },
    ]);
  }
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries);
}

module.exports = { discover };
