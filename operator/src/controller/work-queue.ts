// A keyed work queue in the manner of client-go's: adding a key that is already waiting folds
// into one entry, a key being processed is never handed out twice at once (a re-add while it runs
// is remembered and served after), delayed adds keep the earliest due time, and failures back off
// exponentially per key until forget().

export interface WorkQueueOptions {
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  now?: () => number;
}

export class WorkQueue {
  private readonly ready: string[] = [];
  private readonly readySet = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirtyWhileProcessing = new Set<string>();
  private readonly delayed = new Map<string, { dueMs: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly waiters: Array<(key: string | null) => void> = [];
  private shuttingDown = false;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly now: () => number;

  constructor(options: WorkQueueOptions = {}) {
    this.baseBackoffMs = options.baseBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Keys waiting to run (ready or delayed), for the workqueue_depth metric. */
  get depth(): number {
    return this.ready.length;
  }

  get delayedCount(): number {
    return this.delayed.size;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    const pending = this.delayed.get(key);
    if (pending) {
      clearTimeout(pending.timer);
      this.delayed.delete(key);
    }
    if (this.processing.has(key)) {
      this.dirtyWhileProcessing.add(key);
      return;
    }
    if (this.readySet.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.ready.push(key);
    this.readySet.add(key);
  }

  /** Adds the key after delayMs; an earlier pending due time wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const dueMs = this.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.dueMs <= dueMs) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref?.();
    this.delayed.set(key, { dueMs, timer });
  }

  /** Re-adds after an exponential per-key backoff; returns the delay used. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** n);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the key's failure count (after a successful reconcile). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Waits for the next key; null once shut down. The caller must call done(key). */
  async get(): Promise<string | null> {
    if (this.shuttingDown) return null;
    const key = this.ready.shift();
    if (key !== undefined) {
      this.readySet.delete(key);
      this.processing.add(key);
      return key;
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirtyWhileProcessing.delete(key)) this.add(key);
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    for (const waiter of this.waiters.splice(0)) waiter(null);
  }
}

/** ±10% jitter so that a thousand channels do not resync in lockstep. */
export function jitter(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.9 + 0.2 * random()));
}
