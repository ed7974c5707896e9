// The operator's own Prometheus counters, read from its /metrics: its Kubernetes requests
// (rest_client_requests_total{method,code}) and its reconciles.

/** The operator's rest_client_requests_total by "METHOD code". */
export async function kubeRequests(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const counts = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("rest_client_requests_total{")) continue;
    const method = /method="([^"]*)"/.exec(line)?.[1];
    const code = /code="([^"]*)"/.exec(line)?.[1];
    counts[`${method} ${code}`] = Number(line.split(" ").at(-1));
  }
  return counts;
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

/** Sum of the operator's reconcile counter, if it exports one. */
export async function reconcileCount(port) {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const lines = text.split("\n").filter((l) => /^p2p_\w*reconcile\w*_total[{ ]/.test(l));
    if (lines.length === 0) return null;
    return lines.reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
  } catch {
    return null;
  }
}
