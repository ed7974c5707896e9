import type { Logger } from "pino";
import type { Lease } from "./objects.js";
import { collectionPath, isAlreadyExists, isConflict, isNotFound, objectPath, type KubeRest } from "./rest.js";

// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// every write is guarded by resourceVersion (409 = someone else got there first), a lease is
// taken over only after it has gone unrenewed for leaseDuration as measured on *our* clock
// (never by comparing timestamps written by another machine), and a leader that cannot renew
// within renewDeadline steps down.

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onLeaderChange?: (identity: string | null) => void;
}

export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private lastRenewMs = 0;
  /** The lease as last read, and when we first saw it in that state (for expiry on our clock). */
  private observed: { holder: string | null; renewTime: string | null; resourceVersion: string; atMs: number } | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly rest: KubeRest,
    private readonly options: LeaderElectionOptions,
  ) {
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private get path(): string {
    return objectPath("coordination.k8s.io", "v1", "leases", this.options.namespace, this.options.name);
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops electing; a leader gives the lease up so a standby takes over at once. */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (release && this.leading) await this.release();
    this.leading = false;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => this.schedule(this.retryPeriodMs * (this.leading ? 1 : 1 + 0.2 * Math.random())));
    }, delayMs);
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew(now);
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message, lease: this.options.name }, "lease request failed");
    }
    if (this.stopped) return;
    if (ok) {
      this.lastRenewMs = now;
      if (!this.leading) {
        this.leading = true;
        this.options.log.info({ identity: this.options.identity, lease: `${this.options.namespace}/${this.options.name}` }, "became leader");
        this.options.onStartedLeading();
      }
      return;
    }
    if (this.leading && Date.now() - this.lastRenewMs > this.renewDeadlineMs) {
      this.leading = false;
      this.stopped = true;
      this.options.log.error({ identity: this.options.identity }, "could not renew the lease within the renew deadline; stepping down");
      this.options.onStoppedLeading();
    }
  }

  /** One attempt; true when we hold the lease afterwards. */
  private async tryAcquireOrRenew(now: number): Promise<boolean> {
    const nowIso = microTime(now);
    let lease: Lease;
    try {
      lease = await this.rest.get<Lease>(this.path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await this.rest.create(collectionPath("coordination.k8s.io", "v1", "leases", this.options.namespace), {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.options.name, namespace: this.options.namespace },
          spec: this.spec(nowIso, nowIso, 0),
        });
        return true;
      } catch (createErr) {
        if (isAlreadyExists(createErr) || isConflict(createErr)) return false;
        throw createErr;
      }
    }

    const holder = lease.spec.holderIdentity || null;
    const renewTime = lease.spec.renewTime ?? null;
    if (!this.observed || this.observed.holder !== holder || this.observed.renewTime !== renewTime) {
      this.observed = { holder, renewTime, resourceVersion: lease.metadata.resourceVersion ?? "", atMs: now };
      this.options.onLeaderChange?.(holder);
    }
    const durationMs = (lease.spec.leaseDurationSeconds ?? this.leaseDurationMs / 1000) * 1000;
    const mine = holder === this.options.identity;
    const expired = holder === null || this.observed.atMs + durationMs <= now;
    if (!mine && !expired) return false;

    const transitions = lease.spec.leaseTransitions ?? 0;
    const spec = mine
      ? this.spec(lease.spec.acquireTime ?? nowIso, nowIso, transitions)
      : this.spec(nowIso, nowIso, transitions + 1);
    try {
      const updated = await this.rest.replace<Lease>(this.path, { ...lease, spec });
      this.observed = {
        holder: this.options.identity,
        renewTime: updated.spec.renewTime ?? nowIso,
        resourceVersion: updated.metadata.resourceVersion ?? "",
        atMs: now,
      };
      return true;
    } catch (err) {
      if (isConflict(err)) return false; // lost the race to another candidate
      throw err;
    }
  }

  private spec(acquireTime: string, renewTime: string, leaseTransitions: number): Lease["spec"] {
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.round(this.leaseDurationMs / 1000),
      acquireTime,
      renewTime,
      leaseTransitions,
    };
  }

  /** Like client-go's ReleaseOnCancel: empty holder and a 1 s duration so a standby need not wait. */
  private async release(): Promise<void> {
    try {
      const lease = await this.rest.get<Lease>(this.path);
      if (lease.spec.holderIdentity !== this.options.identity) return;
      const nowIso = microTime(Date.now());
      await this.rest.replace(this.path, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: nowIso, acquireTime: nowIso },
      });
      this.options.log.info({ lease: `${this.options.namespace}/${this.options.name}` }, "released the lease");
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message }, "could not release the lease; a standby takes over when it expires");
    }
  }
}

/** metav1.MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
