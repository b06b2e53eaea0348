#!/usr/bin/env bash
# Prints the cache key for binaries built from a Go module in this repository.
# The key covers everything that shapes the binaries: the module's go.mod and
# go.sum, every Go source file of the module (its own main packages), the Go
# version, the build environment (GOOS, GOARCH, CGO_ENABLED, GOFLAGS), the
# package list and the build flags, and the build script itself.
#
#   bash scripts/gobin/key.sh <module dir> <build script> <flags> <package>...
#
# scripts/kube/build.sh and lib/verify/cluster.ts (through build.sh --dir) use it, so the
# binaries are looked up under the key they were built under.
set -euo pipefail
MOD="$1"; SCRIPT="$2"; FLAGS="$3"; shift 3
export PATH="/usr/local/go/bin:$PATH"
{
  echo "go: $(GOTOOLCHAIN=local go version)"
  echo "env: GOOS=$(go env GOOS) GOARCH=$(go env GOARCH) CGO_ENABLED=${CGO_ENABLED:-} GOFLAGS=${GOFLAGS:-}"
  echo "packages: $*"
  echo "flags: $FLAGS"
  (cd "$MOD" && find . -name '*.go' -o -name go.mod -o -name go.sum | LC_ALL=C sort | xargs sha256sum)
  sha256sum < "$SCRIPT"
} | sha256sum | cut -c1-64
