import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { followCollection, type KubeObject } from "../../../bench/lib/watch-follower.mjs";

// The benchmark's channel watch against a scripted apiserver: a watch that ends is re-opened
// from the last resourceVersion seen; 410 Gone (as a status or as an ERROR event) re-lists,
// and what went missing meanwhile is reported deleted.

type Step = { list?: { rv: string; items: string[] } } | { watchStatus: number } | { events: Array<Record<string, unknown>> };

const obj = (name: string, rv: string): KubeObject => ({ metadata: { name, resourceVersion: rv } });
let server: Server | null = null;
afterEach(() => server?.close());

async function scripted(lists: Array<{ rv: string; items: string[] }>, watches: Step[]): Promise<{ url: string; watchUrls: string[] }> {
  const watchUrls: string[] = [];
  server = createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    if (url.searchParams.get("watch") !== "true") {
      const list = lists.shift();
      if (!list) return void res.writeHead(500).end();
      res.setHeader("content-type", "application/json");
      return void res.end(JSON.stringify({ metadata: { resourceVersion: list.rv }, items: list.items.map((n) => obj(n, list.rv)) }));
    }
    watchUrls.push(url.search);
    const step = watches.shift();
    if (!step) return; // hang: the test aborts
    if ("watchStatus" in step) return void res.writeHead(step.watchStatus).end("{}");
    if ("events" in step) {
      res.writeHead(200, { "content-type": "application/json" });
      for (const e of step.events) res.write(`${JSON.stringify(e)}\n`);
      res.end();
    }
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/apis/g/v1/things`, watchUrls };
}

function follow(url: string) {
  const names = new Set<string>();
  const abort = new AbortController();
  const done = followCollection(url, abort.signal, {
    onObject: (o) => names.add(o.metadata.name),
    onDeleted: (o) => names.delete(o.metadata.name),
    onError: () => {},
  });
  return { names, abort, done };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

describe("the benchmark's watch follower", () => {
  it("re-opens a watch that ended, from the last resourceVersion seen (bookmarks included), without listing again", async () => {
    const { url, watchUrls } = await scripted(
      [{ rv: "10", items: ["a"] }],
      [{ events: [{ type: "ADDED", object: obj("b", "11") }] }, { events: [{ type: "BOOKMARK", object: { metadata: { resourceVersion: "15" } } }] }, { events: [{ type: "ADDED", object: obj("c", "16") }] }],
    );
    const f = follow(url);
    await until(() => watchUrls.length === 4);
    expect([...f.names].sort()).toEqual(["a", "b", "c"]);
    expect(watchUrls.map((s) => new URLSearchParams(s).get("resourceVersion"))).toEqual(["10", "11", "15", "16"]);
    f.abort.abort();
    await f.done;
  });

  it("lists again on 410 Gone, as a status or as an ERROR event, and reports what went missing as deleted", async () => {
    const { url, watchUrls } = await scripted(
      [
        { rv: "10", items: ["a", "b"] },
        { rv: "20", items: ["b", "c"] },
        { rv: "30", items: ["c"] },
      ],
      [{ watchStatus: 410 }, { events: [{ type: "ERROR", object: { kind: "Status", code: 410, message: "too old resource version" } }] }],
    );
    const f = follow(url);
    await until(() => watchUrls.length === 3);
    expect([...f.names]).toEqual(["c"]);
    expect(watchUrls.map((s) => new URLSearchParams(s).get("resourceVersion"))).toEqual(["10", "20", "30"]);
    f.abort.abort();
    await f.done;
  });
});
