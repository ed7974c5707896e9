import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { termTakesReason } from "../../../consumer-template/src/flow.js";
import { Match } from "@nats-io/transport-node";
import { ConsumerProcess, createChannel, drained, publishEvents, publishRaw, recorded, sleep, waitFor, useTemplateTestEnv } from "./support.js";

const ctx = useTemplateTestEnv();

describe("consumer template: failing messages", () => {
  it("sends an invalid event to the dead-letter subject with its origin, and terms it", async () => {
    const ch = await createChannel(ctx.nc, { deadLetters: true });
    const file = join(ctx.dir, "dlq");
    const replica = ConsumerProcess.spawn(ch, ctx.server.url, { P2P_DLQ_SUBJECT: ch.dlqSubject, P2P_RECORD_FILE: file });
    try {
      await replica.waitForLog("consuming");
      await publishEvents(ctx.nc, ch.subject, 3, { edit: (e, i) => (i === 1 ? { ...e, dose: 0 } : e) });
      await publishRaw(ctx.nc, ch.subject, "{not json", "raw-1");
      await drained(ch);
      expect((await recorded(file)).sort()).toEqual(["evt-0", "evt-2"]);
      // Termed: gone from the work queue, not waiting for a redelivery.
      expect((await ch.jsm.streams.info(ch.stream)).state.messages).toBe(0);

      const dlq = await ch.jsm.streams.info(ch.dlqStream);
      expect(dlq.state.messages).toBe(2);
      const first = await ch.jsm.streams.getMessage(ch.dlqStream, { seq: dlq.state.first_seq });
      const second = await ch.jsm.streams.getMessage(ch.dlqStream, { seq: dlq.state.first_seq + 1 });
      expect(first!.subject).toBe(ch.dlqSubject);
      const byId = new Map([first!, second!].map((m) => [m.header.get("P2P-Original-Msg-Id"), m]));
      const badDose = byId.get("evt-1")!;
      expect(badDose.header.get("P2P-Original-Subject")).toBe(ch.subject);
      expect(badDose.header.get("P2P-Original-Stream")).toBe(ch.stream);
      expect(badDose.header.get("P2P-Original-Sequence")).toBe("2");
      expect(badDose.header.get("P2P-Deliveries")).toBe("1");
      expect(badDose.header.get("P2P-Reason")).toBe("dose must be a positive integer");
      expect(badDose.header.get("Nats-Msg-Id")).toBe(`${ch.stream}-2`);
      expect(JSON.parse(badDose.string())).toMatchObject({ eventId: "evt-1", dose: 0 });
      const notJson = byId.get("raw-1")!;
      expect(notJson.header.get("P2P-Reason")).toBe("not JSON");
      // The application's header is kept as the server stored it: 2.11 to 2.13 store W3C's
      // traceparent under its lower-case name (header names are case-insensitive there).
      expect(notJson.header.get("Traceparent", Match.IgnoreCase)).toBe(`00-${"1".repeat(32)}-${"2".repeat(16)}-01`);
      expect(notJson.string()).toBe("{not json");
    } finally {
      await replica.stop();
    }
  });

  it("terms an invalid event when the channel has no dead-letter subject", async () => {
    const ch = await createChannel(ctx.nc);
    // The server's advisory of a term carries the consumer's reason from 2.10.4 on (+TERM <reason>).
    const advisories = ctx.nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.${ch.stream}.${ch.consumer}`, { max: 1 });
    const replica = ConsumerProcess.spawn(ch, ctx.server.url);
    try {
      await replica.waitForLog("consuming");
      await publishEvents(ctx.nc, ch.subject, 1, { edit: (e) => ({ ...e, administeredAt: "yesterday" }) });
      await drained(ch);
      expect((await ch.jsm.streams.info(ch.stream)).state.messages).toBe(0);
      const line = await replica.waitForLog("permanent failure, terminating (no dead-letter subject)");
      expect(line.reason).toBe("administeredAt must be an ISO 8601 date");
      if (termTakesReason(ctx.nc.info?.version)) {
        for await (const advisory of advisories) {
          expect(advisory.json<{ reason?: string }>().reason).toBe("administeredAt must be an ISO 8601 date");
        }
      }
    } finally {
      advisories.unsubscribe();
      await replica.stop();
    }
  });

  it("keeps a permanent failure when the dead-letter subject cannot be written", async () => {
    // No stream captures the DLQ subject: the copy fails, so the original must not be termed.
    const ch = await createChannel(ctx.nc, { maxDeliver: 3 });
    const replica = ConsumerProcess.spawn(ch, ctx.server.url, { P2P_DLQ_SUBJECT: ch.dlqSubject, P2P_RETRY_DELAY_MS: "100" });
    try {
      await replica.waitForLog("consuming");
      await publishEvents(ctx.nc, ch.subject, 1, { edit: (e) => ({ ...e, dose: -1 }) });
      const info = await waitFor(
        async () => {
          const c = await ch.jsm.consumers.info(ch.stream, ch.consumer);
          return c.delivered.consumer_seq === 3 && c.num_ack_pending === 0 && c;
        },
        15_000,
        "maxDeliver attempts",
      );
      expect(info.num_pending).toBe(0);
      // Still in the stream, where the operator's dead-letter mover finds it after maxDeliver.
      expect((await ch.jsm.streams.info(ch.stream)).state.messages).toBe(1);
    } finally {
      await replica.stop();
    }
  });

  it("retries a transient failure with a delay, and succeeds", async () => {
    const ch = await createChannel(ctx.nc);
    const file = join(ctx.dir, "transient");
    const replica = ConsumerProcess.spawn(ch, ctx.server.url, { P2P_RECORD_FILE: file, P2P_RETRY_DELAY_MS: "300" });
    try {
      await replica.waitForLog("consuming");
      const publishedAt = Date.now();
      await publishEvents(ctx.nc, ch.subject, 1, { edit: (e) => ({ ...e, simulate: "transient", transientFailures: 2 }) });
      await waitFor(async () => (await recorded(file)).length === 1, 15_000, "the retried event to succeed");
      // Delays of 300ms then 600ms (doubling) before the third delivery.
      expect(Date.now() - publishedAt).toBeGreaterThanOrEqual(900);
      expect(await recorded(file)).toEqual(["evt-0"]);
      const retries = replica.logs().filter((l) => l.msg === "handler failed, will retry");
      expect(retries.map((l) => [l.deliveryCount, l.delayMs])).toEqual([
        [1, 300],
        [2, 600],
      ]);
      const info = await drained(ch);
      expect(info.delivered.consumer_seq).toBe(3);
      expect((await ch.jsm.streams.info(ch.stream)).state.messages).toBe(0);
    } finally {
      await replica.stop();
    }
  });

  it("follows the consumer's backoff for nak delays", async () => {
    const ch = await createChannel(ctx.nc, { backoffMs: [200, 400], maxDeliver: 4 });
    const file = join(ctx.dir, "backoff");
    const replica = ConsumerProcess.spawn(ch, ctx.server.url, { P2P_RECORD_FILE: file });
    try {
      await replica.waitForLog("consuming");
      await publishEvents(ctx.nc, ch.subject, 1, { edit: (e) => ({ ...e, simulate: "transient", transientFailures: 3 }) });
      await waitFor(async () => (await recorded(file)).length === 1, 15_000, "success on the fourth delivery");
      const delays = replica.logs().filter((l) => l.msg === "handler failed, will retry").map((l) => l.delayMs);
      expect(delays).toEqual([200, 400, 400]);
    } finally {
      await replica.stop();
    }
  });

  it("retries an always-failing event until maxDeliver, then leaves it for the dead-letter mover", async () => {
    const ch = await createChannel(ctx.nc, { maxDeliver: 3 });
    const file = join(ctx.dir, "always-fail");
    const replica = ConsumerProcess.spawn(ch, ctx.server.url, { P2P_RECORD_FILE: file, P2P_RETRY_DELAY_MS: "100" });
    try {
      await replica.waitForLog("consuming");
      await publishEvents(ctx.nc, ch.subject, 2, { edit: (e, i) => (i === 0 ? { ...e, simulate: "always-fail" } : e) });
      await waitFor(async () => {
        const c = await ch.jsm.consumers.info(ch.stream, ch.consumer);
        return c.delivered.consumer_seq === 4 && c.num_ack_pending === 0;
      }, 15_000, "three deliveries of the failing event");
      await sleep(500);
      expect(await recorded(file)).toEqual(["evt-1"]);
      expect(replica.logs().filter((l) => l.msg === "handler failed, will retry")).toHaveLength(3);
      expect((await ch.jsm.streams.info(ch.stream)).state.messages).toBe(1);
    } finally {
      await replica.stop();
    }
  });
});
