// `helm install` for real, on a control plane of this file's own (the chart installs the CRD
// and, cluster-wide, a ClusterRole: nothing another file may see), in both RBAC modes, with
// the operator then running on a token of the chart's ServiceAccount: the real authorizer
// allows or denies every call it makes. The immunisation example's consumers run as pods on
// the process node. A Role with one rule removed shows as a condition and an Event naming
// the missing permission.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlane, createNamespace } from "../../support/control-plane/index.js";
import { NatsServerProcess } from "../../support/nats-server.js";
import { Cluster, OperatorProcess, conditionOf, consumerTemplate, eventually, fastScaling } from "../operator/support.js";
import { KubeWorld, RELEASE, helm } from "../support/kube-world.js";
import { repoRoot } from "./helm.js";

let plane: ControlPlane;
let server: NatsServerProcess;

beforeAll(async () => {
  [plane, server] = await Promise.all([ControlPlane.start(), NatsServerProcess.start()]);
}, 120_000);

afterAll(async () => {
  await plane?.stop();
  await server?.stop();
});

const sa = (ns: string) => `system:serviceaccount:${ns}:${RELEASE}`;

describe("the chart installed cluster-wide", () => {
  let world: KubeWorld;
  let operator: OperatorProcess;
  let cluster: Cluster;

  beforeAll(async () => {
    world = await KubeWorld.start({ controlPlane: plane.info(), namespaces: ["immunisation"], clusterWide: true, installCrds: true, releaseNamespace: "p2p-system", natsUrl: server.url });
    cluster = new Cluster(world.kubeConfig());
    expect((await world.kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd/pointtopointchannels.messaging.p2p.dev"])).code).toBe(0);
    operator = await OperatorProcess.start({ world });
  }, 120_000);

  afterAll(async () => {
    await operator?.stop();
    await world?.close();
  });

  it("runs the immunisation example: Ready, its consumers running as pods, listed by kubectl get p2pc", async () => {
    const applied = await world.kubectl(["apply", "-n", "immunisation", "-f", join(repoRoot, "examples/immunisation/channel.yaml")]);
    expect(applied.stderr).toBe("");
    await eventually(async () => expect(conditionOf(await cluster.channel("immunisation", "immunisation-register"), "Ready")?.status).toBe("True"), 60_000);
    await eventually(async () => {
      const d = await cluster.deployment("immunisation", "immunisation-register-consumer");
      expect(d?.status?.readyReplicas).toBe(1);
    }, 60_000);
    const listed = await world.kubectl(["get", "p2pc", "-n", "immunisation", "--no-headers"]);
    expect(listed.stdout).toMatch(/^immunisation-register\s+immunisation_immunisation-register\s+Deployment\/immunisation-register-consumer\s+1\s+8\s+1\s+0\s+True\s/);
  });

  it("grants the ServiceAccount what the operator uses and nothing cluster-wide beyond it", async () => {
    const can = async (...args: string[]) => (await world.kubectl(["auth", "can-i", ...args, `--as=${sa("p2p-system")}`])).stdout.trim();
    expect(await can("update", "pointtopointchannels/status", "-n", "immunisation")).toBe("yes");
    expect(await can("update", "deployments/scale", "-n", "anywhere")).toBe("yes");
    expect(await can("delete", "namespaces")).toBe("no");
    expect(await can("create", "clusterrolebindings")).toBe("no");
    expect(await can("delete", "pods", "-n", "immunisation")).toBe("no");
  });
});

describe("the chart installed for some namespaces", () => {
  let world: KubeWorld;
  let operator: OperatorProcess;
  let cluster: Cluster;

  beforeAll(async () => {
    world = await KubeWorld.start({ controlPlane: plane.info(), namespaces: ["team-a"], releaseNamespace: "p2p-team", natsUrl: server.url });
    await createNamespace(world.admin, "team-b");
    cluster = new Cluster(world.kubeConfig());
    operator = await OperatorProcess.start({ world });
  }, 120_000);

  afterAll(async () => {
    await operator?.stop();
    await world?.close();
  });

  it("reconciles channels in its namespaces only, and may not read channels elsewhere", async () => {
    await cluster.applyChannel("team-a", "orders", { workload: { template: consumerTemplate }, scaling: fastScaling() });
    await cluster.applyChannel("team-b", "orders", { workload: { template: consumerTemplate }, scaling: fastScaling() });
    await eventually(async () => expect(conditionOf(await cluster.channel("team-a", "orders"), "Ready")?.status).toBe("True"), 60_000);
    expect((await cluster.channel("team-b", "orders"))?.status).toBeUndefined();
    const can = async (...args: string[]) => (await world.kubectl(["auth", "can-i", ...args, `--as=${sa("p2p-team")}`])).stdout.trim();
    expect(await can("list", "pointtopointchannels", "-n", "team-a")).toBe("yes");
    expect(await can("list", "pointtopointchannels", "-n", "team-b")).toBe("no");
    expect(await can("list", "pointtopointchannels", "--all-namespaces")).toBe("no");
  });

  it("says which permission is missing when the Role loses a rule, and recovers when it is back", async () => {
    // The chart's Role in team-a without its Deployments rule: creating the owned Deployment is refused.
    const role = await world.admin.get<{ rules: Array<{ apiGroups?: string[]; resources?: string[]; verbs: string[] }> }>(`/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/roles/${RELEASE}`);
    const withoutDeployments = role.rules.filter((r) => !(r.apiGroups?.includes("apps") && r.resources?.includes("deployments")));
    expect(withoutDeployments.length).toBe(role.rules.length - 1);
    await world.admin.request("PATCH", `/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/roles/${RELEASE}`, { rules: withoutDeployments }, "application/merge-patch+json");

    await cluster.applyChannel("team-a", "invoices", { workload: { template: consumerTemplate }, scaling: fastScaling() });
    const workload = await eventually(async () => {
      const c = conditionOf(await cluster.channel("team-a", "invoices"), "WorkloadReady");
      expect(c?.reason).toBe("Forbidden");
      return c!;
    }, 60_000);
    expect(workload.status).toBe("False");
    expect(workload.message).toMatch(/cannot (get|create) resource "deployments" in API group "apps" in the namespace "team-a"/);
    expect(workload.message).toContain(sa("p2p-team"));
    expect(conditionOf(await cluster.channel("team-a", "invoices"), "Ready")).toMatchObject({ status: "False", reason: "Forbidden" });
    const events = (await cluster.events("team-a", "invoices")).filter((e) => e.reason === "Forbidden");
    expect(events).toHaveLength(1);
    expect(events[0]?.message).toContain('resource "deployments"');

    // helm upgrade puts the chart's Role back as it was, taking .rules back from the hand edit.
    await helm(world.info, ["upgrade", RELEASE, join(repoRoot, "charts/p2p-operator"), "--namespace", "p2p-team", "--reuse-values", "--force-conflicts", "--wait=hookOnly"]);
    await eventually(async () => expect(conditionOf(await cluster.channel("team-a", "invoices"), "Ready")?.status).toBe("True"), 60_000);
  });
});
