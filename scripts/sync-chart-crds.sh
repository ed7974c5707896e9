#!/usr/bin/env bash
# Copies the CRD (crds/, the one source of truth) into the Helm chart, byte for byte.
#   scripts/sync-chart-crds.sh          copy
#   scripts/sync-chart-crds.sh --check  exit 1 if the chart's copy differs (for CI)
set -euo pipefail
cd "$(dirname "$0")/.."

src=crds/pointtopointchannels.messaging.p2p.dev.yaml
dst=charts/p2p-operator/files/crds/pointtopointchannels.messaging.p2p.dev.yaml

if [ ! -f "$src" ]; then
  echo "sync-chart-crds: $src is missing" >&2
  exit 1
fi

if [ "${1:-}" = "--check" ]; then
  if cmp -s "$src" "$dst"; then
    echo "sync-chart-crds: $dst matches $src"
    exit 0
  fi
  echo "sync-chart-crds: $dst differs from $src; run scripts/sync-chart-crds.sh" >&2
  exit 1
fi

mkdir -p "$(dirname "$dst")"
cp "$src" "$dst"
echo "sync-chart-crds: copied $src to $dst"
