import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Chart, Cron, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import {
  FLASK_ENV,
  flaskCommand,
  ImmutableConfigInitChart,
  ImmutableConfigMapChart,
  SEED_APP_IMAGE,
  SEED_CONFIG,
  SEED_CONFIG_IMAGE,
} from '../charts/immutable-config-init';
import {
  COPY_SCRIPT,
  CopyStyle,
  ImmutableConfigInit,
  ImmutableConfigInitProps,
  ImmutableConfigMap,
  ImmutableConfigMapProps,
  resolveImmutableConfigInit,
  resolveImmutableConfigMap,
} from '../lib/immutable-config-init';
import { Files } from '../lib/workload';
import { DEFAULT_EMPTY_DIR_SIZE_LIMIT, DEFAULT_RESOURCES, hardenedContainer, hardenedPodProps } from '../lib/security';
import { assertValid, K8sObject } from '../lib/testing';
import { findAll, findContainer, findObject, synthObjects, testChart } from './support/synth';

const FIXTURES = path.join(__dirname, 'fixtures', 'immutable-config-init');
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

/** A hardened Deployment named `web` with one app container `app` (and its extra mounts, if any), isolated by a NetworkPolicy. */
function webDeployment(chart: Chart, opts: { containers?: kplus.ContainerProps[]; user?: number } = {}): kplus.Deployment {
  const web = new kplus.Deployment(chart, 'Web', {
    metadata: { name: 'web' },
    ...hardenedPodProps(opts.user ? { user: opts.user } : {}),
    containers: opts.containers ?? [hardenedContainer({ name: 'app', image: 'nginx:1.27', portNumber: 8080 })],
  });
  // the gate wants every pod behind an ingress and an egress NetworkPolicy: the workload's owner provides it
  web.connections.isolate();
  return web;
}

function podSpec(o: K8sObject): any {
  return o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec.template.spec;
}

function volume(o: K8sObject, name: string): any {
  const v = podSpec(o).volumes.find((x: any) => x.name === name);
  if (!v) throw new Error(`no volume "${name}" in ${o.kind}/${o.metadata.name}`);
  return v;
}

describe('ImmutableConfigInit', () => {
  function withConfig(props: Partial<ImmutableConfigInitProps> = {}, deployment?: (chart: Chart) => kplus.AbstractPod) {
    const chart = testChart();
    const workload = deployment ? deployment(chart) : webDeployment(chart);
    const config = new ImmutableConfigInit(chart, 'Config', {
      workload,
      image: 'registry.example.com/app-config:1.4.2',
      configPaths: ['/src/config.cfg'],
      mountPath: '/config',
      ...props,
    });
    return { chart, workload, config };
  }

  test('defaults: an explicit copy command into an emptyDir that the app mounts read-only', () => {
    // GIVEN a hardened Deployment  WHEN the config is attached with only the required props
    const { chart, config } = withConfig();
    const objects = synthObjects(chart);
    // THEN
    expect(objects).toMatchSnapshot();
    const dep = findObject(objects, 'Deployment', 'web');
    const init = findContainer(dep, 'copy-config');
    expect(podSpec(dep).initContainers).toHaveLength(1);
    expect(init.image).toBe('registry.example.com/app-config:1.4.2');
    expect(init.command).toEqual(['sh', '-c', 'cp -R -L -- "$@"', 'copy-config']);
    expect(init.args).toEqual(['/src/config.cfg', '/config']);
    expect(init.volumeMounts).toEqual([{ name: 'config', mountPath: '/config' }]);
    expect(findContainer(dep, 'app').volumeMounts).toEqual([{ name: 'config', mountPath: '/config', readOnly: true }]);
    expect(volume(dep, 'config')).toEqual({ name: 'config', emptyDir: { sizeLimit: '64Mi' } });
    // @default user/group: the pod's runAsUser/runAsGroup; @default resources: DEFAULT_RESOURCES
    expect(init.securityContext).toEqual({
      runAsUser: 65532,
      runAsGroup: 65532,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(init.resources).toEqual({
      requests: { 'cpu': '50m', 'memory': '64Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '500m', 'memory': '128Mi', 'ephemeral-storage': '0.25Gi' },
    });
    expect(init.imagePullPolicy).toBe('IfNotPresent');
    expect(config.initContainer.name).toBe('copy-config');
    expect(config.volume.name).toBe('config');
    expect(config.containers.map((c) => c.name)).toEqual(['app']);
    assertValid(objects);
  });

  test('the resolver decides every @default', () => {
    const chart = testChart();
    const r = resolveImmutableConfigInit({
      workload: webDeployment(chart),
      image: 'busybox:1.36.1',
      configPaths: ['/src/config.cfg'],
      mountPath: '/config',
    });
    expect(r).toMatchObject({
      copyStyle: CopyStyle.COMMAND,
      initMountPath: '/config',
      initContainerName: 'copy-config',
      configPaths: ['/src/config.cfg'],
      command: ['sh', '-c', COPY_SCRIPT, 'copy-config'],
      args: ['/src/config.cfg', '/config'],
      resources: DEFAULT_RESOURCES,
      medium: kplus.EmptyDirMedium.DEFAULT,
      mediumGiven: false,
      securityContext: { user: 65532, group: 65532 },
      mount: { mountPath: '/config', volumeName: 'config', containersGiven: false },
    });
    expect(r.sizeLimit.toMebibytes()).toBe(DEFAULT_EMPTY_DIR_SIZE_LIMIT.toMebibytes());
    expect(DEFAULT_EMPTY_DIR_SIZE_LIMIT.toMebibytes()).toBe(64);
    expect(r.mount.containers.map((c) => c.name)).toEqual(['app']);
  });

  test('the destination is always the last argument, after every config path', () => {
    const { chart } = withConfig({ configPaths: ['/src/config.cfg', '/etc/app', '/opt/feature-flags.json'], mountPath: '/etc/config' });
    const init = findContainer(findObject(synthObjects(chart), 'Deployment'), 'copy-config');
    expect(init.args).toEqual(['/src/config.cfg', '/etc/app', '/opt/feature-flags.json', '/etc/config']);
  });

  test('CopyStyle.ENTRYPOINT: no command, the destination as the only argument (the seed contract)', () => {
    const { chart } = withConfig({ copyStyle: CopyStyle.ENTRYPOINT, configPaths: undefined });
    const init = findContainer(findObject(synthObjects(chart), 'Deployment'), 'copy-config');
    expect(init.command).toBeUndefined();
    expect(init.args).toEqual(['/config']);
  });

  test('a digest-pinned image is accepted as is', () => {
    const image = `registry.example.com/app-config@${DIGEST}`;
    const { chart } = withConfig({ image });
    expect(findContainer(findObject(synthObjects(chart), 'Deployment'), 'copy-config').image).toBe(image);
  });

  test('every app container gets the read-only mount; init containers added before are left alone', () => {
    const { chart } = withConfig({}, (c) => {
      const d = webDeployment(c, {
        containers: [hardenedContainer({ name: 'app', image: 'nginx:1.27' }), hardenedContainer({ name: 'worker', image: 'busybox:1.36.1' })],
      });
      d.addInitContainer(hardenedContainer({ name: 'migrate', image: 'busybox:1.36.1' }));
      return d;
    });
    const dep = findObject(synthObjects(chart), 'Deployment');
    for (const name of ['app', 'worker'])
      expect(findContainer(dep, name).volumeMounts).toEqual([{ name: 'config', mountPath: '/config', readOnly: true }]);
    expect(findContainer(dep, 'migrate').volumeMounts).toBeUndefined();
    expect(podSpec(dep).initContainers.map((c: any) => c.name)).toEqual(['migrate', 'copy-config']);
  });

  test('containers limits the mount to the listed app containers', () => {
    const chart = testChart();
    const d = webDeployment(chart, {
      containers: [hardenedContainer({ name: 'app', image: 'nginx:1.27' }), hardenedContainer({ name: 'metrics', image: 'busybox:1.36.1' })],
    });
    new ImmutableConfigInit(chart, 'Config', {
      workload: d,
      image: 'busybox:1.36.1',
      configPaths: ['/src/a.cfg'],
      mountPath: '/config',
      containers: [d.containers[0]],
    });
    const dep = findObject(synthObjects(chart), 'Deployment');
    expect(findContainer(dep, 'app').volumeMounts).toHaveLength(1);
    expect(findContainer(dep, 'metrics').volumeMounts).toBeUndefined();
  });

  test('works with a Job', () => {
    // GIVEN a hardened Job  WHEN the config is attached
    const chart = testChart();
    const job = new kplus.Job(chart, 'Job', {
      metadata: { name: 'report' },
      ...hardenedPodProps(),
      containers: [hardenedContainer({ name: 'report', image: 'python:3.12-slim' })],
    });
    job.connections.isolate();
    new ImmutableConfigInit(chart, 'Config', { workload: job, image: 'busybox:1.36.1', configPaths: ['/src/report.yaml'], mountPath: '/etc/report' });
    const objects = synthObjects(chart);
    // THEN the Job's pod has the init container, the volume and the read-only mount
    const jobObj = findObject(objects, 'Job', 'report');
    expect(findContainer(jobObj, 'copy-config').args).toEqual(['/src/report.yaml', '/etc/report']);
    expect(findContainer(jobObj, 'report').volumeMounts).toEqual([{ name: 'config', mountPath: '/etc/report', readOnly: true }]);
    expect(podSpec(jobObj).restartPolicy).toBe('Never');
    assertValid(objects);
  });

  test('works with a CronJob', () => {
    const chart = testChart();
    const cron = new kplus.CronJob(chart, 'Cron', {
      metadata: { name: 'nightly' },
      schedule: Cron.daily(),
      ...hardenedPodProps(),
      containers: [hardenedContainer({ name: 'nightly', image: 'python:3.12-slim' })],
    });
    cron.connections.isolate();
    new ImmutableConfigInit(chart, 'Config', { workload: cron, image: 'busybox:1.36.1', configPaths: ['/src/a.cfg'], mountPath: '/config' });
    const objects = synthObjects(chart);
    const cronObj = findObject(objects, 'CronJob', 'nightly');
    expect(findContainer(cronObj, 'nightly').volumeMounts).toEqual([{ name: 'config', mountPath: '/config', readOnly: true }]);
    assertValid(objects);
  });

  test('initMountPath lets the image keep its config below mountPath', () => {
    const { chart } = withConfig({ configPaths: ['/config/app.cfg'], initMountPath: '/config-out' });
    const dep = findObject(synthObjects(chart), 'Deployment');
    const init = findContainer(dep, 'copy-config');
    expect(init.args).toEqual(['/config/app.cfg', '/config-out']);
    expect(init.volumeMounts).toEqual([{ name: 'config', mountPath: '/config-out' }]);
    expect(findContainer(dep, 'app').volumeMounts).toEqual([{ name: 'config', mountPath: '/config', readOnly: true }]);
  });

  test('emptyDir size limit and medium', () => {
    const { chart } = withConfig({ sizeLimit: Size.mebibytes(8), medium: kplus.EmptyDirMedium.MEMORY });
    expect(volume(findObject(synthObjects(chart), 'Deployment'), 'config')).toEqual({
      name: 'config',
      emptyDir: { medium: 'Memory', sizeLimit: '8Mi' },
    });
  });

  test('names, securityContext and resources can be chosen', () => {
    const { chart } = withConfig({
      volumeName: 'app-config',
      initContainerName: 'appconfig',
      securityContext: { user: 1001, group: 1002 },
      resources: {
        memory: { request: Size.mebibytes(16), limit: Size.mebibytes(32) },
        cpu: { request: kplus.Cpu.millis(10), limit: kplus.Cpu.millis(100) },
      },
    });
    const dep = findObject(synthObjects(chart), 'Deployment');
    const init = findContainer(dep, 'appconfig');
    expect(init.securityContext).toMatchObject({ runAsUser: 1001, runAsGroup: 1002 });
    expect(init.resources).toEqual({
      requests: { 'cpu': '10m', 'memory': '16Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '100m', 'memory': '32Mi', 'ephemeral-storage': '0.25Gi' },
    });
    expect(volume(dep, 'app-config')).toEqual({ name: 'app-config', emptyDir: { sizeLimit: '64Mi' } });
    expect(findContainer(dep, 'app').volumeMounts).toEqual([{ name: 'app-config', mountPath: '/config', readOnly: true }]);
  });

  test('@default securityContext follows the pod-level user and group; 65532 without them', () => {
    const init = (d: (c: Chart) => kplus.AbstractPod) =>
      findContainer(findObject(synthObjects(withConfig({}, d).chart), 'Deployment'), 'copy-config');
    expect(init((c) => webDeployment(c, { user: 1500 })).securityContext).toMatchObject({ runAsUser: 1500, runAsGroup: 1500 });
    const bare = init((c) => new kplus.Deployment(c, 'Bare', { containers: [hardenedContainer({ name: 'app', image: 'nginx:1.27' })] }));
    expect(bare.securityContext).toMatchObject({ runAsUser: 65532, runAsGroup: 65532 });
    expect(DEFAULT_RESOURCES.memory?.limit?.toMebibytes()).toBe(128);
  });

  describe('fails when', () => {
    const cases: Array<[string, Partial<ImmutableConfigInitProps>, RegExp]> = [
      ['mountPath is missing', { mountPath: undefined as any }, /mountPath is required: the directory the config is copied to/],
      ['mountPath is empty', { mountPath: '' }, /mountPath is required/],
      ['mountPath is relative', { mountPath: 'config' }, /mountPath must be an absolute path starting with "\/", got "config"/],
      ['mountPath is not normalised', { mountPath: '/config/../etc' }, /mountPath must be a normalised absolute path/],
      ['mountPath is /', { mountPath: '/' }, /mountPath must not be "\/", got "\/"/],
      [
        'the image has no tag',
        { image: 'registry.example.com/app-config' },
        /image must be pinned with a tag or a digest, got "registry.example.com\/app-config"/,
      ],
      ['the image is latest', { image: 'busybox:latest' }, /image must not use the floating "latest" tag/],
      ['the image is empty', { image: '' }, /image must be a non-empty image reference, got ""/],
      ['sizeLimit is a number, not a Size', { sizeLimit: 5 as never }, /sizeLimit must be a cdk8s Size such as Size.mebibytes\(16\), got 5/],
      [
        'a prop is misspelled',
        { initMountpath: '/out' } as never,
        /ImmutableConfigInit props has no option "initMountpath" \(did you mean "initMountPath"\?\)/,
      ],
      [
        'configPaths is missing with CopyStyle.COMMAND',
        { configPaths: undefined },
        /configPaths must list at least one absolute path inside the config image with CopyStyle.COMMAND, got undefined/,
      ],
      ['configPaths is empty', { configPaths: [] }, /configPaths must list at least one/],
      [
        'a config path is relative',
        { configPaths: ['src/config.cfg'] },
        /configPaths entry must be an absolute path starting with "\/", got "src\/config.cfg"/,
      ],
      ['a config path is /', { configPaths: ['/'] }, /configPaths entry must not be "\/"/],
      [
        'a config path lies below the init mount',
        { configPaths: ['/config/app.cfg'] },
        /configPaths entry "\/config\/app.cfg" overlaps initMountPath "\/config", where the empty volume would hide or receive it/,
      ],
      [
        'a config path contains the init mount',
        { configPaths: ['/data'], mountPath: '/data/config' },
        /configPaths entry "\/data" overlaps initMountPath "\/data\/config"/,
      ],
      [
        'two config paths share a name',
        { configPaths: ['/a/config.cfg', '/b/config.cfg'] },
        /configPaths entries "\/a\/config.cfg" and "\/b\/config.cfg" would both be copied to "\/config\/config.cfg"/,
      ],
      ['configPaths is given with CopyStyle.ENTRYPOINT', { copyStyle: CopyStyle.ENTRYPOINT }, /configPaths only applies to CopyStyle.COMMAND/],
      ['copyStyle is unknown', { copyStyle: 'Rsync' as any }, /copyStyle must be one of "Command", "Entrypoint", got "Rsync"/],
      [
        'copyStyle is in the wrong case',
        { copyStyle: 'entrypoint' as any },
        /copyStyle must be one of "Command", "Entrypoint", got "entrypoint" \(did you mean "Entrypoint"\?\)/,
      ],
      ['medium is in the wrong case', { medium: 'memory' as any }, /medium must be one of "", "Memory", got "memory" \(did you mean "Memory"\?\)/],
      ['the image is left out', { image: undefined as any }, /image is required/],
      [
        'the init container asks for more memory than its limit',
        { resources: { memory: { request: Size.mebibytes(200), limit: Size.mebibytes(100) } } },
        /resources.memory.request must not exceed resources.memory.limit, got request 204800Ki and limit 102400Ki/,
      ],
      ['initMountPath is relative', { initMountPath: 'out' }, /initMountPath must be an absolute path/],
      ['volumeName is not a DNS label', { volumeName: 'Config_Dir' }, /volumeName must be a DNS-1123 label/],
      ['initContainerName is not a DNS label', { initContainerName: 'Copy' }, /initContainerName must be a DNS-1123 label/],
      [
        'initContainerName is taken by an app container',
        { initContainerName: 'app' },
        /initContainerName "app" is already used by a container of the workload/,
      ],
      [
        'sizeLimit is zero',
        { sizeLimit: Size.mebibytes(0) },
        /sizeLimit must be a whole number of MiB, at least 1 MiB \(cdk8s-plus writes emptyDir sizes in MiB\), got 0 KiB/,
      ],
      [
        'sizeLimit is not a whole number of MiB',
        { sizeLimit: Size.kibibytes(512) },
        /sizeLimit must be a whole number of MiB, at least 1 MiB .*got 512 KiB/,
      ],
      ['the user is root', { securityContext: { user: 0 } }, /securityContext.user must be an integer 1-2147483647, got 0/],
      ['the group is root', { securityContext: { group: 0 } }, /securityContext.group must be an integer 1-2147483647, got 0/],
      [
        "securityContext sets fsGroup (the pod's)",
        { securityContext: { fsGroup: 5 } },
        /securityContext.fsGroup is not a setting here: use user or group \(fsGroup is set on the pod\)/,
      ],
      ['the old user prop is given', { user: 1001 } as never, /ImmutableConfigInit props has no option "user"/],
    ];
    test.each(cases)('%s', (_what, props, message) => {
      expect(() => withConfig(props)).toThrow(message);
    });

    test('the destination overlaps another mount of an app container (same, parent or child path)', () => {
      const cacheMount = (mountPath: string) => (c: Chart) => {
        const d = webDeployment(c);
        d.containers[0].mount(mountPath, kplus.Volume.fromEmptyDir(c, 'Cache', 'cache'));
        return d;
      };
      expect(() => withConfig({}, cacheMount('/config'))).toThrow(
        /mountPath "\/config" overlaps the mount of volume "cache" at "\/config" in container "app": choose a directory of its own/,
      );
      expect(() => withConfig({}, cacheMount('/config/cache'))).toThrow(/overlaps the mount of volume "cache" at "\/config\/cache"/);
      expect(() => withConfig({ mountPath: '/var/cache/app' }, cacheMount('/var/cache'))).toThrow(
        /overlaps the mount of volume "cache" at "\/var\/cache"/,
      );
      expect(() => withConfig({ mountPath: '/configs' }, cacheMount('/config'))).not.toThrow();
    });

    test('the workload has no app container', () => {
      expect(() => withConfig({}, (c) => new kplus.Deployment(c, 'Empty', hardenedPodProps()))).toThrow(
        /workload must have at least one app container to mount the config into, got none/,
      );
    });

    test('containers is empty or names a container of another workload', () => {
      const chart = testChart();
      const d = webDeployment(chart);
      const other = new kplus.Deployment(chart, 'Other', {
        ...hardenedPodProps(),
        containers: [hardenedContainer({ name: 'other', image: 'nginx:1.27' })],
      });
      const base = { workload: d, image: 'busybox:1.36.1', configPaths: ['/src/a.cfg'], mountPath: '/config' };
      expect(() => new ImmutableConfigInit(chart, 'A', { ...base, containers: [] })).toThrow(
        /containers must list at least one app container, got none/,
      );
      expect(() => new ImmutableConfigInit(chart, 'B', { ...base, containers: other.containers })).toThrow(
        /containers must be app containers of the workload, got container "other"/,
      );
    });

    test('the workload is not a cdk8s-plus workload', () => {
      expect(() => withConfig({}, () => undefined as any)).toThrow(/workload is required/);
      expect(() => withConfig({}, () => ({ name: 'x' }) as any)).toThrow(/workload must be a cdk8s-plus workload/);
    });

    test('the volume name is already used by the workload', () => {
      expect(() =>
        withConfig({ volumeName: 'cache' }, (c) => {
          const d = webDeployment(c);
          d.containers[0].mount('/var/cache', kplus.Volume.fromEmptyDir(c, 'Cache', 'cache'));
          return d;
        }),
      ).toThrow(/volumeName "cache" is already used by a volume of the workload/);
    });

    test('a mount overlapping the destination is added after the config was attached (at synth)', () => {
      const { chart, workload } = withConfig();
      workload.containers[0].mount('/config/cache', kplus.Volume.fromEmptyDir(chart, 'Cache', 'cache'));
      expect(() => synthObjects(chart)).toThrow(
        /mountPath "\/config" overlaps the mount of volume "cache" at "\/config\/cache" in container "app", added after/,
      );
    });

    test('an app container is added after the config was attached (at synth)', () => {
      const { chart, workload } = withConfig();
      workload.addContainer(hardenedContainer({ name: 'late', image: 'nginx:1.27' }));
      expect(() => synthObjects(chart)).toThrow(
        /container "late" was added to the workload after the config was attached .* at "\/config": call mount\(container\) for it/,
      );
    });
  });
});

describe('ImmutableConfigMap', () => {
  function withConfigMap(props: Partial<ImmutableConfigMapProps> = {}, deployment?: (chart: Chart) => kplus.AbstractPod) {
    const chart = testChart();
    const workload = deployment ? deployment(chart) : webDeployment(chart);
    const config = new ImmutableConfigMap(chart, 'Config', {
      workload,
      files: Files.fromContent({ 'config.cfg': SEED_CONFIG }),
      mountPath: '/config',
      ...props,
    });
    return { chart, workload, config };
  }

  test('defaults: an immutable ConfigMap named after its content, mounted read-only', () => {
    // GIVEN a Deployment  WHEN the config is attached from inline data
    const { chart, config } = withConfigMap();
    const objects = synthObjects(chart);
    // THEN
    expect(objects).toMatchSnapshot();
    expect(config.configMap.name).toMatch(/^web-config-[0-9a-f]{10}$/);
    const cm = findObject(objects, 'ConfigMap', config.configMap.name);
    expect(cm.immutable).toBe(true);
    expect(cm.data).toEqual({ 'config.cfg': SEED_CONFIG });
    expect(cm.binaryData).toBeUndefined();
    const dep = findObject(objects, 'Deployment', 'web');
    expect(volume(dep, 'config')).toEqual({ name: 'config', configMap: { name: config.configMap.name } });
    expect(findContainer(dep, 'app').volumeMounts).toEqual([{ name: 'config', mountPath: '/config', readOnly: true }]);
    expect(podSpec(dep).initContainers).toBeUndefined();
    expect(config.files).toEqual([{ path: 'config.cfg', key: 'config.cfg', binary: false, sizeBytes: SEED_CONFIG.length }]);
    expect(config.mountPath).toBe('/config');
    expect(config.volume.name).toBe('config');
    assertValid(objects);
  });

  test('the resolver decides every @default: name <workload>-<volumeName>, volume "config", every app container', () => {
    const r = resolveImmutableConfigMap({
      workload: webDeployment(testChart()),
      files: Files.fromContent({ 'config.cfg': SEED_CONFIG }),
      mountPath: '/config',
    });
    expect(r).toMatchObject({ name: 'web-config', mount: { volumeName: 'config', mountPath: '/config', containersGiven: false } });
    expect(r.contentHash).toMatch(/^[0-9a-f]{10}$/);
    expect(r.configMapName).toBe(`web-config-${r.contentHash}`);
    expect(r.items).toBeUndefined();
    expect(r.mount.containers.map((c) => c.name)).toEqual(['app']);
    const { config } = withConfigMap();
    expect(config).toMatchObject({ name: 'web-config', mountPath: '/config' });
    expect(config.configMap.name).toBe(r.configMapName);
    expect(config.containers.map((c) => c.name)).toEqual(['app']);
  });

  test('files: text files go to data, binary files to binaryData, a directory contributes its files', () => {
    const { chart, config } = withConfigMap({ files: Files.fromDirectory(path.join(FIXTURES, 'configmap')) });
    const cm = findObject(synthObjects(chart), 'ConfigMap');
    expect(cm.data).toEqual({ 'config.cfg': fs.readFileSync(path.join(FIXTURES, 'configmap', 'config.cfg'), 'utf8') });
    expect(Buffer.from(cm.binaryData['logo.png'], 'base64').equals(fs.readFileSync(path.join(FIXTURES, 'configmap', 'logo.png')))).toBe(true);
    expect(config.files.map((f) => [f.key, f.binary])).toEqual([
      ['config.cfg', false],
      ['logo.png', true],
    ]);
  });

  test("files in sub-folders land at their paths through the volume's items; a flat set has no items", () => {
    const { chart, config } = withConfigMap({ files: Files.fromContent({ 'app.cfg': 'a=1\n', 'conf.d/extra.cfg': 'b=2\n' }) });
    const dep = findObject(synthObjects(chart), 'Deployment');
    expect(volume(dep, 'config').configMap.items).toEqual([
      { key: 'app.cfg', path: 'app.cfg' },
      { key: 'conf.d__extra.cfg', path: 'conf.d/extra.cfg' },
    ]);
    expect(config.files.map((f) => f.path)).toEqual(['app.cfg', 'conf.d/extra.cfg']);
  });

  test('files from paths and inline content combine; name sets the prefix', () => {
    const files = Files.of(Files.fromPaths([path.join(FIXTURES, 'configmap', 'config.cfg')]), Files.fromContent({ 'extra.ini': 'a=1\n' }));
    const { chart, config } = withConfigMap({ files, name: 'flask-settings' });
    expect(config.configMap.name).toMatch(/^flask-settings-[0-9a-f]{10}$/);
    expect(Object.keys(findObject(synthObjects(chart), 'ConfigMap', config.configMap.name).data)).toEqual(['config.cfg', 'extra.ini']);
  });

  test('works with a Job', () => {
    const chart = testChart();
    const job = new kplus.Job(chart, 'Job', {
      metadata: { name: 'report' },
      ...hardenedPodProps(),
      containers: [hardenedContainer({ name: 'report', image: 'python:3.12-slim' })],
    });
    job.connections.isolate();
    const config = new ImmutableConfigMap(chart, 'Config', {
      workload: job,
      files: Files.fromContent({ 'report.yaml': 'x: 1\n' }),
      mountPath: '/etc/report',
    });
    const objects = synthObjects(chart);
    expect(findContainer(findObject(objects, 'Job', 'report'), 'report').volumeMounts).toEqual([
      { name: 'config', mountPath: '/etc/report', readOnly: true },
    ]);
    expect(config.configMap.name).toMatch(/^report-config-/);
    assertValid(objects);
  });

  describe('a change is a new object and a rollout; no change is no diff', () => {
    /** Synthesizes a chart with the ConfigMap built from `dir`, as YAML and as objects. */
    const outdirs: string[] = [];
    function synthFrom(dir: string): { yaml: string; objects: K8sObject[] } {
      const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ici-out-'));
      outdirs.push(outdir);
      const app = new App({ outdir });
      const chart = new Chart(app, 'test', { namespace: 'test' });
      new ImmutableConfigMap(chart, 'Config', { workload: webDeployment(chart), files: Files.fromDirectory(dir), mountPath: '/config' });
      return { yaml: app.synthYaml(), objects: synthObjects(chart) };
    }
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ici-files-'));
      fs.cpSync(path.join(FIXTURES, 'configmap'), dir, { recursive: true });
    });
    afterEach(() => {
      for (const d of [dir, ...outdirs.splice(0)]) fs.rmSync(d, { recursive: true, force: true });
    });

    test('changing one byte of a config file changes the ConfigMap name and the pod template', () => {
      const before = synthFrom(dir);
      const file = path.join(dir, 'config.cfg');
      const bytes = fs.readFileSync(file);
      bytes[5] ^= 0x01; // one bit of one byte
      fs.writeFileSync(file, bytes);
      const after = synthFrom(dir);
      const [cmBefore] = findAll(before.objects, 'ConfigMap');
      const [cmAfter] = findAll(after.objects, 'ConfigMap');
      expect(cmAfter.metadata.name).not.toBe(cmBefore.metadata.name);
      expect(cmAfter.immutable).toBe(true);
      const tBefore = findObject(before.objects, 'Deployment').spec.template;
      const tAfter = findObject(after.objects, 'Deployment').spec.template;
      expect(tAfter).not.toEqual(tBefore);
      // ...and the only difference in the template is the ConfigMap it mounts
      expect(JSON.stringify(tAfter)).toBe(JSON.stringify(tBefore).split(cmBefore.metadata.name!).join(cmAfter.metadata.name!));
    });

    test('not changing anything leaves the synth byte-identical', () => {
      const a = synthFrom(dir);
      fs.utimesSync(path.join(dir, 'config.cfg'), new Date(0), new Date(0)); // a touch is not a change
      const b = synthFrom(dir);
      expect(b.yaml).toBe(a.yaml);
      expect(a.yaml).toContain('immutable: true');
    });
  });

  test('one workload can carry both modes with distinct volume names and mount paths', () => {
    const chart = testChart();
    const d = webDeployment(chart);
    new ImmutableConfigInit(chart, 'Image', { workload: d, image: 'busybox:1.36.1', configPaths: ['/src/app.cfg'], mountPath: '/config' });
    new ImmutableConfigMap(chart, 'Map', { workload: d, files: Files.fromContent({ 'flags.json': '{}' }), mountPath: '/flags', volumeName: 'flags' });
    const objects = synthObjects(chart);
    expect(findContainer(findObject(objects, 'Deployment'), 'app').volumeMounts).toEqual([
      { name: 'config', mountPath: '/config', readOnly: true },
      { name: 'flags', mountPath: '/flags', readOnly: true },
    ]);
    assertValid(objects);
    const files = Files.fromContent({ a: 'b' });
    expect(() => new ImmutableConfigMap(chart, 'Again', { workload: d, files, mountPath: '/other' })).toThrow(/volumeName "config" is already used/);
    expect(() => new ImmutableConfigMap(chart, 'Nested', { workload: d, files, mountPath: '/config/extra', volumeName: 'extra' })).toThrow(
      /overlaps the mount of volume "config"/,
    );
  });

  describe('fails when', () => {
    test('there is no config file', () => {
      expect(() => withConfigMap({ files: Files.fromContent({}) })).toThrow(/files must hold at least one config file, got none/);
      expect(() => withConfigMap({ files: undefined as never })).toThrow(/files is required: the config files, such as Files.fromPaths/);
    });
    test('files is not Files (the old list of paths)', () => {
      expect(() => withConfigMap({ files: ['/etc/app.cfg'] as never })).toThrow(/files must be Files \(Files.fromDirectory\(dir\), .*got an array/);
      expect(() => withConfigMap({ data: { a: 'b' } } as never)).toThrow(/ImmutableConfigMap props has no option "data"/);
    });
    test('a file path cannot be a ConfigMap key', () => {
      expect(() => withConfigMap({ files: Files.fromContent({ 'conf/my app.cfg': 'x' }) })).toThrow(
        /files content path must be a relative path .*got "conf\/my app.cfg"/,
      );
    });
    test('a file name is given twice', () => {
      const files = Files.of(Files.fromDirectory(path.join(FIXTURES, 'configmap')), Files.fromContent({ 'config.cfg': 'x' }));
      expect(() => withConfigMap({ files })).toThrow(
        /files path "config.cfg" is given twice: by files source \[0\] directory ".*configmap" and by files source \[1\] content/,
      );
    });
    test('a file does not exist', () => {
      expect(() => withConfigMap({ files: Files.fromPaths(['/nonexistent/app.cfg']) })).toThrow(
        /files path \[0\] "\/nonexistent\/app.cfg" does not exist/,
      );
    });
    test('the files are larger than a ConfigMap can hold', () => {
      expect(() => withConfigMap({ files: Files.fromContent({ 'big.txt': 'x'.repeat(1024 * 1024) }) })).toThrow(
        /files is 1.00 MiB \(1048583 bytes\), more than the 1.00 MiB \(1048576 bytes\) a ConfigMap can hold .*use a config image/,
      );
    });
    test('the name is not a DNS subdomain', () => {
      expect(() => withConfigMap({ name: 'Flask_Settings' })).toThrow(/name must be a DNS-1123 subdomain .*got "Flask_Settings"/);
    });
    test('mountPath is missing, relative or overlaps another mount', () => {
      expect(() => withConfigMap({ mountPath: undefined as any })).toThrow(/mountPath is required/);
      expect(() => withConfigMap({ mountPath: 'config' })).toThrow(/mountPath must be an absolute path/);
      expect(() =>
        withConfigMap({}, (c) => {
          const d = webDeployment(c);
          d.containers[0].mount('/config', kplus.Volume.fromEmptyDir(c, 'Tmp', 'tmp'));
          return d;
        }),
      ).toThrow(/mountPath "\/config" overlaps the mount of volume "tmp" at "\/config" in container "app"/);
    });
    test('the workload has no app container', () => {
      expect(() => withConfigMap({}, (c) => new kplus.Job(c, 'Empty', hardenedPodProps()))).toThrow(/workload must have at least one app container/);
    });
  });
});

describe('ImmutableConfigInitChart (the seed)', () => {
  test('defaults reproduce the seed: appconfig init container, /config, the Flask app', () => {
    // GIVEN the chart with no props  WHEN synthesized
    const chart = new ImmutableConfigInitChart(Testing.app(), 'seed');
    const objects = synthObjects(chart);
    // THEN
    expect(objects).toMatchSnapshot();
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual([
      'Deployment/immutable-config-init/myflaskapp',
      'NetworkPolicy/immutable-config-init/myflaskapp',
      'Service/immutable-config-init/myflaskapp',
    ]);
    const dep = findObject(objects, 'Deployment', 'myflaskapp');
    expect(dep.spec.replicas).toBe(1);
    const init = findContainer(dep, 'appconfig');
    expect(init.image).toBe(SEED_CONFIG_IMAGE);
    expect(init.command).toBeUndefined();
    expect(init.args).toEqual(['/config']);
    expect(init.volumeMounts).toEqual([{ name: 'config-dir', mountPath: '/config' }]);
    expect(volume(dep, 'config-dir')).toEqual({ name: 'config-dir', emptyDir: { sizeLimit: '64Mi' } });
    const app = findContainer(dep, 'app');
    expect(app.image).toBe(SEED_APP_IMAGE);
    expect(app.command).toEqual(flaskCommand(8080));
    expect(app.command).toEqual([
      'uwsgi',
      '--http-socket',
      ':8080',
      '--master',
      '--die-on-term',
      '--need-app',
      '--chdir',
      '/app',
      '--module',
      'main:app',
    ]);
    expect(app.env).toEqual([
      { name: 'UWSGI_PROCESSES', value: '2' },
      { name: 'UWSGI_CHEAPER', value: '0' },
    ]);
    expect(Object.keys(FLASK_ENV)).toEqual(['UWSGI_PROCESSES', 'UWSGI_CHEAPER']);
    expect(app.ports).toEqual([{ containerPort: 8080, name: 'http' }]);
    expect(app.readinessProbe.httpGet).toEqual({ path: '/', port: 8080, scheme: 'HTTP' });
    expect(app.volumeMounts).toEqual([{ name: 'config-dir', mountPath: '/config', readOnly: true }]);
    expect(app.resources).toEqual({
      requests: { 'cpu': '50m', 'memory': '96Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '500m', 'memory': '256Mi', 'ephemeral-storage': '0.25Gi' },
    });
    for (const c of [init, app]) expect(c.securityContext).toMatchObject({ runAsUser: 65532, runAsGroup: 65532, readOnlyRootFilesystem: true });
    expect(podSpec(dep).securityContext).toMatchObject({ runAsUser: 65532, fsGroup: 65532 });
    expect(podSpec(dep).automountServiceAccountToken).toBe(false);
    const svc = findObject(objects, 'Service', 'myflaskapp');
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080 }]);
    expect(dep.metadata.labels).toMatchObject({
      'app.kubernetes.io/name': 'immutable-config',
      'app.kubernetes.io/instance': 'myflaskapp',
      'app.kubernetes.io/component': 'web',
      'app.kubernetes.io/managed-by': 'cdk8s',
    });
    expect(dep.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'immutable-config', 'app.kubernetes.io/instance': 'myflaskapp' } });
    assertValid(objects);
  });

  test('CopyStyle.COMMAND copies /src/config.cfg by default', () => {
    const chart = new ImmutableConfigInitChart(Testing.app(), 'seed', { copyStyle: CopyStyle.COMMAND });
    const init = findContainer(findObject(synthObjects(chart), 'Deployment'), 'appconfig');
    expect(init.command).toEqual(['sh', '-c', COPY_SCRIPT, 'copy-config']);
    expect(init.args).toEqual(['/src/config.cfg', '/config']);
  });

  test('options: images, name, namespace, port, replicas, user, mountPath', () => {
    const chart = new ImmutableConfigInitChart(Testing.app(), 'seed', {
      namespace: 'shop',
      name: 'greeter',
      configImage: `registry.example.com/greeter-config@${DIGEST}`,
      appImage: 'registry.example.com/greeter:2.0.1',
      port: 9090,
      replicas: 3,
      user: 10001,
      mountPath: '/etc/greeter',
    });
    const objects = synthObjects(chart);
    const dep = findObject(objects, 'Deployment', 'greeter');
    expect(dep.metadata.namespace).toBe('shop');
    expect(dep.spec.replicas).toBe(3);
    expect(findContainer(dep, 'appconfig')).toMatchObject({ image: `registry.example.com/greeter-config@${DIGEST}`, args: ['/etc/greeter'] });
    expect(findContainer(dep, 'app')).toMatchObject({
      image: 'registry.example.com/greeter:2.0.1',
      command: flaskCommand(9090),
      securityContext: { runAsUser: 10001 },
    });
    expect(findObject(objects, 'Service', 'greeter').spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 9090 }]);
    assertValid(objects);
  });

  test('fails when the port or replicas are out of range', () => {
    expect(() => new ImmutableConfigInitChart(Testing.app(), 'a', { port: 70000 })).toThrow(/port must be an integer port 1-65535, got 70000/);
    expect(() => new ImmutableConfigInitChart(Testing.app(), 'b', { replicas: -1 })).toThrow(/workload replicas must be an integer 0-1000, got -1/);
    expect(() => new ImmutableConfigInitChart(Testing.app(), 'c', { configImage: 'magalixcorp/appconfig' })).toThrow(/image must be pinned/);
  });
});

describe('ImmutableConfigMapChart', () => {
  test('defaults: the seed config in a hashed immutable ConfigMap', () => {
    const chart = new ImmutableConfigMapChart(Testing.app(), 'cm');
    const objects = synthObjects(chart);
    expect(objects).toMatchSnapshot();
    expect(chart.config.configMap.name).toMatch(/^myflaskapp-cm-config-[0-9a-f]{10}$/);
    const cm = findObject(objects, 'ConfigMap', chart.config.configMap.name);
    expect(cm.metadata.namespace).toBe('immutable-config-init');
    expect(cm.immutable).toBe(true);
    expect(cm.data).toEqual({ 'config.cfg': 'MSG="Welcome to Flask"\n' });
    expect(cm.metadata.labels).toEqual({
      'app.kubernetes.io/name': 'immutable-config',
      'app.kubernetes.io/instance': 'myflaskapp-cm-config',
      'app.kubernetes.io/component': 'config',
      'app.kubernetes.io/managed-by': 'cdk8s',
    });
    expect(chart.config).toMatchObject({ name: 'myflaskapp-cm-config', mountPath: '/config' });
    expect(chart.config.volume.name).toBe('config-dir');
    expect(chart.config.files.map((f) => f.key)).toEqual(['config.cfg']);
    const dep = findObject(objects, 'Deployment', 'myflaskapp-cm');
    expect(volume(dep, 'config-dir')).toEqual({ name: 'config-dir', configMap: { name: chart.config.configMap.name } });
    expect(findContainer(dep, 'app').volumeMounts).toEqual([{ name: 'config-dir', mountPath: '/config', readOnly: true }]);
    expect(findObject(objects, 'Service', 'myflaskapp-cm').spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080 }]);
    assertValid(objects);
  });

  test('files replace the seed config', () => {
    const chart = new ImmutableConfigMapChart(Testing.app(), 'cm', { files: Files.fromPaths([path.join(FIXTURES, 'configmap', 'config.cfg')]) });
    expect(chart.config.files.map((f) => f.key)).toEqual(['config.cfg']);
    const other = new ImmutableConfigMapChart(Testing.app(), 'cm2', { files: Files.fromContent({ 'config.cfg': 'MSG="Hi"\n' }) });
    expect(other.config.configMap.name).not.toBe(chart.config.configMap.name);
  });

  test('both charts fit in one namespace without clashing', () => {
    const app = Testing.app();
    const objects = [...synthObjects(new ImmutableConfigInitChart(app, 'a')), ...synthObjects(new ImmutableConfigMapChart(app, 'b'))];
    assertValid(objects);
  });
});
