import type { TimedRecommendation } from "./types.js";

// Stabilization windows as monotonic queues: the HPA semantics (highest recommendation
// in the scale-down window, lowest in the scale-up window) in memory bounded by the
// number of distinct values rather than by window / pollInterval.

/** Adds `rec` and forgets what is older than the window or can no longer be the maximum. */
export function pushForMax(window: readonly TimedRecommendation[], rec: TimedRecommendation, windowMs: number): TimedRecommendation[] {
  const kept = window.filter((r) => r.atMs > rec.atMs - windowMs && r.replicas > rec.replicas);
  kept.push(rec);
  return kept;
}

/** Adds `rec` and forgets what is older than the window or can no longer be the minimum. */
export function pushForMin(window: readonly TimedRecommendation[], rec: TimedRecommendation, windowMs: number): TimedRecommendation[] {
  const kept = window.filter((r) => r.atMs > rec.atMs - windowMs && r.replicas < rec.replicas);
  kept.push(rec);
  return kept;
}

/** The first entry is the extreme; a window always holds at least the newest recommendation. */
export function extreme(window: readonly TimedRecommendation[]): number {
  const first = window[0];
  if (!first) throw new Error("empty stabilization window");
  return first.replicas;
}
