import type { QueueSample, ScalingDecision, ScalingInput, ScalingState } from "./types.js";

// An idle channel (lag 0, nothing published, replicas where the policy wants them) is most of
// what an operator with a thousand channels polls. For such a channel the policy can say how long
// the very same reading keeps giving the very same decision; the queue loop skips the decision
// and the status for those polls, and replays them in one step when a reading differs.

/**
 * Until when a poll that reads the same sample (lag, last sequence, messages) with the same
 * replicas gets this same decision and leaves the state where it is (but for the times of the
 * sample and of the newest recommendation, which resumeAfterQuiet sets): 0 when it cannot say.
 *
 * Quiet needs lag 0 with the idle clock running (so the next identical sample moves nothing),
 * no scale to make, smoothed rates settled at 0 (they decay towards it while idle), and windows
 * that hold only the current recommendation (an older different one expiring would change the
 * decision). Then the only thing time changes is going to zero once idle for scaleToZeroAfter.
 */
export function quietUntilMs(input: ScalingInput, decision: ScalingDecision): number {
  const { sample, scaling, currentReplicas } = input;
  const state = decision.state;
  if (sample === null || sample.lag !== 0 || input.paused || decision.changed || state.idleSinceMs === null) return 0;
  if (state.arrivalRatePerSec !== 0 || state.processingRatePerSec !== 0) return 0;
  const only = (window: ScalingState["scaleDownWindow"]) => window.length === 1;
  if (!only(state.scaleDownWindow) || !only(state.scaleUpWindow)) return 0;
  if (currentReplicas > 0 && scaling.minReplicas === 0) return state.idleSinceMs + scaling.scaleToZeroAfterMs;
  return Number.POSITIVE_INFINITY;
}

/**
 * The state as if every poll skipped since the quiet decision had been decided: the same
 * sample and recommendation, taken at the last skipped poll (`nowMs` its decision time,
 * `sampleAtMs` its reading's). Rates and the idle clock did not move; the windows' newest entry
 * and the previous sample carry the later times.
 */
export function resumeAfterQuiet(state: ScalingState, last: { nowMs: number; sampleAtMs: number }): ScalingState {
  const retime = (window: ScalingState["scaleDownWindow"]) => window.map((r, i) => (i === window.length - 1 ? { ...r, atMs: last.nowMs } : r));
  const previousSample: QueueSample | null = state.previousSample && { ...state.previousSample, atMs: last.sampleAtMs };
  return { ...state, scaleDownWindow: retime(state.scaleDownWindow), scaleUpWindow: retime(state.scaleUpWindow), previousSample };
}
