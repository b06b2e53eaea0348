/**
 * The Kubernetes 1.28 bindings the constructs use, taken from the ones
 * cdk8s-plus-28 exports (`import { k8s } from 'cdk8s-plus-28'`), so the
 * package ships no second copy of the generated `imports/` and a consumer's
 * objects and ours come from one module. Internal: not re-exported.
 */
import { k8s } from 'cdk8s-plus-28';

export const IntOrString = k8s.IntOrString;
export type IntOrString = k8s.IntOrString;
export const KubeClusterRole = k8s.KubeClusterRole;
export type KubeClusterRole = k8s.KubeClusterRole;
export const KubeClusterRoleBinding = k8s.KubeClusterRoleBinding;
export type KubeClusterRoleBinding = k8s.KubeClusterRoleBinding;
export const KubeNetworkPolicy = k8s.KubeNetworkPolicy;
export type KubeNetworkPolicy = k8s.KubeNetworkPolicy;
export const KubePodDisruptionBudget = k8s.KubePodDisruptionBudget;
export type KubePodDisruptionBudget = k8s.KubePodDisruptionBudget;
export const KubeRole = k8s.KubeRole;
export type KubeRole = k8s.KubeRole;
export const KubeRoleBinding = k8s.KubeRoleBinding;
export type KubeRoleBinding = k8s.KubeRoleBinding;
export type NetworkPolicyPeer = k8s.NetworkPolicyPeer;
export type PolicyRule = k8s.PolicyRule;
