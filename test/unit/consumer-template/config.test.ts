import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../consumer-template/src/config.js";
import { ConfigError } from "../../../consumer-template/src/errors.js";

const BASE = { P2P_STREAM: "default_orders", P2P_CONSUMER: "orders" };

describe("loadConfig", () => {
  it("reads the consumer contract with defaults", () => {
    expect(loadConfig({ ...BASE })).toEqual({
      servers: ["nats://127.0.0.1:4222"],
      channel: "",
      stream: "default_orders",
      consumer: "orders",
      subjects: [],
      dlqSubject: null,
      maxBatch: 100,
      concurrency: 4,
      workMs: 0,
      recordFile: null,
      httpPort: null,
      ackWaitMsFallback: 30_000,
      retryDelayMs: 1_000,
      credentials: {},
    });
  });

  it("reads every variable the operator injects", () => {
    const config = loadConfig({
      ...BASE,
      NATS_URL: "nats://a:4222, nats://b:4222",
      P2P_CHANNEL: "default/orders",
      P2P_SUBJECTS: "orders.created,orders.updated",
      P2P_DLQ_SUBJECT: "dlq.orders",
      P2P_MAX_BATCH: "250",
      P2P_ACK_WAIT_MS: "10000",
      P2P_CONCURRENCY: "16",
      P2P_WORK_MS: "20",
      P2P_RECORD_FILE: "/tmp/r",
      P2P_HTTP_PORT: "8080",
      NATS_CREDS_FILE: "/var/run/secrets/p2p/creds",
      NATS_CA_FILE: "/var/run/secrets/p2p/ca.crt",
      NATS_CERT_FILE: "/var/run/secrets/p2p/tls.crt",
      NATS_KEY_FILE: "/var/run/secrets/p2p/tls.key",
      NATS_USER: "alice",
      NATS_PASSWORD_FILE: "/var/run/secrets/p2p/password",
    });
    expect(config).toMatchObject({
      servers: ["nats://a:4222", "nats://b:4222"],
      channel: "default/orders",
      subjects: ["orders.created", "orders.updated"],
      dlqSubject: "dlq.orders",
      maxBatch: 250,
      ackWaitMsFallback: 10_000,
      concurrency: 16,
      workMs: 20,
      recordFile: "/tmp/r",
      httpPort: 8080,
      credentials: {
        credsFile: "/var/run/secrets/p2p/creds",
        caFile: "/var/run/secrets/p2p/ca.crt",
        certFile: "/var/run/secrets/p2p/tls.crt",
        keyFile: "/var/run/secrets/p2p/tls.key",
        user: "alice",
        passwordFile: "/var/run/secrets/p2p/password",
      },
    });
  });

  it.each([
    { raw: undefined, port: null },
    { raw: "", port: null },
    { raw: "off", port: null },
    { raw: "0", port: 0 },
    { raw: "9090", port: 9090 },
  ])("P2P_HTTP_PORT=$raw -> $port", ({ raw, port }) => {
    expect(loadConfig({ ...BASE, P2P_HTTP_PORT: raw }).httpPort).toBe(port);
  });

  it.each([
    { env: { P2P_CONSUMER: "c" }, error: "P2P_STREAM is required" },
    { env: { P2P_STREAM: "s" }, error: "P2P_CONSUMER is required" },
    { env: { ...BASE, P2P_MAX_BATCH: "0" }, error: 'P2P_MAX_BATCH must be an integer >= 1, got "0"' },
    { env: { ...BASE, P2P_CONCURRENCY: "two" }, error: 'P2P_CONCURRENCY must be an integer >= 1, got "two"' },
    { env: { ...BASE, P2P_WORK_MS: "-5" }, error: 'P2P_WORK_MS must be an integer >= 0, got "-5"' },
    { env: { ...BASE, P2P_HTTP_PORT: "70000" }, error: 'P2P_HTTP_PORT must be a port, 0 or "off", got "70000"' },
    { env: { ...BASE, NATS_PASSWORD_FILE: "/p" }, error: "NATS_PASSWORD_FILE needs NATS_USER" },
    { env: { ...BASE, NATS_CERT_FILE: "/c" }, error: "NATS_CERT_FILE and NATS_KEY_FILE go together" },
  ])("refuses: $error", ({ env, error }) => {
    expect(() => loadConfig(env)).toThrow(new ConfigError(error));
  });
});
