/**
 * Every stock image this library runs, pinned in one place, so the patterns
 * share the same few images (fewer images, each upgraded once). Tags are pinned; override per construct with
 * its `image` prop (a digest pin is recommended in production).
 */

/** nginx, unprivileged build (uid 101, listens on 8080): StaticSite and the auth proxy sidecar. */
export const NGINX_UNPRIVILEGED_IMAGE = 'nginxinc/nginx-unprivileged:1.28.0-alpine';

/** Python with only the standard library: `ScriptRuntime.PYTHON` and the shared-content web server. */
export const PYTHON_IMAGE = 'python:3.12.8-slim-bookworm';

/** busybox (sh, cp, wget, unzip): `ScriptRuntime.BUSYBOX` and small helper containers. */
export const BUSYBOX_IMAGE = 'busybox:1.36.1';

/** Node.js on the current LTS line (Node 20 reached end of life on 2026-04-30): KvProxy. */
export const NODE_LTS_IMAGE = 'node:24.13.0-alpine';

/** Kubernetes' git-sync v4 (uid/gid 65533): the shared-content and hot-plug presets. */
export const GIT_SYNC_IMAGE = 'registry.k8s.io/git-sync/git-sync:v4.4.0';

/** Node.js 22 on Debian slim (GNU tar, bash): `ScriptRuntime.NODE`. */
export const NODE_SLIM_IMAGE = 'node:22.12.0-bookworm-slim';

/**
 * The stock images the constructs run, pinned, under one name each. Use them
 * for your own containers to share the images (and their upgrades) with the
 * constructs; every construct's `image` prop overrides its own.
 */
export class Images {
  /** nginx, unprivileged build (UID 101, listens on 8080): StaticSite and the auth proxy sidecar. */
  public static readonly NGINX_UNPRIVILEGED = NGINX_UNPRIVILEGED_IMAGE;
  /** Python with only the standard library: `ScriptRuntime.PYTHON` and the shared-content web server. */
  public static readonly PYTHON = PYTHON_IMAGE;
  /** busybox (sh, cp, wget, unzip): `ScriptRuntime.BUSYBOX` and small helper containers. */
  public static readonly BUSYBOX = BUSYBOX_IMAGE;
  /** Node.js on the current LTS line: KvProxy. */
  public static readonly NODE_LTS = NODE_LTS_IMAGE;
  /** Node.js 22 on Debian slim (GNU tar, bash): `ScriptRuntime.NODE`. */
  public static readonly NODE_SLIM = NODE_SLIM_IMAGE;
  /** Kubernetes' git-sync v4 (UID/GID 65533): the git-sync sidecar presets. */
  public static readonly GIT_SYNC = GIT_SYNC_IMAGE;

  private constructor() {}
}
