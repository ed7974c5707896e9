import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { PointToPointChannel } from "../api/types.js";
import type { EventRecorder, EventType } from "../ports/index.js";
import { isNotFound, type KubeRest } from "./rest.js";

// core/v1 Events for channels. The same cause (object, type, reason, message) becomes one Event
// whose count and lastTimestamp grow, as client-go's EventCorrelator does, never one per poll.

/** Kubernetes rejects event messages over 1 KiB. */
const MAX_MESSAGE = 1024;
/** After this long without a repeat, a cause gets a fresh Event (the old one has likely expired). */
const AGGREGATE_WINDOW_MS = 10 * 60_000;

export interface EventIdentity {
  namespace: string;
  name: string;
  uid: string;
  type: EventType;
  reason: string;
  message: string;
}

export type EventDecision =
  | { action: "create"; eventName: string; count: 1; firstTimestamp: string }
  | { action: "patch"; eventName: string; count: number; firstTimestamp: string };

/** Decides, purely, whether a recorded event is new or a repeat of one already written. */
export class EventAggregator {
  private readonly seen = new Map<string, { eventName: string; count: number; firstTimestamp: string; lastMs: number }>();

  constructor(
    private readonly windowMs = AGGREGATE_WINDOW_MS,
    private readonly newName: (objectName: string, nowMs: number) => string = defaultEventName,
  ) {}

  next(event: EventIdentity, nowMs: number): EventDecision {
    const key = identityKey(event);
    const prior = this.seen.get(key);
    if (prior && nowMs - prior.lastMs <= this.windowMs) {
      prior.count += 1;
      prior.lastMs = nowMs;
      return { action: "patch", eventName: prior.eventName, count: prior.count, firstTimestamp: prior.firstTimestamp };
    }
    const firstTimestamp = new Date(nowMs).toISOString();
    const eventName = this.newName(event.name, nowMs);
    this.seen.set(key, { eventName, count: 1, firstTimestamp, lastMs: nowMs });
    this.prune(nowMs);
    return { action: "create", eventName, count: 1, firstTimestamp };
  }

  /** The write failed or the Event vanished: the next occurrence starts a new Event. */
  forget(event: EventIdentity): void {
    this.seen.delete(identityKey(event));
  }

  get size(): number {
    return this.seen.size;
  }

  private prune(nowMs: number): void {
    for (const [key, entry] of this.seen) if (nowMs - entry.lastMs > this.windowMs) this.seen.delete(key);
  }
}

function identityKey(e: EventIdentity): string {
  return JSON.stringify([e.namespace, e.name, e.uid, e.type, e.reason, e.message]);
}

function defaultEventName(objectName: string, nowMs: number): string {
  return `${objectName}.${nowMs.toString(16)}${randomBytes(3).toString("hex")}`;
}

export class KubeEventRecorder implements EventRecorder {
  private readonly aggregator = new EventAggregator();
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly rest: Pick<KubeRest, "create" | "patch">,
    private readonly log: Logger,
    private readonly instance: string,
    private readonly now: () => number = Date.now,
  ) {}

  record(channel: PointToPointChannel, type: EventType, reason: string, message: string): void {
    const identity: EventIdentity = {
      namespace: channel.metadata.namespace ?? "default",
      name: channel.metadata.name,
      uid: channel.metadata.uid ?? "",
      type,
      reason,
      message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message,
    };
    this.log.debug({ namespace: identity.namespace, name: identity.name, type, reason }, "event");
    // One write at a time keeps create-then-patch of the same Event in order.
    this.chain = this.chain.then(() => this.write(channel, identity)).catch(() => {});
  }

  /** Resolves once every recorded event has been written (or given up on). */
  async flush(): Promise<void> {
    await this.chain;
  }

  private async write(channel: PointToPointChannel, e: EventIdentity): Promise<void> {
    const nowIso = new Date(this.now()).toISOString();
    const decision = this.aggregator.next(e, this.now());
    const collection = `/api/v1/namespaces/${encodeURIComponent(e.namespace)}/events`;
    try {
      if (decision.action === "patch") {
        try {
          await this.rest.patch(`${collection}/${decision.eventName}`, "merge", { count: decision.count, lastTimestamp: nowIso });
          return;
        } catch (err) {
          if (!isNotFound(err)) throw err;
          this.aggregator.forget(e);
          return this.write(channel, e);
        }
      }
      await this.rest.create(collection, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: decision.eventName, namespace: e.namespace },
        involvedObject: {
          apiVersion: channel.apiVersion,
          kind: channel.kind,
          name: e.name,
          namespace: e.namespace,
          uid: e.uid,
          resourceVersion: channel.metadata.resourceVersion,
        },
        reason: e.reason,
        message: e.message,
        type: e.type,
        count: 1,
        firstTimestamp: decision.firstTimestamp,
        lastTimestamp: nowIso,
        source: { component: "p2p-operator" },
        reportingComponent: "messaging.p2p.dev/p2p-operator",
        reportingInstance: this.instance,
      });
    } catch (err) {
      // Events are advisory: a failed write must not fail the reconcile that recorded it.
      this.aggregator.forget(e);
      this.log.warn({ namespace: e.namespace, name: e.name, reason: e.reason, err: (err as Error).message }, "could not write event");
    }
  }
}
