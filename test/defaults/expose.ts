/**
 * The documented defaults of the exposure options (lib/expose.ts): ExposeOptions and the option bags it
 * holds (IngressOptions, NetworkPolicyOptions, PodDisruptionBudgetOptions), EgressOptions and ExposeTarget.
 * test/defaults.test.ts runs each entry as its own test.
 *
 * ExposeOptions is shared by every construct that serves traffic; it is asserted once, through StaticSite
 * (the construct with the fewest required props), with every other prop left unset.
 * EgressOptions is asserted on the building block that takes it
 * (WorkloadNetworkPolicy.allowEgressTo).
 */
import { Testing } from 'cdk8s';
import { Files, StaticSite, StaticSiteProps, WorkloadNetworkPolicy } from '../../lib';
import { K8sObject } from '../../lib/testing';
import { findAll, findObject, synthObjects } from '../support/synth';

/** The objects of a StaticSite with one inline page and `props` (nothing else set). */
function site(props: Partial<StaticSiteProps> = {}): K8sObject[] {
  const chart = Testing.chart();
  new StaticSite(chart, 'site', { files: Files.fromContent({ 'index.html': '<h1>hello</h1>' }), ...props });
  return synthObjects(chart);
}

/** The `from` peers of the single ingress rule of the site's NetworkPolicy. */
function admitted(objects: K8sObject[]): unknown[] {
  const rules = findObject(objects, 'NetworkPolicy').spec.ingress;
  expect(rules).toHaveLength(1);
  return rules[0].from;
}

const SAME_NAMESPACE = { podSelector: {} };
const ingressController = (ns: string) => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } });

export const DEFAULTS: Record<string, () => void> = {
  'ExposeOptions.serviceType': () => {
    expect(findObject(site(), 'Service').spec.type).toBe('ClusterIP');
  },

  'ExposeOptions.servicePort': () => {
    const ports = findObject(site(), 'Service').spec.ports;
    expect(ports).toHaveLength(1);
    expect(ports[0].port).toBe(80);
    // it targets the container port
    expect(ports[0].targetPort).toBe(8080);
  },

  'ExposeOptions.ingress': () => {
    expect(findAll(site(), 'Ingress')).toEqual([]);
  },

  'ExposeOptions.networkPolicy': () => {
    // a NetworkPolicy admitting pods of the same namespace to the served port ...
    const plain = findObject(site(), 'NetworkPolicy');
    expect(plain.spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'static-site', 'app.kubernetes.io/instance': 'static-site' });
    expect(plain.spec.ingress).toEqual([{ from: [SAME_NAMESPACE], ports: [{ protocol: 'TCP', port: 8080 }] }]);
    // ... and the Ingress controller's namespace when there is an Ingress
    const withIngress = findObject(site({ ingress: {} }), 'NetworkPolicy');
    expect(withIngress.spec.ingress).toEqual([
      { from: [SAME_NAMESPACE, ingressController('ingress-nginx')], ports: [{ protocol: 'TCP', port: 8080 }] },
    ]);
  },

  'ExposeOptions.podDisruptionBudget': () => {
    // a Deployment with 2 or more replicas: maxUnavailable 1
    for (const replicas of [2, 3]) {
      const objects = site({ replicas });
      expect(findObject(objects, 'Deployment').spec.replicas).toBe(replicas);
      const pdb = findObject(objects, 'PodDisruptionBudget');
      expect(pdb.spec.maxUnavailable).toBe(1);
      expect(pdb.spec.selector.matchLabels).toEqual(findObject(objects, 'Deployment').spec.selector.matchLabels);
    }
    // none otherwise
    expect(findAll(site({ replicas: 1 }), 'PodDisruptionBudget')).toEqual([]);
  },

  'IngressOptions.host': () => {
    const rules = findObject(site({ ingress: {} }), 'Ingress').spec.rules;
    expect(rules).toHaveLength(1);
    expect(rules[0].host).toBeUndefined();
  },

  'IngressOptions.path': () => {
    const paths = findObject(site({ ingress: {} }), 'Ingress').spec.rules[0].http.paths;
    expect(paths).toEqual([{ path: '/', pathType: 'Prefix', backend: { service: { name: 'static-site', port: { number: 80 } } } }]);
  },

  'IngressOptions.className': () => {
    expect(findObject(site({ ingress: {} }), 'Ingress').spec.ingressClassName).toBeUndefined();
  },

  'IngressOptions.tlsSecret': () => {
    expect(findObject(site({ ingress: {} }), 'Ingress').spec.tls).toBeUndefined();
  },

  'IngressOptions.annotations': () => {
    expect(findObject(site({ ingress: {} }), 'Ingress').metadata.annotations).toBeUndefined();
  },

  'NetworkPolicyOptions.allowFromNamespaces': () => {
    // pods in the workload's own namespace ...
    expect(admitted(site({ networkPolicy: {} }))).toEqual([SAME_NAMESPACE]);
    // ... unless allowFrom is given
    const peer = { ipBlock: { cidr: '10.0.0.0/8' } };
    expect(admitted(site({ networkPolicy: { allowFrom: [peer] } }))).toEqual([peer]);
  },

  'NetworkPolicyOptions.allowFrom': () => {
    // none: only the workload's own namespace ...
    expect(admitted(site({ networkPolicy: {} }))).toEqual([SAME_NAMESPACE]);
    // ... unless allowFromNamespaces is given, which then replaces it
    expect(admitted(site({ networkPolicy: { allowFromNamespaces: ['shop'] } }))).toEqual([
      { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['shop'] }] } },
    ]);
  },

  'NetworkPolicyOptions.ingressControllerNamespace': () => {
    expect(admitted(site({ ingress: {}, networkPolicy: {} }))).toEqual([SAME_NAMESPACE, ingressController('ingress-nginx')]);
  },

  'PodDisruptionBudgetOptions.maxUnavailable': () => {
    // given (even as {}), the budget is made with maxUnavailable 1
    expect(findObject(site({ replicas: 3, podDisruptionBudget: {} }), 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);
  },

  'EgressOptions.ports': () => {
    const chart = Testing.chart();
    const np = new WorkloadNetworkPolicy(chart, 'np', { name: 'np', selector: { app: 'a' }, ingress: [], egress: [] });
    const peer = { ipBlock: { cidr: '10.0.0.0/8' } };
    np.allowEgressTo(peer);
    // every port: a rule with `to` and no `ports`
    expect(findObject(synthObjects(chart), 'NetworkPolicy').spec.egress).toEqual([{ to: [peer] }]);
  },

  'EgressOptions.protocol': () => {
    const chart = Testing.chart();
    const np = new WorkloadNetworkPolicy(chart, 'np', { name: 'np', selector: { app: 'a' }, ingress: [], egress: [] });
    const peer = { ipBlock: { cidr: '10.0.0.0/8' } };
    np.allowEgressTo(peer, { ports: [5432] });
    expect(findObject(synthObjects(chart), 'NetworkPolicy').spec.egress).toEqual([{ to: [peer], ports: [{ protocol: 'TCP', port: 5432 }] }]);
  },
};
