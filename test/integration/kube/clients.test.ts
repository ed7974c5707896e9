// What users do with the official clients against the CRD, on the real apiserver: the
// official @kubernetes/client-node lists and watches channels, the real kubectl creates a
// Deployment whose pod runs on the process node, and `kubectl get p2pc -w`-style tables come
// from the server's printer columns.
import { CustomObjectsApi, KubeConfig, Watch } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { base } from "../../support/channel-cases.js";
import { useAdminNamespace } from "../support/admin-namespace.js";
import { controlPlane, kubectl as runKubectl } from "../support/kube-world.js";

const NS = "clients";
const world = useAdminNamespace(NS);
let kc: KubeConfig;

beforeAll(() => {
  kc = new KubeConfig();
  kc.loadFromFile(controlPlane().kubeconfig);
});

const kubectl = (args: string[]) => runKubectl(controlPlane(), args);

describe("official clients against the CRD", () => {
  it("client-node watches channels: ADDED, MODIFIED and DELETED arrive", async () => {
    const events: string[] = [];
    const watch = new Watch(kc);
    const req = await watch.watch(
      `/apis/messaging.p2p.dev/v1alpha1/namespaces/${NS}/pointtopointchannels`,
      { allowWatchBookmarks: true },
      (type, obj: { metadata: { name: string } }) => {
        if (type !== "BOOKMARK") events.push(`${type} ${obj.metadata.name}`);
      },
      () => {},
    );
    try {
      const api = kc.makeApiClient(CustomObjectsApi);
      const body = { ...base(), metadata: { name: "watched", namespace: NS } };
      await api.createNamespacedCustomObject({ group: "messaging.p2p.dev", version: "v1alpha1", namespace: NS, plural: "pointtopointchannels", body });
      await api.patchNamespacedCustomObject({ group: "messaging.p2p.dev", version: "v1alpha1", namespace: NS, plural: "pointtopointchannels", name: "watched", body: [{ op: "replace", path: "/spec/scaling/maxReplicas", value: 9 }] });
      await api.deleteNamespacedCustomObject({ group: "messaging.p2p.dev", version: "v1alpha1", namespace: NS, plural: "pointtopointchannels", name: "watched" });
      const deadline = Date.now() + 10_000;
      while (events.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(events).toEqual(["ADDED watched", "MODIFIED watched", "DELETED watched"]);
    } finally {
      req.abort();
    }
  });

  it("the API answers ?watch=True as Go's ParseBool does: with a watch, not a list", async () => {
    const info = controlPlane();
    const https = await import("node:https");
    const { readFileSync } = await import("node:fs");
    const first = await new Promise<string>((resolve, reject) => {
      const req = https.get(
        `${info.server}/apis/messaging.p2p.dev/v1alpha1/namespaces/${NS}/pointtopointchannels?watch=True&timeoutSeconds=1`,
        { ca: readFileSync(info.caCert), cert: readFileSync(info.adminCert), key: readFileSync(info.adminKey) },
        (res) => {
          let text = "";
          res.on("data", (d: Buffer) => (text += d.toString()));
          res.on("end", () => resolve(text));
        },
      );
      req.on("error", reject);
    });
    // An empty namespace's watch that times out sends nothing; a list would send an object with items.
    expect(first).not.toContain('"items"');
  });

  it("kubectl create deployment makes a pod that runs on the process node", async () => {
    const created = await kubectl(["create", "deployment", "sleeper", "-n", NS, "--image=busybox", "--", "sleep", "infinity"]);
    expect(created.stderr).toBe("");
    expect(created.stdout.trim()).toBe("deployment.apps/sleeper created");
    const rolled = await kubectl(["rollout", "status", "deployment/sleeper", "-n", NS, "--timeout=60s"]);
    expect(rolled.code).toBe(0);
    expect(rolled.stdout).toContain("successfully rolled out");
    const pods = await kubectl(["get", "pods", "-n", NS, "-l", "app=sleeper", "-o", "wide", "--no-headers"]);
    expect(pods.stdout).toMatch(/Running .*p2p-process-node/);
  });

  it("kubectl version reports the real release", async () => {
    const version = await kubectl(["version", "-o", "json"]);
    const parsed = JSON.parse(version.stdout) as { serverVersion: { gitVersion: string; major: string }; clientVersion: { gitVersion: string } };
    expect(parsed.serverVersion.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
    expect(parsed.serverVersion.major).toBe("1");
    expect(parsed.clientVersion.gitVersion).toBe(parsed.serverVersion.gitVersion);
  });
});
