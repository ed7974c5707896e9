import { describe, expect, it } from "vitest";
import { decideReplicas, initialScalingState } from "../../../operator/src/scaling/index.js";
import { runPolls, sampleOf, scalingWith } from "./sim.js";

const NOW = 5_000_000;

describe("lag mode", () => {
  it.each([
    { current: 1, lag: 0, overrides: {}, desired: 1, reason: "lag 0 <= 1 x 100: holding 1" },
    { current: 1, lag: 100, overrides: {}, desired: 1, reason: "lag 100 <= 1 x 100: holding 1" },
    { current: 1, lag: 101, overrides: {}, desired: 2, reason: "lag 101 > 1 x 100: scale up to 2" },
    { current: 3, lag: 420, overrides: {}, desired: 5, reason: "lag 420 > 3 x 100: scale up to 5" },
    { current: 3, lag: 300, overrides: {}, desired: 3, reason: "lag 300 <= 3 x 100: holding 3" },
    { current: 2, lag: 250, overrides: { targetLagPerReplica: 50 }, desired: 5, reason: "lag 250 > 2 x 50: scale up to 5" },
    { current: 8, lag: 5000, overrides: {}, desired: 10, reason: "lag 5000 > 8 x 100: scale up to 10 (maxReplicas 10)" },
    { current: 10, lag: 5000, overrides: {}, desired: 10, reason: "lag 5000 > 10 x 100: holding 10 (maxReplicas 10)" },
    { current: 12, lag: 5000, overrides: {}, desired: 10, reason: "lag 5000 > 12 x 100: scale down to 10 (maxReplicas 10)" },
    { current: 1, lag: 0, overrides: { minReplicas: 3 }, desired: 3, reason: "lag 0 <= 1 x 100: scale up to 3 (minReplicas 3)" },
  ])("current $current, lag $lag -> $desired", ({ current, lag, overrides, desired, reason }) => {
    const d = decideReplicas(
      { nowMs: NOW, scaling: scalingWith(overrides), paused: false, currentReplicas: current, sample: sampleOf(NOW, lag) },
      initialScalingState(),
    );
    expect(d.desiredReplicas).toBe(desired);
    expect(d.reason).toBe(reason);
    expect(d.changed).toBe(desired !== current);
    expect(d.active).toBe(true);
    expect(d.activeReason).toBe("ScalingOnLag");
  });

  it("reacts to a burst within one poll", () => {
    const run = runPolls(scalingWith(), [0, 0, 350], 1);
    expect(run.replicas).toEqual([1, 1, 4]);
  });

  it("does not mutate the state it is given", () => {
    const state = initialScalingState();
    const scaling = scalingWith();
    const first = decideReplicas({ nowMs: NOW, scaling, paused: false, currentReplicas: 1, sample: sampleOf(NOW, 900) }, state);
    const snapshot = structuredClone(first.state);
    decideReplicas({ nowMs: NOW + 2000, scaling, paused: false, currentReplicas: 5, sample: sampleOf(NOW + 2000, 0) }, first.state);
    expect(first.state).toEqual(snapshot);
    expect(state).toEqual(initialScalingState());
  });
});

describe("scale-up step limit", () => {
  it.each([
    { name: "maxStep 4", overrides: { scaleUpMaxStep: 4 }, current: 1, desired: 5, note: "(max step 4, wants 10)" },
    { name: "maxStep 1", overrides: { scaleUpMaxStep: 1 }, current: 3, desired: 4, note: "(max step 1, wants 10)" },
    { name: "50% of 4", overrides: { scaleUpMaxStep: null, scaleUpMaxStepPercent: 50 }, current: 4, desired: 6, note: "(max step 2, wants 10)" },
    { name: "50% of 1 is at least 1", overrides: { scaleUpMaxStep: null, scaleUpMaxStepPercent: 50 }, current: 1, desired: 2, note: "(max step 1, wants 10)" },
    { name: "100% of 3", overrides: { scaleUpMaxStep: null, scaleUpMaxStepPercent: 100 }, current: 3, desired: 6, note: "(max step 3, wants 10)" },
    { name: "no limit", overrides: { scaleUpMaxStep: null, scaleUpMaxStepPercent: null }, current: 1, desired: 10, note: "(maxReplicas 10)" },
  ])("$name: $current -> $desired", ({ overrides, current, desired, note }) => {
    const d = decideReplicas(
      { nowMs: NOW, scaling: scalingWith(overrides), paused: false, currentReplicas: current, sample: sampleOf(NOW, 10_000) },
      initialScalingState(),
    );
    expect(d.desiredReplicas).toBe(desired);
    expect(d.reason).toContain(note);
  });

  it("climbs one step per poll until the recommendation is reached", () => {
    const run = runPolls(scalingWith({ scaleUpMaxStep: 4, maxReplicas: 20 }), [2000, 2000, 2000, 2000, 2000, 2000], 1);
    expect(run.replicas).toEqual([5, 9, 13, 17, 20, 20]);
  });

  it("does not limit scaling down", () => {
    const scaling = scalingWith({ scaleUpMaxStep: 1, scaleDownStabilizationMs: 0 });
    const run = runPolls(scaling, [1000, 0], 10);
    expect(run.replicas).toEqual([10, 1]);
  });
});

describe("scale-up stabilization window", () => {
  it("scales up to the lowest recommendation in the window", () => {
    // 10s window at 2s polls: a spike must last 10s before it moves replicas.
    const scaling = scalingWith({ scaleUpStabilizationMs: 10_000, scaleUpMaxStep: null });
    const run = runPolls(scaling, [100, 800, 800, 800, 800, 800, 800, 800], 1);
    expect(run.replicas).toEqual([1, 1, 1, 1, 1, 8, 8, 8]);
    expect(run.decisions[2]?.reason).toBe("lag 800 > 1 x 100: holding 1 (scale-up window 10s, wants 8)");
  });

  it("ignores a one-poll spike", () => {
    const scaling = scalingWith({ scaleUpStabilizationMs: 10_000 });
    const run = runPolls(scaling, [100, 100, 900, 100, 100, 100, 100, 100], 1);
    expect(new Set(run.replicas)).toEqual(new Set([1]));
  });
});
