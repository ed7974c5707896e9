// The in-memory "etcd": objects by storage key, one global resourceVersion counter,
// and an event log that watches replay from. The log is bounded; events that fall off
// it (or are dropped by compact()) are "compacted": watching from before them is 410.
import { gone } from "./errors.js";
import { clone } from "./objects.js";
import type { KubeObject } from "./objects.js";

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  rv: number;
  type: EventType;
  storageKey: string;
  object: KubeObject;
  /** The object before this change (MODIFIED and DELETED). */
  previous?: KubeObject;
}

type Listener = (event: StoreEvent) => void;

function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

export class ObjectStore {
  private rv: number;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly byUid = new Map<string, { storageKey: string; key: string }>();
  private log: StoreEvent[] = [];
  private readonly listeners = new Set<Listener>();
  /** Watching or listing from a resourceVersion below this answers 410 Gone. */
  compactedRv: number;

  constructor(
    private readonly logCapacity = 10_000,
    startRv = 1000,
  ) {
    this.rv = startRv;
    this.compactedRv = startRv;
  }

  currentRv(): number {
    return this.rv;
  }

  private bucket(storageKey: string): Map<string, KubeObject> {
    let bucket = this.objects.get(storageKey);
    if (!bucket) {
      bucket = new Map();
      this.objects.set(storageKey, bucket);
    }
    return bucket;
  }

  get(storageKey: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const obj = this.objects.get(storageKey)?.get(objectKey(namespace, name));
    return obj ? clone(obj) : undefined;
  }

  /** Objects sorted like etcd keys (namespace, then name). */
  list(storageKey: string, namespace?: string): KubeObject[] {
    const bucket = this.objects.get(storageKey);
    if (!bucket) return [];
    const keys = [...bucket.keys()].sort();
    const out: KubeObject[] = [];
    for (const key of keys) {
      const obj = bucket.get(key) as KubeObject;
      if (namespace !== undefined && obj.metadata.namespace !== namespace) continue;
      out.push(clone(obj));
    }
    return out;
  }

  findByUid(uid: string): { storageKey: string; object: KubeObject } | undefined {
    const ref = this.byUid.get(uid);
    if (!ref) return undefined;
    const obj = this.objects.get(ref.storageKey)?.get(ref.key);
    return obj ? { storageKey: ref.storageKey, object: clone(obj) } : undefined;
  }

  private record(event: StoreEvent): void {
    this.log.push(event);
    if (this.log.length > this.logCapacity) {
      const dropped = this.log.splice(0, this.log.length - this.logCapacity);
      this.compactedRv = dropped[dropped.length - 1]?.rv ?? this.compactedRv;
    }
    for (const listener of [...this.listeners]) listener(event);
  }

  create(storageKey: string, obj: KubeObject): KubeObject {
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    const key = objectKey(stored.metadata.namespace, stored.metadata.name ?? "");
    this.bucket(storageKey).set(key, stored);
    if (stored.metadata.uid) this.byUid.set(stored.metadata.uid, { storageKey, key });
    this.record({ rv: this.rv, type: "ADDED", storageKey, object: clone(stored) });
    return clone(stored);
  }

  update(storageKey: string, obj: KubeObject): KubeObject {
    const key = objectKey(obj.metadata.namespace, obj.metadata.name ?? "");
    const bucket = this.bucket(storageKey);
    const previous = bucket.get(key);
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    bucket.set(key, stored);
    const event: StoreEvent = { rv: this.rv, type: "MODIFIED", storageKey, object: clone(stored) };
    if (previous) event.previous = clone(previous);
    this.record(event);
    return clone(stored);
  }

  /** Removes the object; like etcd, the deletion gets its own resourceVersion. */
  remove(storageKey: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const key = objectKey(namespace, name);
    const bucket = this.objects.get(storageKey);
    const previous = bucket?.get(key);
    if (!bucket || !previous) return undefined;
    bucket.delete(key);
    if (previous.metadata.uid) this.byUid.delete(previous.metadata.uid);
    const deleted = clone(previous);
    deleted.metadata.resourceVersion = String(++this.rv);
    this.record({ rv: this.rv, type: "DELETED", storageKey, object: clone(deleted), previous: clone(previous) });
    return deleted;
  }

  /** Events after rv for one storage key; throws 410 Gone when rv is compacted. */
  eventsSince(rv: number, storageKey: string): StoreEvent[] {
    this.assertNotCompacted(rv);
    return this.log.filter((e) => e.rv > rv && e.storageKey === storageKey).map((e) => clone(e));
  }

  assertNotCompacted(rv: number): void {
    if (rv < this.compactedRv) {
      throw gone(`too old resource version: ${rv} (${this.compactedRv})`);
    }
  }

  /** Forgets history: every resourceVersion before the current one becomes 410 Gone. */
  compact(): void {
    this.log = [];
    this.compactedRv = this.rv;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
