import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResolvedChannel } from "../../../operator/src/api/resolved.js";
import type { NatsSyncResult } from "../../../operator/src/ports/index.js";
import { JetStreamSide, NatsUnavailableError } from "../../../operator/src/nats/index.js";
import { makeResolvedChannel, natsTarget, uniqueName } from "../../support/channels.js";
import { freePort, NatsServerProcess } from "../../support/nats-server.js";
import { admin, testLog, waitFor } from "./helpers.js";

// Real faults: kill -9 and restart of the nats-server, a server that is not there.

let server: NatsServerProcess;
let side: JetStreamSide;

beforeAll(async () => {
  server = await NatsServerProcess.start();
  side = new JetStreamSide({ log: testLog, poolOptions: { reconnectWaitMs: 100, requestTimeoutMs: 2_000 } });
});

afterAll(async () => {
  await side?.close();
  await server?.stop();
});

function channel(overrides: Parameters<typeof makeResolvedChannel>[0] = {}): ResolvedChannel {
  const name = uniqueName("fault");
  return makeResolvedChannel({ namespace: "health", name, ...overrides });
}

/** Sync the way the controller would: retry while NATS is unavailable. */
async function syncUntilConverged(ch: ResolvedChannel): Promise<NatsSyncResult> {
  return waitFor(
    "sync to succeed",
    async () => {
      try {
        return await side.sync(ch, natsTarget(server.url));
      } catch (err) {
        if (err instanceof NatsUnavailableError) return null;
        throw err;
      }
    },
    20_000,
    100,
  );
}

describe("server faults", () => {
  it("keeps messages and consumer state through kill -9 and a restart (file storage), and converges", async () => {
    const ch = channel();
    await side.sync(ch, natsTarget(server.url));
    await using before = await admin(server.url);
    for (let i = 0; i < 5; i++) await before.js.publish(ch.stream.subjects[0]!, `m${i}`);
    const consumer = await before.js.consumers.get(ch.stream.name, ch.consumer.name);
    for (let i = 0; i < 2; i++) {
      const m = await consumer.next({ expires: 1_000 });
      await m!.ackAck();
    }

    await server.kill();
    await server.restart();

    const result = await syncUntilConverged(ch);
    expect(result.stream).toMatchObject({ status: "True", reason: "InSync" });
    expect(result.consumer).toMatchObject({ status: "True", reason: "InSync" });
    // No published message is lost. nats-server 2.9 writes consumer state and work-queue deletes
    // lazily, so acks from the last moments before a kill -9 may be undone: delivery is
    // at-least-once, and the lag counts whatever the server holds again.
    await using fresh = await admin(server.url);
    const queue = result.queue!;
    expect(queue.stream.lastSeq).toBe(5);
    expect(queue.stream.messages).toBeGreaterThanOrEqual(3);
    for (const seq of [3, 4, 5]) expect((await fresh.jsm.streams.getMessage(ch.stream.name, { seq }))?.string()).toBe(`m${seq - 1}`);
    const ci = await fresh.jsm.consumers.info(ch.stream.name, ch.consumer.name);
    expect(queue.lag).toBe(ci.num_pending + ci.num_ack_pending);
    expect(queue.lag).toBe(queue.stream.messages);
    // The durable kept its place: it goes on delivering rather than starting over as a new consumer would.
    const next = await (await fresh.js.consumers.get(ch.stream.name, ch.consumer.name)).next({ expires: 1_000 });
    expect(next).not.toBeNull();
  });

  it("recreates a memory stream and its consumer lost on restart", async () => {
    const ch = channel({ stream: { storage: "memory" } });
    await side.sync(ch, natsTarget(server.url));
    await using before = await admin(server.url);
    await before.js.publish(ch.stream.subjects[0]!, "volatile");

    await server.kill();
    await server.restart();

    const result = await syncUntilConverged(ch);
    expect(result.stream).toMatchObject({ status: "True", reason: "Created" });
    expect(result.consumer).toMatchObject({ status: "True", reason: "Created" });
    await using fresh = await admin(server.url);
    const si = await fresh.jsm.streams.info(ch.stream.name);
    expect(si.config.storage).toBe("memory");
    expect(si.state.messages).toBe(0);
    expect((await fresh.jsm.consumers.info(ch.stream.name, ch.consumer.name)).config.ack_policy).toBe("explicit");
  });

  it("throws NatsUnavailableError (NATSUnavailable) while the server is down, and recovers when it is back", async () => {
    const ch = channel();
    await side.sync(ch, natsTarget(server.url));
    await server.stop({ keepStore: true });

    const started = Date.now();
    const err = await side.sync(ch, natsTarget(server.url)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsUnavailableError);
    expect(err).toMatchObject({ name: "NatsUnavailableError", reason: "NATSUnavailable" });
    expect(Date.now() - started).toBeLessThan(3_000);

    // Retain touches nothing on the server: a channel can be finalized while NATS is down.
    const gone = channel();
    await expect(side.finalize(gone, natsTarget(server.url))).resolves.toBeUndefined();

    await server.restart();
    const result = await syncUntilConverged(ch);
    expect(result.stream.status).toBe("True");
  });

  it("throws NatsUnavailableError for a server that is not there", async () => {
    const port = await freePort();
    const lonely = new JetStreamSide({ log: testLog });
    try {
      const err = await lonely.sync(channel(), natsTarget(`nats://127.0.0.1:${port}`)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NatsUnavailableError);
      expect((err as Error).message).toContain(`127.0.0.1:${port}`);
      expect((err as Error).cause).toBeInstanceOf(Error);
      expect(lonely.pool.size()).toBe(0);
    } finally {
      await lonely.close();
    }
  });
});
