import { describe, expect, it } from "vitest";
import { ackPendingShortfall, maxBatch } from "../../../operator/src/plan/index.js";
import { makeResolvedChannel } from "../../support/channels.js";

describe("ackPendingShortfall", () => {
  it.each([
    { maxAckPending: 1000, maxReplicas: 10, useful: null },
    { maxAckPending: 10, maxReplicas: 10, useful: null },
    { maxAckPending: 1, maxReplicas: 1, useful: null },
    { maxAckPending: 9, maxReplicas: 10, useful: 9 },
    { maxAckPending: 1, maxReplicas: 8, useful: 1 },
  ])("maxAckPending $maxAckPending, maxReplicas $maxReplicas: useful replicas $useful", ({ maxAckPending, maxReplicas, useful }) => {
    const shortfall = ackPendingShortfall(maxAckPending, maxReplicas);
    expect(shortfall?.usefulReplicas ?? null).toBe(useful);
    // The same line the batch size draws: a shortfall exactly where replicas x P2P_MAX_BATCH exceeds maxAckPending.
    const channel = makeResolvedChannel({ consumer: { maxAckPending }, scaling: { maxReplicas } });
    expect(shortfall !== null).toBe(maxReplicas * maxBatch(channel) > maxAckPending);
  });

  it("says what is wrong and both fixes, with the field paths", () => {
    expect(ackPendingShortfall(4, 10)?.message).toBe(
      "maxAckPending 4 is below maxReplicas 10: at most 4 replicas can hold a message at once (maxAckPending is shared by all replicas), " +
        "so replicas beyond 4 add nothing; raise spec.consumer.maxAckPending to at least 10 (maxReplicas x the batch each replica should pull), " +
        "or lower spec.scaling.maxReplicas to 4",
    );
  });
});
