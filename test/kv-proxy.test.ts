import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Chart, Duration, Size, Testing } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-28';
import * as YAML from 'yaml';
import { KvProxyChart } from '../charts/kv-proxy';
import {
  KV_PROXY_DEFAULT_IMAGE,
  KV_PROXY_SERVER_DIR,
  KV_PROXY_SOURCE_DIR_CONTEXT,
  KvProxy,
  KvProxyAccessLog,
  KvProxyProps,
  ResolvedKvProxy,
  kvProxyRules,
  readServerSource,
  resolveKvProxy,
} from '../lib/kv-proxy';
import { contentHash } from '../lib/hash';
import { K8sObject, assertValid } from '../lib/testing';
import { findAll, findContainer, findObject, synthObjects, testChart } from './support/synth';
import { secretRef } from './support/refs';

// The server's own configuration parser and informer scopes: what the pod will do with the env we give it.

const { loadConfig } = require('../lib/kv-proxy/server/config.js');

const { scopesFor } = require('../lib/kv-proxy/server/cache.js');

const NS = 'kv';
const TOKENS = `Secret/${NS}/kv-proxy-tokens`;

/** A fixed server source for snapshots, so they do not change with every server edit. */
let fixtureDir: string;
const FIXTURE: Record<string, string> = {
  'server.js': "'use strict';\nrequire('./util.js');\n",
  'util.js': 'module.exports = {};\n',
};

beforeAll(() => {
  fixtureDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-proxy-src-'));
  for (const [name, text] of Object.entries(FIXTURE)) fs.writeFileSync(path.join(fixtureDir, name), text);
});
afterAll(() => fs.rmSync(fixtureDir, { recursive: true, force: true }));

/** Test props: KvProxyProps, and the server source folder (the construct's test hook, a context key). */
type TestProps = Partial<KvProxyProps> & { sourceDir?: string };

function synth(props: TestProps = {}, namespace: string = NS): { proxy: KvProxy; objects: K8sObject[] } {
  const { sourceDir, ...rest } = props;
  const chart = testChart(namespace);
  chart.node.setContext(KV_PROXY_SOURCE_DIR_CONTEXT, sourceDir ?? fixtureDir);
  const proxy = new KvProxy(chart, 'Kv', { namespaces: ['default'], ...rest });
  return { proxy, objects: synthObjects(chart) };
}

/** What the construct decides for these props (the pure resolve step, without synth). */
function resolved(props: TestProps = {}): ResolvedKvProxy {
  const { sourceDir, ...rest } = props;
  return resolveKvProxy({ namespaces: ['default'], ...rest }, { namespace: NS, sourceDir: sourceDir ?? fixtureDir });
}

/** The container's environment as synthesized, name to value. */
function envOf(objects: K8sObject[]): Record<string, string> {
  return Object.fromEntries(findContainer(findObject(objects, 'Deployment'), 'kv-proxy').env.map((e: any) => [e.name, e.value]));
}

function roleIn(objects: K8sObject[], namespace: string): K8sObject {
  const roles = findAll(objects, 'Role').filter((r) => r.metadata.namespace === namespace);
  if (roles.length !== 1) throw new Error(`expected one Role in ${namespace}, found ${roles.length}`);
  return roles[0];
}

function bindingIn(objects: K8sObject[], namespace: string): K8sObject {
  const bindings = findAll(objects, 'RoleBinding').filter((r) => r.metadata.namespace === namespace);
  if (bindings.length !== 1) throw new Error(`expected one RoleBinding in ${namespace}, found ${bindings.length}`);
  return bindings[0];
}

function tempSource(files: Record<string, string | Buffer>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-proxy-src-'));
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

const CONFIGMAPS_READ = { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] };
/** The server-source ConfigMap's name: `<name>-server-<content hash>` (of the snapshot fixture unless told). */
const SOURCE_CM = (name = 'kv-proxy', files: Record<string, string> = FIXTURE) => `${name}-server-${contentHash(files, 10)}`;
const DISCOVERY_RULES = [
  { apiGroups: [''], resources: ['services'], verbs: ['list', 'watch'] },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
];

describe('KvProxy', () => {
  describe('defaults', () => {
    test('synthesizes the hardened set (snapshot) and passes the validation gate', () => {
      // GIVEN only the required props  WHEN synthesized
      const { objects } = synth();
      // THEN the output is reviewed and valid with the token Secret declared external
      expect(objects).toMatchSnapshot();
      expect(() => assertValid(objects, { external: [TOKENS] })).not.toThrow();
      expect(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual([
        `ConfigMap/kv/${SOURCE_CM()}`,
        'Deployment/kv/kv-proxy',
        'NetworkPolicy/kv/kv-proxy',
        'PodDisruptionBudget/kv/kv-proxy',
        'Role/default/kv-proxy',
        'RoleBinding/default/kv-proxy',
        'Service/kv/kv-proxy',
        'ServiceAccount/kv/kv-proxy',
      ]);
    });

    test('the token Secret is the one reference that must exist out of band', () => {
      const { objects } = synth();
      expect(() => assertValid(objects)).toThrow(/Deployment\/kv\/kv-proxy: \[ref-secret\] volume "tokens" refers to Secret "kv-proxy-tokens"/);
    });

    test('resolves every @default', () => {
      // GIVEN only the required props
      const { proxy, objects } = synth();
      const r = resolved();
      // THEN the resolver and the public fields say what was decided
      expect(proxy.name).toBe('kv-proxy');
      expect(r.namespace).toBe(NS);
      expect(r.configMapNames).toBeUndefined();
      expect(r.labelSelector).toBeUndefined();
      expect(r.writes).toBe(false);
      expect(r.discovery).toBe(false);
      expect(r.consulApi).toBe(true);
      expect(r.serverEnv.KV_CONSUL_API).toBe('true');
      expect(r.tokenSecretName).toBe('kv-proxy-tokens');
      expect(proxy.tokenSecret.name).toBe('kv-proxy-tokens');
      expect(proxy.replicas).toBe(2);
      expect(proxy.image).toBe(KV_PROXY_DEFAULT_IMAGE);
      expect(proxy.image).toBe('node:24.13.0-alpine');
      expect(r.securityContext).toEqual({ user: 10000, group: 10000, fsGroup: 10000 });
      expect(proxy.port).toBe(8080);
      expect(proxy.servicePort).toBe(80);
      expect(r.maxBodyBytes).toBe(1048576);
      expect(r.timeouts).toEqual({
        maxWait: 50,
        ingressReadGiven: undefined,
        ingressRead: undefined,
        shutdown: 20,
        drainDelay: 5,
        upstream: 3,
        catchUp: 5,
        terminationGracePeriod: 30,
      });
      expect(r.expose.serviceType).toBe('ClusterIP');
      expect(r.apiServer).toEqual({ cidrs: undefined, ports: [443, 6443] });
      expect(proxy.labels).toEqual({
        'app.kubernetes.io/name': 'kv-proxy',
        'app.kubernetes.io/instance': 'kv-proxy',
        'app.kubernetes.io/component': 'api',
        'app.kubernetes.io/managed-by': 'cdk8s',
      });
      expect(proxy.selector).toEqual({ 'app.kubernetes.io/name': 'kv-proxy', 'app.kubernetes.io/instance': 'kv-proxy' });
      expect(proxy.ingress).toBeUndefined();
      expect(proxy.networkPolicy).toBeDefined();
      expect(proxy.podDisruptionBudget).toBeDefined();
      // and the manifests carry them
      const deployment = findObject(objects, 'Deployment', 'kv-proxy');
      const pod = deployment.spec.template.spec;
      const c = findContainer(deployment, 'kv-proxy');
      expect(deployment.spec.replicas).toBe(2);
      expect(c.image).toBe('node:24.13.0-alpine');
      expect(c.resources).toEqual({
        requests: { 'cpu': '50m', 'memory': '96Mi', 'ephemeral-storage': '0.0625Gi' },
        limits: { 'cpu': '500m', 'memory': '256Mi', 'ephemeral-storage': '0.25Gi' },
      });
      expect(c.ports).toEqual([{ name: 'http', containerPort: 8080 }]);
      expect(c.lifecycle).toEqual({ preStop: { exec: { command: ['sleep', '5'] } } });
      expect(pod.terminationGracePeriodSeconds).toBe(30);
      expect(pod.volumes).toContainEqual({ name: 'tokens', secret: { secretName: 'kv-proxy-tokens', defaultMode: 0o440 } });
      expect(findObject(objects, 'Service', 'kv-proxy').spec).toEqual(
        expect.objectContaining({
          type: 'ClusterIP',
          ports: [{ name: 'http', port: 80, targetPort: 8080 }],
        }),
      );
      expect(findAll(objects, 'Ingress')).toEqual([]);
      expect(findObject(objects, 'PodDisruptionBudget', 'kv-proxy').spec).toEqual({
        maxUnavailable: 1,
        selector: { matchLabels: { 'app.kubernetes.io/name': 'kv-proxy', 'app.kubernetes.io/instance': 'kv-proxy' } },
      });
      expect(r.sourceDir).toBe(fixtureDir);
    });

    test('reads the server source from lib/kv-proxy/server by default', () => {
      const chart = testChart(NS);
      const proxy = new KvProxy(chart, 'Kv', { namespaces: ['default'] });
      expect(resolveKvProxy({ namespaces: ['default'] }, { namespace: NS }).sourceDir).toBe(path.join(__dirname, '..', 'lib', 'kv-proxy', 'server'));
      expect(KV_PROXY_SERVER_DIR).toBe(path.join(__dirname, '..', 'lib', 'kv-proxy', 'server'));
      expect(synthObjects(chart).find((o) => o.metadata.name === proxy.sourceConfigMap.name)!.data).toEqual(readServerSource());
    });

    test('the default NetworkPolicy: same-namespace pods in on the proxy port; out only DNS and the API server ports', () => {
      const { objects } = synth();
      expect(findObject(objects, 'NetworkPolicy', 'kv-proxy').spec).toEqual({
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'kv-proxy', 'app.kubernetes.io/instance': 'kv-proxy' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 8080 }] }],
        egress: [
          {
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 },
            ],
          },
          {
            ports: [
              { protocol: 'TCP', port: 443 },
              { protocol: 'TCP', port: 6443 },
            ],
          },
        ],
      });
    });

    test('selectors are explicit recommended labels, not construct-path hashes', () => {
      const { objects } = synth();
      const selector = { 'app.kubernetes.io/name': 'kv-proxy', 'app.kubernetes.io/instance': 'kv-proxy' };
      expect(findObject(objects, 'Deployment').spec.selector).toEqual({ matchLabels: selector });
      expect(findObject(objects, 'Service').spec.selector).toEqual(selector);
      for (const o of objects) {
        expect(o.metadata.labels).toEqual(expect.objectContaining({ ...selector, 'app.kubernetes.io/managed-by': 'cdk8s' }));
      }
    });
  });

  describe('the server contract', () => {
    test('the ConfigMap holds exactly the bytes of every lib/kv-proxy/server/*.js file, sorted by name', () => {
      // GIVEN the real server source directory, read here independently of the construct
      const dir = path.join(__dirname, '..', 'lib', 'kv-proxy', 'server');
      const expected = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.js') && fs.statSync(path.join(dir, f)).isFile())
        .sort();
      expect(expected).toContain('server.js');
      // WHEN the construct is synthesized with its default source
      const chart = testChart(NS);
      new KvProxy(chart, 'Kv', { namespaces: ['default'] });
      const cm = findObject(synthObjects(chart), 'ConfigMap', SOURCE_CM('kv-proxy', readServerSource()));
      // THEN the keys are exactly the files, in order, and every value is the file byte for byte
      expect(Object.keys(cm.data)).toEqual(expected);
      expect(cm.binaryData).toBeUndefined();
      for (const f of expected) {
        expect(Buffer.from(cm.data[f], 'utf8').equals(fs.readFileSync(path.join(dir, f)))).toBe(true);
      }
    });

    test('the bytes survive the YAML that synth writes to dist/', () => {
      // GIVEN the app's YAML output (what ArgoCD applies)
      const app = Testing.app();
      const chart = new Chart(app, 'kv', { namespace: NS });
      new KvProxy(chart, 'Kv', { namespaces: ['default'] });
      const docs = YAML.parseAllDocuments(app.synthYaml() as unknown as string).map((d) => d.toJS());
      const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === SOURCE_CM('kv-proxy', readServerSource()));
      // THEN parsing it back gives the files byte for byte
      for (const [f, text] of Object.entries(readServerSource())) {
        expect(Buffer.from(cm.data[f], 'utf8').equals(Buffer.from(text, 'utf8'))).toBe(true);
        expect(Buffer.from(cm.data[f], 'utf8').equals(fs.readFileSync(path.join(KV_PROXY_SERVER_DIR, f)))).toBe(true);
      }
    });

    test('ships only *.js files directly in the directory, sorted, and keeps odd bytes intact', () => {
      // GIVEN a source directory with other files, a subdirectory, and content YAML likes to mangle
      const tricky = "'use strict';\r\n// trailing space \n\t\u00e9\u2603 --- \n...\n# not a comment\n\n\n";
      const dir = tempSource({
        'z.js': 'z\n',
        'server.js': tricky,
        'a.js': 'no newline at end',
        'README.md': '# no',
        'notes.json': '{}',
        'sub/x.js': 'x',
      });
      try {
        // WHEN synthesized and written as YAML
        const app = Testing.app();
        const chart = new Chart(app, 'kv', { namespace: NS });
        chart.node.setContext(KV_PROXY_SOURCE_DIR_CONTEXT, dir);
        new KvProxy(chart, 'Kv', { namespaces: ['default'] });
        const yamlCm = YAML.parseAllDocuments(app.synthYaml() as unknown as string)
          .map((d) => d.toJS())
          .find((d) => d.kind === 'ConfigMap');
        // THEN
        expect(Object.keys(resolved({ sourceDir: dir }).sourceFiles)).toEqual(['a.js', 'server.js', 'z.js']);
        expect(Object.keys(yamlCm.data)).toEqual(['a.js', 'server.js', 'z.js']);
        expect(yamlCm.data['server.js']).toBe(tricky);
        expect(yamlCm.data['a.js']).toBe('no newline at end');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('changing the source rolls the pods; the same source does not', () => {
      const a = tempSource({ 'server.js': 'one\n' });
      const b = tempSource({ 'server.js': 'one\n' });
      const c = tempSource({ 'server.js': 'one \n' });
      try {
        const hashOf = (dir: string) =>
          findObject(synth({ sourceDir: dir }).objects, 'Deployment').spec.template.metadata.annotations['checksum/server'];
        expect(hashOf(a)).toMatch(/^[0-9a-f]{64}$/);
        expect(hashOf(a)).toBe(hashOf(b));
        expect(hashOf(a)).not.toBe(hashOf(c));
        expect(resolved({ sourceDir: a }).sourceHash).toBe(hashOf(a));
      } finally {
        for (const d of [a, b, c]) fs.rmSync(d, { recursive: true, force: true });
      }
    });

    test('the container runs node /opt/kv-proxy/server.js from the read-only source mount with the contract env', () => {
      // GIVEN every option that reaches the environment
      const { objects } = synth({
        namespaces: ['default', 'apps'],
        configMapNames: ['flags', 'routes'],
        labelSelector: 'kv.example.com/exposed=true',
        writes: true,
        discovery: true,
        port: 9090,
        maxBodyBytes: 4096,
        maxWait: Duration.seconds(30),
        shutdownTimeout: Duration.seconds(10),
      });
      const deployment = findObject(objects, 'Deployment', 'kv-proxy');
      const pod = deployment.spec.template.spec;
      const c = findContainer(deployment, 'kv-proxy');
      // THEN command, env, mounts and probes are the server's contract
      expect(c.command).toEqual(['node', '--max-semi-space-size=2', '/opt/kv-proxy/server.js']);
      expect(c.args).toBeUndefined();
      expect(c.env).toEqual([
        { name: 'PORT', value: '9090' },
        { name: 'KV_NAMESPACES', value: 'default,apps' },
        { name: 'KV_CONFIGMAP_NAMES', value: 'flags,routes' },
        { name: 'KV_LABEL_SELECTOR', value: 'kv.example.com/exposed=true' },
        { name: 'KV_WRITE_ENABLED', value: 'true' },
        { name: 'KV_DISCOVERY_ENABLED', value: 'true' },
        { name: 'KV_CONSUL_API', value: 'true' },
        { name: 'KV_TOKENS_DIR', value: '/etc/kv-proxy/tokens' },
        { name: 'KV_MAX_BODY_BYTES', value: '4096' },
        { name: 'KV_MAX_WAIT_SECONDS', value: '30' },
        { name: 'KV_SHUTDOWN_TIMEOUT_SECONDS', value: '10' },
        { name: 'KV_SELF_CONFIGMAPS', value: 'kv/kv-proxy-server-*' },
        { name: 'KV_ACCESS_LOG', value: 'errors' },
        { name: 'KV_UPSTREAM_TIMEOUT_SECONDS', value: '3' },
        { name: 'KV_CATCH_UP_TIMEOUT_SECONDS', value: '5' },
        { name: 'KV_METRICS_AUTH', value: 'token' },
        { name: 'KV_WRITABLE_LABEL', value: 'kv-proxy.cdk8s-patterns.io/writable=true' },
        { name: 'KV_AUDIT_LOG', value: 'stdout' },
      ]);
      expect(c.volumeMounts).toEqual([
        { name: 'server', mountPath: '/opt/kv-proxy', readOnly: true },
        { name: 'tokens', mountPath: '/etc/kv-proxy/tokens', readOnly: true },
      ]);
      expect(pod.volumes).toEqual([
        { name: 'server', configMap: { name: SOURCE_CM(), defaultMode: 0o444 } },
        { name: 'tokens', secret: { secretName: 'kv-proxy-tokens', defaultMode: 0o440 } },
      ]);
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 9090, scheme: 'HTTP' });
      expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 9090, scheme: 'HTTP' });
      expect(pod.terminationGracePeriodSeconds).toBe(5 + 10 + 5);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(10);
      // only this pod gets an API token, through its own ServiceAccount
      expect(pod.serviceAccountName).toBe('kv-proxy');
      expect(pod.automountServiceAccountToken).toBe(true);
      expect(pod.enableServiceLinks).toBe(false);
      expect(findObject(objects, 'ServiceAccount', 'kv-proxy').automountServiceAccountToken).toBe(false);
      // hardened: node user, read-only root, nothing writable mounted
      expect(c.securityContext).toEqual({
        runAsUser: 10000,
        runAsGroup: 10000,
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.securityContext).toEqual(expect.objectContaining({ runAsUser: 10000, runAsGroup: 10000, fsGroup: 10000, runAsNonRoot: true }));
      expect(pod.volumes.filter((v: any) => v.emptyDir)).toEqual([]);
    });

    test('the server accepts the synthesized environment and reads it as intended', () => {
      // GIVEN a configuration with every env var set
      const { objects } = synth({
        namespaces: ['default', 'apps'],
        configMapNames: ['flags'],
        labelSelector: 'tier in (a,b),!legacy',
        writes: true,
        discovery: true,
        maxBodyBytes: 2048,
        maxWait: Duration.seconds(0),
        shutdownTimeout: Duration.hours(1),
      });
      const c = findContainer(findObject(objects, 'Deployment'), 'kv-proxy');
      const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
      // WHEN the server's own loader reads it (as in a pod, where the kubelet sets KUBERNETES_SERVICE_*)
      const config = loadConfig({ ...env, KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' });
      // THEN
      expect(config).toEqual(
        expect.objectContaining({
          port: 8080,
          namespaces: ['default', 'apps'],
          configMapNames: ['flags'],
          writeEnabled: true,
          discoveryEnabled: true,
          tokensDir: '/etc/kv-proxy/tokens',
          maxBodyBytes: 2048,
          maxWaitSeconds: 0,
          shutdownTimeoutSeconds: 3600,
        }),
      );
      expect(config.labelSelector.text).toBe('tier in (a,b),!legacy');
      expect(config.kube).toEqual(
        expect.objectContaining({
          inCluster: true,
          tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
        }),
      );
      // and the defaults, too
      const defaults = Object.fromEntries(
        findContainer(findObject(synth().objects, 'Deployment'), 'kv-proxy').env.map((e: any) => [e.name, e.value]),
      );
      expect(loadConfig({ ...defaults, KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' })).toEqual(
        expect.objectContaining({
          port: 8080,
          namespaces: ['default'],
          configMapNames: undefined,
          labelSelector: undefined,
          writeEnabled: false,
          discoveryEnabled: false,
          maxBodyBytes: 1048576,
          maxWaitSeconds: 50,
          shutdownTimeoutSeconds: 20,
        }),
      );
    });
  });

  describe('RBAC: exactly what the configuration needs', () => {
    test('read-only (default): get/list/watch on configmaps, nothing else', () => {
      const { objects } = synth();
      expect(roleIn(objects, 'default').rules).toEqual([CONFIGMAPS_READ]);
    });

    test('writes: adds create and patch on configmaps (never update, delete or deletecollection)', () => {
      const { objects } = synth({ writes: true });
      expect(roleIn(objects, 'default').rules).toEqual([
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
      ]);
    });

    test('names given, read-only: restricted by resourceNames', () => {
      const { objects } = synth({ configMapNames: ['flags', 'routes'] });
      expect(roleIn(objects, 'default').rules).toEqual([
        { apiGroups: [''], resources: ['configmaps'], resourceNames: ['flags', 'routes'], verbs: ['get', 'list', 'watch'] },
      ]);
    });

    test('names given with writes: patch by name, no create (RBAC cannot restrict create by name)', () => {
      const { objects } = synth({ configMapNames: ['flags'], writes: true });
      expect(roleIn(objects, 'default').rules).toEqual([
        { apiGroups: [''], resources: ['configmaps'], resourceNames: ['flags'], verbs: ['get', 'list', 'watch', 'patch'] },
      ]);
    });

    test('discovery on: list/watch on services and discovery.k8s.io endpointslices', () => {
      const { objects } = synth({ discovery: true });
      expect(roleIn(objects, 'default').rules).toEqual([CONFIGMAPS_READ, ...DISCOVERY_RULES]);
    });

    test('discovery off: no access to services or endpointslices', () => {
      const { objects } = synth({ discovery: false, writes: true });
      const rules = roleIn(objects, 'default').rules;
      expect(rules).toEqual([{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'patch'] }]);
      expect(JSON.stringify(rules)).not.toMatch(/services|endpointslices/);
    });

    test("two namespaces: one Role and one RoleBinding in each, bound to the proxy's own ServiceAccount", () => {
      // GIVEN a proxy in "kv" serving two other namespaces
      const { objects } = synth({ namespaces: ['team-a', 'team-b'], discovery: true, writes: true, configMapNames: ['flags'] });
      const expectedRules = [
        { apiGroups: [''], resources: ['configmaps'], resourceNames: ['flags'], verbs: ['get', 'list', 'watch', 'patch'] },
        ...DISCOVERY_RULES,
      ];
      // THEN exactly two Roles and two bindings, none in the proxy's own namespace
      expect(
        findAll(objects, 'Role')
          .map((r) => r.metadata.namespace)
          .sort(),
      ).toEqual(['team-a', 'team-b']);
      expect(
        findAll(objects, 'RoleBinding')
          .map((r) => r.metadata.namespace)
          .sort(),
      ).toEqual(['team-a', 'team-b']);
      for (const ns of ['team-a', 'team-b']) {
        expect(roleIn(objects, ns)).toEqual(
          expect.objectContaining({ metadata: expect.objectContaining({ name: 'kv-proxy' }), rules: expectedRules }),
        );
        const binding = bindingIn(objects, ns);
        expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kv-proxy' });
        expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'kv-proxy', namespace: NS }]);
      }
      expect(findAll(objects, 'ClusterRole')).toEqual([]);
      expect(findAll(objects, 'ClusterRoleBinding')).toEqual([]);
      expect(() => assertValid(objects, { external: [TOKENS] })).not.toThrow();
    });

    test('nothing is granted to the default ServiceAccount', () => {
      const { objects } = synth({ namespaces: ['default', NS], writes: true, discovery: true });
      for (const b of findAll(objects, 'RoleBinding')) {
        expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'kv-proxy', namespace: NS }]);
      }
      expect(findObject(objects, 'Deployment').spec.template.spec.serviceAccountName).toBe('kv-proxy');
    });

    test.each([
      ['read-only', {}],
      ['writes', { writes: true }],
      ['names', { configMapNames: ['flags', 'routes'] }],
      ['names + writes + discovery', { configMapNames: ['flags'], writes: true, discovery: true }],
      ['selector + discovery, two namespaces', { namespaces: ['a', 'b'], labelSelector: 'x=y', discovery: true }],
    ])('covers every API call the server makes (%s)', (_what, props: Partial<KvProxyProps>) => {
      // GIVEN the server's own plan of list/watch scopes for the synthesized env
      const { objects } = synth(props);
      const env = Object.fromEntries(findContainer(findObject(objects, 'Deployment'), 'kv-proxy').env.map((e: any) => [e.name, e.value]));
      const config = loadConfig({ ...env, KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' });
      const scopes: Array<{ resource: string; namespace: string; name?: string }> = scopesFor(config);
      expect(scopes.length).toBeGreaterThan(0);
      // THEN every list and watch is allowed by the Role in that namespace (a single-name scope must be pinned by resourceNames)
      const group = (resource: string) => (resource === 'endpointslices' ? 'discovery.k8s.io' : '');
      const allows = (rules: any[], verb: string, resource: string, name?: string) =>
        rules.some(
          (r) =>
            r.apiGroups.includes(group(resource)) &&
            r.resources.includes(resource) &&
            r.verbs.includes(verb) &&
            (!r.resourceNames || (name !== undefined && r.resourceNames.includes(name))),
        );
      for (const s of scopes) {
        const rules = roleIn(objects, s.namespace).rules;
        for (const verb of ['list', 'watch']) expect([s, verb, allows(rules, verb, s.resource, s.name)]).toEqual([s, verb, true]);
      }
      // and nothing beyond the scopes' resources is granted
      const granted = new Set(findAll(objects, 'Role').flatMap((r) => r.rules.flatMap((x: any) => x.resources)));
      expect([...granted].sort()).toEqual([...new Set(scopes.map((s) => s.resource))].sort());
    });

    test('kvProxyRules is what every Role carries', () => {
      const { proxy, objects } = synth({ namespaces: ['a', 'b'], writes: true });
      expect(resolved({ namespaces: ['a', 'b'], writes: true }).rules).toEqual(kvProxyRules({ writes: true, discovery: false }));
      for (const ns of ['a', 'b']) expect(roleIn(objects, ns).rules).toEqual(kvProxyRules({ writes: true, discovery: false }));
      expect(Object.keys(proxy.roles).sort()).toEqual(['a', 'b']);
    });
  });

  describe('the server source cannot be changed by clients (issue 16)', () => {
    test('the source ConfigMap is immutable and named after its content; a new source is a new ConfigMap', () => {
      // GIVEN two versions of the source
      const a = tempSource({ 'server.js': 'v1\n' });
      const b = tempSource({ 'server.js': 'v2\n' });
      try {
        // WHEN synthesized
        const one = synth({ sourceDir: a });
        const two = synth({ sourceDir: b });
        const cmOne = findObject(one.objects, 'ConfigMap', one.proxy.sourceConfigMap.name);
        // THEN
        expect(cmOne.immutable).toBe(true);
        expect(one.proxy.sourceConfigMap.name).toBe(`kv-proxy-server-${contentHash({ 'server.js': 'v1\n' }, 10)}`);
        expect(two.proxy.sourceConfigMap.name).not.toBe(one.proxy.sourceConfigMap.name);
        const volume = (o: K8sObject[]) => findObject(o, 'Deployment', 'kv-proxy').spec.template.spec.volumes.find((v: any) => v.name === 'server');
        expect(volume(one.objects).configMap.name).toBe(one.proxy.sourceConfigMap.name);
        expect(volume(two.objects).configMap.name).toBe(two.proxy.sourceConfigMap.name);
      } finally {
        for (const d of [a, b]) fs.rmSync(d, { recursive: true, force: true });
      }
    });

    test('the server is told which ConfigMap it runs from, so it refuses to write it', () => {
      const { proxy, objects } = synth({ namespaces: [NS, 'default'], writes: true });
      expect(envOf(objects).KV_SELF_CONFIGMAPS).toBe(`${NS}/kv-proxy-server-*`);
      expect(proxy.sourceConfigMap.name.startsWith('kv-proxy-server-')).toBe(true);
      const config = loadConfig({ ...envOf(objects), KUBE_API_URL: 'http://127.0.0.1:8001' });
      expect(config.selfConfigMaps).toEqual([`${NS}/kv-proxy-server-*`]);
    });

    test('with writes on its own namespace the Role grants no update or delete, so the immutable source stays as shipped', () => {
      const { objects } = synth({ namespaces: [NS], writes: true });
      const verbs = roleIn(objects, NS).rules.flatMap((r: any) => r.verbs);
      expect(verbs).not.toContain('update');
      expect(verbs).not.toContain('delete');
      expect(verbs).not.toContain('*');
    });

    test("fails when configMapNames serves the proxy's own source ConfigMap", () => {
      expect(() => synth({ namespaces: [NS], writes: true, configMapNames: [SOURCE_CM()] })).toThrow(
        /configMapNames must not include the proxy's own source ConfigMap, got "kv-proxy-server-[0-9a-f]{10}"/,
      );
    });
  });

  describe('logging, timeouts and metrics (issue 16)', () => {
    test('defaults: errors-only access log, 3 s upstream timeout, 5 s catch-up, /metrics behind a metrics token', () => {
      const { proxy, objects } = synth();
      const r = resolved();
      expect(r.accessLog).toBe(KvProxyAccessLog.ERRORS);
      expect(r.timeouts.upstream).toBe(3);
      expect(r.timeouts.catchUp).toBe(5);
      expect(r.metrics).toEqual({ port: undefined, auth: 'token', allowFrom: undefined });
      expect(proxy.metricsNetworkPolicy).toBeUndefined();
      const c = findContainer(findObject(objects, 'Deployment', 'kv-proxy'), 'kv-proxy');
      expect(c.ports).toEqual([{ name: 'http', containerPort: 8080 }]);
      expect(c.resources).toEqual({
        requests: { 'cpu': '50m', 'memory': '96Mi', 'ephemeral-storage': '0.0625Gi' },
        limits: { 'cpu': '500m', 'memory': '256Mi', 'ephemeral-storage': '0.25Gi' },
      });
    });

    test('options reach the environment the server reads', () => {
      const { objects } = synth({
        accessLog: KvProxyAccessLog.OFF,
        upstreamTimeout: Duration.seconds(1),
        catchUpTimeout: Duration.seconds(0),
        metricsPort: 9102,
      });
      const config = loadConfig({ ...envOf(objects), KUBE_API_URL: 'http://127.0.0.1:8001' });
      expect(config).toEqual(
        expect.objectContaining({
          accessLog: 'off',
          upstreamTimeoutMs: 1000,
          catchUpTimeoutMs: 0,
          metricsPort: 9102,
          metricsAuth: 'none',
        }),
      );
      const c = findContainer(findObject(objects, 'Deployment', 'kv-proxy'), 'kv-proxy');
      expect(c.ports).toContainEqual({ name: 'metrics', containerPort: 9102 });
      // the Service does not expose the metrics port; its own NetworkPolicy opens it to the namespace's pods
      expect(findObject(objects, 'Service', 'kv-proxy').spec.ports.map((p: any) => p.targetPort)).toEqual([8080]);
      const np = findObject(objects, 'NetworkPolicy', 'kv-proxy-metrics');
      expect(np.spec.ingress).toEqual([{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 9102 }] }]);
      expect(envOf(synth({ metricsPort: 9102, metricsAuth: 'token' }).objects).KV_METRICS_AUTH).toBe('token');
    });

    test('consulApi: false turns the Consul API off in the environment the server reads', () => {
      const { objects } = synth({ consulApi: false });
      expect(resolved({ consulApi: false }).consulApi).toBe(false);
      expect(loadConfig({ ...envOf(objects), KUBE_API_URL: 'http://127.0.0.1:8001' }).consulApi).toBe(false);
      expect(loadConfig({ ...envOf(synth().objects), KUBE_API_URL: 'http://127.0.0.1:8001' }).consulApi).toBe(true);
    });

    test.each([
      [{ accessLog: 'verbose' as KvProxyAccessLog }, /accessLog must be one of "off", "errors", "all", got "verbose"/],
      [{ upstreamTimeout: Duration.seconds(0) }, /upstreamTimeout must be between 1 and 60 seconds, got 0 s/],
      [{ catchUpTimeout: Duration.seconds(61) }, /catchUpTimeout must be between 0 and 60 seconds, got 61 s/],
      [{ metricsPort: 8080 }, /metricsPort must differ from port, got 8080 for both/],
      [{ metricsPort: 80 }, /metricsPort/],
      [{ metricsAllowFrom: [{ podSelector: {} }] }, /metricsAllowFrom is set without metricsPort/],
      [{ metricsAuth: 'basic' as 'token' }, /metricsAuth must be one of "token", "none", got "basic"/],
    ])('fails when %j', (props, message) => {
      expect(() => synth(props)).toThrow(message);
    });
  });

  describe('options', () => {
    test('name, replicas, image, securityContext, ports, resources and timing', () => {
      const { objects } = synth({
        name: 'flags',
        replicas: 3,
        image: 'registry.example.com/node:22.21.1-alpine',
        securityContext: { user: 14242 },
        port: 3000,
        servicePort: 8081,
        shutdownTimeout: Duration.seconds(40),
        drainDelay: Duration.seconds(0),
        tokenSecret: secretRef('client-tokens'),
      });
      const d = findObject(objects, 'Deployment', 'flags');
      const c = findContainer(d, 'kv-proxy');
      expect(d.spec.replicas).toBe(3);
      expect(c.image).toBe('registry.example.com/node:22.21.1-alpine');
      expect(c.securityContext).toEqual(expect.objectContaining({ runAsUser: 14242, runAsGroup: 14242 }));
      expect(c.lifecycle).toBeUndefined();
      expect(d.spec.template.spec.terminationGracePeriodSeconds).toBe(45);
      expect(d.spec.template.spec.volumes).toContainEqual({ name: 'tokens', secret: { secretName: 'client-tokens', defaultMode: 0o440 } });
      expect(findObject(objects, 'Service', 'flags').spec.ports).toEqual([{ name: 'http', port: 8081, targetPort: 3000 }]);
      expect(findObject(objects, 'ConfigMap', SOURCE_CM('flags'))).toBeDefined();
      expect(findObject(objects, 'ServiceAccount', 'flags')).toBeDefined();
      expect(() => assertValid(objects, { external: ['Secret/kv/client-tokens'] })).not.toThrow();
    });

    test('custom resources', () => {
      const { objects } = synth({
        resources: {
          cpu: { request: Cpu.millis(100), limit: Cpu.millis(1000) },
          memory: { request: Size.mebibytes(128), limit: Size.mebibytes(512) },
        },
      });
      expect(findContainer(findObject(objects, 'Deployment'), 'kv-proxy').resources).toEqual({
        // resources without ephemeralStorage still get DEFAULT_EPHEMERAL_STORAGE
        requests: { 'cpu': '100m', 'memory': '128Mi', 'ephemeral-storage': '0.0625Gi' },
        limits: { 'cpu': '1000m', 'memory': '512Mi', 'ephemeral-storage': '0.25Gi' },
      });
    });

    test('resources are merged field by field over the defaults: a CPU limit alone keeps the CPU request and the memory', () => {
      const { objects } = synth({ resources: { cpu: { limit: Cpu.millis(1000) } } });
      expect(findContainer(findObject(objects, 'Deployment'), 'kv-proxy').resources).toEqual({
        requests: { 'cpu': '50m', 'memory': '96Mi', 'ephemeral-storage': '0.0625Gi' },
        limits: { 'cpu': '1000m', 'memory': '256Mi', 'ephemeral-storage': '0.25Gi' },
      });
      expect(() => synth({ resources: { memory: { request: Size.mebibytes(512) } } })).toThrow(
        /resources.memory.request .* (limit|above).*after merging the given resources over the defaults/,
      );
    });

    test('replicas 0 synthesizes a valid scaled-down Deployment without spread or PodDisruptionBudget', () => {
      const { objects } = synth({ replicas: 0 });
      const d = findObject(objects, 'Deployment', 'kv-proxy');
      expect(d.spec.replicas).toBe(0);
      expect(d.spec.template.spec.affinity).toBeUndefined();
      expect(findAll(objects, 'PodDisruptionBudget')).toEqual([]);
      expect(() => assertValid(objects, { external: [TOKENS] })).not.toThrow();
    });

    test('pods are spread over nodes from 2 replicas, not with 1', () => {
      const affinity = (replicas: number) => findObject(synth({ replicas }).objects, 'Deployment').spec.template.spec.affinity;
      expect(affinity(1)).toBeUndefined();
      expect(affinity(2)).toEqual({
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 100,
              podAffinityTerm: {
                topologyKey: 'kubernetes.io/hostname',
                labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'kv-proxy', 'app.kubernetes.io/instance': 'kv-proxy' } },
              },
            },
          ],
        },
      });
    });

    test('securityContext sets user, group and fsGroup apart', () => {
      const d = findObject(synth({ securityContext: { user: 20000, group: 20001, fsGroup: 20002 } }).objects, 'Deployment');
      expect(findContainer(d, 'kv-proxy').securityContext).toEqual(expect.objectContaining({ runAsUser: 20000, runAsGroup: 20001 }));
      expect(d.spec.template.spec.securityContext).toEqual(expect.objectContaining({ runAsUser: 20000, runAsGroup: 20001, fsGroup: 20002 }));
    });

    test('an Ingress to the Service, and the controller namespace let in', () => {
      // GIVEN ingress on
      const { proxy, objects } = synth({ ingress: { className: 'nginx' } });
      // THEN
      expect(findObject(objects, 'Ingress', 'kv-proxy').spec).toEqual({
        ingressClassName: 'nginx',
        rules: [{ http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'kv-proxy', port: { number: 80 } } } }] } }],
      });
      expect(proxy.ingress).toBeDefined();
      expect(findObject(objects, 'Ingress', 'kv-proxy').metadata.annotations).toBeUndefined();
      expect(findObject(objects, 'NetworkPolicy').spec.ingress).toEqual([
        {
          from: [{ podSelector: {} }, { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }],
          ports: [{ protocol: 'TCP', port: 8080 }],
        },
      ]);
      expect(() => assertValid(objects, { external: [TOKENS] })).not.toThrow();
    });

    test('Ingress host, path, class, TLS, annotations and controller namespace', () => {
      const { objects } = synth({
        ingress: {
          host: 'kv.example.com',
          path: '/api',
          className: 'traefik',
          tlsSecret: secretRef('kv-tls'),
          annotations: { 'traefik.ingress.kubernetes.io/router.entrypoints': 'websecure' },
        },
        networkPolicy: { ingressControllerNamespace: 'traefik' },
      });
      const ing = findObject(objects, 'Ingress', 'kv-proxy');
      expect(ing.metadata.annotations).toEqual({ 'traefik.ingress.kubernetes.io/router.entrypoints': 'websecure' });
      expect(ing.spec).toEqual({
        ingressClassName: 'traefik',
        rules: [
          {
            host: 'kv.example.com',
            http: { paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'kv-proxy', port: { number: 80 } } } }] },
          },
        ],
        tls: [{ hosts: ['kv.example.com'], secretName: 'kv-tls' }],
      });
      expect(findObject(objects, 'NetworkPolicy').spec.ingress[0].from).toContainEqual({
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'traefik' } },
      });
      expect(() => assertValid(objects, { external: [TOKENS] })).not.toThrow();
    });

    test('NetworkPolicy peers and API server addresses', () => {
      const { objects } = synth({
        networkPolicy: {
          allowFrom: [
            { namespaceSelector: { matchLabels: { team: 'apps' } }, podSelector: { matchLabels: { kv: 'client' } } },
            { ipBlock: { cidr: '10.0.0.0/8' } },
          ],
        },
        apiServerCidrs: ['172.20.0.1/32', 'fd00::1/128'],
        apiServerPorts: [443],
      });
      const spec = findObject(objects, 'NetworkPolicy').spec;
      expect(spec.ingress).toEqual([
        {
          from: [
            { namespaceSelector: { matchLabels: { team: 'apps' } }, podSelector: { matchLabels: { kv: 'client' } } },
            { ipBlock: { cidr: '10.0.0.0/8' } },
          ],
          ports: [{ protocol: 'TCP', port: 8080 }],
        },
      ]);
      expect(spec.egress[1]).toEqual({
        to: [{ ipBlock: { cidr: '172.20.0.1/32' } }, { ipBlock: { cidr: 'fd00::1/128' } }],
        ports: [{ protocol: 'TCP', port: 443 }],
      });
      expect(() => assertValid(objects, { external: [TOKENS] })).not.toThrow();
    });

    test('networkPolicy: false creates none', () => {
      const { proxy, objects } = synth({ networkPolicy: false });
      expect(findAll(objects, 'NetworkPolicy')).toEqual([]);
      expect(proxy.networkPolicy).toBeUndefined();
    });
  });

  describe('fails when', () => {
    const cases: Array<[string, Partial<KvProxyProps>, RegExp]> = [
      ['namespaces is empty', { namespaces: [] }, /namespaces must list at least one namespace to serve, got \[\]/],
      ['a namespace is not a DNS label', { namespaces: ['Default'] }, /namespaces\[0\] must be a DNS-1123 label.*got "Default"/],
      ['a namespace is too long', { namespaces: ['a'.repeat(64)] }, /namespaces\[0\] must be a DNS-1123 label/],
      ['a namespace is repeated', { namespaces: ['a', 'b', 'a'] }, /namespaces must not repeat entries, got "a" twice/],
      ['a configMapName is not a valid name', { configMapNames: ['Flags_1'] }, /configMapNames\[0\] must be a DNS-1123 subdomain.*got "Flags_1"/],
      ['a configMapName is repeated', { configMapNames: ['flags', 'flags'] }, /configMapNames must not repeat entries, got "flags" twice/],
      ['configMapNames is empty', { configMapNames: [] }, /configMapNames must not be empty/],
      ['the label selector does not parse', { labelSelector: 'a in (b' }, /labelSelector must be a Kubernetes label selector.*got "a in \(b"/],
      ['the label selector is blank', { labelSelector: '  ' }, /labelSelector must not be empty/],
      ['name is not a DNS label', { name: 'KV' }, /name must be a DNS-1123 label.*got "KV"/],
      ['name is too long for the suffixes', { name: 'a'.repeat(48) }, /name must be at most 47 characters/],
      [
        'the tokenSecret name is not a valid name',
        { tokenSecret: secretRef('tokens/x') },
        /tokenSecret name must be a DNS-1123 subdomain.*got "tokens\/x"/,
      ],
      [
        'tokenSecret is a string',
        { tokenSecret: 'kv-tokens' as never },
        /tokenSecret must be a kplus.ISecret, such as kplus.Secret.fromSecretName\(this, 'Secret', 'kv-proxy-tokens'\)/,
      ],
      ['replicas is above 1000', { replicas: 1001 }, /replicas must be an integer 0-1000, got 1001/],
      ['replicas is negative', { replicas: -1 }, /replicas must be an integer 0-1000, got -1/],
      ['the image is not pinned', { image: 'node' }, /image must be pinned with a tag or a digest, got "node"/],
      ['the image is latest', { image: 'node:latest' }, /image must not use the floating "latest" tag/],
      ['the image is not an image reference', { image: 'Node 24' }, /image must be a valid image reference/],
      ['securityContext.user is 0', { securityContext: { user: 0 } }, /securityContext.user must be an integer 1-2147483647, got 0/],
      [
        'securityContext has an unknown key',
        { securityContext: { uid: 5 } as never },
        /securityContext.uid is not a setting here: use user, group or fsGroup/,
      ],
      ['port is out of range', { port: 70000 }, /port must be an integer 1024-65535 .*got 70000/],
      ['port is privileged', { port: 80 }, /port must be an integer 1024-65535 \(the container runs as non-root without NET_BIND_SERVICE\), got 80/],
      [
        'the image runs a Node.js line the server does not support',
        { image: 'node:18.20.4-alpine' },
        /image must run Node.js 22 or 24 \(the versions the server supports\), got "node:18.20.4-alpine" \(Node.js 18\)/,
      ],
      ['the label selector is not a string', { labelSelector: 5 as never }, /labelSelector must be a string such as "app=kv,tier in \(a,b\)", got 5/],
      [
        'the image floats on a Node.js tag without a version',
        { image: 'node:lts-alpine' },
        /image must pin a full Node.js version x\.y\.z in its tag .*got "node:lts-alpine"/,
      ],
      ['the image runs Node.js 20', { image: 'mirror.example.com/library/node:20.18.1-slim' }, /image must run Node.js 22 or 24 .*\(Node.js 20\)/],
      ['namespaces is left out', { namespaces: undefined }, /namespaces is required/],
      ['a prop of the old API is given', { ingressHost: 'kv.example.com' } as never, /KvProxy props has no option "ingressHost"/],
      ['a prop is misspelled', { replica: 3 } as never, /KvProxy props has no option "replica" \(did you mean "replicas"\?\)/],
      [
        'writes is a string (any non-empty string would have enabled writes)',
        { writes: 'false' as never },
        /writes must be true or false, got "false"/,
      ],
      ['discovery is a number', { discovery: 1 as never }, /discovery must be true or false, got 1/],
      [
        'serviceType is in the wrong case',
        { serviceType: 'clusterip' as never },
        /serviceType must be one of "ClusterIP", "NodePort", "LoadBalancer", got "clusterip" \(did you mean "ClusterIP"\?\)/,
      ],
      ['servicePort is out of range', { servicePort: 0 }, /servicePort must be an integer port 1-65535, got 0/],
      ['maxBodyBytes exceeds a ConfigMap', { maxBodyBytes: 1048577 }, /maxBodyBytes must be an integer 1-1048576, got 1048577/],
      ['maxBodyBytes is 0', { maxBodyBytes: 0 }, /maxBodyBytes must be an integer 1-1048576, got 0/],
      ['maxWait is too long', { maxWait: Duration.seconds(3601) }, /maxWait must be between 0 and 3600 seconds, got 3601 s/],
      ['maxWait is not whole seconds', { maxWait: Duration.millis(1500) }, /maxWait must be a whole number of seconds, got 1500 ms/],
      ['maxWait is a number', { maxWait: 30 as never }, /maxWait must be a cdk8s Duration such as Duration.seconds\(30\), got 30/],
      ['shutdownTimeout is 0', { shutdownTimeout: Duration.seconds(0) }, /shutdownTimeout must be between 1 and 3600 seconds, got 0 s/],
      ['drainDelay is too long', { drainDelay: Duration.minutes(6) }, /drainDelay must be between 0 and 300 seconds, got 360 s/],
      ['a prop of 0.1 is given', { maxWaitSeconds: 30 } as never, /KvProxy props has no option "maxWaitSeconds" \(did you mean "maxWait"\?\)/],
      [
        'the ingress host is invalid',
        { ingress: { host: 'KV.example.com' } },
        /ingress.host must be a host name such as "www.example.com" or "\*.example.com", got "KV.example.com"/,
      ],
      ['the ingress class is invalid', { ingress: { className: 'Nginx' } }, /ingress.className must be a DNS-1123 subdomain/],
      ['the ingress path is relative', { ingress: { path: 'api' } }, /ingress.path must be an absolute URL path like "\/" or "\/healthz".*got "api"/],
      ['TLS has no host', { ingress: { tlsSecret: secretRef('kv-tls') } }, /ingress.tlsSecret needs ingress.host \(the certificate's host\)/],
      [
        'an ingress annotation key is invalid',
        { ingress: { annotations: { 'bad key': 'x' } } },
        /ingress.annotations key must be a qualified name.*got "bad key"/,
      ],
      ['allowFrom is empty', { networkPolicy: { allowFrom: [] } }, /networkPolicy.allowFrom must list at least one peer/],
      [
        'an allowFrom peer is empty',
        { networkPolicy: { allowFrom: [{}] } },
        /networkPolicy.allowFrom\[0\] must set podSelector, namespaceSelector or ipBlock/,
      ],
      [
        'an allowFrom CIDR is invalid',
        { networkPolicy: { allowFrom: [{ ipBlock: { cidr: '10.0.0.0' } }] } },
        /networkPolicy.allowFrom\[0\].ipBlock.cidr must be a CIDR/,
      ],
      ['apiServerCidrs has an invalid CIDR', { apiServerCidrs: ['10.0.0.1/33'] }, /apiServerCidrs\[0\] must be a CIDR.*got "10.0.0.1\/33"/],
      ['apiServerPorts has an invalid port', { apiServerPorts: [443, 0] }, /apiServerPorts\[1\] must be an integer port 1-65535, got 0/],
      ['apiServerPorts is empty', { apiServerPorts: [] }, /apiServerPorts must list at least one port/],
      [
        'the ingress controller namespace is invalid',
        { networkPolicy: { ingressControllerNamespace: 'Ingress' } },
        /networkPolicy.ingressControllerNamespace must be a DNS-1123 label/,
      ],
      ['NetworkPolicy options are set with networkPolicy off', { networkPolicy: false, apiServerPorts: [443] }, /networkPolicy is false but/],
    ];
    test.each(cases)('%s', (_what, props, message) => {
      expect(() => synth(props)).toThrow(message);
    });

    test('the chart has no namespace', () => {
      const chart = new Chart(Testing.app(), 'no-ns');
      expect(() => new KvProxy(chart, 'Kv', { namespaces: ['default'] })).toThrow(/KvProxy needs a namespace: set `namespace` on its chart/);
    });

    test('the source directory has no server.js', () => {
      const dir = tempSource({ 'app.js': 'x' });
      try {
        expect(() => synth({ sourceDir: dir })).toThrow(
          new RegExp(`sourceDir "${dir}" has no server.js \\(found: app.js\\): the pod runs node /opt/kv-proxy/server.js`),
        );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('the source directory is empty or missing', () => {
      const dir = tempSource({});
      try {
        expect(() => synth({ sourceDir: dir })).toThrow(/has no server.js \(found: no .js files\)/);
        expect(() => synth({ sourceDir: path.join(dir, 'missing') })).toThrow(/sourceDir ".*missing" does not exist/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('a source file is not UTF-8', () => {
      const dir = tempSource({ 'server.js': Buffer.from([0x2f, 0x2f, 0xff, 0xfe, 0x0a]) });
      try {
        expect(() => synth({ sourceDir: dir })).toThrow(
          /sourceDir file "server.js" \(from sourceDir ".*"\) must be UTF-8 text, got bytes that are not valid UTF-8/,
        );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('the source does not fit in a ConfigMap', () => {
      const dir = tempSource({ 'server.js': 'x', 'big.js': `//${'x'.repeat(1024 * 1024)}` });
      try {
        expect(() => synth({ sourceDir: dir })).toThrow(
          /sourceDir is 1.00 MiB \(1048594 bytes\), more than the 1.00 MiB \(1048576 bytes\) a ConfigMap can hold \(largest files: big.js/,
        );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

describe('KvProxyChart (the k8skv example)', () => {
  function chartObjects(props = {}): { chart: KvProxyChart; objects: K8sObject[] } {
    const chart = new KvProxyChart(Testing.app(), 'kv-proxy', props);
    return { chart, objects: synthObjects(chart) };
  }

  test('reproduces the seed in namespace default, least-privilege, and passes the gate', () => {
    // GIVEN the chart with its defaults  WHEN synthesized
    const { chart, objects } = chartObjects();
    // THEN valid, with the one out-of-band Secret
    expect(() => assertValid(objects, { external: ['Secret/default/k8skv-tokens'] })).not.toThrow();
    expect(chart.namespace).toBe('default');
    expect(new Set(objects.map((o) => o.metadata.namespace))).toEqual(new Set(['default']));
    expect(findAll(objects, 'Namespace')).toEqual([]);
    // the seed's shape: nginx Ingress on every host to port 5001, writes (test.sh POSTs) and discovery
    expect(findObject(objects, 'Ingress', 'k8skv').spec).toEqual({
      ingressClassName: 'nginx',
      rules: [{ http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'k8skv', port: { number: 5001 } } } }] } }],
    });
    expect(findObject(objects, 'Service', 'k8skv').spec.type).toBe('ClusterIP');
    const c = findContainer(findObject(objects, 'Deployment', 'k8skv'), 'kv-proxy');
    expect(c.env).toEqual(
      expect.arrayContaining([
        { name: 'PORT', value: '5001' },
        { name: 'KV_NAMESPACES', value: 'default' },
        { name: 'KV_WRITE_ENABLED', value: 'true' },
        { name: 'KV_DISCOVERY_ENABLED', value: 'true' },
      ]),
    );
    // not the seed's RBAC: a dedicated account, no update/delete, nothing on "default"
    expect(roleIn(objects, 'default').rules).toEqual([
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
      ...DISCOVERY_RULES,
    ]);
    expect(bindingIn(objects, 'default').subjects).toEqual([{ kind: 'ServiceAccount', name: 'k8skv', namespace: 'default' }]);
    expect(findObject(objects, 'NetworkPolicy', 'k8skv').spec.ingress[0].from).toContainEqual({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
    });
    expect(chart.proxy.tokenSecret.name).toBe('k8skv-tokens');
  });

  test('its props override the seed defaults', () => {
    const { objects } = chartObjects({
      namespace: 'kv',
      name: 'flags',
      namespaces: ['apps'],
      writes: false,
      discovery: false,
      ingress: { host: 'kv.example.com', className: 'internal', tlsSecretName: 'kv-tls' },
      replicas: 3,
      tokenSecretName: 'kv-clients',
    });
    expect(() => assertValid(objects, { external: ['Secret/kv/kv-clients', 'Secret/kv/kv-tls'] })).not.toThrow();
    expect(findObject(objects, 'Ingress', 'flags').spec.tls).toEqual([{ hosts: ['kv.example.com'], secretName: 'kv-tls' }]);
    expect(roleIn(objects, 'apps').rules).toEqual([CONFIGMAPS_READ]);
    expect(findObject(objects, 'Deployment', 'flags').spec.replicas).toBe(3);
    expect(findObject(objects, 'Ingress', 'flags').spec.rules[0].host).toBe('kv.example.com');
    expect(findObject(objects, 'Ingress', 'flags').spec.ingressClassName).toBe('internal');
  });
});
