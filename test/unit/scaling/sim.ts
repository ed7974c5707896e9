import { scalingWith } from "../../support/channels.js";
import type { ResolvedScaling } from "../../../operator/src/api/resolved.js";
import {
  decideReplicas,
  initialScalingState,
  type QueueSample,
  type ScalingDecision,
  type ScalingState,
} from "../../../operator/src/scaling/index.js";

export { scalingWith };

export function sampleOf(atMs: number, lag: number, streamLastSeq = 0, streamMessages = lag): QueueSample {
  return { atMs, lag, streamLastSeq, streamMessages };
}

/** One poll: a lag (null = unknown), optionally paused. */
export type Poll = number | null | { lag: number | null; paused?: boolean };

export interface Run {
  decisions: ScalingDecision[];
  /** Replicas after each poll. */
  replicas: number[];
  state: ScalingState;
}

/**
 * Feeds one lag per poll, every pollIntervalMs, to the policy, and applies each decision
 * as the next poll's current replicas, the way the controller does.
 */
export function runPolls(scaling: ResolvedScaling, polls: Poll[], startReplicas: number, startMs = 1_000_000): Run {
  let state = initialScalingState();
  let current = startReplicas;
  const decisions: ScalingDecision[] = [];
  polls.forEach((poll, i) => {
    const nowMs = startMs + i * scaling.pollIntervalMs;
    const { lag, paused } = typeof poll === "object" && poll !== null ? poll : { lag: poll, paused: false };
    const d = decideReplicas(
      { nowMs, scaling, paused: paused ?? false, currentReplicas: current, sample: lag === null ? null : sampleOf(nowMs, lag) },
      state,
    );
    decisions.push(d);
    state = d.state;
    current = d.desiredReplicas;
  });
  return { decisions, replicas: decisions.map((d) => d.desiredReplicas), state };
}

/** How many times the replica count changed direction or value. */
export function changesIn(replicas: number[]): number {
  return replicas.filter((r, i) => i > 0 && r !== replicas[i - 1]).length;
}

export function repeat<T>(value: T, times: number): T[] {
  return Array.from({ length: times }, () => value);
}

/** Polls needed to cover `ms` at the given interval. */
export function pollsFor(ms: number, scaling: ResolvedScaling): number {
  return Math.ceil(ms / scaling.pollIntervalMs);
}
