// The garbage collector and namespace lifecycle, the two kube-controller-manager loops
// whose effects clients observe: dependents whose owners are all gone are deleted
// (background cascade); foreground and orphan deletion finish their finalizers; a
// deleted namespace is emptied and then removed.
import { ApiError } from "./errors.js";
import { clone } from "./objects.js";
import type { KubeObject, OwnerReference } from "./objects.js";
import type { ResourceRegistry, ResourceType } from "./resources.js";
import type { RestApi, Target, WriteOptions } from "./rest.js";
import type { ObjectStore } from "./store.js";

const GC_OPTIONS: WriteOptions = { query: new URLSearchParams(), userAgent: "generic-garbage-collector/v1.33.0" };
const NS_OPTIONS: WriteOptions = { query: new URLSearchParams(), userAgent: "namespace-controller/v1.33.0" };

function targetOf(rt: ResourceType, obj: KubeObject): Target {
  const t: Target = { rt, name: obj.metadata.name ?? "" };
  if (obj.metadata.namespace) t.namespace = obj.metadata.namespace;
  return t;
}

function ignoreGone(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError && (err.code === 404 || err.code === 409)) return;
    throw err;
  }
}

export class GarbageCollector {
  private scheduled = false;
  private closed = false;
  /** A deletion happened: every object may have lost an owner. */
  private sweepAll = false;
  /** Objects created with owners: only their own owners need checking (a sweep of everything per create is quadratic). */
  private readonly added: { storageKey: string; obj: KubeObject }[] = [];

  constructor(
    private readonly api: RestApi,
    private readonly store: ObjectStore,
    private readonly registry: ResourceRegistry,
  ) {
    api.onDeletion = () => this.schedule(true);
    store.subscribe((event) => {
      if (event.type === "ADDED" && (event.object.metadata.ownerReferences?.length ?? 0) > 0) {
        this.added.push({ storageKey: event.storageKey, obj: event.object });
        this.schedule(false);
      }
      if (event.type === "MODIFIED" && event.object.metadata.deletionTimestamp) this.schedule(true);
    });
  }

  schedule(everything = true): void {
    if (everything) this.sweepAll = true;
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.closed) return;
      const added = this.added.splice(0);
      if (this.sweepAll) {
        this.sweepAll = false;
        for (let pass = 0; pass < 20 && this.sweep(); pass++);
        return;
      }
      let changed = false;
      for (const { storageKey, obj } of added) {
        const rt = this.api.typeFor(storageKey) ?? this.registry.all().find((r) => r.storageKey === storageKey);
        const current = rt && this.store.get(storageKey, obj.metadata.namespace, obj.metadata.name ?? "");
        if (rt && current && current.metadata.uid === obj.metadata.uid && this.collectIfOrphaned(rt, current)) changed = true;
      }
      // Deleting an orphan may orphan its own dependents.
      if (changed) this.schedule(true);
    });
  }

  /** Deletes an object whose owners are all gone, or drops the references to the gone ones; true when it acted. */
  private collectIfOrphaned(rt: ResourceType, obj: KubeObject): boolean {
    const refs = obj.metadata.ownerReferences ?? [];
    if (refs.length === 0 || obj.metadata.deletionTimestamp) return false;
    const live = refs.filter((r) => this.ownerExists(r));
    if (live.length === refs.length) return false;
    if (live.length === 0) {
      ignoreGone(() => this.api.delete(targetOf(rt, obj), { propagationPolicy: "Background" }, GC_OPTIONS));
    } else {
      const next = clone(obj);
      next.metadata.ownerReferences = live;
      this.writeMetadata(rt, next, GC_OPTIONS);
    }
    return true;
  }

  close(): void {
    this.closed = true;
  }

  private everything(): { rt: ResourceType; obj: KubeObject }[] {
    const seen = new Set<string>();
    const out: { rt: ResourceType; obj: KubeObject }[] = [];
    for (const rt of this.registry.all()) {
      if (seen.has(rt.storageKey)) continue;
      seen.add(rt.storageKey);
      const served = this.api.typeFor(rt.storageKey) ?? rt;
      for (const obj of this.store.list(rt.storageKey)) out.push({ rt: served, obj });
    }
    return out;
  }

  private ownerExists(ref: OwnerReference): boolean {
    return this.store.findByUid(ref.uid) !== undefined;
  }

  private dependentsOf(all: { rt: ResourceType; obj: KubeObject }[], uid: string): { rt: ResourceType; obj: KubeObject }[] {
    return all.filter(({ obj }) => (obj.metadata.ownerReferences ?? []).some((r) => r.uid === uid));
  }

  private writeMetadata(rt: ResourceType, obj: KubeObject, options: WriteOptions): void {
    ignoreGone(() => this.api.update(targetOf(rt, obj), this.api.toWire(rt, obj), options));
  }

  private removeFinalizer(rt: ResourceType, obj: KubeObject, finalizer: string): void {
    const next = clone(obj);
    next.metadata.finalizers = (next.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    this.writeMetadata(rt, next, GC_OPTIONS);
  }

  /** One pass over everything; true when it changed something. */
  private sweep(): boolean {
    let changed = false;
    const all = this.everything();
    for (const { rt, obj } of all) {
      const uid = obj.metadata.uid ?? "";
      const finalizers = obj.metadata.finalizers ?? [];
      if (obj.metadata.deletionTimestamp && finalizers.includes("orphan")) {
        for (const dep of this.dependentsOf(all, uid)) {
          const next = clone(dep.obj);
          next.metadata.ownerReferences = (next.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
          if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
          this.writeMetadata(dep.rt, next, GC_OPTIONS);
        }
        this.removeFinalizer(rt, obj, "orphan");
        changed = true;
        continue;
      }
      if (obj.metadata.deletionTimestamp && finalizers.includes("foregroundDeletion")) {
        const dependents = this.dependentsOf(all, uid);
        for (const dep of dependents) {
          if (!dep.obj.metadata.deletionTimestamp) {
            ignoreGone(() => this.api.delete(targetOf(dep.rt, dep.obj), { propagationPolicy: "Foreground" }, GC_OPTIONS));
            changed = true;
          }
        }
        if (dependents.length === 0) {
          this.removeFinalizer(rt, obj, "foregroundDeletion");
          changed = true;
        }
        continue;
      }
      if (this.collectIfOrphaned(rt, obj)) changed = true;
    }
    if (this.finalizeNamespaces(all)) changed = true;
    return changed;
  }

  /** Empties namespaces being deleted, then lets them go. */
  private finalizeNamespaces(all: { rt: ResourceType; obj: KubeObject }[]): boolean {
    let changed = false;
    for (const { rt, obj } of all) {
      if (rt.kind !== "Namespace" || !obj.metadata.deletionTimestamp) continue;
      const ns = obj.metadata.name;
      const contents = all.filter(({ rt: r, obj: o }) => r.namespaced && o.metadata.namespace === ns);
      for (const item of contents) {
        if (!item.obj.metadata.deletionTimestamp) {
          ignoreGone(() => this.api.delete(targetOf(item.rt, item.obj), { propagationPolicy: "Background" }, NS_OPTIONS));
          changed = true;
        }
      }
      if (contents.length === 0) {
        const spec = (obj["spec"] ?? {}) as { finalizers?: string[] };
        if ((spec.finalizers ?? []).length > 0) {
          const next = clone(obj);
          next["spec"] = { ...spec, finalizers: [] };
          ignoreGone(() => this.api.update({ ...targetOf(rt, obj), subresource: "finalize" }, this.api.toWire(rt, next), NS_OPTIONS));
          changed = true;
        }
      }
    }
    return changed;
  }
}
