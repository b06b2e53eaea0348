import { Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { CopyStyle, ImmutableConfigInit, ImmutableConfigInitProps, ImmutableConfigMap } from '../lib/immutable-config-init';
import { hardenedContainer, hardenedPodProps } from '../lib/security';
import { K8sObject, assertValid } from '../lib/testing';
import { Files } from '../lib/workload';
import { findContainer, findObject, synthObjects, testChart } from './support/synth';

/** A hardened Deployment `web` with the app containers `app` and `worker`, isolated by a NetworkPolicy. */
function web(chart: Chart): kplus.Deployment {
  const d = new kplus.Deployment(chart, 'Web', {
    metadata: { name: 'web' },
    ...hardenedPodProps(),
    containers: [hardenedContainer({ name: 'app', image: 'nginx:1.27' }), hardenedContainer({ name: 'worker', image: 'busybox:1.36.1' })],
  });
  d.connections.isolate();
  return d;
}

/** The error `fn` throws (fails the test when it throws none). */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error, got none');
}

type Attach = (chart: Chart, workload: kplus.Deployment, containers?: kplus.Container[]) => { mount(c: kplus.Container): void };
const KINDS: Array<[string, Attach]> = [
  [
    'ImmutableConfigInit',
    (chart, workload, containers) =>
      new ImmutableConfigInit(chart, 'Config', {
        workload,
        containers,
        image: 'busybox:1.36.1',
        configPaths: ['/src/app.cfg'],
        mountPath: '/config',
      }),
  ],
  [
    'ImmutableConfigMap',
    (chart, workload, containers) =>
      new ImmutableConfigMap(chart, 'Config', {
        workload,
        containers,
        files: Files.fromContent({ 'app.cfg': 'a = 1\n' }),
        mountPath: '/config',
      }),
  ],
];

describe.each(KINDS)('%s.mount is an entry of containers after construction', (_kind, attach) => {
  type Then = (chart: Chart, workload: kplus.Deployment, config: { mount(c: kplus.Container): void }) => void;
  function build(then: Then, viaProp?: (w: kplus.Deployment) => kplus.Container[]): K8sObject[] {
    const chart = testChart();
    const workload = web(chart);
    const config = attach(chart, workload, viaProp ? viaProp(workload) : [workload.containers[0]]);
    then(chart, workload, config);
    return synthObjects(chart);
  }

  test('the same YAML as listing the container in containers', () => {
    const viaProp = build(
      () => {},
      (w) => [w.containers[0], w.containers[1]],
    );
    const viaVerb = build((_c, w, config) => config.mount(w.containers[1]));
    expect(viaVerb).toEqual(viaProp);
    const dep = findObject(viaVerb, 'Deployment', 'web');
    expect(findContainer(dep, 'worker').volumeMounts).toEqual([{ name: 'config', mountPath: '/config', readOnly: true }]);
    assertValid(viaVerb);
  });

  test('mounting a container twice mounts it once', () => {
    const objects = build((_c, w, config) => config.mount(w.containers[0]));
    expect(findContainer(findObject(objects, 'Deployment', 'web'), 'app').volumeMounts).toHaveLength(1);
  });

  test('a container added to the workload after the config is mounted by the verb, and synth accepts it', () => {
    const chart = testChart();
    const workload = web(chart);
    const config = attach(chart, workload);
    const late = workload.addContainer(hardenedContainer({ name: 'late', image: 'busybox:1.36.1' }));
    expect(() => synthObjects(chart)).toThrow(
      /container "late" was added to the workload after the config was attached .*call mount\(container\) for it/,
    );
    config.mount(late);
    expect(findContainer(findObject(synthObjects(chart), 'Deployment', 'web'), 'late').volumeMounts).toEqual([
      { name: 'config', mountPath: '/config', readOnly: true },
    ]);
  });

  test("fails with the prop's message for a container of another workload", () => {
    const other = (chart: Chart) =>
      new kplus.Deployment(chart, 'Other', {
        ...hardenedPodProps(),
        containers: [hardenedContainer({ name: 'other', image: 'nginx:1.27' })],
      });
    const viaProp = errorOf(() =>
      build(
        () => {},
        (w) => [w.containers[0], other(w.node.scope as Chart).containers[0]],
      ),
    );
    const viaVerb = errorOf(() => build((chart, _w, config) => config.mount(other(chart).containers[0])));
    expect(viaVerb).toBe(viaProp);
    expect(viaVerb).toMatch(/containers must be app containers of the workload, got container "other"/);
  });

  test('fails when mount is given no container', () => {
    expect(() => build((_c, _w, config) => config.mount(undefined as never))).toThrow(
      /containers must be app containers of the workload, got undefined/,
    );
  });

  test("fails with the prop's message for a container whose mount overlaps mountPath", () => {
    const cache = (chart: Chart, w: kplus.Deployment) => w.containers[1].mount('/config/cache', kplus.Volume.fromEmptyDir(chart, 'Cache', 'cache'));
    const viaProp = errorOf(() =>
      build(
        () => {},
        (w) => {
          cache(w.node.scope as Chart, w);
          return [w.containers[0], w.containers[1]];
        },
      ),
    );
    const viaVerb = errorOf(() =>
      build((chart, w, config) => {
        cache(chart, w);
        config.mount(w.containers[1]);
      }),
    );
    expect(viaVerb).toBe(viaProp);
    expect(viaVerb).toMatch(/mountPath "\/config" overlaps the mount of volume "cache" at "\/config\/cache" in container "worker"/);
  });
});

describe('ImmutableConfigInit.addConfigPath is an entry of configPaths after construction', () => {
  function build(props: Partial<ImmutableConfigInitProps>, then: (config: ImmutableConfigInit) => void = () => {}): K8sObject[] {
    const chart = testChart();
    const config = new ImmutableConfigInit(chart, 'Config', {
      workload: web(chart),
      image: 'busybox:1.36.1',
      configPaths: ['/src/app.cfg'],
      mountPath: '/config',
      ...props,
    });
    then(config);
    return synthObjects(chart);
  }

  test('the same YAML as the prop: each path before the destination, in order', () => {
    const viaProp = build({ configPaths: ['/src/app.cfg', '/etc/flask', '/opt/flags.json'] });
    const viaVerb = build({}, (config) => {
      config.addConfigPath('/etc/flask');
      config.addConfigPath('/opt/flags.json');
    });
    expect(viaVerb).toEqual(viaProp);
    expect(findContainer(findObject(viaVerb, 'Deployment', 'web'), 'copy-config').args).toEqual([
      '/src/app.cfg',
      '/etc/flask',
      '/opt/flags.json',
      '/config',
    ]);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['a relative path', 'src/other.cfg', /configPaths entry must be an absolute path starting with "\/", got "src\/other.cfg"/],
    ['"/"', '/', /configPaths entry must not be "\/"/],
    ['a path below the init mount', '/config/app.cfg', /configPaths entry "\/config\/app.cfg" overlaps initMountPath "\/config"/],
    [
      'a base name already copied',
      '/b/app.cfg',
      /configPaths entries "\/src\/app.cfg" and "\/b\/app.cfg" would both be copied to "\/config\/app.cfg"/,
    ],
  ];
  test.each(bad)("fails with the prop's message for %s", (_what, p, message) => {
    const viaProp = errorOf(() => build({ configPaths: ['/src/app.cfg', p] }));
    const viaVerb = errorOf(() => build({}, (config) => config.addConfigPath(p)));
    expect(viaVerb).toBe(viaProp);
    expect(viaVerb).toMatch(message);
  });

  test('fails with CopyStyle.ENTRYPOINT, whose image decides what it copies', () => {
    expect(() => build({ copyStyle: CopyStyle.ENTRYPOINT, configPaths: undefined }, (config) => config.addConfigPath('/etc/flask'))).toThrow(
      /configPaths only applies to CopyStyle.COMMAND: with CopyStyle.ENTRYPOINT .* decides what it copies, got "\/etc\/flask"/,
    );
  });
});
