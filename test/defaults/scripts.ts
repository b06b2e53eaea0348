/**
 * Every `@default` of the script constructs (lib/script-bundle.ts,
 * lib/script-workloads.ts), each asserted on a synth with the prop unset.
 * test/defaults.test.ts requires an entry per `@default` tag.
 */
import * as path from 'node:path';
import { Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { ScriptRuntime } from '../../lib/script-bundle';
import { ScriptCronJob, ScriptJob, ScriptService } from '../../lib/script-workloads';
import { K8sObject } from '../../lib/testing';
import { Files } from '../../lib/workload';
import { findAll, findContainer, findObject, synthObjects, testChart } from '../support/synth';

const MAIN = Files.fromContent({ 'main.py': 'print("hi")\n' });
const ARCHIVE = path.join(__dirname, '..', 'fixtures', 'general-purpose-runner', 'bundles', 'greetings-py.zip');

function service(props: Record<string, unknown> = {}, chart: Chart = testChart()): K8sObject[] {
  new ScriptService(chart, 'S', { files: MAIN, ...props });
  return synthObjects(chart);
}

function job(props: Record<string, unknown> = {}): K8sObject[] {
  const chart = testChart();
  new ScriptJob(chart, 'J', { files: MAIN, ...props });
  return synthObjects(chart);
}

function cron(props: Record<string, unknown> = {}): K8sObject[] {
  const chart = testChart();
  new ScriptCronJob(chart, 'C', { files: MAIN, schedule: '@daily', ...props });
  return synthObjects(chart);
}

const podSpec = (o: K8sObject): any => (o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec.template.spec);
const runner = (objects: K8sObject[]) => findContainer(findObject(objects, 'Deployment', 'runner'), 'runner');
const JOB_RULE = { resources: ['pods'], verbs: ['get'] };

export const DEFAULTS: Record<string, () => void> = {
  'ScriptBundleOptions.name': () => {
    const objects = service({ rules: [JOB_RULE] });
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(
      expect.arrayContaining(['ConfigMap/runner-scripts', 'Deployment/runner', 'ServiceAccount/runner', 'Role/runner', 'Service/runner']),
    );
    expect(runner(objects).name).toBe('runner');
  },
  'ScriptBundleOptions.entrypoint': () => {
    expect(runner(service()).command).toEqual(['python3', '/opt/app/main.py']);
  },
  'ScriptBundleOptions.runtime': () => {
    expect(runner(service()).image).toBe('python:3.12.8-slim-bookworm');
    expect(() => service({ image: 'ruby:3.3.6-slim-bookworm' })).toThrow(/^command is required with a custom image \(no runtime\)/);
  },
  'ScriptBundleOptions.image': () => {
    const node = findObject(job({ runtime: ScriptRuntime.NODE, files: Files.fromContent({ 'a.js': 'x\n' }) }), 'Job', 'runner');
    expect(findContainer(node, 'runner').image).toBe('node:22.12.0-bookworm-slim');
  },
  'ScriptBundleOptions.command': () => {
    expect(runner(service({ runtime: ScriptRuntime.PYTHON })).command).toEqual(['python3', '/opt/app/main.py']);
  },
  'ScriptBundleOptions.args': () => {
    expect(runner(service()).args).toBeUndefined();
  },
  'ScriptBundleOptions.envVariables': () => {
    expect(findContainer(findObject(job(), 'Job', 'runner'), 'runner').env).toEqual([
      { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
      { name: 'PYTHONUNBUFFERED', value: '1' },
    ]);
  },
  'ScriptBundleOptions.securityContext': () => {
    const spec = podSpec(findObject(service(), 'Deployment', 'runner'));
    expect(spec.securityContext).toMatchObject({ runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 });
    expect(spec.containers[0].securityContext).toMatchObject({ runAsUser: 65532, runAsGroup: 65532 });
    const node = findObject(job({ runtime: ScriptRuntime.NODE, files: Files.fromContent({ 'a.js': 'x\n' }) }), 'Job', 'runner');
    expect(podSpec(node).securityContext).toMatchObject({ runAsUser: 10000, runAsGroup: 10000, fsGroup: 10000 });
  },
  'ScriptBundleOptions.resources': () => {
    expect(runner(service()).resources).toEqual({
      requests: { 'cpu': '50m', 'memory': '64Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '500m', 'memory': '128Mi', 'ephemeral-storage': '0.25Gi' },
    });
  },
  'ScriptBundleOptions.mountPath': () => {
    expect(runner(service()).volumeMounts).toContainEqual({ name: 'scripts', mountPath: '/opt/app', readOnly: true });
  },
  'ScriptBundleOptions.workingDir': () => {
    expect(runner(service({ mountPath: '/srv' })).workingDir).toBe('/srv');
  },
  'ScriptBundleOptions.writableTmp': () => {
    expect(runner(service()).volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    const bb = findObject(job({ runtime: ScriptRuntime.BUSYBOX, files: Files.fromContent({ 'a.sh': 'echo\n' }) }), 'Job', 'runner');
    expect(podSpec(bb).volumes.map((v: any) => v.name)).toEqual(['scripts']);
    const custom = findObject(job({ image: 'ruby:3.3.6-slim-bookworm', command: ['ruby', '/opt/app/main.py'] }), 'Job', 'runner');
    expect(podSpec(custom).volumes.map((v: any) => v.name)).toEqual(['scripts', 'tmp']);
  },
  'ScriptBundleOptions.emptyDirSizeLimit': () => {
    expect(podSpec(findObject(job({ archive: ARCHIVE }), 'Job', 'runner')).volumes.filter((v: any) => v.emptyDir)).toEqual([
      { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
      { name: 'bundle', emptyDir: { sizeLimit: '64Mi' } },
    ]);
  },
  'ScriptBundleOptions.archive': () => {
    const objects = job();
    expect(findAll(objects, 'ConfigMap').map((c) => c.metadata.name)).toEqual(['runner-scripts']);
    expect(podSpec(findObject(objects, 'Job', 'runner')).initContainers).toBeUndefined();
  },
  'ScriptBundleOptions.archiveMountPath': () => {
    expect(findContainer(findObject(job({ archive: ARCHIVE }), 'Job', 'runner'), 'runner').volumeMounts).toContainEqual({
      name: 'bundle',
      mountPath: '/opt/bundle',
      readOnly: true,
    });
  },
  'ScriptBundleOptions.unpackImage': () => {
    expect(findContainer(findObject(job({ archive: ARCHIVE }), 'Job', 'runner'), 'unpack').image).toBe('python:3.12.8-slim-bookworm');
    const js = { runtime: ScriptRuntime.NODE, files: Files.fromContent({ 'a.js': 'x\n' }) };
    const zip = path.join(path.dirname(ARCHIVE), 'greetings-js.zip');
    const tgz = path.join(path.dirname(ARCHIVE), 'greetings-js.tar.gz');
    expect(findContainer(findObject(job({ ...js, archive: tgz }), 'Job', 'runner'), 'unpack').image).toBe('node:22.12.0-bookworm-slim');
    expect(findContainer(findObject(job({ ...js, archive: zip }), 'Job', 'runner'), 'unpack').image).toBe('busybox:1.36.1');
  },
  'ScriptBundleOptions.rules': () => {
    const objects = service();
    expect(findAll(objects, 'ServiceAccount')).toEqual([]);
    expect(findAll(objects, 'Role')).toEqual([]);
    expect(podSpec(findObject(objects, 'Deployment', 'runner')).automountServiceAccountToken).toBe(false);
  },
  'ScriptBundleOptions.clusterRules': () => {
    expect(findAll(service(), 'ClusterRole')).toEqual([]);
  },
  'ScriptBundleOptions.allowWildcardRules': () => {
    expect(() => service({ rules: [{ resources: ['*'], verbs: ['get'] }] })).toThrow(/rules\[0\]\.resources must not contain "\*"/);
  },
  'ScriptBundleOptions.partOf': () => {
    for (const o of service()) expect(o.metadata.labels?.['app.kubernetes.io/part-of']).toBeUndefined();
  },
  'RbacRule.apiGroups': () => {
    expect(findObject(service({ rules: [JOB_RULE] }), 'Role', 'runner').rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]);
  },
  'RbacRule.resourceNames': () => {
    expect(findObject(service({ rules: [JOB_RULE] }), 'Role', 'runner').rules[0].resourceNames).toBeUndefined();
  },
  'ScriptWorkloadOptions.apiServerCidrs': () => {
    const egress = findObject(job({ rules: [JOB_RULE] }), 'NetworkPolicy', 'runner').spec.egress;
    expect(egress[1].to).toBeUndefined();
  },
  'ScriptWorkloadOptions.apiServerPorts': () => {
    const egress = findObject(job({ rules: [JOB_RULE] }), 'NetworkPolicy', 'runner').spec.egress;
    expect(egress[1].ports).toEqual([
      { protocol: 'TCP', port: 443 },
      { protocol: 'TCP', port: 6443 },
    ]);
  },
  'ScriptServiceProps.port': () => {
    const objects = service();
    expect(runner(objects).ports).toEqual([{ containerPort: 8080, name: 'http' }]);
    expect(runner(objects).env).toContainEqual({ name: 'PORT', value: '8080' });
    expect(findObject(objects, 'Service', 'runner').spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080 }]);
  },
  'ScriptServiceProps.replicas': () => {
    const objects = service();
    expect(findObject(objects, 'Deployment', 'runner').spec.replicas).toBe(2);
    expect(podSpec(findObject(objects, 'Deployment', 'runner')).affinity.podAntiAffinity).toBeDefined();
    expect(findObject(objects, 'PodDisruptionBudget', 'runner').spec.maxUnavailable).toBe(1);
  },
  'ScriptServiceProps.healthPath': () => {
    const c = runner(service());
    expect(c.readinessProbe).toMatchObject({ tcpSocket: { port: 8080 } });
    expect(c.livenessProbe).toBeUndefined();
  },
  'ScriptJobProps.backoffLimit': () => {
    expect(findObject(job(), 'Job', 'runner').spec.backoffLimit).toBe(2);
  },
  'ScriptJobProps.activeDeadline': () => {
    expect(findObject(job(), 'Job', 'runner').spec.activeDeadlineSeconds).toBe(600);
  },
  'ScriptJobProps.ttlAfterFinished': () => {
    expect(findObject(job(), 'Job', 'runner').spec.ttlSecondsAfterFinished).toBe(86400);
  },
  'ScriptCronJobProps.timeZone': () => {
    expect(findObject(cron(), 'CronJob', 'runner').spec.timeZone).toBeUndefined();
  },
  'ScriptCronJobProps.concurrencyPolicy': () => {
    expect(findObject(cron(), 'CronJob', 'runner').spec.concurrencyPolicy).toBe(kplus.ConcurrencyPolicy.FORBID);
  },
  'ScriptCronJobProps.startingDeadline': () => {
    expect(findObject(cron(), 'CronJob', 'runner').spec.startingDeadlineSeconds).toBe(300);
  },
  'ScriptCronJobProps.successfulJobsRetained': () => {
    expect(findObject(cron(), 'CronJob', 'runner').spec.successfulJobsHistoryLimit).toBe(3);
  },
  'ScriptCronJobProps.failedJobsRetained': () => {
    expect(findObject(cron(), 'CronJob', 'runner').spec.failedJobsHistoryLimit).toBe(1);
  },
  'ScriptCronJobProps.backoffLimit': () => {
    expect(findObject(cron(), 'CronJob', 'runner').spec.jobTemplate.spec.backoffLimit).toBe(2);
  },
  'ScriptCronJobProps.activeDeadline': () => {
    expect(findObject(cron(), 'CronJob', 'runner').spec.jobTemplate.spec.activeDeadlineSeconds).toBe(600);
  },
};
