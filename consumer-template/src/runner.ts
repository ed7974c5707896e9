import { performance } from "node:perf_hooks";
import type { JetStreamClient } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { PermanentError } from "./errors.js";
import { pullCapacity, pullThreshold, retryDelayMs, smooth } from "./flow.js";
import type { HandlerContext } from "./handler.js";
import type { Logger } from "./log.js";
import type { ConsumerMetrics } from "./metrics.js";
import { PullSubscription } from "./pull-subscription.js";
import type { PulledMessage } from "./pulled-message.js";
import type { RecordFile } from "./record.js";
import { DeadLetterHeaders } from "./dead-letter-headers.js";

/** How long one pull request waits on the server, and its heartbeat interval. */
const PULL_EXPIRES_MS = 30_000;
const PULL_HEARTBEAT_MS = 5_000;

/** A handler may also return without a promise: the message is then settled at once. */
export type Handler = (data: Uint8Array, ctx: HandlerContext) => Promise<void> | void;

export interface RunnerOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  stream: string;
  consumer: string;
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

/**
 * The handler's view of a message. Read lazily: a handler that never looks at the delivery
 * count or the message id costs no parse of the reply subject or the headers.
 */
class MessageContext implements HandlerContext {
  readonly #msg: PulledMessage;
  readonly workMs: number;

  constructor(msg: PulledMessage, workMs: number) {
    this.#msg = msg;
    this.workMs = workMs;
  }

  get subject(): string {
    return this.#msg.subject;
  }

  get msgId(): string | undefined {
    return msgIdOf(this.#msg);
  }

  get streamSeq(): number {
    return this.#msg.seq;
  }

  get deliveryCount(): number {
    return this.#msg.info.deliveryCount;
  }

  /** A plain object for logs (the getters are not own properties). */
  toJSON(): HandlerContext {
    return { subject: this.subject, msgId: this.msgId, streamSeq: this.streamSeq, deliveryCount: this.deliveryCount, workMs: this.workMs };
  }
}

function msgIdOf(msg: PulledMessage): string | undefined {
  return msg.headers?.get("Nats-Msg-Id") || undefined;
}

function isPromise(value: unknown): value is PromiseLike<void> {
  return typeof (value as PromiseLike<void> | undefined)?.then === "function";
}

/**
 * The pull loop. Holds at most pullCapacity() messages (requested, buffered or in flight),
 * runs the handler on up to `concurrency` of them, acks, naks with backoff, dead-letters,
 * and on stop() releases what it has not started so other replicas take it at once.
 *
 * Built for a small cost per message: messages come from one long-lived pull subscription's
 * callback (no async iterator, no subscription per pull), the handler is called straight
 * from there when a worker is free, a handler that returns without a promise is settled
 * synchronously, and one that returns a promise
 * occupies one of `concurrency` fixed slots with pre-bound callbacks (no per-message
 * closures, sets or timers). One interval calls working() on slots running past half of
 * ackWait.
 */
export class Runner {
  /** Received, not started (FIFO: read from queueHead), with the time each was received. */
  private queue: (PulledMessage | undefined)[] = [];
  private queuedAt: number[] = [];
  private queueHead = 0;
  /** Worker slots: a message while its handler's promise (or its dead-lettering) is pending. */
  private readonly slotMsg: (PulledMessage | null)[];
  /** When the server's ackWait clock last started for it: delivery, or the last working(). */
  private readonly slotTouchedAt: number[];
  private readonly slotStartedAt: number[];
  private readonly freeSlots: number[] = [];
  private readonly slotDone: (() => void)[] = [];
  private readonly slotFailed: ((err: unknown) => void)[] = [];
  /** Null until start(). */
  private subscription: PullSubscription | null = null;
  private handlerMs: number | null = null;
  private capacityNow: number;
  private stopping = false;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private settle: (() => void) | null = null;
  /** Acks not sent yet: sent together once per event-loop turn, see ack(). */
  private acks: PulledMessage[] = [];
  private pullWanted = false;
  private flushTimer: NodeJS.Immediate | null = null;
  private readonly flushNow = () => this.flush();

  constructor(private readonly o: RunnerOptions) {
    const n = o.concurrency;
    this.slotMsg = new Array<PulledMessage | null>(n).fill(null);
    this.slotTouchedAt = new Array<number>(n).fill(0);
    this.slotStartedAt = new Array<number>(n).fill(0);
    for (let slot = n - 1; slot >= 0; slot--) {
      this.freeSlots.push(slot);
      this.slotDone[slot] = () => this.slotSucceeded(slot);
      this.slotFailed[slot] = (err) => this.slotFailedWith(slot, err);
    }
    this.capacityNow = this.capacity();
    o.metrics.capacity = this.capacityNow;
  }

  start(): void {
    this.subscription = new PullSubscription({
      nc: this.o.nc,
      stream: this.o.stream,
      consumer: this.o.consumer,
      expiresMs: PULL_EXPIRES_MS,
      heartbeatMs: PULL_HEARTBEAT_MS,
      onMessage: (msg) => this.receive(msg),
      onRoom: () => this.pull(),
      log: this.o.log,
    });
    // working() on anything in the handler for more than half of ackWait.
    this.keepAliveTimer = setInterval(() => this.keepAlive(), Math.max(100, Math.floor(this.o.ackWaitMs / 4)));
    this.pull();
  }

  /**
   * Stop pulling at once: no new pull request, and the subscription is closed, after which the
   * server delivers nothing more to this replica. What arrives until the server has seen that
   * was already on its way and is taken as in flight (run, or buffered when no worker is
   * free): releasing it would make the server deliver it a second time. Then the buffer is
   * released (nak: other replicas take it at once), in-flight work finishes and the last acks
   * go out. Resolves when nothing is held.
   */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      await this.subscription?.close();
      this.releaseBuffer();
    }
    while (this.running() > 0) {
      await new Promise<void>((resolve) => (this.settle = resolve));
    }
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.flush();
  }

  capacity(): number {
    const { maxBatch, concurrency, ackWaitMs } = this.o;
    return pullCapacity({ maxBatch, concurrency, ackWaitMs, handlerMs: this.handlerMs });
  }

  private running(): number {
    return this.o.concurrency - this.freeSlots.length;
  }

  private releaseBuffer(): void {
    for (let i = this.queueHead; i < this.queue.length; i++) this.release(this.queue[i]!);
    this.queue = [];
    this.queuedAt = [];
    this.queueHead = 0;
    this.o.metrics.buffered = 0;
  }

  /** A pull request goes out with the acks of this event-loop turn, see flush(). */
  private pull(): void {
    this.pullWanted = true;
    this.flushTimer ??= setImmediate(this.flushNow);
  }

  /** Asks for what there is room for, once at least pullThreshold() of the capacity is free. */
  private pullNow(): void {
    const subscription = this.subscription;
    if (this.stopping || !subscription) return;
    const capacity = this.capacityNow;
    const room = capacity - (this.queue.length - this.queueHead) - this.running() - subscription.outstanding;
    if (room < pullThreshold(capacity)) return;
    subscription.pull(room);
  }

  private receive(msg: PulledMessage): void {
    if (this.freeSlots.length > 0 && this.queueHead === this.queue.length) {
      const now = performance.now();
      this.run(msg, now, now);
      this.pull();
      return;
    }
    this.queue.push(msg);
    this.queuedAt.push(performance.now());
    this.o.metrics.buffered = this.queue.length - this.queueHead;
  }

  /** Starts queued messages while there are free slots. */
  private pump(): void {
    while (this.freeSlots.length > 0 && this.queueHead < this.queue.length) {
      const i = this.queueHead++;
      const msg = this.queue[i]!;
      this.queue[i] = undefined;
      this.run(msg, this.queuedAt[i]!);
    }
    if (this.queueHead === this.queue.length && this.queueHead > 0) {
      this.queue.length = 0;
      this.queuedAt.length = 0;
      this.queueHead = 0;
    }
    this.o.metrics.buffered = this.queue.length - this.queueHead;
    this.o.metrics.inFlight = this.running();
  }

  /** Calls the handler; only with a free slot, which it takes if the handler returns a promise. */
  private run(msg: PulledMessage, receivedAt: number, started = performance.now()): void {
    let result: Promise<void> | void;
    try {
      result = this.o.handler(msg.data, new MessageContext(msg, this.o.workMs));
    } catch (err) {
      this.observe(started);
      if (err instanceof PermanentError && this.o.dlqSubject) {
        const slot = this.take(msg, receivedAt, started);
        return this.slotDeadLetter(slot, msg, err.message);
      }
      return this.failed(msg, err);
    }
    if (isPromise(result)) {
      const slot = this.take(msg, receivedAt, started);
      result.then(this.slotDone[slot], this.slotFailed[slot]);
      return;
    }
    this.observe(started);
    this.succeeded(msg);
  }

  private take(msg: PulledMessage, receivedAt: number, started: number): number {
    const slot = this.freeSlots.pop()!;
    this.slotMsg[slot] = msg;
    this.slotTouchedAt[slot] = receivedAt;
    this.slotStartedAt[slot] = started;
    this.o.metrics.inFlight = this.running();
    return slot;
  }

  private free(slot: number): void {
    this.slotMsg[slot] = null;
    this.freeSlots.push(slot);
    this.pump();
    this.pull();
    this.settled();
  }

  private slotSucceeded(slot: number): void {
    this.observe(this.slotStartedAt[slot]!);
    this.succeeded(this.slotMsg[slot]!);
    this.free(slot);
  }

  private slotFailedWith(slot: number, err: unknown): void {
    this.observe(this.slotStartedAt[slot]!);
    const msg = this.slotMsg[slot]!;
    if (err instanceof PermanentError && this.o.dlqSubject) return this.slotDeadLetter(slot, msg, err.message);
    this.failed(msg, err);
    this.free(slot);
  }

  /** The slot stays taken until the copy is published: dead-lettering is part of the work. */
  private slotDeadLetter(slot: number, msg: PulledMessage, reason: string): void {
    this.deadLetter(msg, reason)
      .catch((err: unknown) => this.couldNotSettle(msg, err))
      .finally(() => this.free(slot));
  }

  private succeeded(msg: PulledMessage): void {
    try {
      if (this.o.record) this.o.record.record(msgIdOf(msg) ?? `${this.o.stream}-${msg.seq}`);
    } catch (err) {
      // Not recorded, so not acked either: the server redelivers after ackWait.
      return this.couldNotSettle(msg, err);
    }
    this.ack(msg);
    this.o.metrics.messages.acked++;
  }

  /** A retryable failure, or a permanent one with no dead-letter subject. */
  private failed(msg: PulledMessage, err: unknown): void {
    try {
      if (err instanceof PermanentError) {
        const oneLine = err.message.replace(/[\r\n]+/g, " ");
        this.o.log.warn("permanent failure, terminating (no dead-letter subject)", { seq: msg.seq, reason: oneLine });
        this.term(msg, oneLine);
        this.o.metrics.messages.terminated++;
      } else {
        this.retry(msg, err);
      }
    } catch (e) {
      this.couldNotSettle(msg, e);
    }
  }

  /** Only a nak or term that cannot be sent (connection closed) lands here: the server redelivers. */
  private couldNotSettle(msg: PulledMessage, err: unknown): void {
    this.o.log.error("could not settle a message", { seq: msg.seq, err });
  }

  /**
   * nats.js flushes its outbound buffer in a microtask, and a message whose handler returns a
   * promise reaches its ack in a later microtask: acked one by one, most acks became a socket
   * write of their own (128k writes for 200k messages; a quarter of this process's CPU, and
   * server CPU too). Sent together once per event-loop turn, they share one write (3k
   * writes), at the price of at most one turn of delay. The pull request of the turn goes in
   * the same write: sent on its own, each was a write too (at 4 replicas, 3x the writes of
   * nats.js's consume(), which sends its pulls and acks from one callback).
   */
  private ack(msg: PulledMessage): void {
    this.acks.push(msg);
    this.flushTimer ??= setImmediate(this.flushNow);
  }

  private flush(): void {
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.flushTimer = null;
    this.sendAcks();
    if (this.pullWanted) {
      this.pullWanted = false;
      this.pullNow();
    }
  }

  private sendAcks(): void {
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

  private retry(msg: PulledMessage, err: unknown): void {
    const delayMs = retryDelayMs(msg.info.deliveryCount, this.o.backoffMs, this.o.retryDelayMs);
    this.o.log.warn("handler failed, will retry", { seq: msg.seq, deliveryCount: msg.info.deliveryCount, delayMs, err });
    msg.nak(delayMs);
    this.o.metrics.messages.retried++;
  }

  /** Publishes a copy to the dead-letter subject, then terms the original; never drops it if that fails. */
  private async deadLetter(msg: PulledMessage, reason: string): Promise<void> {
    const oneLine = reason.replace(/[\r\n]+/g, " ");
    // Keep the application's own headers, as the operator's mover does; the server's Nats-* ones do not carry over.
    const h = headers();
    for (const [name, values] of msg.headers ?? []) {
      if (name.toLowerCase().startsWith("nats-")) continue;
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
      await this.o.js.publish(this.o.dlqSubject!, msg.data, { headers: h, msgID: `${this.o.stream}-${msg.seq}` });
      this.term(msg, oneLine);
      this.o.metrics.messages.dead_lettered++;
      this.o.log.info("dead-lettered", { seq: msg.seq, subject: this.o.dlqSubject, reason: oneLine });
    } catch (err) {
      this.retry(msg, new Error(`dead-letter publish failed: ${String(err)}`, { cause: err }));
    }
  }

  private term(msg: PulledMessage, reason: string): void {
    if (this.o.termWithReason) msg.term(reason);
    else msg.term();
  }

  private release(msg: PulledMessage): void {
    try {
      msg.nak();
      this.o.metrics.messages.released++;
    } catch (err) {
      this.couldNotSettle(msg, err);
    }
  }

  private observe(startedAt: number): void {
    const ms = performance.now() - startedAt;
    this.handlerMs = smooth(this.handlerMs, ms);
    this.capacityNow = this.capacity();
    this.o.metrics.capacity = this.capacityNow;
    this.o.metrics.observeHandler(ms);
  }

  private keepAlive(): void {
    const now = performance.now();
    for (let slot = 0; slot < this.slotMsg.length; slot++) {
      const msg = this.slotMsg[slot];
      if (msg && now - this.slotTouchedAt[slot]! >= this.o.ackWaitMs / 2) {
        try {
          msg.working();
        } catch {
          // The connection closed: nothing to keep alive.
        }
        this.slotTouchedAt[slot] = now;
      }
    }
  }

  private settled(): void {
    if (this.settle !== null && this.running() === 0) this.settle();
  }
}
