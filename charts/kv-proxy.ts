import * as kplus from 'cdk8s-plus-28';
import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { IngressOptions, KvProxy } from '../lib';

/**
 * Props for {@link KvProxyChart}. The defaults reproduce the k8skv example:
 * one proxy in `default` serving the ConfigMaps of `default`, behind an
 * `nginx` Ingress, with writes (its test.sh POSTs) and service discovery.
 */
export interface KvProxyChartProps extends ChartProps {
  /**
   * Base name of the proxy's objects.
   * @default 'k8skv'
   */
  readonly name?: string;
  /**
   * Namespaces the proxy serves.
   * @default ['default']
   */
  readonly namespaces?: string[];
  /**
   * Whether write tokens may change keys.
   * @default true - the example's test.sh POSTs keys
   */
  readonly writes?: boolean;
  /**
   * Whether `/discover/<namespace>` is served.
   * @default true - the example has a discovery endpoint
   */
  readonly discovery?: boolean;
  /**
   * The Ingress (the example has one, of class `nginx`, for every host).
   * `tlsSecretName` names a `kubernetes.io/tls` Secret made out of band.
   * @default { className: 'nginx' }
   */
  readonly ingress?: Omit<IngressOptions, 'tlsSecret'> & { readonly tlsSecretName?: string };
  /**
   * Name of the out-of-band Secret with `read-tokens`, `write-tokens` and (to
   * scrape `/metrics`) `metrics-tokens`; the chart passes it to the proxy as
   * its `tokenSecret`.
   * @default - `<name>-tokens`
   */
  readonly tokenSecretName?: string;
  /**
   * Number of pods.
   * @default 2
   */
  readonly replicas?: number;
}

/**
 * The k8skv key/value proxy (seed 004): the example's Flask proxy replaced by
 * the reviewed Node server, keeping its shape (namespace `default`, port 5001,
 * Ingress class `nginx`, writes and discovery on) but not its access: a
 * dedicated ServiceAccount with a Role granting only get/list/watch/create/patch
 * on ConfigMaps and list/watch on Services and EndpointSlices, instead of write
 * verbs bound to the namespace's default ServiceAccount; a ClusterIP Service
 * behind the Ingress instead of a LoadBalancer; bearer tokens on every request.
 *
 * Out of band: `Secret/<namespace>/<name>-tokens` (default `Secret/default/k8skv-tokens`).
 */
export class KvProxyChart extends Chart {
  /** The proxy construct. */
  public readonly proxy: KvProxy;

  constructor(scope: Construct, id: string, props: KvProxyChartProps = {}) {
    super(scope, id, { ...props, namespace: props.namespace ?? 'default' });
    this.proxy = new KvProxy(this, 'KvProxy', {
      name: props.name ?? 'k8skv',
      namespaces: props.namespaces ?? ['default'],
      writes: props.writes ?? true,
      discovery: props.discovery ?? true,
      ingress: ingressOptions(this, props.ingress ?? { className: 'nginx' }),
      tokenSecret: props.tokenSecretName === undefined ? undefined : kplus.Secret.fromSecretName(this, 'Tokens', props.tokenSecretName),
      replicas: props.replicas,
      // the example's port, in the container and on the Service
      port: 5001,
      servicePort: 5001,
    });
  }
}

function ingressOptions(scope: Construct, given: NonNullable<KvProxyChartProps['ingress']>): IngressOptions {
  const { tlsSecretName, ...rest } = given;
  return tlsSecretName === undefined ? rest : { ...rest, tlsSecret: kplus.Secret.fromSecretName(scope, 'IngressTls', tlsSecretName) };
}
