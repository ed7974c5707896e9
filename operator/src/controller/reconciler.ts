import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import { resolveChannel, validateChannel } from "../api/index.js";
import type { ResolvedChannel } from "../api/resolved.js";
import { FINALIZER, type PointToPointChannel } from "../api/types.js";
import { ackPendingShortfall, consumerEnv, workloadVerdict } from "../plan/index.js";
import { decideReplicas, initialScalingState, quietUntilMs, resumeAfterQuiet, type ScalingState } from "../scaling/index.js";
import type { OperatorMetrics } from "./metrics.js";
import {
  InvalidSecretError,
  SecretNotFoundError,
  verdictOf,
  type ChannelSource,
  type ConditionVerdict,
  type ConnectionResolver,
  type ConnectionTarget,
  type EventRecorder,
  type NatsSide,
  type NatsSyncResult,
  type QueueRead,
  type QueueReading,
  type WorkloadDriver,
  type WorkloadObservation,
} from "../ports/index.js";
import { sameReading } from "./queue-reading.js";
import { StatusWriter, metricLabels, type ChannelSnapshot } from "./status-writer.js";
import { subjectPolicyVerdict, type SubjectPolicy } from "./subject-policy.js";

export interface ReconcilerDeps {
  source: ChannelSource;
  nats: NatsSide;
  workload: WorkloadDriver;
  connections: ConnectionResolver;
  events: EventRecorder;
  log: Logger;
  metrics?: OperatorMetrics;
  subjectPolicy?: SubjectPolicy;
  /**
   * Hand a reconciled channel to the queue poller (duePolls/poll) instead of reconciling it again
   * every pollInterval: the spec reconcile then runs on watch events and the resync only.
   */
  pollLoop?: boolean;
  /** Write lag-only status changes on a budget (the Kubernetes API); see statusWriteDue. */
  statusBudget?: boolean;
  now?: () => number;
  /** How long a deleted channel waits for an unreachable NATS server before its finalizer is dropped anyway. */
  deletionGiveUpMs?: number;
}

/**
 * With the queue loop, how long a spec reconcile (a resync, a Deployment event) may reuse the
 * last NATS sync instead of reading stream and consumer again, while polls keep succeeding:
 * deletions on the server come back within a poll, edits to their config within this.
 */
export const NATS_RESYNC_MS = 5 * 60_000;

/** What the workload and status phases read of the NATS side. */
type QueueReadings = Pick<NatsSyncResult, "queue" | "deadLetters" | "server">;

/** A channel in the queue loop: what its last spec reconcile resolved, and when it is next due. */
interface PollEntry {
  channel: ResolvedChannel;
  target: ConnectionTarget;
  nextMs: number;
  last?: QueueReading;
  log: Logger;
  /** The source's object that `channel` was last checked against (see ChannelSource.peek). */
  seen: Readonly<PointToPointChannel> | null;
  /** Until when polls reading the same as `last` may be skipped (see workloadAndStatus); 0: not quiet. */
  quietUntilMs: number;
}

/** When to come back: a delay, "after a backoff" (something failed), or not until the channel changes. */
export type ReconcileResult = { requeueAfterMs: number } | { backoff: true } | { done: true };

/**
 * reconcile(key): gather (channel, NATS, workload) -> plan (conditions, scaling) -> apply
 * (finalizer, workload, scale) -> status written once, only if it changed.
 */
export class ChannelReconciler {
  private readonly scaling = new Map<string, ScalingState>();
  /** The last validation per channel: the spec only changes with its generation, the poll comes every few seconds. */
  private readonly validated = new Map<string, { version: string; issues: ReturnType<typeof validateChannel> }>();
  private readonly now: () => number;
  private readonly status: StatusWriter;
  /** Channels the queue poller reads, as their last successful spec reconcile left them. */
  private readonly polls = new Map<string, PollEntry>();
  /** Each channel's last successful NATS sync, reused by spec reconciles within NATS_RESYNC_MS while polls succeed. */
  private readonly synced = new Map<string, { version: string; targetId: string; atMs: number; result: NatsSyncResult }>();
  private readonly locks = new Map<string, Promise<void>>();
  /** The last poll each channel skipped as quiet, replayed into its scaling state before the next decision. */
  private readonly skipped = new Map<string, { nowMs: number; sampleAtMs: number }>();

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? Date.now;
    this.status = new StatusWriter({
      source: deps.source,
      events: deps.events,
      log: deps.log,
      metrics: deps.metrics,
      now: this.now,
      budget: deps.statusBudget ?? false,
      ratesOf: (key) => {
        const scaling = this.scaling.get(key);
        return { arrival: scaling?.arrivalRatePerSec ?? null, processing: scaling?.processingRatePerSec ?? null };
      },
    });
  }

  onSnapshot(listener: (snapshot: ChannelSnapshot) => void): void {
    this.status.onSnapshot(listener);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const channel = await this.deps.source.get(key);
    if (!channel) {
      this.forget(key);
      return { done: true };
    }
    const log = this.deps.log.child({ namespace: channel.metadata.namespace, name: channel.metadata.name });

    const issues = this.validate(key, channel);
    if (issues.length > 0) {
      const message = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
      if (channel.metadata.deletionTimestamp) return this.finalizeInvalid(channel, log);
      await this.status.write(channel, { invalid: { status: "False", reason: "InvalidSpec", message } });
      log.warn({ issues }, "channel spec is invalid; waiting for a change");
      return { done: true };
    }
    const resolved = resolveChannel(channel);
    const childLog = log.child({ stream: resolved.stream.name, consumer: resolved.consumer.name });
    this.deps.metrics?.maxReplicas.set(metricLabels(channel), resolved.scaling.maxReplicas);

    if (channel.metadata.deletionTimestamp) return this.finalize(channel, resolved, childLog);

    const policyVerdict = subjectPolicyVerdict(this.deps.subjectPolicy ?? "any", resolved);
    if (policyVerdict) {
      await this.status.write(channel, { invalid: policyVerdict });
      return { done: true };
    }

    try {
      await this.deps.source.setFinalizer(channel, true);
    } catch (err) {
      // Without the finalizer NATS is not touched: a deletion could leave the stream behind.
      await this.status.write(channel, { ready: phaseVerdict(err, "FinalizerFailed", `adding finalizer ${FINALIZER}`) });
      childLog.warn({ err: (err as Error).message }, "adding the finalizer failed");
      return { backoff: true };
    }

    let target: ConnectionTarget;
    try {
      target = await this.deps.connections.resolve(resolved);
    } catch (err) {
      const verdict = verdictOf(err, "ConnectionInvalid");
      childLog.warn({ reason: verdict.reason, err: (err as Error).message }, "cannot resolve the NATS connection");
      await this.status.write(channel, { stream: verdict, consumer: verdict, observed: await this.safeObserve(resolved) });
      // A missing or incomplete Secret is not watched (RBAC grants get only): look again next poll,
      // so the channel turns Ready within one poll of the Secret being fixed.
      if (err instanceof SecretNotFoundError || err instanceof InvalidSecretError) return { requeueAfterMs: resolved.scaling.pollIntervalMs };
      return { backoff: true };
    }

    let nats: NatsSyncResult | null = null;
    let natsFailed = false;
    const version = `${channel.metadata.uid}/${channel.metadata.generation}`;
    const synced = this.synced.get(key);
    const polled = this.polls.get(key)?.last;
    try {
      if (synced && polled && synced.version === version && synced.targetId === target.id && this.now() - synced.atMs < NATS_RESYNC_MS) {
        // The queue loop has read this channel's stream and consumer since: the NATS side stands
        // as the last sync left it (a deletion would have come back as a respec, which drops this).
        nats = { ...synced.result, queue: polled.queue, deadLetters: polled.deadLetters };
      } else {
        nats = await this.deps.nats.sync(resolved, target);
        this.synced.set(key, { version, targetId: target.id, atMs: this.now(), result: nats });
      }
    } catch (err) {
      this.synced.delete(key);
      natsFailed = true;
      const verdict = verdictOf(err, "NATSUnavailable");
      childLog.warn({ reason: verdict.reason, err: (err as Error).message }, "NATS side failed");
      nats = { stream: verdict, consumer: verdict, queue: null, deadLetters: null, server: null };
    }

    const outcome = await this.lock(key, () => this.workloadAndStatus(channel, resolved, target, nats, { stream: nats.stream, consumer: nats.consumer }, childLog));
    if (!outcome.ok) return { backoff: true };
    if (natsFailed) return { backoff: true };
    if (!this.deps.pollLoop) return { requeueAfterMs: resolved.scaling.pollIntervalMs };
    // The queue poller takes it from here, every pollInterval; the spec comes back on a watch event or the resync.
    this.polls.set(key, {
      channel: resolved,
      target,
      nextMs: this.now() + resolved.scaling.pollIntervalMs,
      last: this.polls.get(key)?.last,
      log: childLog,
      seen: null,
      quietUntilMs: 0,
    });
    return { done: true };
  }

  /**
   * The channels to poll now. Once any channel is due, every channel within half its pollInterval
   * of being due comes along, so the channels fall into one bulk read per interval instead of
   * one per tick; none is polled later than its interval, or more often than twice per interval.
   */
  duePolls(nowMs: number): QueueRead[] {
    let any = false;
    for (const entry of this.polls.values()) if ((any = entry.nextMs <= nowMs)) break;
    if (!any) return [];
    const due: QueueRead[] = [];
    for (const entry of this.polls.values()) {
      const intervalMs = entry.channel.scaling.pollIntervalMs;
      if (entry.nextMs > nowMs + intervalMs / 2) continue;
      entry.nextMs = nowMs + intervalMs;
      due.push({ channel: entry.channel, target: entry.target });
    }
    return due;
  }

  /**
   * One poll of the queue loop: scale and publish from a bulk reading, with the channel as the
   * last spec reconcile left it. A missing stream or consumer, a failed read or a changed spec
   * goes back to the spec reconcile ("respec"), which repairs and reports it.
   */
  async poll(key: string, reading: QueueReading | Error): Promise<"ok" | "respec"> {
    const entry = this.polls.get(key);
    // The cached channel, not a copy: at 1,000 channels a copy per poll was a third of the operator's CPU.
    const channel = this.deps.source.peek(key);
    if (!entry || !channel || channel.metadata.deletionTimestamp || reading instanceof Error || !reading.queue) return this.respec(key);
    // The object the last poll checked is unchanged (a source hands out a new one on every change).
    if (channel !== entry.seen) {
      if (!isDeepStrictEqual(resolveChannel(channel), entry.channel)) return this.respec(key);
      entry.seen = channel;
    }
    entry.last = reading;
    entry.quietUntilMs = 0;
    const outcome = await this.lock(key, () => this.workloadAndStatus(channel, entry.channel, entry.target, { ...reading, server: null }, {}, entry.log));
    if (!outcome.ok) return this.respec(key);
    entry.quietUntilMs = outcome.quietUntilMs;
    return "ok";
  }

  /**
   * A quiet poll, done at once and synchronously: the channel is the object the last poll
   * checked, the reading says what the last one said, and the policy said that reading keeps its
   * decision until now at least. No decision, no status, no metric changes; the next full poll
   * replays this one into the scaling state first. False when the poll has work to do (then
   * poll() does it).
   */
  skipQuiet(key: string, reading: QueueReading | Error): boolean {
    const entry = this.polls.get(key);
    // A spec reconcile or a poll of this channel under way decides for itself.
    if (!entry?.last || reading instanceof Error || !reading.queue || this.locks.has(key)) return false;
    const nowMs = this.now();
    if (nowMs >= entry.quietUntilMs || this.deps.source.peek(key) !== entry.seen || !sameReading(entry.last, reading)) return false;
    entry.last = reading;
    this.skipped.set(key, { nowMs, sampleAtMs: reading.queue.atMs });
    return true;
  }

  /** Back to the spec reconcile, with a full NATS sync. */
  private respec(key: string): "respec" {
    this.polls.delete(key);
    this.synced.delete(key);
    return "respec";
  }

  /**
   * Workload, scaling and status from a queue reading. ok is false when the workload or scale
   * phase failed (its conditions say why); quietUntilMs > now when polls reading the same may be
   * skipped until then: the policy says so, nothing was scaled, the stored status says it all,
   * and a change to the workload comes back as a spec reconcile.
   */
  private async workloadAndStatus(
    channel: PointToPointChannel,
    resolved: ResolvedChannel,
    target: ConnectionTarget,
    nats: QueueReadings,
    verdicts: { stream?: ConditionVerdict; consumer?: ConditionVerdict },
    log: Logger,
  ): Promise<{ ok: boolean; quietUntilMs: number }> {
    let scaled: Awaited<ReturnType<ChannelReconciler["scale"]>>;
    try {
      const observed = await this.applyWorkload(resolved, target, nats);
      scaled = await this.scale(channel, resolved, nats, observed, log);
    } catch (err) {
      // A refused write (403 names the verb and resource), a missing kind, a server error: the
      // channel's conditions say so, and Ready's change leaves one Event, instead of a silent retry.
      const verdict = verdictOf(err, "WorkloadFailed");
      log.warn({ reason: verdict.reason, err: verdict.message }, "workload phase failed");
      await this.status.write(channel, { ...verdicts, workload: verdict, scaling: verdict, observed: await this.safeObserve(resolved), nats });
      return { ok: false, quietUntilMs: 0 };
    }
    const written = await this.status.write(channel, {
      ...verdicts,
      workload: workloadVerdict(resolved, scaled.observed),
      scaling: scaled.verdict,
      observed: scaled.observed,
      nats,
      desiredReplicas: scaled.desired,
      lastScale: scaled.lastScale,
    });
    // scale() says 0 when it scaled; a status still to write, or a workload nobody watches, is not quiet either.
    const quiet = written === "same" && scaled.observed.watched === true;
    return { ok: true, quietUntilMs: quiet ? scaled.quietUntilMs : 0 };
  }

  /** Runs fn after any other holder of the key's lock: a poll and a spec reconcile of one channel never interleave. */
  private async lock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    }
  }

  private async finalize(channel: PointToPointChannel, resolved: ResolvedChannel, log: Logger): Promise<ReconcileResult> {
    try {
      const target = await this.deps.connections.resolve(resolved);
      await this.deps.nats.finalize(resolved, target);
    } catch (err) {
      // Retain leaves the server as it is, so nothing there has to answer; Delete waits for it, up to a point.
      if (resolved.deletionPolicy === "Delete") {
        const { reason, message } = verdictOf(err, "NATSUnavailable");
        const ageMs = this.now() - Date.parse(channel.metadata.deletionTimestamp ?? "");
        const giveUpMs = this.deps.deletionGiveUpMs ?? 5 * 60_000;
        if (!(ageMs >= giveUpMs)) {
          log.warn({ reason, err: message }, "cannot delete the NATS side yet; retrying");
          this.deps.events.record(channel, "Warning", "DeletionBlocked", `cannot delete stream ${resolved.stream.name} (${reason}): ${message}`);
          return { backoff: true };
        }
        this.deps.events.record(
          channel,
          "Warning",
          reason,
          `gave up deleting stream ${resolved.stream.name} after ${Math.round(ageMs / 1000)}s (${message}): the NATS side is left as it is`,
        );
      }
    }
    try {
      await this.deps.workload.release(resolved);
      await this.deps.source.setFinalizer(channel, false);
    } catch (err) {
      await this.status.write(channel, { ready: phaseVerdict(err, "FinalizerFailed", `removing finalizer ${FINALIZER}`) });
      log.warn({ err: (err as Error).message }, "finishing the deletion failed");
      return { backoff: true };
    }
    this.forget(resolved.key);
    log.info({ deletionPolicy: resolved.deletionPolicy }, "channel finalized");
    return { done: true };
  }

  /** A channel deleted while its spec is invalid: finalize what can still be named, never block the deletion. */
  private async finalizeInvalid(channel: PointToPointChannel, log: Logger): Promise<ReconcileResult> {
    let resolved: ResolvedChannel;
    try {
      resolved = resolveChannel(channel);
    } catch (err) {
      log.warn({ err: (err as Error).message }, "deleted channel's spec cannot be resolved: the NATS side is left as it is");
      await this.deps.source.setFinalizer(channel, false);
      this.forget(`${channel.metadata.namespace ?? "default"}/${channel.metadata.name}`);
      return { done: true };
    }
    return this.finalize(channel, resolved, log);
  }

  private async applyWorkload(resolved: ResolvedChannel, target: ConnectionTarget, nats: QueueReadings): Promise<WorkloadObservation> {
    const observed = await this.deps.workload.observe(resolved);
    if (resolved.workload.kind !== "template" || observed.blocked) return observed;
    // A new workload starts at what the policy would pick for the current lag; an existing one keeps its count.
    const initial = observed.exists
      ? observed.replicas
      : Math.min(resolved.scaling.maxReplicas, Math.max(resolved.scaling.minReplicas, nats.queue && nats.queue.lag > 0 ? 1 : 0));
    await this.deps.workload.ensure(resolved, consumerEnv(resolved, target), target, initial);
    return observed.exists ? observed : this.deps.workload.observe(resolved);
  }

  private async scale(
    channel: PointToPointChannel,
    resolved: ResolvedChannel,
    nats: QueueReadings,
    observed: WorkloadObservation,
    log: Logger,
  ) {
    const key = resolved.key;
    const nowMs = this.now();
    if (!observed.exists || observed.blocked) {
      const verdict = observed.blocked ?? { status: "False" as const, reason: "WorkloadMissing", message: "the workload does not exist" };
      return { observed, desired: observed.replicas, verdict, lastScale: null, quietUntilMs: 0 };
    }
    const queue = nats.queue;
    const input = {
      nowMs,
      scaling: resolved.scaling,
      paused: resolved.paused,
      currentReplicas: observed.replicas,
      sample: queue ? { atMs: queue.atMs, lag: queue.lag, streamLastSeq: queue.stream.lastSeq, streamMessages: queue.stream.messages } : null,
    };
    let state = this.scaling.get(key) ?? initialScalingState();
    const skipped = this.skipped.get(key);
    if (skipped) {
      state = resumeAfterQuiet(state, skipped);
      this.skipped.delete(key);
    }
    const decision = decideReplicas(input, state);
    this.scaling.set(key, decision.state);
    const shortfall = ackPendingShortfall(resolved.consumer.maxAckPending, resolved.scaling.maxReplicas);
    const verdict = {
      status: decision.active ? ("True" as const) : ("False" as const),
      reason: decision.activeReason,
      message: shortfall ? `${decision.reason}; ${shortfall.message}` : decision.reason,
    };
    if (decision.desiredReplicas === observed.replicas) {
      return { observed, desired: decision.desiredReplicas, verdict, lastScale: null, quietUntilMs: quietUntilMs(input, decision) };
    }
    const from = observed.replicas;
    await this.deps.workload.scale(resolved, decision.desiredReplicas);
    const direction = decision.desiredReplicas > from ? "up" : "down";
    this.deps.metrics?.scaleEvents.inc({ namespace: resolved.owner.namespace, name: resolved.owner.name, direction });
    this.deps.events.record(channel, "Normal", "Scaled", `scaled ${from}→${decision.desiredReplicas}: ${decision.reason}`);
    log.info({ from, to: decision.desiredReplicas, reason: decision.reason }, "scaled");
    return {
      observed: { ...observed, replicas: decision.desiredReplicas },
      desired: decision.desiredReplicas,
      verdict,
      lastScale: { time: new Date(nowMs).toISOString(), reason: decision.reason },
      quietUntilMs: 0,
    };
  }

  private async safeObserve(resolved: ResolvedChannel): Promise<WorkloadObservation | undefined> {
    try {
      return await this.deps.workload.observe(resolved);
    } catch {
      return undefined;
    }
  }

  private validate(key: string, channel: PointToPointChannel): ReturnType<typeof validateChannel> {
    const { uid, generation } = channel.metadata;
    if (uid === undefined || generation === undefined) return validateChannel(channel);
    const version = `${uid}/${generation}/${channel.apiVersion}/${channel.kind}`;
    const cached = this.validated.get(key);
    if (cached?.version === version) return cached.issues;
    const issues = validateChannel(channel);
    this.validated.set(key, { version, issues });
    return issues;
  }

  private forget(key: string): void {
    this.scaling.delete(key);
    this.skipped.delete(key);
    this.polls.delete(key);
    this.synced.delete(key);
    this.status.forget(key);
    this.validated.delete(key);
    const m = this.deps.metrics;
    if (m) {
      const [namespace = "", name = ""] = key.split("/");
      for (const g of m.channelGauges) g.delete({ namespace, name });
    }
  }
}

/** A failed phase as Ready's verdict: a typed error keeps its reason (a 403 is Forbidden, naming verb and resource). */
function phaseVerdict(err: unknown, fallbackReason: string, doing: string): ConditionVerdict {
  const verdict = verdictOf(err, fallbackReason);
  return { ...verdict, message: `${doing}: ${verdict.message}` };
}
