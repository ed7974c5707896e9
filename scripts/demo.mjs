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
// `npm run demo:kubernetes` (scripts/demo-kubernetes.mjs) does the same on a local cluster.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { BurstDemo, CLI, minReplicasIn, requireBuilt } from "./lib/burst-demo.mjs";
import { ROOT } from "./lib/local-cluster.mjs";

const channelFile = "examples/immunisation/channel.yaml";
const channelKey = "default/immunisation-register";
const count = Number(process.env.DEMO_COUNT ?? 5000);

requireBuilt("npm run demo");
const demo = new BurstDemo({
  work: mkdtempSync(join(tmpdir(), "p2p-demo-")),
  count,
  channelKey,
  channelFile,
  minReplicas: minReplicasIn(readFileSync(join(ROOT, channelFile), "utf8")),
  title: `npm run demo: a burst of ${count} immunisation events`,
  deadlineMs: 115_000,
});

let natsUrl = null;
let localExited = false;
const local = spawn(
  process.execPath,
  [CLI, "local", channelFile, "--json", "--state-dir", join(demo.work, "state"), "--env", `P2P_RECORD_FILE=${demo.recordFile}`],
  { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
);
local.on("exit", (code, signal) => {
  localExited = true;
  demo.environmentExited(`p2p local exited (${JSON.stringify({ code, signal })})`);
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
    demo.say(`p2p local: nats-server ${msg.natsUrl}; consumer logs in ${msg.logDir}`);
  } else if (msg.type === "channel" && msg.channel === channelKey) {
    demo.update(msg);
  }
});

await demo.until("p2p local to start its nats-server", () => natsUrl !== null, 30_000).then(
  () => demo.run(natsUrl),
  (err) => {
    demo.failure = err;
    console.error(`demo: ${err.message}`);
  },
);
if (!localExited) {
  local.kill("SIGINT");
  const killer = setTimeout(() => local.kill("SIGKILL"), 30_000);
  await new Promise((resolve) => (localExited ? resolve() : local.once("exit", resolve)));
  clearTimeout(killer);
}
process.exit(demo.summary() ? 0 : 1);
