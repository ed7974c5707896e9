import { createInbox, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import type { Logger } from "./log.js";
import { PulledMessage } from "./pulled-message.js";

// One long-lived subscription on one inbox, and pull requests (CONSUMER.MSG.NEXT) sent to the
// server with that inbox as their reply subject, each as large as the caller asks. Messages
// arrive with their stream subject; the server's status messages (heartbeat, request
// timeout, ...) arrive on the inbox itself. The count of messages asked for and not yet
// received is kept here: the server tells what an expired or refused request did not deliver
// (Nats-Pending-Messages), and when it goes silent (no message nor heartbeat for two
// heartbeat intervals), or the connection was lost, the open requests are taken as gone.

const NANOS_PER_MS = 1_000_000;
const PENDING_MESSAGES = "Nats-Pending-Messages";
const RETRY_AFTER_MS = 1_000;

export interface PullSubscriptionOptions {
  nc: NatsConnection;
  stream: string;
  consumer: string;
  /** How long one pull request waits on the server. */
  expiresMs: number;
  /** The server sends a heartbeat on an open request that delivered nothing for this long. */
  heartbeatMs: number;
  onMessage: (msg: PulledMessage) => void;
  /** Fewer messages are on their way than before, other than by delivery: pull again if there is room. */
  onRoom: () => void;
  log: Logger;
  /** The JetStream API prefix (another domain, an imported account). */
  apiPrefix?: string;
}

export class PullSubscription {
  /** Messages asked of the server and not yet received. */
  outstanding = 0;
  private readonly inbox = createInbox();
  private readonly nextSubject: string;
  private readonly sub: Subscription;
  /** Messages and status messages received, counted (cheaper than a clock read per message). */
  private heard = 0;
  private heardAtLastCheck = 0;
  private silentChecks = 0;
  private connected = true;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly monitor: NodeJS.Timeout;
  private closing = false;

  constructor(private readonly o: PullSubscriptionOptions) {
    this.nextSubject = `${o.apiPrefix ?? "$JS.API"}.CONSUMER.MSG.NEXT.${o.stream}.${o.consumer}`;
    this.sub = o.nc.subscribe(this.inbox, { callback: (err, msg) => (err ? this.failed(err) : this.receive(msg)) });
    this.monitor = setInterval(() => this.checkHeard(), o.heartbeatMs);
    void this.followConnection();
  }

  /** Asks for `count` more messages; false (nothing sent) while disconnected or after a failure, until room is signalled. */
  pull(count: number): boolean {
    if (this.closing || !this.connected || this.retryTimer !== null || count <= 0) return false;
    const body = `{"batch":${count},"expires":${this.o.expiresMs * NANOS_PER_MS},"idle_heartbeat":${this.o.heartbeatMs * NANOS_PER_MS}}`;
    if (this.outstanding === 0) this.silentChecks = 0;
    this.outstanding += count;
    this.o.nc.publish(this.nextSubject, body, { reply: this.inbox });
    return true;
  }

  /**
   * Stops the open requests: unsubscribes, and resolves once every message the server sent
   * before it saw that has been handed to onMessage. Nothing is delivered to this replica after.
   */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.monitor);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (!this.sub.isClosed()) {
      // Disconnected, the server's requests are gone already, and a drain would wait for a reconnect.
      if (this.connected) await this.sub.drain().catch(() => {});
      else this.sub.unsubscribe();
    }
    this.outstanding = 0;
  }

  private receive(msg: Msg): void {
    this.heard++;
    if (msg.subject !== this.inbox) {
      if (this.outstanding > 0) this.outstanding--;
      this.o.onMessage(new PulledMessage(msg));
      return;
    }
    const code = msg.headers?.code ?? 0;
    if (code === 100) return; // idle heartbeat: the requests are alive
    const left = Number(msg.headers?.get(PENDING_MESSAGES) || 0);
    if (left > 0) {
      // A request ended (expired, or refused) with this many of its messages undelivered.
      this.outstanding = Math.max(0, this.outstanding - left);
      if (code === 408) return this.o.onRoom();
    }
    if (code === 408 || code === 404) return;
    const description = msg.headers?.description ?? "";
    // 409 (consumer deleted, leadership change, exceeded limits), 400 (bad request),
    // 503 (no JetStream responded): the requests are gone; ask again after a pause.
    this.o.log.warn("pull request ended by the server, pulling again", { code, description });
    this.lost();
  }

  private failed(err: Error): void {
    // A permissions violation on the inbox: nothing arrives here any more.
    this.o.log.error("pull subscription failed", { err });
    this.lost();
  }

  /** The open requests are gone: count nothing on its way, and ask again after a pause. */
  private lost(): void {
    this.outstanding = 0;
    if (this.closing || this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.o.onRoom();
    }, RETRY_AFTER_MS);
  }

  /** Every heartbeat interval: two in a row without a message or a status while requests are open means they are gone. */
  private checkHeard(): void {
    const heard = this.heard !== this.heardAtLastCheck;
    this.heardAtLastCheck = this.heard;
    if (heard || this.outstanding === 0 || !this.connected || this.closing) {
      this.silentChecks = 0;
      return;
    }
    if (++this.silentChecks < 2) return;
    this.o.log.warn("pull requests went silent (no message nor heartbeat), pulling again", { outstanding: this.outstanding });
    this.silentChecks = 0;
    this.outstanding = 0;
    this.o.onRoom();
  }

  /** A lost connection loses the server's open requests with it (the server drops the inbox's interest). */
  private async followConnection(): Promise<void> {
    for await (const s of this.o.nc.status()) {
      if (this.closing) return;
      if (s.type === "disconnect") {
        this.connected = false;
      } else if (s.type === "reconnect") {
        this.connected = true;
        this.outstanding = 0;
        this.silentChecks = 0;
        this.o.onRoom();
      }
    }
  }
}
