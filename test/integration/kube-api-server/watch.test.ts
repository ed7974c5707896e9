// Watches and informers from the real @kubernetes/client-node: event streams, selectors,
// bookmarks, timeouts, reconnect after a dropped watch, relist after 410 Gone, and the
// fault injection API.
import { CoreV1Api, Watch, makeInformer } from "@kubernetes/client-node";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubeApiServer } from "../../support/kube-api-server/index.js";
import type { KubeApiServer } from "../../support/kube-api-server/index.js";
import { eventually, statusOf } from "./helpers.js";

let server: KubeApiServer;
let core: CoreV1Api;
const requests: string[] = [];

beforeAll(async () => {
  server = await startKubeApiServer({
    namespaces: ["informed", "watched", "faulty"],
    bookmarkIntervalMs: 100,
    log: (line) => requests.push(line),
  });
  core = server.kubeConfig().makeApiClient(CoreV1Api);
});
afterAll(() => server.close());

interface Seen {
  type: string;
  name: string;
  rv: string;
  object: Record<string, unknown>;
}

/** Opens a raw watch and records its events until closed. */
async function openWatch(path: string, query: Record<string, string | number | boolean>) {
  const events: Seen[] = [];
  let done: Error | null | undefined;
  const controller = await new Watch(server.kubeConfig()).watch(
    path,
    query,
    (type, object: { metadata?: { name?: string; resourceVersion?: string } }) => {
      events.push({ type, name: object.metadata?.name ?? "", rv: object.metadata?.resourceVersion ?? "", object: object as Record<string, unknown> });
    },
    (err: Error | null) => {
      done = err;
    },
  );
  return { events, controller, isDone: () => done !== undefined, error: () => done };
}

function configMap(name: string, labels: Record<string, string> = {}): V1ConfigMap {
  return { metadata: { name, labels }, data: { v: "1" } };
}

describe("watch", () => {
  it("streams ADDED, MODIFIED and DELETED from a resourceVersion, in order", async () => {
    const list = await core.listNamespacedConfigMap({ namespace: "watched" });
    const w = await openWatch("/api/v1/namespaces/watched/configmaps", { resourceVersion: list.metadata?.resourceVersion ?? "" });
    await core.createNamespacedConfigMap({ namespace: "watched", body: configMap("a") });
    await core.patchNamespacedConfigMap({ name: "a", namespace: "watched", body: [{ op: "add", path: "/data/w", value: "2" }] });
    await core.deleteNamespacedConfigMap({ name: "a", namespace: "watched" });
    await core.createNamespacedConfigMap({ namespace: "default", body: configMap("elsewhere") });
    await eventually(() => expect(w.events.map((e) => `${e.type} ${e.name}`)).toEqual(["ADDED a", "MODIFIED a", "DELETED a"]));
    const rvs = w.events.map((e) => Number(e.rv));
    expect(rvs).toEqual([...rvs].sort((x, y) => x - y));
    expect(new Set(rvs).size).toBe(3);

    // The same history replays for a watch that starts at the old resourceVersion.
    const replay = await openWatch("/api/v1/namespaces/watched/configmaps", { resourceVersion: list.metadata?.resourceVersion ?? "" });
    await eventually(() => expect(replay.events.map((e) => `${e.type} ${e.name}`)).toEqual(["ADDED a", "MODIFIED a", "DELETED a"]));
    w.controller.abort();
    replay.controller.abort();
  });

  it("starts with the current objects as ADDED when no resourceVersion is given", async () => {
    await core.createNamespacedConfigMap({ namespace: "watched", body: configMap("present") });
    const w = await openWatch("/api/v1/namespaces/watched/configmaps", {});
    await eventually(() => expect(w.events.map((e) => `${e.type} ${e.name}`)).toEqual(["ADDED present"]));
    w.controller.abort();
  });

  it("sends initial events and the initial-events-end bookmark for sendInitialEvents=true", async () => {
    const w = await openWatch("/api/v1/namespaces/watched/configmaps", {
      sendInitialEvents: true,
      resourceVersionMatch: "NotOlderThan",
      allowWatchBookmarks: true,
    });
    await eventually(() => expect(w.events.filter((e) => e.type === "BOOKMARK").length).toBeGreaterThan(0));
    const end = w.events.findIndex((e) => e.type === "BOOKMARK");
    expect(w.events.slice(0, end).every((e) => e.type === "ADDED")).toBe(true);
    expect(w.events.slice(0, end).map((e) => e.name)).toContain("present");
    expect(w.events[end]?.object).toMatchObject({ metadata: { annotations: { "k8s.io/initial-events-end": "true" } } });
    w.controller.abort();
  });

  it("turns objects entering and leaving a label selector into ADDED and DELETED", async () => {
    const rv = server.resourceVersion();
    const w = await openWatch("/api/v1/namespaces/watched/configmaps", { resourceVersion: rv, labelSelector: "role=worker" });
    await core.createNamespacedConfigMap({ namespace: "watched", body: configMap("mover", { role: "idle" }) });
    await core.patchNamespacedConfigMap({ name: "mover", namespace: "watched", body: [{ op: "replace", path: "/metadata/labels/role", value: "worker" }] });
    await core.patchNamespacedConfigMap({ name: "mover", namespace: "watched", body: [{ op: "replace", path: "/data/v", value: "2" }] });
    await core.patchNamespacedConfigMap({ name: "mover", namespace: "watched", body: [{ op: "replace", path: "/metadata/labels/role", value: "idle" }] });
    await eventually(() => expect(w.events.map((e) => `${e.type} ${e.name}`)).toEqual(["ADDED mover", "MODIFIED mover", "DELETED mover"]));
    w.controller.abort();
  });

  it("sends BOOKMARK events when allowed, and ends the stream after timeoutSeconds", async () => {
    const w = await openWatch("/api/v1/namespaces/watched/configmaps", { resourceVersion: server.resourceVersion(), allowWatchBookmarks: true, timeoutSeconds: 1 });
    await eventually(() => expect(w.events.some((e) => e.type === "BOOKMARK")).toBe(true));
    const bookmark = w.events.find((e) => e.type === "BOOKMARK");
    expect(bookmark?.object).toMatchObject({ kind: "ConfigMap", apiVersion: "v1" });
    expect(Number(bookmark?.rv)).toBeGreaterThan(0);
    await eventually(() => expect(w.isDone()).toBe(true), 3000);
    expect(w.error()).toBeNull();
  });

  it("answers a watch from a compacted resourceVersion with an ERROR event carrying 410 Gone", async () => {
    const old = server.resourceVersion();
    await core.createNamespacedConfigMap({ namespace: "watched", body: configMap("after-old") });
    server.faults.compact();
    const w = await openWatch("/api/v1/namespaces/watched/configmaps", { resourceVersion: old });
    await eventually(() => expect(w.isDone()).toBe(true));
    expect(w.events).toHaveLength(1);
    expect(w.events[0]?.type).toBe("ERROR");
    expect(w.events[0]?.object).toMatchObject({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "Expired", code: 410 });
    // The current resourceVersion still works.
    const current = await openWatch("/api/v1/namespaces/watched/configmaps", { resourceVersion: server.resourceVersion() });
    await core.createNamespacedConfigMap({ namespace: "watched", body: configMap("after-compact") });
    await eventually(() => expect(current.events.map((e) => e.name)).toEqual(["after-compact"]));
    current.controller.abort();
  });
});

describe("informer", () => {
  it("lists, then watches, and reconnects from its resourceVersion after a dropped watch", async () => {
    await core.createNamespacedConfigMap({ namespace: "informed", body: configMap("one") });
    const informer = makeInformer(server.kubeConfig(), "/api/v1/namespaces/informed/configmaps", () =>
      core.listNamespacedConfigMap({ namespace: "informed" }),
    );
    const seen: string[] = [];
    let connects = 0;
    informer.on("add", (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on("update", (o) => seen.push(`update ${o.metadata?.name} ${o.data?.["v"]}`));
    informer.on("delete", (o) => seen.push(`delete ${o.metadata?.name}`));
    informer.on("connect", () => connects++);
    informer.on("error", (err) => seen.push(`error ${String(err)}`));
    await informer.start();
    try {
      await eventually(() => expect(seen).toEqual(["add one"]));
      await eventually(() => expect(server.openWatches()).toBe(1));
      await core.createNamespacedConfigMap({ namespace: "informed", body: configMap("two") });
      await eventually(() => expect(seen).toEqual(["add one", "add two"]));

      const listsBefore = requests.filter((r) => r.startsWith("GET /api/v1/namespaces/informed/configmaps ")).length;
      expect(server.faults.dropWatches()).toBe(1);
      await eventually(() => expect(connects).toBe(2));
      await eventually(() => expect(server.openWatches()).toBe(1));
      await core.patchNamespacedConfigMap({ name: "one", namespace: "informed", body: [{ op: "replace", path: "/data/v", value: "2" }] });
      await eventually(() => expect(seen).toEqual(["add one", "add two", "update one 2"]));
      const listsAfter = requests.filter((r) => r.startsWith("GET /api/v1/namespaces/informed/configmaps ")).length;
      expect(listsAfter).toBe(listsBefore);
      const rewatch = requests.filter((r) => r.includes("/namespaces/informed/configmaps?") && r.includes("watch=true")).at(-1);
      expect(rewatch).toMatch(/resourceVersion=\d+/);
      expect(informer.list("informed").map((o) => o.metadata?.name).sort()).toEqual(["one", "two"]);
    } finally {
      await informer.stop();
    }
  });

  it("relists after 410 Gone and catches up with what changed while it was away", async () => {
    await core.createNamespacedConfigMap({ namespace: "informed", body: configMap("stays") });
    await core.createNamespacedConfigMap({ namespace: "informed", body: configMap("goes") });
    const informer = makeInformer(server.kubeConfig(), "/api/v1/namespaces/informed/configmaps", () =>
      core.listNamespacedConfigMap({ namespace: "informed" }),
    );
    const seen: string[] = [];
    informer.on("add", (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on("delete", (o) => seen.push(`delete ${o.metadata?.name}`));
    await informer.start();
    try {
      await eventually(() => expect(seen).toEqual(expect.arrayContaining(["add stays", "add goes"])));
      await eventually(() => expect(server.openWatches()).toBe(1));
      const listsBefore = requests.filter((r) => r.startsWith("GET /api/v1/namespaces/informed/configmaps ")).length;
      seen.length = 0;

      // Hold the reconnecting watch back while the world moves on and history is compacted.
      const removeLatency = server.faults.addLatency(300, { verb: "watch", resource: "configmaps", namespace: "informed" });
      server.faults.dropWatches();
      await core.deleteNamespacedConfigMap({ name: "goes", namespace: "informed" });
      await core.createNamespacedConfigMap({ namespace: "informed", body: configMap("new") });
      server.faults.compact();
      removeLatency();

      await eventually(() => expect(seen.sort()).toEqual(["add new", "delete goes"]));
      const listsAfter = requests.filter((r) => r.startsWith("GET /api/v1/namespaces/informed/configmaps ")).length;
      expect(listsAfter).toBe(listsBefore + 1);
      expect(informer.list("informed").map((o) => o.metadata?.name).sort()).toEqual(["new", "one", "stays", "two"]);
    } finally {
      await informer.stop();
    }
  });
});

describe("faults", () => {
  it("fails the next N matching requests with 409 or 500, then recovers", async () => {
    await core.createNamespacedConfigMap({ namespace: "faulty", body: configMap("target") });
    server.faults.failNext(2, { verb: "update", resource: "configmaps" }, 409);
    const body = await core.readNamespacedConfigMap({ name: "target", namespace: "faulty" });
    const first = await statusOf(core.replaceNamespacedConfigMap({ name: "target", namespace: "faulty", body }));
    expect(first).toMatchObject({ code: 409, reason: "Conflict" });
    // Reads do not match the rule and do not use it up.
    await core.readNamespacedConfigMap({ name: "target", namespace: "faulty" });
    expect((await statusOf(core.replaceNamespacedConfigMap({ name: "target", namespace: "faulty", body }))).code).toBe(409);
    await core.replaceNamespacedConfigMap({ name: "target", namespace: "faulty", body });

    server.faults.failNext(1, { verb: "get", resource: "configmaps", name: "target" }, 500);
    expect(await statusOf(core.readNamespacedConfigMap({ name: "target", namespace: "faulty" }))).toMatchObject({ code: 500, reason: "InternalError" });
    await core.readNamespacedConfigMap({ name: "target", namespace: "faulty" });
  });

  it("adds latency to matching requests until removed", async () => {
    const remove = server.faults.addLatency(250, { verb: "list", resource: "configmaps" });
    let started = Date.now();
    await core.listNamespacedConfigMap({ namespace: "faulty" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    remove();
    started = Date.now();
    await core.listNamespacedConfigMap({ namespace: "faulty" });
    expect(Date.now() - started).toBeLessThan(200);
  });
});
