import { parser } from "@prometheus-io/lezer-promql";
import { operatorMetrics } from "../../operator/src/controller/index.js";

// PromQL as Prometheus' own grammar reads it (the lezer parser its UI uses): the metric names
// an expression selects, and the names the operator exports, to prove dashboards and alerts
// query only what exists.

/** Metric names selected by `expr`; throws on a syntax error, naming where it is. */
export function metricNamesOf(expr: string): string[] {
  const names: string[] = [];
  let error: number | null = null;
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError && error === null) error = node.from;
      if (node.name === "Identifier" && node.node.parent?.name === "VectorSelector") names.push(expr.slice(node.from, node.to));
    },
  });
  if (error !== null) throw new Error(`PromQL syntax error at ${error}: ${expr.slice(Math.max(0, error - 20), error + 20)} in ${expr}`);
  return names;
}

/** Every series name the operator's /metrics can hold, histogram series included. */
export function exportedMetricNames(): Set<string> {
  const names = new Set<string>();
  for (const line of operatorMetrics().registry.render().split("\n")) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (!m) continue;
    const [, name, type] = m;
    if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${name}${suffix}`);
    else names.add(name!);
  }
  return names;
}
