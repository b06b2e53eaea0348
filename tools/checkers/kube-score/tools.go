//go:build tools

// Package kubescore pins kube-score, the practice checker platform teams run on
// generated manifests; scripts/checkers/build.sh builds it from this module.
// kube-score and kubectl-validate live in separate modules because they need
// different k8s.io/api releases (v0.32 and v0.30).
package kubescore

import _ "github.com/zegl/kube-score/cmd/kube-score"
