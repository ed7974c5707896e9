// Real consumers as pods: the channel's template runs the consumer template app, the process
// node runs its pods as processes, and the operator scales them from the lag. Deleting a
// consumer pod in the middle of a burst (SIGTERM, grace period, as the kubelet does) loses
// no message, and replicas come back down after the drain.
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeExampleEvent } from "../../../consumer-template/src/event.js";
import { NatsServerProcess } from "../../support/nats-server.js";
import { KubeWorld } from "../support/kube-world.js";
import { Cluster, NatsClient, OperatorProcess, conditionOf, eventually, fastScaling } from "./support.js";

const NS = "register";
const COUNT = 3_000;
let kube: KubeWorld;
let server: NatsServerProcess;
let nats: NatsClient;
let cluster: Cluster;
let operator: OperatorProcess;
let recordFile: string;

beforeAll(async () => {
  server = await NatsServerProcess.start();
  kube = await KubeWorld.start({ namespaces: [NS], releaseNamespace: "p2p-register", natsUrl: server.url });
  nats = await NatsClient.connect(server.url);
  cluster = new Cluster(kube.kubeConfig());
  operator = await OperatorProcess.start({ world: kube });
  recordFile = join(await mkdtemp(join(tmpdir(), "p2p-records-")), "processed.txt");
});

afterAll(async () => {
  await operator?.stop();
  await nats?.close();
  await kube?.close();
  await server?.stop();
});

async function processed(): Promise<string[]> {
  try {
    return (await readFile(recordFile, "utf8")).split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

async function consumerPods(): Promise<Array<{ name: string; ready: boolean; deleting: boolean }>> {
  const list = await cluster.core.listNamespacedPod({ namespace: NS, labelSelector: "messaging.p2p.dev/channel=immunisation" });
  return list.items.map((p) => ({
    name: p.metadata!.name!,
    ready: p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
    deleting: Boolean(p.metadata?.deletionTimestamp),
  }));
}

describe("consumer pods on the process node", () => {
  it("drain a burst while one pod is deleted mid-way, losing no message", async () => {
    await cluster.applyChannel(NS, "immunisation", {
      subjects: [`${NS}.immunisation.administered`],
      consumer: { ackWait: "10s" },
      workload: {
        template: {
          metadata: { labels: { app: "register" } },
          spec: {
            terminationGracePeriodSeconds: 20,
            containers: [
              {
                name: "consumer",
                image: "ghcr.io/p2p-operator/consumer-template:0.1.0",
                command: ["node", "consumer-template/dist/main.js"],
                env: [
                  { name: "P2P_WORK_MS", value: "10" },
                  { name: "P2P_RECORD_FILE", value: recordFile },
                ],
              },
            ],
          },
        },
      },
      scaling: fastScaling({ maxReplicas: 4, targetLagPerReplica: 200 }),
    });
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "immunisation"), "Ready")?.status).toBe("True"), 60_000);
    await eventually(async () => expect((await consumerPods()).filter((p) => p.ready)).toHaveLength(1), 60_000);

    const js = jetstream(nats.nc);
    const acks: Array<Promise<unknown>> = [];
    for (let i = 0; i < COUNT; i++) acks.push(js.publish(`${NS}.immunisation.administered`, JSON.stringify({ ...makeExampleEvent(i), eventId: `burst-${i}` }), { msgID: `burst-${i}` }));
    await Promise.all(acks);

    // Several replicas at work, then one of them deleted as `kubectl delete pod` would.
    await eventually(async () => expect((await consumerPods()).filter((p) => p.ready).length).toBeGreaterThanOrEqual(2), 60_000, 100);
    await eventually(async () => expect((await processed()).length).toBeGreaterThan(200), 60_000, 100);
    const victim = (await consumerPods()).find((p) => p.ready && !p.deleting)!;
    await cluster.core.deleteNamespacedPod({ namespace: NS, name: victim.name });
    await eventually(async () => expect((await consumerPods()).map((p) => p.name)).not.toContain(victim.name), 60_000);

    await eventually(async () => expect(new Set(await processed()).size).toBe(COUNT), 120_000, 500);
    const ids = new Set(await processed());
    const lost = Array.from({ length: COUNT }, (_, i) => `burst-${i}`).filter((id) => !ids.has(id));
    expect(lost).toEqual([]);
    await eventually(async () => expect((await cluster.channel(NS, "immunisation"))?.status).toMatchObject({ lag: 0, replicas: 1 }), 60_000);
  }, 120_000);
});
