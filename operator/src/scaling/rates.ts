import type { QueueSample } from "./types.js";

/** Time constant of the rate smoothing: a step change is 63% absorbed after this long. */
export const RATE_SMOOTHING_MS = 10_000;
/**
 * Smoothed arrival and processing rates below this (messages/s) are 0: smoothing only ever
 * approaches 0, and an idle channel's rates must settle for its polls to be quiet (quiet.ts).
 * From 1,000 messages/s, an idle channel's rates reach it in about two and a half minutes.
 */
export const RATE_FLOOR_PER_SEC = 0.001;

export interface Rates {
  arrivalRatePerSec: number | null;
  processingRatePerSec: number | null;
  perReplicaRatePerSec: number | null;
}

/**
 * Folds the interval between two samples into the smoothed rates.
 *
 * Per-replica capacity is only measurable while the replicas were busy: with a backlog
 * at both ends of the interval they processed as fast as they could, so that interval's
 * rate is a capacity sample (smoothed). Without a backlog they processed only what
 * arrived, which says capacity is at least that much: it can raise the estimate but
 * never lower it, or an idle channel would look slow and never scale down.
 */
export function updateRates(rates: Rates, previous: QueueSample | null, sample: QueueSample, replicasDuringInterval: number): Rates {
  if (!previous) return rates;
  const dtMs = sample.atMs - previous.atMs;
  const arrived = sample.streamLastSeq - previous.streamLastSeq;
  // A stream recreated (or memory storage lost) restarts its sequence: no usable interval.
  if (dtMs <= 0 || arrived < 0) return rates;
  const processed = Math.max(0, arrived - (sample.streamMessages - previous.streamMessages));
  const seconds = dtMs / 1000;
  const alpha = 1 - Math.exp(-dtMs / RATE_SMOOTHING_MS);
  const arrivalRatePerSec = floored(smooth(rates.arrivalRatePerSec, arrived / seconds, alpha));
  const processingRatePerSec = floored(smooth(rates.processingRatePerSec, processed / seconds, alpha));

  let perReplicaRatePerSec = rates.perReplicaRatePerSec;
  if (replicasDuringInterval > 0 && processed > 0) {
    const observed = processed / seconds / replicasDuringInterval;
    const saturated = previous.lag > 0 && sample.lag > 0;
    if (saturated) perReplicaRatePerSec = smooth(perReplicaRatePerSec, observed, alpha);
    else if (perReplicaRatePerSec === null || observed > perReplicaRatePerSec) perReplicaRatePerSec = observed;
  }
  return { arrivalRatePerSec, processingRatePerSec, perReplicaRatePerSec };
}

function floored(rate: number): number {
  return rate < RATE_FLOOR_PER_SEC ? 0 : rate;
}

function smooth(current: number | null, observed: number, alpha: number): number {
  return current === null ? observed : current + alpha * (observed - current);
}

/** The rates of one interval between two samples, unsmoothed (what `p2p status` measures itself). */
export function ratesBetween(previous: QueueSample, sample: QueueSample): Pick<Rates, "arrivalRatePerSec" | "processingRatePerSec"> {
  const { arrivalRatePerSec, processingRatePerSec } = updateRates({ arrivalRatePerSec: null, processingRatePerSec: null, perReplicaRatePerSec: null }, previous, sample, 0);
  return { arrivalRatePerSec, processingRatePerSec };
}

/**
 * How long the backlog takes to drain at the current rates: 0 with no lag, Infinity while it is
 * not shrinking (processing no faster than arrival), null when the rates are unknown.
 */
export function drainTimeMs(lag: number, arrivalRatePerSec: number | null, processingRatePerSec: number | null): number | null {
  if (lag <= 0) return 0;
  if (arrivalRatePerSec === null || processingRatePerSec === null) return null;
  const netPerSec = processingRatePerSec - arrivalRatePerSec;
  return netPerSec > 0 ? (lag / netPerSec) * 1000 : Number.POSITIVE_INFINITY;
}
