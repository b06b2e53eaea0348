import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

describe('README.md stays true', () => {
  test('the two set-up commands exist and CI runs the test command', () => {
    const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts;
    expect(README).toContain('npm ci && npm run synth');
    expect(README).toMatch(/^npm test\s/m);
    expect(scripts.synth).toBe('node -r ts-node/register main.ts');
    expect(scripts.test).toMatch(/jest/);
    expect(fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8')).toMatch(/^step "npm test" npm test$/m);
  });

  test('every embedded diagram equals the generated one in docs/diagrams', () => {
    const embedded = [...README.matchAll(/<!-- diagram: ([\w/-]+) -->\n(```mermaid\n[\s\S]*?```\n)/g)];
    expect(embedded.length).toBeGreaterThanOrEqual(5);
    for (const [, name, block] of embedded) {
      const generated = fs.readFileSync(path.join(ROOT, 'docs', 'diagrams', `${name}.md`), 'utf8');
      expect(generated).toContain(block);
    }
  });

  test('every construct has a section with an example and the YAML it produces', () => {
    for (const name of ['StaticSite', 'ImmutableConfigInit', 'SidecarPod', 'GeneralPurposeRunner', 'KvProxy']) {
      const start = README.indexOf(`\n## ${name}`);
      expect(start).toBeGreaterThan(0);
      const section = README.slice(start, README.indexOf('\n## ', start + 5));
      expect(section).toMatch(/```ts\n[\s\S]*?new /);
      expect(section).toMatch(/```yaml\n[\s\S]*?kind: /);
    }
  });
});
