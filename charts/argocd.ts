import { ApiObject, Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { recommendedLabels } from '../lib';
import { dnsLabel } from './names';

/** Where ArgoCD finds the repository this app's dist/ is committed to. */
export interface ArgoCdSettings {
  /** Git repository URL ArgoCD pulls from. */
  readonly repoURL: string;
  /** Branch, tag or commit ArgoCD follows. */
  readonly targetRevision: string;
  /**
   * Namespace ArgoCD runs in (where Applications and AppProjects live).
   * @default 'argocd'
   */
  readonly namespace?: string;
  /**
   * Cluster API URL of the destination.
   * @default 'https://kubernetes.default.svc' (the cluster ArgoCD runs in)
   */
  readonly destinationServer?: string;
}

/** What one environment needs from ArgoCD, derived from its synthesized objects. */
export interface ArgoCdEnvironment {
  /** Environment name, e.g. `dev`; names the Application and the AppProject. */
  readonly name: string;
  /** Path of the environment's manifests in the repository, e.g. `dist/dev`. */
  readonly path: string;
  /** Namespaces the environment's objects live in (the project's only destinations). */
  readonly namespaces: string[];
  /** Cluster-scoped kinds the environment creates, as `group/Kind` (`/Namespace` for the core group). */
  readonly clusterResources: string[];
}

export interface ArgoCdChartProps extends ChartProps {
  readonly settings: ArgoCdSettings;
  readonly environments: ArgoCdEnvironment[];
}

/**
 * One AppProject and one Application per environment: the Application syncs
 * the environment's folder as a plain directory (automated, prune, self-heal);
 * the project allows exactly that repository, those namespaces and those
 * cluster-scoped kinds, so an environment cannot write anywhere else.
 */
export class ArgoCdChart extends Chart {
  public readonly applications: ApiObject[] = [];
  public readonly projects: ApiObject[] = [];

  constructor(scope: Construct, id: string, props: ArgoCdChartProps) {
    const ns = dnsLabel(props.settings.namespace ?? 'argocd', 'settings.namespace');
    super(scope, id, { ...props, namespace: ns });
    if (!/^(https?|ssh|git):\/\/|^git@/.test(props.settings.repoURL)) {
      throw new Error(`settings.repoURL must be a git URL (https://, ssh://, git:// or git@), got "${props.settings.repoURL}"`);
    }
    if (!props.settings.targetRevision) throw new Error('settings.targetRevision must be a branch, tag or commit, got ""');
    const server = props.settings.destinationServer ?? 'https://kubernetes.default.svc';
    for (const env of props.environments) {
      const name = dnsLabel(`patterns-${env.name}`, 'environment name');
      const labels = recommendedLabels({ name: 'argocd-delivery', instance: name, partOf: 'cdk8s-patterns' });
      if (!env.namespaces.length) throw new Error(`environment "${env.name}" has no namespaces to deploy to`);
      this.projects.push(
        new ApiObject(this, `${env.name}-project`, {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'AppProject',
          metadata: { name, labels },
          spec: {
            description: `cdk8s-patterns ${env.name}: synthesized from main.ts, synced from ${env.path}`,
            sourceRepos: [props.settings.repoURL],
            destinations: [...env.namespaces].sort().map((namespace) => ({ server, namespace })),
            clusterResourceWhitelist: [...env.clusterResources].sort().map((gk) => {
              const [group, kind] = gk.split('/');
              return { group, kind };
            }),
          },
        }),
      );
      this.applications.push(
        new ApiObject(this, `${env.name}-application`, {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'Application',
          // cascading (foreground) deletion of the Application's objects; the path-qualified spelling of
          // Argo CD's ForegroundPropagationPolicyFinalizer, so the API server (1.29+) warns about nothing
          metadata: { name, labels, finalizers: ['resources-finalizer.argocd.argoproj.io/foreground'] },
          spec: {
            project: name,
            source: { repoURL: props.settings.repoURL, targetRevision: props.settings.targetRevision, path: env.path, directory: { recurse: false } },
            // objects carry their own namespaces; this one is only the default for any that do not
            destination: { server, namespace: [...env.namespaces].sort()[0] },
            syncPolicy: {
              automated: { prune: true, selfHeal: true },
              syncOptions: ['PruneLast=true', 'ApplyOutOfSyncOnly=true'],
            },
          },
        }),
      );
    }
  }
}
