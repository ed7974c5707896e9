// List then watch a collection for as long as the caller wants, re-listing when the watch
// ends or its resourceVersion expires; every object seen is handed to `onObject`, deletions
// to `onDeleted`. Level-based: handlers look at the object, never at the event type.
import type { RestClient, WatchHandle } from "./rest.js";

interface ObjectWithMeta {
  metadata: { name: string; namespace?: string; uid: string; resourceVersion?: string };
}

export interface ListWatchHandlers<T extends ObjectWithMeta> {
  onObject(object: T): void;
  onDeleted(object: T): void;
  onError?(err: unknown): void;
}

export class ListWatch<T extends ObjectWithMeta> {
  private stopped = false;
  private current: WatchHandle | null = null;
  private readonly seen = new Map<string, T>();
  readonly running: Promise<void>;

  constructor(
    private readonly client: RestClient,
    private readonly path: string,
    private readonly query: string,
    private readonly handlers: ListWatchHandlers<T>,
  ) {
    this.running = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const list = await this.client.get<{ metadata: { resourceVersion: string }; items: T[] }>(`${this.path}?${this.query}`);
        const names = new Set(list.items.map((o) => o.metadata.uid));
        for (const [uid, old] of this.seen) if (!names.has(uid)) this.gone(old);
        for (const item of list.items) this.saw(item);
        let rv = list.metadata.resourceVersion;
        while (!this.stopped) {
          let expired = false;
          this.current = await this.client.watch<T>(`${this.path}?${this.query}&watch=true&allowWatchBookmarks=true&resourceVersion=${rv}&timeoutSeconds=300`, (event) => {
            if (event.type === "ERROR") {
              expired = true;
              return;
            }
            rv = event.object.metadata.resourceVersion ?? rv;
            if (event.type === "BOOKMARK") return;
            if (event.type === "DELETED") this.gone(event.object);
            else this.saw(event.object);
          });
          await this.current.done;
          this.current = null;
          if (expired) break;
        }
      } catch (err) {
        if (this.stopped) return;
        this.handlers.onError?.(err);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }

  private saw(object: T): void {
    this.seen.set(object.metadata.uid, object);
    this.handlers.onObject(object);
  }

  private gone(object: T): void {
    this.seen.delete(object.metadata.uid);
    this.handlers.onDeleted(object);
  }

  stop(): void {
    this.stopped = true;
    this.current?.stop();
  }
}
