import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JetStreamSide } from "../../../operator/src/nats/index.js";
import { makeResolvedChannel, natsTarget, uniqueName } from "../../support/channels.js";
import { NatsServerProcess } from "../../support/nats-server.js";
import { admin, countApiRequests, testLog, type Admin } from "./helpers.js";

// Provisioning on a real nats-server: what the server holds after sync.

let server: NatsServerProcess;
let adm: Admin;
let side: JetStreamSide;

beforeAll(async () => {
  server = await NatsServerProcess.start();
  adm = await admin(server.url);
  side = new JetStreamSide({ log: testLog });
});

afterAll(async () => {
  await side?.close();
  await adm?.close();
  await server?.stop();
});

const S = 1_000_000_000;

function channel(overrides: Parameters<typeof makeResolvedChannel>[0] = {}) {
  const name = overrides.name ?? uniqueName("prov");
  return makeResolvedChannel({ namespace: "health", uid: `uid-${name}`, ...overrides, name });
}

describe("provisioning the work queue", () => {
  it("creates the work-queue stream and the durable pull consumer from scratch", async () => {
    const ch = channel({ stream: { maxAgeMs: 3_600_000, maxMsgs: 1000, maxBytes: 1 << 20, maxMsgSize: 4096, discard: "new", duplicateWindowMs: 60_000 }, consumer: { ackWaitMs: 10_000, maxDeliver: 4, backoffMs: [], maxAckPending: 50 } });
    const result = await side.sync(ch, natsTarget(server.url));

    expect(result.stream).toMatchObject({ status: "True", reason: "Created" });
    expect(result.consumer).toMatchObject({ status: "True", reason: "Created" });
    const si = await adm.jsm.streams.info(ch.stream.name);
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
    const ci = await adm.jsm.consumers.info(ch.stream.name, ch.consumer.name);
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

    const again = await side.sync(ch, natsTarget(server.url));
    expect(again.stream).toMatchObject({ status: "True", reason: "InSync" });
    expect(again.consumer).toMatchObject({ status: "True", reason: "InSync" });
  });

  it("updates ackWait and maxAge in place, keeping the messages", async () => {
    const ch = channel({ consumer: { ackWaitMs: 30_000 } });
    await side.sync(ch, natsTarget(server.url));
    for (let i = 0; i < 3; i++) await adm.js.publish(ch.stream.subjects[0]!, `m${i}`);
    const created = (await adm.jsm.streams.info(ch.stream.name)).created;

    const changed = { ...ch, stream: { ...ch.stream, maxAgeMs: 600_000 }, consumer: { ...ch.consumer, ackWaitMs: 5_000 } };
    const result = await side.sync(changed, natsTarget(server.url));

    expect(result.stream).toMatchObject({ status: "True", reason: "Updated" });
    expect(result.stream.message).toContain("maxAge");
    expect(result.consumer).toMatchObject({ status: "True", reason: "Updated" });
    const si = await adm.jsm.streams.info(ch.stream.name);
    expect(si.config.max_age).toBe(600 * S);
    expect(si.state.messages).toBe(3);
    expect(si.created).toBe(created);
    const ci = await adm.jsm.consumers.info(ch.stream.name, ch.consumer.name);
    expect(ci.config.ack_wait).toBe(5 * S);
    expect(ci.num_pending).toBe(3);
    expect(result.queue?.lag).toBe(3);
  });

  it("refuses to change storage from file to memory, leaving the stream and its messages intact", async () => {
    const ch = channel();
    await side.sync(ch, natsTarget(server.url));
    await adm.js.publish(ch.stream.subjects[0]!, "keep me");
    const before = await adm.jsm.streams.info(ch.stream.name);

    const result = await side.sync({ ...ch, stream: { ...ch.stream, storage: "memory", maxAgeMs: 1000 } }, natsTarget(server.url));

    expect(result.stream).toMatchObject({ status: "False", reason: "ImmutableFieldChanged" });
    expect(result.stream.message).toContain("storage");
    const after = await adm.jsm.streams.info(ch.stream.name);
    expect(after.config.storage).toBe("file");
    expect(after.config.max_age).toBe(0);
    expect(after.created).toBe(before.created);
    expect(after.state.messages).toBe(1);
    expect((await adm.jsm.streams.getMessage(ch.stream.name, { seq: 1 }))?.string()).toBe("keep me");
    // The stream still works: its consumer is kept and the queue is read.
    expect(result.consumer.status).toBe("True");
    expect(result.queue?.lag).toBe(1);
  });

  it("recreates a consumer deleted on the server", async () => {
    const ch = channel();
    await side.sync(ch, natsTarget(server.url));
    await adm.js.publish(ch.stream.subjects[0]!, "waiting");
    await adm.jsm.consumers.delete(ch.stream.name, ch.consumer.name);

    const result = await side.sync(ch, natsTarget(server.url));

    expect(result.consumer).toMatchObject({ status: "True", reason: "Created" });
    const ci = await adm.jsm.consumers.info(ch.stream.name, ch.consumer.name);
    expect(ci.num_pending).toBe(1);
  });

  it("recreates a stream deleted on the server", async () => {
    const ch = channel();
    await side.sync(ch, natsTarget(server.url));
    await adm.jsm.streams.delete(ch.stream.name);

    const result = await side.sync(ch, natsTarget(server.url));

    expect(result.stream).toMatchObject({ status: "True", reason: "Created" });
    expect(result.consumer).toMatchObject({ status: "True", reason: "Created" });
    expect((await adm.jsm.streams.info(ch.stream.name)).config.retention).toBe("workqueue");
  });

  it("gives the second of two channels with overlapping subjects SubjectOverlap naming the first, and leaves the first alone", async () => {
    const first = channel({ stream: { subjects: ["orders.>"] } });
    const second = channel({ stream: { subjects: ["orders.eu"] } });
    await side.sync(first, natsTarget(server.url));
    await adm.js.publish("orders.us", "first's message");
    const before = await adm.jsm.streams.info(first.stream.name);

    const result = await side.sync(second, natsTarget(server.url));

    expect(result.stream).toMatchObject({ status: "False", reason: "SubjectOverlap" });
    expect(result.stream.message).toContain(first.stream.name);
    expect(result.consumer).toMatchObject({ status: "False", reason: "StreamNotReady" });
    expect(result.queue).toBeNull();
    await expect(adm.jsm.streams.info(second.stream.name)).rejects.toThrow(/stream not found/);
    const after = await adm.jsm.streams.info(first.stream.name);
    expect(after.config).toEqual(before.config);
    expect(after.state.messages).toBe(1);
  });

  it("refuses to add a subject that overlaps another stream, changing nothing", async () => {
    const other = channel({ stream: { subjects: ["invoices.>"] } });
    const ch = channel({ stream: { subjects: ["bills"] } });
    await side.sync(other, natsTarget(server.url));
    await side.sync(ch, natsTarget(server.url));

    const result = await side.sync({ ...ch, stream: { ...ch.stream, subjects: ["bills", "invoices.paid"] } }, natsTarget(server.url));

    expect(result.stream).toMatchObject({ status: "False", reason: "SubjectOverlap" });
    expect(result.stream.message).toContain(other.stream.name);
    expect((await adm.jsm.streams.info(ch.stream.name)).config.subjects).toEqual(["bills"]);
  });

  it("does not adopt a stream someone else created, and adopts it with the adopt annotation", async () => {
    const ch = channel();
    await adm.jsm.streams.add({ name: ch.stream.name, subjects: ch.stream.subjects, retention: "workqueue", storage: "file", description: "made by hand" });
    await adm.js.publish(ch.stream.subjects[0]!, "pre-existing");

    const refused = await side.sync(ch, natsTarget(server.url));
    expect(refused.stream).toMatchObject({ status: "False", reason: "StreamExists" });
    expect(refused.consumer).toMatchObject({ status: "False", reason: "StreamNotReady" });
    expect(refused.queue).toBeNull();
    const untouched = await adm.jsm.streams.info(ch.stream.name);
    expect(untouched.config.description).toBe("made by hand");
    expect(untouched.config.duplicate_window).toBe(120 * S);
    await expect(adm.jsm.consumers.info(ch.stream.name, ch.consumer.name)).rejects.toThrow(/consumer not found/);

    const adopted = await side.sync({ ...ch, adopt: true, stream: { ...ch.stream, discard: "new" } }, natsTarget(server.url));
    expect(adopted.stream).toMatchObject({ status: "True", reason: "Adopted" });
    const si = await adm.jsm.streams.info(ch.stream.name);
    expect(si.config.description).toBe(`p2p-operator channel health/${ch.owner.name} uid ${ch.owner.uid}`);
    expect(si.config.discard).toBe("new");
    expect(si.state.messages).toBe(1);
    expect((await adm.jsm.consumers.info(ch.stream.name, ch.consumer.name)).num_pending).toBe(1);

    // From now on it is the channel's own: no adopt needed.
    expect((await side.sync(ch, natsTarget(server.url))).stream.reason).toBe("InSync");
  });

  it("never touches a stream owned by another channel, even with adopt", async () => {
    const owner = channel({ namespace: "billing" });
    await side.sync(owner, natsTarget(server.url));
    const before = await adm.jsm.streams.info(owner.stream.name);
    const intruder = channel({ namespace: "health", stream: { name: owner.stream.name, subjects: owner.stream.subjects, maxAgeMs: 1000 }, adopt: true });

    const result = await side.sync(intruder, natsTarget(server.url));

    expect(result.stream).toMatchObject({ status: "False", reason: "OwnedByAnother" });
    expect(result.stream.message).toContain(`billing/${owner.owner.name}`);
    expect((await adm.jsm.streams.info(owner.stream.name)).config).toEqual(before.config);
  });

  it("reports a configuration the server refuses as StreamConfigRejected instead of throwing", async () => {
    const ch = channel({ stream: { replicas: 3 } });
    const result = await side.sync(ch, natsTarget(server.url));
    expect(result.stream).toMatchObject({ status: "False", reason: "StreamConfigRejected" });
    expect(result.stream.message).toContain("10074");
    expect(result.consumer).toMatchObject({ status: "False", reason: "StreamNotReady" });
    expect(result.queue).toBeNull();
  });

  it("names its own work stream when the DLQ subject overlaps the channel's subjects (server error 10065)", async () => {
    const name = uniqueName("ovl");
    const ch = channel({ name, stream: { subjects: [`${name}.>`] }, consumer: { deadLetter: { subject: `${name}.dead` } } });
    const result = await side.sync(ch, natsTarget(server.url));
    expect(result.stream).toMatchObject({ status: "True", reason: "Created" });
    expect(result.consumer).toMatchObject({ status: "False", reason: "SubjectOverlap" });
    expect(result.consumer.message).toContain(`overlaps with stream ${ch.stream.name}`);
    expect(side.mover(ch.key)).toBeUndefined();
    // Next time the overlap is known before anything is tried.
    const again = await side.sync(ch, natsTarget(server.url));
    expect(again.consumer).toMatchObject({ status: "False", reason: "SubjectOverlap" });
    expect(again.queue?.lag).toBe(0);
  });

  it("needs two JetStream API requests for a steady-state sync, five with dead letters", async () => {
    const plain = channel();
    const withDlq = channel({ consumer: { deadLetter: { subject: `dlq.${uniqueName("s")}` } } });
    await side.sync(plain, natsTarget(server.url));
    await side.sync(plain, natsTarget(server.url));
    await side.sync(withDlq, natsTarget(server.url));

    const about = (stream: string) => (subject: string) => subject.split(".").some((t) => [stream, `${stream}_DLQ`, `${stream}_ADVISORIES`].includes(t));
    const plainRequests = (await countApiRequests(adm.nc, () => side.sync(plain, natsTarget(server.url)))).filter(about(plain.stream.name));
    expect(plainRequests.sort()).toEqual([`$JS.API.CONSUMER.INFO.${plain.stream.name}.${plain.consumer.name}`, `$JS.API.STREAM.INFO.${plain.stream.name}`]);

    const dlqRequests = await countApiRequests(adm.nc, () => side.sync(withDlq, natsTarget(server.url)));
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
    await side.sync(ch, natsTarget(server.url));
    await side.finalize(ch, natsTarget(server.url));

    expect((await adm.jsm.streams.info(ch.stream.name)).config.name).toBe(ch.stream.name);
    expect((await adm.jsm.consumers.info(ch.stream.name, ch.consumer.name)).name).toBe(ch.consumer.name);
    expect(side.mover(ch.key)).toBeUndefined();
  });

  it("removes stream, consumer, DLQ and advisory stream with deletionPolicy Delete", async () => {
    const ch = channel({ deletionPolicy: "Delete", consumer: { deadLetter: { subject: `dlq.${uniqueName("d")}` } } });
    await side.sync(ch, natsTarget(server.url));
    const names = [ch.stream.name, `${ch.stream.name}_DLQ`, `${ch.stream.name}_ADVISORIES`];
    for (const n of names) expect((await adm.jsm.streams.info(n)).config.name).toBe(n);

    await side.finalize(ch, natsTarget(server.url));

    for (const n of names) await expect(adm.jsm.streams.info(n)).rejects.toThrow(/stream not found/);
  });

  it("deletes only streams the channel owns", async () => {
    const ch = channel({ deletionPolicy: "Delete" });
    await adm.jsm.streams.add({ name: ch.stream.name, subjects: ch.stream.subjects, retention: "workqueue", description: "made by hand" });

    await side.finalize(ch, natsTarget(server.url));

    expect((await adm.jsm.streams.info(ch.stream.name)).config.description).toBe("made by hand");
  });
});

describe("connections", () => {
  it("shares one connection per target and closes it when no channel uses it", async () => {
    const pooled = new JetStreamSide({ log: testLog });
    try {
      const a = channel();
      const b = channel();
      const target = natsTarget(server.url);
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
