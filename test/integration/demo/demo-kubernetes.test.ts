// `npm run demo:kubernetes` end to end, as a user runs it: a control plane of its own, the
// chart, the operator on the chart's ServiceAccount, consumer pods as processes. The demo's
// own summary decides its exit code; this checks that summary against what the run printed,
// and that nothing it started is left running.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";
import { runProcess } from "../../support/run-process.js";
import { controlPlane } from "../support/kube-world.js";

const ROOT = join(import.meta.dirname, "../../..");
const COUNT = 2000;

it("drains a burst on consumer pods that follow the lag, deletes them gracefully and leaves no process behind", async () => {
  controlPlane(); // built by pretest; fails saying so when P2P_CONTROL_PLANE=off skipped it
  const { code, stdout, stderr } = await runProcess(process.execPath, ["scripts/demo-kubernetes.mjs"], {
    cwd: ROOT,
    env: { ...process.env, DEMO_COUNT: String(COUNT) },
    timeout: 280_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const output = `${stdout}\n${stderr}`;
  expect(code, output).toBe(0);

  const summary = /^demo: published=(\d+) processed=(\d+) lost=(\d+) duplicates=(\d+) maxReplicas=(\d+) drainSeconds=([\d.]+)$/m.exec(stdout);
  expect(summary, output).not.toBeNull();
  const [published, processed, lost, , maxReplicas] = summary!.slice(1).map(Number);
  expect({ published, processed, lost }).toEqual({ published: COUNT, processed: COUNT, lost: 0 });
  // 2,000 messages at targetLagPerReplica 100: the channel scales past its one replica.
  expect(maxReplicas, output).toBeGreaterThan(1);
  expect(stdout).toMatch(/scaled down to 1: /);

  // Every consumer pod the process node started ended on its own after SIGTERM (exit 0), none
  // killed after its grace period.
  const started = new Set([...stdout.matchAll(/pod (\S+) started$/gm)].map((m) => m[1]));
  const exits = new Map([...stdout.matchAll(/pod (\S+) exited with (.*)$/gm)].map((m) => [m[1], m[2]]));
  expect(started.size).toBeGreaterThan(1);
  expect(Object.fromEntries(exits)).toEqual(Object.fromEntries([...started].map((pod) => [pod, "0"])));

  expect(stdout).toMatch(/^demo: stopped all \d+ processes it started/m);
  const stateDir = /state and logs in (\S+)\)/.exec(stdout)?.[1];
  expect(stateDir).toBeTruthy();
  const leftovers = execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" }).split("\n").filter((l) => l.includes(stateDir!));
  expect(leftovers).toEqual([]);
}, 300_000);
