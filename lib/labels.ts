import { ApiObject } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { validateLabelValue } from './validate';

/** The value of `app.kubernetes.io/managed-by` on everything this library creates. */
export const MANAGED_BY = 'cdk8s';

/**
 * Inputs for the Kubernetes recommended labels
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/).
 */
export interface RecommendedLabelsOptions {
  /** `app.kubernetes.io/name`: the application, e.g. `nginx`. */
  readonly name: string;
  /**
   * `app.kubernetes.io/instance`: this installation, e.g. `hello-site`.
   * @default - the same as `name`
   */
  readonly instance?: string;
  /**
   * `app.kubernetes.io/component`, e.g. `web-server`.
   * @default - no component label
   */
  readonly component?: string;
  /**
   * `app.kubernetes.io/part-of`: the larger application.
   * @default - no part-of label
   */
  readonly partOf?: string;
  /**
   * `app.kubernetes.io/version`.
   * @default - no version label
   */
  readonly version?: string;
}

/**
 * The recommended `app.kubernetes.io/*` labels, validated as label values,
 * with `managed-by: cdk8s`.
 */
export function recommendedLabels(opts: RecommendedLabelsOptions): Record<string, string> {
  const labels: Record<string, string> = {
    'app.kubernetes.io/name': validateLabelValue(opts.name, 'labels name'),
    'app.kubernetes.io/instance': validateLabelValue(opts.instance ?? opts.name, 'labels instance'),
  };
  if (opts.component !== undefined) labels['app.kubernetes.io/component'] = validateLabelValue(opts.component, 'labels component');
  if (opts.partOf !== undefined) labels['app.kubernetes.io/part-of'] = validateLabelValue(opts.partOf, 'labels partOf');
  if (opts.version !== undefined) labels['app.kubernetes.io/version'] = validateLabelValue(opts.version, 'labels version');
  labels['app.kubernetes.io/managed-by'] = MANAGED_BY;
  return labels;
}

interface HasPodMetadata extends IConstruct {
  readonly podMetadata: { addLabel(key: string, value: string): void };
}

function hasPodMetadata(c: IConstruct): c is HasPodMetadata {
  const pm = (c as unknown as { podMetadata?: unknown }).podMetadata;
  return !!pm && typeof (pm as { addLabel?: unknown }).addLabel === 'function';
}

/**
 * Puts `labels` on every Kubernetes object below `scope` and on the pod
 * templates of its workloads. Call it at the end of a construct's constructor,
 * after all objects exist.
 */
export function applyLabels(scope: Construct, labels: Record<string, string>): void {
  for (const c of scope.node.findAll()) {
    if (c instanceof ApiObject) {
      for (const [k, v] of Object.entries(labels)) c.metadata.addLabel(k, v);
    }
    if (hasPodMetadata(c)) {
      for (const [k, v] of Object.entries(labels)) c.podMetadata.addLabel(k, v);
    }
  }
}
