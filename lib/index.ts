/**
 * cdk8s-patterns: cdk8s constructs for five deployment patterns, built on
 * cdk8s-plus-28. This entry is the public API; anything not exported here is
 * internal. The validation gate lives in the `cdk8s-patterns/testing` entry.
 *
 * @packageDocumentation
 */

// the five patterns
export * from './static-site';
export * from './immutable-config-init';
export { SidecarMode, Sidecars } from './sidecars';
export type { SidecarsOptions, SidecarsProps } from './sidecars';
export { SidecarBarePod, SidecarDeployment } from './sidecar-workloads';
export type { SidecarBarePodProps, SidecarDeploymentProps } from './sidecar-workloads';
export { HotPlugReload, HotPlugReloadKind } from './sidecar-pod/presets';
export type {
  AuthProxyOptions, GitSyncOptions, HotPlugOptions, RestartOnChangeOptions, SharedContentOptions, SignalReloadOptions,
} from './sidecar-pod/presets';
export type { SidecarContainer, WorkloadSecurityOptions } from './workload';
export * from './general-purpose-runner';
export * from './kv-proxy';

// building blocks the patterns share
export * from './expose';
// the files → ConfigMap helpers are internal; their result type is public (StaticSite.files)
export type { FileEntry, StoredFile } from './files';
export * from './image';
export * from './images';
// the pattern modules re-export these pins under the same names; one source
export { BUSYBOX_IMAGE, GIT_SYNC_IMAGE } from './images';
// input validation with the construct-style messages; plumbing (required, formatBytes, ...) stays internal
export {
  MAX_CONFIGMAP_BYTES, validateDnsLabel, validateDnsSubdomain, validateConfigMapKey, validateQualifiedName,
  validateRelativePath, validateLabelValue, validatePort, validatePortName, validateEnvName,
  validateAbsolutePath, validatePositiveInteger, configMapSize, validateUnprivilegedPort, validateHttpPath,
  validateIngressHost, validateCidr, validateUniqueList, validateOneOf, validateBoolean,
  validateTimeZone, RBAC_VERBS, validateRbacVerb, validateNonEmptyText, validateEnvVariables,
  validateResources, validateHeaderValue,
} from './validate';
export { addChecksumAnnotation, contentHash } from './hash';
export type { PodTemplateOwner } from './hash';
export * from './security';
export * from './labels';
