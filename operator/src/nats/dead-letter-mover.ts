import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { PooledConnection } from "./connection-pool.js";
import { isApiError, JsApiCode } from "./errors.js";

// Moves messages that reached maxDeliver from the work queue into the DLQ stream. The server's
// MAX_DELIVERIES advisories are captured in `<stream>_ADVISORIES` (so none is lost while the
// operator is down); for each one: read the message by sequence, publish a copy to the DLQ
// subject with Nats-Msg-Id `<stream>-<seq>`, delete it from the work queue, then ack the
// advisory. Every step may be repeated: a message already gone is skipped, a second copy is
// dropped by the DLQ stream's duplicate window.

export const DeadLetterHeaders = {
  OriginalSubject: "P2P-Original-Subject",
  OriginalSequence: "P2P-Original-Sequence",
  OriginalStream: "P2P-Original-Stream",
  OriginalMsgId: "P2P-Original-Msg-Id",
  Deliveries: "P2P-Deliveries",
  Reason: "P2P-Reason",
} as const;

export interface DeadLetterMoverConfig {
  channelKey: string;
  workStream: string;
  advisoryStream: string;
  moverConsumer: string;
  deadLetterSubject: string;
  deadLetterStream: string;
}

export interface DeadLetterMoverOptions {
  /** Advisories pulled per request. */
  batch?: number;
  /** How long one pull waits for advisories (a long poll: stop() ends it at once). */
  expiresMs?: number;
  /** First wait after a failure; doubles up to maxRetryMs while failures go on. */
  retryMs?: number;
  maxRetryMs?: number;
}

/** A MAX_DELIVERIES advisory (io.nats.jetstream.advisory.v1.max_deliver). */
export interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

export type MoveResult = "moved" | "gone";

export function deadLetterMsgId(stream: string, seq: number): string {
  return `${stream}-${seq}`;
}

export class DeadLetterMover {
  private stopped = false;
  private loop: Promise<void> | null = null;
  private current: ConsumerMessages | null = null;
  private wake: (() => void) | null = null;
  private movedCount = 0;
  private goneCount = 0;

  constructor(
    readonly conn: PooledConnection,
    readonly config: DeadLetterMoverConfig,
    private readonly log: Logger,
    private readonly options: DeadLetterMoverOptions = {},
  ) {}

  /** A stable signature: a mover whose signature changed is replaced. */
  signature(): string {
    const c = this.config;
    return [c.workStream, c.advisoryStream, c.moverConsumer, c.deadLetterSubject, c.deadLetterStream].join("|");
  }

  get running(): boolean {
    return this.loop !== null && !this.stopped;
  }

  stats(): { moved: number; gone: number } {
    return { moved: this.movedCount, gone: this.goneCount };
  }

  start(): void {
    if (this.loop) return;
    this.log.info({ advisories: this.config.advisoryStream, dlq: this.config.deadLetterStream }, "dead-letter mover started");
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    if (this.stopped) return this.loop ?? undefined;
    this.stopped = true;
    this.current?.stop();
    this.wake?.();
    await this.loop;
    this.log.info(this.stats(), "dead-letter mover stopped");
  }

  private async run(): Promise<void> {
    const { advisoryStream, moverConsumer } = this.config;
    const firstRetryMs = this.options.retryMs ?? 1_000;
    let retryMs = firstRetryMs;
    let consumer: Consumer | null = null;
    while (!this.stopped) {
      try {
        consumer ??= await this.conn.js.consumers.get(advisoryStream, moverConsumer);
        const batch = await consumer.fetch({ max_messages: this.options.batch ?? 64, expires: this.options.expiresMs ?? 30_000 });
        this.current = batch;
        if (this.stopped) batch.stop();
        for await (const m of batch) {
          await this.handle(m);
        }
        retryMs = firstRetryMs;
      } catch (err) {
        consumer = null;
        if (this.stopped) break;
        // While NATS is down this repeats: back off so that an outage does not flood the log.
        this.log.warn({ err: (err as Error).message, retryInMs: retryMs }, "dead-letter mover: pull failed; retrying");
        await this.sleep(retryMs);
        retryMs = Math.min(retryMs * 2, this.options.maxRetryMs ?? 30_000);
      } finally {
        this.current = null;
      }
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    let advisory: MaxDeliveriesAdvisory;
    try {
      advisory = m.json<MaxDeliveriesAdvisory>();
    } catch {
      this.log.warn({ seq: m.seq }, "dead-letter mover: unreadable advisory dropped");
      m.term();
      return;
    }
    if (advisory.stream !== this.config.workStream || typeof advisory.stream_seq !== "number") {
      m.term();
      return;
    }
    try {
      const result = await this.move(advisory);
      if (result === "moved") this.movedCount += 1;
      else this.goneCount += 1;
      await m.ackAck();
    } catch (err) {
      this.log.warn({ seq: advisory.stream_seq, err: (err as Error).message }, "dead-letter mover: move failed; will retry");
      m.nak(this.options.retryMs ?? 1_000);
    }
  }

  /** Copies one message to the DLQ and deletes it from the work queue; "gone" when it was no longer there. */
  async move(advisory: MaxDeliveriesAdvisory): Promise<MoveResult> {
    const { jsm, js } = this.conn;
    const { workStream, deadLetterSubject, deadLetterStream } = this.config;
    const seq = advisory.stream_seq;
    const stored = await jsm.streams.getMessage(workStream, { seq });
    if (!stored) return "gone"; // acked late, or moved by an earlier attempt

    const h = headers();
    for (const [key, values] of stored.header) {
      // Nats-* headers steer the server (dedupe, expectations, rollups): keep the id for reference only.
      if (/^nats-/i.test(key)) continue;
      for (const v of values) h.append(key, v);
    }
    const originalId = stored.header.get("Nats-Msg-Id");
    if (originalId) h.set(DeadLetterHeaders.OriginalMsgId, originalId);
    h.set(DeadLetterHeaders.OriginalStream, workStream);
    h.set(DeadLetterHeaders.OriginalSubject, stored.subject);
    h.set(DeadLetterHeaders.OriginalSequence, String(seq));
    h.set(DeadLetterHeaders.Deliveries, String(advisory.deliveries));
    h.set(DeadLetterHeaders.Reason, "max_deliveries");
    const ack = await js.publish(deadLetterSubject, stored.data, {
      msgID: deadLetterMsgId(workStream, seq),
      headers: h,
      expect: { streamName: deadLetterStream },
    });

    try {
      await jsm.streams.deleteMessage(workStream, seq);
    } catch (err) {
      // Deleted in between (acked late): fine. Anything else: the advisory is retried.
      if (!isApiError(err, JsApiCode.NoMessageFound, JsApiCode.StreamMsgDeleteFailed)) throw err;
      if (await jsm.streams.getMessage(workStream, { seq })) throw err;
    }
    this.log.info({ seq, subject: stored.subject, deliveries: advisory.deliveries, dlqSeq: ack.seq, duplicate: ack.duplicate }, "moved a dead letter");
    return "moved";
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
