#!/usr/bin/env bash
# End to end on a real cluster (kind): build and load both images, install NATS with
# JetStream and the chart, apply the immunisation example, publish a burst, and check that
# the channel is Ready, its consumers scale up, the burst drains, they scale back down, and
# nothing is lost.
#
#   npm run test:e2e              (skips, exit 0, when docker, kind, kubectl or helm is missing)
#
# Environment:
#   E2E_REQUIRE=1        fail instead of skipping when a prerequisite is missing (CI)
#   E2E_KEEP_CLUSTER=1   leave the kind cluster running afterwards (to poke at it)
#   E2E_CLUSTER=NAME     kind cluster name (default p2p-e2e); an existing one is reused
#   E2E_BURST=N          messages to publish (default 5000)
#   E2E_NETWORK_POLICY=0 install the chart without its NetworkPolicy (default: with it)
#   E2E_CONSUMER_POD_SECURITY=LEVEL  Pod Security level enforced where the consumers run
#                        (default restricted, like the operator's namespace)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

CLUSTER=${E2E_CLUSTER:-p2p-e2e}
BURST=${E2E_BURST:-5000}
OPERATOR_NS=p2p-system
CHANNEL_NS=immunisation
CHANNEL=immunisation-register
CONSUMER_DEPLOYMENT=$CHANNEL-consumer # the operator owns <channel>-consumer (workload.template)
APP_VERSION=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/p2p-operator/Chart.yaml)
# The tags the chart and the example name by default, so both install unchanged.
OPERATOR_IMAGE=ghcr.io/p2p-operator/p2p-operator:$APP_VERSION
CONSUMER_IMAGE=$(sed -n 's/^ *image: *\(.*consumer-template.*\)$/\1/p' examples/immunisation/channel.yaml | head -n1)

log() { printf 'e2e: %s\n' "$*"; }

skip() {
  if [ "${E2E_REQUIRE:-0}" = "1" ]; then
    printf 'e2e: FAILED: %s (E2E_REQUIRE=1)\n' "$1" >&2
    exit 1
  fi
  log "skipped: $1"
  log "the e2e suite needs a Docker engine, kind, kubectl and helm; it ran nothing here."
  exit 0
}

tool() {
  if [ -x "$ROOT/.tools/bin/$1" ]; then echo "$ROOT/.tools/bin/$1"; else command -v "$1" || true; fi
}

# --- prerequisites: skip cleanly when this machine can't run a cluster ------------------
command -v docker >/dev/null 2>&1 || skip "docker is not installed"
docker info >/dev/null 2>&1 || skip "the Docker engine is unreachable ('docker info' failed)"
command -v kind >/dev/null 2>&1 || skip "kind is not installed"
KUBECTL=$(tool kubectl)
HELM=$(tool helm)
[ -n "$KUBECTL" ] || skip "kubectl is not installed (bash scripts/ensure-tools.sh unpacks one)"
[ -n "$HELM" ] || skip "helm is not installed (bash scripts/ensure-tools.sh unpacks one)"
[ -f consumer-template/Dockerfile ] || skip "consumer-template/Dockerfile does not exist yet"
[ -n "$CONSUMER_IMAGE" ] || { echo "e2e: no consumer-template image in examples/immunisation/channel.yaml" >&2; exit 1; }

KUBECONFIG_FILE=$(mktemp)
export KUBECONFIG=$KUBECONFIG_FILE
k() { "$KUBECTL" "$@"; }

CREATED_CLUSTER=0
PASSED=0
cleanup() {
  local code=$?
  if [ "$CREATED_CLUSTER" = "1" ] && [ "${E2E_KEEP_CLUSTER:-0}" != "1" ]; then
    log "deleting kind cluster $CLUSTER"
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  elif [ "$CREATED_CLUSTER" = "1" ]; then
    log "kept kind cluster $CLUSTER (kind get kubeconfig --name $CLUSTER)"
  fi
  rm -f "$KUBECONFIG_FILE"
  exit "$code"
}
trap cleanup EXIT

diagnostics() {
  set +e
  log "---- diagnostics ----"
  k get nodes -o wide
  k get pods -A -o wide
  k -n "$CHANNEL_NS" get p2pc -o yaml
  k -n "$CHANNEL_NS" get deploy,rs,pods -o wide
  k get events -A --sort-by=.lastTimestamp | tail -n 60
  # Pods refused by Pod Security admission show up only as ReplicaSet events.
  k get events -A --field-selector reason=FailedCreate -o custom-columns=OBJECT:.involvedObject.name,MESSAGE:.message | grep -i podsecurity
  k -n "$OPERATOR_NS" logs -l app.kubernetes.io/name=p2p-operator --all-containers --tail=200 --prefix
  k -n "$CHANNEL_NS" logs -l app.kubernetes.io/name=immunisation-register --tail=50 --prefix
  k -n "$CHANNEL_NS" logs job/e2e-publish --tail=50
  set -e
}

fail() {
  printf 'e2e: FAILED: %s\n' "$*" >&2
  diagnostics >&2
  printf 'e2e: %d passed, 1 failed\n' "$PASSED"
  exit 1
}

pass() {
  PASSED=$((PASSED + 1))
  log "ok - $*"
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 2s until it succeeds.
wait_until() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${timeout}s waiting for: $what"
    sleep 2
  done
}

channel_field() { k -n "$CHANNEL_NS" get p2pc "$CHANNEL" -o "jsonpath={$1}" 2>/dev/null; }
# A status number, or -1 while the operator hasn't reported it.
channel_number() {
  local v
  v=$(channel_field "$1")
  [[ "$v" =~ ^[0-9]+$ ]] && echo "$v" || echo -1
}
# status.deadLetters is left out while it is 0.
dead_letters() {
  local v
  v=$(channel_number .status.deadLetters)
  [ "$v" -ge 0 ] && echo "$v" || echo 0
}
deployment_field() { k -n "$CHANNEL_NS" get deployment "$CONSUMER_DEPLOYMENT" -o "jsonpath={$1}" 2>/dev/null; }

# --- cluster --------------------------------------------------------------------------
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  log "reusing kind cluster $CLUSTER"
else
  log "creating kind cluster $CLUSTER"
  CREATED_CLUSTER=1
  kind create cluster --name "$CLUSTER" --config test/e2e/kind-config.yaml --wait 180s
fi
kind get kubeconfig --name "$CLUSTER" >"$KUBECONFIG_FILE"
k version
"$HELM" version --short

# --- images ---------------------------------------------------------------------------
log "building $OPERATOR_IMAGE and $CONSUMER_IMAGE"
docker build -f operator/Dockerfile -t "$OPERATOR_IMAGE" .
docker build -f consumer-template/Dockerfile -t "$CONSUMER_IMAGE" .
kind load docker-image --name "$CLUSTER" "$OPERATOR_IMAGE" "$CONSUMER_IMAGE"

# --- NATS with JetStream ---------------------------------------------------------------
log "installing NATS (JetStream)"
k apply -f test/e2e/manifests/nats.yaml
k -n nats rollout status statefulset/nats --timeout=180s || fail "NATS did not become ready"
NATS_URL=nats://nats.nats:4222

# --- the chart, exactly as the README installs it ------------------------------------
log "installing the chart"
k create namespace "$OPERATOR_NS" --dry-run=client -o yaml | k apply -f -
k label namespace "$OPERATOR_NS" --overwrite pod-security.kubernetes.io/enforce=restricted >/dev/null
NETWORK_POLICY=true
[ "${E2E_NETWORK_POLICY:-1}" = "0" ] && NETWORK_POLICY=false
"$HELM" install p2p-operator charts/p2p-operator -n "$OPERATOR_NS" \
  --set nats.url="$NATS_URL" \
  --set networkPolicy.enabled="$NETWORK_POLICY" \
  --wait --timeout 5m || fail "helm install did not finish"
k -n "$OPERATOR_NS" rollout status deployment/p2p-operator --timeout=120s || fail "the operator did not roll out"
[ "$(k -n "$OPERATOR_NS" get deployment p2p-operator -o jsonpath='{.status.readyReplicas}')" = "2" ] ||
  fail "expected 2 ready operator replicas"
pass "the chart installs under Pod Security 'restricted'; 2 operator replicas ready"

lease_held() { [ -n "$(k -n "$OPERATOR_NS" get lease p2p-operator -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)" ]; }
wait_until 60 "an operator replica to hold Lease p2p-operator" lease_held
pass "one replica leads (Lease $OPERATOR_NS/p2p-operator held by $(k -n "$OPERATOR_NS" get lease p2p-operator -o jsonpath='{.spec.holderIdentity}'))"

# --- the immunisation example ----------------------------------------------------------
log "applying examples/immunisation/channel.yaml in namespace $CHANNEL_NS"
k create namespace "$CHANNEL_NS" --dry-run=client -o yaml | k apply -f -
k label namespace "$CHANNEL_NS" --overwrite \
  pod-security.kubernetes.io/enforce="${E2E_CONSUMER_POD_SECURITY:-restricted}" >/dev/null
k -n "$CHANNEL_NS" apply -f examples/immunisation/channel.yaml
k -n "$CHANNEL_NS" wait p2pc/"$CHANNEL" --for=condition=Ready --timeout=180s || fail "the channel did not become Ready"
pass "channel $CHANNEL_NS/$CHANNEL is Ready"

MIN_REPLICAS=$(channel_field .spec.scaling.minReplicas)
MIN_REPLICAS=${MIN_REPLICAS:-1}
consumers_at_min() { [ "$(deployment_field .status.readyReplicas)" = "$MIN_REPLICAS" ]; }
wait_until 180 "$MIN_REPLICAS ready consumer(s) before the burst" consumers_at_min
LAST_SEQ_BEFORE=$(channel_number .status.stream.lastSeq)
[ "$LAST_SEQ_BEFORE" -ge 0 ] || LAST_SEQ_BEFORE=0
DEAD_BEFORE=$(dead_letters)

# --- a burst -------------------------------------------------------------------------
log "publishing $BURST messages"
k -n "$CHANNEL_NS" create configmap e2e-channel --from-file=channel.yaml=examples/immunisation/channel.yaml \
  --dry-run=client -o yaml | k apply -f -
k -n "$CHANNEL_NS" delete job e2e-publish --ignore-not-found >/dev/null
sed -e "s|__OPERATOR_IMAGE__|$OPERATOR_IMAGE|" -e "s|__COUNT__|$BURST|" -e "s|__NATS_URL__|$NATS_URL|" \
  -e "s|__ID_PREFIX__|e2e-$(date +%s)-|" test/e2e/manifests/publish-job.yaml | k -n "$CHANNEL_NS" apply -f -

# While the burst is published and drained, watch the consumers scale up.
MAX_READY=0
scaled_up() {
  local ready
  ready=$(deployment_field .status.readyReplicas)
  ready=${ready:-0}
  [ "$ready" -gt "$MAX_READY" ] && MAX_READY=$ready
  [ "$MAX_READY" -gt "$MIN_REPLICAS" ]
}
wait_until 180 "more than $MIN_REPLICAS ready consumers" scaled_up
pass "consumers scaled up under lag ($MAX_READY ready, lag $(channel_field .status.lag))"

k -n "$CHANNEL_NS" wait job/e2e-publish --for=condition=Complete --timeout=300s || fail "the publish Job did not complete"
REPORT=$(k -n "$CHANNEL_NS" logs job/e2e-publish | grep '^{' | tail -n1)
# shellcheck disable=SC2016 # JavaScript, not shell
PARSED=$(node -e 'const r = JSON.parse(process.argv[1]); console.log(`${r.acked ?? -1} ${r.errors ?? -1}`);' "$REPORT") ||
  fail "could not read the publish report: $REPORT"
read -r ACKED PUBLISH_ERRORS <<<"$PARSED"
if [ "$ACKED" != "$BURST" ] || [ "$PUBLISH_ERRORS" != "0" ]; then fail "publish report: $REPORT"; fi
pass "all $BURST messages acknowledged by JetStream"

drained() {
  [ "$(channel_number .status.lag)" = "0" ] && [ "$(channel_number .status.stream.messages)" = "0" ] &&
    [ "$(channel_number .status.stream.lastSeq)" -ge $((LAST_SEQ_BEFORE + BURST)) ]
}
wait_until 300 "the channel to drain (lag 0, no messages left in the work queue)" drained
pass "the burst drained (lag 0, work queue empty)"

# Nothing lost: every message the stream stored was acknowledged by a consumer (a work
# queue removes a message only on ack) and none was dead-lettered.
STORED=$(($(channel_number .status.stream.lastSeq) - LAST_SEQ_BEFORE))
DEAD=$(($(dead_letters) - DEAD_BEFORE))
[ "$STORED" = "$BURST" ] || fail "the stream stored $STORED messages, not $BURST"
[ "$DEAD" = "0" ] || fail "$DEAD messages were dead-lettered"
[ "$(channel_number .status.consumer.ackPending)" = "0" ] || fail "messages still await an ack"
[ "$(channel_number .status.consumer.pending)" = "0" ] || fail "messages are still pending delivery"
pass "nothing lost: $STORED stored, $STORED acknowledged, 0 dead letters"

scaled_down() { [ "$(deployment_field .spec.replicas)" = "$MIN_REPLICAS" ] && [ "$(deployment_field .status.readyReplicas)" = "$MIN_REPLICAS" ]; }
wait_until 420 "consumers back down to $MIN_REPLICAS after the scale-down window" scaled_down
pass "consumers scaled back down to $MIN_REPLICAS"

k -n "$CHANNEL_NS" wait p2pc/"$CHANNEL" --for=condition=Ready --timeout=30s || fail "the channel is no longer Ready"

# --- clean removal ---------------------------------------------------------------------
k -n "$CHANNEL_NS" delete p2pc "$CHANNEL" --timeout=120s || fail "the channel was not deleted (finalizer stuck?)"
gone() { ! k -n "$CHANNEL_NS" get deployment "$CONSUMER_DEPLOYMENT" >/dev/null 2>&1; }
wait_until 120 "the owned consumer Deployment to be garbage-collected" gone
"$HELM" uninstall p2p-operator -n "$OPERATOR_NS" --wait --timeout 2m || fail "helm uninstall failed"
k get crd pointtopointchannels.messaging.p2p.dev >/dev/null 2>&1 || fail "the CRD was removed on uninstall (crds.keep)"
pass "deleting the channel removes its consumers; uninstall keeps the CRD"

printf 'e2e: %d passed, 0 failed\n' "$PASSED"
