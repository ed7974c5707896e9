import { describe, expect, it } from "vitest";
import { makeExampleEvent, publishEvents } from "../../../operator/src/local/index.js";
import { consumerSeenBy, leadersOf, stepDownLeader, type MonitoredConsumer } from "../../support/nats-cluster.js";
import { sleep, summarize, waitFor } from "../local/support.js";
import { useLocalOnCluster } from "./support.js";

// The operator's lag on a three-node cluster through a consumer-leader stepdown and a kill -9
// of the stream leader, while publishers publish and consumers drain. KEDA's nats-jetstream
// scaler reads a server's monitoring port and goes wrong exactly here (a follower's
// num_pending, a leader change it does not see); the operator asks the leaders through the
// JetStream API. Each sample is one poll of the operator, as its status reports it.

interface LagSample {
  atMs: number;
  phase: string;
  lag: number;
  messages: number;
  lastSeq: number;
  /** This poll read the queue; false = NATS did not answer (StreamReady NATSUnavailable) and status kept the last reading. */
  fresh: boolean;
  /** What each live server's monitoring port said at the same moment (KEDA's reading). */
  monitored: MonitoredConsumer[];
}

const COUNT = 3000;
const RATE = 200;

const start = useLocalOnCluster();

describe.each([
  { given: "every server's URL", oneUrl: false },
  { given: "one server's URL (a round-robin Service)", oneUrl: true },
])("a channel on a three-node cluster, the operator given $given", ({ oneUrl }) => {
  it("keeps lag right through a consumer-leader stepdown and a kill -9 of the stream leader, and loses no message", async () => {
    const name = oneUrl ? "lead-one" : "lead-all";
    // Slow enough consumers (2 replicas x 2 x 40 ms: ~100/s) that a backlog of hundreds builds up while 200/s arrive.
    const { cluster, fixture: f } = await start({ name, replicas: 3, minReplicas: 2, maxReplicas: 2, workMs: 40, concurrency: 2, targetLagPerReplica: 100 }, (c) =>
      oneUrl ? [c.urls[0] as string] : c.urls,
    );
    await f.ready(2);
    const consumer = name;

    // The server the operator was given is the one to lose: move the stream's leadership onto it.
    if (oneUrl) {
      const target = cluster.names[0] as string;
      await waitFor(`stream leader on ${target}`, async () => {
        const { stream } = await leadersOf(f.jsm, f.stream, consumer).catch(() => ({ stream: undefined }));
        if (stream === target) return true;
        if (stream) await stepDownLeader(f.nc, f.stream).catch(() => undefined);
        await sleep(1_000);
        return false;
      }, 30_000, 0);
    }

    const samples: LagSample[] = [];
    let phase = "before";
    let alive = [...cluster.servers];
    f.runtime.onSnapshot((row) => {
      const s = row.status;
      if (s.lag === undefined || !s.stream) return;
      const fresh = s.conditions?.find((cond) => cond.type === "StreamReady")?.status === "True";
      const sample: LagSample = { atMs: Date.now(), phase, lag: s.lag, messages: s.stream.messages, lastSeq: s.stream.lastSeq, fresh, monitored: [] };
      samples.push(sample);
      for (const server of alive) {
        void consumerSeenBy(cluster, server, f.stream, consumer).then((m) => m && sample.monitored.push(m), () => undefined);
      }
    });

    const ackedIds = new Set<string>();
    const publishing = publishEvents(f.nc, {
      subject: `test.${name}`,
      count: COUNT,
      ratePerSec: RATE,
      idPrefix: `${name}-`,
      window: 64,
      timeoutMs: 3_000,
      retryForMs: 60_000,
      body: (i, id) => ({ ...makeExampleEvent(i), eventId: id }),
      onAck: (id) => ackedIds.add(id),
    });

    await sleep(2_000);
    phase = "consumer stepdown";
    const before = await leadersOf(f.jsm, f.stream, consumer);
    await stepDownLeader(f.nc, f.stream, consumer);
    await waitFor("a new consumer leader", async () => {
      const now = await leadersOf(f.jsm, f.stream, consumer).catch(() => null);
      return now?.consumer !== undefined && now.consumer !== before.consumer;
    }, 20_000, 200);

    await sleep(1_500);
    const { stream: streamLeader } = await leadersOf(f.jsm, f.stream, consumer);
    expect(streamLeader).toBeDefined();
    const victim = cluster.byName(streamLeader as string);
    if (oneUrl) expect(victim).toBe(cluster.servers[0]);
    phase = "stream leader killed";
    const killedAtMs = Date.now();
    await victim.kill();
    expect(ackedIds.size).toBeLessThan(COUNT);
    alive = alive.filter((s) => s !== victim);
    const recordedAtKill = summarize(await f.recorded()).unique.size;

    const report = await publishing;
    phase = "draining";
    expect(report.errors).toBe(0);
    expect(ackedIds.size).toBe(COUNT);

    // No message lost: every acknowledged publish was processed, by consumers that reconnected to the servers left.
    await waitFor("every message processed", async () => summarize(await f.recorded()).unique.size >= COUNT, 90_000, 500);
    const processed = summarize(await f.recorded()).unique;
    expect([...ackedIds].filter((id) => !processed.has(id))).toEqual([]);
    expect(processed.size).toBeGreaterThan(recordedAtKill);
    // The operator reads the queue again from the servers left: its lag comes down to 0 with a fresh read.
    await waitFor("lag 0 after the drain", () => samples.at(-1)?.lag === 0 && samples.at(-1)!.atMs > killedAtMs, 30_000, 200);

    reportSamples(oneUrl ? "one URL" : "all URLs", samples, killedAtMs);
    // Each poll's lag agrees with the stream's own count of unacknowledged messages (work-queue
    // retention: messages = pending + ack pending), up to what moved between the two reads. A
    // follower's view would jump towards lastSeq or read 0 with hundreds pending.
    const slack = (s: LagSample) => 60 + Math.ceil(s.messages * 0.1);
    const wrong = samples.filter((s) => Math.abs(s.lag - s.messages) > slack(s));
    expect(wrong, JSON.stringify(wrong.slice(0, 5))).toEqual([]);
    expect(samples.filter((s) => s.lag === 0 && s.messages > slack(s))).toEqual([]);
    // The operator read the queue again from the servers left while work was left; until then it
    // kept its last reading and said NATS did not answer.
    expect(samples.some((s) => s.atMs > killedAtMs && s.fresh && s.messages > slack(s))).toBe(true);
    expect(Math.max(...samples.map((s) => s.messages))).toBeGreaterThan(150); // a real backlog was there to misread
  }, 240_000);
});

/** The samples through the kill, for the closing note: the operator's lag and what a follower's monitoring port said. */
function reportSamples(label: string, samples: LagSample[], killedAtMs: number): void {
  const back = samples.find((s) => s.atMs > killedAtMs && s.fresh)?.atMs ?? killedAtMs;
  const window = samples.filter((s) => s.atMs >= killedAtMs - 2_000 && s.atMs <= back + 3_000);
  const lags = window.map((s) => s.lag);
  // KEDA's nats-jetstream scaler takes num_pending from whichever server's /jsz it reaches.
  const followers = window.flatMap((s) => s.monitored.filter((m) => !m.leader).map((m) => m.numPending));
  const leaders = window.flatMap((s) => s.monitored.filter((m) => m.leader).map((m) => m.numPending));
  const lines = window.map((s) => {
    const seen = s.monitored.map((m) => `${m.server}${m.leader ? "*" : ""}=${m.numPending}+${m.numAckPending}`).join(" ");
    return `  t${s.atMs - killedAtMs >= 0 ? "+" : ""}${s.atMs - killedAtMs}ms ${s.phase}: lag ${s.lag}${s.fresh ? "" : " (kept: NATS did not answer)"} (stream messages ${s.messages}, lastSeq ${s.lastSeq}) /jsz pending+ackPending: ${seen}`;
  });
  console.log(
    [
      `lag through the stream leader's kill -9 (${label}): operator min ${Math.min(...lags)} max ${Math.max(...lags)};` +
        ` /jsz num_pending (KEDA's reading): consumer leader ${range(leaders)}, followers ${range(followers)}`,
      ...lines,
    ].join("\n"),
  );
}

function range(values: number[]): string {
  return values.length ? `${Math.min(...values)}..${Math.max(...values)}` : "-";
}
