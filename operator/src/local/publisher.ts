import { jetstream, type JetStreamClient, type PubAck } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

// The load generator behind `p2p publish`: JetStream publishes with a unique Nats-Msg-Id each,
// pipelined with a bounded window of outstanding acks (awaiting each ack in turn is ~4x slower),
// optionally paced to a rate.

export interface PublishOptions {
  subject: string;
  count: number;
  /** The body of message i; padded with trailing JSON whitespace to sizeBytes. */
  body: (i: number, msgId: string) => unknown;
  /** Nats-Msg-Id of message i is `${idPrefix}${i}`. */
  idPrefix: string;
  /** Messages per second; absent = as fast as the window allows. */
  ratePerSec?: number;
  /** Pad each body to at least this many bytes. */
  sizeBytes?: number;
  /** Outstanding publishes at most. */
  window?: number;
  timeoutMs?: number;
  /**
   * Keep retrying a failed publish (same Nats-Msg-Id, so the stream stores it once) for this
   * long, e.g. through a stream leader election; 0 = one try.
   */
  retryForMs?: number;
  /** Called with each message's Nats-Msg-Id once the stream has acknowledged it. */
  onAck?: (msgId: string) => void;
}

export interface PublishReport {
  acked: number;
  duplicates: number;
  errors: number;
  ratePerSec: number;
  seconds: number;
  /** The first error's message, if any (the rest are usually the same). */
  firstError?: string;
}

export async function publishEvents(nc: NatsConnection, options: PublishOptions): Promise<PublishReport> {
  const js: JetStreamClient = jetstream(nc, { timeout: options.timeoutMs ?? 10_000 });
  const windowSize = Math.max(1, options.window ?? 256);
  const encoder = new TextEncoder();
  const started = performance.now();
  let acked = 0;
  let duplicates = 0;
  let errors = 0;
  let firstError: string | undefined;
  const inFlight = new Set<Promise<void>>();
  const retryForMs = options.retryForMs ?? 0;
  const publishWithRetry = async (msgID: string, data: Uint8Array, firstTryAt: number): Promise<PubAck> => {
    for (;;) {
      try {
        return await js.publish(options.subject, data, { msgID });
      } catch (err) {
        if (performance.now() - firstTryAt >= retryForMs) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };

  for (let i = 0; i < options.count; i++) {
    if (options.ratePerSec && options.ratePerSec > 0) {
      const dueMs = started + (i / options.ratePerSec) * 1000;
      const waitMs = dueMs - performance.now();
      if (waitMs > 1) await new Promise((r) => setTimeout(r, waitMs));
    }
    while (inFlight.size >= windowSize) await Promise.race(inFlight);
    const msgID = `${options.idPrefix}${i}`;
    const data = encoder.encode(padJson(JSON.stringify(options.body(i, msgID)), options.sizeBytes ?? 0));
    const p: Promise<void> = publishWithRetry(msgID, data, performance.now())
      .then(
        (ack) => {
          if (ack.duplicate) duplicates++;
          else acked++;
          options.onAck?.(msgID);
        },
        (err: unknown) => {
          errors++;
          firstError ??= describePublishError(err, options.subject);
        },
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  const report: PublishReport = {
    acked,
    duplicates,
    errors,
    ratePerSec: Math.round((acked + duplicates) / Math.max(seconds, 1e-3)),
    seconds: Math.round(seconds * 1000) / 1000,
  };
  if (firstError !== undefined) report.firstError = firstError;
  return report;
}

/** nats.js reports "no responders" on a publish as "jetstream is not enabled"; mostly it means no stream. */
function describePublishError(err: unknown, subject: string): string {
  const e = err as Error;
  if (e.name === "JetStreamNotEnabled") {
    return `no stream stores subject ${subject} (is the channel's stream there? start \`p2p local\` with the channel file)`;
  }
  return e.message;
}

/** Trailing whitespace keeps the body valid JSON with the same fields, at the requested size. */
function padJson(json: string, sizeBytes: number): string {
  const length = Buffer.byteLength(json);
  return length >= sizeBytes ? json : json + " ".repeat(sizeBytes - length);
}
