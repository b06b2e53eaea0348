/**
 * What `cdk8s-patterns verify` reads and how it names things, without a
 * server: the sets its arguments make, the objects and problems of a file,
 * the server's Warning headers as kubectl prints them, the paths a second
 * apply changed. (The checks themselves run against a real kube-apiserver in
 * verify-bin.test.ts and kube-verify.test.ts.)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { warningText } from '../lib/verify/api';
import { changedPaths, CHECKS } from '../lib/verify/checks';
import { inputSets, isFirst, podTemplateOf, readObjects } from '../lib/verify/input';
import { formatFailure } from '../lib/verify/verify';

let dir: string;
const at = (...p: string[]) => path.join(dir, ...p);
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-input-'));
  for (const env of ['dev', 'prod']) {
    fs.mkdirSync(at('dist', env), { recursive: true });
    fs.writeFileSync(at('dist', env, 'b.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n');
    fs.writeFileSync(at('dist', env, 'a.k8s.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n');
    fs.writeFileSync(at('dist', env, 'notes.txt'), 'not a manifest');
  }
  fs.mkdirSync(at('flat'));
  fs.writeFileSync(at('flat', 'z.yml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: z}\n');
  fs.writeFileSync(at('flat', 'y.json'), '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "y"}}');
  fs.writeFileSync(at('one.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n');
  fs.mkdirSync(at('empty'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('inputSets', () => {
  test('files and folders holding manifests form one set, in the order given, each folder sorted by name', () => {
    expect(inputSets([at('one.yaml'), at('flat')])).toEqual([
      { label: `${at('one.yaml')} ${at('flat')}`, files: [at('one.yaml'), at('flat', 'y.json'), at('flat', 'z.yml')] },
    ]);
  });

  test('a folder of environment folders gives one set per sub-folder', () => {
    expect(inputSets([at('dist')])).toEqual([
      { label: at('dist', 'dev'), files: [at('dist', 'dev', 'a.k8s.yaml'), at('dist', 'dev', 'b.yaml')] },
      { label: at('dist', 'prod'), files: [at('dist', 'prod', 'a.k8s.yaml'), at('dist', 'prod', 'b.yaml')] },
    ]);
  });

  test('fails on a path that does not exist and on a folder without manifests', () => {
    expect(() => inputSets([at('nope')])).toThrow(/nope: no such file or folder/);
    expect(() => inputSets([at('empty')])).toThrow(/empty: no \.yaml, \.yml or \.json files in it or its sub-folders/);
  });
});

describe('readObjects', () => {
  test('reads every document and List item with its file and document number, YAML 1.1 as Kubernetes does', () => {
    const f = at('multi.yaml');
    fs.writeFileSync(
      f,
      [
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {flag: "on"}\nbinaryData: {}\n',
        '# only a comment\n',
        'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: ns}}\n' +
          '- {apiVersion: v1, kind: Service, metadata: {name: s}, spec: {publishNotReadyAddresses: yes}}\n',
      ].join('---\n'),
    );
    const { objects, problems } = readObjects([f]);
    expect(problems).toEqual([]);
    expect(objects.map((o) => [o.document, o.object.kind, o.object.metadata.name])).toEqual([
      [1, 'ConfigMap', 'a'],
      [3, 'Namespace', 'ns'],
      [3, 'Service', 's'],
    ]);
    // YAML 1.1: an unquoted yes is a boolean, a quoted "on" stays a string
    expect(objects[2].object.spec.publishNotReadyAddresses).toBe(true);
    expect(objects[0].object.data.flag).toBe('on');
  });

  test('names the file and document of a syntax error, of a document server-side apply cannot take and of a name YAML 1.1 reads as a boolean', () => {
    const f = at('bad.yaml');
    fs.writeFileSync(
      f,
      [
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n',
        'kind: [unclosed\n',
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}\n',
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: no}\n',
      ].join('---\n'),
    );
    const { objects, problems } = readObjects([f]);
    expect(objects.map((o) => o.object.metadata.name)).toEqual(['ok']);
    const file = path.relative(process.cwd(), f);
    expect(problems).toEqual([
      { file, document: 2, message: expect.stringMatching(/flow sequence|unclosed|Missing/i) },
      { file, document: 3, message: 'metadata.name missing: server-side apply needs apiVersion, kind and metadata.name' },
      {
        file,
        document: 4,
        message: expect.stringMatching(
          /^metadata\.name is false, not a string: YAML 1\.1, as Kubernetes reads it, takes y, n, yes, no, on and off for booleans \(quote it\)$/,
        ),
      },
    ]);
  });
});

describe('what goes first and what makes Pods', () => {
  test('Namespaces and CRDs go first; a Namespace kind of another group does not', () => {
    expect(isFirst({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' } })).toBe(true);
    expect(isFirst({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'c' } })).toBe(true);
    expect(isFirst({ apiVersion: 'example.com/v1', kind: 'Namespace', metadata: { name: 'n' } })).toBe(false);
  });

  test(
    'the pod template of apps/v1, batch/v1 (CronJob through its job template) and ReplicationController; ' + 'none for a look-alike custom resource',
    () => {
      const spec = { containers: [] };
      expect(podTemplateOf({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'x' }, spec: { template: { spec } } })?.spec).toBe(spec);
      expect(
        podTemplateOf({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'x' }, spec: { jobTemplate: { spec: { template: { spec } } } } })
          ?.spec,
      ).toBe(spec);
      expect(podTemplateOf({ apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'x' }, spec: { template: { spec } } })?.spec).toBe(
        spec,
      );
      expect(
        podTemplateOf({ apiVersion: 'example.com/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { template: { spec } } }),
      ).toBeUndefined();
    },
  );
});

describe('messages', () => {
  test('a Warning header reads as kubectl prints it', () => {
    expect(warningText('299 - "would violate PodSecurity \\"restricted:latest\\": privileged"')).toBe(
      'would violate PodSecurity "restricted:latest": privileged',
    );
    expect(warningText('not a warn-code')).toBe('not a warn-code');
  });

  test('a failure names the file (and document after the first), the object and the message', () => {
    expect(formatFailure({ file: 'dist/a.yaml', document: 1, object: 'Deployment shop/web', message: 'm' })).toBe(
      'dist/a.yaml: Deployment shop/web: m',
    );
    expect(formatFailure({ file: 'dist/a.yaml', document: 3, object: 'Namespace shop', message: 'm' })).toBe(
      'dist/a.yaml (document 3): Namespace shop: m',
    );
  });

  test('changedPaths names what a second apply changed, resourceVersion and managedFields aside', () => {
    const before = { metadata: { resourceVersion: '1', managedFields: [1], generation: 1 }, spec: { replicas: 1, ports: [{ port: 80 }] } };
    const after = { metadata: { resourceVersion: '2', managedFields: [2], generation: 2 }, spec: { replicas: 1, ports: [{ port: 81 }] } };
    expect(changedPaths(before, after)).toEqual(['.metadata.generation', '.spec.ports[0].port']);
  });
});

test('the checks run in a fixed order, each with an id and a title', () => {
  expect(CHECKS.map((c) => c.id)).toEqual(['read', 'crds', 'apply', 'namespace-labels', 'pods', 'reapply', 'can-i']);
  expect(CHECKS.every((c) => c.title.length > 0 && typeof c.run === 'function')).toBe(true);
});

test('README and docs/testing.md show the pipeline recipe: cdk8s synth, then npx cdk8s-patterns verify dist/', () => {
  for (const page of ['README.md', 'docs/testing.md']) {
    expect({
      page,
      recipe: fs.readFileSync(path.join(__dirname, '..', page), 'utf8').includes('```sh\ncdk8s synth\nnpx cdk8s-patterns verify dist/\n```'),
    }).toEqual({ page, recipe: true });
  }
});
