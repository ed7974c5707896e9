import type { ChannelStatus, Condition } from "../api/types.js";

// What `p2p local` shows: a table redrawn in place on a TTY, JSON lines otherwise. Both show
// every condition that is not True, so a refused change or a missing server is visible.

export interface ChannelRow {
  key: string;
  status: ChannelStatus;
  /** Running consumer processes; null when the channel has no local workload. */
  running: number | null;
  /** Smoothed arrival rate in messages/s, when known. */
  ratePerSec: number | null;
}

export interface ViewHeader {
  natsUrl: string;
  logDir: string;
  /** Channels known from the files (some may not have been reconciled yet). */
  channelsInFiles?: number;
}

/** Conditions worth a line: every one that is not True; Ready only when nothing else explains it. */
export function problemConditions(status: ChannelStatus): Condition[] {
  const notTrue = (status.conditions ?? []).filter((c) => c.status !== "True");
  const others = notTrue.filter((c) => c.type !== "Ready");
  return others.length > 0 ? others : notTrue;
}

export function channelJson(row: ChannelRow, nowMs: number = Date.now()): Record<string, unknown> {
  const s = row.status;
  return {
    type: "channel",
    time: new Date(nowMs).toISOString(),
    channel: row.key,
    ready: readyOf(s),
    lag: s.lag ?? null,
    replicas: s.replicas ?? null,
    readyReplicas: row.running,
    desiredReplicas: s.desiredReplicas ?? null,
    ratePerSec: row.ratePerSec === null ? null : round1(row.ratePerSec),
    deadLetters: s.deadLetters ?? null,
    lastScaleTime: s.lastScaleTime ?? null,
    lastScaleReason: s.lastScaleReason ?? null,
    observedGeneration: s.observedGeneration ?? null,
    conditions: problemConditions(s).map(({ type, status, reason, message }) => ({ type, status, reason, message })),
  };
}

/** The TTY table as lines (no escape codes; the caller positions the cursor). */
export function renderTable(header: ViewHeader, rows: ChannelRow[], nowMs: number = Date.now(), width = 120): string[] {
  const lines = [`p2p local   NATS ${header.natsUrl}   consumer logs ${header.logDir}   Ctrl-C stops`, ""];
  const table: string[][] = [["CHANNEL", "READY", "LAG", "REPLICAS", "RATE/s", "DLQ", "LAST SCALE"]];
  for (const row of rows) {
    const s = row.status;
    const desired = s.desiredReplicas ?? s.replicas;
    table.push([
      row.key,
      readyOf(s),
      s.lag === undefined ? "-" : String(s.lag),
      row.running === null && desired === undefined ? "-" : `${row.running ?? 0}/${desired ?? "-"}`,
      row.ratePerSec === null ? "-" : String(round1(row.ratePerSec)),
      s.deadLetters === undefined ? "-" : String(s.deadLetters),
      s.lastScaleReason ? `${ago(s.lastScaleTime, nowMs)} ${s.lastScaleReason}` : "-",
    ]);
  }
  for (const line of alignColumns(table)) lines.push(clip(line, width));
  if (rows.length === 0) lines.push(header.channelsInFiles ? "(reconciling...)" : "(no PointToPointChannel in the given files yet)");
  const problems = rows.flatMap((row) => groupedProblems(row.status).map((p) => `  ${row.key}  ${p}`));
  if (problems.length > 0) lines.push("", ...problems.flatMap((p) => wrap(p, width, "      ")));
  return lines;
}

/** Rows of cells as lines, each column padded to its widest cell (the last one left as it is). */
export function alignColumns(table: string[][]): string[] {
  const widths = (table[0] ?? []).map((_, i) => Math.max(...table.map((r) => (r[i] ?? "").length)));
  return table.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "));
}

/** "WorkloadReady,ScalingActive=False NotSupportedLocally: ..." — one line per distinct problem. */
export function groupedProblems(status: ChannelStatus): string[] {
  const groups = new Map<string, string[]>();
  for (const c of problemConditions(status)) {
    const tail = `=${c.status} ${c.reason}: ${c.message}`;
    groups.set(tail, [...(groups.get(tail) ?? []), c.type]);
  }
  return [...groups].map(([tail, types]) => `${types.join(",")}${tail}`);
}

function wrap(line: string, width: number, indent: string): string[] {
  if (line.length <= width) return [line];
  const out: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const cut = rest.lastIndexOf(" ", width);
    const at = cut > indent.length + 10 ? cut : width;
    out.push(rest.slice(0, at));
    rest = indent + rest.slice(at).trimStart();
  }
  out.push(rest);
  return out;
}

function readyOf(status: ChannelStatus): string {
  return status.conditions?.find((c) => c.type === "Ready")?.status ?? "Unknown";
}

function ago(iso: string | undefined, nowMs: number): string {
  if (!iso) return "";
  const s = Math.max(0, Math.round((nowMs - Date.parse(iso)) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : `${Math.floor(s / 3600)}h ago`;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function clip(line: string, width: number): string {
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}
