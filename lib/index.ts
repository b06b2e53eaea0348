/**
 * cdk8s-patterns: cdk8s constructs for five deployment patterns, built on
 * cdk8s-plus-28. This entry is the public API; anything not exported here is
 * internal. The validation gate lives in the `cdk8s-patterns/testing` entry.
 *
 * @packageDocumentation
 */

// StaticSite: nginx serving files kept in a ConfigMap
export { StaticSite } from './static-site';
export type { StaticSiteProps } from './static-site';

// ImmutableConfigInit and ImmutableConfigMap: versioned, read-only configuration
export { CopyStyle, ImmutableConfigInit, ImmutableConfigMap } from './immutable-config-init';
export type { ImmutableConfigInitProps, ImmutableConfigMapProps, ImmutableConfigMountProps } from './immutable-config-init';

// Sidecars: containers sharing a pod, on any workload or as a Deployment or a bare Pod
export { SidecarBarePod, SidecarDeployment } from './sidecar-workloads';
export type { SidecarBarePodProps, SidecarDeploymentProps } from './sidecar-workloads';
export { SidecarMode, Sidecars } from './sidecars';
export type { SidecarsOptions, SidecarsProps } from './sidecars';
export type { SidecarContainer } from './workload';
export { HotPlugReload, HotPlugReloadKind } from './sidecar-pod/presets';
export type {
  AuthProxyOptions,
  GitSyncOptions,
  HotPlugOptions,
  RestartOnChangeOptions,
  SharedContentOptions,
  SignalReloadOptions,
} from './sidecar-pod/presets';

// Scripts: a script bundle on any workload, or as a service, a Job or a CronJob
export { ScriptBundle, ScriptRuntime } from './script-bundle';
export type { RbacRule, ScriptBundleOptions, ScriptBundleProps } from './script-bundle';
export { ScriptCronJob, ScriptJob, ScriptService } from './script-workloads';
export type { ScriptCronJobProps, ScriptJobProps, ScriptServiceProps, ScriptWorkloadOptions } from './script-workloads';

// KvProxy: ConfigMaps as a key/value and service-discovery API
export { KvProxy, KvProxyAccessLog } from './kv-proxy';
export type { KvProxyProps } from './kv-proxy';

// the policy for workloads you build yourself, and the vocabulary every construct shares
export { WorkloadPolicy } from './policy';
export type { WorkloadPolicyProps } from './policy';
export { WorkloadNetworkPolicy } from './expose';
export type { EgressOptions, ExposeOptions, IngressOptions, NetworkPolicyOptions, PodDisruptionBudgetOptions } from './expose';
export { Files } from './workload';
export type { DirectoryOptions, WorkloadSecurityOptions } from './workload';
export type { StoredFile } from './files';

// building blocks for your own containers
export { hardenedContainer, hardenedPodProps } from './security';
export { recommendedLabels } from './labels';
export type { RecommendedLabelsOptions } from './labels';
export { Images } from './images';
