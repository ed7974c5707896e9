import type { Logger } from "pino";
import type { OperatorMetrics } from "./metrics.js";
import type { ChannelSource, NatsSide } from "../ports/index.js";
import { QueuePoller, type PolledChannels } from "./queue-poller.js";
import type { ChannelReconciler, ReconcileResult } from "./reconciler.js";
import { WorkQueue, jitter } from "./work-queue.js";

export interface ControllerOptions {
  source: ChannelSource;
  reconciler: Pick<ChannelReconciler, "reconcile">;
  log: Logger;
  metrics?: OperatorMetrics;
  /** Parallel reconciles (different keys); one key never runs twice at once. */
  workers?: number;
  /** Every key is re-enqueued this often (±10%) to repair drift, whatever else happens. */
  resyncMs?: number;
  queue?: WorkQueue;
  /** The queue loop (lag, scaling, status on a budget) beside the spec reconcile; see QueuePoller. */
  poll?: { channels: PolledChannels; nats: Pick<NatsSide, "readQueues">; tickMs?: number };
}

/** Runs the keyed work queue: source events in, one reconcile per key at a time, results to requeues. */
export class Controller {
  readonly queue: WorkQueue;
  private running = false;
  private workers: Promise<void>[] = [];
  private resyncTimer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly poller: QueuePoller | null;

  constructor(private readonly options: ControllerOptions) {
    this.queue = options.queue ?? new WorkQueue({ maxBackoffMs: 30_000 });
    const poll = options.poll;
    this.poller = poll
      ? new QueuePoller({
          channels: poll.channels,
          nats: poll.nats,
          tickMs: poll.tickMs,
          respec: (key) => this.queue.add(key),
          log: options.log,
          onPolled: (outcome, count) => {
            if (count > 0) options.metrics?.queuePolls.inc({ outcome }, count);
          },
        })
      : null;
    options.metrics?.registry.onCollect(() => options.metrics?.workqueueDepth.set({ name: "pointtopointchannel" }, this.queue.depth));
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.options.source.start((key) => this.queue.add(key));
    const n = this.options.workers ?? 4;
    this.workers = Array.from({ length: n }, () => this.work());
    this.poller?.start();
    const resyncMs = this.options.resyncMs ?? 60_000;
    const resync = () => {
      // Spread the keys over the first fifth of the period so a thousand channels do not resync at once.
      for (const key of this.options.source.keys()) this.queue.addAfter(key, Math.random() * resyncMs * 0.2);
      this.resyncTimer = setTimeout(resync, resyncMs);
      this.resyncTimer.unref?.();
    };
    this.resyncTimer = setTimeout(resync, jitter(resyncMs));
    this.resyncTimer.unref?.();
  }

  /** Stops taking keys, lets running reconciles finish, stops the source. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    await this.poller?.stop();
    this.queue.shutDown();
    await Promise.allSettled([...this.workers, ...this.inFlight]);
    await this.options.source.stop();
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === null) return;
      const run = this.runOne(key);
      this.inFlight.add(run);
      try {
        await run;
      } finally {
        this.inFlight.delete(run);
        this.queue.done(key);
      }
    }
  }

  private async runOne(key: string): Promise<void> {
    const { log, metrics } = this.options;
    const started = process.hrtime.bigint();
    const labels = { controller: "pointtopointchannel" };
    let result: ReconcileResult;
    try {
      result = await this.options.reconciler.reconcile(key);
    } catch (err) {
      metrics?.reconcileErrors.inc(labels);
      metrics?.reconcileTotal.inc({ ...labels, result: "error" });
      const delay = this.queue.addRateLimited(key);
      log.error({ key, err: (err as Error).message, retryInMs: delay }, "reconcile failed");
      return;
    } finally {
      metrics?.reconcileTime.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    }
    if (!this.running) return;
    if ("backoff" in result) {
      // Something the channel needs failed (NATS, a Secret): an error for the metrics, retried with backoff.
      metrics?.reconcileErrors.inc(labels);
      metrics?.reconcileTotal.inc({ ...labels, result: "error" });
      this.queue.addRateLimited(key);
      return;
    }
    this.queue.forget(key);
    if ("requeueAfterMs" in result) {
      metrics?.reconcileTotal.inc({ ...labels, result: "requeue_after" });
      this.queue.addAfter(key, jitter(result.requeueAfterMs));
    } else {
      metrics?.reconcileTotal.inc({ ...labels, result: "success" });
    }
  }
}
