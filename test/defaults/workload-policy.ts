/**
 * The documented defaults of WorkloadPolicyProps and of the vocabulary in
 * lib/workload.ts (DirectoryOptions, WorkloadSecurityOptions), each asserted
 * with the prop left unset.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as kplus from 'cdk8s-plus-28';
import { Files, hardenedContainer, hardenedPodProps, WorkloadPolicy } from '../../lib';
import { resolveFiles, resolveSecurity } from '../../lib/workload';
import { findAll, findObject, synthObjects, testChart } from '../support/synth';

function policy(props: { port?: number } = {}) {
  const chart = testChart('apps');
  const web = new kplus.Deployment(chart, 'Web', {
    metadata: { name: 'web' },
    replicas: 1,
    ...hardenedPodProps(),
    containers: [hardenedContainer({ name: 'app', image: 'registry.example.com/web:3.1.0', portNumber: 8080 })],
  });
  new WorkloadPolicy(chart, 'Policy', { workload: web, name: 'shop', ...props });
  return synthObjects(chart);
}

function tree(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'defaults-'));
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, '.hidden'), 'x');
  fs.writeFileSync(path.join(dir, 'sub', 'a.txt'), 'a');
  return dir;
}

export const DEFAULTS: Record<string, () => void> = {
  'WorkloadPolicyProps.instance': () => {
    expect(findObject(policy(), 'Deployment').metadata.labels!['app.kubernetes.io/instance']).toBe('web');
  },
  'WorkloadPolicyProps.component': () => {
    expect(findObject(policy(), 'Deployment').metadata.labels!['app.kubernetes.io/component']).toBeUndefined();
  },
  'WorkloadPolicyProps.partOf': () => {
    expect(findObject(policy(), 'Deployment').metadata.labels!['app.kubernetes.io/part-of']).toBeUndefined();
  },
  'WorkloadPolicyProps.port': () => {
    const objects = policy();
    expect(findAll(objects, 'Service')).toEqual([]);
    // a NetworkPolicy that lets nothing in, with DNS egress
    const np = findObject(objects, 'NetworkPolicy');
    expect(np.spec.ingress).toBeUndefined();
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
  },
  'WorkloadPolicyProps.egress': () => {
    const np = findObject(policy({ port: 8080 }), 'NetworkPolicy');
    expect(np.spec.egress).toEqual([
      {
        ports: [
          { protocol: 'UDP', port: 53 },
          { protocol: 'TCP', port: 53 },
        ],
      },
    ]);
  },
  'DirectoryOptions.exclude': () => {
    expect(
      resolveFiles(Files.fromDirectory(tree()), 'files')
        .map((f) => f.path)
        .sort(),
    ).toEqual(['.hidden', 'sub/a.txt']);
  },
  'DirectoryOptions.recursive': () => {
    expect(resolveFiles(Files.fromDirectory(tree()), 'files').map((f) => f.path)).toContain('sub/a.txt');
  },
  'WorkloadSecurityOptions.user': () => {
    expect(resolveSecurity({}, 'securityContext').user).toBe(65532);
  },
  'WorkloadSecurityOptions.group': () => {
    expect(resolveSecurity({ user: 1234 }, 'securityContext').group).toBe(1234);
  },
  'WorkloadSecurityOptions.fsGroup': () => {
    expect(resolveSecurity({ user: 1234, group: 2345 }, 'securityContext').fsGroup).toBe(2345);
  },
};
