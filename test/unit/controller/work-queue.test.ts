import { describe, expect, it, vi } from "vitest";
import { WorkQueue, jitter } from "../../../operator/src/controller/work-queue.js";

describe("WorkQueue", () => {
  it("folds duplicate adds of a waiting key into one", async () => {
    const q = new WorkQueue();
    q.add("ns/a");
    q.add("ns/a");
    q.add("ns/b");
    expect(q.depth).toBe(2);
    expect(await q.get()).toBe("ns/a");
    expect(await q.get()).toBe("ns/b");
  });

  it("never hands out a key that is being processed; a re-add runs once after done()", async () => {
    const q = new WorkQueue();
    q.add("ns/a");
    const key = await q.get();
    q.add("ns/a");
    q.add("ns/a");
    expect(q.depth).toBe(0);
    q.done(key!);
    expect(q.depth).toBe(1);
    expect(await q.get()).toBe("ns/a");
    q.done("ns/a");
    expect(q.depth).toBe(0);
  });

  it("wakes a waiting worker when a key arrives", async () => {
    const q = new WorkQueue();
    const next = q.get();
    q.add("ns/a");
    expect(await next).toBe("ns/a");
  });

  it("keeps the earliest due time for delayed adds", () => {
    vi.useFakeTimers();
    try {
      const q = new WorkQueue();
      q.addAfter("ns/a", 1000);
      q.addAfter("ns/a", 5000);
      vi.advanceTimersByTime(999);
      expect(q.depth).toBe(0);
      vi.advanceTimersByTime(1);
      expect(q.depth).toBe(1);
      vi.advanceTimersByTime(10_000);
      expect(q.depth).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("an immediate add cancels a pending delayed one", () => {
    vi.useFakeTimers();
    try {
      const q = new WorkQueue();
      q.addAfter("ns/a", 1000);
      q.add("ns/a");
      expect(q.depth).toBe(1);
      expect(q.delayedCount).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it.each([
    [1, 100],
    [2, 200],
    [3, 400],
    [8, 1000],
  ])("backs off exponentially per key: failure %i waits %i ms (capped)", (failures, expected) => {
    vi.useFakeTimers();
    try {
      const q = new WorkQueue({ baseBackoffMs: 100, maxBackoffMs: 1000 });
      let delay = 0;
      for (let i = 0; i < failures; i++) delay = q.addRateLimited("ns/a");
      expect(delay).toBe(expected);
      q.forget("ns/a");
      expect(q.failuresOf("ns/a")).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("releases waiting workers with null on shutdown", async () => {
    const q = new WorkQueue();
    const next = q.get();
    q.shutDown();
    expect(await next).toBeNull();
    q.add("ns/a");
    expect(q.depth).toBe(0);
  });

  it("jitters within ±10%", () => {
    expect(jitter(1000, () => 0)).toBe(900);
    expect(jitter(1000, () => 1)).toBe(1100);
    expect(jitter(1000, () => 0.5)).toBe(1000);
  });
});
