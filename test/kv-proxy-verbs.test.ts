/**
 * KvProxy's verbs (addNamespace, allowMetricsFrom, allowFrom,
 * allowFromNamespaces, exposeViaIngress): each validates exactly as the
 * matching prop does (the same error for the same bad input) and gives the
 * same YAML as the prop for the same good input.
 */
import { Duration } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { KvProxy, KvProxyProps } from '../lib/kv-proxy';
import { K8sObject, assertValid } from '../lib/testing';
import { findContainer, findObject, synthObjects, testChart } from './support/synth';
import { secretRef } from './support/refs';

const NS = 'kv';
const TOKENS = `Secret/${NS}/kv-proxy-tokens`;

/** Builds a proxy from `props`, then runs `verbs` on it; returns the objects, sorted by kind, namespace and name. */
function build(props: Partial<KvProxyProps>, verbs: (proxy: KvProxy) => void = () => undefined): K8sObject[] {
  const chart = testChart(NS);
  const proxy = new KvProxy(chart, 'Kv', { namespaces: ['default'], ...props });
  verbs(proxy);
  const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  return synthObjects(chart).sort((a, b) => key(a).localeCompare(key(b)));
}

/** The message `f` throws. */
function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error, got none');
}

const PROMETHEUS: k8s.NetworkPolicyPeer = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } };
const AGENT: k8s.NetworkPolicyPeer = { podSelector: { matchLabels: { app: 'agent' } } };

describe('KvProxy.addNamespace', () => {
  test('gives the same YAML as the namespaces prop: a Role and RoleBinding there, labeled, and KV_NAMESPACES', () => {
    const byProp = build({ namespaces: ['default', 'apps'], writes: true });
    const byVerb = build({ namespaces: ['default'], writes: true }, (p) => p.addNamespace('apps'));
    expect(byVerb).toEqual(byProp);
    const role = byVerb.find((o) => o.kind === 'Role' && o.metadata.namespace === 'apps')!;
    expect(role.metadata.labels).toEqual(
      expect.objectContaining({
        'app.kubernetes.io/name': 'kv-proxy',
        'app.kubernetes.io/instance': 'kv-proxy',
      }),
    );
    const env = findContainer(findObject(byVerb, 'Deployment', 'kv-proxy'), 'kv-proxy').env;
    expect(env).toContainEqual({ name: 'KV_NAMESPACES', value: 'default,apps' });
    expect(() => assertValid(byVerb, { external: [TOKENS] })).not.toThrow();
  });

  test.each([
    ['a namespace that is not a DNS label', 'Apps'],
    ['a namespace served already', 'default'],
  ])('fails as the prop does for %s', (_what, namespace) => {
    const byProp = errorOf(() => build({ namespaces: ['default', namespace] }));
    expect(errorOf(() => build({}, (p) => p.addNamespace(namespace)))).toBe(byProp);
    expect(byProp).toMatch(/^namespaces/);
  });

  test("fails as the prop does when configMapNames names the source ConfigMap and the namespace is the proxy's own", () => {
    const chart = testChart(NS);
    const source = new KvProxy(chart, 'Probe', { name: 'kv-proxy', namespaces: ['default'] }).sourceConfigMap.name;
    const byProp = errorOf(() => build({ namespaces: ['default', NS], configMapNames: [source] }));
    expect(byProp).toMatch(/configMapNames must not include the proxy's own source ConfigMap/);
    expect(errorOf(() => build({ configMapNames: [source] }, (p) => p.addNamespace(NS)))).toBe(byProp);
  });
});

describe('KvProxy.allowMetricsFrom', () => {
  test("gives the same YAML as the metricsAllowFrom prop, replacing the default of the proxy's own namespace", () => {
    const byProp = build({ metricsPort: 9102, metricsAllowFrom: [PROMETHEUS, AGENT] });
    const byVerb = build({ metricsPort: 9102 }, (p) => {
      p.allowMetricsFrom(PROMETHEUS);
      p.allowMetricsFrom(AGENT);
    });
    expect(byVerb).toEqual(byProp);
    expect(findObject(byVerb, 'NetworkPolicy', 'kv-proxy-metrics').spec.ingress).toEqual([
      { from: [PROMETHEUS, AGENT], ports: [{ protocol: 'TCP', port: 9102 }] },
    ]);
    expect(findObject(build({ metricsPort: 9102 }), 'NetworkPolicy', 'kv-proxy-metrics').spec.ingress[0].from).toEqual([{ podSelector: {} }]);
  });

  test.each([
    ['without metricsPort', {}, PROMETHEUS],
    ['with networkPolicy false', { metricsPort: 9102, networkPolicy: false as const }, PROMETHEUS],
    ['an empty peer', { metricsPort: 9102 }, {}],
    ['a peer with an invalid label value', { metricsPort: 9102 }, { podSelector: { matchLabels: { app: 'Not Valid' } } }],
  ])('fails as the prop does %s', (_what, props: Partial<KvProxyProps>, peer: k8s.NetworkPolicyPeer) => {
    const byProp = errorOf(() => build({ ...props, metricsAllowFrom: [peer] }));
    expect(errorOf(() => build(props, (p) => p.allowMetricsFrom(peer)))).toBe(byProp);
    expect(byProp).toMatch(/^metricsAllowFrom/);
  });
});

describe('KvProxy.allowFrom and allowFromNamespaces', () => {
  test('give the same YAML as networkPolicy.allowFrom and allowFromNamespaces', () => {
    const byProp = build({ networkPolicy: { allowFrom: [AGENT], allowFromNamespaces: ['apps', 'web'] } });
    const byVerb = build({}, (p) => {
      p.allowFrom(AGENT);
      p.allowFromNamespaces('apps', 'web');
    });
    expect(byVerb).toEqual(byProp);
  });

  test('fail as the props do', () => {
    expect(errorOf(() => build({}, (p) => p.allowFrom({})))).toBe(errorOf(() => build({ networkPolicy: { allowFrom: [{}] } })));
    expect(errorOf(() => build({}, (p) => p.allowFromNamespaces('Apps')))).toBe(
      errorOf(() => build({ networkPolicy: { allowFromNamespaces: ['Apps'] } })),
    );
  });
});

describe('KvProxy.exposeViaIngress', () => {
  test('gives the same YAML as the ingress prop', () => {
    const options = { host: 'kv.example.com', className: 'nginx', tlsSecret: secretRef('kv-tls') };
    const byProp = build({ ingress: options });
    let returned: unknown;
    const byVerb = build({}, (p) => {
      returned = p.exposeViaIngress(options);
      expect(p.ingress).toBe(returned);
    });
    expect(byVerb).toEqual(byProp);
    expect(findObject(byVerb, 'Ingress', 'kv-proxy').metadata.labels).toEqual(expect.objectContaining({ 'app.kubernetes.io/name': 'kv-proxy' }));
  });

  test.each([
    ['maxWait at the default read timeout of 60 s', { maxWait: Duration.seconds(60) }, {}],
    ['maxWait above the annotation', { maxWait: Duration.seconds(90) }, { annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '80' } }],
    ['an annotation that is not seconds', {}, { annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '2m' } }],
    ['an invalid host', {}, { host: 'KV.example.com' }],
  ])('fails as the prop does with %s', (_what, props: Partial<KvProxyProps>, ingress) => {
    const byProp = errorOf(() => build({ ...props, ingress }));
    expect(errorOf(() => build(props, (p) => p.exposeViaIngress(ingress)))).toBe(byProp);
  });

  test('accepts a long wait when the annotation raises the read timeout, as the prop does', () => {
    const ingress = { annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '120' } };
    expect(build({ maxWait: Duration.seconds(90) }, (p) => p.exposeViaIngress(ingress))).toEqual(build({ maxWait: Duration.seconds(90), ingress }));
  });

  test('checks maxWait against ingressReadTimeout as the prop does', () => {
    const long = { maxWait: Duration.seconds(90), ingressReadTimeout: Duration.minutes(2) };
    expect(build(long, (p) => p.exposeViaIngress({ className: 'nginx' }))).toEqual(build({ ...long, ingress: { className: 'nginx' } }));
    const short = { maxWait: Duration.seconds(90), ingressReadTimeout: Duration.seconds(75) };
    const byProp = errorOf(() => build({ ...short, ingress: {} }));
    expect(byProp).toMatch(/^maxWait must be below the Ingress read timeout \(75 s, ingressReadTimeout\), got 90 s/);
    expect(errorOf(() => build(short, (p) => p.exposeViaIngress({})))).toBe(byProp);
  });

  test('ingressReadTimeout without any Ingress is refused at synth, naming the prop and both ways to add one', () => {
    expect(() => build({ ingressReadTimeout: Duration.minutes(2) })).toThrow(
      /ingressReadTimeout only applies with ingress, got 120 s without an ingress \(set ingress or call exposeViaIngress\)/,
    );
  });

  test('fails on a second Ingress, naming the first host', () => {
    expect(() => build({ ingress: { host: 'kv.example.com' } }, (p) => p.exposeViaIngress({}))).toThrow(
      /ingress is already set \(host "kv.example.com"\): one Ingress per workload/,
    );
  });
});
