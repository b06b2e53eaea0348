import * as fs from 'node:fs';
import * as path from 'node:path';
import { isUtf8 } from 'node:buffer';
import { contentHash } from './hash';
import { MAX_CONFIGMAP_BYTES, configMapSize, formatBytes, required, validateRelativePath } from './validate';

/**
 * Files → ConfigMap, one way for every construct: read local files with
 * errors that name the prop, encode paths as ConfigMap keys one way, decide
 * text vs. binary with one UTF-8 test, and enforce the 1 MiB limit.
 */

/** One file on its way into a ConfigMap. */
export interface FileEntry {
  /** Relative path, `/`-separated (where it lands below the mount). */
  readonly path: string;
  /** Its bytes. */
  readonly bytes: Buffer;
  /** Where it came from, for error messages, e.g. `files directory "site"`. */
  readonly origin: string;
  /** Given inline as a string: always stored as text. */
  readonly inlineText?: boolean;
}

/** Path separator inside ConfigMap keys, which cannot contain '/': `css/site.css` is stored as `css__site.css`. */
export const KEY_SEPARATOR = '__';

/** The one UTF-8 test: bytes that decode as UTF-8 text go to `data`, anything else to `binaryData`. */
export function isUtf8Text(bytes: Buffer): boolean {
  return isUtf8(bytes);
}

function fsError(prop: string, target: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  const why =
    e.code === 'ENOENT' ? 'does not exist' : e.code === 'EACCES' ? 'is not readable (permission denied)' : `cannot be read (${e.code ?? e.message})`;
  return new Error(`${prop} "${target}" ${why}`);
}

/** Reads one local file; the error names `prop` and the path instead of a bare ENOENT. */
export function readLocalFile(file: string, prop: string, asPath?: string): FileEntry {
  required(file, prop);
  if (typeof file !== 'string' || file === '') throw new Error(`${prop} must be a file path, got ${JSON.stringify(file)}`);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw fsError(prop, file, err);
  }
  if (!st.isFile()) throw new Error(`${prop} "${file}" must be a regular file, got a ${st.isDirectory() ? 'directory' : 'special file'}`);
  try {
    return { path: asPath ?? path.basename(file), bytes: fs.readFileSync(file), origin: `${prop} "${file}"` };
  } catch (err) {
    throw fsError(prop, file, err);
  }
}

/** Options for {@link readLocalDirectory}. */
export interface ReadDirectoryOptions {
  /**
   * Descend into sub-directories (symlinks followed, loops skipped).
   * @default true
   */
  readonly recursive?: boolean;
  /**
   * Which entries to read, by name (files and directories).
   * @default - every entry
   */
  readonly include?: (name: string, isDirectory: boolean) => boolean;
}

/**
 * Reads every regular file below `dir`, sorted, with paths relative to it.
 * Every filesystem error names `prop` and the path.
 */
export function readLocalDirectory(dir: string, prop: string, options: ReadDirectoryOptions = {}): FileEntry[] {
  required(dir, prop);
  if (typeof dir !== 'string' || dir === '') throw new Error(`${prop} must be a directory path, got ${JSON.stringify(dir)}`);
  const recursive = options.recursive ?? true;
  const include = options.include ?? (() => true);
  const origin = `${prop} "${dir}"`;
  let rootStat: fs.Stats;
  try {
    rootStat = fs.statSync(dir);
  } catch (err) {
    throw fsError(prop, dir, err);
  }
  if (!rootStat.isDirectory()) throw new Error(`${prop} must be a directory, got the file "${dir}"`);
  const out: FileEntry[] = [];
  const seen = new Set<string>();
  const walk = (abs: string, rel: string[]) => {
    let names: string[];
    try {
      const real = fs.realpathSync(abs);
      if (seen.has(real)) return; // a symlink loop
      seen.add(real);
      names = fs.readdirSync(abs).sort();
    } catch (err) {
      throw fsError(prop, abs, err);
    }
    for (const name of names) {
      const child = path.join(abs, name);
      let st: fs.Stats;
      try {
        st = fs.statSync(child);
      } catch (err) {
        throw fsError(`${prop} entry`, child, err);
      }
      if (!include(name, st.isDirectory())) continue;
      if (st.isDirectory()) {
        if (recursive) walk(child, [...rel, name]);
      } else if (st.isFile()) {
        try {
          out.push({ path: [...rel, name].join('/'), bytes: fs.readFileSync(child), origin });
        } catch (err) {
          throw fsError(`${prop} entry`, child, err);
        }
      }
    }
  };
  walk(dir, []);
  return out;
}

/** A local file, or every file of a local directory (see {@link readLocalDirectory}); errors name `prop`. */
export function readLocalPath(target: string, prop: string, options: ReadDirectoryOptions = {}): FileEntry[] {
  required(target, prop);
  if (typeof target !== 'string' || target === '') throw new Error(`${prop} must be a file or directory path, got ${JSON.stringify(target)}`);
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch (err) {
    throw fsError(prop, target, err);
  }
  return st.isDirectory() ? readLocalDirectory(target, prop, options) : [readLocalFile(target, prop)];
}

/** Files given inline: path to a string (UTF-8 text) or, where `allowBuffers`, a Buffer (raw bytes). */
export function inlineFiles(files: Record<string, string | Buffer> | undefined, prop: string, allowBuffers: boolean = true): FileEntry[] {
  if (files === undefined) return [];
  if (files === null || typeof files !== 'object' || Array.isArray(files))
    throw new Error(`${prop} must be an object of path to content, got ${JSON.stringify(files)}`);
  return Object.entries(files).map(([p, value]) => {
    if (typeof value === 'string') return { path: p, bytes: Buffer.from(value, 'utf8'), origin: prop, inlineText: true };
    if (allowBuffers && Buffer.isBuffer(value)) return { path: p, bytes: value, origin: prop };
    throw new Error(`${prop} "${p}" must be a string${allowBuffers ? ' or a Buffer' : ''}, got ${typeof value}`);
  });
}

/**
 * ConfigMap keys for relative paths: segments joined with `__`
 * (`css/site.css` → `css__site.css`). Paths that would share a key (such as
 * `a__b.txt` and `a/b.txt`) each get a short hash of their path appended.
 */
export function configMapKeys(paths: readonly string[], prop: string): Map<string, string> {
  const groups = new Map<string, string[]>();
  for (const p of paths) {
    const k = p.split('/').join(KEY_SEPARATOR);
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  const keys = new Map<string, string>();
  for (const [k, members] of groups) {
    for (const p of members) keys.set(p, members.length === 1 ? k : `${k}.${contentHash(p, 8)}`);
  }
  for (const [p, k] of keys) {
    if (k.length > 253)
      throw new Error(`${prop} path "${p}" is too long for a ConfigMap key (${k.length} characters as "${k.slice(0, 40)}...", at most 253)`);
  }
  return keys;
}

/** One file as stored in a ConfigMap: `StaticSite.files`, `ImmutableConfigMap.files`. */
export interface StoredFile {
  /** Relative path below the mount. */
  readonly path: string;
  /** The ConfigMap key holding it. */
  readonly key: string;
  /** True when stored in `binaryData`. */
  readonly binary: boolean;
  /** Size in bytes. */
  readonly sizeBytes: number;
  /** The Content-Type StaticSite serves it with (without the charset); undefined where it is not served over HTTP. */
  readonly contentType?: string;
}

/** Options for {@link toConfigMapData}. */
export interface ConfigMapDataOptions {
  /**
   * Whether a file may be binary. A function decides per file (e.g. by content type).
   * @default true - files that are not UTF-8 text go to binaryData
   */
  readonly binary?: boolean | ((file: FileEntry) => boolean);
  /**
   * What to tell the user when the files do not fit in a ConfigMap.
   * @default - 'ship large files another way'
   */
  readonly tooLargeHint?: string;
  /** Bytes the ConfigMap needs besides these files (its name, other keys). @default 0 */
  readonly extraBytes?: number;
}

/** The result of {@link toConfigMapData}. */
export interface ConfigMapData {
  /** UTF-8 files by key. */
  readonly data: Record<string, string>;
  /** Other files by key, base64. */
  readonly binaryData: Record<string, string>;
  /** Every file, sorted by path. */
  readonly files: readonly StoredFile[];
  /** Bytes counted against the 1 MiB limit. */
  readonly sizeBytes: number;
}

/**
 * Turns files into ConfigMap `data`/`binaryData`: paths checked as relative
 * paths of key-safe segments and unique, keys by {@link configMapKeys}, text
 * vs. binary by {@link isUtf8Text}, and the total within 1 MiB.
 */
export function toConfigMapData(entries: readonly FileEntry[], prop: string, options: ConfigMapDataOptions = {}): ConfigMapData {
  const byPath = new Map<string, FileEntry>();
  for (const e of entries) {
    const p = e.path.replace(/^\/+/, '');
    validateRelativePath(p, `${e.origin} path`);
    const prior = byPath.get(p);
    if (prior) throw new Error(`${prop} path "${p}" is given twice: by ${prior.origin} and by ${e.origin}`);
    byPath.set(p, { ...e, path: p });
  }
  const sorted = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const keys = configMapKeys(
    sorted.map((f) => f.path),
    prop,
  );
  const data: Record<string, string> = {};
  const binaryData: Record<string, string> = {};
  const files: StoredFile[] = [];
  const binaryRule = options.binary ?? true;
  for (const f of sorted) {
    const key = keys.get(f.path)!;
    const text = f.inlineText || isUtf8Text(f.bytes);
    const binary = typeof binaryRule === 'function' ? !f.inlineText && (binaryRule(f) || !text) : !text;
    if (binary && binaryRule === false) {
      throw new Error(`${prop} file "${f.path}" (from ${f.origin}) must be UTF-8 text, got bytes that are not valid UTF-8`);
    }
    if (binary) binaryData[key] = f.bytes.toString('base64');
    else data[key] = f.bytes.toString('utf8');
    files.push({ path: f.path, key, binary, sizeBytes: f.bytes.length });
  }
  const sizeBytes = configMapSize(data, binaryData) + (options.extraBytes ?? 0);
  if (sizeBytes > MAX_CONFIGMAP_BYTES) {
    const largest = [...files]
      .sort((a, b) => b.sizeBytes - a.sizeBytes || a.path.localeCompare(b.path))
      .slice(0, 3)
      .map((f) => `${f.path} ${formatBytes(f.sizeBytes)}`)
      .join(', ');
    throw new Error(
      `${prop} is ${formatBytes(sizeBytes)}, more than the ${formatBytes(MAX_CONFIGMAP_BYTES)} a ConfigMap can hold ` +
        `(largest files: ${largest}): ${options.tooLargeHint ?? 'ship large files another way'}`,
    );
  }
  return { data, binaryData, files, sizeBytes };
}
