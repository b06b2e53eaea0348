import { App, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';

const scope = new Chart(new App(), 'refs');

/** A reference to a Secret made out of band, as users write it (`kplus.Secret.fromSecretName`). */
export function secretRef(name: string): kplus.ISecret {
  return kplus.Secret.fromSecretName(scope, `${name}-${scope.node.children.length}`, name);
}
