// Flow control, pure: how much to hold, how long to wait before a retry.

export interface CapacityInput {
  maxBatch: number;
  concurrency: number;
  ackWaitMs: number;
  /** Smoothed handler time; null before the first message finished. */
  handlerMs: number | null;
}

/**
 * Most messages to hold at once (pulled but not yet received, buffered, in flight).
 * The last of them starts after (capacity / concurrency) handler times, which must be well
 * within ackWait or the server redelivers it to another replica while it waits here:
 * capacity <= concurrency * ackWait / (2 * handler time). Never above P2P_MAX_BATCH, which
 * keeps one replica from taking the whole of the consumer's maxAckPending. Until a handler
 * time is measured, hold no more than the workers can start at once.
 */
export function pullCapacity({ maxBatch, concurrency, ackWaitMs, handlerMs }: CapacityInput): number {
  if (handlerMs === null) return Math.max(1, Math.min(maxBatch, concurrency));
  const withinAckWait = Math.floor((concurrency * ackWaitMs) / (2 * Math.max(handlerMs, 0.001)));
  return Math.max(1, Math.min(maxBatch, withinAckWait));
}

/** Pull again once this much of the capacity is free: fewer, larger pull requests. */
export function pullThreshold(capacity: number): number {
  return Math.max(1, Math.ceil(capacity / 4));
}

const MAX_RETRY_DELAY_MS = 5 * 60_000;

/**
 * The delay of a nak after delivery number `deliveryCount` failed: the consumer's own
 * backoff when it has one (so a nak and an ackWait expiry wait the same), else
 * retryDelayMs doubling per delivery, capped at 5 minutes.
 */
export function retryDelayMs(deliveryCount: number, backoffMs: readonly number[], baseMs: number): number {
  const attempt = Math.max(1, deliveryCount);
  if (backoffMs.length > 0) return backoffMs[Math.min(attempt, backoffMs.length) - 1]!;
  return Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** Math.min(attempt - 1, 20));
}

/** Exponentially weighted moving average, for the handler time. */
export function smooth(current: number | null, observed: number, alpha = 0.1): number {
  return current === null ? observed : current + alpha * (observed - current);
}

/**
 * "+TERM <reason>" is understood from nats-server 2.10.4; an older server ignores the whole
 * ack, so the message would come back after ackWait. Older servers get a plain term.
 */
export function termTakesReason(serverVersion: string | undefined): boolean {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(serverVersion ?? "");
  if (!m) return false;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return major > 2 || (major === 2 && (minor > 10 || (minor === 10 && patch >= 4)));
}
