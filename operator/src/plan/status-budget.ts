import type { ChannelStatus } from "../api/types.js";
import { sameStatus } from "./channel-status.js";

/** A lag-only change is written when the lag moved by more than this share of the stored lag... */
export const STATUS_LAG_SHARE = 0.2;
/** ...and the channel's status was last written at least this long ago. */
export const STATUS_READINGS_INTERVAL_MS = 10_000;

/**
 * Whether a composed status is worth a write. Anything a person acts on (a condition's status or
 * reason, replicas, desired replicas, a scale decision, the target, dead letters, the server) is
 * written at once. The readings move with every message: the lag, the stream and consumer
 * counters, and condition messages that quote them ("lag 420 > 3 x 100"). A change to readings
 * alone is written at most once per STATUS_READINGS_INTERVAL_MS, and then only when the lag moved
 * by more than STATUS_LAG_SHARE (from or to zero always counts) or a condition's message changed
 * in more than the numbers it quotes; the metrics carry every poll's lag in between.
 */
export function statusWriteDue(before: ChannelStatus, after: ChannelStatus, lastWriteMs: number | null, nowMs: number): boolean {
  if (sameStatus(before, after)) return false;
  const { lag: lagBefore, stream: _s1, consumer: _c1, conditions: conditionsBefore, ...restBefore } = before;
  const { lag: lagAfter, stream: _s2, consumer: _c2, conditions: conditionsAfter, ...restAfter } = after;
  if (!sameStatus(restBefore, restAfter) || lagBefore === undefined || lagAfter === undefined) return true;
  if (!sameStatus(messagesAs(conditionsBefore, () => ""), messagesAs(conditionsAfter, () => ""))) return true;
  // A message that changed in its words says something new; one that changed only in the
  // numbers it quotes ("lag 420 > 3 x 100" -> "lag 433 > 3 x 100") is a reading like the lag.
  const reworded = !sameStatus(messagesAs(conditionsBefore, wordsOf), messagesAs(conditionsAfter, wordsOf));
  const moved = lagMoved(lagBefore, lagAfter) || reworded;
  return moved && (lastWriteMs === null || nowMs - lastWriteMs >= STATUS_READINGS_INTERVAL_MS);
}

function messagesAs(conditions: ChannelStatus["conditions"], message: (m: string) => string): ChannelStatus {
  return { conditions: (conditions ?? []).map((c) => ({ ...c, message: message(c.message ?? "") })) };
}

function wordsOf(message: string): string {
  return message.replace(/\d+(\.\d+)?/g, "#");
}

function lagMoved(before: number, after: number): boolean {
  if (before === after) return false;
  if (before === 0 || after === 0) return true;
  return Math.abs(after - before) > STATUS_LAG_SHARE * before;
}
