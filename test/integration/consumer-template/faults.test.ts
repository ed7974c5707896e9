import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConsumerProcess, createChannel, drained, publishEvents, recorded, sleep, spawnPair, tally, waitFor, useTemplateTestEnv } from "./support.js";

const ctx = useTemplateTestEnv();

const BURST = 3000;

describe("consumer template: replicas that die or stop", () => {
  it("kill -9 mid-burst: what the killed replica held is redelivered, nothing is lost", async () => {
    // A short ackWait so that the killed replica's messages come back quickly.
    const ch = await createChannel(ctx.nc, { ackWaitMs: 3_000 });
    const pair = spawnPair(ch, ctx.server.url, ctx.dir, "kill", { P2P_WORK_MS: "2", P2P_CONCURRENCY: "8", P2P_MAX_BATCH: "50" });
    const { first: victim, second: survivor, firstFile: victimFile } = pair;
    try {
      await pair.consuming();
      const ids = await publishEvents(ctx.nc, ch.subject, BURST);
      await waitFor(async () => (await recorded(victimFile)).length >= 300, 20_000, "the victim to be busy");
      victim.kill("SIGKILL");
      expect(await victim.exited).toEqual({ code: null, signal: "SIGKILL" });
      const killedAfter = (await recorded(victimFile)).length;

      await waitFor(async () => new Set(await pair.records()).size === ids.length, 30_000, "every message processed");
      const info = await drained(ch, 10_000);
      const counts = tally(await pair.records());
      expect(new Set(counts.keys())).toEqual(new Set(ids));
      // A duplicate is a message the victim finished but whose ack died with it: at most
      // what it held (P2P_MAX_BATCH).
      const duplicates = [...counts.values()].filter((n) => n > 1).length;
      expect(duplicates).toBeLessThanOrEqual(50);
      expect((await recorded(victimFile)).length).toBe(killedAfter);
      // Redeliveries happened: the victim held messages when it died.
      expect(info.delivered.consumer_seq).toBeGreaterThan(ids.length);
      expect((await ch.jsm.streams.info(ch.stream)).state.messages).toBe(0);
    } finally {
      await survivor.stop();
    }
  });

  it("SIGTERM mid-burst: exits 0, finishes in flight, releases its buffer at once", async () => {
    // A long ackWait: anything the stopped replica kept without releasing would show up as
    // a drain stuck for 30s.
    const ch = await createChannel(ctx.nc, { ackWaitMs: 30_000 });
    const pair = spawnPair(ch, ctx.server.url, ctx.dir, "term", { P2P_WORK_MS: "5", P2P_CONCURRENCY: "4", P2P_MAX_BATCH: "200" });
    const { first: stopped, second: survivor, firstFile: stoppedFile } = pair;
    try {
      await pair.consuming();
      const ids = await publishEvents(ctx.nc, ch.subject, BURST);
      await waitFor(async () => (await recorded(stoppedFile)).length >= 200, 20_000, "the replica to be busy");
      const termAt = Date.now();
      stopped.kill("SIGTERM");
      expect(await stopped.exited).toEqual({ code: 0, signal: null });
      const exitMs = Date.now() - termAt;
      const summary = stopped.logs().find((l) => l.msg === "stopped") as { messages: Record<string, number> } | undefined;
      expect(summary).toBeDefined();
      // It had a buffer when told to stop, and handed it back.
      expect(summary!.messages.released).toBeGreaterThan(0);

      await waitFor(async () => new Set(await pair.records()).size === ids.length, 25_000, "every message processed");
      const drainMs = Date.now() - termAt;
      const counts = tally(await pair.records());
      // Exactly once: it acked what it finished and processed nothing it released.
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      expect(counts.size).toBe(ids.length);
      expect(exitMs).toBeLessThan(10_000);
      // Well before the 30s ackWait: no message waited for a redelivery timeout.
      expect(drainMs).toBeLessThan(25_000);
      const info = await ch.jsm.consumers.info(ch.stream, ch.consumer);
      expect(info.num_ack_pending + info.num_pending).toBe(0);
    } finally {
      await survivor.stop();
    }
  });

  it("SIGTERM while a trickle arrives: stops pulling at once, and no message is delivered twice", async () => {
    // Scale-in: the replica's open pull request must not take (and then hand back) messages
    // that arrive after it was told to stop; each would be a second delivery.
    const ch = await createChannel(ctx.nc, { ackWaitMs: 30_000 });
    const pair = spawnPair(ch, ctx.server.url, ctx.dir, "trickle", { P2P_WORK_MS: "20", P2P_CONCURRENCY: "4", P2P_MAX_BATCH: "100" });
    const { first: stopped, second: survivor, firstFile: stoppedFile } = pair;
    try {
      await pair.consuming();
      const ids: string[] = [];
      let exitMs = 0;
      let exit: Promise<unknown> | null = null;
      for (let round = 0; round < 300; round++) {
        ids.push(...(await publishEvents(ctx.nc, ch.subject, 1, { runId: `trickle-${round}` })));
        if (round === 100) {
          expect((await recorded(stoppedFile)).length).toBeGreaterThan(0);
          const termAt = Date.now();
          stopped.kill("SIGTERM");
          exit = stopped.exited.then((e) => {
            exitMs = Date.now() - termAt;
            return e;
          });
        }
        await sleep(10);
      }
      expect(await exit).toEqual({ code: 0, signal: null });
      // Nothing buffered nor in flight for long: it stopped without waiting out a pull request.
      expect(exitMs).toBeLessThan(5_000);

      await waitFor(async () => new Set(await pair.records()).size === ids.length, 20_000, "every message processed");
      const counts = tally(await pair.records());
      expect(counts.size).toBe(ids.length);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      const info = await drained(ch, 10_000);
      // One delivery per message: the server counts every delivery, redeliveries included.
      expect(info.delivered.consumer_seq).toBe(ids.length);
    } finally {
      await survivor.stop();
    }
  });

  it("rides out a NATS restart: not ready while disconnected, then consumes again", async () => {
    const ch = await createChannel(ctx.nc);
    const file = join(ctx.dir, "restart");
    const replica = ConsumerProcess.spawn(ch, ctx.server.url, { P2P_RECORD_FILE: file, P2P_HTTP_PORT: "0" });
    try {
      const port = (await replica.waitForLog("consuming")).httpPort as number;
      await publishEvents(ctx.nc, ch.subject, 100, { runId: "before" });
      await waitFor(async () => (await recorded(file)).length === 100, 15_000, "the first 100");

      await ctx.server.kill();
      await replica.waitForLog("disconnected from NATS");
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      await sleep(1_000);
      await ctx.server.restart();
      await replica.waitForLog("reconnected to NATS", 20_000);
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 10_000, "ready again");

      // The test's own connection may still be finding the server: ids make a retry safe.
      await waitFor(() => publishEvents(ctx.nc, ch.subject, 100, { runId: "after" }).catch(() => null), 20_000, "publishing after the restart");
      await waitFor(async () => (await recorded(file)).length >= 200, 20_000, "the next 100 after the restart");
      const counts = tally(await recorded(file));
      expect(counts.size).toBe(200);
    } finally {
      await replica.stop();
    }
    expect((await replica.exited).code).toBe(0);
  });

  it("pulls again when its consumer is deleted and created anew (the operator's drift repair)", async () => {
    const ch = await createChannel(ctx.nc);
    const file = join(ctx.dir, "recreated");
    const replica = ConsumerProcess.spawn(ch, ctx.server.url, { P2P_RECORD_FILE: file });
    try {
      await replica.waitForLog("consuming");
      await publishEvents(ctx.nc, ch.subject, 50, { runId: "before" });
      await waitFor(async () => (await recorded(file)).length === 50, 15_000, "the first 50");

      const { config } = await ch.jsm.consumers.info(ch.stream, ch.consumer);
      await ch.jsm.consumers.delete(ch.stream, ch.consumer);
      // The server ends the open requests (409 Consumer Deleted); the pull sent a second later
      // reaches no consumer and gets no answer, so the replica only finds out when the
      // heartbeats stay away (two intervals) and pulls again.
      await replica.waitForLog("pull request ended by the server, pulling again");
      await sleep(1_500);
      await ch.jsm.consumers.add(ch.stream, config);
      await publishEvents(ctx.nc, ch.subject, 50, { runId: "after" });
      await waitFor(async () => (await recorded(file)).length === 100, 20_000, "the 50 published after the consumer came back");
      expect(tally(await recorded(file)).size).toBe(100);
    } finally {
      await replica.stop();
    }
    expect((await replica.exited).code).toBe(0);
  });

  it("SIGTERM while NATS is down: exits 0 without waiting for the server", async () => {
    const ch = await createChannel(ctx.nc);
    const replica = ConsumerProcess.spawn(ch, ctx.server.url);
    try {
      await replica.waitForLog("consuming");
      await ctx.server.kill();
      await replica.waitForLog("disconnected from NATS");
      const termAt = Date.now();
      replica.kill("SIGTERM");
      expect(await replica.exited).toEqual({ code: 0, signal: null });
      // Not held until a reconnect (or the grace period's SIGKILL).
      expect(Date.now() - termAt).toBeLessThan(5_000);
    } finally {
      await replica.stop();
      await ctx.server.restart();
      // The next test needs this file's own connection back and JetStream answering.
      await waitFor(() => ch.jsm.streams.info(ch.stream).then(() => true, () => false), 20_000, "JetStream back after the restart");
    }
  });

  it("calls working() on a task longer than ackWait, so it is not redelivered", async () => {
    const ch = await createChannel(ctx.nc, { ackWaitMs: 1_000 });
    const file = join(ctx.dir, "long-task");
    const replica = ConsumerProcess.spawn(ch, ctx.server.url, { P2P_WORK_MS: "4000", P2P_CONCURRENCY: "1", P2P_RECORD_FILE: file });
    try {
      await replica.waitForLog("consuming");
      await publishEvents(ctx.nc, ch.subject, 1);
      await waitFor(async () => (await recorded(file)).length === 1, 15_000, "the long task to finish");
      await sleep(1_500);
      expect(await recorded(file)).toEqual(["evt-0"]);
      const info = await ch.jsm.consumers.info(ch.stream, ch.consumer);
      expect(info.num_redelivered).toBe(0);
      expect(info.delivered.consumer_seq).toBe(1);
    } finally {
      await replica.stop();
    }
  });
});
