// bench/burst-drain: a burst of N messages, each taking P2P_WORK_MS of I/O-like work, drained
// by consumer-template replicas in `p2p local` mode, three ways:
//   ours   the example channel's scaling (examples/immunisation/channel.yaml: min 1, max 8,
//          targetLagPerReplica 100, pollInterval 1s, scaleDown window 15s, default maxStep 4)
//   keda   KEDA's defaults, emulated by this driver: the HPA syncs every 15 s, reads the lag
//          fresh each time (KEDA's metrics server queries the scaler on every HPA request
//          unless useCachedMetrics is set), desired = ceil(lag / threshold) with the HPA's 10%
//          tolerance, scale-up at most max(4 pods, 100%) per 15 s, scale-down stabilization
//          300 s. KEDA's own 30 s pollingInterval only moves 0 <-> 1; with the same
//          minReplicas 1 as ours it plays no part. The first sync falls 7.5 s after the
//          burst (the mean of a uniformly random phase). The driver actuates through the
//          same operator: it writes minReplicas = its decision into the channel file, with
//          the operator's own lag scaling neutralised (targetLagPerReplica 1e9, no windows).
//   ideal  maxReplicas from t=0 (minReplicas = maxReplicas = 8), burst sent once all run.
// Same bounds, threshold, subjects layout, consumer env (P2P_MAX_BATCH from maxReplicas 8) and
// N in all three.
// Scale-in: after the drain, ours keeps a trickle of messages arriving while it scales back to
// minReplicas, and each run counts the deliveries beyond one per message (the consumer's
// delivered sequence counts every delivery, redeliveries included; the stream's last sequence
// counts the messages) during the burst and during the scale-down, and the messages the
// replicas' record file holds more than once.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { stringify } from "yaml";
import { ROOT, lines, log, onCleanup, round, runBenchmark, sleep, spawnChild, startNats, stopChild, waitFor } from "./lib/harness.mjs";
import { timelineSvg } from "./lib/timeline-svg.mjs";

// The main burst is sized so that the ideal drains in about 25 s on this machine (8 replicas x
// ~190 msgs/s); the short one in about 4 s. KEDA's handicap is a roughly fixed delay (the HPA
// phase, then 15 s per scale-up step), so its ratio to ours depends on the burst's size.
const BURSTS = [
  { label: "main", messages: Number(process.env.BENCH_BURST_N ?? 36_000) },
  { label: "short", messages: Number(process.env.BENCH_BURST_SHORT_N ?? 6_000) },
].filter((b) => b.label === "main" || b.messages > 0); // BENCH_BURST_SHORT_N=0 leaves the short one out
const WORK_MS = Number(process.env.BENCH_BURST_WORK_MS ?? 20);
// The replicas' script, relative to the repository root: another build of the template, to compare.
const CONSUMER_MAIN = process.env.BENCH_BURST_MAIN ?? "consumer-template/dist/main.js";
const MIN = 1;
const MAX = 8;
const THRESHOLD = 100;
const POLL_MS = 1_000;
const OURS_SCALE_DOWN_WINDOW_S = 15;
const HPA_SYNC_MS = 15_000;
const HPA_TOLERANCE = 0.1;
const KEDA_SCALE_DOWN_WINDOW_S = 300;
const KEDA_FIRST_SYNC_AFTER_BURST_MS = 7_500;
// Arrivals while ours scales in after the drain: well under one replica's ~190 msgs/s.
const TRICKLE_PER_SEC = 20;
const encoder = new TextEncoder();

const GOALS = { drainVsIdealAtMost: 1.3, fasterThanKedaAtLeast: 2, reactionPollsAtMost: 2, scaleDownRedeliveries: 0 };

await runBenchmark("burst-drain", 540_000, async () => {
  const { url } = await startNats();
  const dir = await mkdtemp(join(tmpdir(), "p2p-bench-burst-"));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  const nc = await connect({ servers: url, name: "bench-burst-driver" });
  onCleanup(() => nc.close());
  const jsm = await jetstreamManager(nc);

  const results = {};
  for (const burst of BURSTS) {
    const runs = {};
    const timelines = {};
    for (const variant of ["ideal", "ours", "keda"]) {
      const { timeline, ...run } = await runVariant({ variant, messages: burst.messages, label: burst.label, url, dir, nc, jsm });
      runs[variant] = run;
      timelines[variant] = timeline;
      log(`${burst.label} ${variant}: ${JSON.stringify(runs[variant])}`);
    }
    const picture = await writeBurstPicture(burst, timelines);
    log(`${burst.label}: picture in ${picture}`);
    const { ideal, ours, keda } = runs;
    const ratio = (a, b) => round(a / b);
    results[burst.label] = {
      messages: burst.messages,
      picture,
      runs,
      ratios: {
        oursDrainVsIdeal: ratio(ours.drainSeconds, ideal.drainSeconds),
        kedaDrainVsOurs: ratio(keda.drainSeconds, ours.drainSeconds),
        kedaDrainVsIdeal: ratio(keda.drainSeconds, ideal.drainSeconds),
        oursReplicaSecondsVsIdeal: ratio(ours.replicaSecondsToDrain, ideal.replicaSecondsToDrain),
        oursReplicaSecondsVsKeda: ratio(ours.replicaSecondsToDrain, keda.replicaSecondsToDrain),
        oursReactionPolls: round(ours.reactionSeconds / (POLL_MS / 1000), 1),
      },
    };
  }

  const main = results.main;
  const ours = main.runs.ours;
  return {
    setup: {
      workMsPerMessage: WORK_MS,
      concurrencyPerReplica: 4,
      minReplicas: MIN,
      maxReplicas: MAX,
      targetLagPerReplica: THRESHOLD,
      ours: { pollInterval: "1s", scaleDownWindow: `${OURS_SCALE_DOWN_WINDOW_S}s`, scaleUpMaxStep: 4 },
      scaleIn: { trickleMsgsPerSec: TRICKLE_PER_SEC, from: "the drain", until: "ours is back at minReplicas, + 3 s", measured: "consumer delivered seq - stream last seq; record file lines - distinct" },
      keda: { hpaSync: "15s", metric: "fresh per HPA sync", scaleUp: "max(4 pods, 100%) per 15s", scaleDownWindow: "300s", tolerance: 0.1, firstSyncAfterBurst: "7.5s" },
    },
    bursts: results,
    goals: {
      on: "main burst",
      drainAtMost1_3xIdeal: main.ratios.oursDrainVsIdeal <= GOALS.drainVsIdealAtMost,
      atLeast2xFasterThanKeda: main.ratios.kedaDrainVsOurs >= GOALS.fasterThanKedaAtLeast,
      // What any policy could reach at this size: the ideal's own advantage over KEDA.
      idealVsKeda: main.ratios.kedaDrainVsIdeal,
      reactionAtMost2Polls: main.ratios.oursReactionPolls <= GOALS.reactionPollsAtMost,
      noFlapping: Object.values(results).every((r) => !r.runs.ours.flapped && r.runs.ours.scaleEvents.length <= 4),
      // Every burst: scaling 8 -> 1 with a trickle still arriving delivers nothing twice.
      noScaleDownRedeliveries: Object.values(results).every((r) => r.runs.ours.scaleDownRedeliveries === GOALS.scaleDownRedeliveries),
    },
  };
});

function channelYaml(name, subject, scaling, recordFile) {
  return stringify({
    apiVersion: "messaging.p2p.dev/v1alpha1",
    kind: "PointToPointChannel",
    metadata: { name },
    spec: {
      subjects: [subject],
      workload: {
        template: {
          spec: {
            containers: [
              {
                name: "consumer",
                image: "ghcr.io/p2p-operator/consumer-template:0.1.0",
                command: ["node", CONSUMER_MAIN],
                env: [
                  { name: "P2P_WORK_MS", value: String(WORK_MS) },
                  { name: "LOG_LEVEL", value: "warn" },
                  // One line per processed message, from every replica (appends of a line each).
                  { name: "P2P_RECORD_FILE", value: recordFile },
                ],
              },
            ],
          },
        },
      },
      scaling,
    },
  });
}

function scalingFor(variant, kedaReplicas = MIN) {
  switch (variant) {
    case "ours":
      return { minReplicas: MIN, maxReplicas: MAX, targetLagPerReplica: THRESHOLD, pollInterval: "1s", scaleDown: { stabilizationWindow: `${OURS_SCALE_DOWN_WINDOW_S}s` } };
    case "ideal":
      return { minReplicas: MAX, maxReplicas: MAX, targetLagPerReplica: THRESHOLD, pollInterval: "1s" };
    case "keda":
      // The operator only actuates: its own recommendation is always 1, so minReplicas rules.
      return {
        minReplicas: kedaReplicas,
        maxReplicas: MAX,
        targetLagPerReplica: 1_000_000_000,
        pollInterval: "1s",
        scaleDown: { stabilizationWindow: "0s" },
        scaleUp: { stabilizationWindow: "0s", maxStep: MAX },
      };
  }
  throw new Error(variant);
}

async function runVariant({ variant, messages, label, url, dir, nc, jsm }) {
  const name = `burst-${label}-${variant}`;
  const subject = `bench.burst.${label}.${variant}`;
  const file = join(dir, `${name}.yaml`);
  const stream = `default_${name}`;
  const recordFile = join(dir, `${name}.records`);
  await writeFile(file, channelYaml(name, subject, scalingFor(variant), recordFile));

  const snapshots = [];
  const local = spawnChild(process.execPath, [`${ROOT}operator/dist/cli/main.js`, "local", file, "--json", "--nats-url", url, "--state-dir", join(dir, `state-${label}-${variant}`)]);
  const stderr = [];
  lines(local.stderr, (l) => stderr.push(l));
  lines(local.stdout, (l) => {
    try {
      const v = JSON.parse(l);
      if (v.type === "channel") snapshots.push({ ...v, atMs: Date.now() });
    } catch {
      // not JSON
    }
  });
  let emulator = null;
  try {
    const initial = variant === "ideal" ? MAX : MIN;
    await waitFor(`${variant}: ${initial} replicas running`, () => {
      if (local.exitCode !== null) throw new Error(`p2p local exited ${local.exitCode}: ${stderr.slice(-5).join(" | ")}`);
      const last = snapshots.at(-1);
      return last && last.ready === "True" && last.readyReplicas === initial;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    // The replicas connect and look up their consumer after they start.
    await sleep(2_000);

    const atStart = await deliveries(jsm, stream, name);
    const before = atStart.messages;
    let burstAtMs;
    if (variant === "keda") {
      emulator = startKedaEmulator({ jsm, stream, consumer: name, file, name, subject, recordFile });
      await sleep(HPA_SYNC_MS - KEDA_FIRST_SYNC_AFTER_BURST_MS);
    }
    burstAtMs = Date.now();
    await publishBurst(nc, subject, messages);
    await waitFor("the burst to be stored", async () => (await jsm.streams.info(stream)).state.last_seq - before >= messages, { timeoutMs: 20_000 });

    // Lag as the driver sees it, every 200 ms: the drain ends when the consumer has nothing left.
    let firstLagAtMs = null;
    let drainedAtMs = null;
    const lagSeries = [[0, 0]];
    const until = Date.now() + 240_000;
    while (drainedAtMs === null) {
      if (Date.now() > until) throw new Error(`${variant}: not drained within 240 s`);
      if (local.exitCode !== null) throw new Error(`p2p local exited ${local.exitCode}: ${stderr.slice(-5).join(" | ")}`);
      const c = await jsm.consumers.info(stream, name);
      const lag = c.num_pending + c.num_ack_pending;
      const now = Date.now();
      lagSeries.push([round((now - burstAtMs) / 1000, 2), lag]);
      if (lag > 0 && firstLagAtMs === null) firstLagAtMs = now;
      if (lag === 0 && firstLagAtMs !== null) drainedAtMs = now;
      else await sleep(200);
    }
    emulator?.stop();
    const atDrain = await deliveries(jsm, stream, name);

    // Ours: watch the way back to minReplicas (its scale-down window), bounded, with a trickle
    // arriving all along; then a few seconds more for the stopped replicas to exit.
    let settledAtMs = null;
    let scaleDownRedeliveries = null;
    let trickled = 0;
    if (variant === "ours") {
      const trickle = startTrickle(nc, subject, `${label}-${variant}`);
      try {
        const deadline = Date.now() + (OURS_SCALE_DOWN_WINDOW_S + 15) * 1000;
        while (Date.now() < deadline) {
          const last = snapshots.at(-1);
          if (last.replicas === MIN && last.readyReplicas === MIN) {
            settledAtMs = last.atMs;
            break;
          }
          await sleep(200);
        }
        await sleep(3_000);
      } finally {
        trickled = trickle.stop();
      }
      await waitFor("the trickle to be processed", async () => {
        const c = await jsm.consumers.info(stream, name);
        return c.num_pending + c.num_ack_pending === 0;
      }, { timeoutMs: 30_000, intervalMs: 200 });
      scaleDownRedeliveries = redeliveriesBetween(atDrain, await deliveries(jsm, stream, name));
    }
    const records = await recordCounts(recordFile);

    const during = snapshots.filter((s) => s.atMs >= burstAtMs);
    const events = scaleEvents(snapshots, burstAtMs);
    const firstUp = events.find((e) => e.to > e.from);
    const directions = events.map((e) => Math.sign(e.to - e.from));
    const flapped = directions.some((d, i) => i > 0 && d > 0 && directions[i - 1] < 0);
    return {
      timeline: {
        lag: lagSeries,
        replicas: [[0, initial], ...during.map((s) => [round((s.atMs - burstAtMs) / 1000, 2), s.readyReplicas ?? 0])],
      },
      drainSeconds: round((drainedAtMs - burstAtMs) / 1000, 1),
      // Lag exists from the burst's first message on: reaction = first scale-up decision - burst start.
      reactionSeconds: variant === "ideal" ? 0 : firstUp ? round((firstUp.atMs - burstAtMs) / 1000, 2) : null,
      replicaSecondsToDrain: round(replicaSeconds(snapshots, burstAtMs, drainedAtMs, initial), 0),
      maxReplicas: Math.max(initial, ...during.map((s) => s.readyReplicas ?? 0)),
      scaleEvents: events.map((e) => ({ atSeconds: round((e.atMs - burstAtMs) / 1000, 1), from: e.from, to: e.to })),
      flapped,
      // Deliveries beyond one per message, by the server's count.
      burstRedeliveries: redeliveriesBetween(atStart, atDrain),
      // From the drain on, while ours scales in with a trickle arriving; null where no scale-down happens in the run.
      scaleDownRedeliveries,
      trickleMessages: variant === "ours" ? trickled : null,
      // Messages processed (record file lines) more than once, over the whole run.
      processedTwice: records.lines - records.distinct,
      ...(variant === "ours"
        ? {
            backToMinSecondsAfterDrain: settledAtMs === null ? null : round((settledAtMs - drainedAtMs) / 1000, 1),
            replicaSecondsUntilBackAtMin: settledAtMs === null ? null : round(replicaSeconds(snapshots, burstAtMs, settledAtMs, initial), 0),
          }
        : {}),
      ...(variant === "keda"
        ? {
            hpaSyncs: emulator.syncs,
            // Not waited for: by its rules the HPA holds the peak for its 300 s window after the drain.
            backToMinSecondsAfterDrainByItsRules: KEDA_SCALE_DOWN_WINDOW_S,
            replicaSecondsUntilBackAtMinByItsRules: round(
              replicaSeconds(snapshots, burstAtMs, drainedAtMs, initial) + KEDA_SCALE_DOWN_WINDOW_S * Math.max(initial, ...during.map((s) => s.replicas ?? 0)),
              0,
            ),
          }
        : {}),
    };
  } finally {
    emulator?.stop();
    await stopChild(local, 30_000);
  }
}

/** docs/images/burst-drain-<label>.svg: lag and replicas over time of the three runs (shown in docs/benchmarks.md). */
async function writeBurstPicture(burst, timelines) {
  const file = `docs/images/burst-drain-${burst.label}.svg`;
  const svg = timelineSvg({
    title: `Burst of ${burst.messages} messages (${WORK_MS} ms of work each): lag and replicas`,
    subtitle: `min ${MIN}, max ${MAX}, targetLagPerReplica ${THRESHOLD}; measured by bench/burst-drain.mjs`,
    series: [
      { name: "p2p-operator", color: "#1f6feb", ...timelines.ours },
      { name: "KEDA + HPA (emulated)", color: "#d1242f", ...timelines.keda },
      { name: `ideal (${MAX} from the start)`, color: "#1a7f37", dashed: true, ...timelines.ideal },
    ],
  });
  await mkdir(join(ROOT, "docs/images"), { recursive: true });
  await writeFile(join(ROOT, file), svg);
  return file;
}

function eventBytes(eventId, i) {
  return encoder.encode(
    JSON.stringify({
      type: "immunisation_administered",
      eventId,
      patientId: `patient-${(i * 7919) % 100_000}`,
      vaccineCode: "MMR",
      dose: 1 + (i % 3),
      administeredAt: "2025-01-06T09:00:00.000Z",
      providerId: `provider-${i % 50}`,
    }),
  );
}

/** Core publishes (as the burst from an upstream system would arrive), flushed every 2,000. */
async function publishBurst(nc, subject, messages) {
  for (let i = 0; i < messages; i++) {
    nc.publish(subject, eventBytes(`burst-${subject}-${i}`, i));
    if (i % 2_000 === 1_999) await nc.flush();
  }
  await nc.flush();
}

/** TRICKLE_PER_SEC messages a second until stop(), which returns how many were sent. */
function startTrickle(nc, subject, label) {
  let sent = 0;
  const timer = setInterval(() => {
    nc.publish(subject, eventBytes(`trickle-${label}-${sent}`, sent));
    sent++;
  }, 1000 / TRICKLE_PER_SEC);
  return {
    stop() {
      clearInterval(timer);
      return sent;
    },
  };
}

/** Every delivery the consumer made (its delivered sequence counts redeliveries too) and every message stored. */
async function deliveries(jsm, stream, consumer) {
  const [c, s] = await Promise.all([jsm.consumers.info(stream, consumer), jsm.streams.info(stream)]);
  return { deliveries: c.delivered.consumer_seq, messages: s.state.last_seq };
}

/** Between two points where the consumer had nothing pending: deliveries beyond one per new message. */
function redeliveriesBetween(a, b) {
  return b.deliveries - a.deliveries - (b.messages - a.messages);
}

/** Lines and distinct ids of a P2P_RECORD_FILE shared by all replicas. */
async function recordCounts(path) {
  const lines = (await readFile(path, "utf8").catch(() => "")).split("\n").filter((l) => l !== "");
  return { lines: lines.length, distinct: new Set(lines).size };
}

/** Changes of the workload's replicas in the snapshots, from the burst on. */
function scaleEvents(snapshots, fromMs) {
  const events = [];
  let previous = null;
  for (const s of snapshots) {
    if (previous !== null && s.replicas !== previous.replicas && s.atMs >= fromMs) {
      // lastScaleTime is when the operator decided; the snapshot comes right after the apply.
      const decidedMs = s.lastScaleTime ? Date.parse(s.lastScaleTime) : s.atMs;
      events.push({ atMs: decidedMs >= fromMs ? decidedMs : s.atMs, from: previous.replicas, to: s.replicas });
    }
    previous = s;
  }
  return events;
}

/** Running replicas integrated over [fromMs, toMs], stepwise between snapshots. */
function replicaSeconds(snapshots, fromMs, toMs, initial) {
  let value = initial;
  let at = fromMs;
  let total = 0;
  for (const s of snapshots) {
    if (s.atMs <= fromMs) {
      value = s.readyReplicas ?? value;
      continue;
    }
    if (s.atMs >= toMs) break;
    total += value * (s.atMs - at);
    at = s.atMs;
    value = s.readyReplicas ?? value;
  }
  total += value * (toMs - at);
  return total / 1000;
}

/**
 * The HPA as KEDA drives it, with Kubernetes' defaults: every 15 s, read the lag, recommend
 * ceil(lag / threshold) unless within 10% of the current ratio, limit scale-up to
 * max(current + 4, 2 x current), take the highest recommendation of the last 300 s when
 * scaling down, clamp to [min, max]. Actuates by rewriting minReplicas in the channel file.
 */
function startKedaEmulator({ jsm, stream, consumer, file, name, subject, recordFile }) {
  let current = MIN;
  let stopped = false;
  const recommendations = [];
  const state = { syncs: [] };
  const sync = async () => {
    if (stopped) return;
    const c = await jsm.consumers.info(stream, consumer);
    const lag = c.num_pending + c.num_ack_pending;
    const nowMs = Date.now();
    const usageRatio = lag / (THRESHOLD * current);
    let recommended = Math.abs(usageRatio - 1) <= HPA_TOLERANCE ? current : Math.ceil(lag / THRESHOLD);
    recommended = Math.min(MAX, Math.max(MIN, recommended));
    recommendations.push({ atMs: nowMs, replicas: recommended });
    while (recommendations[0].atMs < nowMs - KEDA_SCALE_DOWN_WINDOW_S * 1000) recommendations.shift();
    let desired = recommended;
    if (desired < current) desired = Math.min(current, Math.max(...recommendations.map((r) => r.replicas)));
    if (desired > current) desired = Math.min(desired, Math.max(current + 4, 2 * current));
    desired = Math.min(MAX, Math.max(MIN, desired));
    state.syncs.push({ lag, desired });
    if (desired !== current && !stopped) {
      current = desired;
      await writeFile(file, channelYaml(name, subject, scalingFor("keda", desired), recordFile));
    }
  };
  const timer = setInterval(() => void sync().catch((err) => log(`keda emulator: ${err.message}`)), HPA_SYNC_MS);
  return {
    get syncs() {
      return state.syncs;
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
