/**
 * Egress by default: every workload in dist/ is selected by an ingress and an
 * egress NetworkPolicy, Jobs and CronJobs included, and each allows only what
 * its pattern needs. Evaluated with NetworkPolicy semantics on the
 * synthesized objects (test/support/network-policy.ts): for a pod, a peer and
 * a port, is the connection allowed?
 */
import * as path from 'node:path';
import { Chart, Testing } from 'cdk8s';
import { Files, KvProxy, ScriptJob, SidecarDeployment, StaticSite } from '../lib';
import { WorkloadNetworkPolicy } from '../lib/expose';
import { loadManifests } from '../lib/testing';
import { Endpoint, allowed, isolated, podOf } from './support/network-policy';

const DIST = path.join(__dirname, '..', 'dist');
const WORKLOADS = new Set(['Deployment', 'Job', 'CronJob', 'StatefulSet', 'DaemonSet', 'Pod']);

// peers outside the patterns: the cluster DNS, the API server, a git host, any other address
const DNS: Endpoint = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
const API_SERVER: Endpoint = { ip: '10.96.0.1' };
const GIT_HOST: Endpoint = { ip: '140.82.121.3' };
const ELSEWHERE: Endpoint = { ip: '203.0.113.7' };
const stranger = (namespace: string): Endpoint => ({ namespace, labels: { app: 'stranger' } });

describe.each(['dev', 'prod'])('dist/%s NetworkPolicies', (env) => {
  const objects = loadManifests(path.join(DIST, env));
  const ns = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!.metadata.namespace!;
  const pod = (kind: string, name: string) => podOf(objects, kind, ns(kind, name), name);

  test('select every workload for ingress and for egress, Jobs and CronJobs included', () => {
    const workloads = objects.filter((o) => WORKLOADS.has(o.kind));
    expect(workloads.map((o) => o.kind)).toEqual(expect.arrayContaining(['Deployment', 'Job', 'CronJob']));
    for (const w of workloads) {
      expect({
        workload: `${w.kind}/${w.metadata.name}`,
        ...isolated(objects, podOf(objects, w.kind, w.metadata.namespace!, w.metadata.name!)),
      }).toEqual({ workload: `${w.kind}/${w.metadata.name}`, ingress: true, egress: true });
    }
  });

  test('StaticSite: pods of its namespace reach nginx on 8080 only; nginx reaches nothing, not even DNS', () => {
    const nginx = pod('Deployment', 'nginx');
    expect(allowed(objects, stranger(ns('Deployment', 'nginx')), nginx, 8080)).toBe(true);
    expect(allowed(objects, stranger(ns('Deployment', 'nginx')), nginx, 9090)).toBe(false);
    expect(allowed(objects, stranger('elsewhere'), nginx, 8080)).toBe(false);
    expect(allowed(objects, nginx, DNS, 53, 'UDP')).toBe(false);
    expect(allowed(objects, nginx, ELSEWHERE, 443)).toBe(false);
  });

  test('KvProxy: DNS and the API server (443, 6443) out, nothing else', () => {
    const kv = pod('Deployment', 'k8skv');
    expect(allowed(objects, kv, DNS, 53, 'UDP')).toBe(true);
    expect(allowed(objects, kv, DNS, 53, 'TCP')).toBe(true);
    expect(allowed(objects, kv, API_SERVER, 443)).toBe(true);
    expect(allowed(objects, kv, API_SERVER, 6443)).toBe(true);
    expect(allowed(objects, kv, ELSEWHERE, 80)).toBe(false);
    expect(allowed(objects, kv, stranger(ns('Deployment', 'k8skv')), 8080)).toBe(false);
  });

  test('ScriptService: the API server only for the runner with RBAC rules (namespaces-api), not for the greeter', () => {
    const api = pod('Deployment', 'namespaces-api');
    const greeter = pod('Deployment', 'greeter');
    expect(allowed(objects, api, API_SERVER, 443)).toBe(true);
    expect(allowed(objects, greeter, API_SERVER, 443)).toBe(false);
    // without apiServerCidrs the rule is by port: 443 and 6443 anywhere, nothing else
    expect(allowed(objects, api, ELSEWHERE, 80)).toBe(false);
    for (const p of [api, greeter]) {
      expect(allowed(objects, p, DNS, 53, 'UDP')).toBe(true);
      expect(allowed(objects, p, ELSEWHERE, 8080)).toBe(false);
    }
  });

  test('ScriptJob and ScriptCronJob: the greeter on 8080 and DNS out (allowEgressTo), nothing else, and nothing in', () => {
    const greeter = pod('Deployment', 'greeter');
    for (const [kind, name] of [
      ['Job', 'greeter-smoke-test'],
      ['CronJob', 'greeter-monitor'],
    ]) {
      const check = pod(kind, name);
      expect(allowed(objects, check, greeter, 8080)).toBe(true);
      expect(allowed(objects, check, DNS, 53, 'UDP')).toBe(true);
      expect(allowed(objects, check, greeter, 9090)).toBe(false);
      expect(allowed(objects, check, pod('Deployment', 'namespaces-api'), 8080)).toBe(false);
      expect(allowed(objects, check, API_SERVER, 443)).toBe(false);
      expect(allowed(objects, stranger(ns(kind, name)), check, 8080)).toBe(false);
    }
  });

  test("SidecarDeployment with git-sync (content, hot plug, the auth chart's clone): git's remote on 443 and DNS out, nothing else", () => {
    for (const name of ['python-pod-content', 'python-pod-hot-plug', 'python-pod-auth']) {
      const p = pod('Deployment', name);
      expect(allowed(objects, p, GIT_HOST, 443)).toBe(true);
      expect(allowed(objects, p, DNS, 53, 'UDP')).toBe(true);
      expect(allowed(objects, p, GIT_HOST, 22)).toBe(false);
      expect(allowed(objects, p, API_SERVER, 6443)).toBe(false);
    }
  });

  test('the Flask apps (ImmutableConfigInit, ImmutableConfigMap): DNS out only', () => {
    for (const name of ['myflaskapp', 'myflaskapp-cm']) {
      const p = pod('Deployment', name);
      expect(allowed(objects, p, DNS, 53, 'UDP')).toBe(true);
      expect(allowed(objects, p, ELSEWHERE, 443)).toBe(false);
      expect(allowed(objects, stranger(ns('Deployment', name)), p, 8080)).toBe(true);
    }
  });
});

describe('allowEgressTo', () => {
  test('opens what the user declares on each construct, and nothing more', () => {
    // GIVEN each construct with one declared peer
    const chart = new Chart(Testing.app(), 'apps', { namespace: 'apps' });
    const db: Endpoint = { namespace: 'data', labels: { app: 'db' } };
    const peer = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'data' } }, podSelector: { matchLabels: { app: 'db' } } };
    const constructs = [
      new StaticSite(chart, 'Site', { name: 'site', files: Files.fromContent({ 'index.html': 'hi' }) }),
      new KvProxy(chart, 'Kv', { name: 'kv', namespaces: ['apps'] }),
      new ScriptJob(chart, 'Run', { name: 'run', files: Files.fromContent({ 'run.py': 'print(1)' }) }),
      new SidecarDeployment(chart, 'Pod', {
        name: 'pod',
        app: { name: 'app', image: 'busybox:1.36.1', command: ['httpd', '-f', '-p', '8080'], ports: [{ number: 8080 }] },
      }),
    ];
    // WHEN each allows the database on 5432
    for (const c of constructs) c.allowEgressTo(peer, { ports: [5432] });
    const objects = Testing.synth(chart);
    // THEN each pod reaches it on 5432, not on 5433 nor elsewhere
    for (const [kind, name] of [
      ['Deployment', 'site'],
      ['Deployment', 'kv'],
      ['Job', 'run'],
      ['Deployment', 'pod'],
    ]) {
      const p = podOf(objects, kind, objects.find((o: any) => o.metadata.name === name && o.kind === kind).metadata.namespace, name);
      expect({
        name,
        on5432: allowed(objects, p, db, 5432),
        on5433: allowed(objects, p, db, 5433),
        elsewhere: allowed(objects, p, ELSEWHERE, 5432),
      }).toEqual({ name, on5432: true, on5433: false, elsewhere: false });
    }
  });

  test('fails when the peer or the ports are wrong, or there is no NetworkPolicy', () => {
    const chart = Testing.chart();
    const site = new StaticSite(chart, 'Site', { name: 'site', files: Files.fromContent({ 'index.html': 'hi' }) });
    expect(() => site.allowEgressTo({} as any)).toThrow(/allowEgressTo peer must set podSelector, namespaceSelector or ipBlock, got \{\}/);
    expect(() => site.allowEgressTo({ ipBlock: { cidr: '10.0.0.0/33' } })).toThrow(/allowEgressTo peer.ipBlock.cidr/);
    expect(() => site.allowEgressTo({ ipBlock: { cidr: '10.0.0.0/8' } }, { ports: [] })).toThrow(
      /allowEgressTo options.ports must list at least one port/,
    );
    expect(() => site.allowEgressTo({ ipBlock: { cidr: '10.0.0.0/8' } }, { ports: [70000] })).toThrow(
      /allowEgressTo options.ports.*1-65535, got 70000/,
    );
    const open = new StaticSite(chart, 'Open', { name: 'open', files: Files.fromContent({ 'index.html': 'hi' }), networkPolicy: false });
    expect(() => open.allowEgressTo({ ipBlock: { cidr: '10.0.0.0/8' } })).toThrow(
      /allowEgressTo needs the NetworkPolicy, got networkPolicy false for "open"/,
    );
    expect(site.networkPolicy).toBeInstanceOf(WorkloadNetworkPolicy);
  });
});
