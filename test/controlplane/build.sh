#!/usr/bin/env bash
# Builds the control plane the tests run (etcd, kube-apiserver, kube-controller-manager,
# kubectl) from the modules pinned in go.mod, into a cache outside the clone keyed by the
# Kubernetes release, and prints that directory as its last line.
#
# KUBEBUILDER_ASSETS (envtest's convention): when set and holding all four binaries, they
# are used as they are and nothing is built.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binaries=(etcd kube-apiserver kube-controller-manager kubectl)

has_all() {
  local dir="$1" b
  for b in "${binaries[@]}"; do [[ -x "$dir/$b" ]] || return 1; done
}

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  if has_all "$KUBEBUILDER_ASSETS"; then
    echo "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  echo "controlplane: KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks one of: ${binaries[*]}; building into the cache instead" >&2
fi

k8s_version="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/go.mod")"
[[ -n "$k8s_version" ]] || { echo "controlplane: no k8s.io/kubernetes line in $here/go.mod" >&2; exit 1; }
cache_root="${P2P_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/p2p-operator}"
out="$cache_root/kube/$k8s_version"
mkdir -p "$cache_root/kube"
# One build at a time per cache: a second clone's pretest waits, then finds the binaries.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache_root/kube/.build.lock"
  flock 9
fi

if has_all "$out"; then
  echo "$out"
  exit 0
fi

command -v go >/dev/null || {
  echo "controlplane: Go is needed to build Kubernetes $k8s_version for the tests (https://go.dev/doc/install), or set KUBEBUILDER_ASSETS to a folder holding ${binaries[*]}" >&2
  exit 1
}

# The version stamp kube's own release builds set, so /version, kubectl and helm see the
# real release instead of v0.0.0.
# The build date is the release's own (the module proxy's timestamp), so two builds of one
# release are stamped alike; the module carries no commit hash, so gitCommit stays empty.
IFS=. read -r major minor _ <<<"${k8s_version#v}"
cd "$here"
build_date="$(go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

staging="$out.partial.$$"
rm -rf "$staging"
mkdir -p "$staging"
trap 'rm -rf "$staging"' EXIT
started=$SECONDS
build() { # name package
  echo "controlplane: building $1 (Kubernetes $k8s_version) ..." >&2
  CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$staging/$1" "$2"
  echo "controlplane: built $1 after $((SECONDS - started)) s" >&2
}
build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build kubectl k8s.io/kubernetes/cmd/kubectl
rm -rf "$out"
mv "$staging" "$out"
trap - EXIT
echo "controlplane: Kubernetes $k8s_version ready in $out ($((SECONDS - started)) s)" >&2
echo "$out"
