import type { Logger } from "pino";
import type { NatsSide, QueueRead, QueueReading } from "../ports/index.js";

const POLL_CONCURRENCY = 8;

/** What the poller needs of the reconciler: who is due, and what to do with a reading. */
export interface PolledChannels {
  /** The channels whose pollInterval has come round (each marked as not due again until its next interval). */
  duePolls(nowMs: number): QueueRead[];
  /** True when the reading changes nothing (a quiet poll, done at once): most polls of idle channels. */
  skipQuiet(key: string, reading: QueueReading | Error): boolean;
  /** Otherwise: scales and publishes from the reading; "respec" when the channel needs a spec reconcile (its stream is gone, NATS failed). */
  poll(key: string, reading: QueueReading | Error): Promise<"ok" | "respec">;
}

export interface QueuePollerOptions {
  channels: PolledChannels;
  nats: Pick<NatsSide, "readQueues">;
  /** Hands a channel to the spec reconcile (the work queue). */
  respec: (key: string) => void;
  log: Logger;
  /** How often to look for due channels; each channel still waits its own pollInterval. */
  tickMs?: number;
  /** Counts polls by outcome: "quiet" (nothing to do), "full", "respec" (back to the spec reconcile). */
  onPolled?: (outcome: "quiet" | "full" | "respec", count: number) => void;
  now?: () => number;
}

/**
 * The second loop: the queue poll and the scaler, apart from the spec reconcile. Every tick it
 * takes the channels whose pollInterval is due, reads all their queues in one bulk read (one
 * paged STREAM.LIST per connection), and lets each channel scale and publish its lag.
 */
export class QueuePoller {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;
  private stopped = true;
  private readonly now: () => number;

  constructor(private readonly options: QueuePollerOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
  }

  /** One round: read the due channels' queues together, then hand each its reading. */
  async tick(): Promise<void> {
    const reads = this.options.channels.duePolls(this.now());
    if (reads.length === 0) return;
    const readings = await this.options.nats.readQueues(reads);
    const readingOf = (key: string) => readings.get(key) ?? new Error(`no reading for ${key}`);
    // Quiet polls first, synchronously: no promise per idle channel.
    const busy = reads.filter(({ channel }) => !this.options.channels.skipQuiet(channel.key, readingOf(channel.key)));
    const counted = this.options.onPolled ?? (() => {});
    counted("quiet", reads.length - busy.length);
    const handle = async ({ channel }: QueueRead) => {
      const reading = readingOf(channel.key);
      try {
        const outcome = await this.options.channels.poll(channel.key, reading);
        counted(outcome === "ok" ? "full" : "respec", 1);
        if (outcome === "respec") this.options.respec(channel.key);
      } catch (err) {
        this.options.log.warn({ key: channel.key, err: (err as Error).message }, "poll failed");
        counted("respec", 1);
        this.options.respec(channel.key);
      }
    };
    // A few at a time: most polls write nothing, a scale or a status write waits on the apiserver.
    for (let i = 0; i < busy.length; i += POLL_CONCURRENCY) await Promise.all(busy.slice(i, i + POLL_CONCURRENCY).map(handle));
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.tick()
        .catch((err: Error) => this.options.log.error({ err: err.message }, "queue poll failed"))
        .finally(() => {
          this.current = null;
          this.schedule();
        });
    }, this.options.tickMs ?? 250);
    this.timer.unref?.();
  }
}
