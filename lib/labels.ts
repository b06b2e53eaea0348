import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct, IConstruct } from 'constructs';
import { validateLabelValue } from './validate';

/**
 * # Labels and selectors: one policy for every construct
 *
 * - `app.kubernetes.io/name` is the **pattern** (`static-site`, `kv-proxy`,
 *   `sidecar-pod`, `general-purpose-runner`, `immutable-config`), the same for
 *   every installation of it.
 * - `app.kubernetes.io/instance` is the **installation**: the construct's
 *   `name` prop, which is also the name of its main objects.
 * - `app.kubernetes.io/component`, `part-of` and `version` describe, never select.
 * - `app.kubernetes.io/managed-by` is always `cdk8s`.
 *
 * Workloads, Services, NetworkPolicies and PodDisruptionBudgets select pods
 * by exactly `name` + `instance` ({@link selectorLabels}): values the user
 * chose, never derived from the construct path. cdk8s-plus's
 * `cdk8s.io/metadata.addr` label (a hash of the construct path) is neither
 * used in a selector nor left on a pod template ({@link selectPods}), so
 * renaming or moving a construct changes no selector (a Deployment's
 * selector is immutable) and rolls no pod.
 */

/** The value of `app.kubernetes.io/managed-by` on everything this library creates. */
export const MANAGED_BY = 'cdk8s';

/** The label keys every selector of this library uses: `app.kubernetes.io/name` and `app.kubernetes.io/instance`. */
export const SELECTOR_LABEL_KEYS = ['app.kubernetes.io/name', 'app.kubernetes.io/instance'] as const;

/**
 * Inputs for the Kubernetes recommended labels
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/).
 */
export interface RecommendedLabelsOptions {
  /** `app.kubernetes.io/name`: the pattern (or application), e.g. `static-site`. */
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

/** The stable pod selector within `labels`: `app.kubernetes.io/name` and `app.kubernetes.io/instance`. */
export function selectorLabels(labels: Record<string, string>): Record<string, string> {
  const selector: Record<string, string> = {};
  for (const key of SELECTOR_LABEL_KEYS) {
    if (labels[key] === undefined) throw new Error(`labels must include "${key}" to select pods, got ${JSON.stringify(labels)}`);
    selector[key] = labels[key];
  }
  return selector;
}

/** The workloads this library selects pods of. */
export type SelectableWorkload = kplus.Deployment | kplus.Job | kplus.CronJob | kplus.Pod;

/** JSON-pointer path of the pod labels inside each workload kind. */
function podLabelsPath(workload: SelectableWorkload): string {
  if (workload instanceof kplus.Pod) return '/metadata/labels';
  if (workload instanceof kplus.CronJob) return '/spec/jobTemplate/spec/template/metadata/labels';
  return '/spec/template/metadata/labels';
}

/**
 * Makes `workload` select (and label) its pods by `selector` only, and drops
 * cdk8s-plus's construct-path label `cdk8s.io/metadata.addr` from its pods.
 * A Deployment must be created with `select: false`, so cdk8s-plus adds no
 * selector of its own.
 */
export function selectPods(workload: SelectableWorkload, selector: Record<string, string>): void {
  if (workload instanceof kplus.Deployment) {
    if (Object.keys(workload.matchLabels).includes(kplus.Pod.ADDRESS_LABEL)) {
      throw new Error(
        `Deployment "${workload.name}" must be created with select: false: ` +
          `its selector would include ${kplus.Pod.ADDRESS_LABEL}, derived from the construct path`,
      );
    }
    workload.select(kplus.LabelSelector.of({ labels: selector }));
  }
  const podMetadata = workload instanceof kplus.Pod ? workload.metadata : workload.podMetadata;
  for (const [k, v] of Object.entries(selector)) podMetadata.addLabel(k, v);
  ApiObject.of(workload).addJsonPatch(
    JsonPatch.remove(`${podLabelsPath(workload)}/${kplus.Pod.ADDRESS_LABEL.replace(/~/g, '~0').replace(/\//g, '~1')}`),
  );
}

/**
 * Prefers putting the pods of `deployment` on different nodes (weight 100),
 * selecting them by `selector`. Used instead of cdk8s-plus's
 * `scheduling.spread()`, whose term selects by the construct-path label.
 */
export function spreadOverNodes(deployment: kplus.Deployment, selector: Record<string, string>): void {
  ApiObject.of(deployment).addJsonPatch(
    JsonPatch.add('/spec/template/spec/affinity', {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { ...selector } } },
          },
        ],
      },
    }),
  );
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
