import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsServerProcess } from "../../support/nats-server.js";
import { KubeWorld } from "../support/kube-world.js";
import { Cluster, NatsClient, OperatorProcess, conditionOf, consumerTemplate, eventually, fastScaling, sleep } from "./support.js";

// scaleTargetRef channels (the user's Deployment, scaled and otherwise untouched), the
// conditions that stop scaling (missing target, HPA, another channel), and connections from a
// channel's own Secret.

const NS = "shop";
let kube: KubeWorld;
let server: NatsServerProcess;
let authServer: NatsServerProcess;
let nats: NatsClient;
let cluster: Cluster;
let operator: OperatorProcess;

beforeAll(async () => {
  [server, authServer] = await Promise.all([NatsServerProcess.start(), NatsServerProcess.start({ extraConfig: 'authorization { token: "s3cret-token" }' })]);
  kube = await KubeWorld.start({ namespaces: [NS], releaseNamespace: "p2p-shop", natsUrl: server.url });
  nats = await NatsClient.connect(server.url);
  cluster = new Cluster(kube.kubeConfig());
  operator = await OperatorProcess.start({ world: kube });
});

afterAll(async () => {
  await operator?.stop();
  await nats?.close();
  await kube?.close();
  await Promise.all([server?.stop(), authServer?.stop()]);
});

describe("a scaleTargetRef channel", () => {
  it("scales the user's Deployment through its scale subresource, changes nothing else, and leaves it on delete", async () => {
    const created = await cluster.createDeployment(NS, "billing", 2);
    await cluster.applyChannel(NS, "billing", {
      deletionPolicy: "Delete",
      workload: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "billing" } },
      scaling: fastScaling({ minReplicas: 1, maxReplicas: 4 }),
    });
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "billing"), "Ready")?.status).toBe("True"));
    expect((await cluster.channel(NS, "billing"))?.status?.target).toBe("Deployment/billing");
    // Lag 0 scales 2 down to the minimum after the 1 s window.
    await eventually(async () => expect(await cluster.scaleOf(NS, "billing")).toBe(1));

    await nats.publish(`p2p.${NS}.billing`, 35);
    await eventually(async () => expect(await cluster.scaleOf(NS, "billing")).toBe(4));
    await nats.drain(`${NS}_billing`, "billing");
    await eventually(async () => expect(await cluster.scaleOf(NS, "billing")).toBe(1));

    const d = await cluster.deployment(NS, "billing");
    expect(d?.metadata?.ownerReferences ?? []).toEqual([]);
    expect(d?.metadata?.labels).toEqual(created.metadata?.labels);
    expect(d?.spec?.template).toEqual(created.spec?.template);
    expect(d?.metadata?.generation).toBeGreaterThan(created.metadata?.generation ?? 0);

    await cluster.deleteChannel(NS, "billing");
    await eventually(async () => expect(await cluster.channel(NS, "billing")).toBeNull());
    expect(await nats.streamExists(`${NS}_billing`)).toBe(false);
    await sleep(500);
    const after = await cluster.deployment(NS, "billing");
    expect(after?.metadata?.uid).toBe(created.metadata?.uid);
    expect(after?.spec?.replicas).toBe(1);
  });

  it("while an idle channel's polls are quiet, brings back replicas set by hand and scales on the first message", async () => {
    await cluster.createDeployment(NS, "ledger", 1);
    await cluster.applyChannel(NS, "ledger", {
      workload: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "ledger" } },
      scaling: fastScaling({ minReplicas: 1, maxReplicas: 4 }),
    });
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "ledger"), "Ready")?.status).toBe("True"));
    // The only channel left in the operator: its polls (every 300 ms) turn quiet once its rates settle.
    const quiet = async () => (await operator.metric("p2p_queue_polls_total", 'outcome="quiet"')) ?? 0;
    const before = await quiet();
    await eventually(async () => expect((await quiet()) - before).toBeGreaterThanOrEqual(5));

    // Someone scales the target by hand: the Deployment's change reconciles the channel, which
    // scales it back to what the lag asks (after the 1 s scale-down window). The operator may be
    // back at 1 before a read of the scale could see 3: its Event says it saw 3.
    const byHand = await cluster.apps.replaceNamespacedDeploymentScale({ namespace: NS, name: "ledger", body: { metadata: { name: "ledger", namespace: NS }, spec: { replicas: 3 } } });
    expect(byHand.spec?.replicas).toBe(3);
    await eventually(async () => expect((await cluster.events(NS, "ledger")).some((e) => e.reason === "Scaled" && e.message?.startsWith("scaled 3→1"))).toBe(true));
    await eventually(async () => expect(await cluster.scaleOf(NS, "ledger")).toBe(1));

    // Quiet again, then the first messages scale it up.
    const again = await quiet();
    await eventually(async () => expect((await quiet()) - again).toBeGreaterThanOrEqual(5));
    await nats.publish(`p2p.${NS}.ledger`, 35);
    await eventually(async () => expect(await cluster.scaleOf(NS, "ledger")).toBe(4));
    await cluster.deleteChannel(NS, "ledger");
    await eventually(async () => expect(await cluster.channel(NS, "ledger")).toBeNull());
  });

  it("reports ScaleTargetNotFound until the target exists, then recovers by itself", async () => {
    await cluster.applyChannel(NS, "late", {
      workload: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "late" } },
      scaling: fastScaling({ pollInterval: "30s" }),
    });
    const missing = await eventually(async () => {
      const c = conditionOf(await cluster.channel(NS, "late"), "WorkloadReady");
      expect(c?.status).toBe("False");
      return c;
    });
    expect(missing?.reason).toBe("ScaleTargetNotFound");
    // The stream does not wait for the workload.
    expect(conditionOf(await cluster.channel(NS, "late"), "StreamReady")?.status).toBe("True");

    // The poll interval is 30 s: recovering within seconds means the Deployment's watch event did it.
    await cluster.createDeployment(NS, "late", 3);
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "late"), "Ready")?.status).toBe("True"), 10_000);
    await eventually(async () => expect((await cluster.channel(NS, "late"))?.status?.replicas).toBeDefined(), 10_000);
  });

  it("reports ScaleTargetConflict and does not scale when an HPA already scales the target", async () => {
    await cluster.createDeployment(NS, "search", 2);
    await cluster.createHpa(NS, "search", "search");
    await cluster.applyChannel(NS, "search", {
      workload: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "search" } },
      scaling: fastScaling(),
    });
    const conflict = await eventually(async () => {
      const c = conditionOf(await cluster.channel(NS, "search"), "WorkloadReady");
      expect(c?.reason).toBe("ScaleTargetConflict");
      return c;
    });
    expect(conflict?.status).toBe("False");
    expect(conflict?.message).toContain("HorizontalPodAutoscaler search");
    await nats.publish(`p2p.${NS}.search`, 40);
    await sleep(1_500);
    expect(await cluster.scaleOf(NS, "search")).toBe(2);

    await cluster.autoscaling.deleteNamespacedHorizontalPodAutoscaler({ namespace: NS, name: "search" });
    await eventually(async () => expect(await cluster.scaleOf(NS, "search")).toBe(4));
    await nats.drain(`${NS}_search`, "search");
  });

  it("lets the older of two channels naming one Deployment scale it; the younger reports ScaleTargetConflict", async () => {
    await cluster.createDeployment(NS, "shared", 1);
    await cluster.applyChannel(NS, "shared-a", {
      workload: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "shared" } },
      scaling: fastScaling(),
    });
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "shared-a"), "Ready")?.status).toBe("True"));
    await sleep(1_100); // creationTimestamp has one-second resolution
    await cluster.applyChannel(NS, "shared-b", {
      workload: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "shared" } },
      scaling: fastScaling(),
    });
    const conflict = await eventually(async () => {
      const c = conditionOf(await cluster.channel(NS, "shared-b"), "WorkloadReady");
      expect(c?.reason).toBe("ScaleTargetConflict");
      return c;
    });
    expect(conflict?.message).toContain("channel shared-a");
    expect(conditionOf(await cluster.channel(NS, "shared-a"), "Ready")?.status).toBe("True");

    await cluster.deleteChannel(NS, "shared-a");
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "shared-b"), "Ready")?.status).toBe("True"));
  });
});

describe("a channel with its own connection Secret", () => {
  it("reports SecretNotFound once (not once per poll) until the Secret exists, turns Ready within a poll of it appearing, connects with it and mounts it", async () => {
    await cluster.applyChannel(NS, "secure", {
      connection: { servers: [authServer.url], secretRef: { name: "nats-auth" } },
      workload: { template: consumerTemplate },
      scaling: fastScaling(),
    });
    const notFound = await eventually(async () => {
      const c = conditionOf(await cluster.channel(NS, "secure"), "Ready");
      expect(c?.reason).toBe("SecretNotFound");
      return c;
    });
    expect(notFound?.status).toBe("False");
    // Long enough for an exponential backoff (0.5 s, 1 s, 2 s, 4 s, ...) to have grown past 4 s:
    // the operator may only get (never list or watch) Secrets under the chart's RBAC, so it must
    // look for the Secret on every poll (300 ms here) to see it within one.
    await sleep(8_000);
    const warnings = (await cluster.events(NS, "secure")).filter((e) => e.reason === "SecretNotFound");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.type).toBe("Warning");

    await cluster.createTokenSecret(NS, "nats-auth", "s3cret-token");
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "secure"), "Ready")?.status).toBe("True"), 3_000, 100);

    const nc = await connect({ servers: authServer.url, token: "s3cret-token" });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(`${NS}_secure`);
      expect(info.config.subjects).toEqual([`p2p.${NS}.secure`]);
    } finally {
      await nc.close();
    }
    expect(await nats.streamExists(`${NS}_secure`)).toBe(false);

    const pod = (await cluster.deployment(NS, "secure-consumer"))?.spec?.template.spec;
    expect(pod?.volumes).toEqual([
      expect.objectContaining({ name: "p2p-credentials", secret: expect.objectContaining({ secretName: "nats-auth", items: [{ key: "token", path: "token" }] }) }),
    ]);
    const container = pod?.containers[0];
    expect(container?.volumeMounts).toEqual([{ name: "p2p-credentials", mountPath: "/var/run/secrets/p2p", readOnly: true }]);
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ NATS_URL: authServer.url, NATS_TOKEN_FILE: "/var/run/secrets/p2p/token" });
    expect(JSON.stringify(pod)).not.toContain("s3cret-token");
  });
});
