//go:build tools

// Package kubectlvalidate pins kubectl-validate, which validates manifests
// offline against the Kubernetes OpenAPI schemas it embeds (1.28 among them);
// scripts/checkers/build.sh builds it from this module.
package kubectlvalidate

import _ "sigs.k8s.io/kubectl-validate"
