#!/usr/bin/env bash
# Builds (or reuses) the Go test binary of tools/consul-client: HashiCorp's own
# Consul client (github.com/hashicorp/consul/api, pinned in its go.mod) run
# against kv-proxy's Consul API by test/kv-proxy.consul.kube.test.ts.
#
# Cached outside the work tree under scripts/gobin/key.sh's key (go.mod,
# go.sum, the module's sources, the Go version, the build environment, the
# package list, the build flags and this script), as scripts/kube/build.sh
# caches the control plane. Prints the binary's path as its last line.
#
#   bash scripts/consul-client/build.sh          # build or reuse
#   bash scripts/consul-client/build.sh --path   # print the binary's path only
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
MOD="$ROOT/tools/consul-client"
export PATH="/usr/local/go/bin:$PATH"
# the module's go line is the machine's Go; never fetch another toolchain
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

PKGS=(.)
BUILD_FLAGS="-c -trimpath"
command -v go >/dev/null || { echo "consul-client: Go is required (expected at /usr/local/go/bin/go)" >&2; exit 1; }
KEY="$(bash "$ROOT/scripts/gobin/key.sh" "$MOD" "$ROOT/scripts/consul-client/build.sh" "$BUILD_FLAGS" "${PKGS[@]}")"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/cdk8s-patterns/consul-client"
OUT="$CACHE/$KEY/consul-client.test"
if [ "${1:-}" = "--path" ]; then echo "$OUT"; exit 0; fi
if [ -x "$OUT" ]; then
  echo "consul-client: reusing $OUT" >&2
  echo "$OUT"
  exit 0
fi
mkdir -p "$CACHE"
# one build at a time per machine; a second caller waits, then reuses it
exec 9>"$CACHE/.lock"
flock 9
if [ -x "$OUT" ]; then echo "consul-client: reusing $OUT" >&2; echo "$OUT"; exit 0; fi
cd "$MOD"
start=$SECONDS
go mod download
TMP="$(mktemp -d "$CACHE/.build-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
# shellcheck disable=SC2086
go test $BUILD_FLAGS -o "$TMP/consul-client.test" "${PKGS[@]}" >&2
mkdir -p "$(dirname "$OUT")"
mv "$TMP/consul-client.test" "$OUT"
echo "consul-client: built in $((SECONDS - start)) s" >&2
echo "$OUT"
