// bench/consumer-throughput: the consumer template with a trivial handler at 1, 2 and 4 replicas
// against raw nats.js (batched consume() with a callback that acks, nothing else) at the same
// number of processes sharing the durable consumer, with the same batch (the template's
// P2P_MAX_BATCH), on the same nats-server in the same run, for small and 1 KiB messages. The trivial handler is
// what a user's copy of the template looks like with their handler.ts in it: the benchmark
// builds such a copy (consumer-template/src with handler.ts replaced by an empty async
// handler, see buildTrivialTemplate). The template as shipped, with its example handler that
// parses and validates each event, is measured too and reported apart ("example").
//
// Each run: publish N valid immunisation_administered events into an empty work-queue stream,
// start the consumer processes, and time the drain from the first message gone to the last,
// by polling the stream every 10 ms. The raw baseline at the same replica count runs before and
// after each template (and example) run; ratioSameReplicas divides by the mean of the two, so
// that load from elsewhere on the machine hits both. ratio divides by the raw x1 runs, as before.
import { cpSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { AckPolicy, RetentionPolicy, StorageType, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { ROOT, lines, procStats, log, round, runBenchmark, sleep, spawnChild, startNats, stopChild, waitFor } from "./lib/harness.mjs";

const STREAM = "BENCH_TP";
const SUBJECT = "bench.throughput";
const CONSUMER = "bench-tp";
const MAX_ACK_PENDING = 1000; // the channel default
// BENCH_TP_REPLICAS=1 (a comma list) and a count of 0 for a size narrow a run down, for profiling.
const REPLICAS = (process.env.BENCH_TP_REPLICAS ?? "1,2,4").split(",").map(Number);
const GOAL = 0.9;
const EXAMPLE_GOAL = 0.8;
// The template's own build (its example handler), and the copy with a trivial handler.
const EXAMPLE_MAIN = `${ROOT}consumer-template/dist/main.js`;
const TRIVIAL_DIR = `${ROOT}consumer-template/.bench-build`;

// The example handler parses and validates each event, so the small size is the smallest
// valid event (about 150 B) padded to 160 B: a 128 B event cannot be valid. The same payloads
// go to every consumer.
const SIZES = [
  { label: "160B", bytes: 160, count: Number(process.env.BENCH_TP_COUNT_SMALL ?? 200_000) },
  { label: "1KiB", bytes: 1024, count: Number(process.env.BENCH_TP_COUNT_LARGE ?? 100_000) },
].filter((s) => s.count > 0);

await runBenchmark("consumer-throughput", 300_000, async () => {
  const trivialMain = buildTrivialTemplate();
  const scripts = { raw: `${ROOT}bench/lib/raw-consumer.mjs`, template: trivialMain, example: EXAMPLE_MAIN };
  const { url, server } = await startNats();
  const nc = await connect({ servers: url, name: "bench-driver" });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: STREAM,
    subjects: [SUBJECT],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
  });
  await jsm.consumers.add(STREAM, {
    durable_name: CONSUMER,
    ack_policy: AckPolicy.Explicit,
    ack_wait: 30_000_000_000,
    max_deliver: 5,
    max_ack_pending: MAX_ACK_PENDING,
  });

  const results = {};
  for (const size of SIZES) {
    const payloads = makePayloads(size.count, size.bytes);
    const drain = async (kind, replicas) => {
      await publish(nc, jsm, payloads);
      const r = await timeDrain(jsm, url, server.pid, kind, scripts[kind], replicas, size.count);
      log(`${size.label} ${kind} x${replicas}: ${Math.round(r.msgsPerSec)} msgs/s (${r.seconds.toFixed(2)} s), ${r.consumerCpuUsPerMsg.toFixed(1)} us CPU/msg in consumers, ${r.serverCpuUsPerMsg.toFixed(1)} in the server`);
      return r;
    };
    // Per replica count N: raw xN, template xN, raw xN, example xN, raw xN (raw xN: N raw
    // processes sharing the durable consumer, each with max_messages = the template's
    // P2P_MAX_BATCH). Each template and example run is compared with the raw runs on either
    // side of it, so that a burst of load from elsewhere on the machine hits both.
    const raws = {};
    const runs = {};
    for (const n of REPLICAS) {
      const r = [await drain("raw", n)];
      const template = await drain("template", n);
      r.push(await drain("raw", n));
      const example = await drain("example", n);
      r.push(await drain("raw", n));
      raws[n] = r;
      runs[n] = { template, example };
    }
    // Today's ratio divides by raw x1: the mean of every raw x1 run of this size.
    const rawX1 = raws[1] ? mean(raws[1].map((r) => r.msgsPerSec)) : null;
    const entry = {
      messages: size.count,
      rawRunsMsgsPerSec: {},
      templateMsgsPerSec: {},
      ratioSameReplicas: {},
      ratio: {},
      example: { msgsPerSec: {}, ratioSameReplicas: {}, ratio: {}, vsTrivial: {}, consumerCpuUsPerMsg: {} },
      consumerCpuUsPerMsg: {},
      serverCpuUsPerMsg: {},
    };
    for (const n of REPLICAS) {
      const x = `x${n}`;
      const [before, middle, after] = raws[n];
      const { template, example } = runs[n];
      entry.rawRunsMsgsPerSec[x] = raws[n].map((r) => Math.round(r.msgsPerSec));
      entry.templateMsgsPerSec[x] = Math.round(template.msgsPerSec);
      entry.ratioSameReplicas[x] = round(template.msgsPerSec / mean([before.msgsPerSec, middle.msgsPerSec]));
      entry.ratio[x] = rawX1 === null ? null : round(template.msgsPerSec / rawX1);
      entry.example.msgsPerSec[x] = Math.round(example.msgsPerSec);
      entry.example.ratioSameReplicas[x] = round(example.msgsPerSec / mean([middle.msgsPerSec, after.msgsPerSec]));
      entry.example.ratio[x] = rawX1 === null ? null : round(example.msgsPerSec / rawX1);
      entry.example.vsTrivial[x] = round(example.msgsPerSec / template.msgsPerSec);
      entry.example.consumerCpuUsPerMsg[x] = round(example.consumerCpuUsPerMsg, 1);
      entry.consumerCpuUsPerMsg[x] = { raw: round(mean(raws[n].map((r) => r.consumerCpuUsPerMsg)), 1), template: round(template.consumerCpuUsPerMsg, 1) };
      entry.serverCpuUsPerMsg[x] = { raw: round(mean(raws[n].map((r) => r.serverCpuUsPerMsg)), 1), template: round(template.serverCpuUsPerMsg, 1) };
    }
    results[size.label] = entry;
  }
  await nc.close();

  const all = (pick) => Object.values(results).flatMap((r) => Object.values(pick(r)));
  const minSame = Math.min(...all((r) => r.ratioSameReplicas));
  const minExampleVsTrivial = Math.min(...all((r) => r.example.vsTrivial));
  return {
    baseline:
      "raw nats.js consume() with callback + ack, N processes sharing the durable consumer, max_messages = floor(maxAckPending / N) (the template's P2P_MAX_BATCH); ratioSameReplicas = template xN / mean of the raw xN runs just before and after; ratio = template xN / mean of the raw x1 runs",
    setup: {
      storage: "file",
      retention: "workqueue",
      maxAckPending: MAX_ACK_PENDING,
      workMs: 0,
      pMaxBatch: "floor(maxAckPending / replicas)",
      handler: "template: consumer-template/src with an empty async handler; example: the template as shipped (parses and validates each event)",
    },
    results,
    goal: {
      ratioSameReplicasAtLeast: GOAL,
      minRatioSameReplicas: minSame,
      exampleVsTrivialAtLeast: EXAMPLE_GOAL,
      minExampleVsTrivial,
      met: minSame >= GOAL && minExampleVsTrivial >= EXAMPLE_GOAL,
    },
  };
});

/** What the operator injects as P2P_MAX_BATCH; the raw processes get the same max_messages. */
function maxBatchFor(replicas) {
  return Math.max(1, Math.floor(MAX_ACK_PENDING / replicas));
}

function mean(xs) {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function makePayloads(count, bytes) {
  const encoder = new TextEncoder();
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    const json = JSON.stringify({
      type: "immunisation_administered",
      eventId: `e${i}`,
      patientId: `p${i % 100_000}`,
      vaccineCode: "MMR",
      dose: 1,
      administeredAt: "2025-01-06",
      providerId: `v${i % 50}`,
    });
    if (json.length > bytes) throw new Error(`event ${i} is ${json.length} B, more than ${bytes} B`);
    out[i] = encoder.encode(json + " ".repeat(bytes - json.length));
  }
  return out;
}

/** Core publishes with a flush every 5,000 (several times faster than acked JetStream publishes), then checks the count. */
async function publish(nc, jsm, payloads) {
  await jsm.streams.purge(STREAM);
  for (let i = 0; i < payloads.length; i++) {
    nc.publish(SUBJECT, payloads[i]);
    if (i % 5_000 === 4_999) await nc.flush();
  }
  await nc.flush();
  await waitFor("the stream to hold every published message", async () => (await jsm.streams.info(STREAM)).state.messages === payloads.length, {
    timeoutMs: 10_000,
  });
}

/**
 * The template as a user has it once their handler is in: a copy of consumer-template/src
 * whose handler.ts does nothing, compiled with the repo's tsc and the template's compiler
 * settings. It lives under consumer-template/ (git-ignored) so that its imports resolve
 * from the workspace's node_modules and consumer-template/package.json makes it ESM.
 */
function buildTrivialTemplate() {
  rmSync(TRIVIAL_DIR, { recursive: true, force: true });
  mkdirSync(TRIVIAL_DIR, { recursive: true });
  cpSync(`${ROOT}consumer-template/src`, `${TRIVIAL_DIR}/src`, { recursive: true });
  // The example stays, renamed, so the HandlerContext type comes from the template itself.
  renameSync(`${TRIVIAL_DIR}/src/handler.ts`, `${TRIVIAL_DIR}/src/example-handler.ts`);
  writeFileSync(
    `${TRIVIAL_DIR}/src/handler.ts`,
    [
      "// bench/consumer-throughput: a trivial handler, the template's own cost and nothing else.",
      'import type { HandlerContext } from "./example-handler.js";',
      "export type { HandlerContext };",
      "export async function handle(_data: Uint8Array, _ctx: HandlerContext): Promise<void> {}",
      "",
    ].join("\n"),
  );
  writeFileSync(
    `${TRIVIAL_DIR}/tsconfig.json`,
    `${JSON.stringify({ extends: "../../tsconfig.base.json", compilerOptions: { outDir: "dist", rootDir: "src", types: ["node"] }, include: ["src"] }, null, 2)}\n`,
  );
  execFileSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, "-p", `${TRIVIAL_DIR}/tsconfig.json`], { cwd: ROOT, stdio: ["ignore", 2, 2] });
  log(`built the template with a trivial handler in ${TRIVIAL_DIR}`);
  return `${TRIVIAL_DIR}/dist/main.js`;
}

async function timeDrain(jsm, url, serverPid, kind, script, replicas, count) {
  const serverCpuBefore = procStats(serverPid).cpuSeconds;
  const procs = [];
  const output = [];
  for (let i = 0; i < replicas; i++) {
    const env =
      kind === "raw"
        ? { ...process.env, NATS_URL: url, P2P_STREAM: STREAM, P2P_CONSUMER: CONSUMER, RAW_MAX_MESSAGES: String(maxBatchFor(replicas)) }
        : {
            ...process.env,
            NATS_URL: url,
            P2P_STREAM: STREAM,
            P2P_CONSUMER: CONSUMER,
            P2P_SUBJECTS: SUBJECT,
            P2P_MAX_BATCH: String(maxBatchFor(replicas)),
            P2P_WORK_MS: "0",
            LOG_LEVEL: "warn",
          };
    // BENCH_PROF_DIR=DIR: a CPU profile of every consumer process (read with bench/lib/profile-summary.mjs).
    const prof = process.env.BENCH_PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROF_DIR}/${kind}-x${replicas}`] : [];
    const child = spawnChild(process.execPath, [...prof, script], { env });
    lines(child.stdout, (l) => output.push(l));
    lines(child.stderr, (l) => output.push(l));
    procs.push(child);
  }
  try {
    let firstDropAt = null;
    let drainedAt = null;
    const until = Date.now() + 120_000;
    while (drainedAt === null) {
      if (Date.now() > until) throw new Error(`${kind} x${replicas} did not drain in 120 s: ${output.slice(-5).join(" | ")}`);
      for (const p of procs) if (p.exitCode !== null) throw new Error(`${kind} consumer exited with ${p.exitCode}: ${output.slice(-5).join(" | ")}`);
      const state = (await jsm.streams.info(STREAM)).state;
      const now = performance.now();
      if (firstDropAt === null && state.messages < count) firstDropAt = now;
      if (state.messages === 0) drainedAt = now;
      else await sleep(10);
    }
    // CPU from process start (connect and setup included: a few ms) to the drained stream.
    const consumerCpu = procs.reduce((sum, p) => sum + procStats(p.pid).cpuSeconds, 0);
    const serverCpu = procStats(serverPid).cpuSeconds - serverCpuBefore;
    // The first 10 ms poll can miss the very first ack: count from the first poll that saw one.
    const seconds = (drainedAt - firstDropAt) / 1000;
    return {
      seconds,
      msgsPerSec: count / Math.max(seconds, 1e-3),
      consumerCpuUsPerMsg: (consumerCpu * 1e6) / count,
      serverCpuUsPerMsg: (serverCpu * 1e6) / count,
    };
  } finally {
    await Promise.all(procs.map((p) => stopChild(p, 10_000)));
    const info = await jsm.consumers.info(STREAM, CONSUMER);
    if (info.num_ack_pending !== 0 || info.num_pending !== 0) throw new Error(`consumer not settled: ${JSON.stringify(info.num_ack_pending)}`);
  }
}
