/**
 * The Kubernetes 1.28 bindings the constructs use, taken from the ones
 * cdk8s-plus-28 exports (`import { k8s } from 'cdk8s-plus-28'`), so the
 * package ships no second copy of the generated `imports/` and a consumer's
 * objects and ours come from one module. Internal: not re-exported.
 */
import { k8s } from 'cdk8s-plus-28';

export import IntOrString = k8s.IntOrString;
export import KubeClusterRole = k8s.KubeClusterRole;
export import KubeClusterRoleBinding = k8s.KubeClusterRoleBinding;
export import KubeNetworkPolicy = k8s.KubeNetworkPolicy;
export import KubePodDisruptionBudget = k8s.KubePodDisruptionBudget;
export import KubeRole = k8s.KubeRole;
export import KubeRoleBinding = k8s.KubeRoleBinding;
export type NetworkPolicyPeer = k8s.NetworkPolicyPeer;
export type PolicyRule = k8s.PolicyRule;
