import { describe, expect, it } from "vitest";
import type { FoundChannel } from "../../../operator/src/cli/channel-finder.js";
import { statusJson, statusRows, statusTable } from "../../../operator/src/cli/status-view.js";
import type { ChannelStatus, PointToPointChannel } from "../../../operator/src/api/index.js";
import { drainTimeMs } from "../../../operator/src/scaling/index.js";

function found(key: string, status: ChannelStatus, rates: FoundChannel["rates"] = null, maxReplicas?: number): FoundChannel {
  const [namespace, name] = key.split("/");
  const channel = { metadata: { namespace, name }, spec: maxReplicas ? { scaling: { maxReplicas } } : {} } as PointToPointChannel;
  return { key, channel, status, rates };
}

const ready = { type: "Ready", status: "True", reason: "Ready", message: "ok", lastTransitionTime: "" } as const;

describe("drainTimeMs", () => {
  it.each([
    [0, null, null, 0],
    [100, null, 10, null],
    [100, 5, 15, 10_000],
    [100, 20, 20, Number.POSITIVE_INFINITY],
    [100, 30, 10, Number.POSITIVE_INFINITY],
  ])("lag %d, in %s/s, out %s/s -> %s ms", (lag, arrival, processing, expected) => {
    expect(drainTimeMs(lag, arrival, processing)).toBe(expected);
  });
});

describe("p2p status rows", () => {
  it("measures rates in a cluster from two readings of status.stream", () => {
    const before = found("a/orders", { lag: 400, stream: { name: "s", messages: 400, bytes: 0, firstSeq: 1, lastSeq: 1000 } });
    const after = found("a/orders", { lag: 300, replicas: 4, desiredReplicas: 4, stream: { name: "s", messages: 300, bytes: 0, firstSeq: 1, lastSeq: 1050 }, conditions: [ready] }, null, 8);
    const [row] = statusRows([after], { found: [before], elapsedMs: 5_000 });
    // 50 arrived and the backlog fell by 100: 150 processed in 5 s.
    expect(row).toMatchObject({ arrivalRatePerSec: 10, processingRatePerSec: 30, drainMs: 15_000, maxReplicas: 8, ready: "True" });
    expect(statusTable([row!])).toEqual([
      "CHANNEL   READY  LAG  IN    OUT   DRAIN  REPLICAS  MAX  DLQ",
      "a/orders  True   300  10/s  30/s  ~15s   4/4       8    -",
    ]);
  });

  it("keeps the rates p2p local measured, and shows no rates without a second reading", () => {
    const local = found("default/x", { lag: 50 }, { arrivalPerSec: 100, processingPerSec: 80 });
    const cluster = found("default/y", { lag: 50 });
    const rows = statusRows([local, cluster], null);
    expect(rows.map((r) => [r.arrivalRatePerSec, r.processingRatePerSec, r.drainMs, r.maxReplicas])).toEqual([
      [100, 80, Number.POSITIVE_INFINITY, 10],
      [null, null, null, 10],
    ]);
    expect(statusTable(rows)[1]).toContain("not draining");
    expect(statusJson(rows).map((r) => [r.drainSeconds, r.draining])).toEqual([
      [null, false],
      [null, null],
    ]);
  });

  it("lists the reasons of conditions that are not True under the table", () => {
    const broken = found("a/orders", {
      conditions: [
        { ...ready, status: "False", reason: "SecretNotFound", message: "Secret a/nats-auth not found" },
        { type: "StreamReady", status: "False", reason: "SecretNotFound", message: "Secret a/nats-auth not found", lastTransitionTime: "" },
        { type: "ConsumerReady", status: "False", reason: "SecretNotFound", message: "Secret a/nats-auth not found", lastTransitionTime: "" },
      ],
    });
    const lines = statusTable(statusRows([broken], null));
    expect(lines.slice(2)).toEqual(["", "  a/orders  StreamReady,ConsumerReady=False SecretNotFound: Secret a/nats-auth not found"]);
    expect(statusJson(statusRows([broken], null))[0]!.conditions).toEqual([
      { type: "StreamReady", status: "False", reason: "SecretNotFound", message: "Secret a/nats-auth not found" },
      { type: "ConsumerReady", status: "False", reason: "SecretNotFound", message: "Secret a/nats-auth not found" },
    ]);
  });
});
