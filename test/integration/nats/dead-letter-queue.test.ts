import { headers } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResolvedChannel } from "../../../operator/src/api/resolved.js";
import {
  DeadLetterHeaders,
  DeadLetterQueueNotFoundError,
  JetStreamSide,
  purgeDeadLetters,
  readDeadLetters,
  replayDeadLetter,
} from "../../../operator/src/nats/index.js";
import { makeResolvedChannel, natsTarget, uniqueName } from "../../support/channels.js";
import { NatsServerProcess } from "../../support/nats-server.js";
import { admin, testLog, waitFor, type Admin } from "./helpers.js";

// `p2p dlq`'s NATS side on a real server: reading, replaying and purging <stream>_DLQ.

let server: NatsServerProcess;
let adm: Admin;
let side: JetStreamSide;

beforeAll(async () => {
  server = await NatsServerProcess.start();
  adm = await admin(server.url);
  side = new JetStreamSide({ log: testLog, mover: { expiresMs: 1_000, retryMs: 200 } });
});

afterAll(async () => {
  await side?.close();
  await adm?.close();
  await server?.stop();
});

const MAX_DELIVER = 2;

async function dlqChannel(): Promise<ResolvedChannel> {
  const name = uniqueName("dlq");
  const ch = makeResolvedChannel({
    namespace: "health",
    name,
    consumer: { ackWaitMs: 300, maxDeliver: MAX_DELIVER, deadLetter: { subject: `dlq.${name}`, maxAgeMs: 3_600_000 } },
  });
  await side.sync(ch, natsTarget(server.url));
  return ch;
}

const dlqOf = (ch: ResolvedChannel) => ch.consumer.deadLetter!.streamName;

/** A dead letter as the consumer template writes one for a permanent failure. */
async function deadLetterByTemplate(ch: ResolvedChannel, body: string, reason: string, extra: Record<string, string> = {}): Promise<number> {
  const work = await adm.js.publish(ch.stream.subjects[0]!, body, { msgID: `orig-${body}` });
  const consumer = await adm.js.consumers.get(ch.stream.name, ch.consumer.name);
  const m = await consumer.next({ expires: 2_000 });
  expect(m?.seq).toBe(work.seq);
  const h = headers();
  for (const [k, v] of Object.entries(extra)) h.set(k, v);
  h.set(DeadLetterHeaders.OriginalStream, ch.stream.name);
  h.set(DeadLetterHeaders.OriginalSubject, ch.stream.subjects[0]!);
  h.set(DeadLetterHeaders.OriginalSequence, String(work.seq));
  h.set(DeadLetterHeaders.OriginalMsgId, `orig-${body}`);
  h.set(DeadLetterHeaders.Deliveries, "1");
  h.set(DeadLetterHeaders.Reason, reason);
  const dl = await adm.js.publish(ch.consumer.deadLetter!.subject, body, { headers: h, msgID: `${ch.stream.name}-${work.seq}` });
  m!.term();
  return dl.seq;
}

/** Pulls the channel's consumer and naks everything until the server gives up on it (route 1: the mover). */
async function failUntilDeadLettered(ch: ResolvedChannel): Promise<void> {
  const consumer = await adm.js.consumers.get(ch.stream.name, ch.consumer.name);
  const before = (await adm.jsm.streams.info(dlqOf(ch))).state.messages;
  await waitFor(
    "the mover to dead-letter it",
    async () => {
      const m = await consumer.next({ expires: 1_000 });
      m?.nak();
      return (await adm.jsm.streams.info(dlqOf(ch))).state.messages > before;
    },
    15_000,
  );
}

describe("the dead-letter queue", () => {
  it("lists dead letters with where they came from, how often they were delivered and why they failed", async () => {
    const ch = await dlqChannel();
    await deadLetterByTemplate(ch, "a", "dose must be a positive integer", { "X-Trace": "t-1" });
    await deadLetterByTemplate(ch, "b", "unknown vaccine");

    const letters = await readDeadLetters(adm.jsm, dlqOf(ch));
    expect(letters.map((l) => [l.seq, l.originalSubject, l.deliveries, l.reason, new TextDecoder().decode(l.data)])).toEqual([
      [1, ch.stream.subjects[0], 1, "dose must be a positive integer", "a"],
      [2, ch.stream.subjects[0], 1, "unknown vaccine", "b"],
    ]);
    expect(letters[0]!.headers["X-Trace"]).toEqual(["t-1"]);
    expect(letters[0]!.originalStream).toBe(ch.stream.name);
    expect((await readDeadLetters(adm.jsm, dlqOf(ch), { limit: 1 })).map((l) => l.seq)).toEqual([1]);
    expect((await readDeadLetters(adm.jsm, dlqOf(ch), { seqs: [2, 7] })).map((l) => l.seq)).toEqual([2]);
  });

  it("replays to the original subject with the original headers, a replay count and a fresh id, then deletes it from the DLQ", async () => {
    const ch = await dlqChannel();
    const seq = await deadLetterByTemplate(ch, "fixed-now", "downstream refused", { "X-Trace": "t-9" });
    const [letter] = await readDeadLetters(adm.jsm, dlqOf(ch), { seqs: [seq] });

    const result = await replayDeadLetter(adm.js, adm.jsm, dlqOf(ch), letter!);
    expect(result).toMatchObject({ seq, outcome: "replayed", subject: ch.stream.subjects[0], duplicate: false });

    const replayed = await adm.jsm.streams.getMessage(ch.stream.name, { seq: (result as { workSeq: number }).workSeq });
    expect(replayed?.string()).toBe("fixed-now");
    expect(replayed?.subject).toBe(ch.stream.subjects[0]);
    expect(replayed?.header.get("X-Trace")).toBe("t-9");
    expect(replayed?.header.get("P2P-Replay-Count")).toBe("1");
    expect(replayed?.header.get("Nats-Msg-Id")).toBe(`replay-${dlqOf(ch)}-${seq}`);
    expect(replayed?.header.get(DeadLetterHeaders.Reason)).toBe("");
    expect((await adm.jsm.streams.info(dlqOf(ch))).state.messages).toBe(0);
  });

  it("keeps the dead letter when the publish is not acknowledged", async () => {
    const ch = await dlqChannel();
    const seq = await deadLetterByTemplate(ch, "keep-me", "bad");
    const [letter] = await readDeadLetters(adm.jsm, dlqOf(ch), { seqs: [seq] });
    // The original subject is no longer stored by its stream (the channel's subjects changed).
    await adm.jsm.streams.update(ch.stream.name, { subjects: [`moved.${ch.owner.name}`] });

    await expect(replayDeadLetter(adm.js, adm.jsm, dlqOf(ch), letter!)).rejects.toThrow();
    expect((await adm.jsm.streams.getMessage(dlqOf(ch), { seq }))?.string()).toBe("keep-me");
  });

  it("publishes once when a replay is repeated after a crash between publish and delete", async () => {
    const ch = await dlqChannel();
    const seq = await deadLetterByTemplate(ch, "twice", "bad");
    const [letter] = await readDeadLetters(adm.jsm, dlqOf(ch), { seqs: [seq] });
    const first = await replayDeadLetter(adm.js, adm.jsm, dlqOf(ch), letter!);
    const again = await replayDeadLetter(adm.js, adm.jsm, dlqOf(ch), letter!);
    expect(again).toMatchObject({ outcome: "replayed", duplicate: true, workSeq: (first as { workSeq: number }).workSeq });
    expect((await adm.jsm.streams.info(ch.stream.name)).state.messages).toBe(1);
  });

  it("counts replays across trips: a replayed message that fails again comes back with its count", async () => {
    const ch = await dlqChannel();
    await adm.js.publish(ch.stream.subjects[0]!, "still-broken");
    await failUntilDeadLettered(ch);
    const [first] = await readDeadLetters(adm.jsm, dlqOf(ch));
    expect(first).toMatchObject({ reason: "max_deliveries", deliveries: MAX_DELIVER, replayCount: 0 });

    await replayDeadLetter(adm.js, adm.jsm, dlqOf(ch), first!);
    await failUntilDeadLettered(ch);
    const [second] = await readDeadLetters(adm.jsm, dlqOf(ch));
    expect(second!.seq).toBeGreaterThan(first!.seq);
    expect(second).toMatchObject({ reason: "max_deliveries", replayCount: 1 });
  });

  it("skips a message without the original-subject header instead of guessing where it goes", async () => {
    const ch = await dlqChannel();
    const stray = await adm.js.publish(ch.consumer.deadLetter!.subject, "stray");
    const [letter] = await readDeadLetters(adm.jsm, dlqOf(ch), { seqs: [stray.seq] });
    expect(await replayDeadLetter(adm.js, adm.jsm, dlqOf(ch), letter!)).toMatchObject({ outcome: "skipped" });
    expect((await adm.jsm.streams.info(dlqOf(ch))).state.messages).toBe(1);
  });

  it("purges the selected dead letters, or all of them", async () => {
    const ch = await dlqChannel();
    const a = await deadLetterByTemplate(ch, "p1", "bad");
    await deadLetterByTemplate(ch, "p2", "bad");
    await deadLetterByTemplate(ch, "p3", "bad");
    expect(await purgeDeadLetters(adm.jsm, dlqOf(ch), { seqs: [a] })).toBe(1);
    expect((await readDeadLetters(adm.jsm, dlqOf(ch))).map((l) => new TextDecoder().decode(l.data))).toEqual(["p2", "p3"]);
    expect(await purgeDeadLetters(adm.jsm, dlqOf(ch))).toBe(2);
    expect((await adm.jsm.streams.info(dlqOf(ch))).state.messages).toBe(0);
  });

  it("says which stream is missing when the channel has no DLQ", async () => {
    await expect(readDeadLetters(adm.jsm, "nope_DLQ")).rejects.toThrow(DeadLetterQueueNotFoundError);
    await expect(readDeadLetters(adm.jsm, "nope_DLQ")).rejects.toThrow(/stream nope_DLQ not found: the channel has no spec.consumer.deadLetter/);
  });
});
