import * as kplus from 'cdk8s-plus-28';
import { spreadOverNodes } from './labels';
import { validatePositiveInteger } from './validate';

/**
 * The one defaults policy of every construct (internal; {@link WorkloadPolicy}
 * applies it to workloads users build):
 *
 * - `servicePort`: 80 for every Service (see `resolveExpose`).
 * - `replicas`: default 2, from 0 to 1000, for every Deployment.
 * - spread over nodes and a PodDisruptionBudget: both from 2 replicas
 *   (`podDisruptionBudget: false` turns the budget off); neither for a Job,
 *   a CronJob or a bare Pod.
 * - a NetworkPolicy wherever a Service is made, unless `networkPolicy: false`.
 * - `resources` merged field by field over the defaults (`mergeResources`).
 */

/** Replicas of every Deployment a construct makes, unless `replicas` says otherwise. */
export const DEFAULT_REPLICAS = 2;
/** The most replicas a construct accepts. */
export const MAX_REPLICAS = 1000;
/** Replicas from which pods are spread over nodes and get a PodDisruptionBudget. */
export const SPREAD_FROM_REPLICAS = 2;

/** A `replicas` prop: default 2, a whole number from 0 to 1000. */
export function resolveReplicas(replicas: number | undefined, prop: string = 'replicas'): number {
  return validatePositiveInteger(replicas ?? DEFAULT_REPLICAS, prop, 0, MAX_REPLICAS);
}

/** Spreads a Deployment's pods over nodes when it has {@link SPREAD_FROM_REPLICAS} or more replicas. */
export function applySpread(deployment: kplus.Deployment, selector: Record<string, string>, replicas: number): void {
  if (replicas >= SPREAD_FROM_REPLICAS) spreadOverNodes(deployment, selector);
}
