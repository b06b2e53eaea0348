import { Size, SizeRoundingBehavior } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { validateImage } from './image';
import { isWholeMebibytes } from './validate';
import { mergeResources, resolveSecurity, WorkloadSecurityOptions } from './workload';

export { DEFAULT_RUN_AS_USER } from './workload';

/**
 * The ephemeral storage every container requests and may use at most, unless
 * its `resources` set `ephemeralStorage`: 64 MiB requested, 256 MiB at most.
 * Root filesystems are read-only, so this bounds the container's logs (the
 * kubelet keeps up to 5 x 10 MiB per container) and, summed over the pod's
 * containers, the pod's emptyDir volumes (each bounded by its own `sizeLimit`,
 * see {@link DEFAULT_EMPTY_DIR_SIZE_LIMIT}). The kubelet evicts a pod that
 * writes more, instead of letting it fill the node's disk.
 */
export const DEFAULT_EPHEMERAL_STORAGE: kplus.EphemeralStorageResources = {
  request: Size.mebibytes(64),
  limit: Size.mebibytes(256),
};

/**
 * cdk8s-plus-28 writes ephemeral storage in GiB and refuses a size that is not
 * a whole number of them; this copy of `size` writes the fraction instead
 * (`0.25Gi` for 256 MiB), which the API server stores as `256Mi`.
 */
function fractionalGibibytes(size: Size | undefined): Size | undefined {
  if (!(size instanceof Size)) return size;
  const copy = Size.kibibytes(size.toKibibytes({ rounding: SizeRoundingBehavior.NONE }));
  return Object.assign(copy, {
    toGibibytes: (opts: { rounding?: SizeRoundingBehavior } = {}) =>
      Size.prototype.toGibibytes.call(copy, { rounding: SizeRoundingBehavior.NONE, ...opts }),
  });
}

/**
 * The `sizeLimit` of an emptyDir a pattern creates unless told otherwise
 * (each pattern documents its own where it differs, and each takes an override):
 * 64 MiB, room for scratch files, a copied config or an unpacked script bundle
 * (a ConfigMap holds at most 1 MiB).
 *
 * These volumes hold the user's data (their config image's files, their
 * bundle, their repository, their scripts' scratch files), so the limit is
 * headroom for that data rather than a multiple of ours. The runtime proofs
 * measure the examples at 4-264 KiB (under 0.4% of 64 MiB: the synced
 * repository 264 KiB, the unpacked bundles 16-20 KiB, the copied config
 * 8 KiB, the scripts' /tmp 4 KiB); docs/testing.md, "How the sizes were
 * chosen", lists them. The presets' own scratch volumes, whose contents we
 * know, are smaller: see PRESET_TMP_SIZE_LIMIT and STATIC_SITE_EMPTY_DIR_SIZE_LIMIT.
 */
export const DEFAULT_EMPTY_DIR_SIZE_LIMIT = Size.mebibytes(64);

/** A Size as a user wrote it (`512 KiB`), anything else as JSON. */
function describeSize(size: unknown): string {
  if (size instanceof Size) {
    const kib = size.toKibibytes({ rounding: SizeRoundingBehavior.NONE });
    return kib % 1024 === 0 ? `${kib / 1024} MiB` : `${kib} KiB`;
  }
  return JSON.stringify(size);
}

/** An emptyDir `sizeLimit` prop: a cdk8s Size of a whole number of MiB (at least 1), else `fallback`. */
export function resolveSizeLimit(size: Size | undefined, prop: string, fallback: Size = DEFAULT_EMPTY_DIR_SIZE_LIMIT): Size {
  if (size === undefined) return fallback;
  if (!(size instanceof Size) || !isWholeMebibytes(size)) {
    throw new Error(
      `${prop} must be a cdk8s Size of a whole number of MiB, at least 1 MiB (cdk8s-plus writes emptyDir sizes in MiB), ` +
        `such as Size.mebibytes(64), got ${describeSize(size)}`,
    );
  }
  return size;
}

/**
 * Small, explicit resources for every container: 50m CPU and 64 MiB requested,
 * 500m CPU and 128 MiB at most, and {@link DEFAULT_EPHEMERAL_STORAGE}.
 * cdk8s-plus-28 would request a whole CPU and 512 MiB per container, which
 * wastes capacity for the small workloads here.
 */
export const DEFAULT_RESOURCES: kplus.ContainerResources = {
  cpu: { request: kplus.Cpu.millis(50), limit: kplus.Cpu.millis(500) },
  memory: { request: Size.mebibytes(64), limit: Size.mebibytes(128) },
  ephemeralStorage: DEFAULT_EPHEMERAL_STORAGE,
};

function ephemeralStorage(e: kplus.EphemeralStorageResources): kplus.EphemeralStorageResources {
  return { request: fractionalGibibytes(e.request), limit: fractionalGibibytes(e.limit) };
}

/**
 * Container props that pass Pod Security Standards "restricted" and more:
 * non-root with an explicit non-zero UID/GID, read-only root filesystem, no
 * privilege escalation, all capabilities dropped, seccomp RuntimeDefault,
 * `imagePullPolicy: IfNotPresent` for pinned images, small resources
 * (`resources` merged field by field over 50m/500m CPU, 64Mi/128Mi memory and
 * 64Mi/256Mi ephemeral storage), and an image that must carry a tag or
 * digest (never `latest`). `portNumber` becomes a port named `http`, without
 * the TCP startupProbe cdk8s-plus would add for it.
 *
 * Anything set in `props` wins over these defaults, field by field inside
 * `securityContext`, so a container can still e.g. add NET_BIND_SERVICE.
 */
export function hardenedContainer(props: kplus.ContainerProps, opts: WorkloadSecurityOptions = {}): kplus.ContainerProps {
  const prop = props.name ? `container "${props.name}"` : 'container';
  validateImage(props.image, `${prop} image`);
  const ids = resolveSecurity({ user: props.securityContext?.user ?? opts.user, group: props.securityContext?.group ?? opts.group }, prop, {}, true);
  const resources = mergeResources(DEFAULT_RESOURCES, props.resources, `${prop} resources`);
  const { portNumber, port, ...rest } = props;
  const own = portNumber ?? port;
  const ports = [...(props.ports ?? [])];
  if (own !== undefined && !ports.some((p) => p.number === own)) {
    ports.unshift({ number: own, ...(ports.some((p) => p.name === 'http') ? {} : { name: 'http' }) });
  }
  return {
    imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
    ...rest,
    ...(ports.length ? { ports } : {}),
    resources: { ...resources, ephemeralStorage: ephemeralStorage(resources.ephemeralStorage ?? DEFAULT_EPHEMERAL_STORAGE) },
    securityContext: {
      ensureNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: [kplus.Capability.ALL] },
      seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
      ...props.securityContext,
      user: ids.user,
      group: ids.group,
    },
  };
}

/**
 * Pod-level props for cdk8s-plus workloads: non-root UID/GID/fsGroup and no
 * service-account token (pods that call the Kubernetes API opt in
 * explicitly). {@link WorkloadPolicy} then replaces cdk8s-plus's
 * construct-path selector with the library's.
 */
export function hardenedPodProps(opts: WorkloadSecurityOptions = {}): {
  securityContext: kplus.PodSecurityContextProps;
  automountServiceAccountToken: boolean;
} {
  const ids = resolveSecurity(opts, 'pod');
  return {
    securityContext: {
      ensureNonRoot: true,
      user: ids.user,
      group: ids.group,
      fsGroup: ids.fsGroup,
      fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH,
    },
    automountServiceAccountToken: false,
  };
}
