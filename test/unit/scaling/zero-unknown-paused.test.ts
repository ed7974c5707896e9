import { describe, expect, it } from "vitest";
import { decideReplicas, initialScalingState } from "../../../operator/src/scaling/index.js";
import { pollsFor, repeat, runPolls, sampleOf, scalingWith } from "./sim.js";

const toZero = scalingWith({ minReplicas: 0, scaleToZeroAfterMs: 60_000, scaleDownStabilizationMs: 20_000 });

describe("scale to zero and back", () => {
  it("goes 1 -> 0 only after scaleToZeroAfter of zero lag", () => {
    const idlePolls = pollsFor(toZero.scaleToZeroAfterMs, toZero);
    const run = runPolls(toZero, repeat(0, idlePolls + 3), 1);
    expect(run.replicas.slice(0, idlePolls)).toEqual(repeat(1, idlePolls));
    expect(run.replicas[idlePolls]).toBe(0);
    expect(run.decisions[idlePolls]?.reason).toBe("lag 0 and no new messages for 1m: scale to zero");
    expect(run.decisions[idlePolls]).toMatchObject({ active: false, activeReason: "ScaledToZero", changed: true });
    expect(run.decisions[idlePolls + 1]).toMatchObject({ desiredReplicas: 0, changed: false, active: false });
  });

  it("starts the idle clock again on any lag", () => {
    const half = pollsFor(toZero.scaleToZeroAfterMs / 2, toZero);
    const run = runPolls(toZero, [...repeat(0, half), 5, ...repeat(0, half + 1)], 1);
    expect(run.replicas.every((r) => r === 1)).toBe(true);
  });

  it("does not count a channel with new messages as idle, even at lag 0", () => {
    let state = initialScalingState();
    let current = 1;
    for (let i = 0; i < 100; i++) {
      const nowMs = 1_000_000 + i * 2_000;
      // Consumers keep up: every poll sees lag 0 but the stream's lastSeq moved on.
      const d = decideReplicas({ nowMs, scaling: toZero, paused: false, currentReplicas: current, sample: sampleOf(nowMs, 0, i * 10, 0) }, state);
      state = d.state;
      current = d.desiredReplicas;
    }
    expect(current).toBe(1);
  });

  it("scales 3 -> 1 after the scale-down window, and 1 -> 0 after scaleToZeroAfter", () => {
    const run = runPolls(toZero, [250, ...repeat(0, 40)], 1);
    expect(run.replicas[0]).toBe(3);
    expect(run.replicas.indexOf(1)).toBe(10); // 20s window
    expect(run.replicas.indexOf(0)).toBe(31); // idle since poll 1, for 60s
  });

  it.each([
    { activationLag: 0, lag: 0, desired: 0 },
    { activationLag: 0, lag: 1, desired: 1 },
    { activationLag: 10, lag: 10, desired: 0 },
    { activationLag: 10, lag: 11, desired: 1 },
    { activationLag: 10, lag: 350, desired: 4 },
  ])("from zero with activationLag $activationLag and lag $lag -> $desired", ({ activationLag, lag, desired }) => {
    const scaling = { ...toZero, activationLag };
    const d = decideReplicas({ nowMs: 1000, scaling, paused: false, currentReplicas: 0, sample: sampleOf(1000, lag) }, initialScalingState());
    expect(d.desiredReplicas).toBe(desired);
    expect(d.active).toBe(desired > 0);
    expect(d.reason).toBe(
      desired === 0 ? `lag ${lag} <= activationLag ${activationLag}: holding 0` : `lag ${lag} > activationLag ${activationLag}: activate with ${desired}`,
    );
  });

  it("activates within one poll even with a scale-up window", () => {
    const scaling = { ...toZero, scaleUpStabilizationMs: 30_000 };
    const run = runPolls(scaling, [0, 0, 700, 700], 0);
    expect(run.replicas).toEqual([0, 0, 1, 1]);
  });

  it("goes to zero, wakes up on new lag, and goes back to zero", () => {
    const idle = pollsFor(toZero.scaleToZeroAfterMs, toZero);
    const run = runPolls(toZero, [...repeat(0, idle + 5), 30, 30, 0, ...repeat(0, idle + 15)], 1);
    const wake = idle + 5;
    expect(run.replicas[wake - 1]).toBe(0);
    expect(run.replicas[wake]).toBe(1);
    expect(run.replicas.at(-1)).toBe(0);
    // Once: 1 -> 0 -> 1 -> 0.
    expect(run.replicas.filter((r, i) => i > 0 && r !== run.replicas[i - 1]).length).toBe(3);
  });

  it("never scales to zero when minReplicas is 1", () => {
    const run = runPolls(scalingWith({ scaleToZeroAfterMs: 10_000 }), repeat(0, 100), 1);
    expect(new Set(run.replicas)).toEqual(new Set([1]));
  });
});

describe("lag unknown", () => {
  it.each([
    { current: 5, min: 1, max: 10, desired: 5, reason: "lag unknown: holding 5" },
    { current: 0, min: 0, max: 10, desired: 0, reason: "lag unknown: holding 0" },
    { current: 0, min: 2, max: 10, desired: 2, reason: "lag unknown: minReplicas 2" },
  ])("current $current in [$min, $max] -> $desired", ({ current, min, max, desired, reason }) => {
    const d = decideReplicas(
      { nowMs: 1000, scaling: scalingWith({ minReplicas: min, maxReplicas: max }), paused: false, currentReplicas: current, sample: null },
      initialScalingState(),
    );
    expect(d).toMatchObject({ desiredReplicas: desired, reason, active: false, activeReason: "LagUnknown" });
  });

  it("never scales down while lag is unknown, however long", () => {
    const run = runPolls(scalingWith(), [900, ...repeat(null, 200)], 1);
    expect(run.replicas[0]).toBe(5);
    expect(new Set(run.replicas.slice(1))).toEqual(new Set([5]));
  });

  it("resumes from the known history when lag comes back", () => {
    const run = runPolls(scalingWith(), [900, ...repeat(null, 10), 0, 0], 1);
    // The 900 sample is 24s old, inside the 60s scale-down window.
    expect(run.replicas.slice(-2)).toEqual([5, 5]);
  });

  it("restarts the idle clock: unknown is not idle", () => {
    const half = pollsFor(toZero.scaleToZeroAfterMs / 2, toZero);
    const run = runPolls(toZero, [...repeat(0, half + 5), null, ...repeat(0, half + 5)], 1);
    expect(run.replicas.every((r) => r === 1)).toBe(true);
  });
});

describe("paused", () => {
  it.each([
    { current: 3, lag: 5000 },
    { current: 3, lag: 0 },
    { current: 0, lag: 5000 },
    { current: 12, lag: 0 },
    { current: 3, lag: null },
  ])("holds $current replicas at lag $lag", ({ current, lag }) => {
    const d = decideReplicas(
      { nowMs: 1000, scaling: scalingWith(), paused: true, currentReplicas: current, sample: lag === null ? null : sampleOf(1000, lag) },
      initialScalingState(),
    );
    expect(d).toMatchObject({ desiredReplicas: current, changed: false, active: false, activeReason: "Paused", reason: `paused: holding ${current}` });
  });

  it("scales up on the first poll after unpausing", () => {
    const run = runPolls(scalingWith(), [{ lag: 2000, paused: true }, { lag: 2000, paused: true }, 2000], 2);
    expect(run.replicas).toEqual([2, 2, 6]);
  });

  it.each([
    { name: "longer than the scale-down window", pausedPolls: 31, after: 1 },
    { name: "shorter than the scale-down window", pausedPolls: 5, after: 5 },
  ])("scales down on unpausing after idling paused $name", ({ pausedPolls, after }) => {
    const run = runPolls(scalingWith(), [...repeat({ lag: 0, paused: true }, pausedPolls), 0], 5);
    expect(run.replicas.slice(0, pausedPolls)).toEqual(repeat(5, pausedPolls));
    expect(run.replicas.at(-1)).toBe(after);
  });
});
