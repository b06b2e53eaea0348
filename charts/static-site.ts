import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { Files, StaticSite } from '../lib';

/**
 * The seed's page: "Hello from the Cloud", whose script greets the `name`
 * from the query string (`/?name=Smarty` shows "Hello Smarty from the Cloud").
 * Unlike the seed it decodes the value and leaves the heading alone when no
 * name is given (the seed printed "Hello undefined from the Cloud").
 */
export const HELLO_PAGE = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Hello from the Cloud</title>
  </head>
  <body>
    <h1>Hello from the Cloud</h1>
    <script>
      const name = new URLSearchParams(location.search).get("name");
      if (name) {
        document.querySelector("h1").textContent = \`Hello \${name} from the Cloud\`;
      }
    </script>
  </body>
</html>
`;

/**
 * Props for {@link StaticSiteChart}.
 */
export interface StaticSiteChartProps extends ChartProps {
  /**
   * Namespace of every object. The chart does not create it.
   * @default 'testing'
   */
  readonly namespace?: string;
  /**
   * Base name of the site's objects.
   * @default 'nginx'
   */
  readonly name?: string;
  /**
   * Pod replicas.
   * @default 2
   */
  readonly replicas?: number;
}

/**
 * The seed, "nginx serving a ConfigMap's files", as a hardened StaticSite:
 * the "Hello from the Cloud" page in namespace `testing` behind a ClusterIP
 * Service on port 80 (`kubectl -n testing port-forward svc/nginx 9090:80`,
 * then open http://localhost:9090/?name=Smarty).
 */
export class StaticSiteChart extends Chart {
  /** The site. */
  public readonly site: StaticSite;

  constructor(scope: Construct, id: string, props: StaticSiteChartProps = {}) {
    super(scope, id, { ...props, namespace: props.namespace ?? 'testing' });
    this.site = new StaticSite(this, 'Site', {
      name: props.name ?? 'nginx',
      replicas: props.replicas,
      files: Files.fromContent({ 'index.html': HELLO_PAGE }),
    });
  }
}
