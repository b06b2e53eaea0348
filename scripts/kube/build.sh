#!/usr/bin/env bash
# Builds (or reuses) the real control plane the tests run against:
# etcd, kube-apiserver and kubectl from the Go module in tools/kube.
#
# The binaries live outside the work tree, keyed by scripts/gobin/key.sh
# (go.mod, go.sum, the module's sources, the Go version, the build
# environment, the package list, the build flags and this script), so every
# checkout and CI run on this machine reuses one build; a fresh machine builds them (several minutes on 2 cores: progress is
# printed every 20 s). Prints the binary directory as its last line.
#
#   bash scripts/kube/build.sh            # build or reuse
#   bash scripts/kube/build.sh --dir      # print the binary directory only
#   KUBE_BIN_DIR=/path bash ...           # use prebuilt binaries instead
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
MOD="$ROOT/tools/kube"
export PATH="/usr/local/go/bin:$PATH"
# the module's go line is the machine's Go; never fetch another toolchain
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

BINS=(etcd kube-apiserver kubectl)
if [ -n "${KUBE_BIN_DIR:-}" ]; then
  for b in "${BINS[@]}"; do [ -x "$KUBE_BIN_DIR/$b" ] || { echo "kube: KUBE_BIN_DIR=$KUBE_BIN_DIR has no $b" >&2; exit 1; }; done
  echo "kube: using prebuilt binaries in KUBE_BIN_DIR" >&2
  echo "$KUBE_BIN_DIR"
  exit 0
fi

PKGS=(./etcd k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl)
# the ldflags stamp the release from go.mod, which the key covers
BUILD_FLAGS="-v -trimpath -ldflags=-s -w -X gitVersion,gitMajor,gitMinor,gitTreeState=clean"
# scripts/kube/cluster.ts (binDir) asks the same script for the same key
command -v go >/dev/null || { echo "kube: Go is required to build the control plane (expected at /usr/local/go/bin/go)" >&2; exit 1; }
KEY="$(bash "$ROOT/scripts/gobin/key.sh" "$MOD" "$ROOT/scripts/kube/build.sh" "$BUILD_FLAGS" "${PKGS[@]}")"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/cdk8s-patterns/kube"
OUT="$CACHE/$KEY"
# --dir: print where the binaries are (or would be) and stop
if [ "${1:-}" = "--dir" ]; then echo "$OUT"; exit 0; fi
have() { for b in "${BINS[@]}"; do [ -x "$OUT/$b" ] || return 1; done; }

# Argo CD's CRDs (manifests/crds of its Go module, checksum-verified by the
# Go checksum database) for the dist/argocd objects; cheap when cached.
ARGO_CD="github.com/argoproj/argo-cd/v3@$(cat "$MOD/ARGO_CD_VERSION")"
if ! crds="$(cd / && GOFLAGS= go mod download -json "$ARGO_CD" 2>&1)" || ! grep -q '"Dir"' <<<"$crds"; then
  echo "kube: go mod download $ARGO_CD failed:" >&2; echo "$crds" >&2; exit 1
fi
echo "kube: Argo CD CRDs from $ARGO_CD ($(sed -n 's/.*"Dir": "\(.*\)",/\1/p' <<<"$crds")/manifests/crds)" >&2

if have; then
  echo "kube: reusing etcd, kube-apiserver, kubectl from $OUT" >&2
  echo "$OUT"
  exit 0
fi

mkdir -p "$CACHE"
# one build at a time per machine; a second caller waits, then reuses it
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
  echo "kube: another build is running; waiting for it" >&2
  flock 9
  if have; then echo "kube: reusing $OUT" >&2; echo "$OUT"; exit 0; fi
fi

cd "$MOD"
start=$SECONDS
echo "kube: $(go version | cut -d' ' -f3-): downloading modules (tools/kube/go.sum)" >&2
go mod download
echo "kube: modules ready in $((SECONDS - start)) s; building ${BINS[*]} (a cold build takes several minutes)" >&2
total="$(go list -deps "${PKGS[@]}" | wc -l)"
TMP="$(mktemp -d "$CACHE/.build-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
LOG="$TMP/build.log"
# -v names each package as it is compiled: count them for progress
# stamp the release into the binaries as Kubernetes' own build does (/version, kubectl version)
KV="$(go list -m -f '{{.Version}}' k8s.io/kubernetes)"
MAJOR="${KV#v}"; MAJOR="${MAJOR%%.*}"; MINOR="${KV#v*.}"; MINOR="${MINOR%%.*}"
LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDFLAGS+=" -X $pkg.gitVersion=$KV -X $pkg.gitMajor=$MAJOR -X $pkg.gitMinor=$MINOR -X $pkg.gitTreeState=clean"
done
go build -v -trimpath -ldflags="$LDFLAGS" -o "$TMP/" "${PKGS[@]}" 2>"$LOG" &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  sleep 20
  kill -0 "$pid" 2>/dev/null || break
  echo "kube: compiling... $(grep -cv '^#' "$LOG" || true)/$total packages, $((SECONDS - start)) s" >&2
done
if ! wait "$pid"; then
  grep -v '^[a-zA-Z0-9._/-]*$' "$LOG" >&2 || cat "$LOG" >&2
  echo "kube: build failed" >&2
  exit 1
fi
for b in "${BINS[@]}"; do [ -x "$TMP/$b" ] || { echo "kube: build produced no $b" >&2; exit 1; }; done
rm -f "$LOG"
mkdir -p "$OUT"
for b in "${BINS[@]}"; do mv "$TMP/$b" "$OUT/$b"; done
echo "kube: built in $((SECONDS - start)) s: $(cd "$OUT" && du -h "${BINS[@]}" | tr '\t\n' ' ')" >&2
echo "$OUT"
