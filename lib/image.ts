/**
 * A parsed container image reference.
 */
export interface ImageReference {
  /** Registry host (with port), or undefined for Docker Hub. */
  readonly registry?: string;
  /** Repository path, e.g. `library/nginx` or `nginxinc/nginx-unprivileged`. */
  readonly repository: string;
  /** Tag, if given. */
  readonly tag?: string;
  /** Digest (`sha256:<64 hex>`), if given. */
  readonly digest?: string;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?';
const REFERENCE = new RegExp(`^(?:(${DOMAIN})/)?(${COMPONENT}(?:/${COMPONENT})*)(?::([\\w][\\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$`);

/**
 * Parses an image reference and insists that it is pinned: a tag or a digest
 * is required and the floating `latest` tag is refused, because a manifest
 * that ArgoCD syncs must say exactly what runs.
 *
 * @param image the image reference, e.g. `nginxinc/nginx-unprivileged:1.27.3-alpine`
 * @param prop the name of the prop being validated, used in error messages
 */
export function parseImage(image: string, prop: string = 'image'): ImageReference {
  if (image === undefined || image === null) throw new Error(`${prop} is required`);
  if (typeof image !== 'string' || image.trim() === '') {
    throw new Error(`${prop} must be a non-empty image reference, got ${JSON.stringify(image)}`);
  }
  const m = REFERENCE.exec(image);
  if (!m) {
    // "MyOrg/App:1.0": say that the repository must be lowercase rather than that the reference is invalid
    const name = image.split('@')[0];
    const tagAt = name.lastIndexOf(':') > name.lastIndexOf('/') ? name.lastIndexOf(':') : name.length;
    const lowered = name.slice(0, tagAt).toLowerCase() + image.slice(tagAt);
    if (/[A-Z]/.test(image.slice(0, tagAt)) && REFERENCE.test(lowered)) {
      throw new Error(`${prop} repository must be lowercase, got "${image.slice(0, tagAt)}" in "${image}" (did you mean "${lowered}"?)`);
    }
    throw new Error(`${prop} must be a valid image reference like "registry/repo:tag" or "repo@sha256:<digest>", got "${image}"`);
  }
  let [, registry, repository] = m;
  const [, , , tag, digest] = m;
  // "localhost:5000/x" and "host.tld/x" are registries; "library/nginx" is not.
  if (registry && !/[.:]/.test(registry) && registry !== 'localhost') {
    repository = `${registry}/${repository}`;
    registry = undefined as unknown as string;
  }
  if (/[A-Z]/.test(repository)) {
    const fixed = image.replace(repository, repository.toLowerCase());
    throw new Error(`${prop} repository must be lowercase, got "${repository}" in "${image}" (did you mean "${fixed}"?)`);
  }
  if (!tag && !digest) {
    throw new Error(`${prop} must be pinned with a tag or a digest, got "${image}" (for example "${image}:1.2.3" or "${image}@sha256:...")`);
  }
  if (tag === 'latest' && !digest) {
    throw new Error(`${prop} must not use the floating "latest" tag, got "${image}": pin a version tag or a digest`);
  }
  return { registry: registry || undefined, repository, tag, digest };
}

/**
 * Validates an image reference (see {@link parseImage}) and returns it unchanged.
 */
export function validateImage(image: string, prop: string = 'image'): string {
  parseImage(image, prop);
  return image;
}
