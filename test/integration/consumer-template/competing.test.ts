import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConsumerProcess, createChannel, publishEvents, recorded, sleep, tally, waitFor, useTemplateTestEnv } from "./support.js";

const ctx = useTemplateTestEnv();

describe("consumer template: competing consumers", () => {
  it("two replicas share a burst and process every message exactly once", async () => {
    const ch = await createChannel(ctx.nc);
    const files = [join(ctx.dir, "compete-a"), join(ctx.dir, "compete-b")];
    const replicas = files.map((file) =>
      ConsumerProcess.spawn(ch, ctx.server.url, { P2P_RECORD_FILE: file, P2P_WORK_MS: "1", P2P_CONCURRENCY: "8", P2P_MAX_BATCH: "100" }),
    );
    try {
      await Promise.all(replicas.map((r) => r.waitForLog("consuming")));
      const ids = await publishEvents(ctx.nc, ch.subject, 3000);
      await waitFor(async () => (await Promise.all(files.map(recorded))).flat().length >= ids.length, 45_000, "all messages recorded");
      // Nothing more arrives: no late duplicates.
      await sleep(500);
      const [a, b] = await Promise.all(files.map(recorded));
      const counts = tally([...a!, ...b!]);
      expect(counts.size).toBe(ids.length);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      expect(new Set(counts.keys())).toEqual(new Set(ids));
      // Both took part.
      expect(a!.length).toBeGreaterThan(300);
      expect(b!.length).toBeGreaterThan(300);
      const stream = await ch.jsm.streams.info(ch.stream);
      expect(stream.state.messages).toBe(0);
      const consumer = await ch.jsm.consumers.info(ch.stream, ch.consumer);
      expect(consumer.num_redelivered).toBe(0);
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
    }
    for (const r of replicas) expect(await r.exited).toEqual({ code: 0, signal: null });
  });

  it("holds no more than P2P_MAX_BATCH unacked messages per replica", async () => {
    const ch = await createChannel(ctx.nc);
    const replicas = [0, 1].map(() => ConsumerProcess.spawn(ch, ctx.server.url, { P2P_WORK_MS: "20", P2P_CONCURRENCY: "4", P2P_MAX_BATCH: "10" }));
    try {
      await Promise.all(replicas.map((r) => r.waitForLog("consuming")));
      await publishEvents(ctx.nc, ch.subject, 600);
      let most = 0;
      let samples = 0;
      for (;;) {
        const info = await ch.jsm.consumers.info(ch.stream, ch.consumer);
        most = Math.max(most, info.num_ack_pending);
        samples++;
        if (info.num_pending === 0 && info.num_ack_pending === 0) break;
        await sleep(20);
      }
      expect(samples).toBeGreaterThan(20);
      // 2 x 10, plus acks still on their way to the server when the replica pulled again.
      // Unbounded, the two replicas would have taken all 600 at once.
      expect(most).toBeGreaterThanOrEqual(8);
      expect(most).toBeLessThanOrEqual(30);
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
    }
  });

  it("serves /healthz and /metrics on P2P_HTTP_PORT", async () => {
    const ch = await createChannel(ctx.nc);
    const replica = ConsumerProcess.spawn(ch, ctx.server.url, { P2P_HTTP_PORT: "0" });
    try {
      const started = await replica.waitForLog("consuming");
      const port = started.httpPort as number;
      expect(port).toBeGreaterThan(0);
      await publishEvents(ctx.nc, ch.subject, 25);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: "ok", connected: true });
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
      const text = await waitFor(
        async () => {
          const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          return body.includes('p2p_consumer_messages_total{outcome="acked"} 25') && body;
        },
        10_000,
        "25 acked in /metrics",
      );
      expect(text).toContain("# TYPE p2p_consumer_messages_total counter");
      expect(text).toMatch(/^p2p_consumer_handler_seconds_count 25$/m);
      expect(text).toMatch(/^p2p_consumer_connected 1$/m);
    } finally {
      await replica.stop();
    }
  });

  it("starts the HTTP server only when P2P_HTTP_PORT is set", async () => {
    const ch = await createChannel(ctx.nc);
    const replica = ConsumerProcess.spawn(ch, ctx.server.url);
    try {
      expect((await replica.waitForLog("consuming")).httpPort).toBeNull();
    } finally {
      await replica.stop();
    }
  });
});
