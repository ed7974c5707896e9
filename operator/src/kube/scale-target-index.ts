import type { Informer } from "./informer.js";
import type { ChannelObject } from "./objects.js";

/**
 * Channels by the workload their scaleTargetRef names, kept up to date from the channel
 * informer, so that the ScaleTargetConflict check of a reconcile looks at the channels that
 * share its target instead of scanning every channel of the namespace on every poll (with a
 * thousand channels that scan was O(N) per reconcile, O(N^2) per poll interval).
 */
export class ScaleTargetIndex {
  private readonly byTarget = new Map<string, Map<string, ChannelObject>>();
  /** channel namespace/name -> the target key it is filed under. */
  private readonly filedUnder = new Map<string, string>();

  constructor(channels: Informer<ChannelObject>) {
    channels.on({
      onAdd: (c) => this.file(c),
      onUpdate: (_previous, c) => this.file(c),
      onDelete: (c) => this.unfile(channelKeyOf(c)),
    });
    // Whatever the informer already holds (handlers only see what happens from now on).
    for (const c of channels.list()) this.file(c);
  }

  /** The channels (any state) whose scaleTargetRef names kind/name in this namespace. */
  channelsTargeting(namespace: string, kind: string, name: string): ChannelObject[] {
    return [...(this.byTarget.get(targetKey(namespace, kind, name))?.values() ?? [])];
  }

  private file(c: ChannelObject): void {
    const key = channelKeyOf(c);
    const ref = c.spec?.workload?.scaleTargetRef;
    const target = ref?.name ? targetKey(c.metadata.namespace ?? "", ref.kind ?? "Deployment", ref.name) : null;
    if (this.filedUnder.get(key) !== target) this.unfile(key);
    if (target === null) return;
    let entry = this.byTarget.get(target);
    if (!entry) this.byTarget.set(target, (entry = new Map()));
    entry.set(key, c);
    this.filedUnder.set(key, target);
  }

  private unfile(key: string): void {
    const target = this.filedUnder.get(key);
    if (target === undefined) return;
    this.filedUnder.delete(key);
    const entry = this.byTarget.get(target);
    entry?.delete(key);
    if (entry?.size === 0) this.byTarget.delete(target);
  }
}

function channelKeyOf(c: ChannelObject): string {
  return `${c.metadata.namespace ?? ""}/${c.metadata.name}`;
}

function targetKey(namespace: string, kind: string, name: string): string {
  return `${namespace}\u0000${kind}\u0000${name}`;
}
