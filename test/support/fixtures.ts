import { K8sObject } from '../../lib/testing';

/**
 * A small, hardened application that passes every gate rule: Deployment,
 * Service, Ingress, ConfigMap, ServiceAccount, Role, RoleBinding,
 * PodDisruptionBudget and NetworkPolicy. Tests clone and break it.
 */
export function hardenedExample(): K8sObject[] {
  const labels = { 'app.kubernetes.io/name': 'demo', 'app.kubernetes.io/instance': 'demo' };
  return [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'demo-content', namespace: 'demo', labels },
      data: { 'index.html': '<h1>hi</h1>', 'nginx.conf': 'events {}' },
      binaryData: { 'favicon.ico': Buffer.from([0, 1, 2]).toString('base64') },
    },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'demo', namespace: 'demo', labels }, automountServiceAccountToken: false },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'demo-reader', namespace: 'demo', labels },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'demo-reader', namespace: 'demo', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'demo-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'demo', namespace: 'demo' }],
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'demo', namespace: 'demo', labels },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: { 'checksum/content': 'abc' } },
          spec: {
            serviceAccountName: 'demo',
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 10101, runAsGroup: 10101, fsGroup: 10101, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'web',
                image: 'nginxinc/nginx-unprivileged:1.27.3-alpine',
                imagePullPolicy: 'IfNotPresent',
                ports: [{ name: 'http', containerPort: 8080 }],
                env: [{ name: 'PAGE', valueFrom: { configMapKeyRef: { name: 'demo-content', key: 'index.html' } } }],
                resources: {
                  requests: { 'cpu': '50m', 'memory': '64Mi', 'ephemeral-storage': '64Mi' },
                  limits: { 'memory': '128Mi', 'ephemeral-storage': '256Mi' },
                },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [
                  { name: 'content', mountPath: '/usr/share/nginx/html', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
                readinessProbe: { httpGet: { path: '/healthz', port: 'http' } },
              },
            ],
            volumes: [
              { name: 'content', configMap: { name: 'demo-content', items: [{ key: 'index.html', path: 'index.html' }] } },
              { name: 'tmp', emptyDir: { sizeLimit: '16Mi' } },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'demo', namespace: 'demo', labels },
      spec: { type: 'ClusterIP', selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'demo', namespace: 'demo', labels },
      spec: {
        ingressClassName: 'nginx',
        rules: [
          {
            host: 'demo.example.com',
            http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'demo', port: { name: 'http' } } } }] },
          },
        ],
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'demo', namespace: 'demo', labels },
      spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'demo', namespace: 'demo', labels },
      spec: { podSelector: { matchLabels: labels }, policyTypes: ['Ingress', 'Egress'], ingress: [{ ports: [{ port: 8080 }] }] },
    },
  ];
}
