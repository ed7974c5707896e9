import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ResolvedChannel } from "../../../operator/src/api/resolved.js";
import { consumerEnv } from "../../../operator/src/plan/consumer-env.js";
import { LocalConnectionResolver, ProcessWorkload } from "../../../operator/src/local/index.js";
import { makeResolvedChannel, natsTarget } from "../../support/channels.js";
import { isAlive, waitFor } from "./support.js";

// The process workload with a tiny real child: it writes its env to a file named after its
// pid, then idles (or exits at once, to crash-loop).

let dir: string;
let workload: ProcessWorkload | null;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "p2p-procs-"));
  workload = null;
});
afterEach(async () => {
  await workload?.stopAll();
  await rm(dir, { recursive: true, force: true });
});

async function childScript(body: string): Promise<string> {
  const file = join(dir, "child.mjs");
  await writeFile(
    file,
    `import { renameSync, writeFileSync } from "node:fs";
process.on("SIGTERM", () => { writeFileSync(${JSON.stringify(dir)} + "/term-" + process.pid, ""); process.exit(0); });
const envFile = ${JSON.stringify(dir)} + "/env-" + process.pid + ".json";
// Written whole, then renamed, so that the test never reads half of it.
writeFileSync(envFile + ".tmp", JSON.stringify({ ...process.env, ARGV: process.argv.slice(2).join(" ") }));
renameSync(envFile + ".tmp", envFile);
${body}
`,
  );
  return file;
}

function templateChannel(script: string, name = "procs", extraEnv: Array<{ name: string; value: string }> = [], podSpec: Record<string, unknown> = {}): ResolvedChannel {
  return {
    ...makeResolvedChannel({ name }),
    workload: {
      kind: "template",
      deploymentName: `${name}-consumer`,
      template: {
        spec: {
          containers: [{ name: "c", command: [process.execPath, script], args: ["--name", "$(GREETING)"], env: [{ name: "GREETING", value: "hi" }, ...extraEnv] }],
          ...podSpec,
        },
      },
    },
  };
}

async function envOf(pid: number): Promise<Record<string, string>> {
  await waitFor(`env of ${pid}`, () => stat(join(dir, `env-${pid}.json`)).then(() => true, () => false), 10_000);
  return JSON.parse(await readFile(join(dir, `env-${pid}.json`), "utf8")) as Record<string, string>;
}

describe("ProcessWorkload", () => {
  it("runs the container's command with its env, the consumer env and the overrides; scales up and down with SIGTERM", async () => {
    const script = await childScript("setInterval(() => {}, 1000);");
    workload = new ProcessWorkload({ stateDir: dir, envOverrides: { P2P_RECORD_FILE: "/tmp/x", GREETING: "override" } });
    const channel = templateChannel(script);
    const target = natsTarget("nats://127.0.0.1:4222");
    expect(await workload.observe(channel)).toMatchObject({ exists: false, blocked: null });

    await workload.ensure(channel, consumerEnv(channel, target), target, 2);
    await waitFor("2 running", () => workload!.ready(channel.key) === 2, 10_000);
    expect(await workload.observe(channel)).toEqual({ exists: true, replicas: 2, readyReplicas: 2, blocked: null });
    const [first, second] = workload.pids(channel.key);
    const env = await envOf(first!);
    await envOf(second!); // up and listening for SIGTERM
    expect(env).toMatchObject({ NATS_URL: "nats://127.0.0.1:4222", P2P_STREAM: "default_procs", P2P_RECORD_FILE: "/tmp/x", GREETING: "override" });
    expect(env.PATH).toBe(process.env.PATH);
    expect(env.ARGV).toBe("--name override"); // $(GREETING) expanded as Kubernetes does

    await workload.scale(channel, 1);
    await waitFor("the newest replica stopped", () => !isAlive(second!), 10_000);
    expect(await stat(join(dir, `term-${second}`))).toBeTruthy(); // it got SIGTERM, not SIGKILL
    expect(workload.pids(channel.key)).toEqual([first]);
    await expect(readFile(workload.logFileOf(channel.key)!, "utf8")).resolves.toBe("");
  });

  it("SIGKILLs a replica that outlives its channel's grace period after SIGTERM (the template's terminationGracePeriodSeconds)", async () => {
    // Takes note of the SIGTERM and goes on.
    const script = await childScript(`process.removeAllListeners("SIGTERM");
process.on("SIGTERM", () => writeFileSync(${JSON.stringify(dir)} + "/term-" + process.pid, ""));
setInterval(() => {}, 1000);`);
    workload = new ProcessWorkload({ stateDir: dir });
    const channel = templateChannel(script, "procs", [], { terminationGracePeriodSeconds: 2 });
    const target = natsTarget("nats://127.0.0.1:4222");
    await workload.ensure(channel, consumerEnv(channel, target), target, 1);
    await waitFor("1 running", () => workload!.ready(channel.key) === 1, 10_000);
    const [pid] = workload.pids(channel.key);
    await envOf(pid!);

    await workload.scale(channel, 0);
    await waitFor("SIGTERM taken note of", () => stat(join(dir, `term-${pid}`)).then(() => true, () => false), 5_000);
    expect(isAlive(pid!)).toBe(true); // SIGTERM alone did not stop it
    // Killed after its 2 s, long before the 35 s its channel's ack wait would give it.
    await waitFor("the replica killed", () => !isAlive(pid!), 15_000);
  });

  it("restarts a replica that exits, with backoff, like restartPolicy Always", async () => {
    const script = await childScript("setTimeout(() => process.exit(3), 50);");
    workload = new ProcessWorkload({ stateDir: dir, restartDelayMs: 100, maxRestartDelayMs: 400 });
    const channel = templateChannel(script, "crashy");
    const target = natsTarget("nats://127.0.0.1:4222");
    await workload.ensure(channel, consumerEnv(channel, target), target, 1);
    const seen = new Set<number>();
    await waitFor("three incarnations", () => {
      for (const pid of workload!.pids(channel.key)) seen.add(pid);
      return seen.size >= 3;
    }, 10_000, 10);
    expect((await workload.observe(channel)).replicas).toBe(1);
  });

  it("writes credentials to a private dir and points the *_FILE variables at them", async () => {
    const script = await childScript("setInterval(() => {}, 1000);");
    workload = new ProcessWorkload({ stateDir: dir });
    const channel = templateChannel(script, "secure");
    const target = natsTarget("nats://127.0.0.1:4222", { token: "s3cret", caPem: "-----BEGIN CERTIFICATE-----" });
    await workload.ensure(channel, consumerEnv(channel, target), target, 1);
    await waitFor("running", () => workload!.ready(channel.key) === 1, 10_000);
    const env = await envOf(workload.pids(channel.key)[0]!);
    expect(env.NATS_TOKEN_FILE).not.toMatch(/^\/var\/run\/secrets/);
    expect(await readFile(env.NATS_TOKEN_FILE!, "utf8")).toBe("s3cret");
    expect((await stat(env.NATS_TOKEN_FILE!)).mode & 0o777).toBe(0o600);
    expect((await stat(join(env.NATS_TOKEN_FILE!, ".."))).mode & 0o777).toBe(0o700);
    expect(await readFile(env.NATS_CA_FILE!, "utf8")).toBe("-----BEGIN CERTIFICATE-----");
    const credsDir = join(env.NATS_TOKEN_FILE!, "..");
    await workload.release(channel);
    await expect(stat(credsDir)).rejects.toThrow();
  });

  it("replaces its replicas when the process spec changes (a rollout)", async () => {
    const script = await childScript("setInterval(() => {}, 1000);");
    workload = new ProcessWorkload({ stateDir: dir });
    const target = natsTarget("nats://127.0.0.1:4222");
    const v1 = templateChannel(script, "rolling");
    await workload.ensure(v1, consumerEnv(v1, target), target, 2);
    await waitFor("2 running", () => workload!.ready(v1.key) === 2, 10_000);
    const before = workload.pids(v1.key);

    const v2 = templateChannel(script, "rolling", [{ name: "COLOUR", value: "blue" }]);
    await workload.ensure(v2, consumerEnv(v2, target), target, 5);
    await waitFor("2 new replicas", () => workload!.ready(v2.key) === 2 && workload!.pids(v2.key).every((p) => !before.includes(p)), 10_000);
    await waitFor("old replicas gone", () => before.every((p) => !isAlive(p)), 10_000);
    expect((await envOf(workload.pids(v2.key)[0]!)).COLOUR).toBe("blue");
  });

  it("reports a scaleTargetRef or a container without a command as NotSupportedLocally", async () => {
    workload = new ProcessWorkload({ stateDir: dir });
    const scaleTarget = makeResolvedChannel({ name: "elsewhere" });
    expect((await workload.observe(scaleTarget)).blocked).toMatchObject({ status: "False", reason: "NotSupportedLocally" });
    const imageOnly: ResolvedChannel = {
      ...scaleTarget,
      workload: { kind: "template", deploymentName: "x", template: { spec: { containers: [{ name: "c", image: "busybox" }] } } },
    };
    expect((await workload.observe(imageOnly)).blocked?.message).toMatch(/has no command/);
  });
});

describe("LocalConnectionResolver", () => {
  it("uses the channel's own servers, else the local server, and refuses Secrets", async () => {
    const resolver = new LocalConnectionResolver(["nats://127.0.0.1:4222"]);
    expect((await resolver.resolve(makeResolvedChannel())).servers).toEqual(["nats://127.0.0.1:4222"]);
    expect((await resolver.resolve(makeResolvedChannel({ connection: { servers: ["nats://other:4222"] } }))).servers).toEqual(["nats://other:4222"]);
    await expect(resolver.resolve(makeResolvedChannel({ connection: { secretRef: { name: "nats-auth" } } }))).rejects.toMatchObject({
      reason: "NotSupportedLocally",
      message: expect.stringMatching(/secrets are not supported in local mode/),
    });
  });
});
