import type { ResolvedScaling } from "../api/resolved.js";

/**
 * One reading of the channel's queue. lag = num_pending + num_ack_pending.
 * On a work-queue stream an acked message is removed, so between two samples
 * arrivals = Δ lastSeq and processed = Δ lastSeq − Δ messages.
 */
export interface QueueSample {
  atMs: number;
  lag: number;
  streamLastSeq: number;
  streamMessages: number;
}

export interface ScalingInput {
  nowMs: number;
  scaling: ResolvedScaling;
  paused: boolean;
  /** Replicas the workload has now (its scale subresource's spec.replicas). */
  currentReplicas: number;
  /** null = lag unknown (NATS unreachable, consumer missing). */
  sample: QueueSample | null;
}

export interface TimedRecommendation {
  atMs: number;
  replicas: number;
}

/**
 * What the policy remembers between decisions. Treat as opaque and pass back the
 * `state` of the last decision; it is never mutated.
 */
export interface ScalingState {
  /**
   * Recent raw recommendations that can still be the highest in the scale-down window:
   * values strictly decrease from oldest to newest, so the first is the window's maximum.
   */
  scaleDownWindow: TimedRecommendation[];
  /** Likewise for the scale-up window's minimum: values strictly increase, first is the minimum. */
  scaleUpWindow: TimedRecommendation[];
  /** Start of the current run of samples with lag 0 and no new messages; null when not idle. */
  idleSinceMs: number | null;
  lastNonZeroLagAtMs: number | null;
  previousSample: QueueSample | null;
  /** Replicas when previousSample was taken: the ones that did the work until now. */
  previousReplicas: number;
  /** Smoothed messages/s published to the stream. */
  arrivalRatePerSec: number | null;
  /** Smoothed messages/s removed from the work queue (acked or terminated), all replicas. */
  processingRatePerSec: number | null;
  /** Smoothed capacity of one replica in messages/s; null until processing was seen with replicas > 0. */
  perReplicaRatePerSec: number | null;
}

export interface ScalingDecision {
  desiredReplicas: number;
  /** For humans: "lag 420 > 3 x 100: scale up to 5". */
  reason: string;
  /** desiredReplicas !== currentReplicas */
  changed: boolean;
  /** For the ScalingActive condition: false when paused, lag unknown, or idle at zero. */
  active: boolean;
  /** CamelCase condition reason. */
  activeReason: ScalingActiveReason;
  state: ScalingState;
}

export type ScalingActiveReason =
  | "ScalingOnLag"
  | "ScalingOnDrainTime"
  | "RatesUnknown"
  | "ScaledToZero"
  | "Paused"
  | "LagUnknown";
