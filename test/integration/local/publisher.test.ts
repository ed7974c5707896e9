import { jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeExampleEvent, publishEvents } from "../../../operator/src/local/index.js";
import { NatsServerProcess } from "../../support/nats-server.js";

let server: NatsServerProcess;
let nc: NatsConnection;

beforeAll(async () => {
  server = await NatsServerProcess.start();
  nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "PUB", subjects: ["pub.>"], retention: RetentionPolicy.Workqueue });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

const body = (i: number, id: string) => ({ ...makeExampleEvent(i), eventId: id });

describe("the p2p publish load generator", () => {
  it("acks every message once; the same Nats-Msg-Ids again are reported as duplicates and not stored", async () => {
    const first = await publishEvents(nc, { subject: "pub.a", count: 2000, idPrefix: "a-", body });
    expect(first).toMatchObject({ acked: 2000, duplicates: 0, errors: 0 });
    const again = await publishEvents(nc, { subject: "pub.a", count: 2000, idPrefix: "a-", body });
    expect(again).toMatchObject({ acked: 0, duplicates: 2000, errors: 0 });
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info("PUB")).state.messages).toBe(2000);
  });

  it("pads messages to --size and keeps to --rate", async () => {
    const jsm = await jetstreamManager(nc);
    const report = await publishEvents(nc, { subject: "pub.b", count: 101, idPrefix: "b-", ratePerSec: 200, sizeBytes: 2048, body });
    expect(report).toMatchObject({ acked: 101, errors: 0 });
    expect(report.seconds).toBeGreaterThanOrEqual(0.49); // 100 gaps of 5 ms
    const stored = (await jsm.streams.getMessage("PUB", { last_by_subj: "pub.b" }))!;
    expect(stored.data.length).toBe(2048);
    expect(stored.json<{ eventId: string }>().eventId).toBe("b-100");
  });

  it("counts a publish nobody stores as an error, with the reason", async () => {
    const report = await publishEvents(nc, { subject: "nowhere.c", count: 3, idPrefix: "c-", body, timeoutMs: 2_000 });
    expect(report).toMatchObject({ acked: 0, errors: 3 });
    expect(report.firstError).toMatch(/no stream stores subject nowhere\.c/);
  });
});
