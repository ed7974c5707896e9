import { CHANNEL_DEFAULTS, type ChannelStatus, type Condition } from "../api/index.js";
import { alignColumns, groupedProblems, problemConditions } from "../local/index.js";
import { drainTimeMs, formatDurationMs, formatRate, ratesBetween } from "../scaling/index.js";
import type { FoundChannel } from "./channel-finder.js";

// What `p2p status` shows, built purely from found channels: one row per channel, and under the
// table one line per condition that is not True.

export interface StatusRow {
  channel: string;
  ready: string;
  lag: number | null;
  arrivalRatePerSec: number | null;
  processingRatePerSec: number | null;
  /** null: unknown; Infinity: not shrinking. */
  drainMs: number | null;
  replicas: number | null;
  desiredReplicas: number | null;
  maxReplicas: number;
  deadLetters: number | null;
  lastScaleReason: string | null;
  problems: Condition[];
}

/**
 * Rows from one reading, with rates from the finder (a running `p2p local` measures them) or,
 * when it has none, from the stream counters in status between an earlier reading and this one.
 */
export function statusRows(now: FoundChannel[], earlier: { found: FoundChannel[]; elapsedMs: number } | null): StatusRow[] {
  const before = new Map(earlier?.found.map((f) => [f.key, f.status]) ?? []);
  return now.map((f) => {
    const s = f.status;
    const rates = f.rates ?? measuredRates(before.get(f.key), s, earlier?.elapsedMs ?? 0);
    const arrival = rates?.arrivalPerSec ?? null;
    const processing = rates?.processingPerSec ?? null;
    return {
      channel: f.key,
      ready: s.conditions?.find((c) => c.type === "Ready")?.status ?? "Unknown",
      lag: s.lag ?? null,
      arrivalRatePerSec: arrival,
      processingRatePerSec: processing,
      drainMs: s.lag === undefined ? null : drainTimeMs(s.lag, arrival, processing),
      replicas: s.replicas ?? null,
      desiredReplicas: s.desiredReplicas ?? null,
      maxReplicas: f.channel.spec?.scaling?.maxReplicas ?? CHANNEL_DEFAULTS.scaling.maxReplicas,
      deadLetters: s.deadLetters ?? null,
      lastScaleReason: s.lastScaleReason ?? null,
      problems: problemConditions(s),
    };
  });
}

function measuredRates(before: ChannelStatus | undefined, after: ChannelStatus, elapsedMs: number): FoundChannel["rates"] {
  if (!before?.stream || !after.stream || elapsedMs <= 0) return null;
  const sample = (s: ChannelStatus, atMs: number) => ({ atMs, lag: s.lag ?? 0, streamLastSeq: s.stream?.lastSeq ?? 0, streamMessages: s.stream?.messages ?? 0 });
  const r = ratesBetween(sample(before, 0), sample(after, elapsedMs));
  return { arrivalPerSec: r.arrivalRatePerSec, processingPerSec: r.processingRatePerSec };
}

export function statusTable(rows: StatusRow[]): string[] {
  const table = [["CHANNEL", "READY", "LAG", "IN", "OUT", "DRAIN", "REPLICAS", "MAX", "DLQ"]];
  for (const r of rows) {
    table.push([
      r.channel,
      r.ready,
      r.lag === null ? "-" : String(r.lag),
      r.arrivalRatePerSec === null ? "-" : formatRate(r.arrivalRatePerSec),
      r.processingRatePerSec === null ? "-" : formatRate(r.processingRatePerSec),
      drainText(r.drainMs),
      `${r.replicas ?? "-"}/${r.desiredReplicas ?? "-"}`,
      String(r.maxReplicas),
      r.deadLetters === null ? "-" : String(r.deadLetters),
    ]);
  }
  const lines = alignColumns(table);
  const problems = rows.flatMap((r) => groupedProblems({ conditions: r.problems }).map((p) => `  ${r.channel}  ${p}`));
  return problems.length > 0 ? [...lines, "", ...problems] : lines;
}

export function statusJson(rows: StatusRow[]): Record<string, unknown>[] {
  const round1 = (n: number | null) => (n === null ? null : Math.round(n * 10) / 10);
  return rows.map(({ drainMs, problems, ...r }) => ({
    ...r,
    arrivalRatePerSec: round1(r.arrivalRatePerSec),
    processingRatePerSec: round1(r.processingRatePerSec),
    drainSeconds: drainMs === null || !Number.isFinite(drainMs) ? null : Math.round(drainMs / 100) / 10,
    draining: drainMs === null ? null : Number.isFinite(drainMs),
    conditions: problems.map(({ type, status, reason, message }) => ({ type, status, reason, message })),
  }));
}

function drainText(ms: number | null): string {
  if (ms === null) return "-";
  if (!Number.isFinite(ms)) return "not draining";
  return ms === 0 ? "0s" : `~${formatDurationMs(Math.max(1000, Math.round(ms / 1000) * 1000))}`;
}
