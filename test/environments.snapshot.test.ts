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
  // beside the snapshot: every object is ours, carries the recommended labels, and sits in the chart's namespace (or is cluster-scoped)
  for (const o of objects) {
    expect(o.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('cdk8s');
    expect(o.metadata.labels?.['app.kubernetes.io/name']).toMatch(/^[a-z0-9-]+$/);
    expect(o.metadata.labels?.['app.kubernetes.io/instance']).toMatch(/^[a-z0-9.-]+$/);
    // no selector or pod template uses cdk8s-plus's construct-path label
    expect(JSON.stringify(o)).not.toContain('cdk8s.io/metadata.addr');
    if (o.metadata.namespace !== undefined) expect(o.metadata.namespace).toBe(chart.namespace);
  }
  expect(objects).toMatchSnapshot();
});
