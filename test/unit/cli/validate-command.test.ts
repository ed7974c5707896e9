import { accessSync, constants, existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runProcess, type ProcessOutcome } from "../../support/run-process.js";

const repoRoot = join(import.meta.dirname, "../../..");
const mainTs = join(repoRoot, "operator/src/cli/main.ts");
const mainJs = join(repoRoot, "operator/dist/cli/main.js");

/** Runs `p2p` as a process, from the TypeScript source (tsx), in the repository root. */
function p2p(...args: string[]): Promise<ProcessOutcome> {
  return run(process.execPath, ["--import", "tsx", mainTs, ...args]);
}

function run(command: string, args: string[]): Promise<ProcessOutcome> {
  return runProcess(command, args, { cwd: repoRoot });
}

const channel = (name: string, spec: string) => `apiVersion: messaging.p2p.dev/v1alpha1
kind: PointToPointChannel
metadata:
  name: ${name}
spec:
${spec}`;

let dir: string;
let files: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "p2p-validate-"));
  const contents: Record<string, string> = {
    "good.yaml": channel("orders", "  subjects: [orders.created]\n  workload:\n    scaleTargetRef: {name: orders}\n"),
    "bad.yaml": channel(
      "orders",
      "  subjects: [orders..created]\n  stream: {storage: disk}\n  scaling: {minReplicas: 5, maxReplicas: 2}\n  workload:\n    scaleTargetRef: {name: orders}\n",
    ),
    "mixed.yaml": [
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: orders}\nspec: {}\n",
      channel("orders", "  workload:\n    scaleTargetRef: {name: orders}\n"),
      channel("broken", "  workload: {}\n"),
      "",
    ].join("---\n"),
    "not-yaml.yaml": "apiVersion: messaging.p2p.dev/v1alpha1\nkind: PointToPointChannel\nspec:\n  subjects: [a\n  paused: true\n",
    "kind-typo.yaml": "apiVersion: messaging.p2p.dev/v1alpha1\nkind: PointToPointChanel\nmetadata: {name: x}\nspec:\n  workload:\n    scaleTargetRef: {name: x}\n",
    "list.yaml": "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: messaging.p2p.dev/v1alpha1\n    kind: PointToPointChannel\n    metadata: {name: x}\n    spec:\n      paused: maybe\n      workload:\n        scaleTargetRef: {name: x}\n",
    "deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: orders}\n",
    "short-ack-pending.yaml": channel("orders", "  consumer: {maxAckPending: 4}\n  workload:\n    scaleTargetRef: {name: orders}\n"),
    "short-ack-pending-default-max.yaml": channel("orders", "  consumer: {maxAckPending: 9}\n  workload:\n    scaleTargetRef: {name: orders}\n"),
  };
  files = {};
  for (const [name, text] of Object.entries(contents)) {
    files[name] = join(dir, name);
    await writeFile(files[name], text);
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("p2p", () => {
  it("--help lists the commands", async () => {
    const r = await p2p("--help");
    expect(r.code).toBe(0);
    for (const command of ["operator", "local", "validate", "publish"]) expect(r.stdout).toMatch(new RegExp(`^  p2p ${command}\\b`, "m"));
  });

  it("without a command prints the help on stderr and exits 2", async () => {
    const r = await p2p();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Commands:/);
  });

  it("refuses an unknown command with exit 2", async () => {
    const r = await p2p("frobnicate");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"; commands: operator, local, validate, publish/);
  });

  it("--version prints the version", async () => {
    const r = await p2p("--version");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe("p2p validate", () => {
  it("exits 0 on the examples", async () => {
    const r = await p2p("validate", "examples/immunisation/channel.yaml", "examples/immunisation/channel-existing-deployment.yaml");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      "examples/immunisation/channel.yaml: ok (1 PointToPointChannel)\nexamples/immunisation/channel-existing-deployment.yaml: ok (1 PointToPointChannel)\n",
    );
  });

  it("prints one line per problem, FILE: path: message, and exits 1", async () => {
    const r = await p2p("validate", files["bad.yaml"]!);
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    const f = files["bad.yaml"]!;
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^${escape(f)}: spec\\.subjects\\[0\\]: "orders\\.\\.created" is not a valid NATS subject: .*empty token`)),
        `${f}: spec.stream.storage: must be one of "file", "memory", got "disk"`,
        expect.stringMatching(new RegExp(`^${escape(f)}: spec\\.scaling\\.minReplicas: minReplicas must not exceed maxReplicas: lower`)),
      ]),
    );
  });

  it("warns, and still exits 0, when maxAckPending leaves replicas without a message to hold", async () => {
    const r = await p2p("validate", files["short-ack-pending.yaml"]!, files["short-ack-pending-default-max.yaml"]!, files["good.yaml"]!);
    expect(r.code).toBe(0);
    const f = files["short-ack-pending.yaml"]!;
    // maxReplicas is the default 10.
    expect(r.stdout).toContain(
      `${f}: spec.consumer.maxAckPending: warning: maxAckPending 4 is below maxReplicas 10: at most 4 replicas can hold a message at once`,
    );
    expect(r.stdout).toMatch(/raise spec\.consumer\.maxAckPending to at least 10 .*or lower spec\.scaling\.maxReplicas to 4\n/);
    expect(r.stdout).toContain(`${files["short-ack-pending-default-max.yaml"]}: spec.consumer.maxAckPending: warning: maxAckPending 9 is below maxReplicas 10`);
    expect(r.stdout).toContain(`${f}: ok (1 PointToPointChannel)`);
    expect(r.stdout).not.toContain(`${files["good.yaml"]}: spec`);
  });

  it("checks every file and still reports the good ones", async () => {
    const r = await p2p("validate", files["good.yaml"]!, files["bad.yaml"]!);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${files["good.yaml"]}: ok (1 PointToPointChannel)`);
  });

  it("skips other kinds with a note on stderr and numbers the documents of a multi-document file", async () => {
    const r = await p2p("validate", files["mixed.yaml"]!);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`${files["mixed.yaml"]}#1: skipping Deployment/orders: not a PointToPointChannel\n`);
    expect(r.stdout).toBe(`${files["mixed.yaml"]}#3: spec.workload: set exactly one of workload.scaleTargetRef (scale an existing Deployment) or workload.template (the operator runs Deployment <name>-consumer)\n`);
  });

  it("a file with no channel is not an error", async () => {
    const r = await p2p("validate", files["deployment.yaml"]!);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("skipping Deployment/orders");
    expect(r.stderr).toContain(`${files["deployment.yaml"]}: no PointToPointChannel found`);
  });

  it("reports a YAML syntax error as one line with its position", async () => {
    const r = await p2p("validate", files["not-yaml.yaml"]!);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^${escape(files["not-yaml.yaml"]!)}: line \\d+, column \\d+: invalid YAML: [^\\n]+\\n$`));
  });

  it("does not skip a misspelt kind in our API group", async () => {
    const r = await p2p("validate", files["kind-typo.yaml"]!);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`${files["kind-typo.yaml"]}: kind: must be PointToPointChannel, got "PointToPointChanel"\n`);
  });

  it("checks the items of a List", async () => {
    const r = await p2p("validate", files["list.yaml"]!);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`${files["list.yaml"]}: items[0].spec.paused: must be a boolean, got "maybe"\n`);
  });

  it("reports a missing file as one line and exits 1", async () => {
    const r = await p2p("validate", join(dir, "nope.yaml"));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`${join(dir, "nope.yaml")}: (file): cannot read: no such file\n`);
  });

  it("exits 2 without files, and on an unknown flag", async () => {
    expect((await p2p("validate")).code).toBe(2);
    const r = await p2p("validate", "--strict", files["good.yaml"]!);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unknown option '--strict'/);
  });
});

// `npm test` builds before the unit tests run; `npx p2p` runs this file.
describe.skipIf(!existsSync(mainJs))("the built bin", () => {
  it("is executable and validates the examples", async () => {
    accessSync(mainJs, constants.X_OK);
    const r = await run(mainJs, ["validate", "examples/immunisation/channel.yaml"]);
    expect(r.code).toBe(0);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
