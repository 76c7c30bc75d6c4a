#!/usr/bin/env bash
# Tools the deployment tests need, installed idempotently into the GridStream cache:
#   kustomize (renders deploy/kubernetes offline), built with Go from its module, unless
#   `kustomize` or `kubectl kustomize` is already available; Maven and Java are checked.
set -euo pipefail
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.5.0}"
CACHE="${GRIDSTREAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gridstream}"
BIN="$CACHE/tools/bin"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

if [ -x "$BIN/kustomize" ] || command -v kustomize >/dev/null 2>&1 \
   || kubectl kustomize --help >/dev/null 2>&1; then
  :
elif command -v go >/dev/null 2>&1; then
  echo "building kustomize $KUSTOMIZE_VERSION into $BIN (once)" >&2
  mkdir -p "$BIN"
  GOBIN="$BIN" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
else
  echo "kustomize not found and Go is missing: install Go, kustomize or kubectl" >&2
  exit 1
fi

# The Java interop client is built by its test (tests/deploy/conftest.py) only when its
# sources change; Maven caches its dependencies in ~/.m2.
if ! command -v mvn >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
  echo "Maven and a JDK 17+ are needed for the Java interop test (apt-get install maven)" >&2
  exit 1
fi
