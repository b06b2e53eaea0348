/**
 * The environments this app deploys, in one typed module: everything that
 * differs between them (namespaces, replicas, hostnames, image tags, refs)
 * is here and nowhere else. main.ts only loops over this list.
 */
import type { ArgoCdSettings } from '../charts/argocd';
import type { GeneralPurposeRunnerChartProps } from '../charts/general-purpose-runner';
import type { ImmutableConfigInitChartProps, ImmutableConfigMapChartProps } from '../charts/immutable-config-init';
import type { KvProxyChartProps } from '../charts/kv-proxy';
import type { SidecarPodAuthChartProps, SidecarPodChartProps } from '../charts/sidecar-pod';
import type { StaticSiteChartProps } from '../charts/static-site';

export interface EnvironmentConfig {
  /** Folder under dist/ and suffix of the ArgoCD Application, e.g. `dev`. */
  readonly name: string;
  readonly staticSite: StaticSiteChartProps;
  readonly configImage: ImmutableConfigInitChartProps;
  readonly configMap: ImmutableConfigMapChartProps;
  readonly sidecarAuth: SidecarPodAuthChartProps;
  readonly sidecarContent: SidecarPodChartProps;
  readonly sidecarHotPlug: SidecarPodChartProps;
  readonly runner: GeneralPurposeRunnerChartProps;
  readonly kvProxy: KvProxyChartProps;
}

/** Where ArgoCD pulls dist/ from. Change these two settings for your fork. */
export const ARGOCD: ArgoCdSettings = {
  repoURL: 'https://git.example.com/platform/cdk8s-patterns.git',
  targetRevision: 'main',
  namespace: 'argocd',
};

/**
 * `dev` reproduces the seeds as they are (their namespaces and names, one
 * chart default each); `prod` runs the same charts in dedicated namespaces
 * with more replicas, hostnames and pinned refs.
 */
export const ENVIRONMENTS: EnvironmentConfig[] = [
  {
    name: 'dev',
    staticSite: {},
    configImage: {},
    configMap: {},
    sidecarAuth: {},
    sidecarContent: {},
    sidecarHotPlug: {},
    runner: {},
    kvProxy: {},
  },
  {
    name: 'prod',
    staticSite: { namespace: 'web-prod', replicas: 3 },
    configImage: { namespace: 'config-prod', replicas: 3 },
    configMap: { namespace: 'config-prod', replicas: 3 },
    // every Deployment that serves traffic: 2 or more replicas, a PodDisruptionBudget, spread over nodes
    sidecarAuth: { namespace: 'sidecars-prod', replicas: 2 },
    sidecarContent: { namespace: 'sidecars-prod', replicas: 2 },
    sidecarHotPlug: { namespace: 'sidecars-prod', replicas: 2 },
    runner: { namespace: 'runners-prod', replicas: 2, greeterIngress: { host: 'greeter.example.com' } },
    kvProxy: {
      namespace: 'kv-prod',
      namespaces: ['kv-prod'],
      replicas: 3,
      // bearer tokens cross the Ingress: TLS with a certificate Secret managed out of band (e.g. cert-manager)
      ingress: { className: 'nginx', host: 'kv.example.com', tlsSecretName: 'kv-example-com-tls' },
    },
  },
];
