import { describe, expect, it } from "vitest";
import { changesIn, pollsFor, repeat, runPolls, scalingWith } from "./sim.js";

function alternate(a: number, b: number, polls: number): number[] {
  return Array.from({ length: polls }, (_, i) => (i % 2 === 0 ? a : b));
}

/** `high` for `highPolls`, then `low` for `lowPolls`, repeated. */
function square(high: number, highPolls: number, low: number, lowPolls: number, cycles: number): number[] {
  return Array.from({ length: cycles }, () => [...repeat(high, highPolls), ...repeat(low, lowPolls)]).flat();
}

describe("oscillating lag does not make replicas oscillate", () => {
  it.each([
    { name: "0 / 500 every poll", polls: alternate(500, 0, 200), settlesAt: 5 },
    { name: "290 / 310 around the 3 x 100 threshold", polls: [300, 300, ...alternate(310, 290, 200)], settlesAt: 4 },
    { name: "900 for 10s, 0 for 40s", polls: square(900, 5, 0, 20, 8), settlesAt: 9 },
    { name: "noise 150..450", polls: Array.from({ length: 200 }, (_, i) => 150 + ((i * 7919) % 300)), settlesAt: 5 },
  ])("$name", ({ polls, settlesAt }) => {
    const run = runPolls(scalingWith(), polls, 1);
    const settled = run.replicas.slice(20);
    expect(new Set(settled)).toEqual(new Set([settlesAt]));
    // Only the climb: replicas never go down and up again.
    const downs = run.replicas.filter((r, i) => i > 0 && r < run.replicas[i - 1]!).length;
    expect(downs).toBe(0);
    expect(changesIn(run.replicas)).toBeLessThanOrEqual(3);
  });

  it("lets go of a spike once it is older than the scale-down window", () => {
    const scaling = scalingWith();
    const window = pollsFor(scaling.scaleDownStabilizationMs, scaling);
    const run = runPolls(scaling, [800, ...repeat(50, window + 2)], 1);
    expect(run.replicas[0]).toBe(5);
    // Held while the spike is inside the 60s window, released when it leaves.
    expect(run.replicas.slice(1, window)).toEqual(repeat(5, window - 1));
    expect(run.replicas[window]).toBe(1);
    expect(run.decisions[1]?.reason).toBe("lag 50 <= 5 x 100: holding 5 (scale-down window 1m, wants 1)");
    expect(run.decisions[window]?.reason).toBe("lag 50 <= 5 x 100: scale down to 1");
  });

  it("steps down through the highest recommendation still in the window", () => {
    const scaling = scalingWith({ scaleDownStabilizationMs: 10_000 }); // 5 polls
    const run = runPolls(scaling, [1000, 600, 600, 600, 600, 600, 200, 200, 200, 200, 200, 200], 10);
    expect(run.replicas).toEqual([10, 10, 10, 10, 10, 6, 6, 6, 6, 6, 2, 2]);
  });

  it("does not scale down on the first sample after an operator restart", () => {
    const run = runPolls(scalingWith(), repeat(0, 40), 6);
    expect(run.replicas.slice(0, 29)).toEqual(repeat(6, 29));
    expect(run.replicas[30]).toBe(1);
  });
});

describe("burst then drain", () => {
  // A burst of 5000 messages drained at ~100 msgs/s per replica, a poll every 2s.
  function burstThenDrain(): { replicas: number[]; lags: number[] } {
    const scaling = scalingWith();
    const lags: number[] = [];
    let backlog = 0;
    let replicas = 1;
    const polls: number[] = [];
    for (let i = 0; i < 150; i++) {
      if (i === 5) backlog += 5000;
      backlog = Math.max(0, backlog - replicas * 100 * 2);
      polls.push(backlog);
      replicas = runPolls(scaling, polls, 1).replicas.at(-1)!;
      lags.push(backlog);
    }
    return { replicas: runPolls(scaling, polls, 1).replicas, lags };
  }

  it("climbs fast, holds while draining, comes back to min after the window", () => {
    const { replicas, lags } = burstThenDrain();
    const peak = Math.max(...replicas);
    const peakAt = replicas.indexOf(peak);
    expect(peak).toBe(10);
    // Up within one poll of the burst, in steps of at most 4.
    expect(replicas.slice(4, 8)).toEqual([1, 5, 9, 10]);
    // Monotone: up, then down, never up again.
    const firstDown = replicas.findIndex((r, i) => i > peakAt && r < peak);
    expect(replicas.slice(peakAt, firstDown).every((r) => r === peak)).toBe(true);
    expect(replicas.slice(firstDown).every((r, i, a) => i === 0 || r <= a[i - 1]!)).toBe(true);
    // Scale-down waits 60s after the last poll that still wanted the peak.
    const lastWantedPeak = lags.reduce((last, lag, i) => (lag > 900 ? i : last), -1);
    expect(firstDown - lastWantedPeak).toBeGreaterThanOrEqual(30);
    expect(replicas.at(-1)).toBe(1);
  });
});
