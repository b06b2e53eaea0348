import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { validateImage } from './image';
import { validatePositiveInteger, validateResources } from './validate';

/**
 * The UID/GID our pods run as unless a pattern's image needs another one:
 * 65532 is the conventional "nonroot" user of distroless and many minimal images.
 */
export const DEFAULT_RUN_AS_USER = 65532;

/**
 * Small, explicit resources for every container: 50m CPU and 64 MiB requested,
 * 500m CPU and 128 MiB at most. cdk8s-plus-28 would request a whole CPU and
 * 512 MiB per container, which wastes capacity for the small workloads here.
 */
export const DEFAULT_RESOURCES: kplus.ContainerResources = {
  cpu: { request: kplus.Cpu.millis(50), limit: kplus.Cpu.millis(500) },
  memory: { request: Size.mebibytes(64), limit: Size.mebibytes(128) },
};

/**
 * Options for {@link hardenedContainer}.
 */
export interface HardeningOptions {
  /**
   * UID the container runs as (must not be 0).
   * @default DEFAULT_RUN_AS_USER (65532)
   */
  readonly user?: number;
  /**
   * GID the container runs as (must not be 0).
   * @default - the same as `user`
   */
  readonly group?: number;
}

function resolveIds(opts: HardeningOptions, prop: string): { user: number; group: number } {
  const user = validatePositiveInteger(opts.user ?? DEFAULT_RUN_AS_USER, `${prop}.user`, 1, 2147483647);
  const group = validatePositiveInteger(opts.group ?? user, `${prop}.group`, 1, 2147483647);
  return { user, group };
}

/**
 * Container props that pass Pod Security Standards "restricted" and more:
 * non-root with an explicit non-zero UID/GID, read-only root filesystem, no
 * privilege escalation, all capabilities dropped, seccomp RuntimeDefault,
 * `imagePullPolicy: IfNotPresent` for pinned images, small resources, and an
 * image that must carry a tag or digest (never `latest`).
 *
 * Anything set in `props` wins over these defaults, field by field inside
 * `securityContext`, so a container can still e.g. add NET_BIND_SERVICE.
 */
export function hardenedContainer(props: kplus.ContainerProps, opts: HardeningOptions = {}): kplus.ContainerProps {
  const prop = props.name ? `container "${props.name}"` : 'container';
  validateImage(props.image, `${prop} image`);
  validateResources(props.resources, `${prop} resources`);
  const ids = resolveIds({ user: props.securityContext?.user ?? opts.user, group: props.securityContext?.group ?? opts.group }, prop);
  return {
    imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
    resources: DEFAULT_RESOURCES,
    ...props,
    securityContext: {
      ensureNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: [kplus.Capability.ALL] },
      seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
      ...props.securityContext,
      ...ids,
    },
  };
}

/**
 * Options for {@link hardenedPodProps}.
 */
export interface HardenedPodOptions extends HardeningOptions {
  /**
   * GID that owns mounted volumes, so non-root containers can read what other
   * containers (or the kubelet) write there.
   * @default - the same as `group`
   */
  readonly fsGroup?: number;
}

/**
 * Pod-level props for cdk8s-plus workloads: non-root UID/GID/fsGroup and no
 * service-account token (pods that call the Kubernetes API opt in explicitly).
 */
export function hardenedPodProps(opts: HardenedPodOptions = {}): {
  securityContext: kplus.PodSecurityContextProps;
  automountServiceAccountToken: boolean;
} {
  const ids = resolveIds(opts, 'pod');
  const fsGroup = validatePositiveInteger(opts.fsGroup ?? ids.group, 'pod.fsGroup', 1, 2147483647);
  return {
    securityContext: {
      ensureNonRoot: true,
      user: ids.user,
      group: ids.group,
      fsGroup,
      fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH,
    },
    automountServiceAccountToken: false,
  };
}
