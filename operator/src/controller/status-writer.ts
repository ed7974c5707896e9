import type { Logger } from "pino";
import { channelKey, type ChannelStatus, type PointToPointChannel } from "../api/types.js";
import { composeStatus, sameStatus, statusWriteDue, transitions, type StatusInput } from "../plan/index.js";
import { verdictOf, type ChannelSource, type EventRecorder } from "../ports/index.js";
import type { OperatorMetrics } from "./metrics.js";

/** What the live view and the metrics read after each reconcile. */
export interface ChannelSnapshot {
  key: string;
  /** The channel as last read (its status is the one beside, not yet this one). */
  channel: PointToPointChannel;
  status: ChannelStatus;
  /** Smoothed arrival rate, messages/s, once two samples are known. */
  rate: number | null;
  /** Smoothed processing (ack) rate, messages/s. */
  processingRate: number | null;
}

export interface StatusWriterDeps {
  source: Pick<ChannelSource, "writeStatus">;
  events: EventRecorder;
  log: Logger;
  metrics?: OperatorMetrics;
  now: () => number;
  /**
   * Write lag-only changes on a budget (statusWriteDue): on for the Kubernetes API, where every
   * write costs the apiserver and etcd; off in local mode, where status is a file.
   */
  budget: boolean;
  /** The channel's smoothed rates, for the snapshot. */
  ratesOf: (key: string) => { arrival: number | null; processing: number | null };
}

/**
 * The status phase of a reconcile: composes the next status, publishes it to the metrics and the
 * live view at every poll, and writes it only when statusWriteDue says a person would see a
 * difference (a condition or replica change at once; the lag alone on a budget). Ready's changes become one
 * Event each once they are stored. A refused write (a 403 names the verb and the resource) cannot
 * land in status, so it becomes one Warning Event per cause (not one per retry) and an error for
 * the controller's backoff.
 */
export class StatusWriter {
  /** The cause of each channel's last failed write, so a repeated failure records no new Event. */
  private readonly failing = new Map<string, string>();
  /** When each channel's status was last written, for the readings budget (statusWriteDue). */
  private readonly lastWriteMs = new Map<string, number>();
  private readonly listeners: Array<(snapshot: ChannelSnapshot) => void> = [];
  /** The gauge values last set per channel: a poll that changed none of them sets none. */
  private readonly published = new Map<string, readonly number[]>();

  constructor(private readonly deps: StatusWriterDeps) {}

  onSnapshot(listener: (snapshot: ChannelSnapshot) => void): void {
    this.listeners.push(listener);
  }

  /**
   * "same": the stored status already says it all; "deferred": a readings-only change waits for
   * the budget; "written": stored now. A refused write throws.
   */
  async write(channel: PointToPointChannel, input: StatusInput): Promise<"same" | "deferred" | "written"> {
    const before = channel.status ?? {};
    const nowMs = this.deps.now();
    const status = composeStatus(before, channel.metadata.generation ?? 0, new Date(nowMs).toISOString(), input);
    this.publish(channel, status);
    const key = channelKey(channel.metadata);
    if (sameStatus(before, status)) return "same";
    const due = this.deps.budget ? statusWriteDue(before, status, this.lastWriteMs.get(key) ?? null, nowMs) : true;
    if (!due) return "deferred";
    try {
      await this.deps.source.writeStatus(channel, status);
    } catch (err) {
      const { reason, message } = verdictOf(err, "StatusWriteFailed");
      const cause = `${reason}: ${message}`;
      if (this.failing.get(key) !== cause) {
        this.failing.set(key, cause);
        this.deps.events.record(channel, "Warning", "StatusWriteFailed", `writing status failed (${reason}): ${message}`);
      }
      this.deps.log.warn({ reason, err: message }, "status write failed");
      throw err;
    }
    this.failing.delete(key);
    this.lastWriteMs.set(key, nowMs);
    // One event per stored change of Ready (status or reason), naming the condition at fault.
    for (const changed of transitions(before.conditions, status.conditions ?? [])) {
      if (changed.type !== "Ready" || changed.reason === "Reconciling") continue;
      this.deps.events.record(channel, changed.status === "True" ? "Normal" : "Warning", changed.reason, changed.message);
    }
    return "written";
  }

  forget(key: string): void {
    this.failing.delete(key);
    this.lastWriteMs.delete(key);
    this.published.delete(key);
  }

  private publish(channel: PointToPointChannel, status: ChannelStatus): void {
    const key = channelKey(channel.metadata);
    const rates = this.deps.ratesOf(key);
    const snapshot = { key, channel, status, rate: rates.arrival, processingRate: rates.processing };
    const m = this.deps.metrics;
    if (m) {
      const ready = status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? 1 : 0;
      const values = [status.lag, status.replicas, status.desiredReplicas, status.deadLetters, snapshot.rate, snapshot.processingRate, ready];
      const gauges = [m.lag, m.replicas, m.desiredReplicas, m.deadLetters, m.arrivalRate, m.processingRate, m.ready];
      const before = this.published.get(key);
      const labels = metricLabels(channel);
      values.forEach((value, i) => {
        if (value !== undefined && value !== null && value !== before?.[i]) gauges[i]?.set(labels, value);
      });
      this.published.set(key, values.map((v, i) => v ?? before?.[i] ?? Number.NaN));
    }
    for (const listener of this.listeners) listener(snapshot);
  }
}

export function metricLabels(channel: PointToPointChannel): { namespace: string; name: string } {
  return { namespace: channel.metadata.namespace ?? "default", name: channel.metadata.name };
}
