import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { KubeNamespace } from '../imports/k8s';
import { recommendedLabels } from '../lib';
import { dnsLabel } from './names';

/** Namespaces Kubernetes creates itself: never owned (or pruned) by a chart. */
export const BUILTIN_NAMESPACES: ReadonlySet<string> = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);

/** ArgoCD applies lower sync waves first: namespaces go before what lives in them. */
export const NAMESPACE_SYNC_WAVE = '-1';

export interface NamespacesChartProps extends ChartProps {
  /** Namespaces the environment's charts use; built-in ones are skipped, duplicates folded. */
  readonly namespaces: string[];
  /**
   * Pod Security Standards level enforced on each namespace.
   * @default 'restricted'
   */
  readonly podSecurity?: 'restricted' | 'baseline';
}

/**
 * Creates the environment's namespaces, each enforcing Pod Security Standards
 * (restricted by default, pinned to the 1.28 policy), in ArgoCD sync wave -1
 * so they exist before anything is applied into them.
 */
export class NamespacesChart extends Chart {
  /** The namespaces this chart creates, sorted. */
  public readonly created: string[];

  constructor(scope: Construct, id: string, props: NamespacesChartProps) {
    super(scope, id, { ...props, namespace: undefined });
    const level = props.podSecurity ?? 'restricted';
    this.created = [...new Set(props.namespaces.map((n) => dnsLabel(n, 'namespaces')))].filter((n) => !BUILTIN_NAMESPACES.has(n)).sort();
    for (const name of this.created) {
      new KubeNamespace(this, name, {
        metadata: {
          name,
          labels: {
            // the recommended labels, as on every object of this library (lib/labels.ts)
            ...recommendedLabels({ name: 'namespaces', instance: name, component: 'namespace', partOf: 'cdk8s-patterns' }),
            'pod-security.kubernetes.io/enforce': level,
            'pod-security.kubernetes.io/enforce-version': 'v1.28',
            'pod-security.kubernetes.io/warn': 'restricted',
            'pod-security.kubernetes.io/audit': 'restricted',
          },
          annotations: { 'argocd.argoproj.io/sync-wave': NAMESPACE_SYNC_WAVE },
        },
      });
    }
  }
}
