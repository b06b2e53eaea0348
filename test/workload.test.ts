import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { DEFAULT_RESOURCES } from '../lib/security';
import { Files, mergeResources, resolveFiles, resolveSecurity, toWholeSeconds } from '../lib/workload';

function tempDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'files-'));
  for (const [p, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    fs.writeFileSync(path.join(dir, p), text);
  }
  return dir;
}

describe('Files: one shape for a folder, some files and inline content', () => {
  test('fromDirectory reads every file below the folder with relative paths, leaving out excluded names', () => {
    const dir = tempDir({ 'index.html': 'hi', 'css/site.css': 'body{}', '__pycache__/x.pyc': 'x', 'a.pyc': 'y' });
    const read = resolveFiles(Files.fromDirectory(dir, { exclude: ['__pycache__', '*.pyc'] }), 'files');
    expect(read.map((f) => f.path).sort()).toEqual(['css/site.css', 'index.html']);
    expect(
      resolveFiles(Files.fromDirectory(dir, { recursive: false }), 'files')
        .map((f) => f.path)
        .sort(),
    ).toEqual(['a.pyc', 'index.html']);
  });

  test('fromPaths lands each file under its base name; fromContent takes text and bytes; of joins them', () => {
    const dir = tempDir({ 'conf/app.yaml': 'a: 1\n' });
    const read = resolveFiles(
      Files.of(Files.fromPaths([path.join(dir, 'conf/app.yaml')]), Files.fromContent({ 'b.bin': Buffer.from([0xff]) })),
      'files',
    );
    expect(read.map((f) => [f.path, f.bytes.length])).toEqual([
      ['app.yaml', 5],
      ['b.bin', 1],
    ]);
  });

  test('refuses an empty folder naming it, a missing path naming the prop, bytes where text is required, and a plain string', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'empty-'));
    expect(() => resolveFiles(Files.fromDirectory(empty), 'files')).toThrow(
      new RegExp(`files directory "${empty}" \\(.*\\) has no files: add at least one file`),
    );
    expect(() => resolveFiles(Files.fromPaths(['/nope/x.txt']), 'files')).toThrow(/files path \[0\] "\/nope\/x.txt" does not exist/);
    expect(() => resolveFiles(Files.fromContent({ 'a.py': Buffer.from('x') }), 'files', true)).toThrow(
      /files content "a.py" must be a string, got object/,
    );
    expect(() => resolveFiles('site' as unknown as Files, 'files')).toThrow(/files must be Files \(Files.fromDirectory\(dir\), .*\), got "site"/);
    expect(() => resolveFiles(Files.fromDirectory(empty, { exclude: ['a/b'] }), 'files')).toThrow(/files exclude\[0\] must be a file or folder name/);
  });
});

describe('mergeResources: given leaves over the defaults', () => {
  test('a CPU limit alone keeps the CPU request and the memory', () => {
    const r = mergeResources(DEFAULT_RESOURCES, { cpu: { limit: kplus.Cpu.millis(1000) } });
    expect(r.cpu!.request!.amount).toBe('50m');
    expect(r.cpu!.limit!.amount).toBe('1000m');
    expect(r.memory!.request!.toMebibytes()).toBe(64);
    expect(r.memory!.limit!.toMebibytes()).toBe(128);
  });

  test('refuses a merged request above its limit, naming both and how to fix it', () => {
    expect(() => mergeResources(DEFAULT_RESOURCES, { memory: { limit: Size.mebibytes(32) } })).toThrow(
      new RegExp(
        String.raw`resources.memory.request must not exceed resources.memory.limit, got request 65536Ki and limit 32768Ki \(after ` +
          String.raw`merging the given resources over the defaults: set both request and limit\)`,
      ),
    );
  });
});

describe('toWholeSeconds and resolveSecurity', () => {
  test('a Duration in whole seconds within range; refuses fractions, out of range and numbers', () => {
    expect(toWholeSeconds(undefined, 'maxWait', Duration.seconds(50), 1, 300)).toBe(50);
    expect(toWholeSeconds(Duration.minutes(2), 'maxWait', Duration.seconds(50), 1, 300)).toBe(120);
    expect(() => toWholeSeconds(Duration.millis(1500), 'maxWait', Duration.seconds(50), 1, 300)).toThrow(
      /maxWait must be a whole number of seconds, got 1500 ms/,
    );
    expect(() => toWholeSeconds(Duration.minutes(10), 'maxWait', Duration.seconds(50), 1, 300)).toThrow(
      /maxWait must be between 1 and 300 seconds, got 600 s/,
    );
    expect(() => toWholeSeconds(30 as unknown as Duration, 'maxWait', Duration.seconds(50), 1, 300)).toThrow(
      /maxWait must be a cdk8s Duration such as Duration.seconds\(30\), got 30/,
    );
  });

  test('group defaults to user and fsGroup to group; fsGroup is refused on a container; unknown keys suggest the right ones', () => {
    expect(resolveSecurity({ user: 1000 }, 'securityContext')).toEqual({ user: 1000, group: 1000, fsGroup: 1000 });
    expect(resolveSecurity(undefined, 'securityContext', { user: 101 })).toEqual({ user: 101, group: 101, fsGroup: 101 });
    expect(() => resolveSecurity({ fsGroup: 2000 }, 'sidecars[0].securityContext', {}, true)).toThrow(
      /sidecars\[0\].securityContext.fsGroup is not a setting here: use user or group \(fsGroup is set on the pod\)/,
    );
    expect(() => resolveSecurity({ user: 0 }, 'securityContext')).toThrow(/securityContext.user must be an integer 1-2147483647, got 0/);
    expect(() => resolveSecurity({ uid: 5 } as never, 'securityContext')).toThrow(
      /securityContext.uid is not a setting here: use user, group or fsGroup/,
    );
  });
});
