import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { freePort, NatsServerProcess } from "../../support/nats-server.js";
import { channelYaml, ensureTemplateBuilt, isAlive, summarize, waitFor } from "./support.js";

// The commands as a user runs them: `p2p local` and `p2p publish` as real processes, found
// through the state file, stopped with a real SIGINT.

const ROOT = resolve(import.meta.dirname, "../../..");
const P2P = [process.execPath, "--import", "tsx", join(ROOT, "operator/src/cli/main.ts")];

interface Line {
  type: string;
  [key: string]: unknown;
}

let dir: string;
let local: ChildProcess | null = null;
const lines: Line[] = [];

beforeAll(async () => {
  await ensureTemplateBuilt();
  dir = await mkdtemp(join(tmpdir(), "p2p-cli-it-"));
}, 120_000);
afterAll(async () => {
  // After a failed test: stop it the way a user would, so that it stops its consumers too.
  if (local && local.exitCode === null) {
    const exited = new Promise((r) => local!.once("exit", r));
    local.kill("SIGINT");
    const timer = setTimeout(() => local!.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
  }
  await rm(dir, { recursive: true, force: true });
});

function consumerPids(tag: string): Promise<number[]> {
  return promisify(execFile)("ps", ["-eo", "pid=,args="]).then(({ stdout }) =>
    stdout
      .split("\n")
      .filter((l) => l.includes(tag))
      .map((l) => Number(l.trim().split(/\s+/)[0])),
  );
}

function latest(channel: string): Line | undefined {
  return lines.filter((l) => l.type === "channel" && l.channel === channel).at(-1);
}

describe("p2p local and p2p publish as commands", () => {
  it("publish finds the running p2p local, acks every message; SIGINT stops consumers and exits 0", async () => {
    const tag = `cli-it-${process.pid}-${Date.now()}`;
    const file = join(dir, "channel.yaml");
    const recordFile = join(dir, "processed.txt");
    const stateDir = join(dir, "state");
    await writeFile(
      file,
      `${channelYaml({ name: "cli", minReplicas: 2, maxReplicas: 2, tag })}---
apiVersion: messaging.p2p.dev/v1alpha1
kind: PointToPointChannel
metadata: {name: elsewhere}
spec:
  subjects: [test.elsewhere]
  workload: {scaleTargetRef: {name: some-deployment}}
`,
    );
    local = spawn(P2P[0]!, [...P2P.slice(1), "local", file, "--state-dir", stateDir, "--env", `P2P_RECORD_FILE=${recordFile}`], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    local.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    createInterface({ input: local.stdout! }).on("line", (line) => lines.push(JSON.parse(line) as Line));
    const exited = new Promise<number | null>((r) => local!.once("exit", (code) => r(code)));

    // Not a TTY: JSON lines, starting with where things are.
    await waitFor("started", () => lines.some((l) => l.type === "started"), 20_000);
    await waitFor("channel ready with 2 consumers", () => latest("default/cli")?.ready === "True" && latest("default/cli")?.readyReplicas === 2, 30_000);
    expect(await consumerPids(tag)).toHaveLength(2);

    // A scaleTargetRef channel cannot run here, and says so.
    await waitFor("elsewhere reported", () => latest("default/elsewhere") !== undefined, 10_000);
    expect(latest("default/elsewhere")?.conditions).toContainEqual(
      expect.objectContaining({ type: "WorkloadReady", status: "False", reason: "NotSupportedLocally" }),
    );

    // No --nats-url: publish reads the state file of the running p2p local.
    const { stdout } = await promisify(execFile)(P2P[0]!, [...P2P.slice(1), "publish", file, "--count", "2000", "--size", "512", "--state-dir", stateDir], {
      cwd: ROOT,
      env: { ...process.env, NATS_URL: "" },
    });
    const report = JSON.parse(stdout.trim()) as Record<string, unknown>;
    expect(report).toMatchObject({ acked: 2000, duplicates: 0, errors: 0, count: 2000, subject: "test.cli" });
    expect(report.ratePerSec).toBeGreaterThan(0);

    await waitFor("processed", async () => summarize((await readFile(recordFile, "utf8").catch(() => "")).split("\n").filter(Boolean)).unique.size === 2000, 30_000);

    const pids = await consumerPids(tag);
    local.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(lines.at(-1)).toEqual({ type: "stopped" });
    expect(pids.filter(isAlive)).toEqual([]);
    expect(await consumerPids(tag)).toEqual([]);
    expect(stderr).toBe("");
    // The state file is gone with it: a later publish does not find a stale server.
    await expect(readFile(join(stateDir, "local.json"), "utf8")).rejects.toThrow();
  });

  it("publish without a server to talk to says how to get one", async () => {
    const file = join(dir, "lonely.yaml");
    await writeFile(file, channelYaml({ name: "lonely" }));
    const result = await promisify(execFile)(P2P[0]!, [...P2P.slice(1), "publish", file, "--count", "1", "--state-dir", join(dir, "nothing")], {
      cwd: ROOT,
      env: { ...process.env, NATS_URL: "" },
    }).catch((err: { code: number; stderr: string }) => err);
    expect(result).toMatchObject({ code: 1 });
    expect((result as { stderr: string }).stderr).toMatch(/no NATS server: pass --nats-url, set NATS_URL, or start `p2p local`/);
  });

  it("with --nats-url and only an invalid channel: keeps running, shows InvalidSpec, exits 0 on SIGINT", async () => {
    await using server = await NatsServerProcess.start();
    const file = join(dir, "invalid.yaml");
    await writeFile(file, channelYaml({ name: "invalid", minReplicas: 3, maxReplicas: 2 }));
    const { child, out, exited } = spawnLocal(file, server.url, "state-invalid");
    try {
      const invalid = () => out.find((l) => l.type === "channel" && l.channel === "default/invalid" && JSON.stringify(l.conditions).includes("InvalidSpec"));
      await waitFor("InvalidSpec reported", invalid, 20_000);
      expect(JSON.stringify(invalid())).toMatch(/minReplicas/);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill("SIGINT");
    }
    expect(await exited).toBe(0);
  });

  it("takes several servers in --nats-url: `p2p local` and `p2p publish` work with one of them down", async () => {
    await using server = await NatsServerProcess.start();
    const servers = `nats://127.0.0.1:${await freePort()},${server.url}`;
    const file = join(dir, "several.yaml");
    await writeFile(file, channelYaml({ name: "several", minReplicas: 0, maxReplicas: 1 }));
    const { child, out, exited } = spawnLocal(file, servers, "state-several");
    try {
      await waitFor("the channel Ready", () => out.some((l) => l.type === "channel" && l.channel === "default/several" && l.ready === "True"), 30_000);
      const published = await promisify(execFile)(P2P[0]!, [...P2P.slice(1), "publish", file, "--count", "5", "--nats-url", servers, "--id-prefix", "several-"], { cwd: ROOT });
      expect(JSON.parse(published.stdout)).toMatchObject({ acked: 5, errors: 0 });
      const nc = await connect({ servers: server.url });
      expect((await (await jetstreamManager(nc)).streams.info("default_several")).state.last_seq).toBe(5);
      await nc.close();
    } finally {
      child.kill("SIGINT");
    }
    expect(await exited).toBe(0);
  });

  it("refuses a --nats-url that is not a NATS server URL, naming the flag and the fix", async () => {
    const result = await promisify(execFile)(P2P[0]!, [...P2P.slice(1), "local", "--nats-url", "nats://127.0.0.1:4222,http://example", "--state-dir", join(dir, "state-bad")], { cwd: ROOT }).catch(
      (err: { code: number; stderr: string }) => err,
    );
    expect(result).toMatchObject({ code: 2 });
    expect((result as { stderr: string }).stderr).toContain('--nats-url: "http://example" is not a NATS server URL: use nats://host:4222');
  });
});

/** `p2p local FILE --nats-url SERVERS` as a child process, its JSON lines collected as they come. */
function spawnLocal(file: string, servers: string, stateDir: string): { child: ChildProcess; out: Line[]; exited: Promise<number | null> } {
  const child = spawn(P2P[0]!, [...P2P.slice(1), "local", file, "--nats-url", servers, "--state-dir", join(dir, stateDir)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out: Line[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => out.push(JSON.parse(line) as Line));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, out, exited };
}
