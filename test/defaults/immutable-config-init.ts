/**
 * Every `@default` of ImmutableConfigMountProps, ImmutableConfigInitProps and
 * ImmutableConfigMapProps, asserted on a synth with that prop unset
 * (test/defaults.test.ts requires an entry per `@default` tag).
 */
import * as kplus from 'cdk8s-plus-28';
import { Chart } from 'cdk8s';
import { ImmutableConfigInit, ImmutableConfigMap } from '../../lib/immutable-config-init';
import { hardenedContainer, hardenedPodProps } from '../../lib/security';
import { K8sObject } from '../../lib/testing';
import { Files } from '../../lib/workload';
import { findContainer, findObject, synthObjects, testChart } from '../support/synth';

/** A Deployment `web` with app containers `app` and `worker`; the pod runs as `user` when given. */
function web(chart: Chart, user?: number): kplus.Deployment {
  return new kplus.Deployment(chart, 'Web', {
    metadata: { name: 'web' },
    ...(user === undefined ? {} : hardenedPodProps({ user })),
    containers: [hardenedContainer({ name: 'app', image: 'nginx:1.27' }), hardenedContainer({ name: 'worker', image: 'busybox:1.36.1' })],
  });
}

/** ImmutableConfigInit with only the required props (and configPaths, required with the default copy style). */
function init(user?: number): K8sObject {
  const chart = testChart();
  new ImmutableConfigInit(chart, 'Config', {
    workload: web(chart, user),
    image: 'busybox:1.36.1',
    configPaths: ['/src/app.cfg'],
    mountPath: '/config',
  });
  return findObject(synthObjects(chart), 'Deployment', 'web');
}

/** ImmutableConfigMap with only the required props. */
function map(): K8sObject[] {
  const chart = testChart();
  new ImmutableConfigMap(chart, 'Config', { workload: web(chart), files: Files.fromContent({ 'app.cfg': 'a = 1\n' }), mountPath: '/config' });
  return synthObjects(chart);
}

const spec = (d: K8sObject) => d.spec.template.spec;

export const DEFAULTS: Record<string, () => void> = {
  'ImmutableConfigMountProps.containers': () => {
    for (const d of [init(), findObject(map(), 'Deployment', 'web')]) {
      for (const name of ['app', 'worker']) {
        expect(findContainer(d, name).volumeMounts).toEqual([{ name: 'config', mountPath: '/config', readOnly: true }]);
      }
    }
  },
  'ImmutableConfigMountProps.volumeName': () => {
    expect(spec(init()).volumes.map((v: any) => v.name)).toEqual(['config']);
    expect(spec(findObject(map(), 'Deployment', 'web')).volumes.map((v: any) => v.name)).toEqual(['config']);
  },
  'ImmutableConfigInitProps.copyStyle': () => {
    const c = findContainer(init(), 'copy-config');
    expect(c.command).toEqual(['sh', '-c', 'cp -R -L -- "$@"', 'copy-config']);
    expect(c.args).toEqual(['/src/app.cfg', '/config']);
  },
  'ImmutableConfigInitProps.configPaths': () => {
    const chart = testChart();
    expect(() => new ImmutableConfigInit(chart, 'Config', { workload: web(chart), image: 'busybox:1.36.1', mountPath: '/config' })).toThrow(
      /configPaths must list at least one absolute path inside the config image with CopyStyle.COMMAND, got undefined/,
    );
  },
  'ImmutableConfigInitProps.initMountPath': () => {
    expect(findContainer(init(), 'copy-config').volumeMounts).toEqual([{ name: 'config', mountPath: '/config' }]);
  },
  'ImmutableConfigInitProps.initContainerName': () => {
    expect(spec(init()).initContainers.map((c: any) => c.name)).toEqual(['copy-config']);
  },
  'ImmutableConfigInitProps.securityContext': () => {
    expect(findContainer(init(), 'copy-config').securityContext).toMatchObject({ runAsUser: 65532, runAsGroup: 65532 });
    expect(findContainer(init(1500), 'copy-config').securityContext).toMatchObject({ runAsUser: 1500, runAsGroup: 1500 });
  },
  'ImmutableConfigInitProps.resources': () => {
    expect(findContainer(init(), 'copy-config').resources).toEqual({
      requests: { 'cpu': '50m', 'memory': '64Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '500m', 'memory': '128Mi', 'ephemeral-storage': '0.25Gi' },
    });
  },
  'ImmutableConfigInitProps.sizeLimit': () => {
    expect(spec(init()).volumes).toEqual([{ name: 'config', emptyDir: { sizeLimit: '64Mi' } }]);
  },
  'ImmutableConfigInitProps.medium': () => {
    expect(spec(init()).volumes[0].emptyDir.medium).toBeUndefined();
  },
  'ImmutableConfigMapProps.name': () => {
    const cm = findObject(map(), 'ConfigMap');
    expect(cm.metadata.name).toMatch(/^web-config-[0-9a-f]{10}$/);
    expect(cm.metadata.labels?.['app.kubernetes.io/instance']).toBe('web-config');
  },
};
