import { JetStreamApiError } from "@nats-io/jetstream";
import { errors } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { capabilitiesOf, desiredWorkConsumer, desiredWorkStream } from "../../../operator/src/plan/index.js";
import {
  AuthFailedError,
  JetStreamRequestError,
  NatsUnavailableError,
  consumerConfig,
  consumerUpdate,
  credentialOptions,
  mapWithConcurrency,
  redactUrl,
  streamConfig,
  toNatsError,
} from "../../../operator/src/nats/index.js";
import { makeResolvedChannel } from "../../support/channels.js";

const apiError = (err_code: number, description = "boom") => new JetStreamApiError({ code: 400, err_code, description });

describe("toNatsError", () => {
  it.each([
    { name: "authorization violation", err: new errors.AuthorizationError("Authorization Violation"), type: AuthFailedError, reason: "AuthFailed" },
    { name: "expired credentials", err: new errors.UserAuthenticationExpiredError("User Authentication Expired"), type: AuthFailedError, reason: "AuthFailed" },
    { name: "permission violation", err: new errors.PermissionViolationError("Permissions Violation", "publish", "$JS.API.STREAM.INFO.x"), type: AuthFailedError, reason: "AuthFailed" },
    { name: "connection refused", err: new errors.ConnectionError("connection refused"), type: NatsUnavailableError, reason: "NATSUnavailable" },
    { name: "request timeout", err: new errors.TimeoutError(), type: NatsUnavailableError, reason: "NATSUnavailable" },
    { name: "closed connection", err: new errors.ClosedConnectionError(), type: NatsUnavailableError, reason: "NATSUnavailable" },
    { name: "JetStream not enabled (10076)", err: apiError(10076), type: NatsUnavailableError, reason: "NATSUnavailable" },
    { name: "JetStream not enabled for the account (10039)", err: apiError(10039), type: NatsUnavailableError, reason: "NATSUnavailable" },
    { name: "another API error", err: apiError(10052, "bad config"), type: JetStreamRequestError, reason: "JetStreamError" },
  ])("maps $name", ({ err, type, reason }) => {
    const mapped = toNatsError(err, "doing something");
    expect(mapped).toBeInstanceOf(type);
    expect(mapped).toMatchObject({ reason });
    expect(mapped.message).toMatch(/^doing something: /);
    expect(mapped.cause).toBe(err);
  });

  it("keeps the API error code", () => {
    expect(toNatsError(apiError(10052), "x")).toMatchObject({ code: 10052, name: "JetStreamRequestError" });
  });

  it("passes our own errors through unchanged", () => {
    const e = new NatsUnavailableError("down");
    expect(toNatsError(e, "x")).toBe(e);
  });
});

describe("redactUrl", () => {
  it.each([
    ["nats://user:pa55@host:4222", "nats://***@host:4222"],
    ["tls://token@host", "tls://***@host"],
    ["nats://host:4222", "nats://host:4222"],
  ])("%s -> %s", (url, want) => {
    expect(redactUrl(url)).toBe(want);
  });
});

describe("credentialOptions", () => {
  it("uses no credentials by default", () => {
    expect(credentialOptions(null)).toEqual({});
  });

  it("maps user and password, token, and TLS material", () => {
    const opts = credentialOptions({ user: "u", password: "p", token: "t\n", caPem: "CA", certPem: "CERT", keyPem: "KEY" });
    expect(opts).toMatchObject({ user: "u", pass: "p", token: "t", tls: { ca: "CA", cert: "CERT", key: "KEY" } });
  });

  it("uses an authenticator for a creds file or an nkey seed", () => {
    expect(credentialOptions({ nkeySeed: "SUAM..." }).authenticator).toHaveLength(1);
    expect(credentialOptions({ creds: "-----BEGIN NATS USER JWT-----" }).authenticator).toHaveLength(1);
  });
});

describe("configs sent to the server", () => {
  const ch = makeResolvedChannel({ stream: { maxAgeMs: 1500, duplicateWindowMs: 1000 }, consumer: { ackWaitMs: 250, backoffMs: [] } });

  it("converts durations to nanoseconds and keeps fields the operator does not manage", () => {
    const current = { max_msgs_per_subject: 10, metadata: { "_nats.level": "1" } } as never;
    const cfg = streamConfig(desiredWorkStream(ch, capabilitiesOf("2.10.0")), current);
    expect(cfg).toMatchObject({ max_age: 1_500_000_000, duplicate_window: 1_000_000_000, max_msgs_per_subject: 10, retention: "workqueue" });
    expect(cfg.metadata).toMatchObject({ "_nats.level": "1", "messaging.p2p.dev/owner-name": "orders" });
  });

  it("sends no metadata to a 2.9 server", () => {
    expect(streamConfig(desiredWorkStream(ch, capabilitiesOf("2.9.10"))).metadata).toBeUndefined();
  });

  it("leaves out an empty filter, a backoff and an inactive threshold", () => {
    const cfg = consumerConfig(desiredWorkConsumer(ch), { filter_subject: "", backoff: [1], inactive_threshold: 5 } as never);
    expect(cfg).not.toHaveProperty("filter_subject");
    expect(cfg).not.toHaveProperty("backoff");
    expect(cfg).not.toHaveProperty("inactive_threshold");
    expect(cfg).toMatchObject({ durable_name: "orders", ack_policy: "explicit", deliver_policy: "all", ack_wait: 250_000_000 });
  });

  it("clears backoff and inactive threshold on update", () => {
    expect(consumerUpdate(desiredWorkConsumer(ch))).toMatchObject({ backoff: undefined, inactive_threshold: 0, filter_subject: undefined });
  });
});

describe("mapWithConcurrency", () => {
  it("never runs more than the limit at once and visits every item", async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    await mapWithConcurrency(
      Array.from({ length: 50 }, (_, i) => i),
      7,
      async (i) => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 1));
        seen.push(i);
        inFlight -= 1;
      },
    );
    expect(peak).toBe(7);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
