import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll } from "vitest";
import type { ResolvedChannel } from "../../../operator/src/api/resolved.js";
import { JetStreamSide, type JetStreamSideOptions } from "../../../operator/src/nats/index.js";
import { NatsServerProcess } from "../../support/nats-server.js";

// What the tests use to look at (and meddle with) the server, independent of the adapter.

export interface Admin {
  nc: NatsConnection;
  jsm: JetStreamManager;
  js: JetStreamClient;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function admin(url: string, opts: Partial<ConnectionOptions> = {}): Promise<Admin> {
  const nc = await connect({ servers: url, name: "test-admin", maxReconnectAttempts: -1, reconnectTimeWait: 200, ...opts });
  const jsm = await jetstreamManager(nc);
  const close = async () => {
    if (!nc.isClosed()) await nc.close();
  };
  return { nc, jsm, js: jetstream(nc), close, [Symbol.asyncDispose]: close };
}

/** Silent unless LOG_LEVEL asks for more. */
export const testLog = pino({ level: process.env.LOG_LEVEL ?? "silent" });

export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Counts JetStream API requests ($JS.API.>) made while `fn` runs, by subject. */
export async function countApiRequests(nc: NatsConnection, fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const sub = nc.subscribe("$JS.API.>", {
    callback: (_err, msg) => {
      seen.push(msg.subject);
    },
  });
  await nc.flush();
  await fn();
  await nc.flush();
  await new Promise((r) => setTimeout(r, 50));
  sub.unsubscribe();
  return seen;
}

/** One real nats-server, an admin connection and a JetStreamSide per test file. */
export interface SideTestEnv {
  server: NatsServerProcess;
  adm: Admin;
  side: JetStreamSide;
}

export function useSideTestEnv(options: Omit<JetStreamSideOptions, "log"> = {}): SideTestEnv {
  const env = {} as SideTestEnv;
  beforeAll(async () => {
    env.server = await NatsServerProcess.start();
    env.adm = await admin(env.server.url);
    env.side = new JetStreamSide({ log: testLog, ...options });
  });
  afterAll(async () => {
    await env.side?.close();
    await env.adm?.close();
    await env.server?.stop();
  });
  return env;
}

/**
 * Acts as a consumer replica: naks `poison` every time it comes, acks everything else, and keeps
 * pulling until nothing comes any more. The server notices maxDeliver when it would deliver once
 * more, i.e. on a pull after the last nak: that pull comes back empty. Returns the deliveries.
 */
export async function nakUntilMaxDeliveries(adm: Admin, ch: ResolvedChannel, poison: string, maxDeliver: number): Promise<number> {
  const consumer = await adm.js.consumers.get(ch.stream.name, ch.consumer.name);
  let deliveries = 0;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const m = await consumer.next({ expires: 1_000 });
    if (!m) {
      if (deliveries >= maxDeliver) break;
      continue;
    }
    if (m.string() === poison) {
      deliveries = m.info.deliveryCount;
      m.nak();
    } else m.ack();
  }
  return deliveries;
}
