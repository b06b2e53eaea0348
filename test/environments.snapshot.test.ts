import * as os from 'node:os';
import * as path from 'node:path';
import { buildApps } from '../main';

/**
 * One snapshot per chart per environment, for review: a change shows up as a
 * focused diff under its own `<env>/<chart>` heading. The assertions that
 * matter live in app.test.ts and each pattern's tests.
 */
const apps = buildApps(path.join(os.tmpdir(), 'never-written'));
const cases = [...apps].flatMap(([env, app]) => app.charts.map((chart) => [`${env}/${chart.node.id}`, chart] as const));

test('every environment has a snapshot per chart', () => {
  expect(cases.length).toBeGreaterThanOrEqual(19);
});

test.each(cases)('%s', (_name, chart) => {
  const objects = chart.toJson();
  expect(objects.length).toBeGreaterThan(0);
  // beside the snapshot: every object is ours and sits in the chart's namespace (or is cluster-scoped)
  for (const o of objects) {
    expect(o.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('cdk8s');
    if (o.metadata.namespace !== undefined) expect(o.metadata.namespace).toBe(chart.namespace);
  }
  expect(objects).toMatchSnapshot();
});
