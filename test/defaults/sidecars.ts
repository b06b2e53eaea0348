/**
 * Every `@default` of the sidecar constructs (SidecarsOptions, SidecarsProps,
 * SidecarDeploymentProps, SidecarBarePodProps, SidecarContainer) and their
 * presets (AuthProxyOptions, GitSyncOptions, SharedContentOptions,
 * RestartOnChangeOptions, SignalReloadOptions), asserted on a synth with that
 * prop left out. Read by test/defaults.test.ts.
 */
import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { HotPlugReload } from '../../lib/sidecar-pod/presets';
import { SidecarBarePod, SidecarBarePodProps, SidecarDeployment, SidecarDeploymentProps } from '../../lib/sidecar-workloads';
import { Sidecars } from '../../lib/sidecars';
import { K8sObject } from '../../lib/testing';
import { secretRef } from '../support/refs';
import { findAll, findContainer, findObject, synthObjects, testChart } from '../support/synth';

const APP = { name: 'app', image: 'busybox:1.36.1', command: ['httpd', '-f', '-p', '8080'], ports: [{ number: 8080 }] };
const REPO = 'https://github.com/example/site';

function deployment(props: SidecarDeploymentProps): K8sObject[] {
  const chart = testChart();
  new SidecarDeployment(chart, 'Pod', props);
  return synthObjects(chart);
}

function bare(props: SidecarBarePodProps): K8sObject[] {
  const chart = testChart();
  new SidecarBarePod(chart, 'Pod', props);
  return synthObjects(chart);
}

const podSpec = (objects: K8sObject[]) => findObject(objects, 'Deployment').spec.template.spec;
const container = (objects: K8sObject[], name: string) => findContainer(findObject(objects, 'Deployment'), name);
const names = (objects: K8sObject[]) => [...(podSpec(objects).initContainers ?? []), ...podSpec(objects).containers].map((c: any) => c.name);
const auth = () => ({ htpasswd: secretRef('users') });
const env = (c: any): Record<string, string> => Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e.value]));
const gitSync = (objects: K8sObject[]) => container(objects, 'git-sync');
const hotPlug = (reload = HotPlugReload.restartOnChange()) =>
  deployment({
    app: { ...APP, command: ['python3', 'app.py'], workingDir: '/srv/code/repo/current' },
    hotPlug: { repo: REPO, reload },
  });

export const DEFAULTS: Record<string, () => void> = {
  'SidecarsOptions.app': () => {
    const objects = deployment({ content: { repo: REPO } });
    const web = container(objects, 'web');
    expect(web.image).toBe('python:3.12.8-slim-bookworm');
    expect(web.args).toEqual(['8080', '--bind', '0.0.0.0', '--directory', '/srv/content/repo/current']);
    expect(() => deployment({})).toThrow(/app is required unless content is set/);
  },
  'SidecarsOptions.sidecars': () => {
    expect(names(deployment({ app: APP }))).toEqual(['app']);
  },
  'SidecarsOptions.initContainers': () => {
    expect(podSpec(deployment({ app: APP })).initContainers).toBeUndefined();
  },
  'SidecarsOptions.volumes': () => {
    expect(podSpec(deployment({ app: APP })).volumes).toBeUndefined();
    expect(podSpec(deployment({ app: { ...APP, writableTmp: true } })).volumes).toEqual([{ name: 'app-tmp', emptyDir: { sizeLimit: '64Mi' } }]);
  },
  'SidecarsOptions.sidecarMode': () => {
    const spec = podSpec(deployment({ content: { repo: REPO } }));
    expect(spec.initContainers).toBeUndefined();
    expect(spec.containers.map((c: any) => c.name)).toEqual(['web', 'git-sync']);
  },
  'SidecarsOptions.authProxy': () => {
    const objects = deployment({ app: APP });
    expect(names(objects)).not.toContain('auth-proxy');
    expect(findAll(objects, 'ConfigMap')).toEqual([]);
  },
  'SidecarsOptions.content': () => {
    expect(names(deployment({ app: APP }))).not.toContain('git-sync');
  },
  'SidecarsOptions.hotPlug': () => {
    const objects = deployment({ app: APP });
    expect(names(objects)).not.toContain('git-sync');
    expect(container(objects, 'app').command).toEqual(APP.command);
  },
  'SidecarsOptions.securityContext': () => {
    const plain = deployment({ app: APP });
    expect(podSpec(plain).securityContext).toMatchObject({ runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 });
    expect(container(plain, 'app').securityContext).toMatchObject({ runAsUser: 65532, runAsGroup: 65532 });
    const group = deployment({ app: { ...APP, securityContext: { user: 2000, group: 3000 } } });
    expect(podSpec(group).securityContext.fsGroup).toBe(3000);
    expect(podSpec(deployment({ content: { repo: REPO } })).securityContext.fsGroup).toBe(65533);
    expect(podSpec(hotPlug()).securityContext.fsGroup).toBe(65533);
  },
  'SidecarsProps.name': () => {
    const chart = testChart();
    const workload = new kplus.Deployment(chart, 'Web', { metadata: { name: 'web' } });
    new Sidecars(chart, 'Sidecars', { workload, app: APP, authProxy: auth() });
    expect(findObject(synthObjects(chart), 'ConfigMap').metadata.name).toBe('web-auth-proxy');
  },
  'SidecarDeploymentProps.name': () => {
    const objects = deployment({ app: APP, authProxy: auth() });
    expect(new Set(objects.filter((o) => o.kind !== 'ConfigMap').map((o) => o.metadata.name))).toEqual(new Set(['sidecar-pod']));
    expect(findObject(objects, 'ConfigMap').metadata.name).toBe('sidecar-pod-auth-proxy');
    expect(findObject(objects, 'Deployment').metadata.labels).toMatchObject({ 'app.kubernetes.io/instance': 'sidecar-pod' });
  },
  'SidecarDeploymentProps.replicas': () => {
    const objects = deployment({ app: APP });
    expect(findObject(objects, 'Deployment').spec.replicas).toBe(2);
    expect(podSpec(objects).affinity.podAntiAffinity).toBeDefined();
    expect(findObject(objects, 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);
  },
  'SidecarDeploymentProps.serviceTargetPort': () => {
    expect(findObject(deployment({ app: APP }), 'Service').spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080 }]);
    expect(findObject(deployment({ app: APP, authProxy: auth() }), 'Service').spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8081 }]);
  },
  'SidecarBarePodProps.name': () => {
    const objects = bare({ app: APP });
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(['NetworkPolicy/sidecar-pod', 'Pod/sidecar-pod']);
  },
  'SidecarContainer.securityContext': () => {
    const objects = deployment({ app: APP, sidecars: [{ name: 's', image: 'busybox:1.36.1' }] });
    expect(container(objects, 's').securityContext).toMatchObject({
      runAsUser: 65532,
      runAsGroup: 65532,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
    });
    const pod = deployment({ app: APP, sidecars: [{ name: 's', image: 'busybox:1.36.1' }], securityContext: { user: 2000 } });
    expect(container(pod, 's').securityContext).toMatchObject({ runAsUser: 2000, runAsGroup: 2000 });
  },
  'SidecarContainer.volumeMounts': () => {
    expect(container(deployment({ app: APP }), 'app').volumeMounts).toBeUndefined();
  },
  'SidecarContainer.writableTmp': () => {
    const objects = deployment({ app: APP });
    expect(container(objects, 'app').volumeMounts).toBeUndefined();
    expect(podSpec(objects).volumes).toBeUndefined();
  },
  'SidecarContainer.resources': () => {
    expect(container(deployment({ app: APP }), 'app').resources).toEqual({
      requests: { 'cpu': '50m', 'memory': '64Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '500m', 'memory': '128Mi', 'ephemeral-storage': '0.25Gi' },
    });
  },
  'SidecarContainer.imagePullPolicy': () => {
    expect(container(deployment({ app: APP }), 'app').imagePullPolicy).toBe('IfNotPresent');
  },
  'AuthProxyOptions.htpasswdKey': () => {
    const v = podSpec(deployment({ app: APP, authProxy: auth() })).volumes.find((x: any) => x.name === 'auth-proxy-htpasswd');
    expect(v.secret.items).toEqual([{ key: 'htpasswd', path: 'htpasswd' }]);
  },
  'AuthProxyOptions.port': () => {
    expect(container(deployment({ app: APP, authProxy: auth() }), 'auth-proxy').ports).toEqual([{ containerPort: 8081, name: 'auth-proxy' }]);
  },
  'AuthProxyOptions.upstreamPort': () => {
    expect(findObject(deployment({ app: APP, authProxy: auth() }), 'ConfigMap').data['nginx.conf']).toContain('server 127.0.0.1:8080;');
  },
  'AuthProxyOptions.realm': () => {
    expect(findObject(deployment({ app: APP, authProxy: auth() }), 'ConfigMap').data['nginx.conf']).toContain('auth_basic "Restricted";');
  },
  'AuthProxyOptions.image': () => {
    expect(container(deployment({ app: APP, authProxy: auth() }), 'auth-proxy').image).toBe('nginxinc/nginx-unprivileged:1.28.0-alpine');
  },
  'AuthProxyOptions.tmpSizeLimit': () => {
    const v = podSpec(deployment({ app: APP, authProxy: auth() })).volumes.find((x: any) => x.name === 'auth-proxy-tmp');
    expect(v).toEqual({ name: 'auth-proxy-tmp', emptyDir: { sizeLimit: '16Mi' } });
  },
  'GitSyncOptions.ref': () => {
    expect(gitSync(deployment({ content: { repo: REPO } })).args).toContain('--ref=HEAD');
  },
  'GitSyncOptions.period': () => {
    expect(gitSync(deployment({ content: { repo: REPO } })).args).toContain('--period=60s');
  },
  'GitSyncOptions.link': () => {
    expect(gitSync(deployment({ content: { repo: REPO } })).args).toContain('--link=current');
  },
  'GitSyncOptions.depth': () => {
    expect(gitSync(deployment({ content: { repo: REPO } })).args.filter((a: string) => a.startsWith('--depth'))).toEqual([]);
  },
  'GitSyncOptions.image': () => {
    expect(gitSync(deployment({ content: { repo: REPO } })).image).toBe('registry.k8s.io/git-sync/git-sync:v4.4.0');
  },
  'GitSyncOptions.volume': () => {
    expect(gitSync(deployment({ content: { repo: REPO } })).volumeMounts[0]).toMatchObject({ name: 'content' });
    expect(gitSync(hotPlug()).volumeMounts[0]).toMatchObject({ name: 'code' });
    expect(podSpec(deployment({ content: { repo: REPO } })).volumes).toContainEqual({ name: 'content', emptyDir: { sizeLimit: '64Mi' } });
  },
  'GitSyncOptions.mountPath': () => {
    const gs = gitSync(deployment({ content: { repo: REPO } }));
    expect(gs.volumeMounts[0]).toEqual({ name: 'content', mountPath: '/git', readOnly: false });
    expect(gs.args).toContain('--root=/git/repo');
  },
  'GitSyncOptions.appMountPath': () => {
    expect(container(deployment({ content: { repo: REPO } }), 'web').volumeMounts).toEqual([
      { name: 'content', mountPath: '/srv/content', readOnly: true },
    ]);
    expect(container(hotPlug(), 'app').volumeMounts[0]).toEqual({ name: 'code', mountPath: '/srv/code', readOnly: true });
  },
  'GitSyncOptions.resources': () => {
    expect(gitSync(deployment({ content: { repo: REPO } })).resources).toEqual({
      requests: { 'cpu': '50m', 'memory': '64Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '500m', 'memory': '256Mi', 'ephemeral-storage': '0.25Gi' },
    });
  },
  'GitSyncOptions.tmpSizeLimit': () => {
    expect(podSpec(deployment({ content: { repo: REPO } })).volumes).toContainEqual({ name: 'git-sync-tmp', emptyDir: { sizeLimit: '16Mi' } });
  },
  'GitSyncOptions.httpPort': () => {
    const gs = gitSync(deployment({ content: { repo: REPO } }));
    expect(gs.args).toContain('--http-bind=:8089');
    expect(gs.readinessProbe.httpGet.port).toBe(8089);
  },
  'SharedContentOptions.directory': () => {
    expect(container(deployment({ content: { repo: REPO } }), 'web').args).toContain('/srv/content/repo/current');
  },
  'SharedContentOptions.port': () => {
    expect(container(deployment({ content: { repo: REPO } }), 'web').ports).toEqual([{ containerPort: 8080, name: 'http' }]);
  },
  'RestartOnChangeOptions.poll': () => {
    expect(env(container(hotPlug(), 'app')).HOT_PLUG_POLL_SECONDS).toBe('3');
    expect(HotPlugReload.restartOnChange().poll!.toSeconds()).toBe(Duration.seconds(3).toSeconds());
  },
  'SignalReloadOptions.signal': () => {
    expect(env(gitSync(hotPlug(HotPlugReload.signal({ processName: 'python3' })))).HOT_PLUG_SIGNAL).toBe('HUP');
  },
};
