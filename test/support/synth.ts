import { App, Chart, Testing } from 'cdk8s';
import { K8sObject } from '../../lib/testing';

/** All objects of one chart, as the API server would receive them. */
export function synthObjects(chart: Chart): K8sObject[] {
  return Testing.synth(chart) as K8sObject[];
}

/** All objects of every chart of an app. */
export function synthApp(app: App): K8sObject[] {
  return app.charts.flatMap((c) => synthObjects(c));
}

/** Finds exactly one object by kind and name (never by array index). */
export function findObject(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const hits = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (hits.length !== 1) {
    throw new Error(
      `expected exactly one ${kind}${name ? ` named "${name}"` : ''}, found ${hits.length}: ` +
        objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', '),
    );
  }
  return hits[0];
}

/** All objects of a kind. */
export function findAll(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

/** The container named `name` in a workload's pod template (containers and init containers). */
export function findContainer(workload: K8sObject, name: string): any {
  const spec =
    workload.kind === 'CronJob'
      ? workload.spec.jobTemplate.spec.template.spec
      : workload.kind === 'Pod'
        ? workload.spec
        : workload.spec.template.spec;
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const c = all.find((x: any) => x.name === name);
  if (!c) throw new Error(`no container "${name}" in ${workload.kind}/${workload.metadata.name}: ${all.map((x: any) => x.name).join(', ')}`);
  return c;
}

/** A fresh chart in a fresh app, for construct tests. */
export function testChart(namespace: string = 'test'): Chart {
  return new Chart(Testing.app(), 'test', { namespace });
}
