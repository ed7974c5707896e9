import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FaultProxy } from "../../support/fault-proxy.js";
import { NatsServerProcess } from "../../support/nats-server.js";
import { KubeWorld, RELEASE } from "../support/kube-world.js";
import { Cluster, NatsClient, OperatorProcess, conditionOf, consumerTemplate, eventually, fastScaling, sleep } from "./support.js";

// Two operators with --leader-elect (the chart's default) on the chart's ServiceAccount, each
// talking to the real apiserver through its own proxy that records its requests: only the
// Lease holder writes; when it dies the other takes over within the lease time.

const NS = "ha";
const LEASE_NS = "p2p-ha";
let kube: KubeWorld;
let server: NatsServerProcess;
let nats: NatsClient;
let cluster: Cluster;
const proxies: FaultProxy[] = [];
const operators: OperatorProcess[] = [];

async function startCandidate(name: string): Promise<{ op: OperatorProcess; proxy: FaultProxy }> {
  const info = kube.info;
  const proxy = await FaultProxy.start({ upstream: info.server, ca: info.caCert, cert: info.servingCert, key: info.servingKey });
  proxies.push(proxy);
  const kubeconfig = await kube.serviceAccountKubeconfig(proxy.url, `candidate-${name}`);
  const op = await OperatorProcess.start({ world: kube, kubeconfig, name });
  operators.push(op);
  return { op, proxy };
}

async function holder(): Promise<string | undefined> {
  try {
    const lease = await cluster.coordination.readNamespacedLease({ namespace: LEASE_NS, name: RELEASE });
    return lease.spec?.holderIdentity ?? undefined;
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  server = await NatsServerProcess.start();
  kube = await KubeWorld.start({ namespaces: [NS], releaseNamespace: LEASE_NS, natsUrl: server.url });
  nats = await NatsClient.connect(server.url);
  cluster = new Cluster(kube.kubeConfig());
});

afterAll(async () => {
  await Promise.all(operators.map((o) => o.stop()));
  await Promise.all(proxies.map((p) => p.close()));
  await nats?.close();
  await kube?.close();
  await server?.stop();
});

describe("leader election", () => {
  it("lets only the Lease holder write, and a standby takes over within the lease time when the leader dies", async () => {
    const a = await startCandidate("op-a");
    await eventually(async () => expect(await holder()).toMatch(/^op-a_/));
    const b = await startCandidate("op-b");

    await cluster.applyChannel(NS, "orders", { workload: { template: consumerTemplate }, scaling: fastScaling() });
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "orders"), "Ready")?.status).toBe("True"));
    await nats.publish(`p2p.${NS}.orders`, 30);
    await eventually(async () => expect(await cluster.scaleOf(NS, "orders-consumer")).toBe(3));
    await sleep(2_500); // a few lease retry periods

    expect(a.proxy.writes.some((w) => w.includes("/pointtopointchannels/orders/status"))).toBe(true);
    expect(a.proxy.writes.some((w) => w.includes("/deployments/orders-consumer/scale"))).toBe(true);
    expect(b.proxy.writes).toEqual([]);
    expect(await a.op.metric("leader_election_master_status", `name="${RELEASE}"`)).toBe(1);
    expect(await b.op.metric("leader_election_master_status", `name="${RELEASE}"`)).toBe(0);
    // A standby keeps warm caches and reports ready, so rollouts and PDBs work.
    expect((await fetch(`${b.op.healthUrl}/readyz`)).status).toBe(200);

    await a.op.kill("SIGKILL");
    const killedAt = Date.now();
    await eventually(async () => expect(await holder()).toMatch(/^op-b_/), 25_000, 250);
    const takeoverMs = Date.now() - killedAt;
    // leaseDuration 15 s, measured from when the standby last saw the lease change, plus one 2 s retry.
    expect(takeoverMs).toBeLessThan(15_000 + 2_000 + 1_000);

    await nats.drain(`${NS}_orders`, "orders");
    await eventually(async () => expect(await cluster.scaleOf(NS, "orders-consumer")).toBe(1));
    expect(b.proxy.writes.some((w) => w.includes("/deployments/orders-consumer/scale"))).toBe(true);
    expect(await b.op.metric("leader_election_master_status", `name="${RELEASE}"`)).toBe(1);
  });

  it("hands the Lease over at once when the leader stops on SIGTERM", async () => {
    const current = operators.find((o) => !o.exited);
    expect(current).toBeDefined();
    const c = await startCandidate("op-c");
    await sleep(1_000);
    expect(c.proxy.writes).toEqual([]);

    const stoppedAt = Date.now();
    expect(await current!.stop()).toBe(0);
    await eventually(async () => expect(await holder()).toMatch(/^op-c_/), 10_000, 100);
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    await cluster.patchChannel(NS, "orders", { spec: { scaling: { maxReplicas: 4 } } });
    await eventually(async () => expect(conditionOf(await cluster.channel(NS, "orders"), "Ready")?.observedGeneration).toBe(2));
  });

  it("exits with status 1 when it cannot renew the Lease within the renew deadline", async () => {
    const leader = operators.at(-1)!;
    const proxy = proxies.at(-1)!;
    expect(await holder()).toMatch(/^op-c_/);
    const cutAt = Date.now();
    await proxy.close(); // the API server is unreachable from this replica now
    expect(await leader.wait()).toBe(1);
    const elapsed = Date.now() - cutAt;
    // renewDeadline 10 s after the last renewal, which was at most one 2 s retry period ago.
    expect(elapsed).toBeGreaterThan(7_000);
    expect(elapsed).toBeLessThan(14_000);
    expect(leader.records("leader election lost; exiting")).toHaveLength(1);
  });
});

