// The operator's own Prometheus counters, read from one scrape of its /metrics: its Kubernetes
// requests (rest_client_requests_total{method,code}), its queue polls by outcome
// (p2p_queue_polls_total{outcome}) and its spec reconciles (controller_runtime_reconcile_total).

/** One scrape: { kube: {"METHOD code": n}, polls: {quiet, full, respec}, reconciles: n }. */
export async function operatorCounters(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const counters = { kube: {}, polls: { quiet: 0, full: 0, respec: 0 }, reconciles: 0 };
  for (const line of text.split("\n")) {
    const value = Number(line.split(" ").at(-1));
    const label = (name) => new RegExp(`${name}="([^"]*)"`).exec(line)?.[1];
    if (line.startsWith("rest_client_requests_total{")) counters.kube[`${label("method")} ${label("code")}`] = value;
    else if (line.startsWith("p2p_queue_polls_total{")) counters.polls[label("outcome")] = value;
    else if (line.startsWith("controller_runtime_reconcile_total{")) counters.reconciles += value;
  }
  return counters;
}

/** Between two scrapes: the share of queue polls that were quiet (null without polls), and spec reconciles a second. */
export function pollFigures(before, after, seconds, round) {
  const delta = (k) => after.polls[k] - before.polls[k];
  const polls = delta("quiet") + delta("full") + delta("respec");
  return {
    quietPollShare: polls > 0 ? round(delta("quiet") / polls, 3) : null,
    reconcilesPerSec: round((after.reconciles - before.reconciles) / seconds, 1),
  };
}

/** The requests made between two readings of the counter: in all, by method, and those that did not succeed. */
export function kubeRequestsBetween(before, after) {
  const byMethod = {};
  let total = 0;
  let not2xx = 0;
  for (const [key, count] of Object.entries(after)) {
    const delta = count - (before[key] ?? 0);
    const [method, code] = key.split(" ");
    byMethod[method] = (byMethod[method] ?? 0) + delta;
    total += delta;
    if (!code.startsWith("2")) not2xx += delta;
  }
  return { total, byMethod, not2xx };
}

const WRITES = ["PATCH", "POST", "PUT", "DELETE"];

/** Rates per second: all requests, by method, the writes (non-GET: PATCH+POST+PUT+DELETE), and the count that failed. */
export function kubeRequestRates({ total, byMethod, not2xx }, seconds, round) {
  const perSec = (n) => round(n / seconds, 1);
  const writes = WRITES.reduce((sum, m) => sum + (byMethod[m] ?? 0), 0);
  return {
    operatorKubeRequestsPerSec: perSec(total),
    operatorKubeRequestsPerSecByMethod: Object.fromEntries(Object.entries(byMethod).map(([m, n]) => [m, perSec(n)])),
    operatorKubeRequestsNot2xx: not2xx,
    apiserverWritesPerSec: round(writes / seconds, 2),
  };
}
