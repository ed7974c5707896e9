import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { runProcess } from "../../support/run-process.js";

// The Argo CD health check in docs/operations.md, run as Argo CD runs it: a Lua 5.1 chunk with
// the resource in the global `obj`, returning {status, message}. Debian's lua5.1 stands in for
// Argo CD's gopher-lua (also Lua 5.1); scripts/ensure-tools.sh installs it.

const repoRoot = join(import.meta.dirname, "../../..");
const KEY = "resource.customizations.health.messaging.p2p.dev_PointToPointChannel";

let dir: string;
let script: string;

beforeAll(async () => {
  const doc = await readFile(join(repoRoot, "docs/operations.md"), "utf8");
  const yamlBlocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const argocdCm = yamlBlocks.flatMap((b) => parseAllDocuments(b).map((d) => d.toJS() as { data?: Record<string, string> })).find((o) => o?.data?.[KEY]);
  script = argocdCm!.data![KEY]!;
  dir = await mkdtemp(join(tmpdir(), "argocd-health-"));
  await writeFile(join(dir, "health.lua"), script);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A JSON value as a Lua table constructor (arrays become 1-based sequences, as Argo CD's do). */
function lua(v: unknown): string {
  if (v === null || v === undefined) return "nil";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `{${v.map(lua).join(", ")}}`;
  return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `[${JSON.stringify(k)}] = ${lua(x)}`).join(", ")}}`;
}

async function health(obj: unknown): Promise<{ status: string; message: string }> {
  const harness = join(dir, `run-${Math.random().toString(36).slice(2)}.lua`);
  await writeFile(harness, `obj = ${lua(obj)}\nlocal hs = dofile(${JSON.stringify(join(dir, "health.lua"))})\nio.write(hs.status, "\\n", hs.message)\n`);
  const r = await runProcess("lua5.1", [harness], { timeout: 10_000 });
  if (r.code !== 0) throw new Error(`lua5.1 failed (${r.code}): ${r.stderr}`);
  const [status = "", message = ""] = r.stdout.split("\n");
  return { status, message };
}

const condition = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, observedGeneration: 3, lastTransitionTime: "2026-01-01T00:00:00Z" });
const READY_TRUE = [
  condition("Ready", "True", "Ready", "stream, consumer and workload are ready"),
  condition("StreamReady", "True", "StreamReady", "stream ok"),
  condition("WorkloadReady", "True", "WorkloadReady", "2/2 replicas ready"),
];

function channel(status: Record<string, unknown> | undefined, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: "messaging.p2p.dev/v1alpha1",
    kind: "PointToPointChannel",
    metadata: { name: "immunisation-register", namespace: "default", generation: 3 },
    spec: { subjects: ["immunisation.administered"], ...spec },
    ...(status ? { status } : {}),
  };
}

describe("the Argo CD health check for PointToPointChannel", () => {
  it("is Healthy when Ready is True for the current generation", async () => {
    expect(await health(channel({ observedGeneration: 3, lag: 42, replicas: 2, conditions: READY_TRUE }))).toEqual({ status: "Healthy", message: "lag 42, replicas 2" });
  });

  it.each([
    ["no status yet", undefined, "waiting for the operator to reconcile the channel"],
    ["an older generation reconciled", { observedGeneration: 2, conditions: READY_TRUE }, "waiting for the operator to reconcile generation 3"],
    ["Ready still Unknown", { observedGeneration: 3, conditions: [condition("Ready", "Unknown", "Reconciling", "WorkloadReady not yet known")] }, "Reconciling: WorkloadReady not yet known"],
    [
      "the consumer Deployment being created",
      { observedGeneration: 3, conditions: [condition("Ready", "False", "WorkloadPending", "WorkloadReady: creating immunisation-register-consumer")] },
      "WorkloadPending: WorkloadReady: creating immunisation-register-consumer",
    ],
  ])("is Progressing with %s", async (_what, status, message) => {
    expect(await health(channel(status))).toEqual({ status: "Progressing", message });
  });

  it.each([
    ["SecretNotFound", "StreamReady: Secret default/nats-auth (spec.connection.secretRef) not found"],
    ["ImmutableFieldChanged", "StreamReady: stream.storage cannot change from file to memory"],
    ["NATSUnavailable", "StreamReady: cannot connect to NATS at nats://nats.nats:4222"],
    ["ScaleTargetNotFound", "WorkloadReady: Deployment immunisation-register not found: create it, or fix workload.scaleTargetRef"],
  ])("is Degraded with the reason %s and its message", async (reason, message) => {
    const status = { observedGeneration: 3, conditions: [condition("Ready", "False", reason, message)] };
    expect(await health(channel(status))).toEqual({ status: "Degraded", message: `${reason}: ${message}` });
  });

  it("is Suspended while paused, and says so", async () => {
    const status = { observedGeneration: 3, lag: 7, replicas: 1, conditions: READY_TRUE };
    expect(await health(channel(status, { paused: true }))).toEqual({ status: "Suspended", message: "paused: replicas are not changed; lag 7, replicas 1" });
  });
});
