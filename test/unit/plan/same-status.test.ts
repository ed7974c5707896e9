import { describe, expect, it } from "vitest";
import type { ChannelStatus } from "../../../operator/src/api/types.js";
import { sameStatus } from "../../../operator/src/plan/index.js";

const condition = { type: "Ready", status: "True", reason: "Ready", message: "ok", lastTransitionTime: "2025-01-06T09:00:00Z", observedGeneration: 1 };

describe("sameStatus", () => {
  it.each([
    { name: "equal", a: { lag: 1, replicas: 2 }, b: { lag: 1, replicas: 2 }, same: true },
    { name: "key order does not matter", a: { lag: 1, replicas: 2 }, b: { replicas: 2, lag: 1 }, same: true },
    { name: "an undefined field is an absent one", a: { lag: 1, target: undefined }, b: { lag: 1 }, same: true },
    { name: "a changed number", a: { lag: 1 }, b: { lag: 2 }, same: false },
    { name: "a field more", a: { lag: 1 }, b: { lag: 1, replicas: 0 }, same: false },
    { name: "a null is not an absent field", a: { lag: 1 }, b: { lag: 1, stream: null }, same: false },
    { name: "nested objects compare deeply", a: { conditions: [condition] }, b: { conditions: [{ ...condition }] }, same: true },
    { name: "a changed condition", a: { conditions: [condition] }, b: { conditions: [{ ...condition, status: "False" }] }, same: false },
    { name: "condition order matters", a: { conditions: [condition, { ...condition, type: "X" }] }, b: { conditions: [{ ...condition, type: "X" }, condition] }, same: false },
    { name: "an array is not an object", a: { conditions: [] }, b: { conditions: {} }, same: false },
  ])("$name", ({ a, b, same }) => {
    expect(sameStatus(a as unknown as ChannelStatus, b as unknown as ChannelStatus)).toBe(same);
    expect(sameStatus(b as unknown as ChannelStatus, a as unknown as ChannelStatus)).toBe(same);
  });
});
