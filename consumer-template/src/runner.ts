import { performance } from "node:perf_hooks";
import type { Consumer, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { PermanentError } from "./errors.js";
import { pullCapacity, pullThreshold, retryDelayMs, smooth } from "./flow.js";
import type { HandlerContext } from "./handler.js";
import type { Logger } from "./log.js";
import type { ConsumerMetrics } from "./metrics.js";
import type { RecordFile } from "./record.js";
import { DeadLetterHeaders } from "./dead-letter-headers.js";

/** How long one pull request waits on the server; also the longest a stop waits for one. */
export const PULL_EXPIRES_MS = 2_000;

export type Handler = (data: Uint8Array, ctx: HandlerContext) => Promise<void>;

export interface RunnerOptions {
  js: JetStreamClient;
  consumer: Consumer;
  stream: string;
  handler: Handler;
  concurrency: number;
  maxBatch: number;
  workMs: number;
  ackWaitMs: number;
  /** The consumer's backoff, if any: nak delays follow it. */
  backoffMs: number[];
  retryDelayMs: number;
  dlqSubject: string | null;
  /** The server understands a reason on term (>= 2.10.4). */
  termWithReason: boolean;
  metrics: ConsumerMetrics;
  log: Logger;
  record: RecordFile | null;
}

interface Held {
  msg: JsMsg;
  /** When the server's ackWait clock last started for it: delivery, or the last working(). */
  touchedAt: number;
}

/**
 * The pull loop. Holds at most pullCapacity() messages (requested, buffered or in flight),
 * runs the handler on up to `concurrency` of them, acks, naks with backoff, dead-letters,
 * and on stop() releases what it has not started so other replicas take it at once.
 */
export class Runner {
  private readonly buffer: Held[] = [];
  private readonly inFlight = new Set<Held>();
  private readonly pulls = new Set<Promise<void>>();
  /** Messages asked of the server and not yet received. */
  private outstanding = 0;
  private handlerMs: number | null = null;
  private stopping = false;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private settle: (() => void) | null = null;
  /** Acks not sent yet: sent together once per event-loop turn, see ack(). */
  private acks: JsMsg[] = [];
  private ackTimer: NodeJS.Immediate | null = null;

  constructor(private readonly o: RunnerOptions) {}

  start(): void {
    // working() on anything in the handler for more than half of ackWait.
    this.keepAliveTimer = setInterval(() => this.keepAlive(), Math.max(100, Math.floor(this.o.ackWaitMs / 4)));
    this.pull();
  }

  /** Stop pulling, release the buffer, finish in-flight work; resolves when nothing is held. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      for (const held of this.buffer.splice(0)) this.release(held.msg);
      this.o.metrics.buffered = 0;
    }
    // Open pull requests can still deliver until they expire: those are released as they come.
    while (this.pulls.size > 0 || this.inFlight.size > 0) {
      await new Promise<void>((resolve) => (this.settle = resolve));
    }
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.sendAcks();
  }

  capacity(): number {
    const { maxBatch, concurrency, ackWaitMs } = this.o;
    return pullCapacity({ maxBatch, concurrency, ackWaitMs, handlerMs: this.handlerMs });
  }

  private pull(): void {
    if (this.stopping) return;
    const capacity = this.capacity();
    this.o.metrics.capacity = capacity;
    const room = capacity - this.buffer.length - this.inFlight.size - this.outstanding;
    if (room < pullThreshold(capacity)) return;
    this.outstanding += room;
    const pull: Promise<void> = this.fetch(room).finally(() => {
      this.pulls.delete(pull);
      this.pull();
      this.settled();
    });
    this.pulls.add(pull);
  }

  private async fetch(count: number): Promise<void> {
    let received = 0;
    try {
      const messages = await this.o.consumer.fetch({ max_messages: count, expires: PULL_EXPIRES_MS });
      for await (const msg of messages) {
        received++;
        this.outstanding--;
        this.receive(msg);
      }
    } catch (err) {
      if (!this.stopping) {
        this.o.log.warn("pull failed, retrying", { err });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    } finally {
      this.outstanding -= count - received;
    }
  }

  private receive(msg: JsMsg): void {
    if (this.stopping) return this.release(msg);
    this.buffer.push({ msg, touchedAt: performance.now() });
    this.pump();
  }

  private pump(): void {
    while (this.inFlight.size < this.o.concurrency && this.buffer.length > 0) {
      const held = this.buffer.shift()!;
      this.inFlight.add(held);
      void this.process(held);
    }
    this.o.metrics.buffered = this.buffer.length;
    this.o.metrics.inFlight = this.inFlight.size;
  }

  private async process(held: Held): Promise<void> {
    try {
      await this.finish(held.msg);
    } catch (err) {
      // Only an ack that cannot be sent (connection closed) lands here: the server redelivers.
      this.o.log.error("could not settle a message", { seq: held.msg.seq, err });
    } finally {
      this.inFlight.delete(held);
      this.pump();
      this.pull();
      this.settled();
    }
  }

  private async finish(msg: JsMsg): Promise<void> {
    const msgId = msg.headers?.get("Nats-Msg-Id") || undefined;
    const ctx: HandlerContext = {
      subject: msg.subject,
      msgId,
      streamSeq: msg.seq,
      deliveryCount: msg.info.deliveryCount,
      workMs: this.o.workMs,
    };
    const started = performance.now();
    try {
      await this.o.handler(msg.data, ctx);
    } catch (err) {
      this.observe(started);
      if (err instanceof PermanentError) return this.deadLetter(msg, err.message);
      return this.retry(msg, err);
    }
    this.observe(started);
    this.o.record?.record(msgId ?? `${this.o.stream}-${msg.seq}`);
    this.ack(msg);
    this.o.metrics.messages.acked++;
  }

  /**
   * nats.js flushes its outbound buffer in a microtask, and each message reaches its ack
   * through a few microtasks of the fetch iterator and the handler: acked one by one, most
   * acks became a socket write of their own (128k writes for 200k messages; a quarter of
   * this process's CPU, and server CPU too). Sent together once per event-loop turn, they
   * share one write (3k writes), at the price of at most one turn of delay.
   */
  private ack(msg: JsMsg): void {
    this.acks.push(msg);
    this.ackTimer ??= setImmediate(() => this.sendAcks());
  }

  private sendAcks(): void {
    if (this.ackTimer) clearImmediate(this.ackTimer);
    this.ackTimer = null;
    const acks = this.acks;
    this.acks = [];
    for (const msg of acks) {
      try {
        msg.ack();
      } catch (err) {
        // The connection closed: the server redelivers after ackWait.
        this.o.log.error("could not ack a message", { seq: msg.seq, err });
      }
    }
  }

  private retry(msg: JsMsg, err: unknown): void {
    const delayMs = retryDelayMs(msg.info.deliveryCount, this.o.backoffMs, this.o.retryDelayMs);
    this.o.log.warn("handler failed, will retry", { seq: msg.seq, deliveryCount: msg.info.deliveryCount, delayMs, err });
    msg.nak(delayMs);
    this.o.metrics.messages.retried++;
  }

  /** Publishes a copy to the dead-letter subject, then terms the original; never drops it if that fails. */
  private async deadLetter(msg: JsMsg, reason: string): Promise<void> {
    const oneLine = reason.replace(/[\r\n]+/g, " ");
    if (!this.o.dlqSubject) {
      this.o.log.warn("permanent failure, terminating (no dead-letter subject)", { seq: msg.seq, reason: oneLine });
      this.term(msg, oneLine);
      this.o.metrics.messages.terminated++;
      return;
    }
    // Keep the application's own headers, as the operator's mover does; Nats-Msg-Id is replaced below.
    const h = headers();
    for (const [name, values] of msg.headers ?? []) {
      if (name === "Nats-Msg-Id") continue;
      for (const value of values) h.append(name, value);
    }
    h.set(DeadLetterHeaders.OriginalStream, this.o.stream);
    h.set(DeadLetterHeaders.OriginalSubject, msg.subject);
    h.set(DeadLetterHeaders.OriginalSequence, String(msg.seq));
    h.set(DeadLetterHeaders.Deliveries, String(msg.info.deliveryCount));
    h.set(DeadLetterHeaders.Reason, oneLine);
    const originalId = msg.headers?.get("Nats-Msg-Id");
    if (originalId) h.set(DeadLetterHeaders.OriginalMsgId, originalId);
    try {
      // The id makes a repeated attempt (or the operator's own copy) land once.
      await this.o.js.publish(this.o.dlqSubject, msg.data, { headers: h, msgID: `${this.o.stream}-${msg.seq}` });
      this.term(msg, oneLine);
      this.o.metrics.messages.dead_lettered++;
      this.o.log.info("dead-lettered", { seq: msg.seq, subject: this.o.dlqSubject, reason: oneLine });
    } catch (err) {
      this.retry(msg, new Error(`dead-letter publish failed: ${String(err)}`, { cause: err }));
    }
  }

  private term(msg: JsMsg, reason: string): void {
    if (this.o.termWithReason) msg.term(reason);
    else msg.term();
  }

  private release(msg: JsMsg): void {
    msg.nak();
    this.o.metrics.messages.released++;
  }

  private observe(startedAt: number): void {
    const ms = performance.now() - startedAt;
    this.handlerMs = smooth(this.handlerMs, ms);
    this.o.metrics.observeHandler(ms);
  }

  private keepAlive(): void {
    const now = performance.now();
    for (const held of this.inFlight) {
      if (now - held.touchedAt >= this.o.ackWaitMs / 2) {
        held.msg.working();
        held.touchedAt = now;
      }
    }
  }

  private settled(): void {
    if (this.pulls.size === 0 && this.inFlight.size === 0) this.settle?.();
  }
}
