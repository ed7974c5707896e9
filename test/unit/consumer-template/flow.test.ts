import { describe, expect, it } from "vitest";
import { pullCapacity, pullThreshold, retryDelayMs, smooth, termTakesReason } from "../../../consumer-template/src/flow.js";

describe("pullCapacity", () => {
  it.each([
    { name: "before any handler time: the workers' worth", maxBatch: 100, concurrency: 4, ackWaitMs: 30_000, handlerMs: null, capacity: 4 },
    { name: "before any handler time, small batch", maxBatch: 2, concurrency: 4, ackWaitMs: 30_000, handlerMs: null, capacity: 2 },
    { name: "fast handler: P2P_MAX_BATCH", maxBatch: 100, concurrency: 4, ackWaitMs: 30_000, handlerMs: 1, capacity: 100 },
    { name: "instant handler: P2P_MAX_BATCH", maxBatch: 500, concurrency: 1, ackWaitMs: 30_000, handlerMs: 0, capacity: 500 },
    // 4 workers x 30s / (2 x 1s) = 60 messages finish within half of ackWait.
    { name: "slow handler: what finishes within ackWait / 2", maxBatch: 100, concurrency: 4, ackWaitMs: 30_000, handlerMs: 1_000, capacity: 60 },
    { name: "handler longer than ackWait: one at a time", maxBatch: 100, concurrency: 1, ackWaitMs: 5_000, handlerMs: 60_000, capacity: 1 },
  ])("$name -> $capacity", ({ maxBatch, concurrency, ackWaitMs, handlerMs, capacity }) => {
    expect(pullCapacity({ maxBatch, concurrency, ackWaitMs, handlerMs })).toBe(capacity);
  });

  it("never lets the last held message wait past half of ackWait", () => {
    for (const handlerMs of [0.05, 1, 7, 50, 333, 2_000]) {
      for (const concurrency of [1, 3, 8]) {
        const capacity = pullCapacity({ maxBatch: 10_000, concurrency, ackWaitMs: 30_000, handlerMs });
        if (capacity > 1) expect((capacity / concurrency) * handlerMs).toBeLessThanOrEqual(15_000);
      }
    }
  });
});

describe("pullThreshold", () => {
  it.each([
    { capacity: 1, threshold: 1 },
    { capacity: 4, threshold: 1 },
    { capacity: 10, threshold: 3 },
    { capacity: 100, threshold: 25 },
  ])("capacity $capacity pulls again with $threshold free", ({ capacity, threshold }) => {
    expect(pullThreshold(capacity)).toBe(threshold);
  });
});

describe("retryDelayMs", () => {
  it.each([
    { deliveryCount: 1, backoff: [], base: 1_000, delay: 1_000 },
    { deliveryCount: 2, backoff: [], base: 1_000, delay: 2_000 },
    { deliveryCount: 4, backoff: [], base: 1_000, delay: 8_000 },
    { deliveryCount: 20, backoff: [], base: 1_000, delay: 300_000 },
    { deliveryCount: 1000, backoff: [], base: 1_000, delay: 300_000 },
    { deliveryCount: 3, backoff: [], base: 0, delay: 0 },
    { deliveryCount: 1, backoff: [1_000, 10_000, 60_000], base: 5, delay: 1_000 },
    { deliveryCount: 2, backoff: [1_000, 10_000, 60_000], base: 5, delay: 10_000 },
    { deliveryCount: 3, backoff: [1_000, 10_000, 60_000], base: 5, delay: 60_000 },
    { deliveryCount: 9, backoff: [1_000, 10_000, 60_000], base: 5, delay: 60_000 },
  ])("delivery $deliveryCount, backoff $backoff, base $base -> $delay", ({ deliveryCount, backoff, base, delay }) => {
    expect(retryDelayMs(deliveryCount, backoff, base)).toBe(delay);
  });
});

describe("termTakesReason", () => {
  it.each([
    { version: "2.9.10", reason: false },
    { version: "2.10.3", reason: false },
    { version: "2.10.4", reason: true },
    { version: "2.11.0", reason: true },
    { version: "3.0.0", reason: true },
    { version: "2.12.0-beta.1", reason: true },
    { version: undefined, reason: false },
  ])("server $version -> $reason", ({ version, reason }) => {
    expect(termTakesReason(version)).toBe(reason);
  });
});

describe("smooth", () => {
  it("starts at the first observation and moves a tenth of the way", () => {
    expect(smooth(null, 50)).toBe(50);
    expect(smooth(50, 150)).toBe(60);
  });
});
