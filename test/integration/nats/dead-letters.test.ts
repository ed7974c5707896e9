import { headers } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResolvedChannel } from "../../../operator/src/api/resolved.js";
import { JetStreamSide } from "../../../operator/src/nats/index.js";
import { makeResolvedChannel, natsTarget, uniqueName } from "../../support/channels.js";
import { NatsServerProcess } from "../../support/nats-server.js";
import { admin, nakUntilMaxDeliveries, testLog, waitFor, type Admin } from "./helpers.js";

// Dead letters on a real server: a message nak'ed past maxDeliver ends up in <stream>_DLQ once,
// with headers, and is gone from the work queue.

let server: NatsServerProcess;
let adm: Admin;

beforeAll(async () => {
  server = await NatsServerProcess.start();
  adm = await admin(server.url);
});

afterAll(async () => {
  await adm?.close();
  await server?.stop();
});

const MAX_DELIVER = 3;

function dlqChannel(): ResolvedChannel {
  const name = uniqueName("dl");
  return makeResolvedChannel({
    namespace: "health",
    name,
    consumer: { ackWaitMs: 300, maxDeliver: MAX_DELIVER, deadLetter: { subject: `dlq.${name}`, maxAgeMs: 3_600_000 } },
  });
}

function newSide(): JetStreamSide {
  return new JetStreamSide({ log: testLog, mover: { expiresMs: 1_000, retryMs: 200 } });
}

async function dlqMessages(ch: ResolvedChannel): Promise<number> {
  return (await adm.jsm.streams.info(ch.consumer.deadLetter!.streamName)).state.messages;
}

describe("dead letters", () => {
  it("moves a message nak'ed past maxDeliver into the DLQ exactly once, with its headers, and removes it from the work queue", async () => {
    const side = newSide();
    try {
      const ch = dlqChannel();
      const first = await side.sync(ch, natsTarget(server.url));
      expect(first.deadLetters).toBe(0);
      expect(first.consumer.status).toBe("True");
      const h = headers();
      h.set("X-Trace", "abc-123");
      const pub = await adm.js.publish(ch.stream.subjects[0]!, "poison", { headers: h, msgID: "order-17" });
      await adm.js.publish(ch.stream.subjects[0]!, "fine");

      expect(await nakUntilMaxDeliveries(adm, ch, "poison", MAX_DELIVER)).toBe(MAX_DELIVER);
      await waitFor("the dead letter", async () => (await dlqMessages(ch)) === 1);

      const dl = await adm.jsm.streams.getMessage(ch.consumer.deadLetter!.streamName, { seq: 1 });
      expect(dl?.subject).toBe(ch.consumer.deadLetter!.subject);
      expect(dl?.string()).toBe("poison");
      expect(dl?.header.get("Nats-Msg-Id")).toBe(`${ch.stream.name}-${pub.seq}`);
      expect(dl?.header.get("P2P-Original-Subject")).toBe(ch.stream.subjects[0]);
      expect(dl?.header.get("P2P-Original-Sequence")).toBe(String(pub.seq));
      expect(dl?.header.get("P2P-Original-Stream")).toBe(ch.stream.name);
      expect(dl?.header.get("P2P-Original-Msg-Id")).toBe("order-17");
      expect(dl?.header.get("P2P-Deliveries")).toBe(String(MAX_DELIVER));
      expect(dl?.header.get("P2P-Reason")).toBe("max_deliveries");
      expect(dl?.header.get("X-Trace")).toBe("abc-123");

      await waitFor("the advisory to be acked", async () => (await adm.jsm.streams.info(`${ch.stream.name}_ADVISORIES`)).state.messages === 0);
      expect(await adm.jsm.streams.getMessage(ch.stream.name, { seq: pub.seq })).toBeNull();
      expect((await adm.jsm.streams.info(ch.stream.name)).state.messages).toBe(0);

      const after = await side.sync(ch, natsTarget(server.url));
      expect(after.deadLetters).toBe(1);
      expect(after.queue?.lag).toBe(0);
      expect(await dlqMessages(ch)).toBe(1);
    } finally {
      await side.close();
    }
  });

  it("moves a message whose advisory arrived while the operator was stopped", async () => {
    const ch = dlqChannel();
    const before = newSide();
    await before.sync(ch, natsTarget(server.url));
    await before.close(); // the operator is down: no mover runs

    const pub = await adm.js.publish(ch.stream.subjects[0]!, "poison");
    await nakUntilMaxDeliveries(adm, ch, "poison", MAX_DELIVER);
    await waitFor("the captured advisory", async () => (await adm.jsm.streams.info(`${ch.stream.name}_ADVISORIES`)).state.messages === 1);
    expect(await dlqMessages(ch)).toBe(0);

    const after = newSide();
    try {
      await after.sync(ch, natsTarget(server.url));
      await waitFor("the dead letter", async () => (await dlqMessages(ch)) === 1);
      await waitFor("the work queue to drop it", async () => (await adm.jsm.streams.getMessage(ch.stream.name, { seq: pub.seq })) === null);
      expect((await after.sync(ch, natsTarget(server.url))).deadLetters).toBe(1);
    } finally {
      await after.close();
    }
  });

  it("moves nothing twice: a repeated advisory, and a copy left by an interrupted move, give one dead letter", async () => {
    const side = newSide();
    try {
      const ch = dlqChannel();
      await side.sync(ch, natsTarget(server.url));
      const pub = await adm.js.publish(ch.stream.subjects[0]!, "poison");
      // An earlier move copied the message and stopped before deleting it.
      await adm.js.publish(ch.consumer.deadLetter!.subject, "poison", { msgID: `${ch.stream.name}-${pub.seq}` });

      await nakUntilMaxDeliveries(adm, ch, "poison", MAX_DELIVER);
      await waitFor("the work queue to drop it", async () => (await adm.jsm.streams.getMessage(ch.stream.name, { seq: pub.seq })) === null);
      expect(await dlqMessages(ch)).toBe(1);

      // The same advisory once more.
      const advisory = { type: "io.nats.jetstream.advisory.v1.max_deliver", stream: ch.stream.name, consumer: ch.consumer.name, stream_seq: pub.seq, deliveries: MAX_DELIVER };
      await adm.js.publish(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${ch.stream.name}.${ch.consumer.name}`, JSON.stringify(advisory));
      await waitFor("the repeated advisory to be handled", async () => (await adm.jsm.streams.info(`${ch.stream.name}_ADVISORIES`)).state.messages === 0);
      await waitFor("the mover to count it", async () => side.mover(ch.key)?.stats().gone === 1);
      expect(await dlqMessages(ch)).toBe(1);
      expect(side.mover(ch.key)?.stats()).toEqual({ moved: 1, gone: 1 });
    } finally {
      await side.close();
    }
  });

  it("counts permanent failures that consumers sent to the DLQ subject and terminated", async () => {
    const side = newSide();
    try {
      const ch = dlqChannel();
      await side.sync(ch, natsTarget(server.url));
      await adm.js.publish(ch.stream.subjects[0]!, "malformed");
      const consumer = await adm.js.consumers.get(ch.stream.name, ch.consumer.name);
      const m = await consumer.next({ expires: 2_000 });
      expect(m?.string()).toBe("malformed");
      await adm.js.publish(ch.consumer.deadLetter!.subject, m!.data, { msgID: `${ch.stream.name}-${m!.seq}` });
      // No reason: nats-server < 2.11 does not recognise "+TERM <reason>" and keeps the message ack-pending.
      m!.term();
      await waitFor("the work queue to drop it", async () => (await adm.jsm.streams.info(ch.stream.name)).state.messages === 0);

      const result = await side.sync(ch, natsTarget(server.url));
      expect(result.deadLetters).toBe(1);
      expect(result.queue?.lag).toBe(0);
    } finally {
      await side.close();
    }
  });

  it("stops its mover at once, even in the middle of a long pull", async () => {
    const side = new JetStreamSide({ log: testLog }); // default 30 s pulls
    const ch = dlqChannel();
    await side.sync(ch, natsTarget(server.url));
    await waitFor("the mover's pull", async () => (await adm.jsm.consumers.info(`${ch.stream.name}_ADVISORIES`, "p2p-dead-letter-mover")).num_waiting === 1);
    const started = Date.now();
    await side.close();
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("stops capturing advisories when dead letters are switched off, keeping the DLQ", async () => {
    const side = newSide();
    try {
      const ch = dlqChannel();
      await side.sync(ch, natsTarget(server.url));
      const off = { ...ch, consumer: { ...ch.consumer, deadLetter: null } };
      const result = await side.sync(off, natsTarget(server.url));
      expect(result.deadLetters).toBeNull();
      expect(side.mover(ch.key)).toBeUndefined();
      await expect(adm.jsm.streams.info(`${ch.stream.name}_ADVISORIES`)).rejects.toThrow(/stream not found/);
      expect((await adm.jsm.streams.info(`${ch.stream.name}_DLQ`)).config.name).toBe(`${ch.stream.name}_DLQ`);
    } finally {
      await side.close();
    }
  });
});
