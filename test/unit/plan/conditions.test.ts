import { describe, expect, it } from "vitest";
import type { Condition } from "../../../operator/src/api/types.js";
import { mergeConditions, readyVerdict, transitions } from "../../../operator/src/plan/conditions.js";

const ok = (reason: string) => ({ status: "True" as const, reason, message: "fine" });
const bad = (reason: string) => ({ status: "False" as const, reason, message: `broken: ${reason}` });

describe("conditions", () => {
  it.each([
    ["all ready", { StreamReady: ok("Created"), ConsumerReady: ok("Created"), WorkloadReady: ok("WorkloadReady") }, "True", "Ready"],
    ["stream refused", { StreamReady: bad("ImmutableFieldChanged"), ConsumerReady: ok("Created"), WorkloadReady: ok("W") }, "False", "ImmutableFieldChanged"],
    ["workload missing", { StreamReady: ok("S"), ConsumerReady: ok("C"), WorkloadReady: bad("ScaleTargetNotFound") }, "False", "ScaleTargetNotFound"],
    ["workload unknown yet", { StreamReady: ok("S"), ConsumerReady: ok("C") }, "Unknown", "Reconciling"],
    ["scaling paused does not make it unready", { StreamReady: ok("S"), ConsumerReady: ok("C"), WorkloadReady: ok("W"), ScalingActive: bad("Paused") }, "True", "Ready"],
  ])("Ready sums up the others: %s", (_name, verdicts, status, reason) => {
    const ready = readyVerdict(verdicts);
    expect(ready.status).toBe(status);
    expect(ready.reason).toBe(reason);
  });

  it("keeps lastTransitionTime while the status stays, and moves it when the status flips", () => {
    const t0 = "2026-01-01T00:00:00.000Z";
    const t1 = "2026-01-01T00:01:00.000Z";
    const first = mergeConditions(undefined, { StreamReady: ok("Created") }, 1, t0);
    const same = mergeConditions(first, { StreamReady: { ...ok("Updated"), message: "changed text" } }, 2, t1);
    const stream = (cs: Condition[]) => cs.find((c) => c.type === "StreamReady")!;
    expect(stream(same).lastTransitionTime).toBe(t0);
    expect(stream(same).reason).toBe("Updated");
    expect(stream(same).observedGeneration).toBe(2);
    const flipped = mergeConditions(same, { StreamReady: bad("NATSUnavailable") }, 2, t1);
    expect(stream(flipped).lastTransitionTime).toBe(t1);
  });

  it("keeps conditions it was not told about and recomputes Ready from them", () => {
    const t0 = "2026-01-01T00:00:00.000Z";
    const first = mergeConditions(undefined, { StreamReady: ok("S"), ConsumerReady: ok("C"), WorkloadReady: ok("W") }, 1, t0);
    const next = mergeConditions(first, { WorkloadReady: bad("ScaleTargetNotFound") }, 1, t0);
    expect(next.find((c) => c.type === "StreamReady")?.status).toBe("True");
    expect(next.find((c) => c.type === "Ready")?.reason).toBe("ScaleTargetNotFound");
  });

  it("reports only conditions whose status or reason changed", () => {
    const t0 = "2026-01-01T00:00:00.000Z";
    const a = mergeConditions(undefined, { StreamReady: ok("S"), ConsumerReady: ok("C"), WorkloadReady: ok("W") }, 1, t0);
    const b = mergeConditions(a, { StreamReady: ok("S"), ConsumerReady: ok("C"), WorkloadReady: ok("W") }, 1, t0);
    expect(transitions(a, b)).toEqual([]);
    const c = mergeConditions(b, { ConsumerReady: bad("NATSUnavailable") }, 1, t0);
    expect(transitions(b, c).map((x) => x.type).sort()).toEqual(["ConsumerReady", "Ready"]);
  });
});
