#!/usr/bin/env node
// `npm run demo`: the immunisation example end to end on one machine.
//
//  1. `p2p local examples/immunisation/channel.yaml`: an embedded nats-server, the work-queue
//     stream and durable consumer, and the consumer template running as local processes.
//  2. `p2p publish` a burst of immunisation_administered events.
//  3. One line per second: lag, running/desired replicas, processed, the last scale decision.
//     Replicas climb with the lag, the burst drains, and after the scale-down window the
//     channel is back at minReplicas.
//  4. One summary line, counted from the consumers' P2P_RECORD_FILE (one Nats-Msg-Id per
//     processed message): exit 0 only if every published message was processed.
//
// DEMO_COUNT (default 5000) sets the burst size. `npm run predemo` builds and checks tools.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { timelineSvg } from "../bench/lib/timeline-svg.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "operator/dist/cli/main.js");
const channelFile = "examples/immunisation/channel.yaml";
const channelKey = "default/immunisation-register";
const count = Number(process.env.DEMO_COUNT ?? 5000);
const deadline = Date.now() + 115_000;

if (!existsSync(cli) || !existsSync(join(root, "consumer-template/dist/main.js"))) {
  console.error("demo: not built; run `npm run demo` (its predemo step builds), or `npm run build` first");
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), "p2p-demo-"));
const recordFile = join(work, "processed.txt");
const idPrefix = `demo-${Date.now().toString(36)}-`;
const t0 = Date.now();
const say = (text) => console.log(`[${String(Math.round((Date.now() - t0) / 1000)).padStart(3)}s] ${text}`);

let latest = null;
let natsUrl = null;
/** Lag and running replicas at each reconcile from the burst on: the picture of this run. */
const timeline = [];
let publishStart = null;
let localExited = null;
const snapshotWaiters = new Set();

const local = spawn(
  process.execPath,
  [cli, "local", channelFile, "--json", "--state-dir", join(work, "state"), "--env", `P2P_RECORD_FILE=${recordFile}`],
  { cwd: root, stdio: ["ignore", "pipe", "inherit"] },
);
local.on("exit", (code, signal) => {
  localExited = { code, signal };
  for (const w of snapshotWaiters) w();
});
createInterface({ input: local.stdout }).on("line", (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return console.log(line);
  }
  if (msg.type === "started") {
    natsUrl = msg.natsUrl;
    say(`p2p local: nats-server ${msg.natsUrl}; consumer logs in ${msg.logDir}`);
  } else if (msg.type === "channel" && msg.channel === channelKey) {
    latest = msg;
    if (publishStart !== null) timeline.push({ t: (Date.now() - publishStart) / 1000, lag: msg.lag ?? 0, replicas: msg.readyReplicas ?? 0 });
  }
  for (const w of snapshotWaiters) w();
});

/** Resolves once pred(latest) holds; rejects when p2p local exits or the demo runs out of time. */
function until(what, pred, timeoutMs) {
  const end = Math.min(deadline, Date.now() + timeoutMs);
  return new Promise((resolvePromise, reject) => {
    const check = () => {
      if (pred()) return done(resolvePromise);
      if (localExited) return done(() => reject(new Error(`p2p local exited (${JSON.stringify(localExited)}) while waiting for ${what}`)));
      if (Date.now() > end) return done(() => reject(new Error(`timed out waiting for ${what}`)));
    };
    const timer = setInterval(check, 200);
    const done = (fn) => {
      clearInterval(timer);
      snapshotWaiters.delete(check);
      fn();
    };
    snapshotWaiters.add(check);
    check();
  });
}

function processedIds() {
  let text = "";
  try {
    text = readFileSync(recordFile, "utf8");
  } catch {
    return { lines: 0, unique: new Set() };
  }
  const ids = text.split("\n").filter((l) => l.startsWith(idPrefix));
  return { lines: ids.length, unique: new Set(ids) };
}

function problems(snap) {
  return (snap?.conditions ?? []).map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`).join("; ");
}

function publish() {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cli, "publish", channelFile, "--count", String(count), "--nats-url", natsUrl, "--id-prefix", idPrefix], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("exit", (code) => {
      try {
        resolvePromise({ code, report: JSON.parse(out.trim().split("\n").pop()) });
      } catch {
        reject(new Error(`p2p publish exited ${code} without a report`));
      }
    });
  });
}

async function stopLocal() {
  if (localExited) return;
  local.kill("SIGINT");
  const killer = setTimeout(() => local.kill("SIGKILL"), 30_000);
  await until("p2p local to stop", () => localExited !== null, 35_000).catch(() => undefined);
  clearTimeout(killer);
}

let published = 0;
let maxReplicas = 0;
let drainSeconds = null;
let failure = null;
let ticker = null;

try {
  await until("the channel to be Ready", () => latest?.ready === "True" && latest.readyReplicas >= 1, 60_000);
  say(`channel ${channelKey} is Ready with ${latest.readyReplicas} replica(s); publishing ${count} events`);

  publishStart = Date.now();
  // A line when something moved (lag, replicas, processed, a scale decision), else every 5 s.
  let lastLine = "";
  let lastPrintedAt = 0;
  ticker = setInterval(() => {
    if (!latest) return;
    maxReplicas = Math.max(maxReplicas, latest.readyReplicas ?? 0);
    const p = processedIds().unique.size;
    const issue = problems(latest);
    const line =
      `lag ${String(latest.lag ?? "-").padStart(5)}  replicas ${latest.readyReplicas ?? 0}/${latest.desiredReplicas ?? "-"}  ` +
      `processed ${String(p).padStart(String(count).length)}/${published || count}  last scale: ${latest.lastScaleReason ?? "-"}${issue ? `  [${issue}]` : ""}`;
    if (line === lastLine && Date.now() - lastPrintedAt < 5_000) return;
    lastLine = line;
    lastPrintedAt = Date.now();
    const rate = latest.ratePerSec === null || !latest.lag ? "" : `  (arrivals ~${Math.round(latest.ratePerSec)}/s)`;
    say(line + rate);
  }, 1_000);

  const { code, report } = await publish();
  published = report.acked;
  say(`published: acked=${report.acked} duplicates=${report.duplicates} errors=${report.errors} at ${report.ratePerSec} msg/s`);
  if (code !== 0) throw new Error(`p2p publish failed: ${report.firstError ?? `exit ${code}`}`);

  await until("the burst to drain", () => {
    maxReplicas = Math.max(maxReplicas, latest?.readyReplicas ?? 0);
    return latest?.lag === 0 && processedIds().unique.size >= published;
  }, 90_000);
  drainSeconds = Math.round((Date.now() - publishStart) / 100) / 10;
  say(`drained in ${drainSeconds}s; waiting for the scale-down to minReplicas`);

  const min = minReplicasOf();
  await until(`replicas back at ${min}`, () => latest?.desiredReplicas === min && latest?.readyReplicas === min, 90_000);
  say(`scaled down to ${min}: ${latest.lastScaleReason}`);
} catch (err) {
  failure = err;
  console.error(`demo: ${err.message}${latest ? ` (last status: lag ${latest.lag}, replicas ${latest.readyReplicas}/${latest.desiredReplicas}${problems(latest) ? `, ${problems(latest)}` : ""})` : ""}`);
} finally {
  if (ticker) clearInterval(ticker);
  await stopLocal();
}

const picture = writePicture();
if (picture) console.log(`demo: lag and replicas of this run: ${picture}`);
const { lines, unique } = processedIds();
let lost = 0;
for (let i = 0; i < published; i++) if (!unique.has(`${idPrefix}${i}`)) lost++;
const duplicates = lines - unique.size;
console.log(
  `demo: published=${published} processed=${unique.size} lost=${lost} duplicates=${duplicates} maxReplicas=${maxReplicas} drainSeconds=${drainSeconds ?? "-"}`,
);
const ok = lost === 0 && published === count && !failure;
if (ok) rmSync(work, { recursive: true, force: true });
else console.error(`demo: logs kept in ${work}`);
process.exit(ok ? 0 : 1);

/** minReplicas as written in the example (defaults to 1, as the API does). */
function minReplicasOf() {
  const m = /minReplicas:\s*(\d+)/.exec(readFileSync(join(root, channelFile), "utf8"));
  return m ? Number(m[1]) : 1;
}

/** An SVG of this run's lag and replicas, beside the work dir (which goes on success). */
function writePicture() {
  if (timeline.length === 0) return null;
  const file = join(tmpdir(), `p2p-demo-${new Date(t0).toISOString().replace(/[:.]/g, "-")}.svg`);
  const svg = timelineSvg({
    title: `npm run demo: a burst of ${count} immunisation events`,
    subtitle: `${channelKey}, from examples/immunisation/channel.yaml`,
    series: [{ name: "p2p-operator", lag: timeline.map((p) => [p.t, p.lag]), replicas: timeline.map((p) => [p.t, p.replicas]) }],
  });
  writeFileSync(file, svg);
  return file;
}
