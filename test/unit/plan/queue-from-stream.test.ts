import { describe, expect, it } from "vitest";
import type { ObservedStream } from "../../../operator/src/plan/index.js";
import { capabilitiesOf, desiredWorkStream, queueStateFromStream } from "../../../operator/src/plan/index.js";
import { makeResolvedChannel } from "../../support/channels.js";

function stream(retention: "workqueue" | "limits", messages: number, consumerCount: number): ObservedStream {
  const settings = desiredWorkStream(makeResolvedChannel({ namespace: "health", name: "register" }), capabilitiesOf("2.10.0"));
  return { settings: { ...settings, retention }, state: { messages, bytes: messages * 10, firstSeq: 41, lastSeq: 40 + messages, consumerCount } };
}

describe("queueStateFromStream", () => {
  it.each([
    ["holds messages: the consumer tells pending from ack-pending", stream("workqueue", 3, 1)],
    ["has no consumer: nothing to read", stream("workqueue", 0, 0)],
    ["has a second consumer: the stream's count is no single consumer's", stream("workqueue", 0, 2)],
    ["is not a work queue: acked messages stay", stream("limits", 0, 1)],
  ])("asks CONSUMER.INFO when the stream %s", (_name, s) => {
    expect(queueStateFromStream(s, "register", 1, undefined)).toBeNull();
  });

  it("reads zero lag from an empty work-queue stream with its one consumer, keeping the last waiting and paused", () => {
    expect(queueStateFromStream(stream("workqueue", 0, 1), "register", 7, { waiting: 2, paused: true })).toEqual({
      atMs: 7,
      stream: { name: "health_register", messages: 0, bytes: 0, firstSeq: 41, lastSeq: 40 },
      consumer: { name: "register", pending: 0, ackPending: 0, redelivered: 0, waiting: 2, paused: true },
      lag: 0,
    });
  });
});
