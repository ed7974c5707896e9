import { describe, expect, it } from "vitest";
import { consumerEnv, maxBatch } from "../../../operator/src/plan/consumer-env.js";
import { makeResolvedChannel, natsTarget } from "../../support/channels.js";

describe("the consumer contract env", () => {
  it("names the channel, stream, consumer and subjects, and sizes the batch from the shared maxAckPending", () => {
    const channel = makeResolvedChannel({ namespace: "health", name: "register", consumer: { maxAckPending: 1000 }, scaling: { maxReplicas: 8 } });
    const env = consumerEnv(channel, { servers: ["nats://a:4222", "nats://b:4222"], credentials: null, id: "x" });
    expect(env).toMatchObject({
      NATS_URL: "nats://a:4222,nats://b:4222",
      P2P_CHANNEL: "health/register",
      P2P_STREAM: channel.stream.name,
      P2P_CONSUMER: channel.consumer.name,
      P2P_SUBJECTS: channel.stream.subjects.join(","),
      P2P_MAX_BATCH: "125",
    });
    expect(env).not.toHaveProperty("P2P_DLQ_SUBJECT");
    expect(env).not.toHaveProperty("NATS_TOKEN_FILE");
  });

  it.each([
    [1000, 10, 100],
    [1000, 3, 333],
    [5, 10, 1],
  ])("P2P_MAX_BATCH for maxAckPending %i over %i replicas is %i", (maxAckPending, maxReplicas, expected) => {
    expect(maxBatch(makeResolvedChannel({ consumer: { maxAckPending }, scaling: { maxReplicas } }))).toBe(expected);
  });

  it("tells consumers the ack wait the server really applies: backoff[0] when a backoff is set", () => {
    const plain = makeResolvedChannel({ consumer: { ackWaitMs: 30_000, backoffMs: [] } });
    const withBackoff = makeResolvedChannel({ consumer: { ackWaitMs: 30_000, backoffMs: [1_000, 5_000] } });
    const target = { servers: ["nats://a:4222"], credentials: null, id: "x" };
    expect(consumerEnv(plain, target).P2P_ACK_WAIT_MS).toBe("30000");
    expect(consumerEnv(withBackoff, target).P2P_ACK_WAIT_MS).toBe("1000");
  });

  it("points at credential files, never at the secrets themselves", () => {
    const channel = makeResolvedChannel({ consumer: { deadLetter: { subject: "dlq.orders" } } });
    const env = consumerEnv(channel, natsTarget("nats://a:4222", { user: "reg", password: "s3cret", caPem: "PEM" }), "/creds");
    expect(env).toMatchObject({ NATS_USER: "reg", NATS_PASSWORD_FILE: "/creds/password", NATS_CA_FILE: "/creds/ca.crt", P2P_DLQ_SUBJECT: "dlq.orders" });
    expect(Object.values(env).join(" ")).not.toContain("s3cret");
  });
});
