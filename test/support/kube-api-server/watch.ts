// Watch streams: newline-delimited JSON events (ADDED, MODIFIED, DELETED, BOOKMARK,
// ERROR) from a resourceVersion, filtered by namespace and selectors the way the
// apiserver filters them (an object leaving a selector is DELETED for that watcher).
import type { ServerResponse } from "node:http";
import type { KubeObject } from "./objects.js";
import { apiVersionOf } from "./resources.js";
import type { RestApi, Target } from "./rest.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import type { ObjectStore, StoreEvent } from "./store.js";

interface OpenWatch {
  response: ServerResponse;
  close: (abrupt: boolean) => void;
}

export class WatchHub {
  private readonly open = new Set<OpenWatch>();

  constructor(
    private readonly api: RestApi,
    private readonly store: ObjectStore,
    private readonly bookmarkIntervalMs: () => number,
  ) {}

  get openCount(): number {
    return this.open.size;
  }

  /** Serves one watch request; selector errors throw before anything is written. */
  serve(t: Target, query: URLSearchParams, response: ServerResponse): void {
    const { rt } = t;
    const labels = parseLabelSelector(query.get("labelSelector"));
    const fields = parseFieldSelector(query.get("fieldSelector"), rt.fieldLabels);
    const matches = (obj: KubeObject | undefined): boolean =>
      obj !== undefined &&
      (!rt.namespaced || t.namespace === undefined || obj.metadata.namespace === t.namespace) &&
      labels(obj.metadata.labels) &&
      fields(obj);
    const rvParam = query.get("resourceVersion");
    const sendInitial = query.get("sendInitialEvents") === "true";
    const bookmarks = query.get("allowWatchBookmarks") === "true";

    response.writeHead(200, {
      "Content-Type": "application/json",
      "Cache-Control": "no-cache, private",
      "Transfer-Encoding": "chunked",
    });
    response.flushHeaders();
    const send = (type: string, object: unknown): void => {
      if (!response.writableEnded && !response.destroyed) response.write(`${JSON.stringify({ type, object })}\n`);
    };
    const sendEvent = (type: string, obj: KubeObject): void => send(type, this.api.toWire(rt, obj));
    const bookmark = (annotations?: Record<string, string>): void => {
      const metadata: Record<string, unknown> = { resourceVersion: String(this.store.currentRv()) };
      if (annotations) metadata["annotations"] = annotations;
      send("BOOKMARK", { kind: rt.kind, apiVersion: apiVersionOf(rt), metadata });
    };

    let replay: StoreEvent[] = [];
    let initial: KubeObject[] = [];
    if (sendInitial || !rvParam || rvParam === "0") {
      initial = this.api.select(t, new URLSearchParams()).filter(matches);
    } else {
      const from = Number(rvParam);
      if (!Number.isFinite(from) || from < this.store.compactedRv) {
        send("ERROR", {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          message: `too old resource version: ${rvParam} (${this.store.compactedRv})`,
          reason: "Expired",
          code: 410,
        });
        response.end();
        return;
      }
      replay = this.store.eventsSince(from, rt.storageKey);
    }

    const deliver = (event: StoreEvent): void => {
      if (event.storageKey !== rt.storageKey) return;
      const now = matches(event.object);
      const before = event.type === "MODIFIED" ? matches(event.previous) : now;
      if (event.type === "ADDED" && now) sendEvent("ADDED", event.object);
      if (event.type === "DELETED" && matches(event.previous ?? event.object)) sendEvent("DELETED", event.object);
      if (event.type === "MODIFIED") {
        if (now && before) sendEvent("MODIFIED", event.object);
        else if (now) sendEvent("ADDED", event.object);
        else if (before) sendEvent("DELETED", event.object);
      }
    };

    for (const obj of initial) sendEvent("ADDED", obj);
    if (sendInitial && bookmarks) bookmark({ "k8s.io/initial-events-end": "true" });
    for (const event of replay) deliver(event);
    const unsubscribe = this.store.subscribe(deliver);

    const timers: NodeJS.Timeout[] = [];
    if (bookmarks) timers.push(setInterval(() => bookmark(), this.bookmarkIntervalMs()));
    const timeoutSeconds = Number(query.get("timeoutSeconds") ?? 0);
    const watch: OpenWatch = {
      response,
      close: (abrupt) => {
        cleanup();
        if (abrupt) response.destroy();
        else if (!response.writableEnded) response.end();
      },
    };
    const cleanup = (): void => {
      unsubscribe();
      for (const timer of timers) clearTimeout(timer);
      this.open.delete(watch);
    };
    if (timeoutSeconds > 0) timers.push(setTimeout(() => watch.close(false), timeoutSeconds * 1000));
    response.on("close", cleanup);
    this.open.add(watch);
  }

  /** Ends every open watch: gracefully (like a server-side timeout) or abruptly. */
  dropAll(abrupt = false): number {
    const watches = [...this.open];
    for (const watch of watches) watch.close(abrupt);
    return watches.length;
  }
}
