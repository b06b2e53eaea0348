import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { HotPlugReload } from '../lib/sidecar-pod/presets';
import { SidecarBarePod, SidecarDeployment, SidecarDeploymentProps } from '../lib/sidecar-workloads';
import { Sidecars } from '../lib/sidecars';
import { K8sObject, validateObjects } from '../lib/testing';
import { SidecarContainer } from '../lib/workload';
import { emptyDir, sizedEmptyDir } from './fixtures/sidecar-pod/volumes';
import { secretRef } from './support/refs';
import { findContainer, findObject, synthObjects, testChart } from './support/synth';

/**
 * Each verb of Sidecars / SidecarDeployment / SidecarBarePod is the matching
 * prop called after construction: the same bad input gives the same error,
 * and the same good input the same YAML.
 */

const APP = { name: 'app', image: 'busybox:1.36.1', command: ['httpd', '-f', '-p', '8080'], ports: [{ number: 8080, name: 'http' }] };
const SIDE: SidecarContainer = { name: 'side', image: 'busybox:1.36.1', command: ['sleep', '3600'], writableTmp: true };

/** The objects of a SidecarDeployment made from `props`, then changed by `verb`, by kind and name (a late Ingress is written last). */
function build(props: SidecarDeploymentProps, verb: (d: SidecarDeployment) => void = () => undefined): K8sObject[] {
  const chart = testChart();
  verb(new SidecarDeployment(chart, 'Pod', props));
  const key = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
  return synthObjects(chart).sort((a, b) => key(a).localeCompare(key(b)));
}

/** The message of what `fn` throws. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error, got none');
}

describe('verb = prop: the same YAML for good input', () => {
  test('addSidecar = sidecars', () => {
    const viaProp = build({ app: APP, sidecars: [SIDE] });
    expect(build({ app: APP }, (d) => d.addSidecar(SIDE))).toEqual(viaProp);
    expect(findContainer(findObject(viaProp, 'Deployment'), 'side').volumeMounts).toEqual([{ name: 'side-tmp', mountPath: '/tmp', readOnly: false }]);
  });

  test('addSidecar returns the kplus.Container, and native mode makes it an init container with restartPolicy Always', () => {
    const chart = testChart();
    const d = new SidecarDeployment(chart, 'Pod', { app: APP, sidecarMode: 'native' as never });
    expect(d.addSidecar(SIDE).name).toBe('side');
    const spec = findObject(synthObjects(chart), 'Deployment').spec.template.spec;
    expect(spec.initContainers.map((c: any) => [c.name, c.restartPolicy])).toEqual([['side', 'Always']]);
  });

  test('addInitContainer = initContainers', () => {
    const init: SidecarContainer = { name: 'seed', image: 'busybox:1.36.1', command: ['true'] };
    expect(build({ app: APP }, (d) => d.addInitContainer(init))).toEqual(build({ app: APP, initContainers: [init] }));
  });

  test('addVolume = volumes', () => {
    const v = sizedEmptyDir('data', 32);
    const app = { ...APP, volumeMounts: [{ volume: v, path: '/data' }] };
    const viaProp = build({ app, volumes: [v] });
    expect(build({ app }, (d) => d.addVolume(v))).toEqual(viaProp);
    expect(findObject(viaProp, 'Deployment').spec.template.spec.volumes).toEqual([{ name: 'data', emptyDir: { sizeLimit: '32Mi' } }]);
  });

  test('addVolume then addSidecar mounting it = volumes + sidecars', () => {
    const v = sizedEmptyDir('shared');
    const side = { ...SIDE, volumeMounts: [{ volume: v, path: '/shared', readOnly: false }] };
    expect(
      build({ app: APP }, (d) => {
        d.addVolume(v);
        d.addSidecar(side);
      }),
    ).toEqual(build({ app: APP, volumes: [v], sidecars: [side] }));
  });

  test('addEnv = app.envVariables', () => {
    const tz = kplus.EnvValue.fromValue('UTC');
    const viaProp = build({ app: { ...APP, envVariables: { TZ: tz, PORT: kplus.EnvValue.fromValue('8080') } } });
    expect(
      build({ app: APP }, (d) => {
        d.addEnv('TZ', tz);
        d.addEnv('PORT', kplus.EnvValue.fromValue('8080'));
      }),
    ).toEqual(viaProp);
    expect(findContainer(findObject(viaProp, 'Deployment'), 'app').env).toEqual([
      { name: 'TZ', value: 'UTC' },
      { name: 'PORT', value: '8080' },
    ]);
  });

  test('allowFrom = networkPolicy.allowFrom', () => {
    const peer = { namespaceSelector: { matchLabels: { team: 'web' } } };
    const viaProp = build({ app: APP, networkPolicy: { allowFrom: [peer] } });
    expect(build({ app: APP }, (d) => d.allowFrom(peer))).toEqual(viaProp);
    expect(findObject(viaProp, 'NetworkPolicy').spec.ingress[0].from).toEqual([peer]);
  });

  test('allowFromNamespaces = networkPolicy.allowFromNamespaces', () => {
    expect(build({ app: APP }, (d) => d.allowFromNamespaces('web', 'ops'))).toEqual(
      build({ app: APP, networkPolicy: { allowFromNamespaces: ['web', 'ops'] } }),
    );
  });

  test('exposeViaIngress = ingress (labelled like every other object)', () => {
    const ingress = { host: 'shop.example.com', tlsSecret: secretRef('shop-tls') };
    const viaProp = build({ app: APP, ingress });
    let made: kplus.Ingress | undefined;
    expect(
      build({ app: APP }, (d) => {
        made = d.exposeViaIngress(ingress);
      }),
    ).toEqual(viaProp);
    expect(made).toBeInstanceOf(kplus.Ingress);
    expect(findObject(viaProp, 'Ingress').metadata.labels).toMatchObject({
      'app.kubernetes.io/name': 'sidecar-pod',
      'app.kubernetes.io/instance': 'sidecar-pod',
    });
  });

  test('the SidecarBarePod verbs forward to its Sidecars', () => {
    const chart = testChart();
    const p = new SidecarBarePod(chart, 'Pod', { app: APP });
    p.addSidecar(SIDE);
    p.addEnv('TZ', kplus.EnvValue.fromValue('UTC'));
    const pod = findObject(synthObjects(chart), 'Pod');
    expect(pod.spec.containers.map((c: any) => c.name)).toEqual(['app', 'side']);
    expect(findContainer(pod, 'app').env).toEqual([{ name: 'TZ', value: 'UTC' }]);
  });
});

describe('verb = prop: the same error for bad input', () => {
  test.each<[string, SidecarContainer]>([
    ['a name used twice', { name: 'app', image: 'busybox:1.36.1' }],
    ['an unpinned image', { name: 's', image: 'busybox' }],
    ['a port another container serves', { name: 's', image: 'busybox:1.36.1', ports: [{ number: 8080 }] }],
    ['a probe on a port it does not serve', { name: 's', image: 'busybox:1.36.1', readiness: kplus.Probe.fromHttpGet('/', { port: 9999 }) }],
    ['a root user', { name: 's', image: 'busybox:1.36.1', securityContext: { user: 0 } }],
    [
      'a request above its limit',
      { name: 's', image: 'busybox:1.36.1', resources: { memory: { request: Size.mebibytes(256), limit: Size.mebibytes(128) } } },
    ],
    ['a mount by volume name', { name: 's', image: 'busybox:1.36.1', volumeMounts: [{ volume: 'data' as never, path: '/d' }] }],
  ])('addSidecar refuses %s as sidecars does', (_what, bad) => {
    const viaProp = errorOf(() => build({ app: APP, sidecars: [bad] }));
    expect(errorOf(() => build({ app: APP }, (d) => d.addSidecar(bad)))).toBe(viaProp);
    expect(viaProp).toMatch(/sidecars\[0\]|used more than once|declared by both/);
  });

  test.each<[string, SidecarContainer]>([
    ['probes', { name: 'init', image: 'busybox:1.36.1', readiness: kplus.Probe.fromCommand(['true']) }],
    ['an unpinned image', { name: 'init', image: 'busybox' }],
  ])('addInitContainer refuses %s as initContainers does', (_what, bad) => {
    const viaProp = errorOf(() => build({ app: APP, initContainers: [bad] }));
    expect(errorOf(() => build({ app: APP }, (d) => d.addInitContainer(bad)))).toBe(viaProp);
    expect(viaProp).toMatch(/initContainers\[0\]/);
  });

  test('addVolume refuses a zero sizeLimit, a non-volume and an unmounted volume as volumes does', () => {
    const zero = emptyDir('zero', { sizeLimit: Size.mebibytes(0) });
    const mountZero = { ...APP, volumeMounts: [] };
    for (const bad of [zero, { name: 'v' } as never]) {
      const viaProp = errorOf(() => build({ app: mountZero, volumes: [bad] }));
      expect(errorOf(() => build({ app: mountZero }, (d) => d.addVolume(bad)))).toBe(viaProp);
      expect(viaProp).toMatch(/^volumes\[0\]/);
    }
    const unmounted = sizedEmptyDir('cache');
    const viaProp = errorOf(() => build({ app: APP, volumes: [unmounted] }));
    expect(viaProp).toBe('volumes "cache" is declared but mounted by no container: mount it or remove it');
    // the verb's volume may be mounted by a later addSidecar, so it is checked when the app synthesizes
    expect(errorOf(() => build({ app: APP }, (d) => d.addVolume(unmounted)))).toContain(viaProp);
  });

  test.each<[string, string, kplus.EnvValue]>([
    ['a PORT the Service does not target', 'PORT', kplus.EnvValue.fromValue('9000')],
    ['an invalid name', '1BAD', kplus.EnvValue.fromValue('x')],
    ['a plain string', 'MODE', 'fast' as never],
  ])('addEnv refuses %s as app.envVariables does', (_what, name, value) => {
    const viaProp = errorOf(() => build({ app: { ...APP, envVariables: { [name]: value } } }));
    expect(errorOf(() => build({ app: APP }, (d) => d.addEnv(name, value)))).toBe(viaProp);
    expect(viaProp).toMatch(/^app\.envVariables/);
  });

  test("addEnv checks PORT against the auth proxy's upstream, as app.envVariables does", () => {
    const auth = { htpasswd: secretRef('users') };
    const port = kplus.EnvValue.fromValue('9000');
    const viaProp = errorOf(() => build({ app: { ...APP, envVariables: { PORT: port } }, authProxy: auth }));
    expect(errorOf(() => build({ app: APP, authProxy: auth }, (d) => d.addEnv('PORT', port)))).toBe(viaProp);
    expect(viaProp).toMatch(/app\.envVariables PORT must be 8080 \(the auth proxy forwards to the app's port 8080\), got "9000"/);
  });

  test('addEnv refuses a name the app already has', () => {
    expect(() =>
      build({ app: { ...APP, envVariables: { TZ: kplus.EnvValue.fromValue('UTC') } } }, (d) => d.addEnv('TZ', kplus.EnvValue.fromValue('CET'))),
    ).toThrow(/app.envVariables "TZ" is already set: one value per name/);
  });

  test('allowFrom, allowFromNamespaces and exposeViaIngress refuse what their props refuse', () => {
    expect(errorOf(() => build({ app: APP }, (d) => d.allowFrom({} as never)))).toBe(
      errorOf(() => build({ app: APP, networkPolicy: { allowFrom: [{} as never] } })),
    );
    expect(errorOf(() => build({ app: APP }, (d) => d.allowFromNamespaces('Bad_NS')))).toBe(
      errorOf(() => build({ app: APP, networkPolicy: { allowFromNamespaces: ['Bad_NS'] } })),
    );
    const noHost = { tlsSecret: secretRef('tls') };
    expect(errorOf(() => build({ app: APP }, (d) => d.exposeViaIngress(noHost)))).toBe(errorOf(() => build({ app: APP, ingress: noHost })));
    expect(() => build({ app: APP, ingress: { host: 'a.example.com' } }, (d) => d.exposeViaIngress({ host: 'b.example.com' }))).toThrow(
      /ingress is already set \(host "a.example.com"\): one Ingress per workload/,
    );
  });
});

describe('Sidecars on your own workload', () => {
  test('the content preset on a kplus.Deployment: containers, the volume, fsGroup 65533 and ConfigMap names from the workload', () => {
    // GIVEN a Deployment the user built
    const chart = testChart();
    const workload = new kplus.Deployment(chart, 'Web', {
      metadata: { name: 'web' },
      replicas: 1,
      securityContext: { fsGroup: 1000, user: 1000, ensureNonRoot: true },
    });
    // WHEN the sidecars attach to it
    const s = new Sidecars(chart, 'Sidecars', {
      workload,
      content: { repo: 'https://github.com/example/site' },
      authProxy: { htpasswd: secretRef('users') },
    });
    const objects = synthObjects(chart);
    // THEN
    const dep = findObject(objects, 'Deployment', 'web');
    const spec = dep.spec.template.spec;
    expect(spec.containers.map((c: any) => c.name)).toEqual(['web', 'git-sync', 'auth-proxy']);
    expect(spec.securityContext.fsGroup).toBe(65533);
    expect(spec.volumes.map((v: any) => v.name).sort()).toEqual([
      'auth-proxy-config',
      'auth-proxy-htpasswd',
      'auth-proxy-tmp',
      'content',
      'git-sync-tmp',
    ]);
    expect(findObject(objects, 'ConfigMap', 'web-auth-proxy').data['nginx.conf']).toContain('listen 8081;');
    expect(dep.spec.template.metadata.annotations['kubectl.kubernetes.io/default-container']).toBe('web');
    expect(s).toMatchObject({ name: 'web', servingPort: 8081, syncedPath: '/srv/content/repo/current' });
    expect(s.app.name).toBe('web');
    expect(s.containers.map((c) => c.name)).toEqual(['web', 'git-sync', 'auth-proxy']);
  });

  test("the signal reload on a kplus.Job: shareProcessNamespace on the Job's pod template", () => {
    const chart = testChart();
    const workload = new kplus.Job(chart, 'Job', { metadata: { name: 'job' } });
    new Sidecars(chart, 'Sidecars', {
      workload,
      name: 'batch',
      app: { name: 'app', image: 'python:3.12.8-slim-bookworm', command: ['python3', 'main.py'] },
      hotPlug: { repo: 'https://github.com/example/code', reload: HotPlugReload.signal({ processName: 'python3' }) },
    });
    const objects = synthObjects(chart);
    expect(findObject(objects, 'Job', 'job').spec.template.spec.shareProcessNamespace).toBe(true);
    expect(findObject(objects, 'ConfigMap', 'batch-hot-plug').data['signal-app.sh']).toContain('HOT_PLUG_SIGNAL');
  });

  test('a Pod the user built gets the hardened app and sidecar: the gate finds only the NetworkPolicy the user did not make', () => {
    const chart = testChart();
    const workload = new kplus.Pod(chart, 'Pod', {
      metadata: { name: 'solo' },
      securityContext: { ensureNonRoot: true, user: 65532, group: 65532, fsGroup: 65532 },
    });
    new Sidecars(chart, 'Sidecars', { workload, app: APP, sidecars: [SIDE] });
    const objects = synthObjects(chart);
    expect(findObject(objects, 'Pod', 'solo').spec.containers.map((c: any) => c.name)).toEqual(['app', 'side']);
    expect(findObject(objects, 'Pod', 'solo').spec.securityContext.fsGroup).toBe(65532);
    expect([...new Set(validateObjects(objects).map((v) => v.rule))]).toEqual(['networkpolicy']);
  });

  test('fails when workload is not a cdk8s-plus workload, or a prop is misspelt', () => {
    const chart = testChart();
    expect(() => new Sidecars(chart, 'A', { workload: {} as never, app: APP })).toThrow(/workload must be a cdk8s-plus workload/);
    const workload = new kplus.Deployment(chart, 'Web', {});
    expect(() => new Sidecars(chart, 'B', { workload, app: APP, sidecar: [] } as never)).toThrow(
      /Sidecars props has no option "sidecar" \(did you mean "sidecars"\?\)/,
    );
  });
});
