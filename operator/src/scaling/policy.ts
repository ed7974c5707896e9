import type { ResolvedScaling } from "../api/resolved.js";
import { formatDurationMs, formatRate } from "./format.js";
import { updateRates } from "./rates.js";
import type { QueueSample, ScalingActiveReason, ScalingDecision, ScalingInput, ScalingState } from "./types.js";
import { extreme, pushForMax, pushForMin } from "./window.js";

export function initialScalingState(): ScalingState {
  return {
    scaleDownWindow: [],
    scaleUpWindow: [],
    idleSinceMs: null,
    lastNonZeroLagAtMs: null,
    previousSample: null,
    previousReplicas: 0,
    arrivalRatePerSec: null,
    processingRatePerSec: null,
    perReplicaRatePerSec: null,
  };
}

/**
 * One scaling decision, made once per poll: the HPA's stabilization (lowest recommendation
 * in the scale-up window, highest in the scale-down window) around a lag- or drain-time
 * based recommendation, with KEDA-style activation from and idling to zero.
 */
export function decideReplicas(input: ScalingInput, state: ScalingState): ScalingDecision {
  const { sample, scaling, currentReplicas: current } = input;
  if (sample === null) return decideWithoutLag(input, state);

  const known = { arrivalRatePerSec: state.arrivalRatePerSec, processingRatePerSec: state.processingRatePerSec, perReplicaRatePerSec: state.perReplicaRatePerSec };
  const rates = updateRates(known, state.previousSample, sample, Math.max(state.previousReplicas, current));
  const idleSinceMs = nextIdleSince(state, sample, input.nowMs);
  const idleForMs = idleSinceMs === null ? 0 : input.nowMs - idleSinceMs;
  const recommendation = recommend(input, sample, rates, idleForMs);
  const rec = { atMs: input.nowMs, replicas: recommendation.replicas };
  // Like the HPA, a workload seen for the first time starts with its current replicas
  // in the windows, so a restarted operator does not scale down on one sample.
  const firstSight = state.scaleDownWindow.length === 0 && state.scaleUpWindow.length === 0;
  const seed = firstSight ? [{ atMs: input.nowMs, replicas: current }] : null;
  const nextState: ScalingState = {
    ...rates,
    scaleDownWindow: pushForMax(seed ?? state.scaleDownWindow, rec, scaling.scaleDownStabilizationMs),
    scaleUpWindow: pushForMin(seed ?? state.scaleUpWindow, rec, scaling.scaleUpStabilizationMs),
    idleSinceMs,
    lastNonZeroLagAtMs: sample.lag > 0 ? input.nowMs : state.lastNonZeroLagAtMs,
    previousSample: sample,
    previousReplicas: current,
  };

  // Recommendations keep flowing into the windows while paused, so that unpausing acts
  // on the recent history rather than on one sample.
  if (input.paused) return decision(current, current, `paused: holding ${current}`, false, "Paused", nextState);

  const wanted = recommendation.replicas;
  let desired: number;
  let note = "";
  if (recommendation.toZero) {
    // Idling for scaleToZeroAfter is a stronger signal than the scale-down window.
    desired = 0;
  } else {
    const upFloor = extreme(nextState.scaleUpWindow);
    const downCeiling = extreme(nextState.scaleDownWindow);
    desired = Math.min(Math.max(current, upFloor), downCeiling);
    if (wanted > desired && wanted > current) note = ` (scale-up window ${formatDurationMs(scaling.scaleUpStabilizationMs)}, wants ${wanted})`;
    if (wanted < desired && wanted < current) note = ` (scale-down window ${formatDurationMs(scaling.scaleDownStabilizationMs)}, wants ${wanted})`;
    const step = maxStepFrom(current, scaling);
    if (desired > current + step) {
      desired = current + step;
      note = ` (max step ${step}, wants ${wanted})`;
    }
    // 0 -> 1 as soon as lag > activationLag, whatever the scale-up window says.
    if (current === 0 && recommendation.activate) desired = Math.max(desired, 1);
  }
  const bounded = clamp(desired, scaling);
  if (bounded !== desired) note = ` (${bounded > desired ? "minReplicas" : "maxReplicas"} ${bounded})`;
  else if (recommendation.needed > scaling.maxReplicas && desired === scaling.maxReplicas) note = ` (maxReplicas ${desired})`;
  else if (recommendation.needed < scaling.minReplicas && desired === scaling.minReplicas) note = ` (minReplicas ${desired})`;
  desired = bounded;

  const reason = `${recommendation.basis}: ${action(current, desired)}${note}`;
  const activeReason: ScalingActiveReason =
    desired === 0 ? "ScaledToZero" : recommendation.mode === "drain" ? "ScalingOnDrainTime" : recommendation.mode === "lag-until-rates" ? "RatesUnknown" : "ScalingOnLag";
  return decision(current, desired, reason, desired > 0, activeReason, nextState);
}

interface Recommendation {
  replicas: number;
  /** Before clamping to [minReplicas, maxReplicas]. */
  needed: number;
  /** Why, without the action: "lag 420 > 3 x 100". */
  basis: string;
  mode: "lag" | "drain" | "lag-until-rates";
  /** From zero, lag exceeds activationLag. */
  activate: boolean;
  /** Idle for scaleToZeroAfter with minReplicas 0: go to zero now. */
  toZero: boolean;
}

function recommend(
  input: ScalingInput,
  sample: QueueSample,
  rates: Pick<ScalingState, "arrivalRatePerSec" | "perReplicaRatePerSec">,
  idleForMs: number,
): Recommendation {
  const { scaling, currentReplicas: current } = input;
  const { lag } = sample;
  const lagBasis = `lag ${lag} ${lag > current * scaling.targetLagPerReplica ? ">" : "<="} ${current} x ${scaling.targetLagPerReplica}`;
  let needed = ceil(lag / scaling.targetLagPerReplica);
  let basis = lagBasis;
  let mode: Recommendation["mode"] = "lag";
  if (scaling.targetDrainTimeMs !== null) {
    const arrival = rates.arrivalRatePerSec;
    const perReplica = rates.perReplicaRatePerSec;
    if (arrival !== null && perReplica !== null && perReplica > 0) {
      const drainSeconds = scaling.targetDrainTimeMs / 1000;
      needed = ceil((arrival + lag / drainSeconds) / perReplica);
      mode = "drain";
      basis =
        `arrivals ${formatRate(arrival)} + lag ${lag} in ${formatDurationMs(scaling.targetDrainTimeMs)}` +
        ` needs ${needed} x ${formatRate(perReplica)}`;
    } else {
      mode = "lag-until-rates";
      basis = `rates unknown, ${lagBasis}`;
    }
  }

  if (current === 0) {
    if (lag > scaling.activationLag) {
      return { replicas: clamp(Math.max(1, needed), scaling), needed: Math.max(1, needed), basis: `lag ${lag} > activationLag ${scaling.activationLag}`, mode, activate: true, toZero: false };
    }
    return { replicas: clamp(0, scaling), needed: 0, basis: `lag ${lag} <= activationLag ${scaling.activationLag}`, mode, activate: false, toZero: false };
  }
  if (needed === 0) {
    if (scaling.minReplicas === 0 && idleForMs >= scaling.scaleToZeroAfterMs) {
      return { replicas: 0, needed: 0, basis: `lag 0 and no new messages for ${formatDurationMs(idleForMs)}`, mode, activate: false, toZero: true };
    }
    // One replica stays until the channel has been idle for scaleToZeroAfter.
    needed = 1;
  }
  return { replicas: clamp(needed, scaling), needed, basis, mode, activate: false, toZero: false };
}

function decideWithoutLag(input: ScalingInput, state: ScalingState): ScalingDecision {
  const current = input.currentReplicas;
  // Unknown is not idle: the zero-lag clock starts again once lag is known.
  const nextState: ScalingState = { ...state, idleSinceMs: null };
  if (input.paused) return decision(current, current, `paused: holding ${current}`, false, "Paused", nextState);
  // Never scale down on missing data; only the channel's own bounds move replicas.
  const desired = clamp(current, input.scaling);
  const reason =
    desired === current ? `lag unknown: holding ${current}` : `lag unknown: ${desired > current ? "minReplicas" : "maxReplicas"} ${desired}`;
  return decision(current, desired, reason, false, "LagUnknown", nextState);
}

/** Idle = lag 0 and nothing published since the previous sample. */
function nextIdleSince(state: ScalingState, sample: QueueSample, nowMs: number): number | null {
  const previous = state.previousSample;
  const published = previous !== null && sample.streamLastSeq !== previous.streamLastSeq;
  if (sample.lag > 0 || published) return null;
  return state.idleSinceMs ?? nowMs;
}

function maxStepFrom(current: number, scaling: ResolvedScaling): number {
  if (scaling.scaleUpMaxStep !== null) return Math.max(1, scaling.scaleUpMaxStep);
  if (scaling.scaleUpMaxStepPercent !== null) return Math.max(1, Math.ceil((current * scaling.scaleUpMaxStepPercent) / 100));
  return Number.POSITIVE_INFINITY;
}

function clamp(replicas: number, scaling: ResolvedScaling): number {
  return Math.min(scaling.maxReplicas, Math.max(scaling.minReplicas, replicas));
}

/** ceil that ignores floating-point dust: 3.0000000001 needs 3 replicas, not 4. */
function ceil(x: number): number {
  return Math.max(0, Math.ceil(x - 1e-9));
}

function action(current: number, desired: number): string {
  if (desired === current) return `holding ${current}`;
  if (desired === 0) return "scale to zero";
  if (current === 0) return `activate with ${desired}`;
  return desired > current ? `scale up to ${desired}` : `scale down to ${desired}`;
}

function decision(
  current: number,
  desired: number,
  reason: string,
  active: boolean,
  activeReason: ScalingActiveReason,
  state: ScalingState,
): ScalingDecision {
  return { desiredReplicas: desired, reason, changed: desired !== current, active, activeReason, state };
}
