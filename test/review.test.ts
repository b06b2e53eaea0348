import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildApps } from '../main';
import { DIAGRAMS_DIR, renderDiagrams } from '../scripts/review/diagrams';
import { buildGraph, toMermaid } from '../scripts/review/graph';
import { diffTrees, formatMarkdown, formatText, Tree } from '../scripts/review/diff';
import { hardenedExample } from './support/fixtures';

describe('reference diagram', () => {
  test('the hardened example has exactly the expected nodes and edges', () => {
    // GIVEN the hardened example (Ingress → Service → Deployment → ConfigMap, RBAC, PDB, NetworkPolicy)
    const graph = buildGraph(hardenedExample());
    // THEN
    expect(graph.nodes.map((n) => n.id)).toEqual([
      'ConfigMap/demo/demo-content',
      'Deployment/demo/demo',
      'Ingress/demo/demo',
      'NetworkPolicy/demo/demo',
      'PodDisruptionBudget/demo/demo',
      'Role/demo/demo-reader',
      'RoleBinding/demo/demo-reader',
      'Service/demo/demo',
      'ServiceAccount/demo/demo',
    ]);
    expect(graph.edges.map((e) => `${e.from} -${e.label}-> ${e.to}`)).toEqual([
      'Deployment/demo/demo -env-> ConfigMap/demo/demo-content',
      'Deployment/demo/demo -mounts-> ConfigMap/demo/demo-content',
      'Deployment/demo/demo -runs as-> ServiceAccount/demo/demo',
      'Ingress/demo/demo -backend-> Service/demo/demo',
      'NetworkPolicy/demo/demo -selects-> Deployment/demo/demo',
      'PodDisruptionBudget/demo/demo -selects-> Deployment/demo/demo',
      'RoleBinding/demo/demo-reader -binds-> Role/demo/demo-reader',
      'RoleBinding/demo/demo-reader -subject-> ServiceAccount/demo/demo',
      'Service/demo/demo -selects-> Deployment/demo/demo',
    ]);
  });

  test('objects created out of band appear as dashed external nodes', () => {
    const objects = hardenedExample();
    const dep = objects.find((o) => o.kind === 'Deployment')!;
    dep.spec.template.spec.volumes.push({ name: 'tokens', secret: { secretName: 'tokens' } });
    const graph = buildGraph(objects);
    expect(graph.nodes.find((n) => n.id === 'Secret/demo/tokens')).toEqual({
      id: 'Secret/demo/tokens',
      kind: 'Secret',
      name: 'tokens',
      external: true,
    });
    const mermaid = toMermaid(graph);
    expect(mermaid.startsWith('flowchart LR\n')).toBe(true);
    expect(mermaid).toMatch(/\["Secret<br\/>tokens<br\/>\(external\)"\]/);
    expect(mermaid).toMatch(/class n\d+ external/);
    expect(mermaid.split('\n').filter((l) => l.includes('-->')).length).toBe(graph.edges.length);
  });
});

describe('chart diagrams in docs/diagrams', () => {
  test('are exactly what a fresh synth renders (run `npm run synth` when this fails)', () => {
    const fresh = renderDiagrams(buildApps(path.join(os.tmpdir(), 'never-written')));
    const committed = fs
      .readdirSync(DIAGRAMS_DIR, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.md'))
      .sort();
    expect(committed).toEqual([...fresh.keys()].sort());
    for (const [file, text] of fresh) expect(fs.readFileSync(path.join(DIAGRAMS_DIR, file), 'utf8')).toBe(text);
  });

  test('the dev KvProxy chart shows Ingress → Service → Deployment → ConfigMap, the external token Secret and its RBAC', () => {
    const text = renderDiagrams(buildApps(path.join(os.tmpdir(), 'never-written'))).get('dev/kv-proxy.md')!;
    const ids = new Map([...text.matchAll(/(n\d+)\["([^"]+)"\]/g)].map((m) => [m[1], m[2].replace(/<br\/>/g, ' ')]));
    const edges = [...text.matchAll(/(n\d+) -->\|([^|]+)\| (n\d+)/g)].map((m) => `${ids.get(m[1])} -${m[2]}-> ${ids.get(m[3])}`);
    expect(edges).toEqual(
      expect.arrayContaining([
        'Ingress k8skv -backend-> Service k8skv',
        'Service k8skv -selects-> Deployment k8skv',
        // the server source is content-named: k8skv-server-<hash>
        expect.stringMatching(/^Deployment k8skv -mounts-> ConfigMap k8skv-server-[0-9a-f]{10}$/),
        'Deployment k8skv -mounts-> Secret k8skv-tokens (external)',
        'RoleBinding k8skv -binds-> Role k8skv',
        'RoleBinding k8skv -subject-> ServiceAccount k8skv',
      ]),
    );
  });
});

describe('change summary', () => {
  const tree = (objects = hardenedExample()): Tree => new Map([['dev/0001-demo.k8s.yaml', objects]]);

  test('an unchanged synth reports nothing', () => {
    expect(diffTrees(tree(), tree())).toEqual([]);
    expect(formatText([])).toBe('no changes\n');
  });

  test('reports a new ConfigMap key, a changed image tag and a removed Service, and nothing else', () => {
    // GIVEN a crafted change
    const after = hardenedExample().filter((o) => o.kind !== 'Service');
    after.find((o) => o.kind === 'ConfigMap')!.data['about.html'] = '<p>about</p>';
    after.find((o) => o.kind === 'Deployment')!.spec.template.spec.containers[0].image = 'nginxinc/nginx-unprivileged:1.27.4-alpine';
    // WHEN diffed
    const changes = diffTrees(tree(), tree(after));
    // THEN exactly these objects and paths
    expect(changes).toEqual([
      {
        environment: 'dev',
        file: 'dev/0001-demo.k8s.yaml',
        changes: [
          { id: 'ConfigMap/demo/demo-content', change: 'changed', paths: [], keys: ['+ about.html (12 B)'] },
          { id: 'Deployment/demo/demo', change: 'changed', paths: ['spec.template.spec.containers[web].image'], keys: [] },
          { id: 'Service/demo/demo', change: 'removed', paths: [], keys: [] },
        ],
      },
    ]);
    const text = formatText(changes);
    expect(text).toContain('== dev');
    expect(text).toContain('- Service/demo/demo (removed)');
    expect(text).toContain('spec.template.spec.containers[web].image');
    expect(text).toContain('3 object(s) changed in 1 file(s)');
    const md = formatMarkdown(changes);
    expect(md).toContain('| ~ | `Deployment/demo/demo` | `spec.template.spec.containers[web].image` |');
    expect(md).toContain('| - | `Service/demo/demo` | removed |');
  });

  test('a changed ConfigMap value is summarized by key with sizes, added files and objects are listed', () => {
    const after = hardenedExample();
    after.find((o) => o.kind === 'ConfigMap')!.data['index.html'] = '<h1>hello there</h1>';
    const extra = new Map([...tree(after), ['prod/0001-demo.k8s.yaml', hardenedExample().slice(0, 1)]]);
    const changes = diffTrees(tree(), extra);
    expect(changes.map((c) => c.file)).toEqual(['dev/0001-demo.k8s.yaml', 'prod/0001-demo.k8s.yaml']);
    expect(changes[0].changes).toEqual([{ id: 'ConfigMap/demo/demo-content', change: 'changed', paths: [], keys: ['~ index.html (11 B → 20 B)'] }]);
    expect(changes[1].changes).toEqual([
      { id: 'ConfigMap/demo/demo-content', change: 'added', paths: [], keys: ['+ favicon.ico (3 B)', '+ index.html (11 B)', '+ nginx.conf (9 B)'] },
    ]);
  });
});
