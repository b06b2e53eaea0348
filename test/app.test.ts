import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildApp, synthesize } from '../main';
import { assertValid } from './support/gate';
import { synthApp } from './support/synth';

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');

/** Secrets the app references but, by design, never creates (credentials are made out of band). */
export const EXTERNAL_OBJECTS: string[] = [];

function listYaml(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.yaml')).sort() : [];
}

function synthToTemp(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'synth-'));
  synthesize(dir);
  return dir;
}

describe('the app in main.ts', () => {
  test('every object of every chart passes the validation gate', () => {
    const objects = synthApp(buildApp(fs.mkdtempSync(path.join(os.tmpdir(), 'unused-'))));
    expect(objects.length).toBeGreaterThan(0);
    assertValid(objects, { external: EXTERNAL_OBJECTS });
  });

  test('dist/ equals a fresh synth (run `npm run synth` and commit dist/ when this fails)', () => {
    const fresh = synthToTemp();
    expect(listYaml(DIST)).toEqual(listYaml(fresh));
    const diffs: string[] = [];
    for (const f of listYaml(fresh)) {
      const a = path.join(DIST, f);
      const b = path.join(fresh, f);
      if (fs.readFileSync(a, 'utf8') !== fs.readFileSync(b, 'utf8')) {
        try { execFileSync('diff', ['-u', a, b], { encoding: 'utf8' }); } catch (e: any) { diffs.push(String(e.stdout).slice(0, 4000)); }
      }
    }
    if (diffs.length) throw new Error(`dist/ is stale:\n${diffs.join('\n')}`);
  });

  test('synth is deterministic: two runs are byte-identical', () => {
    const a = synthToTemp();
    const b = synthToTemp();
    const files = listYaml(a);
    expect(files.length).toBeGreaterThan(0);
    expect(listYaml(b)).toEqual(files);
    for (const f of files) expect(fs.readFileSync(path.join(b, f), 'utf8')).toBe(fs.readFileSync(path.join(a, f), 'utf8'));
  });

  test('importing main.ts writes nothing', () => {
    const before = listYaml(DIST).map((f) => fs.statSync(path.join(DIST, f)).mtimeMs);
    const app = buildApp(path.join(os.tmpdir(), 'never-written'));
    expect(app.charts.length).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(os.tmpdir(), 'never-written'))).toBe(false);
    expect(listYaml(DIST).map((f) => fs.statSync(path.join(DIST, f)).mtimeMs)).toEqual(before);
  });
});
