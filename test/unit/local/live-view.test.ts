import { describe, expect, it } from "vitest";
import type { ChannelStatus } from "../../../operator/src/api/types.js";
import { channelJson, renderTable } from "../../../operator/src/local/live-view.js";

const now = Date.parse("2025-01-06T09:00:30Z");
const at = "2025-01-06T09:00:00Z";

const healthy: ChannelStatus = {
  conditions: [
    { type: "Ready", status: "True", reason: "Ready", message: "ok", lastTransitionTime: at },
    { type: "ScalingActive", status: "True", reason: "ScalingOnLag", message: "lag 420 > 3 x 100", lastTransitionTime: at },
  ],
  lag: 420,
  replicas: 5,
  desiredReplicas: 5,
  lastScaleTime: "2025-01-06T09:00:18Z",
  lastScaleReason: "lag 420 > 3 x 100",
  deadLetters: 2,
};

const blocked: ChannelStatus = {
  conditions: [
    { type: "Ready", status: "False", reason: "NotSupportedLocally", message: "WorkloadReady: needs a cluster", lastTransitionTime: at },
    { type: "StreamReady", status: "True", reason: "StreamReady", message: "ok", lastTransitionTime: at },
    { type: "WorkloadReady", status: "False", reason: "NotSupportedLocally", message: "needs a cluster", lastTransitionTime: at },
  ],
};

describe("live view", () => {
  it("shows lag, running/desired replicas, rate and the last scale decision in a table", () => {
    const lines = renderTable({ natsUrl: "nats://127.0.0.1:4222", logDir: "/tmp/logs" }, [
      { key: "default/orders", status: healthy, running: 4, ratePerSec: 123.456 },
    ], now);
    const row = lines.find((l) => l.startsWith("default/orders"));
    expect(row).toMatch(/default\/orders\s+True\s+420\s+4\/5\s+123\.5\s+2\s+12s ago lag 420 > 3 x 100/);
    expect(lines.join("\n")).not.toMatch(/=False/);
  });

  it("lists every condition that is not True, with reason and message", () => {
    const lines = renderTable({ natsUrl: "u", logDir: "l" }, [{ key: "default/v2", status: blocked, running: null, ratePerSec: null }], now);
    expect(lines).toContain("  default/v2  WorkloadReady=False NotSupportedLocally: needs a cluster");
    expect(lines.some((l) => l.includes("Ready=False NotSupportedLocally: WorkloadReady"))).toBe(false);
  });

  it("writes one JSON object per snapshot with the conditions that are not True", () => {
    const json = channelJson({ key: "default/v2", status: blocked, running: null, ratePerSec: null }, now);
    expect(json).toMatchObject({ type: "channel", channel: "default/v2", ready: "False", lag: null });
    expect(json.conditions).toEqual([{ type: "WorkloadReady", status: "False", reason: "NotSupportedLocally", message: "needs a cluster" }]);
  });
});

describe("live view on a narrow terminal", () => {
  it("wraps a long condition message instead of cutting it, and names conditions that share it once", () => {
    const message = "workload.scaleTargetRef (Deployment immunisation-register) needs a cluster; local mode runs workload.template containers";
    const status: ChannelStatus = {
      conditions: [
        { type: "WorkloadReady", status: "False", reason: "NotSupportedLocally", message, lastTransitionTime: at },
        { type: "ScalingActive", status: "False", reason: "NotSupportedLocally", message, lastTransitionTime: at },
      ],
    };
    const lines = renderTable({ natsUrl: "u", logDir: "l" }, [{ key: "default/v2", status, running: null, ratePerSec: null }], now, 60);
    const problem = lines.slice(lines.findIndex((l) => l.startsWith("  default/v2")));
    expect(problem.every((l) => l.length <= 60)).toBe(true);
    expect(problem.join(" ").replace(/\s+/g, " ")).toContain(`WorkloadReady,ScalingActive=False NotSupportedLocally: ${message}`);
  });
});
