import { describe, expect, it } from "vitest";
import pino from "pino";
import { ChannelReconciler } from "../../../operator/src/controller/reconciler.js";
import { SecretNotFoundError } from "../../../operator/src/ports/index.js";
import { KubeApiError } from "../../../operator/src/kube/rest.js";
import { deepFreeze } from "../../../operator/src/kube/cache-shape.js";
import type {
  ChannelSource,
  ConnectionResolver,
  ConnectionTarget,
  EventRecorder,
  NatsSide,
  NatsSyncResult,
  QueueRead,
  QueueReading,
  WorkloadDriver,
  WorkloadObservation,
} from "../../../operator/src/ports/index.js";
import type { ChannelStatus, PointToPointChannel } from "../../../operator/src/api/types.js";
import type { ResolvedChannel } from "../../../operator/src/api/resolved.js";

// Fakes at the controller's own ports: the reconciler's decisions are checked against the state
// these hold afterwards (status, replicas, finalizers), not against which calls were made.

function channel(overrides: Partial<PointToPointChannel["spec"]> = {}, meta: Partial<PointToPointChannel["metadata"]> = {}): PointToPointChannel {
  return {
    apiVersion: "messaging.p2p.dev/v1alpha1",
    kind: "PointToPointChannel",
    metadata: { name: "register", namespace: "health", uid: "u-1", generation: 1, ...meta },
    spec: {
      subjects: ["health.immunisation.administered"],
      workload: { template: { spec: { containers: [{ name: "consumer", image: "consumer:1" }] } } },
      scaling: { minReplicas: 1, maxReplicas: 10, targetLagPerReplica: 100, pollInterval: "1s", scaleDown: { stabilizationWindow: "0s" } },
      ...overrides,
    },
  };
}

class MemorySource implements ChannelSource {
  channels = new Map<string, PointToPointChannel>();
  statusWrites = 0;
  /** Errors the finalizer patch and the status write throw, as a refused API call would. */
  refuseFinalizer: Error | null = null;
  refuseStatus: Error | null = null;
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  keys(): string[] {
    return [...this.channels.keys()];
  }
  async get(key: string) {
    const ch = this.channels.get(key);
    return ch ? structuredClone(ch) : null;
  }
  private peeked = new Map<string, { json: string; frozen: PointToPointChannel }>();
  /** Frozen, as an informer's objects are, and the same object while the stored channel is unchanged (it changes in place). */
  peek(key: string) {
    const ch = this.channels.get(key);
    if (!ch) return null;
    const json = JSON.stringify(ch);
    const last = this.peeked.get(key);
    if (last?.json === json) return last.frozen;
    const frozen = deepFreeze(structuredClone(ch));
    this.peeked.set(key, { json, frozen });
    return frozen;
  }
  async writeStatus(ch: PointToPointChannel, status: ChannelStatus) {
    if (this.refuseStatus) throw this.refuseStatus;
    this.statusWrites++;
    const stored = this.channels.get(`${ch.metadata.namespace}/${ch.metadata.name}`)!;
    stored.status = structuredClone(status);
  }
  async setFinalizer(ch: PointToPointChannel, present: boolean) {
    if (this.refuseFinalizer) throw this.refuseFinalizer;
    const key = `${ch.metadata.namespace}/${ch.metadata.name}`;
    const stored = this.channels.get(key);
    if (!stored) return;
    const f = new Set(stored.metadata.finalizers ?? []);
    if (present) f.add("messaging.p2p.dev/nats-cleanup");
    else f.delete("messaging.p2p.dev/nats-cleanup");
    stored.metadata.finalizers = [...f];
    if (!present && stored.metadata.deletionTimestamp) this.channels.delete(key);
  }
}

class FakeNats implements NatsSide {
  syncs = 0;
  lag = 0;
  lastSeq = 0;
  fail: Error | null = null;
  finalized: string[] = [];
  /** When a reading is taken: the test's clock. */
  clock: () => number = Date.now;
  async sync(): Promise<NatsSyncResult> {
    this.syncs++;
    if (this.fail) throw this.fail;
    return {
      stream: { status: "True", reason: "StreamReady", message: "ok" },
      consumer: { status: "True", reason: "ConsumerReady", message: "ok" },
      queue: {
        atMs: this.clock(),
        lag: this.lag,
        stream: { name: "health_register", messages: this.lag, bytes: 0, firstSeq: 1, lastSeq: this.lastSeq },
        consumer: { name: "register", pending: this.lag, ackPending: 0, redelivered: 0, waiting: 0, paused: false },
      },
      deadLetters: null,
      server: null,
    };
  }
  async readQueues(reads: readonly QueueRead[]): Promise<Map<string, QueueReading | Error>> {
    const out = new Map<string, QueueReading | Error>();
    for (const { channel } of reads) {
      if (this.fail) out.set(channel.key, this.fail);
      else {
        const { queue } = await this.sync();
        this.syncs--;
        out.set(channel.key, { queue, deadLetters: null });
      }
    }
    return out;
  }
  async finalize(ch: ResolvedChannel): Promise<void> {
    if (this.fail) throw this.fail;
    this.finalized.push(`${ch.stream.name}:${ch.deletionPolicy}`);
  }
  async close(): Promise<void> {}
}

class FakeWorkload implements WorkloadDriver {
  /** An error every write (ensure, scale) throws, as a refused API call would. */
  refuse: Error | null = null;
  exists = false;
  replicas = 0;
  blocked: WorkloadObservation["blocked"] = null;
  env: Record<string, string> = {};
  released = false;
  /** As an informer-backed driver: a change comes back as a spec reconcile. */
  watched = true;
  observes = 0;
  async observe(): Promise<WorkloadObservation> {
    this.observes++;
    return { exists: this.exists, replicas: this.replicas, readyReplicas: this.replicas, blocked: this.blocked, watched: this.watched };
  }
  async ensure(_ch: ResolvedChannel, env: Record<string, string>, _t: ConnectionTarget, replicas: number) {
    if (this.refuse) throw this.refuse;
    this.env = env;
    if (!this.exists) this.replicas = replicas;
    this.exists = true;
  }
  async scale(_ch: ResolvedChannel, replicas: number) {
    if (this.refuse) throw this.refuse;
    this.replicas = replicas;
  }
  async release() {
    this.released = true;
  }
}

class Connections implements ConnectionResolver {
  missingSecret = false;
  async resolve(): Promise<ConnectionTarget> {
    if (this.missingSecret) throw new SecretNotFoundError("secret health/nats-auth not found: create it");
    return { servers: ["nats://127.0.0.1:4222"], credentials: null, id: "default" };
  }
}

class Events implements EventRecorder {
  list: string[] = [];
  record(_ch: PointToPointChannel, type: string, reason: string, message: string) {
    this.list.push(`${type} ${reason} ${message}`);
  }
}

function setup(spec?: Partial<PointToPointChannel["spec"]>, options: { statusBudget?: boolean; pollLoop?: boolean } = {}) {
  const source = new MemorySource();
  source.channels.set("health/register", channel(spec));
  const nats = new FakeNats();
  const workload = new FakeWorkload();
  const connections = new Connections();
  const events = new Events();
  let now = Date.parse("2026-01-01T00:00:00Z");
  nats.clock = () => now;
  const reconciler = new ChannelReconciler({
    source,
    nats,
    workload,
    connections,
    events,
    log: pino({ level: "silent" }),
    now: () => now,
    statusBudget: options.statusBudget,
    pollLoop: options.pollLoop,
  });
  const tick = (ms: number) => (now += ms);
  const status = () => source.channels.get("health/register")?.status;
  const condition = (type: string) => status()?.conditions?.find((c) => c.type === type);
  return { source, nats, workload, connections, events, reconciler, tick, status, condition };
}

describe("ChannelReconciler", () => {
  it("creates the workload with the consumer env, adds the finalizer and reports Ready", async () => {
    const t = setup();
    const result = await t.reconciler.reconcile("health/register");
    expect(result).toEqual({ requeueAfterMs: 1000 });
    expect(t.workload.exists).toBe(true);
    expect(t.workload.replicas).toBe(1);
    expect(t.workload.env).toMatchObject({ P2P_STREAM: "health_register", P2P_CONSUMER: "register", P2P_CHANNEL: "health/register" });
    expect(t.source.channels.get("health/register")?.metadata.finalizers).toContain("messaging.p2p.dev/nats-cleanup");
    expect(t.condition("Ready")).toMatchObject({ status: "True", observedGeneration: 1 });
  });

  it("scales up from lag and records the reason", async () => {
    const t = setup();
    await t.reconciler.reconcile("health/register");
    t.nats.lag = 420;
    t.nats.lastSeq = 420;
    t.tick(1000);
    await t.reconciler.reconcile("health/register");
    expect(t.workload.replicas).toBe(5);
    expect(t.status()).toMatchObject({ lag: 420, replicas: 5, desiredReplicas: 5 });
    expect(t.status()?.lastScaleReason).toMatch(/420/);
    expect(t.events.list.some((e) => e.startsWith("Normal Scaled scaled 1→5"))).toBe(true);
  });

  it.each([
    { maxAckPending: 4, maxReplicas: 10, says: "maxAckPending 4 is below maxReplicas 10" },
    { maxAckPending: 10, maxReplicas: 10, says: null },
  ])("ScalingActive with maxAckPending $maxAckPending and maxReplicas $maxReplicas names the shortfall and its fix: $says", async ({ maxAckPending, maxReplicas, says }) => {
    const t = setup({
      consumer: { maxAckPending },
      scaling: { minReplicas: 1, maxReplicas, targetLagPerReplica: 100, pollInterval: "1s", scaleDown: { stabilizationWindow: "0s" } },
    });
    await t.reconciler.reconcile("health/register");
    const message = t.condition("ScalingActive")?.message ?? "";
    expect(t.condition("ScalingActive")).toMatchObject({ status: "True", reason: "ScalingOnLag" });
    if (says === null) {
      expect(message).not.toMatch(/maxAckPending/);
    } else {
      expect(message).toContain(says);
      expect(message).toContain("raise spec.consumer.maxAckPending to at least 10");
      expect(message).toContain("or lower spec.scaling.maxReplicas to 4");
    }
  });

  it("never scales down while NATS is unreachable, and says so", async () => {
    const t = setup();
    await t.reconciler.reconcile("health/register");
    t.nats.lag = 800;
    t.nats.lastSeq = 800;
    t.tick(1000);
    await t.reconciler.reconcile("health/register");
    expect(t.workload.replicas).toBe(5); // scaleUp.maxStep 4 by default
    t.nats.fail = Object.assign(new Error("connection refused"), { reason: "NATSUnavailable" });
    for (let i = 0; i < 5; i++) {
      t.tick(10_000);
      expect(await t.reconciler.reconcile("health/register")).toEqual({ backoff: true });
    }
    expect(t.workload.replicas).toBe(5);
    expect(t.condition("StreamReady")).toMatchObject({ status: "False", reason: "NATSUnavailable" });
    expect(t.condition("Ready")?.status).toBe("False");
  });

  it("turns a refused workload write into WorkloadReady and Ready conditions naming it, with one Event, and backs off", async () => {
    const t = setup();
    const forbidden = 'deployments.apps is forbidden: User "system:serviceaccount:p2p:p2p-operator" cannot create resource "deployments" in API group "apps" in the namespace "health"';
    t.workload.refuse = new KubeApiError(403, "Forbidden", forbidden);
    for (let i = 0; i < 3; i++) {
      expect(await t.reconciler.reconcile("health/register")).toEqual({ backoff: true });
      t.tick(1000);
    }
    expect(t.condition("WorkloadReady")).toMatchObject({ status: "False", reason: "Forbidden", message: forbidden });
    expect(t.condition("Ready")).toMatchObject({ status: "False", reason: "Forbidden" });
    expect(t.condition("Ready")?.message).toContain('cannot create resource "deployments"');
    expect(t.events.list.filter((e) => e.startsWith("Warning Forbidden"))).toHaveLength(1);

    t.workload.refuse = null;
    expect(await t.reconciler.reconcile("health/register")).toEqual({ requeueAfterMs: 1000 });
    expect(t.condition("Ready")?.status).toBe("True");
  });

  it("turns a refused finalizer patch into Ready=False naming verb and resource, with one Event, and leaves NATS untouched", async () => {
    const t = setup();
    const forbidden = 'pointtopointchannels.messaging.p2p.dev "register" is forbidden: User "system:serviceaccount:p2p:p2p-operator" cannot patch resource "pointtopointchannels" in API group "messaging.p2p.dev" in the namespace "health"';
    t.source.refuseFinalizer = new KubeApiError(403, "Forbidden", forbidden);
    t.nats.lag = 5;
    for (let i = 0; i < 3; i++) {
      expect(await t.reconciler.reconcile("health/register")).toEqual({ backoff: true });
      t.tick(1000);
    }
    expect(t.condition("Ready")).toMatchObject({ status: "False", reason: "Forbidden" });
    expect(t.condition("Ready")?.message).toBe(`adding finalizer messaging.p2p.dev/nats-cleanup: ${forbidden}`);
    expect(t.events.list.filter((e) => e.startsWith("Warning Forbidden"))).toHaveLength(1);
    expect(t.workload.exists).toBe(false);

    t.source.refuseFinalizer = null;
    expect(await t.reconciler.reconcile("health/register")).toEqual({ requeueAfterMs: 1000 });
    expect(t.condition("Ready")?.status).toBe("True");
  });

  it("turns a refused finalizer removal on deletion into Ready=False, and finishes once it is allowed", async () => {
    const t = setup();
    await t.reconciler.reconcile("health/register");
    t.source.channels.get("health/register")!.metadata.deletionTimestamp = new Date(Date.parse("2026-01-01T00:00:00Z")).toISOString();
    t.source.refuseFinalizer = new KubeApiError(403, "Forbidden", 'cannot update resource "pointtopointchannels"');
    expect(await t.reconciler.reconcile("health/register")).toEqual({ backoff: true });
    expect(t.condition("Ready")).toMatchObject({ status: "False", reason: "Forbidden", message: 'removing finalizer messaging.p2p.dev/nats-cleanup: cannot update resource "pointtopointchannels"' });
    t.source.refuseFinalizer = null;
    expect(await t.reconciler.reconcile("health/register")).toEqual({ done: true });
    expect(t.source.channels.has("health/register")).toBe(false);
  });

  it("records one StatusWriteFailed Event per cause when status cannot be written, not one per retry", async () => {
    const t = setup();
    const forbidden = 'cannot patch resource "pointtopointchannels/status" in API group "messaging.p2p.dev"';
    t.source.refuseStatus = new KubeApiError(403, "Forbidden", forbidden);
    for (let i = 0; i < 3; i++) {
      await expect(t.reconciler.reconcile("health/register")).rejects.toThrow(forbidden);
      t.tick(1000);
    }
    expect(t.events.list).toEqual([`Warning StatusWriteFailed writing status failed (Forbidden): ${forbidden}`]);

    t.source.refuseStatus = null;
    await t.reconciler.reconcile("health/register");
    expect(t.condition("Ready")?.status).toBe("True");
    expect(t.events.list.filter((e) => e.startsWith("Normal Ready"))).toHaveLength(1);
  });

  it("writes status only when it changed", async () => {
    const t = setup();
    await t.reconciler.reconcile("health/register");
    const writes = t.source.statusWrites;
    t.tick(1000);
    await t.reconciler.reconcile("health/register");
    t.tick(1000);
    await t.reconciler.reconcile("health/register");
    expect(t.source.statusWrites).toBe(writes);
  });

  it("on a status budget, writes a moving lag at most once per 10 s, and a scale at once", async () => {
    const t = setup({ scaling: { minReplicas: 1, maxReplicas: 10, targetLagPerReplica: 10_000 } }, { statusBudget: true });
    await t.reconciler.reconcile("health/register");
    const writes = t.source.statusWrites;
    // 30 polls a second apart, the lag jumping between 0 and 50 x i: without a budget, 30 writes.
    for (let i = 1; i <= 30; i++) {
      t.nats.lag = i % 2 === 0 ? 0 : 50 * i;
      t.nats.lastSeq += 50;
      t.tick(1000);
      await t.reconciler.reconcile("health/register");
    }
    expect(t.workload.replicas).toBe(1);
    expect(t.source.statusWrites - writes).toBe(2);
    t.nats.lag = 50_000;
    t.tick(1000);
    await t.reconciler.reconcile("health/register");
    expect(t.workload.replicas).toBe(5);
    expect(t.status()).toMatchObject({ lag: 50_000, replicas: 5, desiredReplicas: 5 });
  });

  it("with the poll loop, hands a reconciled channel to the poller, which scales from bulk readings every pollInterval", async () => {
    const t = setup({ scaling: { pollInterval: "2s", targetLagPerReplica: 100, maxReplicas: 10 } }, { pollLoop: true });
    const now = () => Date.parse("2026-01-01T00:00:00Z");
    expect(await t.reconciler.reconcile("health/register")).toEqual({ done: true });
    expect(t.reconciler.duePolls(now())).toEqual([]);
    t.tick(2000);
    const due = t.reconciler.duePolls(now() + 2000);
    expect(due.map((d) => d.channel.key)).toEqual(["health/register"]);
    expect(t.reconciler.duePolls(now() + 2000)).toEqual([]);

    t.nats.lag = 420;
    t.nats.lastSeq = 420;
    const readings = await t.nats.readQueues(due);
    expect(await t.reconciler.poll("health/register", readings.get("health/register")!)).toBe("ok");
    expect(t.workload.replicas).toBe(5);
    expect(t.status()).toMatchObject({ lag: 420, replicas: 5, desiredReplicas: 5 });
  });

  it("with the poll loop, gathers channels reconciled at different times into one bulk read per interval", async () => {
    const t = setup({ scaling: { pollInterval: "2s" } }, { pollLoop: true });
    const other = structuredClone(t.source.channels.get("health/register")!);
    other.metadata = { ...other.metadata, name: "other", uid: "u-2" };
    other.spec.subjects = ["health.other"];
    t.source.channels.set("health/other", other);
    const start = Date.parse("2026-01-01T00:00:00Z");
    await t.reconciler.reconcile("health/register");
    t.tick(700);
    await t.reconciler.reconcile("health/other");
    const batches: string[][] = [];
    for (let at = start + 250; at <= start + 8_000; at += 250) {
      const due = t.reconciler.duePolls(at);
      if (due.length > 0) batches.push(due.map((d) => `${at - start}:${d.channel.key}`));
    }
    expect(batches).toEqual([
      ["2000:health/register", "2000:health/other"],
      ["4000:health/register", "4000:health/other"],
      ["6000:health/register", "6000:health/other"],
      ["8000:health/register", "8000:health/other"],
    ]);
  });

  it("with the poll loop, a resync within 5 minutes of a sync reuses it while polls succeed; a respec or 5 minutes sync again", async () => {
    const t = setup({ scaling: { pollInterval: "2s" } }, { pollLoop: true });
    const start = Date.parse("2026-01-01T00:00:00Z");
    await t.reconciler.reconcile("health/register");
    expect(t.nats.syncs).toBe(1);
    await t.reconciler.reconcile("health/register");
    expect(t.nats.syncs).toBe(2); // no poll yet: nothing says the NATS side still stands

    t.tick(2000);
    const due = t.reconciler.duePolls(start + 2000);
    t.nats.lag = 7;
    expect(await t.reconciler.poll("health/register", (await t.nats.readQueues(due)).get("health/register")!)).toBe("ok");
    t.tick(60_000);
    await t.reconciler.reconcile("health/register");
    expect(t.nats.syncs).toBe(2);
    expect(t.status()?.lag).toBe(7);

    expect(await t.reconciler.poll("health/register", { queue: null, deadLetters: null })).toBe("respec");
    await t.reconciler.reconcile("health/register");
    expect(t.nats.syncs).toBe(3);

    expect(await t.reconciler.poll("health/register", (await t.nats.readQueues(due)).get("health/register")!)).toBe("ok");
    t.tick(5 * 60_000);
    await t.reconciler.reconcile("health/register");
    expect(t.nats.syncs).toBe(4);
  });

  it("with the poll loop, skips an idle channel's polls while its reading and workload stand, and resumes on any change", async () => {
    const t = setup({ scaling: { pollInterval: "2s", minReplicas: 1, targetLagPerReplica: 100, maxReplicas: 10 } }, { pollLoop: true });
    const key = "health/register";
    await t.reconciler.reconcile(key);
    const poll = async () => {
      const reading = (await t.nats.readQueues(t.reconciler.duePolls(t.tick(2000)))).get(key)!;
      if (t.reconciler.skipQuiet(key, reading)) return "quiet";
      return t.reconciler.poll(key, reading);
    };
    const untilQuiet = async (most: number) => {
      let polls = 0;
      while ((await poll()) !== "quiet") expect(++polls).toBeLessThan(most);
    };
    // The first polls settle the rates (0 from two readings) and the status; then an idle channel's polls are quiet.
    await untilQuiet(3);
    const observes = t.workload.observes;
    const writes = t.source.statusWrites;
    for (let i = 0; i < 20; i++) expect(await poll()).toBe("quiet");
    expect(t.workload.observes).toBe(observes);
    expect(t.source.statusWrites).toBe(writes);

    // A message arrives: the poll decides again, and scales.
    t.nats.lag = 420;
    t.nats.lastSeq = 420;
    expect(await poll()).toBe("ok");
    expect(t.workload.replicas).toBe(5);
    expect(t.status()).toMatchObject({ lag: 420, desiredReplicas: 5 });

    // A workload that is not watched is read at every poll.
    t.nats.lag = 0;
    t.workload.watched = false;
    await t.reconciler.reconcile(key);
    for (let i = 0; i < 5; i++) expect(await poll()).toBe("ok");

    // Once the burst's rates have decayed and the replicas are back at 1, quiet again; a changed
    // channel is checked again, even with the same reading.
    t.workload.watched = true;
    await t.reconciler.reconcile(key);
    await untilQuiet(200);
    expect(t.workload.replicas).toBe(1);
    t.source.channels.get(key)!.metadata.labels = { team: "register" };
    expect(await poll()).toBe("ok");
  });

  it("with the poll loop, an idle channel at minReplicas 0 is quiet until scaleToZeroAfter, then scales to zero on time", async () => {
    const t = setup({ scaling: { pollInterval: "2s", minReplicas: 0, scaleToZeroAfter: "30s", maxReplicas: 10 } }, { pollLoop: true });
    const key = "health/register";
    await t.reconciler.reconcile(key);
    t.workload.replicas = 1;
    await t.reconciler.reconcile(key);
    let elapsed = 0;
    let quiet = 0;
    while (t.workload.replicas > 0 && elapsed < 120_000) {
      elapsed += 2000;
      const reading = (await t.nats.readQueues(t.reconciler.duePolls(t.tick(2000)))).get(key)!;
      if (t.reconciler.skipQuiet(key, reading)) quiet++;
      else await t.reconciler.poll(key, reading);
    }
    expect(quiet).toBeGreaterThan(5);
    // Idle since the reconciles (nothing published since): zero at the poll 30 s after them, as without skipping.
    expect(elapsed).toBe(30_000);
    expect(t.status()?.lastScaleReason).toMatch(/no new messages for 30s/);
  });

  it("with the poll loop, sends a channel back to the spec reconcile when its stream is gone, its read failed or its spec changed", async () => {
    const t = setup({}, { pollLoop: true });
    await t.reconciler.reconcile("health/register");
    expect(await t.reconciler.poll("health/register", { queue: null, deadLetters: null })).toBe("respec");
    expect(await t.reconciler.poll("health/register", { queue: null, deadLetters: null })).toBe("respec");

    await t.reconciler.reconcile("health/register");
    expect(await t.reconciler.poll("health/register", new Error("NATS at nats://127.0.0.1:4222 is unreachable"))).toBe("respec");

    await t.reconciler.reconcile("health/register");
    t.source.channels.get("health/register")!.spec.scaling = { maxReplicas: 7 };
    const reading = (await t.nats.readQueues([])).get("x") ?? { queue: (await t.nats.sync()).queue, deadLetters: null };
    expect(await t.reconciler.poll("health/register", reading)).toBe("respec");
  });

  it("emits a Warning once per cause, not once per poll", async () => {
    const t = setup();
    await t.reconciler.reconcile("health/register");
    t.connections.missingSecret = true;
    for (let i = 0; i < 4; i++) {
      t.tick(1000);
      await t.reconciler.reconcile("health/register");
    }
    expect(t.events.list.filter((e) => e.startsWith("Warning SecretNotFound")).length).toBe(1);
    expect(t.condition("Ready")).toMatchObject({ status: "False", reason: "SecretNotFound" });
  });

  it("looks for a missing Secret again after one poll, not after a growing backoff (Secrets are not watched)", async () => {
    const t = setup({ scaling: { pollInterval: "2s" } });
    t.connections.missingSecret = true;
    for (let i = 0; i < 5; i++) expect(await t.reconciler.reconcile("health/register")).toEqual({ requeueAfterMs: 2000 });
    t.connections.missingSecret = false;
    await t.reconciler.reconcile("health/register");
    expect(t.condition("Ready")?.status).toBe("True");
  });

  it("marks an invalid spec terminal without touching NATS or the workload", async () => {
    const t = setup({ scaling: { minReplicas: 5, maxReplicas: 2 } });
    expect(await t.reconciler.reconcile("health/register")).toEqual({ done: true });
    expect(t.workload.exists).toBe(false);
    expect(t.condition("Ready")).toMatchObject({ status: "False", reason: "InvalidSpec" });
    expect(t.condition("Ready")?.message).toMatch(/minReplicas/);
  });

  it("holds replicas when paused", async () => {
    const t = setup({ paused: true });
    await t.reconciler.reconcile("health/register");
    t.nats.lag = 1000;
    t.nats.lastSeq = 1000;
    t.tick(1000);
    await t.reconciler.reconcile("health/register");
    expect(t.workload.replicas).toBe(1);
    expect(t.condition("ScalingActive")).toMatchObject({ status: "False", reason: "Paused" });
  });

  it("finalizes a deleted channel: NATS side per deletionPolicy, workload released, finalizer removed", async () => {
    const t = setup({ deletionPolicy: "Delete" });
    await t.reconciler.reconcile("health/register");
    t.source.channels.get("health/register")!.metadata.deletionTimestamp = new Date(Date.parse("2026-01-01T00:00:00Z")).toISOString();
    expect(await t.reconciler.reconcile("health/register")).toEqual({ done: true });
    expect(t.nats.finalized).toEqual(["health_register:Delete"]);
    expect(t.workload.released).toBe(true);
    expect(t.source.channels.has("health/register")).toBe(false);
  });

  it("keeps retrying a Delete while NATS is down, and gives up after the deadline so the channel can go", async () => {
    const t = setup({ deletionPolicy: "Delete" });
    await t.reconciler.reconcile("health/register");
    t.source.channels.get("health/register")!.metadata.deletionTimestamp = new Date(Date.parse("2026-01-01T00:00:00Z")).toISOString();
    t.nats.fail = Object.assign(new Error("connection refused"), { reason: "NATSUnavailable" });
    expect(await t.reconciler.reconcile("health/register")).toEqual({ backoff: true });
    expect(t.source.channels.has("health/register")).toBe(true);
    t.tick(6 * 60_000);
    expect(await t.reconciler.reconcile("health/register")).toEqual({ done: true });
    expect(t.source.channels.has("health/register")).toBe(false);
  });

  it("applies deletionPolicy Delete to a channel deleted while its spec is invalid", async () => {
    const t = setup({ deletionPolicy: "Delete" });
    await t.reconciler.reconcile("health/register");
    const stored = t.source.channels.get("health/register")!;
    stored.spec.scaling = { minReplicas: 5, maxReplicas: 2 };
    stored.metadata.generation = 2;
    expect(await t.reconciler.reconcile("health/register")).toEqual({ done: true });
    expect(t.condition("Ready")?.reason).toBe("InvalidSpec");
    stored.metadata.deletionTimestamp = new Date(Date.parse("2026-01-01T00:00:00Z")).toISOString();
    expect(await t.reconciler.reconcile("health/register")).toEqual({ done: true });
    expect(t.nats.finalized).toEqual(["health_register:Delete"]);
    expect(t.workload.released).toBe(true);
    expect(t.source.channels.has("health/register")).toBe(false);
  });

  it("names the real cause when it gives up deleting the NATS side", async () => {
    const t = setup({ deletionPolicy: "Delete" });
    await t.reconciler.reconcile("health/register");
    t.source.channels.get("health/register")!.metadata.deletionTimestamp = new Date(Date.parse("2026-01-01T00:00:00Z")).toISOString();
    t.nats.fail = Object.assign(new Error("authorization violation"), { reason: "AuthFailed" });
    t.tick(6 * 60_000);
    expect(await t.reconciler.reconcile("health/register")).toEqual({ done: true });
    expect(t.events.list.filter((e) => e.startsWith("Warning AuthFailed gave up deleting stream health_register"))).toHaveLength(1);
  });

  it("does not scale a blocked workload", async () => {
    const t = setup();
    t.workload.exists = true;
    t.workload.replicas = 2;
    t.workload.blocked = { status: "False", reason: "ScaleTargetConflict", message: "HPA web scales it" };
    t.nats.lag = 1000;
    await t.reconciler.reconcile("health/register");
    expect(t.workload.replicas).toBe(2);
    expect(t.condition("WorkloadReady")).toMatchObject({ status: "False", reason: "ScaleTargetConflict" });
  });
});
