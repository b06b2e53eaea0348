/**
 * The stock images a script bundle knows how to drive without a `command`:
 * how each runs a script, as which user, and how it unpacks an archive.
 */
import { BUSYBOX_IMAGE, NODE_SLIM_IMAGE, PYTHON_IMAGE } from '../images';
import { DEFAULT_RUN_AS_USER } from '../security';

/** The stock runtimes a script bundle runs scripts on without a `command`, each a pinned image. */
export enum ScriptRuntime {
  /** `python:3.12.8-slim-bookworm` (`Images.PYTHON`): `python3 <script>` as UID 65532. */
  PYTHON = 'python',
  /** `node:22.12.0-bookworm-slim` (`Images.NODE_SLIM`): `node <script>` as UID 10000. */
  NODE = 'node',
  /** `busybox:1.36.1` (`Images.BUSYBOX`): `sh <script>` as UID 65532, no writable /tmp. */
  BUSYBOX = 'busybox',
}

/** The archive formats an archive may have, recognised by file extension. */
export type ArchiveFormat = 'zip' | 'tar' | 'tar.gz';

/**
 * The tool the unpack init container unpacks an archive with: python's
 * zipfile/tarfile (unpack.py), busybox tar, GNU tar, or busybox unzip.
 */
export type UnpackTool = 'python' | 'tar' | 'gnu-tar' | 'unzip';

/**
 * What a preset knows about its stock image.
 */
export interface RunnerPreset {
  /** The pinned stock image. */
  readonly image: string;
  /** The command that runs the entrypoint script (the script's path is appended). */
  readonly interpreter: readonly string[];
  /** The UID (and GID) the containers run as: the image's own non-root user where it has one. */
  readonly user: number;
  /** Environment the interpreter needs on a read-only root filesystem. */
  readonly env: Readonly<Record<string, string>>;
  /** Whether the interpreter needs a writable /tmp. */
  readonly writableTmp: boolean;
  /** Interpreters and shells the image has, to catch a `command` meant for another image. */
  readonly executables: readonly string[];
  /** The tool this image unpacks each archive format with; formats not listed use busybox. */
  readonly unpack: Readonly<Partial<Record<ArchiveFormat, UnpackTool>>>;
  /** The variable that makes the unpacked archive importable, if the language has one. */
  readonly archivePathEnv?: string;
}

/**
 * Presets for stock images, with tags that exist on Docker Hub.
 *
 * - python: `python:3.12.8-slim-bookworm` (runs as root by default, so the
 *   bundle uses 65532), `python3 <script>`, PYTHONDONTWRITEBYTECODE=1 so
 *   imports do not try to write `__pycache__` next to read-only scripts,
 *   PYTHONUNBUFFERED=1 so logs appear as they are printed; zipfile/tarfile
 *   unpack archives.
 * - node: `node:22.12.0-bookworm-slim` as uid 10000 (node runs as any user; the image's `node` user is 1000),
 *   `node <script>`; GNU tar unpacks tar archives, busybox unzips zips.
 * - busybox: `busybox:1.36.1`, `sh <script>`; its own tar and unzip.
 */
export const RUNNER_PRESETS: Readonly<Record<ScriptRuntime, RunnerPreset>> = {
  [ScriptRuntime.PYTHON]: {
    image: PYTHON_IMAGE,
    interpreter: ['python3'],
    user: DEFAULT_RUN_AS_USER,
    env: { PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
    writableTmp: true,
    executables: ['python', 'python3', 'pip', 'pip3', 'sh', 'bash'],
    unpack: { 'zip': 'python', 'tar': 'python', 'tar.gz': 'python' },
    archivePathEnv: 'PYTHONPATH',
  },
  [ScriptRuntime.NODE]: {
    image: NODE_SLIM_IMAGE,
    interpreter: ['node'],
    // above 10000 so it can never be a user of the node; node runs as any uid (the image's `node` user is 1000)
    user: 10000,
    env: {},
    writableTmp: true,
    executables: ['node', 'npm', 'npx', 'corepack', 'sh', 'bash'],
    unpack: { 'tar': 'gnu-tar', 'tar.gz': 'gnu-tar' },
    archivePathEnv: 'NODE_PATH',
  },
  [ScriptRuntime.BUSYBOX]: {
    image: BUSYBOX_IMAGE,
    interpreter: ['sh'],
    user: DEFAULT_RUN_AS_USER,
    env: {},
    writableTmp: false,
    executables: ['sh', 'ash'],
    unpack: { 'zip': 'unzip', 'tar': 'tar', 'tar.gz': 'tar' },
  },
};

/** Interpreters that exist in some images and not others: a `command` naming one must match the preset. */
export const KNOWN_INTERPRETERS = new Set([
  'python',
  'python2',
  'python3',
  'pip',
  'pip3',
  'node',
  'nodejs',
  'npm',
  'npx',
  'corepack',
  'deno',
  'bun',
  'sh',
  'ash',
  'bash',
  'zsh',
  'ruby',
  'perl',
  'php',
  'java',
  'pwsh',
]);
