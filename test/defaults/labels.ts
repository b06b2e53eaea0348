/**
 * The documented defaults of the recommended labels (lib/labels.ts): RecommendedLabelsOptions, as
 * recommendedLabels writes them. test/defaults.test.ts runs each entry as its own test.
 */
import { recommendedLabels } from '../../lib';

export const DEFAULTS: Record<string, () => void> = {
  'RecommendedLabelsOptions.instance': () => {
    expect(recommendedLabels({ name: 'shop' })['app.kubernetes.io/instance']).toBe('shop');
  },

  'RecommendedLabelsOptions.component': () => {
    expect(Object.keys(recommendedLabels({ name: 'shop' }))).not.toContain('app.kubernetes.io/component');
  },

  'RecommendedLabelsOptions.partOf': () => {
    expect(Object.keys(recommendedLabels({ name: 'shop' }))).not.toContain('app.kubernetes.io/part-of');
  },

  'RecommendedLabelsOptions.version': () => {
    // the whole set, so that a label added by default shows here too
    expect(recommendedLabels({ name: 'shop' })).toEqual({
      'app.kubernetes.io/name': 'shop',
      'app.kubernetes.io/instance': 'shop',
      'app.kubernetes.io/managed-by': 'cdk8s',
    });
  },
};
