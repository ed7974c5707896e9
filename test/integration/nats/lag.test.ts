import { describe, expect, it } from "vitest";
import type { ResolvedChannel } from "../../../operator/src/api/resolved.js";
import { JetStreamSide, NatsUnavailableError } from "../../../operator/src/nats/index.js";
import { makeResolvedChannel, natsTarget, uniqueName } from "../../support/channels.js";
import { freePort } from "../../support/nats-server.js";
import { countApiRequests, useSideTestEnv, waitFor } from "./helpers.js";

// Lag through the JetStream API: what was published, delivered, acked and redelivered.

const ctx = useSideTestEnv();

function channel(): ResolvedChannel {
  const name = uniqueName("lag");
  return makeResolvedChannel({ namespace: "health", name, consumer: { ackWaitMs: 30_000 } });
}

describe("lag", () => {
  it("matches what was published, delivered, acked and redelivered", async () => {
    const ch = channel();
    const target = natsTarget(ctx.server.url);
    await ctx.side.sync(ch, target);
    for (let i = 0; i < 10; i++) await ctx.adm.js.publish(ch.stream.subjects[0]!, `m${i}`);
    const consumer = await ctx.adm.js.consumers.get(ch.stream.name, ch.consumer.name);

    let q = (await ctx.side.sync(ch, target)).queue!;
    expect(q).toMatchObject({
      stream: { name: ch.stream.name, messages: 10, firstSeq: 1, lastSeq: 10 },
      consumer: { name: ch.consumer.name, pending: 10, ackPending: 0, redelivered: 0, waiting: 0 },
      lag: 10,
    });
    expect(q.stream.bytes).toBeGreaterThan(0);

    const delivered = [];
    for (let i = 0; i < 4; i++) delivered.push((await consumer.next({ expires: 1_000 }))!);
    q = (await ctx.side.readQueue(ch, target))!;
    expect(q.consumer).toMatchObject({ pending: 6, ackPending: 4 });
    expect(q.lag).toBe(10);

    await delivered[0]!.ackAck();
    await delivered[1]!.ackAck();
    q = (await ctx.side.sync(ch, target)).queue!;
    expect(q).toMatchObject({ stream: { messages: 8, firstSeq: 3 }, consumer: { pending: 6, ackPending: 2 }, lag: 8 });

    delivered[2]!.nak();
    // Acks are processed asynchronously, so a pull may still get a new message before the redelivery.
    let extra = 0;
    for (;;) {
      const m = (await consumer.next({ expires: 1_000 }))!;
      if (m.info.deliveryCount === 2) break;
      extra += 1;
    }
    q = (await ctx.side.sync(ch, target)).queue!;
    expect(q.consumer).toMatchObject({ pending: 6 - extra, ackPending: 2 + extra, redelivered: 1 });
    expect(q.lag).toBe(8);

    // A replica waiting in a pull request shows as waiting.
    const replica = (async () => {
      for await (const m of await consumer.fetch({ max_messages: 100, expires: 1_000 })) m.ack();
    })();
    const w = await waitFor("a waiting pull", async () => {
      const s = await ctx.side.readQueue(ch, target);
      return s && s.consumer.waiting > 0 ? s : null;
    });
    expect(w.consumer.waiting).toBe(1);
    await replica;
  });

  it("reads many channels' queues with one paged STREAM.LIST per connection, and CONSUMER.INFO only where a stream holds messages", async () => {
    const target = natsTarget(ctx.server.url);
    const channels = Array.from({ length: 40 }, () => channel());
    for (const [i, ch] of channels.entries()) {
      await ctx.side.sync(ch, target);
      for (let k = 0; k < i % 5; k++) await ctx.adm.js.publish(ch.stream.subjects[0]!, "x");
    }
    // Streams that are no channel's, enough to need a second page of STREAM.LIST.
    for (let i = 0; i < 260; i++) await ctx.adm.jsm.streams.add({ name: uniqueName("other"), subjects: [uniqueName("other.subject")] });
    let streams = 0;
    for await (const _ of ctx.adm.jsm.streams.names()) streams += 1;
    const missing = channel(); // never synced: no stream
    const unreachable = channel();
    const nowhere = natsTarget(`nats://127.0.0.1:${await freePort()}`);

    let result!: Awaited<ReturnType<JetStreamSide["readQueues"]>>;
    const requests = await countApiRequests(ctx.adm.nc, async () => {
      result = await ctx.side.readQueues([...channels.map((ch) => ({ channel: ch, target })), { channel: missing, target }, { channel: unreachable, target: nowhere }]);
    });

    for (const [i, ch] of channels.entries()) {
      const reading = result.get(ch.key);
      expect(reading).toMatchObject({ queue: { stream: { name: ch.stream.name, messages: i % 5 }, lag: i % 5 }, deadLetters: null });
      if (i % 5 > 0) expect(reading).toMatchObject({ queue: { consumer: { pending: i % 5, ackPending: 0 } } });
    }
    expect(result.get(missing.key)).toEqual({ queue: null, deadLetters: null });
    expect(result.get(unreachable.key)).toBeInstanceOf(NatsUnavailableError);
    expect(requests.filter((s) => s === "$JS.API.STREAM.LIST")).toHaveLength(Math.ceil(streams / 256));
    expect(Math.ceil(streams / 256)).toBe(2);
    expect(requests.filter((s) => s.startsWith("$JS.API.CONSUMER.INFO.")).length).toBe(channels.filter((_, i) => i % 5 > 0).length);
    expect(requests.filter((s) => s.startsWith("$JS.API.STREAM.INFO."))).toEqual([]);
  });

  it("asks the consumer when a message that ran out of deliveries keeps the stream from being empty", async () => {
    const ch = makeResolvedChannel({ namespace: "health", name: uniqueName("exhausted"), consumer: { ackWaitMs: 30_000, maxDeliver: 1 } });
    const target = natsTarget(ctx.server.url);
    await ctx.side.sync(ch, target);
    await ctx.adm.js.publish(ch.stream.subjects[0]!, "poison");
    const consumer = await ctx.adm.js.consumers.get(ch.stream.name, ch.consumer.name);
    (await consumer.next({ expires: 1_000 }))!.nak();
    await consumer.next({ expires: 1_000 }); // the server notices maxDeliver here, and keeps the message
    const reading = (await ctx.side.readQueues([{ channel: ch, target }])).get(ch.key);
    expect(reading).toMatchObject({ queue: { stream: { messages: 1 }, consumer: { pending: 0, ackPending: 0 }, lag: 0 } });
  });
});
