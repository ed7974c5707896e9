import { describe, expect, it } from "vitest";
import type { ChannelStatus } from "../../../operator/src/api/types.js";
import { STATUS_READINGS_INTERVAL_MS, statusWriteDue } from "../../../operator/src/plan/index.js";

const ready = [{ type: "Ready" as const, status: "True" as const, reason: "Ready", message: "ok", lastTransitionTime: "t0", observedGeneration: 1 }];
const base: ChannelStatus = {
  observedGeneration: 1,
  conditions: ready,
  lag: 100,
  stream: { name: "s", messages: 100, bytes: 1000, firstSeq: 1, lastSeq: 100 },
  consumer: { name: "c", pending: 90, ackPending: 10, redelivered: 0, waiting: 1, paused: false },
  replicas: 1,
  desiredReplicas: 1,
};
const readings = (lag: number, lastSeq = 100 + lag): ChannelStatus => ({
  ...base,
  lag,
  stream: { ...base.stream!, messages: lag, lastSeq },
  consumer: { ...base.consumer!, pending: lag, ackPending: 0 },
});
const long = STATUS_READINGS_INTERVAL_MS;

describe("statusWriteDue", () => {
  it.each<[string, ChannelStatus, number | null, number, boolean]>([
    ["nothing changed", base, null, 0, false],
    ["a condition changed", { ...base, conditions: [{ ...ready[0]!, status: "False", reason: "NATSUnavailable" }] }, 0, 1, true],
    ["replicas changed", { ...base, replicas: 3 }, 0, 1, true],
    ["desired replicas changed", { ...base, desiredReplicas: 3 }, 0, 1, true],
    ["a scale decision", { ...base, lastScaleTime: "t1", lastScaleReason: "lag 420 > 3 x 100" }, 0, 1, true],
    ["dead letters changed", { ...base, deadLetters: 1 }, 0, 1, true],
    ["a condition's reason changed", { ...base, conditions: [{ ...ready[0]!, reason: "Other" }] }, 0, 1, true],
    ["only a condition's message changed, soon after the last write", { ...base, conditions: [{ ...ready[0]!, message: "lag 120" }] }, 0, long - 1, false],
    ["only a condition's message changed, long after the last write", { ...base, conditions: [{ ...ready[0]!, message: "lag 120" }] }, 0, long, true],
    ["only counters moved, lag the same", readings(100, 5000), 0, long, false],
    ["lag moved by 10%", readings(110), 0, long, false],
    ["lag moved by 50%, long after the last write", readings(150), 0, long, true],
    ["lag moved by 50%, soon after the last write", readings(150), 0, long - 1, false],
    ["lag drained to zero, long after the last write", readings(0), 0, long, true],
    ["lag drained to zero, soon after the last write", readings(0), 0, 1_000, false],
    ["lag moved, never written by this process", readings(150), null, 0, true],
  ])("%s", (_name, after, lastWriteMs, nowMs, due) => {
    expect(statusWriteDue(base, after, lastWriteMs, nowMs)).toBe(due);
  });

  it("takes a message that quotes other numbers as a reading, and one with other words as news", () => {
    const quoting = (lag: number, note = "") => ({ ...readings(lag), conditions: [{ ...ready[0]!, message: `lag ${lag} <= 2 x 100: holding 2${note}` }] });
    expect(statusWriteDue(quoting(100), quoting(101), 0, long)).toBe(false);
    expect(statusWriteDue(quoting(100), quoting(150), 0, long)).toBe(true);
    expect(statusWriteDue(quoting(100), quoting(101, " (scale-down window 1m, wants 1)"), 0, long)).toBe(true);
  });

  it("writes the first readings at once", () => {
    const { lag: _l, stream: _s, consumer: _c, ...noReadings } = base;
    expect(statusWriteDue(noReadings, base, 0, 1)).toBe(true);
  });

  it("counts a lag rising from zero as moved", () => {
    expect(statusWriteDue(readings(0), readings(3), 0, long)).toBe(true);
  });
});
