import { RbacAuthorizationV1Api, type V1PolicyRule } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsServerProcess } from "../../support/nats-server.js";
import { KubeWorld } from "../support/kube-world.js";
import { Cluster, NatsClient, OperatorProcess, conditionOf, consumerTemplate, eventually, fastScaling, sleep } from "./support.js";

// Faults the operator must ride out: conflicts on its writes, watches that drop or expire,
// a write its RBAC no longer allows, and being killed with -9 in the middle of a reconcile. The real apiserver does not make
// these on demand, so a fault-injecting proxy sits between it and the operator.

const NS = "ops";
let kube: KubeWorld;
let server: NatsServerProcess;
let nats: NatsClient;
let cluster: Cluster;
let operator: OperatorProcess;

const startOperator = () => OperatorProcess.start({ world: kube });

beforeAll(async () => {
  server = await NatsServerProcess.start();
  kube = await KubeWorld.start({ namespaces: [NS], releaseNamespace: "p2p-faults", natsUrl: server.url });
  nats = await NatsClient.connect(server.url);
  cluster = new Cluster(kube.kubeConfig());
  operator = await startOperator();
});

afterAll(async () => {
  await operator?.stop();
  await nats?.close();
  await kube?.close();
  await server?.stop();
});

async function applyReady(name: string, overrides: Record<string, unknown> = {}): Promise<void> {
  await cluster.applyChannel(NS, name, { workload: { template: consumerTemplate }, scaling: fastScaling(), ...overrides });
  await eventually(async () => expect(conditionOf(await cluster.channel(NS, name), "Ready")?.status).toBe("True"));
}

describe("the operator under faults", () => {
  it("converges when status and scale writes answer 409 Conflict", async () => {
    await applyReady("conflicts");
    const before = kube.faults.injected;
    kube.faults.failNext(4, { verb: "patch", resource: "pointtopointchannels", subresource: "status", name: "conflicts" });
    kube.faults.failNext(4, { verb: "update", resource: "deployments", subresource: "scale", name: "conflicts-consumer" });
    await nats.publish(`p2p.${NS}.conflicts`, 50);

    await eventually(async () => expect(await cluster.scaleOf(NS, "conflicts-consumer")).toBe(5));
    await eventually(async () => expect((await cluster.channel(NS, "conflicts"))?.status).toMatchObject({ lag: 50, replicas: 5, desiredReplicas: 5 }));
    expect(kube.faults.injected - before).toBe(8);
    expect(conditionOf(await cluster.channel(NS, "conflicts"), "Ready")?.status).toBe("True");
    await nats.drain(`${NS}_conflicts`, "conflicts");
  });

  it.each([429, 500, 503] as const)("converges when its status and scale writes answer %i", async (code) => {
    const name = `answers-${code}`;
    await applyReady(name);
    const before = kube.faults.injected;
    kube.faults.failNext(3, { verb: "patch", resource: "pointtopointchannels", subresource: "status", name }, code);
    kube.faults.failNext(3, { verb: ["update", "patch"], resource: "deployments", subresource: "scale", name: `${name}-consumer` }, code);
    await nats.publish(`p2p.${NS}.${name}`, 30);

    await eventually(async () => expect(await cluster.scaleOf(NS, `${name}-consumer`)).toBe(3));
    await eventually(async () => expect((await cluster.channel(NS, name))?.status).toMatchObject({ lag: 30, replicas: 3, desiredReplicas: 3 }));
    expect(kube.faults.injected - before).toBe(6);
    await nats.drain(`${NS}_${name}`, name);
  });

  it("reports a finalizer patch its Role no longer allows as Ready=False naming verb and resource, with one Event, and recovers", async () => {
    // A real 403 from the real RBAC authorizer: the chart's Role in the namespace, edited as an admin would.
    const rbac = cluster.kc.makeApiClient(RbacAuthorizationV1Api);
    const role = await rbac.readNamespacedRole({ namespace: NS, name: "p2p-operator" });
    const original = structuredClone(role.rules ?? []);
    const withoutChannelWrites = original.map((rule: V1PolicyRule) =>
      rule.resources?.includes("pointtopointchannels") ? { ...rule, verbs: rule.verbs.filter((v) => v !== "patch" && v !== "update") } : rule,
    );
    await rbac.replaceNamespacedRole({ namespace: NS, name: "p2p-operator", body: { ...role, rules: withoutChannelWrites } });
    try {
      await cluster.applyChannel(NS, "denied", { workload: { template: consumerTemplate }, scaling: fastScaling() });
      const ready = await eventually(async () => {
        const c = conditionOf(await cluster.channel(NS, "denied"), "Ready");
        expect(c).toMatchObject({ status: "False", reason: "Forbidden" });
        return c;
      });
      expect(ready?.message).toMatch(/^adding finalizer messaging\.p2p\.dev\/nats-cleanup: .*cannot patch resource "pointtopointchannels"/);
      await sleep(2_000);
      expect((await cluster.events(NS, "denied")).filter((e) => e.reason === "Forbidden")).toHaveLength(1);
      // Without its finalizer the channel's NATS side is not created: a deletion could not clean it up.
      expect(await nats.streamExists(`${NS}_denied`)).toBe(false);
    } finally {
      await rbac.replaceNamespacedRole({ namespace: NS, name: "p2p-operator", body: { ...(await rbac.readNamespacedRole({ namespace: NS, name: "p2p-operator" })), rules: original } });
    }
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "denied"), "Ready")?.status).toBe("True"), 30_000);
    expect((await cluster.channel(NS, "denied"))?.metadata.finalizers).toContain("messaging.p2p.dev/nats-cleanup");
    expect(await nats.streamExists(`${NS}_denied`)).toBe(true);
  });

  it("picks up what happened while its watches were cut off", async () => {
    await applyReady("watched", { deletionPolicy: "Delete" });
    await applyReady("edited");

    kube.faults.dropWatches({ abrupt: true });
    await cluster.applyChannel(NS, "after-drop", { workload: { template: consumerTemplate }, scaling: fastScaling() });
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "after-drop"), "Ready")?.status).toBe("True"));

    // Now make the operator's resourceVersions too old (410 Gone) and hold its reconnect back, and
    // change the world meanwhile: only a relist can tell it what happened.
    const slowWatches = kube.faults.addLatency(1_500, { verb: "watch" });
    try {
      await cluster.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: "bump" } } });
      // Every watch the operator re-opens with its last resourceVersion gets 410 Gone, as after
      // an etcd compaction; the held-back reconnects land after this is set.
      kube.faults.expireWatches(kube.faults.dropWatches());
      await cluster.deleteChannel(NS, "watched");
      await cluster.patchChannel(NS, "edited", { spec: { scaling: { maxReplicas: 3 } } });
      await cluster.applyChannel(NS, "after-410", { workload: { template: consumerTemplate }, scaling: fastScaling() });
    } finally {
      slowWatches();
    }

    await eventually(async () => expect(await cluster.channel(NS, "watched")).toBeNull());
    expect(await nats.streamExists(`${NS}_watched`)).toBe(false);
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "edited"), "Ready")).toMatchObject({ status: "True", observedGeneration: 2 }));
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "after-410"), "Ready")?.status).toBe("True"));
    expect(operator.records("watch resourceVersion expired; relisting").length).toBeGreaterThan(0);
  });

  it("after kill -9 mid-reconcile and a restart: no duplicate streams or consumers, replicas kept, converges", async () => {
    await applyReady("durable");
    await nats.publish(`p2p.${NS}.durable`, 60);
    await eventually(async () => expect(await cluster.scaleOf(NS, "durable-consumer")).toBe(5));
    const deployment = await cluster.deployment(NS, "durable-consumer");

    // A new channel whose Deployment creation is slowed down: the kill lands after its stream and
    // consumer exist and before its Deployment does.
    const slowCreate = kube.faults.addLatency(3_000, { verb: "create", resource: "deployments" });
    await cluster.applyChannel(NS, "midway", { workload: { template: consumerTemplate }, scaling: fastScaling() });
    await eventually(() => expect(operator.records("creating consumer").some((r) => r.name === "midway")).toBe(true), 10_000, 20);
    await operator.kill("SIGKILL");
    slowCreate();
    expect(await nats.streamExists(`${NS}_midway`)).toBe(true);

    const samples: Array<number | undefined> = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push(await cluster.scaleOf(NS, "durable-consumer"));
        await sleep(100);
      }
    })();
    operator = await startOperator();
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "midway"), "Ready")?.status).toBe("True"));
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "durable"), "Ready")?.status).toBe("True"));
    await sleep(1_000);
    sampling = false;
    await sampler;

    expect(samples.length).toBeGreaterThan(5);
    expect(samples.every((n) => n === 5)).toBe(true);
    const after = await cluster.deployment(NS, "durable-consumer");
    expect(after?.metadata?.uid).toBe(deployment?.metadata?.uid);

    const streams = await nats.streamNames();
    expect(streams.filter((s) => s === `${NS}_durable` || s === `${NS}_midway`)).toEqual([`${NS}_durable`, `${NS}_midway`]);
    expect(await nats.consumerNames(`${NS}_durable`)).toEqual(["durable"]);
    expect(await nats.consumerNames(`${NS}_midway`)).toEqual(["midway"]);
    expect((await cluster.deployment(NS, "midway-consumer"))?.spec?.replicas).toBe(1);

    await nats.drain(`${NS}_durable`, "durable");
    await eventually(async () => expect(await cluster.scaleOf(NS, "durable-consumer")).toBe(1), 20_000);
  });
});
