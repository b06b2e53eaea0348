/**
 * Every `@default` of KvProxyProps, asserted on a synth with that prop left
 * out (only the required `namespaces` given). Read by test/defaults.test.ts.
 */
import { Chart, Duration, Testing } from 'cdk8s';
import { KvProxy, KvProxyProps } from '../../lib/kv-proxy';
import { K8sObject } from '../../lib/testing';
import { findAll, findContainer, findObject } from '../support/synth';

const NS = 'kv';
const SELECTOR = { 'app.kubernetes.io/name': 'kv-proxy', 'app.kubernetes.io/instance': 'kv-proxy' };

function synth(props: Partial<KvProxyProps> = {}): { proxy: KvProxy; objects: K8sObject[] } {
  const chart = new Chart(Testing.app(), 'defaults', { namespace: NS });
  const proxy = new KvProxy(chart, 'Kv', { namespaces: ['default'], ...props });
  return { proxy, objects: Testing.synth(chart) as K8sObject[] };
}

const deployment = (objects: K8sObject[]) => findObject(objects, 'Deployment', 'kv-proxy');
const container = (objects: K8sObject[]) => findContainer(deployment(objects), 'kv-proxy');
const env = (objects: K8sObject[]): Record<string, string> => Object.fromEntries(container(objects).env.map((e: any) => [e.name, e.value]));

export const DEFAULTS: Record<string, () => void> = {
  'KvProxyProps.name': () => {
    const { objects } = synth();
    expect(new Set(objects.filter((o) => o.kind !== 'ConfigMap').map((o) => o.metadata.name))).toEqual(new Set(['kv-proxy']));
    expect(findAll(objects, 'ConfigMap')[0].metadata.name).toMatch(/^kv-proxy-server-[0-9a-f]{10}$/);
  },
  'KvProxyProps.configMapNames': () => {
    const { objects } = synth();
    expect(env(objects).KV_CONFIGMAP_NAMES).toBeUndefined();
    expect(findObject(objects, 'Role', 'kv-proxy').rules).toEqual([{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }]);
  },
  'KvProxyProps.labelSelector': () => {
    expect(env(synth().objects).KV_LABEL_SELECTOR).toBeUndefined();
  },
  'KvProxyProps.writes': () => {
    const { objects } = synth();
    expect(env(objects).KV_WRITE_ENABLED).toBe('false');
    expect(findObject(objects, 'Role', 'kv-proxy').rules[0].verbs).toEqual(['get', 'list', 'watch']);
  },
  'KvProxyProps.writableLabel': () => {
    expect(env(synth({ writes: true }).objects).KV_WRITABLE_LABEL).toBe('kv-proxy.cdk8s-patterns.io/writable=true');
  },
  'KvProxyProps.auditLog': () => {
    expect(env(synth().objects).KV_AUDIT_LOG).toBe('stdout');
  },
  'KvProxyProps.discovery': () => {
    const { objects } = synth();
    expect(env(objects).KV_DISCOVERY_ENABLED).toBe('false');
    expect(JSON.stringify(findObject(objects, 'Role', 'kv-proxy').rules)).not.toMatch(/services|endpointslices/);
  },
  'KvProxyProps.consulApi': () => {
    expect(env(synth().objects).KV_CONSUL_API).toBe('true');
  },
  'KvProxyProps.tokenSecret': () => {
    const { proxy, objects } = synth();
    expect(proxy.tokenSecret.name).toBe('kv-proxy-tokens');
    expect(deployment(objects).spec.template.spec.volumes).toContainEqual({
      name: 'tokens',
      secret: { secretName: 'kv-proxy-tokens', defaultMode: 0o440 },
    });
    expect(findAll(objects, 'Secret')).toEqual([]);
  },
  'KvProxyProps.replicas': () => {
    const { objects } = synth();
    expect(deployment(objects).spec.replicas).toBe(2);
    expect(
      deployment(objects).spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm,
    ).toEqual({ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: SELECTOR } });
    expect(findObject(objects, 'PodDisruptionBudget', 'kv-proxy').spec.maxUnavailable).toBe(1);
  },
  'KvProxyProps.image': () => {
    expect(container(synth().objects).image).toBe('node:24.13.0-alpine');
  },
  'KvProxyProps.securityContext': () => {
    const { objects } = synth();
    expect(container(objects).securityContext).toEqual(expect.objectContaining({ runAsUser: 10000, runAsGroup: 10000 }));
    expect(deployment(objects).spec.template.spec.securityContext).toEqual(
      expect.objectContaining({ runAsUser: 10000, runAsGroup: 10000, fsGroup: 10000 }),
    );
  },
  'KvProxyProps.port': () => {
    const { objects } = synth();
    expect(container(objects).ports).toEqual([{ name: 'http', containerPort: 8080 }]);
    expect(env(objects).PORT).toBe('8080');
  },
  'KvProxyProps.resources': () => {
    expect(container(synth().objects).resources).toEqual({
      requests: { 'cpu': '50m', 'memory': '96Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '500m', 'memory': '256Mi', 'ephemeral-storage': '0.25Gi' },
    });
  },
  'KvProxyProps.maxBodyBytes': () => {
    expect(env(synth().objects).KV_MAX_BODY_BYTES).toBe('1048576');
  },
  'KvProxyProps.maxWait': () => {
    expect(env(synth().objects).KV_MAX_WAIT_SECONDS).toBe('50');
  },
  'KvProxyProps.ingressReadTimeout': () => {
    // 60 s without the annotation: a wait of 59 s passes, 60 s is refused
    expect(() => synth({ ingress: {}, maxWait: Duration.seconds(59) })).not.toThrow();
    expect(() => synth({ ingress: {}, maxWait: Duration.seconds(60) })).toThrow(/\(60 s, the common default\)/);
    // the annotation when set
    const annotations = { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '120' };
    expect(() => synth({ ingress: { annotations }, maxWait: Duration.seconds(119) })).not.toThrow();
    expect(() => synth({ ingress: { annotations }, maxWait: Duration.seconds(120) })).toThrow(
      /\(120 s, from nginx.ingress.kubernetes.io\/proxy-read-timeout\)/,
    );
  },
  'KvProxyProps.shutdownTimeout': () => {
    const { objects } = synth();
    expect(env(objects).KV_SHUTDOWN_TIMEOUT_SECONDS).toBe('20');
    expect(deployment(objects).spec.template.spec.terminationGracePeriodSeconds).toBe(5 + 20 + 5);
  },
  'KvProxyProps.drainDelay': () => {
    expect(container(synth().objects).lifecycle).toEqual({ preStop: { exec: { command: ['sleep', '5'] } } });
  },
  'KvProxyProps.accessLog': () => {
    expect(env(synth().objects).KV_ACCESS_LOG).toBe('errors');
  },
  'KvProxyProps.upstreamTimeout': () => {
    expect(env(synth().objects).KV_UPSTREAM_TIMEOUT_SECONDS).toBe('3');
  },
  'KvProxyProps.catchUpTimeout': () => {
    expect(env(synth().objects).KV_CATCH_UP_TIMEOUT_SECONDS).toBe('5');
  },
  'KvProxyProps.metricsPort': () => {
    const { objects } = synth();
    expect(env(objects).KV_METRICS_PORT).toBeUndefined();
    expect(container(objects).ports.map((p: any) => p.name)).toEqual(['http']);
    expect(env(objects).KV_METRICS_AUTH).toBe('token');
  },
  'KvProxyProps.metricsAuth': () => {
    expect(env(synth().objects).KV_METRICS_AUTH).toBe('token');
    expect(env(synth({ metricsPort: 9102 }).objects).KV_METRICS_AUTH).toBe('none');
  },
  'KvProxyProps.metricsAllowFrom': () => {
    const policy = findObject(synth({ metricsPort: 9102 }).objects, 'NetworkPolicy', 'kv-proxy-metrics');
    expect(policy.spec.ingress).toEqual([{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 9102 }] }]);
  },
  'KvProxyProps.apiServerCidrs': () => {
    const egress = findObject(synth().objects, 'NetworkPolicy', 'kv-proxy').spec.egress;
    expect(egress[1]).toEqual({
      ports: [
        { protocol: 'TCP', port: 443 },
        { protocol: 'TCP', port: 6443 },
      ],
    });
    expect(egress[1].to).toBeUndefined();
  },
  'KvProxyProps.apiServerPorts': () => {
    const egress = findObject(synth().objects, 'NetworkPolicy', 'kv-proxy').spec.egress;
    expect(egress[1].ports).toEqual([
      { protocol: 'TCP', port: 443 },
      { protocol: 'TCP', port: 6443 },
    ]);
  },
};
