import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import {
  decideReplicas,
  initialScalingState,
  quietUntilMs,
  resumeAfterQuiet,
  type QueueSample,
  type ScalingDecision,
  type ScalingState,
} from "../../../operator/src/scaling/index.js";
import { scalingWith } from "./sim.js";

/** A small deterministic PRNG (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
const visible = (d: ScalingDecision) => ({ desired: d.desiredReplicas, reason: d.reason, active: d.active, activeReason: d.activeReason });

/**
 * One channel, polled every 2 s for `polls` polls: bursts now and then, long idle stretches,
 * replicas that follow the decisions and drain the queue. Run A decides every poll; run B skips
 * the polls quietUntilMs allows, as the queue loop does, and resumes with resumeAfterQuiet.
 */
function scenario(seed: number, polls: number) {
  const rnd = random(seed);
  const scaling = scalingWith({
    minReplicas: pick(rnd, [0, 0, 1, 2]),
    maxReplicas: pick(rnd, [3, 6]),
    activationLag: pick(rnd, [0, 5]),
    scaleToZeroAfterMs: pick(rnd, [10_000, 60_000]),
    scaleDownStabilizationMs: pick(rnd, [0, 20_000, 60_000]),
    scaleUpStabilizationMs: pick(rnd, [0, 10_000, 30_000]),
    targetDrainTimeMs: pick(rnd, [null, 30_000]),
    targetLagPerReplica: 50,
  });
  const burstChance = pick(rnd, [0.01, 0.03, 0.1]);
  let lastSeq = 0;
  let messages = 0;
  let replicas = pick(rnd, [0, 1]);
  let a: ScalingState = initialScalingState();
  let b: ScalingState = initialScalingState();
  let quiet: { untilMs: number; sample: QueueSample; replicas: number; decision: ScalingDecision } | null = null;
  let lastSkipped: { nowMs: number; sampleAtMs: number } | null = null;
  let skipped = 0;
  for (let i = 0; i < polls; i++) {
    const nowMs = 1_000_000 + i * 2_000;
    if (rnd() < burstChance) {
      const n = 1 + Math.floor(rnd() * 400);
      lastSeq += n;
      messages += n;
    }
    messages = Math.max(0, messages - replicas * 40);
    const sample: QueueSample = { atMs: nowMs - Math.floor(rnd() * 50), lag: messages, streamLastSeq: lastSeq, streamMessages: messages };
    const input = { nowMs, scaling, paused: false, currentReplicas: replicas, sample };

    const full = decideReplicas(input, a);
    a = full.state;

    let decided: ScalingDecision;
    const same = quiet && quiet.replicas === replicas && quiet.sample.lag === sample.lag && quiet.sample.streamLastSeq === lastSeq && quiet.sample.streamMessages === messages;
    if (quiet && same && nowMs < quiet.untilMs) {
      decided = quiet.decision;
      lastSkipped = { nowMs, sampleAtMs: sample.atMs };
      skipped++;
    } else {
      if (lastSkipped) b = resumeAfterQuiet(b, lastSkipped);
      lastSkipped = null;
      decided = decideReplicas(input, b);
      b = decided.state;
      // Skipping or not, the state carries on the same (expect only on a difference: it is slow).
      if (!isDeepStrictEqual(b, a)) expect(b, `seed ${seed}, poll ${i}`).toEqual(a);
      const untilMs = quietUntilMs(input, decided);
      quiet = untilMs > nowMs ? { untilMs, sample, replicas, decision: decided } : null;
    }
    if (!isDeepStrictEqual(visible(decided), visible(full))) expect(visible(decided), `seed ${seed}, poll ${i}`).toEqual(visible(full));
    replicas = full.desiredReplicas;
  }
  return { skipped, polls };
}

describe("quiet polls (an idle channel's polls skipped and replayed)", () => {
  it("decide exactly as polling every time would, over 100 random channels", { timeout: 30_000 }, () => {
    let skipped = 0;
    let polls = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const run = scenario(seed, 500);
      skipped += run.skipped;
      polls += run.polls;
    }
    // The skipping is real: a quarter of these polls are quiet (rates settle for a minute or
    // two after each burst, and bursts come every 20 s to 3 min).
    expect(skipped / polls).toBeGreaterThan(0.2);
  });

  it("is never quiet with lag, while paused, with a scale to make, or while rates are still settling", () => {
    const scaling = scalingWith({ minReplicas: 0, scaleDownStabilizationMs: 0 });
    const at = (nowMs: number, lag: number, lastSeq: number): QueueSample => ({ atMs: nowMs, lag, streamLastSeq: lastSeq, streamMessages: lag });
    const base = { scaling, paused: false, currentReplicas: 1 };
    let state = initialScalingState();
    const step = (nowMs: number, sample: QueueSample, extra: Partial<typeof base> = {}) => {
      const input = { ...base, ...extra, nowMs, sample };
      const d = decideReplicas(input, state);
      state = d.state;
      return quietUntilMs(input, d);
    };
    expect(step(0, at(0, 10, 10))).toBe(0); // lag
    expect(step(2_000, at(2_000, 0, 10))).toBe(0); // rates: 5/s arrived, still decaying
    let t = 4_000;
    let until = 0;
    for (; t < 200_000 && until === 0; t += 2_000) until = step(t, at(t, 0, 10));
    // Settled once the rates fall below the floor; then quiet until scaleToZeroAfter has passed.
    expect(until).toBe((state.idleSinceMs ?? NaN) + scaling.scaleToZeroAfterMs);
    expect(step(t, at(t, 0, 10), { paused: true })).toBe(0);
  });
});
