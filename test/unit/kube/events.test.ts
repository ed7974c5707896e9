import { describe, expect, it } from "vitest";
import { EventAggregator, type EventIdentity } from "../../../operator/src/kube/index.js";

const scaled: EventIdentity = { namespace: "register", name: "air", uid: "u1", type: "Normal", reason: "Scaled", message: "scaled 1→3" };
const secret: EventIdentity = { namespace: "register", name: "air", uid: "u1", type: "Warning", reason: "SecretNotFound", message: "Secret nats-auth not found" };

function aggregator(windowMs = 60_000) {
  let n = 0;
  return new EventAggregator(windowMs, (name) => `${name}.${++n}`);
}

describe("EventAggregator", () => {
  it("creates one Event per cause and counts repeats on it", () => {
    const a = aggregator();
    expect(a.next(secret, 0)).toEqual({ action: "create", eventName: "air.1", count: 1, firstTimestamp: new Date(0).toISOString() });
    expect(a.next(secret, 2_000)).toMatchObject({ action: "patch", eventName: "air.1", count: 2 });
    expect(a.next(secret, 4_000)).toMatchObject({ action: "patch", eventName: "air.1", count: 3, firstTimestamp: new Date(0).toISOString() });
  });

  it("keeps different reasons, messages and objects apart", () => {
    const a = aggregator();
    expect(a.next(secret, 0).eventName).toBe("air.1");
    expect(a.next(scaled, 0).eventName).toBe("air.2");
    expect(a.next({ ...scaled, message: "scaled 3→5" }, 0).eventName).toBe("air.3");
    expect(a.next({ ...scaled, uid: "u2" }, 0).eventName).toBe("air.4");
    expect(a.next(scaled, 1).action).toBe("patch");
  });

  it("starts a new Event once the cause has been quiet longer than the window", () => {
    const a = aggregator(10_000);
    a.next(secret, 0);
    expect(a.next(secret, 9_000).action).toBe("patch");
    expect(a.next(secret, 19_001)).toMatchObject({ action: "create", eventName: "air.2", count: 1 });
  });

  it("forgets a cause whose write failed, so the next occurrence creates again", () => {
    const a = aggregator();
    a.next(secret, 0);
    a.forget(secret);
    expect(a.next(secret, 1).action).toBe("create");
  });

  it("prunes causes older than the window", () => {
    const a = aggregator(1_000);
    for (let i = 0; i < 50; i++) a.next({ ...scaled, message: `scaled ${i}` }, i);
    a.next(secret, 10_000);
    expect(a.size).toBe(1);
  });
});
