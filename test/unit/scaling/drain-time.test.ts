import { describe, expect, it } from "vitest";
import type { ResolvedScaling } from "../../../operator/src/api/resolved.js";
import { decideReplicas, initialScalingState, type ScalingDecision } from "../../../operator/src/scaling/index.js";
import { scalingWith } from "./sim.js";

interface QueueModel {
  /** Messages/s published, by poll index. */
  arrivalPerSec: (poll: number) => number;
  /** Messages/s one replica processes when it has work. */
  capacityPerReplica: number;
  initialBacklog: number;
  startReplicas: number;
  polls: number;
}

interface Trace {
  decisions: ScalingDecision[];
  replicas: number[];
  lags: number[];
}

/**
 * A work-queue stream fed at a known rate and drained by replicas of known capacity;
 * each decision is applied at once. Samples carry lag, lastSeq and messages as the
 * operator reads them from CONSUMER.INFO and STREAM.INFO.
 */
function simulate(scaling: ResolvedScaling, model: QueueModel): Trace {
  let state = initialScalingState();
  let replicas = model.startReplicas;
  let lastSeq = model.initialBacklog;
  let messages = model.initialBacklog;
  const trace: Trace = { decisions: [], replicas: [], lags: [] };
  const dtSec = scaling.pollIntervalMs / 1000;
  for (let i = 0; i < model.polls; i++) {
    if (i > 0) {
      const arrived = Math.round(model.arrivalPerSec(i) * dtSec);
      lastSeq += arrived;
      messages += arrived;
      messages -= Math.min(messages, Math.round(replicas * model.capacityPerReplica * dtSec));
    }
    const nowMs = 1_000_000 + i * scaling.pollIntervalMs;
    const d = decideReplicas(
      {
        nowMs,
        scaling,
        paused: false,
        currentReplicas: replicas,
        sample: { atMs: nowMs, lag: messages, streamLastSeq: lastSeq, streamMessages: messages },
      },
      state,
    );
    state = d.state;
    replicas = d.desiredReplicas;
    trace.decisions.push(d);
    trace.replicas.push(replicas);
    trace.lags.push(messages);
  }
  return trace;
}

const drain = scalingWith({ targetDrainTimeMs: 60_000, maxReplicas: 20, scaleDownStabilizationMs: 20_000 });

describe("targetDrainTime mode", () => {
  it("uses lag mode until rates are known", () => {
    const trace = simulate(drain, { arrivalPerSec: () => 100, capacityPerReplica: 30, initialBacklog: 6000, startReplicas: 1, polls: 3 });
    expect(trace.decisions[0]).toMatchObject({ activeReason: "RatesUnknown", desiredReplicas: 5 });
    expect(trace.decisions[0]?.reason).toBe("rates unknown, lag 6000 > 1 x 100: scale up to 5 (max step 4, wants 20)");
    expect(trace.decisions[1]?.activeReason).toBe("ScalingOnDrainTime");
    expect(trace.decisions[1]?.reason).toMatch(/^arrivals 100\/s \+ lag \d+ in 1m needs \d+ x 30\/s: /);
  });

  it.each([
    { arrival: 100, capacity: 30, backlog: 6000, steady: 4 },
    { arrival: 100, capacity: 30, backlog: 0, steady: 4 },
    { arrival: 250, capacity: 50, backlog: 20_000, steady: 5 },
    { arrival: 10, capacity: 100, backlog: 3000, steady: 1 },
  ])("arrivals $arrival/s at $capacity/s per replica, backlog $backlog: drains and settles at $steady", ({ arrival, capacity, backlog, steady }) => {
    const trace = simulate(drain, { arrivalPerSec: () => arrival, capacityPerReplica: capacity, initialBacklog: backlog, startReplicas: 1, polls: 150 });
    const last = trace.decisions.at(-1)!;
    expect(last.state.arrivalRatePerSec).toBeCloseTo(arrival, 0);
    expect(last.state.perReplicaRatePerSec).toBeGreaterThanOrEqual(capacity * 0.95);
    expect(last.state.perReplicaRatePerSec).toBeLessThanOrEqual(capacity * 1.05);
    expect(trace.lags.at(-1)).toBe(0);
    expect(trace.replicas.slice(-20)).toEqual(Array(20).fill(steady));
  });

  it("drains a backlog within about targetDrainTime once rates are known", () => {
    const trace = simulate(drain, { arrivalPerSec: () => 100, capacityPerReplica: 30, initialBacklog: 6000, startReplicas: 1, polls: 100 });
    const drainedAt = trace.lags.findIndex((lag) => lag === 0);
    // 60s target at 2s polls, plus the climb: well under twice the target.
    expect(drainedAt).toBeGreaterThan(0);
    expect(drainedAt * 2).toBeLessThanOrEqual(90);
  });

  it("follows a change of arrival rate as the smoothed rate converges", () => {
    const trace = simulate(drain, {
      arrivalPerSec: (poll) => (poll < 60 ? 100 : 300),
      capacityPerReplica: 30,
      initialBacklog: 0,
      startReplicas: 4,
      polls: 140,
    });
    const arrivalAt = (poll: number) => trace.decisions[poll]!.state.arrivalRatePerSec!;
    expect(arrivalAt(59)).toBeCloseTo(100, 0);
    // Smoothing with a 10s time constant: part way after 4s, converged after 30s.
    expect(arrivalAt(62)).toBeGreaterThan(100);
    expect(arrivalAt(62)).toBeLessThan(250);
    expect(arrivalAt(75)).toBeGreaterThan(285);
    expect(trace.replicas.slice(-20)).toEqual(Array(20).fill(10));
    expect(Math.max(...trace.replicas.slice(60))).toBeLessThanOrEqual(14);
  });

  it("does not underestimate capacity from an idle channel", () => {
    // 10 replicas that could do 100/s each see only 20/s: still 1 replica is enough.
    const trace = simulate(drain, { arrivalPerSec: () => 20, capacityPerReplica: 100, initialBacklog: 5000, startReplicas: 10, polls: 100 });
    expect(trace.replicas.at(-1)).toBe(1);
  });

  it("stays in lag mode while no replica has processed anything", () => {
    const scaling = { ...drain, minReplicas: 0, activationLag: 1_000_000 };
    const trace = simulate(scaling, { arrivalPerSec: () => 50, capacityPerReplica: 30, initialBacklog: 0, startReplicas: 0, polls: 10 });
    expect(trace.replicas.every((r) => r === 0)).toBe(true);
    expect(trace.decisions.at(-1)!.state.perReplicaRatePerSec).toBeNull();
    expect(trace.decisions.at(-1)!.state.arrivalRatePerSec).toBeCloseTo(50, 0);
  });

  it("ignores an interval across a recreated stream", () => {
    let state = initialScalingState();
    const at = (atMs: number, lag: number, lastSeq: number, messages: number, current: number) => {
      const d = decideReplicas({ nowMs: atMs, scaling: drain, paused: false, currentReplicas: current, sample: { atMs, lag, streamLastSeq: lastSeq, streamMessages: messages } }, state);
      state = d.state;
      return d;
    };
    at(0, 100, 1000, 100, 2);
    const before = at(2000, 100, 1200, 100, 2).state;
    const after = at(4000, 0, 0, 0, 2).state;
    expect(after.arrivalRatePerSec).toBe(before.arrivalRatePerSec);
    expect(after.perReplicaRatePerSec).toBe(before.perReplicaRatePerSec);
  });
});
