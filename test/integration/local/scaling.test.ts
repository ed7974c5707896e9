import { unlink, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { burst, channelYaml, isAlive, summarize, useLocalFixtures, waitFor } from "./support.js";

// `p2p local` end to end: real nats-server, the consumer template as real child processes,
// the operator's reconcile loop scaling them from the consumer's lag.

const start = useLocalFixtures();

describe("p2p local: scaling", () => {
  it("a burst scales replicas above 1 and back to minReplicas, processing every message", async () => {
    const f = await start({ name: "burst", minReplicas: 1, maxReplicas: 4, workMs: 20 });
    const report = await burst(f, "burst", 3000);
    expect(report).toMatchObject({ acked: 3000, errors: 0 });

    let maxRunning = 0;
    await waitFor("the burst to drain", async () => {
      maxRunning = Math.max(maxRunning, f.running());
      return f.status().lag === 0 && summarize(await f.recorded()).unique.size === 3000;
    }, 60_000);
    expect(maxRunning).toBeGreaterThan(1);
    expect(f.status().lastScaleReason).toMatch(/scale up/);

    await waitFor("scale-down to minReplicas", () => f.status().desiredReplicas === 1 && f.running() === 1, 30_000);
    expect(f.status().lastScaleReason).toMatch(/scale down to 1/);
    expect(f.pids()).toHaveLength(1);
    const { lines, unique } = summarize(await f.recorded());
    expect(unique.size).toBe(3000);
    expect(lines).toBe(3000);
  });

  it("editing maxReplicas in the channel file takes effect without a restart", async () => {
    // Slow consumers keep the lag up, so only maxReplicas holds replicas back.
    const f = await start({ name: "edit", minReplicas: 1, maxReplicas: 1, workMs: 2_000, concurrency: 1 });
    await burst(f, "edit", 1000);
    await waitFor("lag seen", () => (f.status().lag ?? 0) > 500, 10_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(f.status().desiredReplicas).toBe(1);
    expect(f.running()).toBe(1);

    await writeFile(f.file, channelYaml({ name: "edit", minReplicas: 1, maxReplicas: 3, workMs: 2_000, concurrency: 1 }));
    await waitFor("3 replicas", () => f.status().desiredReplicas === 3 && f.running() === 3, 20_000);
    expect(f.status().observedGeneration).toBe(2);
    expect(f.status().lastScaleReason).toMatch(/maxReplicas 3/);
  });

  it("removing the channel file stops its consumers and keeps the stream under Retain", async () => {
    const f = await start({ name: "removed", minReplicas: 2, maxReplicas: 2, deletionPolicy: "Retain" });
    await waitFor("2 replicas", () => f.running() === 2, 20_000);
    const pids = f.pids();
    await burst(f, "removed", 10);

    await unlink(f.file);
    await waitFor("the channel to be finalized", () => f.runtime.source.keys().length === 0, 20_000);
    await waitFor("its consumers to exit", () => pids.every((pid) => !isAlive(pid)), 20_000);
    expect(f.runtime.workload.ready(f.key)).toBeNull();

    const info = await f.jsm.streams.info(f.stream);
    expect(info.config.subjects).toEqual(["test.removed"]);
    expect((await f.jsm.consumers.info(f.stream, "removed")).name).toBe("removed");
  });

  it("removing the file of a channel with deletionPolicy Delete deletes its stream", async () => {
    const f = await start({ name: "deleted", deletionPolicy: "Delete" });
    const pids = f.pids();
    await unlink(f.file);
    await waitFor("the channel to be finalized", () => f.runtime.source.keys().length === 0, 20_000);
    await waitFor("its consumers to exit", () => pids.every((pid) => !isAlive(pid)), 20_000);
    await expect(f.jsm.streams.info(f.stream)).rejects.toThrow(/stream not found/);
  });

  it("an invalid edit is reported as InvalidSpec; removing the file then still stops the consumers", async () => {
    const f = await start({ name: "broken", minReplicas: 1, maxReplicas: 2 });
    const pids = f.pids();
    await writeFile(f.file, channelYaml({ name: "broken", minReplicas: 3, maxReplicas: 2 }));
    await waitFor("InvalidSpec", () => f.status().conditions?.some((c) => c.type === "Ready" && c.reason === "InvalidSpec"), 10_000);
    const ready = f.status().conditions?.find((c) => c.type === "Ready");
    expect(ready).toMatchObject({ status: "False", observedGeneration: 2 });
    expect(ready?.message).toMatch(/minReplicas/);
    // Like a Deployment after a rejected change, the consumers keep running as they were.
    expect(f.pids()).toEqual(pids);

    await unlink(f.file);
    await waitFor("the channel to be gone", () => f.runtime.source.keys().length === 0, 20_000);
    await waitFor("its consumers to exit", () => pids.every((pid) => !isAlive(pid)), 20_000);
  });
});
