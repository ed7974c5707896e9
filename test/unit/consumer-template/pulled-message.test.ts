import { describe, expect, it } from "vitest";
import { parseDeliveryInfo } from "../../../consumer-template/src/pulled-message.js";

describe("parseDeliveryInfo", () => {
  it.each([
    { form: "without domain and account hash", reply: "$JS.ACK.ORDERS.workers.3.1042.2077.1733040000000000000.17", deliveryCount: 3, streamSequence: 1042 },
    { form: "with domain and account hash", reply: "$JS.ACK.hub.ACCHASH.ORDERS.workers.1.7.7.1733040000000000000.0.RaNd0m", deliveryCount: 1, streamSequence: 7 },
    { form: "with the empty domain '_'", reply: "$JS.ACK._.ACCHASH.ORDERS.workers.2.99.120.1733040000000000000.5", deliveryCount: 2, streamSequence: 99 },
  ])("reads the delivery count and stream sequence $form", ({ reply, deliveryCount, streamSequence }) => {
    expect(parseDeliveryInfo(reply)).toEqual({ deliveryCount, streamSequence });
  });

  it.each(["", "_INBOX.abc", "$JS.ACK.ORDERS.workers.1.2", "$JS.NAK.ORDERS.workers.3.1042.2077.1733040000000000000.17"])("refuses %j as not a JetStream delivery", (reply) => {
    expect(() => parseDeliveryInfo(reply)).toThrow(/not a JetStream delivery/);
  });
});
