#!/usr/bin/env bash
# Prints the path of a nats-server release's binary as its last line, building it once
# (`go install github.com/nats-io/nats-server/v2@vX.Y.Z`) into a cache outside the clone
# keyed by version: $P2P_CACHE_DIR or ${XDG_CACHE_HOME:-~/.cache}/p2p-operator, beside the
# Kubernetes binaries the control-plane harness builds.
#
# Usage: scripts/nats-server.sh VERSION
#   VERSION  a full release (2.11.4), a line (2.11: the newest patch pinned below) or
#            `latest` (the newest release the suite is tested on). 2.9 answers with
#            Debian's package (2.9.10), which scripts/ensure-tools.sh installs.
#   --list   prints the lines and `latest` the compat matrix runs, one a line.
set -euo pipefail

# The newest patch of each line we test; `latest` is the newest release we test.
declare -A pinned=(
  [2.10]=2.10.27
  [2.11]=2.11.17
  [2.12]=2.12.15
  [2.15]=2.15.3
)
latest=2.15.3
matrix=(2.9 2.10 2.11 2.12 latest)

usage() {
  echo "usage: scripts/nats-server.sh VERSION   (2.11.4 | 2.11 | latest | 2.9)" >&2
  exit 2
}

[[ $# -eq 1 ]] || usage
requested="$1"
if [[ "$requested" == "--list" ]]; then
  printf '%s\n' "${matrix[@]}"
  exit 0
fi

version="${requested#v}"
[[ "$version" == latest ]] && version="$latest"
[[ -n "${pinned[$version]:-}" ]] && version="${pinned[$version]}"

if [[ "$version" == 2.9 || "$version" == 2.9.* ]]; then
  debian="$(command -v nats-server || true)"
  [[ -n "$debian" ]] || { echo "nats-server.sh: 2.9 is Debian's package: apt-get install nats-server (scripts/ensure-tools.sh does)" >&2; exit 1; }
  have="$("$debian" --version | sed -n 's/.*v\([0-9.]*\).*/\1/p')"
  if [[ "$version" != 2.9 && "$version" != "$have" ]]; then
    echo "nats-server.sh: Debian's nats-server is $have, not $version; ask for 2.9 or a 2.10+ release" >&2
    exit 1
  fi
  echo "$debian"
  exit 0
fi

[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || {
  echo "nats-server.sh: '$requested' is neither a release (2.11.4), a pinned line (${!pinned[*]}), latest nor 2.9" >&2
  exit 2
}

cache_root="${P2P_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/p2p-operator}"
out="$cache_root/nats/$version"
if [[ -x "$out/nats-server" ]]; then
  echo "$out/nats-server"
  exit 0
fi

command -v go >/dev/null || {
  echo "nats-server.sh: Go is needed to build nats-server $version (https://go.dev/doc/install), or set NATS_SERVER_BIN to a nats-server binary" >&2
  exit 1
}

# Build into a staging dir and move it in place, so that an interrupted build (or two
# builds racing) never leaves a half-written binary at the cached path.
staging="$out.partial.$$"
rm -rf "$staging"
mkdir -p "$staging"
trap 'rm -rf "$staging"' EXIT
started=$SECONDS
echo "nats-server.sh: building nats-server $version (once; cached in $out) ..." >&2
GOBIN="$staging" CGO_ENABLED=0 GOFLAGS=-trimpath go install "github.com/nats-io/nats-server/v2@v$version" >&2
mkdir -p "$(dirname "$out")"
rm -rf "$out"
mv "$staging" "$out"
trap - EXIT
echo "nats-server.sh: nats-server $version ready after $((SECONDS - started)) s" >&2
echo "$out/nats-server"
