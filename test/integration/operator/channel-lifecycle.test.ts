import { join } from "node:path";
import { RetentionPolicy } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsServerProcess } from "../../support/nats-server.js";
import { KubeWorld } from "../support/kube-world.js";
import {
  Cluster,
  NatsClient,
  OperatorProcess,
  ROOT,
  conditionOf,
  consumerTemplate,
  eventually,
  fastScaling,
  sleep,
} from "./support.js";

// A template channel from apply to delete, with the operator running as a process under
// --subject-policy namespaced, on the chart's ServiceAccount, against the real control plane
// (owned Deployments become real pods on the process node) and a real nats-server.

const NS = "team";
let kube: KubeWorld;
let server: NatsServerProcess;
let nats: NatsClient;
let cluster: Cluster;
let operator: OperatorProcess;

beforeAll(async () => {
  server = await NatsServerProcess.start();
  kube = await KubeWorld.start({ namespaces: [NS], releaseNamespace: "p2p-lifecycle", natsUrl: server.url, values: { subjectPolicy: "namespaced" } });
  nats = await NatsClient.connect(server.url);
  cluster = new Cluster(kube.kubeConfig());
  operator = await OperatorProcess.start({ world: kube });
});

afterAll(async () => {
  const code = await operator?.stop();
  await nats?.close();
  await kube?.close();
  await server?.stop();
  expect(code, `operator should exit 0 on SIGTERM:\n${operator?.tail()}`).toBe(0);
});

describe("a template channel", () => {
  it("gets a work-queue stream, a durable consumer and an owned Deployment with the consumer env, and reports Ready", async () => {
    await cluster.applyChannel(NS, "orders", { subjects: [`${NS}.orders`], workload: { template: consumerTemplate }, scaling: fastScaling() });

    const channel = await eventually(async () => {
      const c = await cluster.channel(NS, "orders");
      expect(conditionOf(c, "Ready")).toMatchObject({ status: "True", observedGeneration: c?.metadata.generation });
      return c;
    });
    expect(channel?.status?.observedGeneration).toBe(channel?.metadata.generation);
    expect(channel?.metadata.finalizers).toContain("messaging.p2p.dev/nats-cleanup");
    expect(channel?.status).toMatchObject({ stream: { name: "team_orders" }, consumer: { name: "orders" }, target: "Deployment/orders-consumer", lag: 0, replicas: 1 });

    const stream = await nats.jsm.streams.info("team_orders");
    expect(stream.config.retention).toBe(RetentionPolicy.Workqueue);
    expect(stream.config.subjects).toEqual([`${NS}.orders`]);
    expect(await nats.consumerNames("team_orders")).toEqual(["orders"]);
    // The server's version and the features in force survive the apiserver's schema pruning.
    expect(channel?.status?.nats?.serverVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(channel?.status?.nats?.features).toEqual(expect.any(Array));

    const d = await cluster.deployment(NS, "orders-consumer");
    expect(d?.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: "PointToPointChannel", name: "orders", uid: channel?.metadata.uid, controller: true, blockOwnerDeletion: true }),
    ]);
    expect(d?.spec?.replicas).toBe(1);
    // The default ackWait (30 s) plus 5 s: time for a replica told to stop to finish its batch.
    expect(d?.spec?.template.spec?.terminationGracePeriodSeconds).toBe(35);
    expect(d?.spec?.template.metadata?.labels).toMatchObject({ team: "register", "messaging.p2p.dev/channel": "orders" });
    const env = Object.fromEntries((d?.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      NATS_URL: server.url,
      P2P_CHANNEL: `${NS}/orders`,
      P2P_STREAM: "team_orders",
      P2P_CONSUMER: "orders",
      P2P_SUBJECTS: `${NS}.orders`,
      P2P_MAX_BATCH: "200",
      P2P_WORK_MS: "5",
    });

    const events = await cluster.events(NS, "orders");
    expect(events.filter((e) => e.reason === "Ready")).toHaveLength(1);
  });

  it("scales the Deployment up through the scale subresource on a burst, and back down after the drain", async () => {
    await nats.publish(`${NS}.orders`, 60);
    await eventually(async () => expect(await cluster.scaleOf(NS, "orders-consumer")).toBe(5));
    const up = await eventually(async () => {
      const c = await cluster.channel(NS, "orders");
      expect(c?.status).toMatchObject({ lag: 60, replicas: 5, desiredReplicas: 5 });
      return c;
    });
    expect(up?.status?.lastScaleReason).toMatch(/lag/);
    expect(up?.status?.lastScaleTime).toBeTruthy();
    const scaled = (await cluster.events(NS, "orders")).filter((e) => e.reason === "Scaled");
    // A poll may land while the burst is still arriving (1→3→5 then): up from 1, to 5.
    expect(scaled.map((e) => e.message)).toContainEqual(expect.stringMatching(/^scaled 1→/));
    expect(scaled.map((e) => e.message)).toContainEqual(expect.stringMatching(/^scaled \d→5:/));
    expect(await operator.metric("p2p_channel_desired_replicas", `name="orders",namespace="${NS}"`)).toBe(5);

    expect(await nats.drain("team_orders", "orders")).toBe(60);
    await eventually(async () => expect(await cluster.scaleOf(NS, "orders-consumer")).toBe(1), 20_000);
    await eventually(async () => expect((await cluster.channel(NS, "orders"))?.status).toMatchObject({ lag: 0, replicas: 1, desiredReplicas: 1 }));
    expect(await operator.metric("p2p_scale_events_total", `direction="down",name="orders",namespace="${NS}"`)).toBeGreaterThanOrEqual(1);
  });

  it("shows up in `kubectl p2p status` with the user's kubeconfig, with lag and replicas", async () => {
    await nats.publish(`${NS}.orders`, 25);
    await eventually(async () => expect((await cluster.channel(NS, "orders"))?.status).toMatchObject({ lag: 25, replicas: 3 }));
    // kubectl finds the plugin on PATH as kubectl-p2p, the second bin of the operator package.
    const bin = join(ROOT, "node_modules/.bin");
    const status = await kube.kubectl(["p2p", "status", "-n", NS, "-o", "json", "--interval", "0"], kube.adminKubeconfig, { PATH: `${bin}:${process.env.PATH}` });
    expect(status.stderr).toBe("");
    const report = JSON.parse(status.stdout) as { channels: Array<Record<string, unknown>> };
    expect(report.channels).toContainEqual(expect.objectContaining({ channel: `${NS}/orders`, lag: 25 }));
    await nats.drain("team_orders", "orders");
    await eventually(async () => expect(await cluster.scaleOf(NS, "orders-consumer")).toBe(1), 20_000);
  });

  it("rolls a template change into the Deployment and keeps its replica count", async () => {
    await nats.publish(`${NS}.orders`, 25);
    await eventually(async () => expect(await cluster.scaleOf(NS, "orders-consumer")).toBe(3));
    const template = structuredClone(consumerTemplate);
    template.spec.containers[0]!.image = "registry.example/consumer:2";
    const patched = await cluster.patchChannel(NS, "orders", { spec: { workload: { template } } });
    expect(patched.metadata.generation).toBe(2);

    await eventually(async () => {
      const d = await cluster.deployment(NS, "orders-consumer");
      expect(d?.spec?.template.spec?.containers[0]?.image).toBe("registry.example/consumer:2");
      expect(d?.spec?.replicas).toBe(3);
    });
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "orders"), "Ready")).toMatchObject({ status: "True", observedGeneration: 2 }));
    // Compare before writing: a Deployment that matches is left alone between polls.
    const before = (await cluster.deployment(NS, "orders-consumer"))?.metadata?.generation;
    await sleep(1_500);
    expect((await cluster.deployment(NS, "orders-consumer"))?.metadata?.generation).toBe(before);
    await nats.drain("team_orders", "orders");
  });

  it("recreates a stream deleted on the server within a few polls, not at the next resync", async () => {
    await eventually(async () => expect(await nats.streamExists("team_orders")).toBe(true));
    await nats.jsm.streams.delete("team_orders");
    // The queue loop finds the stream gone and hands the channel back to the spec reconcile; the
    // resync (5 minutes) would be far too late for this wait.
    await eventually(async () => {
      expect(await nats.streamExists("team_orders")).toBe(true);
      expect(await nats.consumerNames("team_orders")).toEqual(["orders"]);
    }, 10_000);
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "orders"), "Ready")?.status).toBe("True"));
  });

  it("reports SubjectPolicyViolation for subjects outside the namespace, and creates nothing", async () => {
    await cluster.applyChannel(NS, "stray", { subjects: ["billing.invoices"], workload: { template: consumerTemplate }, scaling: fastScaling() });
    const ready = await eventually(async () => {
      const c = conditionOf(await cluster.channel(NS, "stray"), "Ready");
      expect(c?.status).toBe("False");
      return c;
    });
    expect(ready?.reason).toBe("SubjectPolicyViolation");
    expect(ready?.message).toContain(`"${NS}."`);
    expect(await nats.streamExists("team_stray")).toBe(false);
    expect(await cluster.deployment(NS, "stray-consumer")).toBeNull();

    await cluster.patchChannel(NS, "stray", { spec: { subjects: [`${NS}.stray`] } });
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "stray"), "Ready")?.status).toBe("True"));
    expect(await nats.streamExists("team_stray")).toBe(true);
  });

  it("keeps stream and consumer under deletionPolicy Retain, and the owned Deployment is garbage-collected", async () => {
    await cluster.deleteChannel(NS, "orders");
    await eventually(async () => expect(await cluster.channel(NS, "orders")).toBeNull());
    await eventually(async () => expect(await cluster.deployment(NS, "orders-consumer")).toBeNull());
    expect(await nats.streamExists("team_orders")).toBe(true);
    expect(await nats.consumerNames("team_orders")).toEqual(["orders"]);
  });

  it("removes stream and consumer under deletionPolicy Delete", async () => {
    await cluster.applyChannel(NS, "scratch", {
      subjects: [`${NS}.scratch`],
      deletionPolicy: "Delete",
      workload: { template: consumerTemplate },
      scaling: fastScaling(),
    });
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "scratch"), "Ready")?.status).toBe("True"));
    expect(await nats.streamExists("team_scratch")).toBe(true);

    await cluster.deleteChannel(NS, "scratch");
    await eventually(async () => expect(await cluster.channel(NS, "scratch")).toBeNull());
    expect(await nats.streamExists("team_scratch")).toBe(false);
    await eventually(async () => expect(await cluster.deployment(NS, "scratch-consumer")).toBeNull());
  });

  it("serves /metrics, /healthz and /readyz", async () => {
    const metrics = await operator.metrics();
    for (const name of [
      "controller_runtime_reconcile_total",
      "controller_runtime_reconcile_errors_total",
      "controller_runtime_reconcile_time_seconds",
      "workqueue_depth",
      "leader_election_master_status",
      "p2p_channel_lag",
      "p2p_channel_replicas",
      "p2p_channel_desired_replicas",
      "p2p_scale_events_total",
      "p2p_dead_letters_total",
      "rest_client_requests_total",
    ]) {
      expect(metrics).toContain(`# TYPE ${name} `);
    }
    expect((await fetch(`${operator.healthUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${operator.healthUrl}/readyz`)).status).toBe(200);
  });
});
