// The chart's Grafana dashboard and PrometheusRule: rendered with the real helm, every query
// parsed by Prometheus' own grammar and checked against the metrics the operator exports, and
// the alerts run by promtool on series that should (and should not) make them fire.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { exportedMetricNames, metricNamesOf } from "../../support/promql.js";
import { runProcess } from "../../support/run-process.js";
import { chartDir, findDoc, helmTemplate, kindsOf, repoRoot, type RenderedDoc } from "./helm.js";

type Obj = Record<string, unknown>;

interface Dashboard {
  title: string;
  uid: string;
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
}

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert: string; expr: string; for: string; labels: Obj; annotations: Record<string, string> }> }>;
}

const DASHBOARD_FILE = join(chartDir, "files/dashboards/p2p-operator.json");
const RULES_FILE = join(chartDir, "files/alerts/rules.yaml");

async function promtool(...args: string[]): Promise<{ code: number; out: string }> {
  const r = await runProcess("promtool", args, { cwd: repoRoot, timeout: 60_000 });
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

/** Grafana's variables replaced by what they stand for, so that Prometheus can parse the query. */
function withoutVariables(expr: string): string {
  return expr.replaceAll("$__rate_interval", "5m").replace(/\$\{?(namespace|channel)\}?/g, ".*");
}

function queriesOf(d: Dashboard): string[] {
  const panelQueries = d.panels.flatMap((p) => p.targets.map((t) => t.expr));
  const variableQueries = d.templating.list
    .filter((v) => v.type === "query")
    .map((v) => (typeof v.query === "string" ? v.query : v.query!.query))
    .map((q) => /^label_values\((.+),\s*\w+\)$/.exec(q)?.[1] ?? q);
  return [...panelQueries, ...variableQueries];
}

describe("monitoring objects are off by default", () => {
  it("renders neither the dashboard nor the PrometheusRule without being asked", async () => {
    const kinds = kindsOf(await helmTemplate({ metrics: { serviceMonitor: { enabled: false } } }));
    expect(kinds).not.toContain("PrometheusRule");
    expect(kinds).not.toContain("ConfigMap");
  });
});

describe("the Grafana dashboard (dashboards.enabled)", () => {
  let docs: RenderedDoc[];
  let dashboard: Dashboard;
  beforeAll(async () => {
    docs = await helmTemplate({ dashboards: { enabled: true, namespace: "monitoring", annotations: { grafana_folder: "Messaging" } } });
    dashboard = JSON.parse(await readFile(DASHBOARD_FILE, "utf8")) as Dashboard;
  });

  it("is a ConfigMap that Grafana's sidecar picks up, holding the chart's dashboard JSON", () => {
    const cm = findDoc(docs, "ConfigMap");
    expect(cm.metadata.namespace).toBe("monitoring");
    expect(cm.metadata.labels).toMatchObject({ grafana_dashboard: "1", "app.kubernetes.io/name": "p2p-operator" });
    expect(cm.metadata.annotations).toEqual({ grafana_folder: "Messaging" });
    const data = cm["data"] as Record<string, string>;
    expect(Object.keys(data)).toEqual(["p2p-operator.json"]);
    expect(JSON.parse(data["p2p-operator.json"]!)).toEqual(dashboard);
  });

  it("queries only metrics the operator exports", () => {
    const exported = exportedMetricNames();
    const used = new Set(queriesOf(dashboard).flatMap((q) => metricNamesOf(withoutVariables(q))));
    expect([...used].filter((m) => !exported.has(m))).toEqual([]);
    // What the dashboard is for: lag, rates, replicas against desired and max, dead letters, reconciles, who leads.
    for (const m of [
      "p2p_channel_lag",
      "p2p_channel_arrival_rate",
      "p2p_channel_processing_rate",
      "p2p_channel_replicas",
      "p2p_channel_desired_replicas",
      "p2p_channel_max_replicas",
      "p2p_dead_letters_total",
      "controller_runtime_reconcile_errors_total",
      "controller_runtime_reconcile_time_seconds_bucket",
      "leader_election_master_status",
    ]) {
      expect(used, m).toContain(m);
    }
    expect(dashboard.panels.map((p) => p.title)).toContain("Estimated time to drain");
  });

  it("holds queries that Prometheus itself accepts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dashboard-rules-"));
    try {
      const rules = queriesOf(dashboard).map((q, i) => ({ record: `dashboard:query_${i}`, expr: withoutVariables(q) }));
      await writeFile(join(dir, "queries.yaml"), stringify({ groups: [{ name: "dashboard", rules }] }));
      const r = await promtool("check", "rules", join(dir, "queries.yaml"));
      expect(r.out).toContain(`SUCCESS: ${rules.length} rules found`);
      expect(r.code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the alerts (prometheusRule.enabled)", () => {
  let rules: RuleFile;
  let docs: RenderedDoc[];
  const base = "https://example.com/p2p/operations.md";
  beforeAll(async () => {
    rules = parse(await readFile(RULES_FILE, "utf8")) as RuleFile;
    docs = await helmTemplate({ prometheusRule: { enabled: true, labels: { release: "kube-prometheus-stack" }, runbookBaseUrl: base } });
  });

  it("renders a PrometheusRule holding the rule file's groups, runbook links included", () => {
    const rule = findDoc(docs, "PrometheusRule");
    expect(rule.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(rule.metadata.labels).toMatchObject({ release: "kube-prometheus-stack" });
    const expected = JSON.parse(JSON.stringify(rules).replaceAll("$RUNBOOKS", base)) as RuleFile;
    expect(rule["spec"]).toEqual(JSON.parse(JSON.stringify(expected)));
    const alerts = (rule["spec"] as RuleFile).groups.flatMap((g) => g.rules);
    expect(alerts.map((a) => a.alert)).toEqual([
      "P2PChannelLagGrowingAtMaxReplicas",
      "P2PChannelDeadLetters",
      "P2PChannelNotReady",
      "P2POperatorAbsent",
      "P2POperatorNoLeader",
      "P2POperatorReconcileErrorsRising",
    ]);
    for (const a of alerts) expect(a.annotations.runbook_url).toBe(`${base}#${a.alert.toLowerCase()}`);
  });

  it("is a valid rule file by promtool check rules", async () => {
    const r = await promtool("check", "rules", RULES_FILE);
    expect(r.out).toContain("SUCCESS: 6 rules found");
    expect(r.code).toBe(0);
  });

  it("fires each alert when it should and only then (promtool test rules)", async () => {
    const r = await promtool("test", "rules", "test/integration/chart/fixtures/alerts.test.yaml");
    expect(r.out).toContain("SUCCESS");
    expect(r.code).toBe(0);
  });

  it("queries only metrics the operator exports", () => {
    const exported = exportedMetricNames();
    const used = rules.groups.flatMap((g) => g.rules.flatMap((r) => metricNamesOf(r.expr)));
    expect(used.filter((m) => !exported.has(m))).toEqual([]);
  });

  it("has a runbook section in docs/operations.md for every alert", async () => {
    const ops = await readFile(join(repoRoot, "docs/operations.md"), "utf8");
    const headings = new Set([...ops.matchAll(/^#{2,4} (\S+)$/gm)].map((m) => m[1]));
    const missing = rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).filter((a) => !headings.has(a));
    expect(missing).toEqual([]);
  });
});
