/**
 * The documented defaults of the hardening helpers (lib/security.ts): HardeningOptions (hardenedContainer)
 * and HardenedPodOptions (hardenedPodProps), asserted on a synthesized Deployment built from them.
 * test/defaults.test.ts runs each entry as its own test.
 */
import { Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { hardenedContainer, hardenedPodProps, HardenedPodOptions, HardeningOptions } from '../../lib';
import { findObject, synthObjects } from '../support/synth';

/** The pod spec of a Deployment with one hardened container, built with these options (nothing else set). */
function podSpec(container: HardeningOptions = {}, pod: HardenedPodOptions = {}): any {
  const chart = Testing.chart();
  new kplus.Deployment(chart, 'app', {
    ...hardenedPodProps(pod),
    select: false,
    containers: [hardenedContainer({ name: 'app', image: 'registry.example.com/app:1.0.0', portNumber: 8080 }, container)],
  });
  return findObject(synthObjects(chart), 'Deployment').spec.template.spec;
}

export const DEFAULTS: Record<string, () => void> = {
  'HardeningOptions.user': () => {
    const spec = podSpec();
    expect(spec.containers[0].securityContext.runAsUser).toBe(65532);
    expect(spec.securityContext.runAsUser).toBe(65532);
  },

  'HardeningOptions.group': () => {
    // the same as `user`, whether user is its default or given
    expect(podSpec().containers[0].securityContext.runAsGroup).toBe(65532);
    const spec = podSpec({ user: 12345 }, { user: 12345 });
    expect(spec.containers[0].securityContext.runAsUser).toBe(12345);
    expect(spec.containers[0].securityContext.runAsGroup).toBe(12345);
    expect(spec.securityContext.runAsGroup).toBe(12345);
  },

  'HardenedPodOptions.fsGroup': () => {
    // the same as `group`, whether group is its default or given
    expect(podSpec().securityContext.fsGroup).toBe(65532);
    expect(podSpec({}, { group: 23456 }).securityContext.fsGroup).toBe(23456);
    expect(podSpec({}, { user: 12345 }).securityContext.fsGroup).toBe(12345);
  },
};
