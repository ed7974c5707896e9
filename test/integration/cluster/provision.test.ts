import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JetStreamSide } from "../../../operator/src/nats/index.js";
import { makeResolvedChannel, natsTarget, uniqueName } from "../../support/channels.js";
import { NatsCluster } from "../../support/nats-cluster.js";
import { admin, testLog, type Admin } from "../nats/helpers.js";

// A three-node JetStream cluster: what the server holds after the operator's sync.

let cluster: NatsCluster;
let adm: Admin;
let side: JetStreamSide;

beforeAll(async () => {
  cluster = await NatsCluster.start();
  adm = await admin(cluster.urls.join(","));
  side = new JetStreamSide({ log: testLog });
});

afterAll(async () => {
  await side?.close();
  await adm?.close();
  await cluster?.stop();
});

function channel(replicas: number) {
  const name = uniqueName("r3");
  return makeResolvedChannel({ namespace: "health", name, uid: `uid-${name}`, stream: { replicas }, consumer: { deadLetter: { subject: `dlq.${name}` } } });
}

describe("provisioning on a three-node cluster", () => {
  it("creates the work-queue stream, its dead-letter streams and the consumer with three replicas on three servers", async () => {
    const ch = channel(3);
    const result = await side.sync(ch, natsTarget(cluster.urls));
    expect(result.stream).toMatchObject({ status: "True", reason: "Created" });
    expect(result.consumer).toMatchObject({ status: "True", reason: "Created" });

    for (const name of [ch.stream.name, `${ch.stream.name}_DLQ`, `${ch.stream.name}_ADVISORIES`]) {
      const si = await adm.jsm.streams.info(name);
      expect(si.config.num_replicas, name).toBe(3);
      const placed = [si.cluster?.leader, ...(si.cluster?.replicas ?? []).map((r) => r.name)];
      expect(new Set(placed), name).toEqual(new Set(cluster.names));
    }
    const ci = await adm.jsm.consumers.info(ch.stream.name, ch.consumer.name);
    const consumerPlaced = [ci.cluster?.leader, ...(ci.cluster?.replicas ?? []).map((r) => r.name)];
    expect(new Set(consumerPlaced)).toEqual(new Set(cluster.names));
  });

  it("refuses stream.replicas larger than the cluster with StreamConfigRejected saying why, and creates nothing", async () => {
    const ch = channel(5);
    const result = await side.sync(ch, natsTarget(cluster.urls));
    expect(result.stream).toMatchObject({ status: "False", reason: "StreamConfigRejected" });
    expect(result.stream.message).toMatch(/stream.replicas 5 needs 5 JetStream servers.*lower spec.stream.replicas/);
    expect(result.consumer.status).toBe("False");
    await expect(adm.jsm.streams.info(ch.stream.name)).rejects.toThrow(/stream not found/);
  });
});
