import type { Logger } from "pino";
import { deepFreeze } from "./cache-shape.js";
import { isGone, KubeApiError, type KubeList, type KubeObject, type KubeRest, type WatchEvent, type WatchHandle } from "./rest.js";

// A reflector plus a cache in the manner of client-go's informers: list, then watch from the
// list's resourceVersion with bookmarks; a watch that ends or drops is reopened from the last
// resourceVersion seen; 410 Gone (too old) relists and turns the difference into add/update/
// delete callbacks, so nothing that happened while disconnected is missed.

export interface InformerHandlers<T extends KubeObject> {
  onAdd?(obj: T): void;
  onUpdate?(previous: T, obj: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions<T extends KubeObject = KubeObject> {
  /** API group ("" for core), version and plural, e.g. apps/v1 deployments. */
  group: string;
  version: string;
  plural: string;
  /** Namespaces to watch; null watches all of them with one cluster-wide list+watch. */
  namespaces: string[] | null;
  log: Logger;
  labelSelector?: string;
  /** Server-side watch timeout; each watch gets a random value in [t, 2t) like client-go. Default 300 s. */
  watchTimeoutSeconds?: number;
  /** A watch that delivers nothing (not even a bookmark) for this long is treated as dropped. */
  idleTimeoutMs?: number;
  /** What the cache keeps of each object (client-go's SetTransform): drop what nothing reads. */
  transform?: (obj: T) => T;
}

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 30_000;

export class Informer<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly reflectors: Reflector<T>[];
  private stopped = false;

  constructor(
    private readonly rest: KubeRest,
    readonly options: InformerOptions<T>,
  ) {
    const scopes = options.namespaces ?? [undefined];
    this.reflectors = scopes.map((ns) => new Reflector<T>(this, rest, options, ns));
  }

  /** The name of the resource for logs: "deployments.apps". */
  get resource(): string {
    return this.options.group ? `${this.options.plural}.${this.options.group}` : this.options.plural;
  }

  on(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
  }

  /** Starts every reflector; resolves once each has listed once (the cache is synced). */
  async start(): Promise<void> {
    this.stopped = false;
    await Promise.all(this.reflectors.map((r) => r.start()));
  }

  stop(): void {
    this.stopped = true;
    for (const r of this.reflectors) r.stop();
  }

  get synced(): boolean {
    return this.reflectors.every((r) => r.synced);
  }

  /** The cached object itself, deeply frozen: read it, never change it (copy first). */
  get(namespace: string, name: string): T | undefined {
    return this.store.get(`${namespace}/${name}`);
  }

  list(namespace?: string): T[] {
    const all = [...this.store.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  /** @internal reflectors feed the store through these. */
  upsert(incoming: T): void {
    if (this.stopped) return;
    const key = keyOf(incoming);
    const previous = this.store.get(key);
    if (previous && previous.metadata.resourceVersion === incoming.metadata.resourceVersion) return;
    const obj = this.shape(incoming);
    this.store.set(key, obj);
    for (const h of this.handlers) {
      try {
        if (previous) h.onUpdate?.(previous, obj);
        else h.onAdd?.(obj);
      } catch (err) {
        this.options.log.error({ err: (err as Error).message, resource: this.resource }, "informer handler failed");
      }
    }
  }

  /** @internal */
  remove(incoming: T): void {
    if (this.stopped) return;
    const key = keyOf(incoming);
    const previous = this.store.get(key);
    if (!previous) return;
    this.store.delete(key);
    const obj = this.shape(incoming);
    for (const h of this.handlers) {
      try {
        h.onDelete?.(obj);
      } catch (err) {
        this.options.log.error({ err: (err as Error).message, resource: this.resource }, "informer handler failed");
      }
    }
  }

  /** @internal after a relist: objects of the scope that are no longer listed were deleted while we were away. */
  replaceScope(namespace: string | undefined, items: T[]): void {
    const listed = new Set(items.map(keyOf));
    for (const [key, obj] of this.store) {
      if (namespace !== undefined && obj.metadata.namespace !== namespace) continue;
      if (!listed.has(key)) this.remove(obj);
    }
    for (const item of items) this.upsert(item);
  }

  private shape(obj: T): T {
    const transform = this.options.transform;
    return deepFreeze(transform ? transform(obj) : obj);
  }
}

function keyOf(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
}

/** One list+watch loop for one scope (a namespace, or the whole cluster). */
class Reflector<T extends KubeObject> {
  private resourceVersion = "";
  private watch: WatchHandle | null = null;
  private stopped = false;
  synced = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly informer: Informer<T>,
    private readonly rest: KubeRest,
    private readonly options: InformerOptions<T>,
    private readonly namespace: string | undefined,
  ) {}

  private get path(): string {
    const { group, version, plural } = this.options;
    const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
    return this.namespace ? `${base}/namespaces/${encodeURIComponent(this.namespace)}/${plural}` : `${base}/${plural}`;
  }

  private get log(): Logger {
    return this.options.log;
  }

  async start(): Promise<void> {
    this.stopped = false;
    let firstSync!: () => void;
    const synced = new Promise<void>((resolve) => (firstSync = resolve));
    this.loop = this.run(firstSync);
    await synced;
  }

  stop(): void {
    this.stopped = true;
    this.watch?.abort();
  }

  private async run(onFirstSync: () => void): Promise<void> {
    let failures = 0;
    const backoff = async () => {
      const ms = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** failures) * (0.8 + 0.4 * Math.random());
      failures += 1;
      await sleep(ms);
    };
    while (!this.stopped) {
      if (!this.resourceVersion) {
        try {
          await this.relist();
          failures = 0;
          if (!this.synced) {
            this.synced = true;
            onFirstSync();
          }
        } catch (err) {
          this.log.warn({ resource: this.resource, namespace: this.namespace, err: (err as Error).message }, "list failed; retrying");
          await backoff();
          continue;
        }
      }
      if (this.stopped) break;
      const err = await this.watchOnce();
      if (this.stopped) break;
      if (err === null) {
        failures = 0;
        continue;
      }
      if (isGone(err)) {
        this.log.info({ resource: this.resource, namespace: this.namespace }, "watch resourceVersion expired; relisting");
        this.resourceVersion = "";
        failures = 0;
        continue;
      }
      this.log.warn({ resource: this.resource, namespace: this.namespace, err: err.message }, "watch failed; reconnecting");
      await backoff();
    }
    // Stopped before the first list: let start() return.
    onFirstSync();
  }

  private get resource(): string {
    return this.informer.resource;
  }

  private async relist(): Promise<void> {
    const items: T[] = [];
    let cont = "";
    let resourceVersion = "";
    do {
      const query: Record<string, string> = { limit: "500" };
      if (cont) query.continue = cont;
      if (this.options.labelSelector) query.labelSelector = this.options.labelSelector;
      const page: KubeList<T> = await this.rest.list<T>(this.path, query);
      const kind = (page as { kind?: string }).kind?.replace(/List$/, "");
      const apiVersion = (page as { apiVersion?: string }).apiVersion;
      // List items carry no kind/apiVersion on the wire; restore them so cached objects are whole.
      for (const item of page.items ?? []) items.push({ ...(apiVersion && { apiVersion }), ...(kind && { kind }), ...item });
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      cont = page.metadata?.continue ?? "";
    } while (cont);
    this.informer.replaceScope(this.namespace, items);
    this.resourceVersion = resourceVersion;
  }

  /** Watches until the stream ends; returns null on a clean end (reopen from resourceVersion) or the error. */
  private async watchOnce(): Promise<KubeApiError | null> {
    const base = this.options.watchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(base + Math.random() * base);
    const query: Record<string, string> = {
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: "true",
      timeoutSeconds: String(timeoutSeconds),
    };
    if (this.options.labelSelector) query.labelSelector = this.options.labelSelector;
    let eventError: KubeApiError | null = null;
    const idleMs = this.options.idleTimeoutMs ?? (timeoutSeconds + 30) * 1000;
    let idleTimer: NodeJS.Timeout | null = null;
    const handle = this.rest.watch<T>(this.path, query, (event) => {
      armIdle();
      this.apply(event, (err) => {
        eventError = err;
        handle.abort();
      });
    });
    const armIdle = () => {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        eventError = new KubeApiError(0, "WatchIdle", `no watch event for ${idleMs}ms`);
        handle.abort();
      }, idleMs);
      idleTimer.unref?.();
    };
    this.watch = handle;
    armIdle();
    const err = await handle.done;
    if (idleTimer) clearTimeout(idleTimer);
    this.watch = null;
    return eventError ?? err;
  }

  private apply(event: WatchEvent<T>, fail: (err: KubeApiError) => void): void {
    const obj = event.object;
    switch (event.type) {
      case "ADDED":
      case "MODIFIED":
        this.informer.upsert(obj);
        break;
      case "DELETED":
        this.informer.remove(obj);
        break;
      case "BOOKMARK":
        break;
      case "ERROR": {
        const status = obj as unknown as { code?: number; reason?: string; message?: string };
        fail(new KubeApiError(status.code ?? 500, status.reason ?? "WatchError", status.message ?? "watch error event"));
        return;
      }
      default:
        return;
    }
    const rv = obj?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}
