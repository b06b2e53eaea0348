#!/usr/bin/env bash
# Builds (or reuses) the practice checkers platform teams run on generated
# manifests: kube-score and kubectl-validate, from the Go modules in
# tools/checkers/kube-score and tools/checkers/kubectl-validate (two modules:
# they need different k8s.io/api releases).
#
# The binaries live outside the work tree next to the control plane, keyed by
# scripts/gobin/key.sh over tools/checkers (both modules' go.mod, go.sum and
# sources, the Go version, the build environment, the package list, the build
# flags and this script), so every checkout on this machine reuses one build; a
# fresh machine builds them (a few minutes on 2 cores: progress every 20 s).
# Prints the binary directory as its last line.
#
#   bash scripts/checkers/build.sh            # build or reuse
#   bash scripts/checkers/build.sh --dir      # print the binary directory only
#   CHECKERS_BIN_DIR=/path bash ...           # use prebuilt binaries instead
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
MOD="$ROOT/tools/checkers"
export PATH="/usr/local/go/bin:$PATH"
# the modules' go line is the machine's Go; never fetch another toolchain
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

BINS=(kube-score kubectl-validate)
if [ -n "${CHECKERS_BIN_DIR:-}" ]; then
  for b in "${BINS[@]}"; do [ -x "$CHECKERS_BIN_DIR/$b" ] || { echo "checkers: CHECKERS_BIN_DIR=$CHECKERS_BIN_DIR has no $b" >&2; exit 1; }; done
  echo "checkers: using prebuilt binaries in CHECKERS_BIN_DIR" >&2
  echo "$CHECKERS_BIN_DIR"
  exit 0
fi

# module directory (under tools/checkers) and main package of each binary
declare -A PKG=(
  [kube-score]=github.com/zegl/kube-score/cmd/kube-score
  [kubectl-validate]=sigs.k8s.io/kubectl-validate
)
BUILD_FLAGS="-trimpath -ldflags=-s -w"
command -v go >/dev/null || { echo "checkers: Go is required to build kube-score and kubectl-validate (expected at /usr/local/go/bin/go)" >&2; exit 1; }
KEY="$(bash "$ROOT/scripts/gobin/key.sh" "$MOD" "$ROOT/scripts/checkers/build.sh" "$BUILD_FLAGS" "${PKG[kube-score]}" "${PKG[kubectl-validate]}")"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/cdk8s-patterns/checkers"
OUT="$CACHE/$KEY"
if [ "${1:-}" = "--dir" ]; then echo "$OUT"; exit 0; fi
have() { for b in "${BINS[@]}"; do [ -x "$OUT/$b" ] || return 1; done; }

if have; then
  echo "checkers: reusing kube-score, kubectl-validate from $OUT" >&2
  echo "$OUT"
  exit 0
fi

mkdir -p "$CACHE"
# one build at a time per machine; a second caller waits, then reuses it
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
  echo "checkers: another build is running; waiting for it" >&2
  flock 9
  if have; then echo "checkers: reusing $OUT" >&2; echo "$OUT"; exit 0; fi
fi

start=$SECONDS
TMP="$(mktemp -d "$CACHE/.build-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
echo "checkers: $(go version | cut -d' ' -f3-): building ${BINS[*]} (a cold build takes a few minutes)" >&2
for b in "${BINS[@]}"; do
  cd "$MOD/$b"
  go mod download
  total="$(go list -deps "${PKG[$b]}" | wc -l)"
  LOG="$TMP/$b.log"
  # -v names each package as it is compiled: count them for progress
  go build -v -trimpath -ldflags="-s -w" -o "$TMP/$b" "${PKG[$b]}" 2>"$LOG" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 20
    kill -0 "$pid" 2>/dev/null || break
    echo "checkers: compiling $b... $(grep -cv '^#' "$LOG" || true)/$total packages, $((SECONDS - start)) s" >&2
  done
  if ! wait "$pid"; then
    grep -v '^[a-zA-Z0-9._/-]*$' "$LOG" >&2 || cat "$LOG" >&2
    echo "checkers: building $b failed" >&2
    exit 1
  fi
  [ -x "$TMP/$b" ] || { echo "checkers: build produced no $b" >&2; exit 1; }
done
mkdir -p "$OUT"
for b in "${BINS[@]}"; do mv "$TMP/$b" "$OUT/$b"; done
echo "checkers: built in $((SECONDS - start)) s: $(cd "$OUT" && du -h "${BINS[@]}" | tr '\t\n' ' ')" >&2
echo "$OUT"
