import { hardenedExample } from './support/fixtures';
import { K8sObject, validateObjects, assertValid } from '../lib/testing';

/** A fresh copy of the hardened example with one object changed. */
function broken(kind: string, mutate: (o: any, all: K8sObject[]) => void): K8sObject[] {
  const objects = hardenedExample();
  const target = objects.find((o) => o.kind === kind);
  if (!target) throw new Error(`fixture has no ${kind}`);
  mutate(target, objects);
  return objects;
}
const container = (d: any) => d.spec.template.spec.containers[0];

describe('validation gate', () => {
  test('accepts the hardened example', () => {
    // GIVEN a hardened app  WHEN validated  THEN no violations
    expect(validateObjects(hardenedExample())).toEqual([]);
    expect(() => assertValid(hardenedExample())).not.toThrow();
  });

  // Each case: the broken manifest, the object the message must name, the rule, and a message fragment.
  const cases: Array<[string, () => K8sObject[], string, string, RegExp]> = [
    [
      'unknown field',
      () =>
        broken('Deployment', (d) => {
          container(d).imagePullPolicyy = 'Always';
        }),
      'Deployment/demo/demo',
      'schema',
      /unknown field "imagePullPolicyy"/,
    ],
    [
      'wrong type',
      () =>
        broken('Deployment', (d) => {
          d.spec.replicas = 'two';
        }),
      'Deployment/demo/demo',
      'schema',
      /\/spec\/replicas: must be integer/,
    ],
    [
      'missing required field',
      () =>
        broken('Deployment', (d) => {
          delete container(d).name;
        }),
      'Deployment/demo/demo',
      'schema',
      /missing required field "name"/,
    ],
    [
      'bad name',
      () =>
        broken('ConfigMap', (c, all) => {
          c.metadata.name = 'Demo_Content';
          void all;
        }),
      'ConfigMap/demo/Demo_Content',
      'name',
      /DNS-1123 subdomain/,
    ],
    [
      'bad label value',
      () =>
        broken('Service', (s) => {
          s.metadata.labels = { app: 'not ok!' };
        }),
      'Service/demo/demo',
      'labels',
      /invalid value "not ok!"/,
    ],
    [
      'bad ConfigMap key',
      () =>
        broken('ConfigMap', (c) => {
          c.data['css/site.css'] = 'x';
        }),
      'ConfigMap/demo/demo-content',
      'configmap-key',
      /key "css\/site.css"/,
    ],
    [
      'oversized ConfigMap',
      () =>
        broken('ConfigMap', (c) => {
          c.data.big = 'x'.repeat(1024 * 1024);
        }),
      'ConfigMap/demo/demo-content',
      'configmap-size',
      /exceeds the 1 MiB/,
    ],
    [
      'dangling volumeMount',
      () =>
        broken('Deployment', (d) => {
          container(d).volumeMounts.push({ name: 'cache', mountPath: '/var/cache/nginx' });
        }),
      'Deployment/demo/demo',
      'volume-mounts',
      /mounts volume "cache", which is not defined/,
    ],
    [
      'duplicate container name',
      () =>
        broken('Deployment', (d) => {
          d.spec.template.spec.containers.push({ ...container(d), ports: [] });
        }),
      'Deployment/demo/demo',
      'containers',
      /container name "web" is used more than once/,
    ],
    [
      'selector mismatch',
      () =>
        broken('Deployment', (d) => {
          d.spec.selector = { matchLabels: { app: 'other' } };
        }),
      'Deployment/demo/demo',
      'selector',
      /does not match the pod template labels/,
    ],
    [
      'Service selecting nothing',
      () =>
        broken('Service', (s) => {
          s.spec.selector = { 'app.kubernetes.io/name': 'nothing' };
        }),
      'Service/demo/demo',
      'ref-service-selector',
      /matches no pod template/,
    ],
    [
      'missing targetPort',
      () =>
        broken('Service', (s) => {
          s.spec.ports[0].targetPort = 9090;
        }),
      'Service/demo/demo',
      'ref-service-port',
      /targets 9090, which no selected container declares/,
    ],
    [
      'Ingress to a missing Service port',
      () =>
        broken('Ingress', (i) => {
          i.spec.rules[0].http.paths[0].backend.service.port = { number: 8443 };
        }),
      'Ingress/demo/demo',
      'ref-ingress-backend',
      /port \{"number":8443\} does not exist on Service "demo"/,
    ],
    [
      'Ingress to a missing Service',
      () =>
        broken('Ingress', (i) => {
          i.spec.rules[0].http.paths[0].backend.service.name = 'gone';
        }),
      'Ingress/demo/demo',
      'ref-ingress-backend',
      /Service "gone" is not in the synthesized set/,
    ],
    [
      'RoleBinding to a missing Role',
      () =>
        broken('RoleBinding', (b) => {
          b.roleRef.name = 'writer';
        }),
      'RoleBinding/demo/demo-reader',
      'ref-rbac',
      /roleRef Role "writer"/,
    ],
    [
      'RoleBinding to a missing ServiceAccount',
      () =>
        broken('RoleBinding', (b) => {
          b.subjects[0].name = 'ghost';
        }),
      'RoleBinding/demo/demo-reader',
      'ref-rbac',
      /ServiceAccount "demo\/ghost"/,
    ],
    [
      'missing ConfigMap',
      () =>
        broken('Deployment', (d) => {
          d.spec.template.spec.volumes[0].configMap.name = 'nope';
        }),
      'Deployment/demo/demo',
      'ref-configmap',
      /ConfigMap "nope", which is not in the synthesized set/,
    ],
    [
      'missing ConfigMap key',
      () =>
        broken('Deployment', (d) => {
          container(d).env[0].valueFrom.configMapKeyRef.key = 'nope.html';
        }),
      'Deployment/demo/demo',
      'ref-configmap',
      /key "nope.html"/,
    ],
    [
      'missing serviceAccountName',
      () =>
        broken('Deployment', (d) => {
          d.spec.template.spec.serviceAccountName = 'ghost';
        }),
      'Deployment/demo/demo',
      'ref-serviceaccount',
      /"ghost"/,
    ],
    [
      'privileged container',
      () =>
        broken('Deployment', (d) => {
          container(d).securityContext.privileged = true;
        }),
      'Deployment/demo/demo',
      'pss-restricted',
      /must not be privileged/,
    ],
    [
      'privilege escalation allowed',
      () =>
        broken('Deployment', (d) => {
          delete container(d).securityContext.allowPrivilegeEscalation;
        }),
      'Deployment/demo/demo',
      'pss-restricted',
      /allowPrivilegeEscalation: false/,
    ],
    [
      'missing seccomp',
      () =>
        broken('Deployment', (d) => {
          delete d.spec.template.spec.securityContext.seccompProfile;
        }),
      'Deployment/demo/demo',
      'pss-restricted',
      /seccompProfile type RuntimeDefault/,
    ],
    [
      'root user',
      () =>
        broken('Deployment', (d) => {
          container(d).securityContext.runAsUser = 0;
        }),
      'Deployment/demo/demo',
      'pss-restricted',
      /runAsUser must not be 0/,
    ],
    [
      'capabilities not dropped',
      () =>
        broken('Deployment', (d) => {
          container(d).securityContext.capabilities = { add: ['NET_ADMIN'] };
        }),
      'Deployment/demo/demo',
      'pss-restricted',
      /must drop ALL capabilities/,
    ],
    [
      'hostPath volume',
      () =>
        broken('Deployment', (d) => {
          d.spec.template.spec.volumes[1] = { name: 'tmp', hostPath: { path: '/tmp' } };
        }),
      'Deployment/demo/demo',
      'pss-restricted',
      /type "hostPath"/,
    ],
    [
      'hostNetwork',
      () =>
        broken('Deployment', (d) => {
          d.spec.template.spec.hostNetwork = true;
        }),
      'Deployment/demo/demo',
      'pss-restricted',
      /hostNetwork/,
    ],
    [
      'writable root filesystem',
      () =>
        broken('Deployment', (d) => {
          container(d).securityContext.readOnlyRootFilesystem = false;
        }),
      'Deployment/demo/demo',
      'hardening',
      /readOnlyRootFilesystem/,
    ],
    [
      'latest image',
      () =>
        broken('Deployment', (d) => {
          container(d).image = 'nginx:latest';
        }),
      'Deployment/demo/demo',
      'hardening',
      /must not use the "latest" tag/,
    ],
    [
      'untagged image',
      () =>
        broken('Deployment', (d) => {
          container(d).image = 'registry.local:5000/nginx';
        }),
      'Deployment/demo/demo',
      'hardening',
      /must be pinned/,
    ],
    [
      'no memory limit',
      () =>
        broken('Deployment', (d) => {
          delete container(d).resources.limits;
        }),
      'Deployment/demo/demo',
      'hardening',
      /memory limit/,
    ],
    [
      'emptyDir without sizeLimit',
      () =>
        broken('Deployment', (d) => {
          d.spec.template.spec.volumes[1] = { name: 'tmp', emptyDir: {} };
        }),
      'Deployment/demo/demo',
      'emptydir-size-limit',
      /emptyDir volume "tmp" must set sizeLimit/,
    ],
    [
      'no ephemeral storage',
      () =>
        broken('Deployment', (d) => {
          delete container(d).resources.limits['ephemeral-storage'];
        }),
      'Deployment/demo/demo',
      'ephemeral-storage',
      /must request and limit ephemeral-storage/,
    ],
    [
      'uid below 10000',
      () =>
        broken('Deployment', (d) => {
          container(d).securityContext.runAsUser = 1000;
        }),
      'Deployment/demo/demo',
      'run-as-id',
      /runs as uid 1000, below 10000/,
    ],
    [
      'liveness the same as readiness',
      () =>
        broken('Deployment', (d) => {
          container(d).livenessProbe = { ...container(d).readinessProbe, failureThreshold: 5 };
        }),
      'Deployment/demo/demo',
      'probes',
      /same liveness and readiness probe/,
    ],
    [
      'no egress NetworkPolicy',
      () =>
        broken('NetworkPolicy', (n) => {
          n.spec.policyTypes = ['Ingress'];
        }),
      'Deployment/demo/demo',
      'networkpolicy',
      /no NetworkPolicy with policyType Egress/,
    ],
    [
      'PDB selecting nothing',
      () =>
        broken('PodDisruptionBudget', (p) => {
          p.spec.selector = { matchLabels: { x: 'y' } };
        }),
      'PodDisruptionBudget/demo/demo',
      'ref-pdb-selector',
      /matches no pod template/,
    ],
    [
      'duplicate object',
      () => {
        const o = hardenedExample();
        o.push(JSON.parse(JSON.stringify(o[0])));
        return o;
      },
      'ConfigMap/demo/demo-content',
      'duplicate',
      /more than once/,
    ],
  ];

  test.each(cases)('rejects %s', (_what, make, object, rule, message) => {
    // GIVEN a manifest set with one deliberate defect  WHEN validated
    const violations = validateObjects(make());
    // THEN a violation names the object and the rule
    expect(violations).toEqual(expect.arrayContaining([expect.objectContaining({ object, rule, message: expect.stringMatching(message) })]));
    expect(() => assertValid(make())).toThrow(new RegExp(`${object.replace(/[/.]/g, '\\$&')}: \\[${rule}\\]`));
  });

  test('an external Secret is accepted only when declared', () => {
    const objects = broken('Deployment', (d) => {
      d.spec.template.spec.volumes.push({ name: 'tokens', secret: { secretName: 'tokens' } });
    });
    expect(validateObjects(objects)).toEqual([expect.objectContaining({ rule: 'ref-secret', object: 'Deployment/demo/demo' })]);
    expect(validateObjects(objects, { external: ['Secret/demo/tokens'] })).toEqual([]);
  });

  test('an optional ConfigMap reference need not exist', () => {
    const objects = broken('Deployment', (d) => {
      d.spec.template.spec.volumes[0].configMap = { name: 'later', optional: true };
    });
    expect(validateObjects(objects)).toEqual([]);
  });

  test('matchExpressions selectors are evaluated', () => {
    const ok = broken('PodDisruptionBudget', (p) => {
      p.spec.selector = { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: ['demo', 'x'] }] };
    });
    expect(validateObjects(ok)).toEqual([]);
    const bad = broken('PodDisruptionBudget', (p) => {
      p.spec.selector = { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'NotIn', values: ['demo'] }] };
    });
    expect(validateObjects(bad)).toEqual([expect.objectContaining({ rule: 'ref-pdb-selector' })]);
  });

  test('a native sidecar (init container with restartPolicy Always) may carry probes and serve a Service port', () => {
    const objects = broken('Deployment', (d) => {
      const web = container(d);
      d.spec.template.spec.containers = [{ ...web, name: 'app', ports: [], readinessProbe: undefined }];
      delete d.spec.template.spec.containers[0].readinessProbe;
      d.spec.template.spec.initContainers = [{ ...web, restartPolicy: 'Always' }];
    });
    expect(validateObjects(objects)).toEqual([]);
  });
});
