import { describe, expect, it } from "vitest";
import { JetStreamSide } from "../../../operator/src/nats/index.js";
import { makeResolvedChannel, natsTarget, uniqueName } from "../../support/channels.js";
import { countApiRequests, testLog, useSideTestEnv } from "./helpers.js";

// Provisioning on a real nats-server: what the server holds after sync.

const ctx = useSideTestEnv();

const S = 1_000_000_000;

function channel(overrides: Parameters<typeof makeResolvedChannel>[0] = {}) {
  const name = overrides.name ?? uniqueName("prov");
  return makeResolvedChannel({ namespace: "health", uid: `uid-${name}`, ...overrides, name });
}

describe("provisioning the work queue", () => {
  it("creates the work-queue stream and the durable pull consumer from scratch", async () => {
    const ch = channel({ stream: { maxAgeMs: 3_600_000, maxMsgs: 1000, maxBytes: 1 << 20, maxMsgSize: 4096, discard: "new", duplicateWindowMs: 60_000 }, consumer: { ackWaitMs: 10_000, maxDeliver: 4, backoffMs: [], maxAckPending: 50 } });
    const result = await ctx.side.sync(ch, natsTarget(ctx.server.url));

    expect(result.stream).toMatchObject({ status: "True", reason: "Created" });
    expect(result.consumer).toMatchObject({ status: "True", reason: "Created" });
    const si = await ctx.adm.jsm.streams.info(ch.stream.name);
    expect(si.config).toMatchObject({
      name: ch.stream.name,
      description: `p2p-operator channel health/${ch.owner.name} uid ${ch.owner.uid}`,
      subjects: ch.stream.subjects,
      retention: "workqueue",
      storage: "file",
      num_replicas: 1,
      max_age: 3600 * S,
      max_msgs: 1000,
      max_bytes: 1 << 20,
      max_msg_size: 4096,
      discard: "new",
      duplicate_window: 60 * S,
    });
    const ci = await ctx.adm.jsm.consumers.info(ch.stream.name, ch.consumer.name);
    expect(ci.config).toMatchObject({
      durable_name: ch.consumer.name,
      ack_policy: "explicit",
      deliver_policy: "all",
      ack_wait: 10 * S,
      max_deliver: 4,
      max_ack_pending: 50,
    });
    expect(ci.config.deliver_subject).toBeUndefined();
    expect(ci.config.inactive_threshold ?? 0).toBe(0);
    expect(result.queue).toMatchObject({ stream: { name: ch.stream.name, messages: 0 }, consumer: { name: ch.consumer.name, pending: 0 }, lag: 0 });
    expect(result.deadLetters).toBeNull();

    const again = await ctx.side.sync(ch, natsTarget(ctx.server.url));
    expect(again.stream).toMatchObject({ status: "True", reason: "InSync" });
    expect(again.consumer).toMatchObject({ status: "True", reason: "InSync" });
  });

  it("updates ackWait and maxAge in place, keeping the messages", async () => {
    const ch = channel({ consumer: { ackWaitMs: 30_000 } });
    await ctx.side.sync(ch, natsTarget(ctx.server.url));
    for (let i = 0; i < 3; i++) await ctx.adm.js.publish(ch.stream.subjects[0]!, `m${i}`);
    const created = (await ctx.adm.jsm.streams.info(ch.stream.name)).created;

    const changed = { ...ch, stream: { ...ch.stream, maxAgeMs: 600_000 }, consumer: { ...ch.consumer, ackWaitMs: 5_000 } };
    const result = await ctx.side.sync(changed, natsTarget(ctx.server.url));

    expect(result.stream).toMatchObject({ status: "True", reason: "Updated" });
    expect(result.stream.message).toContain("maxAge");
    expect(result.consumer).toMatchObject({ status: "True", reason: "Updated" });
    const si = await ctx.adm.jsm.streams.info(ch.stream.name);
    expect(si.config.max_age).toBe(600 * S);
    expect(si.state.messages).toBe(3);
    expect(si.created).toBe(created);
    const ci = await ctx.adm.jsm.consumers.info(ch.stream.name, ch.consumer.name);
    expect(ci.config.ack_wait).toBe(5 * S);
    expect(ci.num_pending).toBe(3);
    expect(result.queue?.lag).toBe(3);
  });

  it("refuses to change storage from file to memory, leaving the stream and its messages intact", async () => {
    const ch = channel();
    await ctx.side.sync(ch, natsTarget(ctx.server.url));
    await ctx.adm.js.publish(ch.stream.subjects[0]!, "keep me");
    const before = await ctx.adm.jsm.streams.info(ch.stream.name);

    const result = await ctx.side.sync({ ...ch, stream: { ...ch.stream, storage: "memory", maxAgeMs: 1000 } }, natsTarget(ctx.server.url));

    expect(result.stream).toMatchObject({ status: "False", reason: "ImmutableFieldChanged" });
    expect(result.stream.message).toContain("storage");
    const after = await ctx.adm.jsm.streams.info(ch.stream.name);
    expect(after.config.storage).toBe("file");
    expect(after.config.max_age).toBe(0);
    expect(after.created).toBe(before.created);
    expect(after.state.messages).toBe(1);
    expect((await ctx.adm.jsm.streams.getMessage(ch.stream.name, { seq: 1 }))?.string()).toBe("keep me");
    // The stream still works: its consumer is kept and the queue is read.
    expect(result.consumer.status).toBe("True");
    expect(result.queue?.lag).toBe(1);
  });

  it("recreates a consumer deleted on the server", async () => {
    const ch = channel();
    await ctx.side.sync(ch, natsTarget(ctx.server.url));
    await ctx.adm.js.publish(ch.stream.subjects[0]!, "waiting");
    await ctx.adm.jsm.consumers.delete(ch.stream.name, ch.consumer.name);

    const result = await ctx.side.sync(ch, natsTarget(ctx.server.url));

    expect(result.consumer).toMatchObject({ status: "True", reason: "Created" });
    const ci = await ctx.adm.jsm.consumers.info(ch.stream.name, ch.consumer.name);
    expect(ci.num_pending).toBe(1);
  });

  it("recreates a stream deleted on the server", async () => {
    const ch = channel();
    await ctx.side.sync(ch, natsTarget(ctx.server.url));
    await ctx.adm.jsm.streams.delete(ch.stream.name);

    const result = await ctx.side.sync(ch, natsTarget(ctx.server.url));

    expect(result.stream).toMatchObject({ status: "True", reason: "Created" });
    expect(result.consumer).toMatchObject({ status: "True", reason: "Created" });
    expect((await ctx.adm.jsm.streams.info(ch.stream.name)).config.retention).toBe("workqueue");
  });

  it("gives the second of two channels with overlapping subjects SubjectOverlap naming the first, and leaves the first alone", async () => {
    const first = channel({ stream: { subjects: ["orders.>"] } });
    const second = channel({ stream: { subjects: ["orders.eu"] } });
    await ctx.side.sync(first, natsTarget(ctx.server.url));
    await ctx.adm.js.publish("orders.us", "first's message");
    const before = await ctx.adm.jsm.streams.info(first.stream.name);

    const result = await ctx.side.sync(second, natsTarget(ctx.server.url));

    expect(result.stream).toMatchObject({ status: "False", reason: "SubjectOverlap" });
    expect(result.stream.message).toContain(first.stream.name);
    expect(result.consumer).toMatchObject({ status: "False", reason: "StreamNotReady" });
    expect(result.queue).toBeNull();
    await expect(ctx.adm.jsm.streams.info(second.stream.name)).rejects.toThrow(/stream not found/);
    const after = await ctx.adm.jsm.streams.info(first.stream.name);
    expect(after.config).toEqual(before.config);
    expect(after.state.messages).toBe(1);
  });

  it("refuses to add a subject that overlaps another stream, changing nothing", async () => {
    const other = channel({ stream: { subjects: ["invoices.>"] } });
    const ch = channel({ stream: { subjects: ["bills"] } });
    await ctx.side.sync(other, natsTarget(ctx.server.url));
    await ctx.side.sync(ch, natsTarget(ctx.server.url));

    const result = await ctx.side.sync({ ...ch, stream: { ...ch.stream, subjects: ["bills", "invoices.paid"] } }, natsTarget(ctx.server.url));

    expect(result.stream).toMatchObject({ status: "False", reason: "SubjectOverlap" });
    expect(result.stream.message).toContain(other.stream.name);
    expect((await ctx.adm.jsm.streams.info(ch.stream.name)).config.subjects).toEqual(["bills"]);
  });

  it("does not adopt a stream someone else created, and adopts it with the adopt annotation", async () => {
    const ch = channel();
    await ctx.adm.jsm.streams.add({ name: ch.stream.name, subjects: ch.stream.subjects, retention: "workqueue", storage: "file", description: "made by hand" });
    await ctx.adm.js.publish(ch.stream.subjects[0]!, "pre-existing");

    const refused = await ctx.side.sync(ch, natsTarget(ctx.server.url));
    expect(refused.stream).toMatchObject({ status: "False", reason: "StreamExists" });
    expect(refused.consumer).toMatchObject({ status: "False", reason: "StreamNotReady" });
    expect(refused.queue).toBeNull();
    const untouched = await ctx.adm.jsm.streams.info(ch.stream.name);
    expect(untouched.config.description).toBe("made by hand");
    expect(untouched.config.duplicate_window).toBe(120 * S);
    await expect(ctx.adm.jsm.consumers.info(ch.stream.name, ch.consumer.name)).rejects.toThrow(/consumer not found/);

    const adopted = await ctx.side.sync({ ...ch, adopt: true, stream: { ...ch.stream, discard: "new" } }, natsTarget(ctx.server.url));
    expect(adopted.stream).toMatchObject({ status: "True", reason: "Adopted" });
    const si = await ctx.adm.jsm.streams.info(ch.stream.name);
    expect(si.config.description).toBe(`p2p-operator channel health/${ch.owner.name} uid ${ch.owner.uid}`);
    expect(si.config.discard).toBe("new");
    expect(si.state.messages).toBe(1);
    expect((await ctx.adm.jsm.consumers.info(ch.stream.name, ch.consumer.name)).num_pending).toBe(1);

    // From now on it is the channel's own: no adopt needed.
    expect((await ctx.side.sync(ch, natsTarget(ctx.server.url))).stream.reason).toBe("InSync");
  });

  it("never touches a stream owned by another channel, even with adopt", async () => {
    const owner = channel({ namespace: "billing" });
    await ctx.side.sync(owner, natsTarget(ctx.server.url));
    const before = await ctx.adm.jsm.streams.info(owner.stream.name);
    const intruder = channel({ namespace: "health", stream: { name: owner.stream.name, subjects: owner.stream.subjects, maxAgeMs: 1000 }, adopt: true });

    const result = await ctx.side.sync(intruder, natsTarget(ctx.server.url));

    expect(result.stream).toMatchObject({ status: "False", reason: "OwnedByAnother" });
    expect(result.stream.message).toContain(`billing/${owner.owner.name}`);
    expect((await ctx.adm.jsm.streams.info(owner.stream.name)).config).toEqual(before.config);
  });

  it("reports a configuration the server refuses as StreamConfigRejected instead of throwing", async () => {
    const ch = channel({ stream: { replicas: 3 } });
    const result = await ctx.side.sync(ch, natsTarget(ctx.server.url));
    expect(result.stream).toMatchObject({ status: "False", reason: "StreamConfigRejected" });
    expect(result.stream.message).toContain("10074");
    expect(result.stream.message).toContain("stream.replicas 3 needs a JetStream cluster");
    expect(result.consumer).toMatchObject({ status: "False", reason: "StreamNotReady" });
    expect(result.queue).toBeNull();
  });

  it("names its own work stream when the DLQ subject overlaps the channel's subjects (server error 10065)", async () => {
    const name = uniqueName("ovl");
    const ch = channel({ name, stream: { subjects: [`${name}.>`] }, consumer: { deadLetter: { subject: `${name}.dead` } } });
    const result = await ctx.side.sync(ch, natsTarget(ctx.server.url));
    expect(result.stream).toMatchObject({ status: "True", reason: "Created" });
    expect(result.consumer).toMatchObject({ status: "False", reason: "SubjectOverlap" });
    expect(result.consumer.message).toContain(`overlaps with stream ${ch.stream.name}`);
    expect(ctx.side.mover(ch.key)).toBeUndefined();
    // Next time the overlap is known before anything is tried.
    const again = await ctx.side.sync(ch, natsTarget(ctx.server.url));
    expect(again.consumer).toMatchObject({ status: "False", reason: "SubjectOverlap" });
    expect(again.queue?.lag).toBe(0);
  });

  it("needs two JetStream API requests for a steady-state sync, five with dead letters", async () => {
    const plain = channel();
    const withDlq = channel({ consumer: { deadLetter: { subject: `dlq.${uniqueName("s")}` } } });
    await ctx.side.sync(plain, natsTarget(ctx.server.url));
    await ctx.side.sync(plain, natsTarget(ctx.server.url));
    await ctx.side.sync(withDlq, natsTarget(ctx.server.url));

    const about = (stream: string) => (subject: string) => subject.split(".").some((t) => [stream, `${stream}_DLQ`, `${stream}_ADVISORIES`].includes(t));
    const plainRequests = (await countApiRequests(ctx.adm.nc, () => ctx.side.sync(plain, natsTarget(ctx.server.url)))).filter(about(plain.stream.name));
    expect(plainRequests.sort()).toEqual([`$JS.API.CONSUMER.INFO.${plain.stream.name}.${plain.consumer.name}`, `$JS.API.STREAM.INFO.${plain.stream.name}`]);

    const dlqRequests = await countApiRequests(ctx.adm.nc, () => ctx.side.sync(withDlq, natsTarget(ctx.server.url)));
    // the mover's pulls run on their own, they are not part of the sync
    const admin = dlqRequests.filter(about(withDlq.stream.name)).filter((s) => !s.includes(".MSG.NEXT."));
    expect(admin.sort()).toEqual(
      [
        `$JS.API.CONSUMER.INFO.${withDlq.stream.name}.${withDlq.consumer.name}`,
        `$JS.API.CONSUMER.INFO.${withDlq.stream.name}_ADVISORIES.p2p-dead-letter-mover`,
        `$JS.API.STREAM.INFO.${withDlq.stream.name}`,
        `$JS.API.STREAM.INFO.${withDlq.stream.name}_ADVISORIES`,
        `$JS.API.STREAM.INFO.${withDlq.stream.name}_DLQ`,
      ].sort(),
    );
  });
});

describe("deletion", () => {
  it("keeps stream and consumer with deletionPolicy Retain", async () => {
    const ch = channel({ deletionPolicy: "Retain", consumer: { deadLetter: { subject: `dlq.${uniqueName("r")}` } } });
    await ctx.side.sync(ch, natsTarget(ctx.server.url));
    await ctx.side.finalize(ch, natsTarget(ctx.server.url));

    expect((await ctx.adm.jsm.streams.info(ch.stream.name)).config.name).toBe(ch.stream.name);
    expect((await ctx.adm.jsm.consumers.info(ch.stream.name, ch.consumer.name)).name).toBe(ch.consumer.name);
    expect(ctx.side.mover(ch.key)).toBeUndefined();
  });

  it("removes stream, consumer, DLQ and advisory stream with deletionPolicy Delete", async () => {
    const ch = channel({ deletionPolicy: "Delete", consumer: { deadLetter: { subject: `dlq.${uniqueName("d")}` } } });
    await ctx.side.sync(ch, natsTarget(ctx.server.url));
    const names = [ch.stream.name, `${ch.stream.name}_DLQ`, `${ch.stream.name}_ADVISORIES`];
    for (const n of names) expect((await ctx.adm.jsm.streams.info(n)).config.name).toBe(n);

    await ctx.side.finalize(ch, natsTarget(ctx.server.url));

    for (const n of names) await expect(ctx.adm.jsm.streams.info(n)).rejects.toThrow(/stream not found/);
  });

  it("deletes only streams the channel owns", async () => {
    const ch = channel({ deletionPolicy: "Delete" });
    await ctx.adm.jsm.streams.add({ name: ch.stream.name, subjects: ch.stream.subjects, retention: "workqueue", description: "made by hand" });

    await ctx.side.finalize(ch, natsTarget(ctx.server.url));

    expect((await ctx.adm.jsm.streams.info(ch.stream.name)).config.description).toBe("made by hand");
  });
});

describe("connections", () => {
  it("shares one connection per target and closes it when no channel uses it", async () => {
    const pooled = new JetStreamSide({ log: testLog });
    try {
      const a = channel();
      const b = channel();
      const target = natsTarget(ctx.server.url);
      await pooled.sync(a, target);
      await pooled.sync(b, target);
      expect(pooled.pool.size()).toBe(1);
      expect(pooled.pool.holders(target.id)).toBe(2);

      const conn = await pooled.pool.acquire(target, a.key);
      await pooled.finalize(a, target);
      expect(conn.nc.isClosed()).toBe(false);
      await pooled.finalize(b, target);
      expect(pooled.pool.size()).toBe(0);
      expect(conn.nc.isClosed()).toBe(true);
    } finally {
      await pooled.close();
    }
  });
});
