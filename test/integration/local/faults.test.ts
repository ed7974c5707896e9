import { jetstream } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { makeExampleEvent } from "../../../operator/src/local/index.js";
import { burst, isAlive, sleep, summarize, useLocalFixtures, waitFor, type LocalFixture } from "./support.js";

// Faults with real processes and real signals: kill -9 and SIGTERM of a consumer replica,
// poison messages. Replicas are fixed (min = max) so that scaling does not blur the picture.

const start = useLocalFixtures();

async function dlqMessages(f: LocalFixture): Promise<number> {
  return (await f.jsm.streams.info(`${f.stream}_DLQ`)).state.messages;
}

describe("p2p local: faults", () => {
  it("kill -9 of a consumer mid-burst: its unacked messages are redelivered and every message is processed", async () => {
    const concurrency = 4;
    const f = await start({ name: "killed", minReplicas: 3, maxReplicas: 3, ackWait: "2s", workMs: 20, concurrency }, 3);
    expect((await burst(f, "killed", 3000)).acked).toBe(3000);
    await waitFor("a third processed", async () => (await f.recorded()).length >= 1000, 30_000, 20);

    const [victim] = f.pids();
    process.kill(victim!, "SIGKILL");

    await waitFor("every message processed", async () => summarize(await f.recorded()).unique.size === 3000, 60_000);
    await waitFor("lag 0", () => f.status().lag === 0, 10_000);
    // The killed replica held messages (pulled, unacked): the server delivered them again after
    // ackWait, so there were more deliveries than messages. (Nothing else naks in this test.)
    const consumer = await f.jsm.consumers.info(f.stream, "killed");
    expect(consumer.delivered.stream_seq).toBe(3000);
    expect(consumer.delivered.consumer_seq).toBeGreaterThan(3000);
    // A duplicate is a message the killed replica processed and recorded but whose ack never
    // left: only those in its handlers at the moment of the kill.
    expect(summarize(await f.recorded()).duplicates).toBeLessThanOrEqual(concurrency);
    // Like a Deployment, the replica is replaced.
    await waitFor("3 replicas again", () => f.running() === 3 && !f.pids().includes(victim!), 20_000);
  });

  it("SIGTERM of a consumer: it finishes and releases its work, nothing waits for ackWait and nothing is processed twice", async () => {
    // ackWait 60 s: a message the stopping replica kept without acking would stall the drain for a minute.
    const f = await start({ name: "termed", minReplicas: 3, maxReplicas: 3, ackWait: "60s", workMs: 20 }, 3);
    expect((await burst(f, "termed", 3000)).acked).toBe(3000);
    await waitFor("a third processed", async () => (await f.recorded()).length >= 1000, 30_000, 20);

    const [victim] = f.pids();
    const termAt = Date.now();
    process.kill(victim!, "SIGTERM");

    await waitFor("every message processed", async () => summarize(await f.recorded()).unique.size === 3000, 30_000);
    expect(Date.now() - termAt).toBeLessThan(30_000);
    await waitFor("victim gone", () => !isAlive(victim!), 10_000);
    const { lines, duplicates } = summarize(await f.recorded());
    expect(duplicates).toBe(0);
    expect(lines).toBe(3000);
    await waitFor("lag 0", () => f.status().lag === 0, 10_000);
    const consumer = await f.jsm.consumers.info(f.stream, "termed");
    expect(consumer.num_ack_pending).toBe(0);
  });

  it("an invalid event ends in the dead-letter queue at once", async () => {
    const f = await start({ name: "invalid" });
    const js = jetstream(f.nc);
    await js.publish("test.invalid", JSON.stringify({ type: "immunisation_administered", eventId: "bad-1" }), { msgID: "bad-1" });
    await js.publish("test.invalid", JSON.stringify({ ...makeExampleEvent(1), eventId: "good-1" }), { msgID: "good-1" });

    await waitFor("one dead letter", async () => (await dlqMessages(f)) === 1, 20_000);
    const dead = (await f.jsm.streams.getMessage(`${f.stream}_DLQ`, { seq: 1 }))!;
    expect(dead.header.get("P2P-Reason")).toMatch(/patientId/);
    expect(dead.header.get("P2P-Original-Msg-Id")).toBe("bad-1");
    await waitFor("work queue empty", async () => (await f.jsm.streams.info(f.stream)).state.messages === 0, 10_000);
    expect(await f.recorded()).toEqual(["good-1"]);
    await waitFor("status counts it", () => f.status().deadLetters === 1, 10_000);
  });

  it("a message failing every attempt ends in the dead-letter queue after maxDeliver", async () => {
    const f = await start({ name: "poison", maxDeliver: 3, backoff: ["100ms", "200ms"], ackWait: "5s" });
    const js = jetstream(f.nc);
    await js.publish("test.poison", JSON.stringify({ ...makeExampleEvent(7), eventId: "poison-1", simulate: "always-fail" }), { msgID: "poison-1" });

    await waitFor("one dead letter", async () => (await dlqMessages(f)) === 1, 30_000);
    const dead = (await f.jsm.streams.getMessage(`${f.stream}_DLQ`, { seq: 1 }))!;
    expect(JSON.parse(new TextDecoder().decode(dead.data)).eventId).toBe("poison-1");
    expect(dead.header.get("P2P-Deliveries")).toBe("3");
    expect(dead.header.get("P2P-Original-Msg-Id")).toBe("poison-1");
    await waitFor("work queue empty", async () => (await f.jsm.streams.info(f.stream)).state.messages === 0, 10_000);
    expect(await f.recorded()).toEqual([]);
    await sleep(500);
    expect(await dlqMessages(f)).toBe(1);
  });
});
