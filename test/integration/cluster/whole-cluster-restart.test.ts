import { describe, expect, it } from "vitest";
import { burst, sleep, summarize, waitFor } from "../local/support.js";
import { useLocalOnCluster } from "./support.js";

// All three servers of the cluster killed with kill -9 at once, then started again on their
// stores: what a power cut of the NATS nodes does to a channel.

const start = useLocalOnCluster();

const COUNT = 400;

describe("a channel on a three-node cluster whose servers are all killed", () => {
  it("keeps its stream, consumer and messages, and returns to Ready by itself", async () => {
    const name = "power-cut";
    const { cluster, fixture: f } = await start({ name, replicas: 3, minReplicas: 1, maxReplicas: 1, workMs: 50, concurrency: 1 });
    await f.ready(1);
    expect((await burst(f, name, COUNT)).acked).toBe(COUNT);
    await waitFor("some messages processed", async () => (await f.recorded()).length >= 10, 30_000, 100);

    const streamBefore = (await f.jsm.streams.info(f.stream)).config;
    const consumerBefore = (await f.jsm.consumers.info(f.stream, name)).config;
    await Promise.all(cluster.servers.map((s) => s.kill()));
    const processedAtKill = summarize(await f.recorded()).unique.size;
    expect(processedAtKill).toBeLessThan(COUNT);

    const ready = () => f.status().conditions?.find((c) => c.type === "Ready");
    await waitFor("the channel to notice NATS is gone", () => ready()?.status === "False" && ready()?.reason === "NATSUnavailable", 30_000, 100);
    await sleep(1_000);

    await Promise.all(cluster.servers.map((s) => s.restart()));
    await cluster.jetStreamReady(60_000);

    // Nobody touches the channel: the operator's retries bring it back.
    await waitFor("Ready again", () => ready()?.status === "True", 60_000, 200);
    expect((await f.jsm.streams.info(f.stream)).config).toEqual(streamBefore);
    expect((await f.jsm.consumers.info(f.stream, name)).config).toEqual(consumerBefore);

    await waitFor("every message processed", async () => summarize(await f.recorded()).unique.size >= COUNT, 90_000, 500);
    const processed = summarize(await f.recorded()).unique;
    const expected = Array.from({ length: COUNT }, (_, i) => `${name}-${i}`);
    expect(expected.filter((id) => !processed.has(id))).toEqual([]);
    await waitFor("lag 0", () => f.status().lag === 0, 30_000, 200);
    const si = await f.jsm.streams.info(f.stream);
    expect(si.state.messages).toBe(0);
    expect(si.state.last_seq).toBe(COUNT);
  }, 240_000);
});
