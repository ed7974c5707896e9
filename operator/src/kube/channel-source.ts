import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import { API_GROUP, API_VERSION, FINALIZER, KIND, PLURAL, channelKey, type ChannelStatus, type PointToPointChannel } from "../api/types.js";
import type { ChannelSource } from "../ports/index.js";
import { sameForChannels } from "./cache-shape.js";
import { allInformers, type KubeInformers } from "./informers.js";
import { mergePatch } from "./merge-patch.js";
import type { ChannelObject, Deployment, HorizontalPodAutoscaler } from "./objects.js";
import { isConflict, isNotFound, objectPath, type KubeObject, type KubeRest } from "./rest.js";

/**
 * Channels from the Kubernetes API. Watch events only enqueue keys: a channel's own change,
 * and a change to anything it depends on (its owned Deployment, its scaleTargetRef, an HPA on its
 * target) enqueue the channel. Secrets are not watched (RBAC grants `get` only): a channel
 * waiting for its Secret polls for it. A channel's own status-only updates do not, or every
 * status write would trigger the next reconcile.
 */
export class KubeChannelSource implements ChannelSource {
  private onChange: ((key: string) => void) | null = null;
  private warming: Promise<void> | null = null;

  constructor(
    private readonly rest: KubeRest,
    private readonly informers: KubeInformers,
    private readonly log: Logger,
  ) {
    this.wire();
  }

  /**
   * Starts the informers without reconciling: a standby keeps warm caches (and reports ready)
   * so that taking over the lease costs no relist.
   */
  warmUp(): Promise<void> {
    this.warming ??= Promise.all(allInformers(this.informers).map((i) => i.start())).then(() => {
      this.log.info({ channels: this.informers.channels.list().length }, "caches synced");
    });
    return this.warming;
  }

  async start(onChange: (key: string) => void): Promise<void> {
    await this.warmUp();
    this.onChange = onChange;
    // Events seen while warming up went nowhere: every known channel gets a first look now.
    for (const key of this.keys()) onChange(key);
  }

  async stop(): Promise<void> {
    this.onChange = null;
    for (const informer of allInformers(this.informers)) informer.stop();
  }

  get synced(): boolean {
    return allInformers(this.informers).every((i) => i.synced);
  }

  async get(key: string): Promise<PointToPointChannel | null> {
    const cached = this.peek(key);
    return cached ? structuredClone(cached) : null;
  }

  /** The informer's object (deeply frozen); a new object after every change, our own writes included. */
  peek(key: string): PointToPointChannel | null {
    const [namespace = "", name = ""] = splitKey(key);
    return this.informers.channels.get(namespace, name) ?? null;
  }

  keys(): string[] {
    return this.informers.channels.list().map((c) => channelKey(c.metadata));
  }

  async writeStatus(channel: PointToPointChannel, status: ChannelStatus): Promise<void> {
    const path = this.path(channel, "status");
    const write = async (current: ChannelStatus | undefined) => {
      const written = await this.rest.patch<ChannelObject>(path, "merge", { status: mergePatch(current ?? {}, status) });
      this.remember(written);
    };
    try {
      await write(channel.status);
    } catch (err) {
      if (isNotFound(err)) return; // deleted meanwhile: there is no status left to write
      if (!isConflict(err)) throw err;
      const fresh = await this.rest.get<ChannelObject>(this.path(channel));
      await write(fresh.status);
    }
  }

  async setFinalizer(channel: PointToPointChannel, present: boolean): Promise<void> {
    const attempt = async (current: PointToPointChannel) => {
      const finalizers = current.metadata.finalizers ?? [];
      if (finalizers.includes(FINALIZER) === present) return;
      const next = present ? [...finalizers, FINALIZER] : finalizers.filter((f) => f !== FINALIZER);
      // resourceVersion in the patch makes it conditional: another controller's finalizer is never dropped.
      const written = await this.rest.patch<ChannelObject>(this.path(current), "merge", {
        metadata: { finalizers: next.length ? next : null, resourceVersion: current.metadata.resourceVersion },
      });
      this.remember(written);
    };
    try {
      await attempt(channel);
    } catch (err) {
      if (isNotFound(err) && !present) return;
      if (!isConflict(err)) throw err;
      let fresh: ChannelObject;
      try {
        fresh = await this.rest.get<ChannelObject>(this.path(channel));
      } catch (getErr) {
        if (isNotFound(getErr) && !present) return;
        throw getErr;
      }
      await attempt(fresh);
    }
  }

  /**
   * Our own write, into the cache before its watch event arrives: the next reconcile of this key
   * (which may start at once) must not see the state from before the write and repeat it.
   */
  private remember(written: ChannelObject): void {
    if (!written?.metadata?.resourceVersion) return;
    // The last finalizer gone from a deleting object: the server has deleted it.
    if (written.metadata.deletionTimestamp && !written.metadata.finalizers?.length) this.informers.channels.remove(written);
    else this.informers.channels.upsert(written);
  }

  private path(channel: PointToPointChannel, subresource?: string): string {
    return objectPath(API_GROUP, API_VERSION, PLURAL, channel.metadata.namespace ?? "default", channel.metadata.name, subresource);
  }

  private wire(): void {
    const { channels, deployments, hpas } = this.informers;
    channels.on({
      onAdd: (c) => this.channelChanged(null, c),
      onUpdate: (prev, c) => {
        if (onlyStatusChanged(prev, c)) return;
        this.channelChanged(prev, c);
      },
      onDelete: (c) => this.channelChanged(c, null),
    });
    const deploymentChanged = (d: Deployment) => this.enqueueForDeployment(d);
    deployments.on({
      onAdd: deploymentChanged,
      // The deployment controller rewrites status as rollouts progress: only what a channel reads counts.
      onUpdate: (p, d) => {
        if (!sameForChannels(p, d)) deploymentChanged(d);
      },
      onDelete: deploymentChanged,
    });
    const hpaChanged = (h: HorizontalPodAutoscaler) => this.enqueueForHpa(h);
    hpas.on({
      onAdd: hpaChanged,
      onUpdate: (p, h) => {
        hpaChanged(p);
        hpaChanged(h);
      },
      onDelete: hpaChanged,
    });
  }

  private enqueue(key: string, why: string): void {
    if (!this.onChange) return;
    this.log.trace({ key, why }, "enqueue");
    this.onChange(key);
  }

  private channelChanged(previous: ChannelObject | null, current: ChannelObject | null): void {
    const obj = current ?? previous;
    if (!obj) return;
    this.enqueue(channelKey(obj.metadata), "channel");
    // Channels competing for one scaleTargetRef decide among themselves who scales it:
    // when one comes, goes or moves, the others must look again.
    const namespace = obj.metadata.namespace ?? "default";
    for (const target of new Set([scaleTargetName(previous), scaleTargetName(current)])) {
      if (!target) continue;
      for (const other of this.channelsTargeting(namespace, "Deployment", target)) {
        if (other.metadata.name !== obj.metadata.name) this.enqueue(channelKey(other.metadata), "sibling channel");
      }
    }
  }

  private enqueueForDeployment(d: Deployment): void {
    const namespace = d.metadata.namespace ?? "default";
    for (const ref of d.metadata.ownerReferences ?? []) {
      if (ref.kind === KIND && ref.apiVersion.startsWith(`${API_GROUP}/`)) this.enqueue(`${namespace}/${ref.name}`, "owned deployment");
    }
    for (const c of this.channelsTargeting(namespace, "Deployment", d.metadata.name)) this.enqueue(channelKey(c.metadata), "scale target");
  }

  private enqueueForHpa(h: HorizontalPodAutoscaler): void {
    const ref = h.spec?.scaleTargetRef;
    if (!ref) return;
    const namespace = h.metadata.namespace ?? "default";
    for (const c of this.channelsTargeting(namespace, ref.kind, ref.name)) this.enqueue(channelKey(c.metadata), "hpa");
  }

  private channelsTargeting(namespace: string, kind: string, name: string): ChannelObject[] {
    return this.informers.scaleTargets.channelsTargeting(namespace, kind, name);
  }
}

function scaleTargetName(c: ChannelObject | null): string | undefined {
  const ref = c?.spec?.workload?.scaleTargetRef;
  return ref && (ref.kind ?? "Deployment") === "Deployment" ? ref.name : undefined;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf("/");
  return i < 0 ? ["default", key] : [key.slice(0, i), key.slice(i + 1)];
}

/** True when an update changed nothing but status (and the bookkeeping every write changes). */
export function onlyStatusChanged(previous: KubeObject, current: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { status: _status, metadata, ...rest } = o;
    const { resourceVersion: _rv, managedFields: _mf, ...meta } = metadata;
    return { ...rest, metadata: meta };
  };
  return isDeepStrictEqual(strip(previous), strip(current));
}
