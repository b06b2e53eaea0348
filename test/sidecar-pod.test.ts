import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { SIDECAR_POD_NAMESPACE, SEED_REPO, SidecarPodAuthChart, SidecarPodContentChart, SidecarPodHotPlugChart } from '../charts/sidecar-pod';
import { contentHash } from '../lib/hash';
import { DEFAULT_RUN_AS_USER } from '../lib/security';
import {
  AUTH_PROXY_CONFIG_DIR,
  AUTH_PROXY_HEALTH_PATH,
  AUTH_PROXY_HTPASSWD_DIR,
  AUTH_PROXY_IMAGE,
  GIT_SYNC_IMAGE,
  HOT_PLUG_SCRIPTS_DIR,
  HotPlugReload,
  HotPlugReloadKind,
  PRESET_TMP_SIZE_LIMIT,
  WEB_SERVER_IMAGE,
} from '../lib/sidecar-pod/presets';
import {
  ResolvedSidecarDeployment,
  SidecarBarePod,
  SidecarBarePodProps,
  SidecarDeployment,
  SidecarDeploymentProps,
  resolveSidecarDeployment,
} from '../lib/sidecar-workloads';
import { SidecarMode } from '../lib/sidecars';
import { assertValid, K8sObject, validateObjects } from '../lib/testing';
import { configMapVolume, emptyDir, secretVolume, sizedEmptyDir } from './fixtures/sidecar-pod/volumes';
import { secretRef } from './support/refs';
import { findAll, findContainer, findObject, synthObjects, testChart } from './support/synth';

const APP = { name: 'app', image: 'busybox:1.36.1', command: ['httpd', '-f', '-p', '8080'], ports: [{ number: 8080, name: 'http' }] };
const REPO = 'https://github.com/example/site';

function synth(props: SidecarDeploymentProps, id = 'Pod'): { pod: SidecarDeployment; objects: K8sObject[]; r: ResolvedSidecarDeployment } {
  const chart = testChart();
  const pod = new SidecarDeployment(chart, id, props);
  return { pod, objects: synthObjects(chart), r: resolveSidecarDeployment(props) };
}

function bare(props: SidecarBarePodProps): { pod: SidecarBarePod; objects: K8sObject[] } {
  const chart = testChart();
  const pod = new SidecarBarePod(chart, 'Pod', props);
  return { pod, objects: synthObjects(chart) };
}

function spec(objects: K8sObject[], name: string): any {
  const o = objects.find((x) => (x.kind === 'Deployment' || x.kind === 'Pod') && x.metadata.name === name)!;
  return o.kind === 'Pod' ? o.spec : o.spec.template.spec;
}

function volume(objects: K8sObject[], name: string, vol: string): any {
  return spec(objects, name).volumes.find((v: any) => v.name === vol);
}

function mount(container: any, vol: string): any {
  return (container.volumeMounts ?? []).find((m: any) => m.name === vol);
}

describe('SidecarDeployment with defaults', () => {
  test('a hardened Deployment of 2 replicas with the app, a Service on port 80, a NetworkPolicy, a PDB and spread over nodes', () => {
    // GIVEN only an app
    const { pod, objects, r } = synth({ app: APP });
    // THEN
    expect(objects).toMatchSnapshot();
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'Deployment/sidecar-pod',
      'NetworkPolicy/sidecar-pod',
      'PodDisruptionBudget/sidecar-pod',
      'Service/sidecar-pod',
    ]);
    // the shared exposure's defaults: same-namespace pods to the app's port, egress to DNS only
    expect(findObject(objects, 'NetworkPolicy', 'sidecar-pod').spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'sidecar-pod', 'app.kubernetes.io/instance': 'sidecar-pod' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 8080 }] }],
      egress: [
        {
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    });
    expect(findObject(objects, 'PodDisruptionBudget', 'sidecar-pod').spec.maxUnavailable).toBe(1);
    expect(pod).toMatchObject({
      name: 'sidecar-pod',
      replicas: 2,
      servicePort: 80,
      serviceTargetPort: 8080,
      labels: { 'app.kubernetes.io/name': 'sidecar-pod', 'app.kubernetes.io/instance': 'sidecar-pod', 'app.kubernetes.io/managed-by': 'cdk8s' },
      selector: { 'app.kubernetes.io/name': 'sidecar-pod', 'app.kubernetes.io/instance': 'sidecar-pod' },
    });
    // AND the resolved defaults are readable from the resolver
    expect(r.sidecars).toMatchObject({ sidecarMode: SidecarMode.CLASSIC, fsGroup: DEFAULT_RUN_AS_USER, servingPort: 8080 });
    expect(r.expose.serviceType).toBe('ClusterIP');
    expect(r.sidecars.plan.containers.map((c) => c.spec.name)).toEqual(['app']);
    for (const unset of ['ingress'] as const) expect(pod[unset]).toBeUndefined();
    for (const unset of ['authProxyConfig', 'hotPlugScripts', 'syncedPath'] as const) expect(pod.sidecars[unset]).toBeUndefined();
    const dep = findObject(objects, 'Deployment', 'sidecar-pod');
    expect(dep.spec.replicas).toBe(2);
    const s = dep.spec.template.spec;
    expect(s.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toEqual([
      {
        weight: 100,
        podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: pod.selector } },
      },
    ]);
    expect(s.initContainers).toBeUndefined();
    expect(s.containers.map((c: any) => c.name)).toEqual(['app']);
    expect(s.automountServiceAccountToken).toBe(false);
    expect(s.shareProcessNamespace).toBeUndefined();
    expect(s.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: DEFAULT_RUN_AS_USER,
      runAsGroup: DEFAULT_RUN_AS_USER,
      fsGroup: DEFAULT_RUN_AS_USER,
    });
    const c = findContainer(dep, 'app');
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.resources).toEqual({
      requests: { 'cpu': '50m', 'memory': '64Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '500m', 'memory': '128Mi', 'ephemeral-storage': '0.25Gi' },
    });
    expect(c.volumeMounts).toBeUndefined();
    expect(dep.spec.template.metadata.annotations).toEqual({ 'kubectl.kubernetes.io/default-container': 'app' });
    const svc = findObject(objects, 'Service', 'sidecar-pod');
    expect(svc.spec.type).toBe('ClusterIP');
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080 }]);
    expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
    expect(dep.metadata.labels).toEqual({
      'app.kubernetes.io/name': 'sidecar-pod',
      'app.kubernetes.io/instance': 'sidecar-pod',
      'app.kubernetes.io/managed-by': 'cdk8s',
    });
    expect(pod.deployment).toBeInstanceOf(kplus.Deployment);
    expect(pod.sidecars.app.name).toBe('app');
    expect(pod.sidecars.servingPort).toBe(8080);
    expect(pod.service).toBeDefined();
    expect(pod.networkPolicy).toBeDefined();
    assertValid(objects);
  });

  test('one replica: no PodDisruptionBudget and no spread; 0 replicas are a Deployment scaled down', () => {
    for (const replicas of [0, 1]) {
      const { objects } = synth({ app: APP, replicas });
      expect(findObject(objects, 'Deployment', 'sidecar-pod').spec.replicas).toBe(replicas);
      expect(findObject(objects, 'Deployment', 'sidecar-pod').spec.template.spec.affinity).toBeUndefined();
      expect(findAll(objects, 'PodDisruptionBudget')).toEqual([]);
    }
  });

  test('servicePort and serviceTargetPort pick the Service ports, a sidecar port included', () => {
    const { objects } = synth({
      app: APP,
      sidecars: [{ name: 'metrics', image: 'busybox:1.36.1', command: ['httpd', '-f', '-p', '9090'], ports: [{ number: 9090 }] }],
      servicePort: 8000,
      serviceTargetPort: 9090,
    });
    expect(findObject(objects, 'Service').spec.ports).toEqual([{ name: 'http', port: 8000, targetPort: 9090 }]);
    assertValid(objects);
  });
});

describe('sidecars, init containers and shared volumes', () => {
  const shared = sizedEmptyDir('shared', 32);
  const settings = configMapVolume('settings', 'shop-settings', 0o444);
  const creds = secretVolume('creds', 'shop-creds', 0o440);
  const props: SidecarDeploymentProps = {
    name: 'shop',
    replicas: 3,
    app: {
      ...APP,
      volumeMounts: [
        { volume: shared, path: '/www' },
        { volume: settings, path: '/etc/app' },
      ],
    },
    sidecars: [
      {
        name: 'writer',
        image: 'busybox:1.36.1',
        command: ['sh', '-c', 'while :; do date > /out/index.html; sleep 5; done'],
        securityContext: { user: 11000, group: 12000 },
        envVariables: { TZ: kplus.EnvValue.fromValue('UTC') },
        writableTmp: true,
        volumeMounts: [
          { volume: shared, path: '/out', readOnly: false },
          { volume: creds, path: '/run/creds' },
        ],
        resources: {
          cpu: { request: kplus.Cpu.millis(10), limit: kplus.Cpu.millis(100) },
          memory: { request: Size.mebibytes(16), limit: Size.mebibytes(32) },
        },
      },
    ],
    initContainers: [
      {
        name: 'seed',
        image: 'busybox:1.36.1',
        command: ['sh', '-c', 'echo hi > /out/index.html'],
        volumeMounts: [{ volume: shared, path: '/out', readOnly: false }],
      },
    ],
  };

  test('each mounted volume is in the pod once, mounted read-only unless a container writes, scratch /tmp only where asked', () => {
    const { objects } = synth(props);
    expect(objects).toMatchSnapshot();
    const dep = findObject(objects, 'Deployment', 'shop');
    expect(dep.spec.replicas).toBe(3);
    const s = spec(objects, 'shop');
    expect(s.volumes.map((v: any) => v.name)).toEqual(['shared', 'settings', 'creds', 'writer-tmp']);
    expect(volume(objects, 'shop', 'shared')).toEqual({ name: 'shared', emptyDir: { sizeLimit: '32Mi' } });
    expect(volume(objects, 'shop', 'settings')).toEqual({ name: 'settings', configMap: { name: 'shop-settings', defaultMode: 0o444 } });
    expect(volume(objects, 'shop', 'creds')).toEqual({ name: 'creds', secret: { secretName: 'shop-creds', defaultMode: 0o440 } });
    expect(volume(objects, 'shop', 'writer-tmp')).toEqual({ name: 'writer-tmp', emptyDir: { sizeLimit: '64Mi' } });
    expect(s.initContainers.map((c: any) => c.name)).toEqual(['seed']);
    expect(s.containers.map((c: any) => c.name)).toEqual(['app', 'writer']);
    const app = findContainer(dep, 'app');
    expect(app.volumeMounts).toEqual([
      { name: 'shared', mountPath: '/www', readOnly: true },
      { name: 'settings', mountPath: '/etc/app', readOnly: true },
    ]);
    const writer = findContainer(dep, 'writer');
    expect(writer.volumeMounts).toEqual([
      { name: 'shared', mountPath: '/out', readOnly: false },
      { name: 'creds', mountPath: '/run/creds', readOnly: true },
      { name: 'writer-tmp', mountPath: '/tmp', readOnly: false },
    ]);
    expect(writer.securityContext).toMatchObject({ runAsUser: 11000, runAsGroup: 12000, readOnlyRootFilesystem: true });
    expect(writer.env).toEqual([{ name: 'TZ', value: 'UTC' }]);
    expect(writer.resources).toEqual({
      requests: { 'cpu': '10m', 'memory': '16Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '100m', 'memory': '32Mi', 'ephemeral-storage': '0.25Gi' },
    });
    expect(findContainer(dep, 'seed').volumeMounts).toEqual([{ name: 'shared', mountPath: '/out', readOnly: false }]);
    assertValid(objects, { external: ['ConfigMap/test/shop-settings', 'Secret/test/shop-creds'] });
  });

  test('a memory volume is a tmpfs emptyDir; an emptyDir without sizeLimit gets 64Mi', () => {
    const cache = emptyDir('cache', { medium: kplus.EmptyDirMedium.MEMORY });
    const plain = emptyDir('plain');
    const { objects } = synth({
      ...props,
      app: {
        ...props.app!,
        volumeMounts: [...props.app!.volumeMounts!, { volume: cache, path: '/cache', readOnly: false }, { volume: plain, path: '/plain' }],
      },
    });
    expect(volume(objects, 'shop', 'cache')).toEqual({ name: 'cache', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } });
    expect(volume(objects, 'shop', 'plain')).toEqual({ name: 'plain', emptyDir: { sizeLimit: '64Mi' } });
  });

  test('resources are merged field by field over the defaults', () => {
    const { objects } = synth({ app: { ...APP, resources: { cpu: { limit: kplus.Cpu.millis(1000) } } } });
    expect(findContainer(findObject(objects, 'Deployment', 'sidecar-pod'), 'app').resources).toEqual({
      requests: { 'cpu': '50m', 'memory': '64Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '1000m', 'memory': '128Mi', 'ephemeral-storage': '0.25Gi' },
    });
  });

  test('the pod securityContext: user and group for containers without their own, fsGroup on the pod', () => {
    const { objects } = synth({
      app: APP,
      sidecars: [{ name: 'side', image: 'busybox:1.36.1', securityContext: { user: 4000 } }],
      securityContext: { user: 2000, group: 3000, fsGroup: 5000 },
    });
    const dep = findObject(objects, 'Deployment', 'sidecar-pod');
    expect(findContainer(dep, 'app').securityContext).toMatchObject({ runAsUser: 2000, runAsGroup: 3000 });
    expect(findContainer(dep, 'side').securityContext).toMatchObject({ runAsUser: 4000, runAsGroup: 3000 });
    expect(dep.spec.template.spec.securityContext).toMatchObject({ runAsUser: 2000, runAsGroup: 3000, fsGroup: 5000 });
  });

  test("native sidecars are init containers with restartPolicy Always, after the user's init containers", () => {
    const { r, objects } = synth({ ...props, sidecarMode: SidecarMode.NATIVE, serviceTargetPort: 8080 });
    const s = spec(objects, 'shop');
    expect(s.initContainers.map((c: any) => [c.name, c.restartPolicy])).toEqual([
      ['seed', undefined],
      ['writer', 'Always'],
    ]);
    expect(s.containers.map((c: any) => c.name)).toEqual(['app']);
    expect(r.sidecars.plan.containers.map((c) => c.spec.name)).toEqual(['seed', 'app', 'writer']);
    assertValid(objects, { external: ['ConfigMap/test/shop-settings', 'Secret/test/shop-creds'] });
  });

  test("SidecarBarePod: a bare Pod, like the seed's, with the same containers, no Service, no PDB, a NetworkPolicy letting nothing in", () => {
    const { replicas: _r, name: _n, ...rest } = props;
    const { pod, objects } = bare({ ...rest, name: 'shop' });
    const p = findObject(objects, 'Pod', 'shop');
    expect(p.spec.containers.map((c: any) => c.name)).toEqual(['app', 'writer']);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(['NetworkPolicy/shop', 'Pod/shop']);
    const selector = { 'app.kubernetes.io/name': 'sidecar-pod', 'app.kubernetes.io/instance': 'shop' };
    expect(p.metadata.labels).toMatchObject(selector);
    expect(p.metadata.labels!['cdk8s.io/metadata.addr']).toBeUndefined();
    expect(p.spec.affinity).toBeUndefined();
    expect(findObject(objects, 'NetworkPolicy', 'shop').spec).toEqual({
      podSelector: { matchLabels: selector },
      policyTypes: ['Ingress', 'Egress'],
      egress: [
        {
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    });
    expect(pod.pod).toBeInstanceOf(kplus.Pod);
    expect(pod).toMatchObject({ name: 'shop', selector });
    assertValid(objects, { external: ['ConfigMap/test/shop-settings', 'Secret/test/shop-creds'] });
  });

  test('a bare Pod behind the auth proxy gets a NetworkPolicy selecting it', () => {
    const { objects } = bare({ app: APP, authProxy: { htpasswd: secretRef('users') } });
    const p = findObject(objects, 'Pod', 'sidecar-pod');
    expect(findObject(objects, 'NetworkPolicy', 'sidecar-pod').spec.podSelector.matchLabels).toEqual({
      'app.kubernetes.io/name': 'sidecar-pod',
      'app.kubernetes.io/instance': 'sidecar-pod',
    });
    expect(p.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'sidecar-pod', 'app.kubernetes.io/instance': 'sidecar-pod' });
    assertValid(objects, { external: ['Secret/test/users'] });
  });
});

describe("the presets' /tmp emptyDirs", () => {
  test("the presets' own /tmp emptyDirs (git-sync, auth proxy) default to PRESET_TMP_SIZE_LIMIT (16Mi), a user sidecar's writableTmp to 64Mi", () => {
    const { r, objects } = synth({
      name: 'docs',
      content: { repo: REPO },
      authProxy: { htpasswd: secretRef('docs-users') },
      sidecars: [{ name: 'helper', image: 'busybox:1.36.1', command: ['sleep', '3600'], writableTmp: true }],
    });
    expect(PRESET_TMP_SIZE_LIMIT.toMebibytes()).toBe(16);
    // resolved once, readable on the construct
    expect(r.sidecars.gitSync!.tmpSizeLimit.toMebibytes()).toBe(16);
    expect(r.sidecars.auth!.tmpSizeLimit.toMebibytes()).toBe(16);
    expect(volume(objects, 'docs', 'git-sync-tmp')).toEqual({ name: 'git-sync-tmp', emptyDir: { sizeLimit: '16Mi' } });
    expect(volume(objects, 'docs', 'auth-proxy-tmp')).toEqual({ name: 'auth-proxy-tmp', emptyDir: { sizeLimit: '16Mi' } });
    expect(volume(objects, 'docs', 'helper-tmp')).toEqual({ name: 'helper-tmp', emptyDir: { sizeLimit: '64Mi' } });
    expect(volume(objects, 'docs', 'content')).toEqual({ name: 'content', emptyDir: { sizeLimit: '64Mi' } });
  });

  test('tmpSizeLimit overrides the git-sync (content, hotPlug) and auth proxy /tmp emptyDirs', () => {
    const content = synth({
      name: 'docs',
      content: { repo: REPO, tmpSizeLimit: Size.mebibytes(2) },
      authProxy: { htpasswd: secretRef('u'), tmpSizeLimit: Size.mebibytes(128) },
    }).objects;
    expect(volume(content, 'docs', 'git-sync-tmp')).toEqual({ name: 'git-sync-tmp', emptyDir: { sizeLimit: '2Mi' } });
    expect(volume(content, 'docs', 'auth-proxy-tmp')).toEqual({ name: 'auth-proxy-tmp', emptyDir: { sizeLimit: '128Mi' } });
    const hot = synth({
      name: 'hot',
      app: { ...APP, command: ['python3', '/srv/code/repo/current/app.py'] },
      hotPlug: { repo: REPO, reload: HotPlugReload.appRestartsItself(), tmpSizeLimit: Size.mebibytes(1) },
    }).objects;
    expect(volume(hot, 'hot', 'git-sync-tmp')).toEqual({ name: 'git-sync-tmp', emptyDir: { sizeLimit: '1Mi' } });
  });
});

describe('authProxy preset', () => {
  const props: SidecarDeploymentProps = {
    name: 'site',
    app: { ...APP, command: ['httpd', '-f', '-p', '127.0.0.1:8080'] },
    authProxy: { htpasswd: secretRef('site-users') },
  };

  test("defaults: nginx on 8081 in front of the app's port, the Service and a NetworkPolicy admit the proxy only", () => {
    const { pod, r, objects } = synth(props);
    expect(objects).toMatchSnapshot();
    const dep = findObject(objects, 'Deployment', 'site');
    expect(pod).toMatchObject({ serviceTargetPort: 8081, servicePort: 80 });
    expect(pod.sidecars.servingPort).toBe(8081);
    // every @default of AuthProxyOptions, resolved
    expect(r.sidecars.auth).toMatchObject({ port: 8081, upstream: 8080, htpasswdKey: 'htpasswd', realm: 'Restricted', image: AUTH_PROXY_IMAGE });
    expect(r.sidecars.auth!.htpasswd.name).toBe('site-users');
    expect(findObject(objects, 'Service', 'site').spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8081 }]);
    // the proxy container
    const proxy = findContainer(dep, 'auth-proxy');
    expect(proxy.image).toBe(AUTH_PROXY_IMAGE);
    expect(proxy.command).toEqual(['nginx', '-c', `${AUTH_PROXY_CONFIG_DIR}/nginx.conf`, '-e', 'stderr']);
    expect(proxy.ports).toEqual([{ containerPort: 8081, name: 'auth-proxy' }]);
    expect(proxy.securityContext).toMatchObject({ runAsUser: 10101, runAsGroup: 10101, readOnlyRootFilesystem: true });
    // readiness: nginx answers its own health path without credentials; liveness: the port, over a longer threshold
    expect(proxy.readinessProbe).toEqual({
      httpGet: { path: AUTH_PROXY_HEALTH_PATH, port: 8081, scheme: 'HTTP' },
      periodSeconds: 5,
      failureThreshold: 3,
    });
    expect(proxy.livenessProbe).toEqual({ tcpSocket: { port: 8081 }, periodSeconds: 10, failureThreshold: 6 });
    expect(proxy.volumeMounts).toEqual([
      { name: 'auth-proxy-config', mountPath: AUTH_PROXY_CONFIG_DIR, readOnly: true },
      { name: 'auth-proxy-htpasswd', mountPath: AUTH_PROXY_HTPASSWD_DIR, readOnly: true },
      { name: 'auth-proxy-tmp', mountPath: '/tmp', readOnly: false },
    ]);
    expect(spec(objects, 'site').containers.map((c: any) => c.name)).toEqual(['app', 'auth-proxy']);
    // the credentials: a referenced Secret, projected under a fixed name, readable through fsGroup
    expect(volume(objects, 'site', 'auth-proxy-htpasswd')).toEqual({
      name: 'auth-proxy-htpasswd',
      secret: { secretName: 'site-users', defaultMode: 0o440, items: [{ key: 'htpasswd', path: 'htpasswd' }] },
    });
    expect(findAll(objects, 'Secret')).toEqual([]);
    // the generated configuration
    const cm = findObject(objects, 'ConfigMap', 'site-auth-proxy');
    const conf: string = cm.data['nginx.conf'];
    expect(conf).toContain('listen 8081;');
    expect(conf).toContain('server 127.0.0.1:8080;');
    expect(conf).toContain('auth_basic "Restricted";');
    expect(conf).toContain(`auth_basic_user_file ${AUTH_PROXY_HTPASSWD_DIR}/htpasswd;`);
    expect(conf).toContain('proxy_set_header Authorization "";');
    expect(conf).toContain('pid /tmp/nginx.pid;');
    expect(dep.spec.template.metadata.annotations['checksum/auth-proxy']).toBe(contentHash(cm.data, 64));
    // the NetworkPolicy
    const np = findObject(objects, 'NetworkPolicy', 'site');
    expect(np.spec).toEqual({
      podSelector: { matchLabels: dep.spec.selector.matchLabels },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 8081 }] }],
      egress: [
        {
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    });
    assertValid(objects, { external: ['Secret/test/site-users'] });
  });

  test('options: port, upstream, realm, key, image, no NetworkPolicy; a config change rolls the pods', () => {
    const base = synth(props).objects;
    const { objects } = synth({
      ...props,
      app: { ...APP, ports: [{ number: 8080 }, { number: 9000 }] },
      authProxy: {
        htpasswd: secretRef('site-users'),
        port: 8443,
        upstreamPort: 9000,
        realm: 'Shop staff',
        htpasswdKey: 'auth',
        image: 'nginxinc/nginx-unprivileged:1.27.3',
      },
      networkPolicy: false,
      servicePort: 8000,
    });
    const dep = findObject(objects, 'Deployment', 'site');
    const conf: string = findObject(objects, 'ConfigMap', 'site-auth-proxy').data['nginx.conf'];
    expect(conf).toContain('listen 8443;');
    expect(conf).toContain('server 127.0.0.1:9000;');
    expect(conf).toContain('auth_basic "Shop staff";');
    expect(findContainer(dep, 'auth-proxy').image).toBe('nginxinc/nginx-unprivileged:1.27.3');
    expect(volume(objects, 'site', 'auth-proxy-htpasswd').secret.items).toEqual([{ key: 'auth', path: 'htpasswd' }]);
    expect(findObject(objects, 'Service', 'site').spec.ports).toEqual([{ name: 'http', port: 8000, targetPort: 8443 }]);
    expect(findAll(objects, 'NetworkPolicy')).toEqual([]);
    expect(dep.spec.template.metadata.annotations['checksum/auth-proxy']).not.toBe(
      findObject(base, 'Deployment', 'site').spec.template.metadata.annotations['checksum/auth-proxy'],
    );
    // without its NetworkPolicy the gate says the pods are open both ways, and nothing else
    expect(validateObjects(objects, { external: ['Secret/test/site-users'] }).map((v) => v.rule)).toEqual(['networkpolicy', 'networkpolicy']);
  });

  test('explicitly targeting the proxy port is accepted', () => {
    expect(() => synth({ ...props, serviceTargetPort: 8081 })).not.toThrow();
  });
});

describe('content preset', () => {
  test("defaults: git-sync keeps a volume at HEAD, the seed's web server serves it read-only, readiness waits for the first sync", () => {
    const { pod, r, objects } = synth({ name: 'docs', content: { repo: REPO } });
    expect(objects).toMatchSnapshot();
    // every @default of GitSyncOptions and SharedContentOptions, resolved
    expect(r.sidecars.gitSync).toMatchObject({
      preset: 'content',
      ref: 'HEAD',
      periodSeconds: 60,
      link: 'current',
      volume: 'content',
      mountPath: '/git',
      root: '/git/repo',
      appMountPath: '/srv/content',
      httpPort: 8089,
      image: GIT_SYNC_IMAGE,
      appLinkPath: '/srv/content/repo/current',
    });
    expect(r.sidecars.fsGroup).toBe(65533);
    expect(findContainer(findObject(objects, 'Deployment', 'docs'), 'web').args).toEqual([
      '8080',
      '--bind',
      '0.0.0.0',
      '--directory',
      '/srv/content/repo/current',
    ]);
    const dep = findObject(objects, 'Deployment', 'docs');
    const gs = findContainer(dep, 'git-sync');
    expect(gs.image).toBe(GIT_SYNC_IMAGE);
    expect(gs.args).toEqual([
      `--repo=${REPO}`,
      '--ref=HEAD',
      '--period=60s',
      '--root=/git/repo',
      '--link=current',
      '--http-bind=:8089',
      '--max-failures=-1',
    ]);
    expect(gs.securityContext).toMatchObject({ runAsUser: 65533, runAsGroup: 65533 });
    expect(gs.ports).toEqual([{ containerPort: 8089, name: 'git-sync' }]);
    expect(gs.resources).toEqual({
      requests: { 'cpu': '50m', 'memory': '64Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '500m', 'memory': '256Mi', 'ephemeral-storage': '0.25Gi' },
    });
    expect(gs.readinessProbe).toEqual({ httpGet: { path: '/', port: 8089, scheme: 'HTTP' }, periodSeconds: 5, failureThreshold: 3 });
    expect(gs.startupProbe).toBeUndefined();
    expect(gs.volumeMounts).toEqual([
      { name: 'content', mountPath: '/git', readOnly: false },
      { name: 'git-sync-tmp', mountPath: '/tmp', readOnly: false },
    ]);
    const web = findContainer(dep, 'web');
    expect(web.image).toBe(WEB_SERVER_IMAGE);
    expect(web.command).toEqual(['python3', '-P', '-m', 'http.server']);
    expect(web.args).toEqual(['8080', '--bind', '0.0.0.0', '--directory', '/srv/content/repo/current']);
    expect(web.workingDir).toBe('/srv/content');
    expect(web.ports).toEqual([{ containerPort: 8080, name: 'http' }]);
    expect(web.readinessProbe).toEqual({ httpGet: { path: '/', port: 8080, scheme: 'HTTP' }, periodSeconds: 5, failureThreshold: 3 });
    expect(web.volumeMounts).toEqual([{ name: 'content', mountPath: '/srv/content', readOnly: true }]);
    expect(web.securityContext).toMatchObject({ runAsUser: 65532 });
    expect(volume(objects, 'docs', 'content')).toEqual({ name: 'content', emptyDir: { sizeLimit: '64Mi' } });
    expect(spec(objects, 'docs').securityContext.fsGroup).toBe(65533);
    expect(spec(objects, 'docs').containers.map((c: any) => c.name)).toEqual(['web', 'git-sync']);
    expect(findObject(objects, 'Service', 'docs').spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080 }]);
    expect(pod.sidecars.syncedPath).toBe('/srv/content/repo/current');
    expect(pod.sidecars.app.name).toBe('web');
    assertValid(objects);
  });

  test('options: ref, period, link, depth, directory, port, a declared volume, mount paths and probe port', () => {
    const { objects } = synth({
      name: 'docs',
      volumes: [emptyDir('site', { sizeLimit: Size.gibibytes(1) })],
      content: {
        repo: REPO,
        ref: 'v1.2.0',
        period: Duration.minutes(5),
        link: 'live',
        depth: 3,
        directory: 'public/html',
        port: 8000,
        volume: 'site',
        mountPath: '/data',
        appMountPath: '/usr/share/site',
        httpPort: 9999,
        resources: {
          cpu: { request: kplus.Cpu.millis(100), limit: kplus.Cpu.millis(1000) },
          memory: { request: Size.mebibytes(128), limit: Size.mebibytes(512) },
        },
      },
    });
    const dep = findObject(objects, 'Deployment', 'docs');
    expect(findContainer(dep, 'git-sync').resources).toEqual({
      requests: { 'cpu': '100m', 'memory': '128Mi', 'ephemeral-storage': '0.0625Gi' },
      limits: { 'cpu': '1000m', 'memory': '512Mi', 'ephemeral-storage': '0.25Gi' },
    });
    expect(findContainer(dep, 'git-sync').args).toEqual([
      `--repo=${REPO}`,
      '--ref=v1.2.0',
      '--period=300s',
      '--root=/data/repo',
      '--link=live',
      '--http-bind=:9999',
      '--max-failures=-1',
      '--depth=3',
    ]);
    expect(findContainer(dep, 'web').args).toEqual(['8000', '--bind', '0.0.0.0', '--directory', '/usr/share/site/repo/live/public/html']);
    expect(volume(objects, 'docs', 'site')).toEqual({ name: 'site', emptyDir: { sizeLimit: '1024Mi' } });
    expect(spec(objects, 'docs').volumes.map((v: any) => v.name)).toEqual(['site', 'git-sync-tmp']);
    assertValid(objects);
  });

  test("native sidecars: git-sync's startup probe holds the web server back until the first sync", () => {
    const { objects } = synth({ name: 'docs', content: { repo: REPO }, sidecarMode: SidecarMode.NATIVE });
    const s = spec(objects, 'docs');
    expect(s.initContainers.map((c: any) => c.name)).toEqual(['git-sync']);
    expect(s.initContainers[0].restartPolicy).toBe('Always');
    expect(s.initContainers[0].startupProbe).toEqual({ httpGet: { path: '/', port: 8089, scheme: 'HTTP' }, periodSeconds: 2, failureThreshold: 150 });
    assertValid(objects);
  });

  test('behind the auth proxy the web server binds 127.0.0.1 and probes itself from inside', () => {
    const { objects } = synth({ name: 'docs', content: { repo: REPO }, authProxy: { htpasswd: secretRef('docs-users') } });
    const web = findContainer(findObject(objects, 'Deployment', 'docs'), 'web');
    expect(web.args).toEqual(['8080', '--bind', '127.0.0.1', '--directory', '/srv/content/repo/current']);
    expect(web.readinessProbe.exec.command).toEqual([
      'python3',
      '-c',
      'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8080/", timeout=2)',
    ]);
    expect(findObject(objects, 'Service', 'docs').spec.ports[0].targetPort).toBe(8081);
    assertValid(objects, { external: ['Secret/test/docs-users'] });
  });

  test('a replacement web server gets the content mounted read-only', () => {
    const { objects } = synth({
      name: 'docs',
      content: { repo: REPO },
      app: {
        name: 'nginx',
        image: 'nginxinc/nginx-unprivileged:1.27.3-alpine',
        command: ['nginx', '-g', 'daemon off;'],
        ports: [{ number: 8080 }],
        securityContext: { user: 10101 },
        writableTmp: true,
      },
    });
    const nginx = findContainer(findObject(objects, 'Deployment', 'docs'), 'nginx');
    expect(mount(nginx, 'content')).toEqual({ name: 'content', mountPath: '/srv/content', readOnly: true });
    assertValid(objects);
  });
});

describe('hotPlug preset', () => {
  const app = {
    name: 'api',
    image: 'python:3.12.8-slim-bookworm',
    command: ['python3', 'app.py'],
    args: ['--port', '8080'],
    workingDir: '/srv/code/repo/current',
    ports: [{ number: 8080 }],
  };

  test('restartOnChange: the app runs under the supervisor shipped in a ConfigMap, no shared process namespace', () => {
    const { pod, objects } = synth({ name: 'api', app, hotPlug: { repo: REPO, ref: 'release', reload: HotPlugReload.restartOnChange() } });
    expect(pod.sidecars.hotPlugScripts).toBeDefined();
    expect(objects).toMatchSnapshot();
    const dep = findObject(objects, 'Deployment', 'api');
    const c = findContainer(dep, 'api');
    expect(c.command).toEqual(['/bin/sh', `${HOT_PLUG_SCRIPTS_DIR}/restart-on-change.sh`]);
    expect(c.args).toEqual(['python3', 'app.py', '--port', '8080']);
    expect(c.workingDir).toBeUndefined();
    expect(c.env).toEqual([
      { name: 'HOT_PLUG_LINK', value: '/srv/code/repo/current' },
      { name: 'HOT_PLUG_POLL_SECONDS', value: '3' },
      { name: 'HOT_PLUG_WORKDIR', value: '/srv/code/repo/current' },
    ]);
    expect(c.volumeMounts).toEqual([
      { name: 'code', mountPath: '/srv/code', readOnly: true },
      { name: 'hot-plug-scripts', mountPath: HOT_PLUG_SCRIPTS_DIR, readOnly: true },
    ]);
    const cm = findObject(objects, 'ConfigMap', 'api-hot-plug');
    expect(cm.data).toEqual({
      'restart-on-change.sh': fs.readFileSync(path.join(__dirname, '..', 'lib', 'sidecar-pod', 'restart-on-change.sh'), 'utf8'),
    });
    expect(volume(objects, 'api', 'hot-plug-scripts')).toEqual({ name: 'hot-plug-scripts', configMap: { name: 'api-hot-plug', defaultMode: 0o555 } });
    expect(dep.spec.template.metadata.annotations['checksum/hot-plug']).toBe(contentHash(cm.data, 64));
    expect(dep.spec.template.spec.shareProcessNamespace).toBeUndefined();
    const gs = findContainer(dep, 'git-sync');
    expect(gs.args).toContain('--ref=release');
    expect(gs.securityContext).toMatchObject({ runAsUser: 65533 });
    expect(pod.sidecars.syncedPath).toBe('/srv/code/repo/current');
    assertValid(objects);
  });

  test("signal: git-sync's exec hook, as the app's UID, signals it through a shared process namespace", () => {
    const { objects } = synth({
      name: 'api',
      app: { ...app, securityContext: { user: 11234 } },
      hotPlug: { repo: REPO, reload: HotPlugReload.signal({ processName: 'gunicorn' }) },
    });
    const dep = findObject(objects, 'Deployment', 'api');
    expect(dep.spec.template.spec.shareProcessNamespace).toBe(true);
    const gs = findContainer(dep, 'git-sync');
    expect(gs.args).toContain(`--exechook-command=${HOT_PLUG_SCRIPTS_DIR}/signal-app.sh`);
    expect(gs.env).toEqual([
      { name: 'HOT_PLUG_SIGNAL', value: 'HUP' },
      { name: 'HOT_PLUG_PROCESS', value: 'gunicorn' },
    ]);
    expect(gs.securityContext).toMatchObject({ runAsUser: 11234, runAsGroup: 11234 });
    expect(mount(gs, 'hot-plug-scripts')).toEqual({ name: 'hot-plug-scripts', mountPath: HOT_PLUG_SCRIPTS_DIR, readOnly: true });
    const api = findContainer(dep, 'api');
    expect(api.command).toEqual(['python3', 'app.py']);
    expect(mount(api, 'hot-plug-scripts')).toBeUndefined();
    expect(Object.keys(findObject(objects, 'ConfigMap', 'api-hot-plug').data)).toEqual(['signal-app.sh']);
    assertValid(objects);
  });

  test('appRestartsItself: only git-sync and the read-only mount are added', () => {
    const { pod, objects } = synth({ name: 'api', app, hotPlug: { repo: REPO, reload: HotPlugReload.appRestartsItself() } });
    const api = findContainer(findObject(objects, 'Deployment', 'api'), 'api');
    expect(api.command).toEqual(['python3', 'app.py']);
    expect(api.workingDir).toBe('/srv/code/repo/current');
    expect(api.volumeMounts).toEqual([{ name: 'code', mountPath: '/srv/code', readOnly: true }]);
    expect(findAll(objects, 'ConfigMap')).toEqual([]);
    expect(pod.sidecars.hotPlugScripts).toBeUndefined();
    assertValid(objects);
  });

  test("restartOnChange({ poll }) sets the supervisor's poll interval in whole seconds", () => {
    const { objects } = synth({ name: 'api', app, hotPlug: { repo: REPO, reload: HotPlugReload.restartOnChange({ poll: Duration.minutes(1) }) } });
    expect(findContainer(findObject(objects, 'Deployment', 'api'), 'api').env).toContainEqual({ name: 'HOT_PLUG_POLL_SECONDS', value: '60' });
  });

  test('HotPlugReload defaults: poll every 3 s, signal HUP', () => {
    expect(HotPlugReload.restartOnChange().kind).toBe(HotPlugReloadKind.RESTART_ON_CHANGE);
    expect(HotPlugReload.restartOnChange().poll!.toSeconds()).toBe(3);
    expect(HotPlugReload.signal({ processName: 'node' })).toMatchObject({ kind: HotPlugReloadKind.SIGNAL, signal: 'HUP', processName: 'node' });
    expect(HotPlugReload.appRestartsItself().kind).toBe(HotPlugReloadKind.APP_RESTARTS_ITSELF);
  });
});

describe('seed charts', () => {
  test("SidecarPodAuthChart: a one-time clone, the web server on 127.0.0.1:8080, the proxy on 8081 behind the seed's port 8080", () => {
    const chart = new SidecarPodAuthChart(Testing.app(), 'auth');
    const objects = synthObjects(chart);
    expect(objects).toMatchSnapshot();
    expect(new Set(objects.map((o) => o.metadata.namespace))).toEqual(new Set([SIDECAR_POD_NAMESPACE]));
    expect(findAll(objects, 'Namespace')).toEqual([]);
    const dep = findObject(objects, 'Deployment', 'python-pod-auth');
    const s = dep.spec.template.spec;
    expect(s.initContainers.map((c: any) => c.name)).toEqual(['clone']);
    expect(findContainer(dep, 'clone').args).toEqual([`--repo=${SEED_REPO}`, '--ref=HEAD', '--root=/git/repo', '--link=demos', '--one-time']);
    expect(findContainer(dep, 'clone').resources.limits.memory).toBe('256Mi');
    expect(s.containers.map((c: any) => c.name)).toEqual(['web', 'helper', 'auth-proxy']);
    expect(findContainer(dep, 'web').args).toEqual(['8080', '--bind', '127.0.0.1', '--directory', '/srv/content/repo/demos/static']);
    expect(findContainer(dep, 'helper')).toMatchObject({
      image: 'busybox:1.36.1',
      command: ['sh', '-c', "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"],
    });
    expect(findObject(objects, 'Service', 'python-pod-auth').spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 8081 }]);
    expect(volume(objects, 'python-pod-auth', 'auth-proxy-htpasswd').secret.secretName).toBe('python-pod-auth-htpasswd');
    expect(chart.htpasswdSecret).toBe('python-pod-auth-htpasswd');
    assertValid(objects, { external: ['Secret/sidecar-pod/python-pod-auth-htpasswd'] });
  });

  test('SidecarPodContentChart: git-sync every 30 s, the web server serving demos/static on 8080', () => {
    const objects = synthObjects(new SidecarPodContentChart(Testing.app(), 'content'));
    expect(objects).toMatchSnapshot();
    const dep = findObject(objects, 'Deployment', 'python-pod-content');
    expect(dep.metadata.namespace).toBe(SIDECAR_POD_NAMESPACE);
    expect(findContainer(dep, 'git-sync').args).toEqual([
      `--repo=${SEED_REPO}`,
      '--ref=HEAD',
      '--period=30s',
      '--root=/git/repo',
      '--link=demos',
      '--http-bind=:8089',
      '--max-failures=-1',
    ]);
    expect(findContainer(dep, 'web').args).toEqual(['8080', '--bind', '0.0.0.0', '--directory', '/srv/content/repo/demos/static']);
    expect(dep.spec.template.spec.containers.map((c: any) => c.name)).toEqual(['web', 'git-sync', 'helper']);
    expect(findObject(objects, 'Service', 'python-pod-content').spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 8080 }]);
    assertValid(objects);
  });

  test("SidecarPodHotPlugChart: the seed's server started in the synced folder, restarted on each new version", () => {
    const objects = synthObjects(new SidecarPodHotPlugChart(Testing.app(), 'hot-plug'));
    expect(objects).toMatchSnapshot();
    const dep = findObject(objects, 'Deployment', 'python-pod-hot-plug');
    const web = findContainer(dep, 'web');
    expect(web.args).toEqual(['python3', '-P', '-m', 'http.server', '8080', '--bind', '0.0.0.0']);
    expect(web.env).toContainEqual({ name: 'HOT_PLUG_WORKDIR', value: '/srv/code/repo/demos/static' });
    expect(findObject(objects, 'Service', 'python-pod-hot-plug').spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 8080 }]);
    assertValid(objects);
  });

  test('chart props: name, namespace, repo, ref, no helper, native sidecars', () => {
    const app = Testing.app();
    const props = { name: 'docs', namespace: 'web', repo: REPO, ref: 'v2', helper: false, sidecarMode: SidecarMode.NATIVE };
    const charts = [
      new SidecarPodAuthChart(app, 'a', props),
      new SidecarPodContentChart(app, 'c', props),
      new SidecarPodHotPlugChart(app, 'h', props),
    ];
    for (const chart of charts) {
      const objects = synthObjects(chart);
      const dep = findObject(objects, 'Deployment', 'docs');
      expect(dep.metadata.namespace).toBe('web');
      const names = [...(dep.spec.template.spec.initContainers ?? []), ...dep.spec.template.spec.containers].map((c: any) => c.name);
      expect(names).not.toContain('helper');
      const sync = [...(dep.spec.template.spec.initContainers ?? [])].find((c: any) => c.name === 'git-sync' || c.name === 'clone');
      expect(sync.args).toEqual(expect.arrayContaining([`--repo=${REPO}`, '--ref=v2']));
      assertValid(objects, { external: ['Secret/web/docs-htpasswd'] });
    }
  });
});

describe('fails when', () => {
  test('name is not a DNS label', () => {
    expect(() => synth({ name: 'My Pod', app: APP })).toThrow(/name must be a DNS-1123 label.*got "My Pod"/);
  });
  test('there is neither an app nor content', () => {
    expect(() => synth({})).toThrow(/app is required unless content is set/);
  });
  test('two containers have the same name', () => {
    expect(() => synth({ app: APP, sidecars: [{ name: 'app', image: 'busybox:1.36.1' }] })).toThrow(
      /container name "app" is used more than once \(app and sidecars\[0\]\)/,
    );
    expect(() => synth({ content: { repo: REPO }, sidecars: [{ name: 'git-sync', image: 'busybox:1.36.1' }] })).toThrow(
      /container name "git-sync" is used more than once/,
    );
  });
  test('two containers declare the same port', () => {
    expect(() => synth({ app: APP, sidecars: [{ name: 'other', image: 'busybox:1.36.1', ports: [{ number: 8080 }] }] })).toThrow(
      /port 8080 is declared by both app "app" and sidecars\[0\] "other"/,
    );
    expect(() =>
      synth({ app: APP, authProxy: { htpasswd: secretRef('s') }, sidecars: [{ name: 'm', image: 'busybox:1.36.1', ports: [{ number: 8081 }] }] }),
    ).toThrow(/port 8081 is declared by both sidecars\[0\] "m" and auth-proxy sidecar "auth-proxy"/);
  });
  test('two containers use the same port name', () => {
    expect(() => synth({ app: APP, sidecars: [{ name: 'm', image: 'busybox:1.36.1', ports: [{ number: 9090, name: 'http' }] }] })).toThrow(
      /port name "http" is used by both app "app" and sidecars\[0\] "m": port names must be unique in the pod/,
    );
  });
  test('a container declares a port twice or out of range', () => {
    expect(() => synth({ app: { ...APP, ports: [{ number: 8080 }, { number: 8080 }] } })).toThrow(/app "app" declares port 8080 more than once/);
    expect(() => synth({ app: { ...APP, ports: [{ number: 70000 }] } })).toThrow(
      /app.ports\[0\].number must be an integer 1024-65535 \(the container runs as non-root without NET_BIND_SERVICE\), got 70000/,
    );
    expect(() => synth({ app: { ...APP, ports: [{ number: 80 }] } })).toThrow(/app.ports\[0\].number must be an integer 1024-65535 .*got 80/);
    expect(() => synth({ app: APP, authProxy: { htpasswd: secretRef('s'), port: 443 } })).toThrow(
      /authProxy.port must be an integer 1024-65535 .*got 443/,
    );
  });
  test('a mount names its volume by a string (the 0.1 vocabulary) instead of a kplus.Volume', () => {
    expect(() => synth({ app: { ...APP, volumeMounts: [{ volume: 'data' as never, path: '/data' }] } })).toThrow(
      new RegExp(
        "app.volumeMounts\\[0\\].volume must be a kplus.Volume \\(kplus.Volume.fromEmptyDir\\(this, 'Data', 'data', " +
          '\\{ sizeLimit: Size.mebibytes\\(64\\) \\}\\), ' +
          'fromConfigMap, fromSecret, ...\\), got "data"',
      ),
    );
    expect(() => synth({ app: APP, volumes: [{ name: 'v' } as never] })).toThrow(/volumes\[0\] must be a kplus.Volume/);
  });
  test("two different volumes share a name, or one clashes with a preset's", () => {
    const v = sizedEmptyDir('v');
    expect(() => synth({ app: { ...APP, volumeMounts: [{ volume: v, path: '/v' }] }, volumes: [v, sizedEmptyDir('v')] })).toThrow(
      /volume name "v" is declared more than once/,
    );
    const clash = sizedEmptyDir('auth-proxy-config');
    expect(() => synth({ app: { ...APP, volumeMounts: [{ volume: clash, path: '/c' }] }, authProxy: { htpasswd: secretRef('s') } })).toThrow(
      /volume name "auth-proxy-config" is declared more than once/,
    );
  });
  test('the same kplus.Volume mounted by two containers and listed in volumes is one pod volume', () => {
    const v = sizedEmptyDir('v');
    const { objects } = synth({
      app: { ...APP, volumeMounts: [{ volume: v, path: '/v' }] },
      volumes: [v],
      sidecars: [{ name: 's', image: 'busybox:1.36.1', volumeMounts: [{ volume: v, path: '/w' }] }],
    });
    expect(spec(objects, 'sidecar-pod').volumes).toEqual([{ name: 'v', emptyDir: { sizeLimit: '64Mi' } }]);
  });
  test('the Service targets the app port while the auth proxy is on', () => {
    expect(() => synth({ app: APP, authProxy: { htpasswd: secretRef('s') }, serviceTargetPort: 8080 })).toThrow(
      /serviceTargetPort must be the auth proxy's port 8081 when authProxy is set, got the app's port 8080: traffic would bypass authentication/,
    );
    expect(() => synth({ app: APP, authProxy: { htpasswd: secretRef('s') }, serviceTargetPort: 9999 })).toThrow(
      /serviceTargetPort must be the auth proxy's port 8081 when authProxy is set, got 9999/,
    );
  });
  test('the Service targets a port no long-running container declares', () => {
    expect(() => synth({ app: APP, serviceTargetPort: 9999 })).toThrow(
      /serviceTargetPort 9999 is not a port of the app or a sidecar \(declared: 8080\)/,
    );
    expect(() => synth({ app: { name: 'w', image: 'busybox:1.36.1' } })).toThrow(/serviceTargetPort is required when the app "w" declares no ports/);
  });
  test('tmpSizeLimit must be a cdk8s Size of a whole number of MiB', () => {
    expect(() => synth({ name: 'docs', content: { repo: REPO, tmpSizeLimit: 16 as never } })).toThrow(
      /content.tmpSizeLimit must be a cdk8s Size of a whole number of MiB, at least 1 MiB \(cdk8s-plus writes emptyDir sizes in MiB\), .*got 16/,
    );
    expect(() => synth({ app: APP, authProxy: { htpasswd: secretRef('s'), tmpSizeLimit: Size.kibibytes(0.5) } })).toThrow(
      /authProxy.tmpSizeLimit must be a cdk8s Size of a whole number of MiB/,
    );
    expect(() => synth({ app: APP, authProxy: { htpasswd: secretRef('s'), tmpSizeLimit: Size.kibibytes(512) } })).toThrow(
      /authProxy.tmpSizeLimit must be a cdk8s Size of a whole number of MiB, .*got 512 KiB/,
    );
  });

  test('the auth proxy has no upstream, or would proxy to itself', () => {
    expect(() => synth({ app: { name: 'w', image: 'busybox:1.36.1' }, authProxy: { htpasswd: secretRef('s') } })).toThrow(
      /authProxy.upstreamPort is required when the app "w" declares no ports/,
    );
    expect(() => synth({ app: APP, authProxy: { htpasswd: secretRef('s'), port: 8080, upstreamPort: 8080 } })).toThrow(
      /authProxy.upstreamPort must differ from authProxy.port 8080/,
    );
  });
  test("the auth proxy's realm, Secret name or key is invalid", () => {
    expect(() => synth({ app: APP, authProxy: { htpasswd: secretRef('s'), realm: 'a"; return 200; #' } })).toThrow(
      /authProxy.realm must be 1-64 letters, digits, spaces, '.', '_' or '-', got "a\\"; return 200; #"/,
    );
    expect(() => synth({ app: APP, authProxy: { htpasswd: secretRef('Bad_Name') } })).toThrow(/authProxy.htpasswd name must be a DNS-1123 subdomain/);
    expect(() => synth({ app: APP, authProxy: { htpasswd: secretRef('s'), htpasswdKey: 'a/b' } })).toThrow(
      /authProxy.htpasswdKey must be a valid ConfigMap key/,
    );
  });
  test('content and hotPlug are both set, or hotPlug has no app', () => {
    const reload = HotPlugReload.appRestartsItself();
    expect(() => synth({ content: { repo: REPO }, hotPlug: { repo: REPO, reload }, app: APP })).toThrow(/content and hotPlug cannot both be set/);
    expect(() => synth({ hotPlug: { repo: REPO, reload } })).toThrow(/app is required with hotPlug/);
  });
  test('restartOnChange has no command to supervise', () => {
    expect(() =>
      synth({
        app: { name: 'a', image: 'busybox:1.36.1', ports: [{ number: 80 }] },
        hotPlug: { repo: REPO, reload: HotPlugReload.restartOnChange() },
      }),
    ).toThrow(/app.command is required with HotPlugReload.restartOnChange\(\)/);
  });
  test('hot-plug reload options are invalid', () => {
    expect(() => HotPlugReload.restartOnChange({ poll: Duration.seconds(0) })).toThrow(
      /hotPlug reload poll must be between 1 and 3600 seconds, got 0 s/,
    );
    expect(() => HotPlugReload.restartOnChange({ poll: Duration.millis(1500) })).toThrow(
      /hotPlug reload poll must be a whole number of seconds, got 1500 ms/,
    );
    expect(() => HotPlugReload.restartOnChange({ pollSeconds: 3 } as never)).toThrow(
      /hotPlug reload options has no option "pollSeconds" \(did you mean "poll"\?\)/,
    );
    expect(() => HotPlugReload.signal({ processName: 'a-very-long-process-name' })).toThrow(/processName must be a process name of 1-15 characters/);
    expect(() => HotPlugReload.signal({ processName: 'node', signal: 'SIGKILL' })).toThrow(
      /signal must be one of HUP, INT, QUIT, USR1, USR2, TERM, WINCH \(without "SIG"\), got "SIGKILL"/,
    );
  });
  test('git-sync options are invalid', () => {
    expect(() => synth({ content: { repo: 'https://x/ y' } })).toThrow(/content.repo must be a git repository URL without spaces/);
    expect(() => synth({ content: { repo: REPO, ref: 'main branch' } })).toThrow(/content.ref must be a branch, tag or hash/);
    expect(() => synth({ content: { repo: REPO, link: 'a/b' } })).toThrow(/content.link must be a single path segment/);
    expect(() => synth({ content: { repo: REPO, period: Duration.millis(500) } })).toThrow(
      /content.period must be a whole number of seconds >= 1, got 0.5s/,
    );
    expect(() => synth({ content: { repo: REPO, directory: '../etc' } })).toThrow(
      /content.directory must be a relative path of letters, digits, .* got "..\/etc"/,
    );
    expect(() => synth({ content: { repo: REPO, mountPath: 'git' } })).toThrow(/content.mountPath must be an absolute path/);
    expect(() => synth({ content: { repo: REPO, depth: -1 } })).toThrow(/content.depth must be an integer 0-1000000, got -1/);
    expect(() => synth({ content: { repo: REPO, volume: 'cfg' }, volumes: [configMapVolume('cfg', 'c')] })).toThrow(
      /content.volume "cfg" must be an emptyDir volume/,
    );
  });
  test('replicas are given for a bare Pod, or out of range', () => {
    expect(() => bare({ app: APP, replicas: 2 } as never)).toThrow(/SidecarBarePod props has no option "replicas"/);
    expect(() => synth({ app: APP, replicas: -1 })).toThrow(/replicas must be an integer 0-1000, got -1/);
    expect(() => synth({ app: APP, replicas: 1001 })).toThrow(/replicas must be an integer 0-1000, got 1001/);
  });
  test('an init container has probes', () => {
    expect(() =>
      synth({ app: APP, initContainers: [{ name: 'init', image: 'busybox:1.36.1', readiness: kplus.Probe.fromCommand(['true']) }] }),
    ).toThrow(/initContainers\[0\] "init" must not have probes/);
  });
  test('mounts are malformed or collide', () => {
    const v = sizedEmptyDir('v');
    expect(() => synth({ app: { ...APP, volumeMounts: [{ volume: v, path: 'data' }] } })).toThrow(
      /app.volumeMounts\[0\].path must be an absolute path/,
    );
    expect(() => synth({ app: { ...APP, volumeMounts: [{ volume: v, path: '/d', subPath: '../x' }] } })).toThrow(
      /app.volumeMounts\[0\].subPath must be a relative path/,
    );
    expect(() => synth({ app: { ...APP, writableTmp: true, volumeMounts: [{ volume: v, path: '/tmp' }] } })).toThrow(
      /app\.volumeMounts\[0\]\.path must not repeat a mount path of app "app", got "\/tmp" twice: writableTmp already mounts a volume at "\/tmp"/,
    );
  });
  test('the app runs as root: the error names the prop the user set, not the fsGroup derived from it', () => {
    expect(() => synth({ app: { ...APP, securityContext: { user: 0 } } })).toThrow(/app.securityContext.user must be an integer 1-2147483647, got 0/);
    expect(() => synth({ app: { ...APP, securityContext: { user: 1000, group: 0 } } })).toThrow(
      /app.securityContext.group must be an integer 1-2147483647, got 0/,
    );
    expect(() => synth({ app: { ...APP, securityContext: { user: 1000, privileged: true } as never } })).toThrow(
      /app.securityContext.privileged is not a setting here: use user or group \(fsGroup is set on the pod\)/,
    );
    expect(() => synth({ app: { ...APP, securityContext: { fsGroup: 1000 } } })).toThrow(/app.securityContext.fsGroup is not a setting here/);
    expect(() => synth({ app: APP, securityContext: { fsGroup: 0 } })).toThrow(/securityContext.fsGroup must be an integer 1-2147483647, got 0/);
  });
  test('an env value is not a kplus.EnvValue (a number would be emitted as a variable with no value)', () => {
    expect(() => synth({ app: { ...APP, envVariables: { RETRIES: 3 as never } } })).toThrow(
      /app.envVariables "RETRIES" must be a kplus.EnvValue .*got number 3/,
    );
    expect(() => synth({ app: APP, sidecars: [{ name: 's', image: 'busybox:1.36.1', envVariables: { MODE: 'fast' as never } }] })).toThrow(
      /sidecars\[0\].envVariables "MODE" must be a kplus.EnvValue .*got string "fast"/,
    );
  });
  test('an enum-like value is in the wrong case', () => {
    expect(() => synth({ app: APP, sidecarMode: 'Native' as SidecarMode })).toThrow(
      /sidecarMode must be one of "classic", "native", got "Native" \(did you mean "native"\?\)/,
    );
    expect(() => synth({ app: APP, serviceType: 'loadbalancer' as kplus.ServiceType })).toThrow(
      /serviceType must be one of .*got "loadbalancer" \(did you mean "LoadBalancer"\?\)/,
    );
  });
  test('a required preset option is left out: no default is chosen silently', () => {
    expect(() => synth({ app: { ...APP, command: ['app'] }, hotPlug: { repo: REPO } as never })).toThrow(
      /hotPlug.reload is required: choose HotPlugReload.restartOnChange\(\), HotPlugReload.signal\(\{ processName \}\) or HotPlugReload.appRest/,
    );
    expect(() => synth({ app: APP, authProxy: {} as never })).toThrow(/authProxy.htpasswd is required/);
    expect(() => synth({ app: APP, authProxy: { htpasswd: 'site-users' } as never })).toThrow(
      /authProxy.htpasswd must be a kplus.ISecret, such as kplus.Secret.fromSecretName\(this, 'Secret', 'site-users'\)/,
    );
    expect(() => synth({ app: APP, authProxy: { htpasswdSecret: 'site-users' } as never })).toThrow(/authProxy has no option "htpasswdSecret"/);
    expect(() => synth({ content: {} as never })).toThrow(/content.repo is required/);
  });
  test('a container asks for more than its limit', () => {
    expect(() =>
      synth({
        app: APP,
        sidecars: [{ name: 's', image: 'busybox:1.36.1', resources: { memory: { request: Size.mebibytes(256), limit: Size.mebibytes(128) } } }],
      }),
    ).toThrow(/sidecars\[0\].resources.memory.request must not exceed sidecars\[0\].resources.memory.limit, got request 262144Ki and limit 131072Ki/);
  });
  test('a prop is misspelled or from the old container vocabulary (it would be silently ignored)', () => {
    expect(() => synth({ app: { ...APP, readinessProbe: kplus.Probe.fromTcpSocket() } as never })).toThrow(
      /app has no option "readinessProbe" \(did you mean "readiness"\?\): the options are name, securityContext/,
    );
    expect(() => synth({ app: { ...APP, user: 1000 } as never })).toThrow(/app has no option "user"/);
    expect(() => synth({ app: { ...APP, volumeMounts: [{ volume: sizedEmptyDir('v'), mountPath: '/v' }] } as never })).toThrow(
      /app.volumeMounts\[0\] has no option "mountPath"/,
    );
    expect(() => synth({ app: APP, replica: 2 } as never)).toThrow(/SidecarDeployment props has no option "replica" \(did you mean "replicas"\?\)/);
    expect(() => synth({ app: APP, workload: 'Pod' } as never)).toThrow(/SidecarDeployment props has no option "workload"/);
    expect(() => synth({ app: APP, fsGroup: 1000 } as never)).toThrow(/SidecarDeployment props has no option "fsGroup"/);
    expect(() => synth({ app: APP, authProxy: { htpasswd: secretRef('s'), networkPolicy: false } } as never)).toThrow(
      /authProxy has no option "networkPolicy"/,
    );
    expect(() => synth({ app: { ...APP, writableTmp: 'yes' } as never })).toThrow(/app.writableTmp must be true or false, got "yes"/);
  });
  test('the signal reload names no process', () => {
    expect(() => HotPlugReload.signal({} as never)).toThrow(/^hotPlug reload processName is required$/);
  });
  test('the git-sync period is a number, not a Duration', () => {
    expect(() => synth({ content: { repo: REPO, period: 30 as never } })).toThrow(
      /content.period must be a cdk8s Duration such as Duration.seconds\(30\), got 30/,
    );
  });
  test('a list prop is not a list, or a port is a bare number', () => {
    expect(() => synth({ app: APP, volumes: { name: 'v' } as never })).toThrow(/volumes must be a list, got \{"name":"v"\}/);
    expect(() => synth({ app: APP, sidecars: APP as never })).toThrow(/sidecars must be a list/);
    expect(() => synth({ app: { ...APP, ports: [8080 as never] } })).toThrow(/app.ports\[0\] must be a port \{ number, name\? \}, got 8080/);
  });
  test('a declared volume is mounted by no container (it would be dropped silently)', () => {
    expect(() => synth({ app: APP, volumes: [emptyDir('cache', { medium: kplus.EmptyDirMedium.MEMORY })] })).toThrow(
      /volumes "cache" is declared but mounted by no container: mount it or remove it/,
    );
  });
  test('a mount asks for Bidirectional propagation, or sets subPath and subPathExpr; a volume is a hostPath', () => {
    const v = sizedEmptyDir('v');
    expect(() => synth({ app: { ...APP, volumeMounts: [{ volume: v, path: '/v', propagation: kplus.MountPropagation.BIDIRECTIONAL }] } })).toThrow(
      /app.volumeMounts\[0\].propagation must not be Bidirectional \(only privileged containers may use it/,
    );
    expect(() => synth({ app: { ...APP, volumeMounts: [{ volume: v, path: '/v', subPath: 'a', subPathExpr: '$(POD)' }] } })).toThrow(
      /app.volumeMounts\[0\] must set at most one of subPath and subPathExpr/,
    );
    const host = kplus.Volume.fromHostPath(testChart(), 'Host', 'host', { path: '/var/log' });
    expect(() => synth({ app: { ...APP, volumeMounts: [{ volume: host, path: '/h' }] } })).toThrow(
      /app.volumeMounts\[0\].volume "host" must not be a hostPath volume \(Pod Security "baseline" forbids host paths\)/,
    );
    const { objects } = synth({ app: { ...APP, volumeMounts: [{ volume: v, path: '/v', propagation: kplus.MountPropagation.HOST_TO_CONTAINER }] } });
    expect(findContainer(findObject(objects, 'Deployment'), 'app').volumeMounts[0]).toMatchObject({ mountPropagation: 'HostToContainer' });
  });
  test('a mount is malformed for its volume', () => {
    expect(() => synth({ app: { ...APP, volumeMounts: [{ volume: secretVolume('s', 'x'), path: '/s', readOnly: false }] } })).toThrow(
      /app.volumeMounts\[0\].readOnly must not be false for the Secret volume "s": the kubelet mounts it read-only whatever is asked/,
    );
    expect(() => synth({ app: { ...APP, volumeMounts: [{ volume: sizedEmptyDir('v'), path: '/' }] } })).toThrow(
      /app.volumeMounts\[0\].path must not be "\/"/,
    );
  });
  test('a bare Pod is given Service options, or a Deployment createService (the kind is the construct)', () => {
    expect(() => bare({ app: APP, ingress: { host: 'a.example.com' } } as never)).toThrow(/SidecarBarePod props has no option "ingress"/);
    expect(() => synth({ app: APP, createService: false } as never)).toThrow(/SidecarDeployment props has no option "createService"/);
  });
  test('a container is not pinned, has a bad env name, workingDir or a name too long for its scratch volume', () => {
    expect(() => synth({ app: { ...APP, image: 'busybox' } })).toThrow(/app.image must be pinned with a tag or a digest/);
    expect(() => synth({ app: { ...APP, envVariables: { '1BAD': kplus.EnvValue.fromValue('x') } } })).toThrow(
      /app.envVariables name must be a valid environment variable name/,
    );
    expect(() => synth({ app: { ...APP, workingDir: 'srv' } })).toThrow(/app.workingDir must be an absolute path/);
    expect(() => synth({ app: { ...APP, name: 'a'.repeat(60), writableTmp: true } })).toThrow(
      /app.name must be at most 59 characters with writableTmp/,
    );
  });
});
