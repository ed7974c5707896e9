import type { JsMsg } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import type { ResolvedChannel } from "../../../operator/src/api/resolved.js";
import { makeResolvedChannel, natsTarget, uniqueName } from "../../support/channels.js";
import { nakUntilMaxDeliveries, useSideTestEnv, waitFor } from "./helpers.js";

// The identity the bulk lag read rests on: on a work-queue stream with one consumer, acked and
// terminated messages are deleted, so the stream's message count is the consumer's pending plus
// ack-pending. Checked on a real nats-server through deliveries, acks, naks, ackWait
// redeliveries and terms; and where it does not hold: a message that ran out of deliveries stays
// in the stream until the dead-letter mover takes it (for ever without dead letters).

const env = useSideTestEnv({ mover: { expiresMs: 1_000, retryMs: 200 } });

const MAX_DELIVER = 3;

function channelWith(deadLetters: boolean): ResolvedChannel {
  const name = uniqueName("identity");
  return makeResolvedChannel({
    namespace: "health",
    name,
    consumer: { ackWaitMs: 400, maxDeliver: MAX_DELIVER, deadLetter: deadLetters ? { subject: `dlq.${name}`, maxAgeMs: 3_600_000 } : null },
  });
}

/** messages - (pending + ackPending), read straight from STREAM.INFO and CONSUMER.INFO. */
async function gap(ch: ResolvedChannel): Promise<{ messages: number; pending: number; ackPending: number; gap: number }> {
  await env.adm.nc.flush();
  const [si, ci] = await Promise.all([env.adm.jsm.streams.info(ch.stream.name), env.adm.jsm.consumers.info(ch.stream.name, ch.consumer.name)]);
  const { messages } = si.state;
  return { messages, pending: ci.num_pending, ackPending: ci.num_ack_pending, gap: messages - ci.num_pending - ci.num_ack_pending };
}

async function pull(ch: ResolvedChannel, n: number): Promise<JsMsg[]> {
  const consumer = await env.adm.js.consumers.get(ch.stream.name, ch.consumer.name);
  const got: JsMsg[] = [];
  while (got.length < n) {
    const m = await consumer.next({ expires: 1_000 });
    if (m) got.push(m);
  }
  return got;
}

async function exhaust(ch: ResolvedChannel, poison: string): Promise<void> {
  expect(await nakUntilMaxDeliveries(env.adm, ch, poison, MAX_DELIVER)).toBe(MAX_DELIVER);
}

describe("messages == pending + ackPending on a work-queue stream", () => {
  it("holds through deliveries, acks, naks, ackWait redeliveries and terms", async () => {
    const ch = channelWith(false);
    await env.side.sync(ch, natsTarget(env.server.url));
    for (let i = 0; i < 10; i++) await env.adm.js.publish(ch.stream.subjects[0]!, `m${i}`);
    expect(await gap(ch)).toEqual({ messages: 10, pending: 10, ackPending: 0, gap: 0 });

    const [a, b, c, d, e] = await pull(ch, 5);
    expect(await gap(ch)).toEqual({ messages: 10, pending: 5, ackPending: 5, gap: 0 });

    await a!.ackAck();
    await b!.ackAck();
    expect(await gap(ch)).toEqual({ messages: 8, pending: 5, ackPending: 3, gap: 0 });

    c!.nak();
    d!.term();
    // e is neither acked nor nak'ed: its ackWait runs out and it is due again.
    await waitFor("d's term", async () => (await gap(ch)).messages === 7);
    expect(await gap(ch)).toMatchObject({ messages: 7, gap: 0 });
    await new Promise((r) => setTimeout(r, 600));
    expect(await gap(ch)).toMatchObject({ messages: 7, gap: 0 });

    // The redeliveries come back (delivery count 2) and are acked with everything else.
    const rest = await pull(ch, 7);
    expect(rest.filter((m) => m.info.deliveryCount === 2).map((m) => m.string()).sort()).toEqual([c!.string(), e!.string()].sort());
    expect(await gap(ch)).toEqual({ messages: 7, pending: 0, ackPending: 7, gap: 0 });
    for (const m of rest) await m.ackAck();
    expect(await gap(ch)).toEqual({ messages: 0, pending: 0, ackPending: 0, gap: 0 });
  });

  it("does not hold for a message that ran out of deliveries until the dead-letter mover takes it", async () => {
    const ch = channelWith(true);
    await env.side.sync(ch, natsTarget(env.server.url));
    await env.adm.js.publish(ch.stream.subjects[0]!, "poison");
    await env.adm.js.publish(ch.stream.subjects[0]!, "fine");
    // Stop the mover first, to see the state it repairs.
    await env.side.mover(ch.key)!.stop();
    await exhaust(ch, "poison");
    expect(await gap(ch)).toEqual({ messages: 1, pending: 0, ackPending: 0, gap: 1 });

    await env.side.sync(ch, natsTarget(env.server.url)); // starts the mover again; it takes the advisory
    await waitFor("the dead-letter move", async () => (await gap(ch)).messages === 0);
    expect(await gap(ch)).toEqual({ messages: 0, pending: 0, ackPending: 0, gap: 0 });
  });

  it("does not hold, for good, for a message that ran out of deliveries on a channel without dead letters", async () => {
    const ch = channelWith(false);
    await env.side.sync(ch, natsTarget(env.server.url));
    await env.adm.js.publish(ch.stream.subjects[0]!, "poison");
    await exhaust(ch, "poison");
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await gap(ch)).toEqual({ messages: 1, pending: 0, ackPending: 0, gap: 1 });
  });
});
