// The process node as the tests rely on it: pods that real controllers create are bound to
// it and run as local processes with the env and files a kubelet would give them; status is
// honest (Ready only after the readiness probe, exit codes and restarts recorded); deleting a
// pod sends SIGTERM, waits the grace period, then SIGKILL, before the pod goes away.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { KubeStatusError, RestClient } from "../../support/control-plane/index.js";
import { eventually as eventuallyWithin } from "../operator/support.js";
import { useAdminNamespace } from "../support/admin-namespace.js";
import { controlPlane } from "../support/kube-world.js";

const eventually = <T>(fn: () => Promise<T>, timeoutMs = 30_000) => eventuallyWithin(fn, timeoutMs);

const NS = "process-node";
const world = useAdminNamespace(NS);

beforeAll(async () => {
  await world.admin.request("POST", `/api/v1/namespaces/${NS}/secrets`, { apiVersion: "v1", kind: "Secret", metadata: { name: "creds" }, stringData: { token: "s3cret", "ca.crt": "CA" } });
  await world.admin.request("POST", `/api/v1/namespaces/${NS}/configmaps`, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings" }, data: { mode: "fast" } });
});



const pod = (name: string) => world.admin.find<V1Pod>(`/api/v1/namespaces/${NS}/pods/${name}`);
const ready = (p: V1Pod | null) => p?.status?.conditions?.find((c) => c.type === "Ready")?.status;

/** A pod whose process is `node -e script` (the node runs commands from the repository root). */
async function createPod(name: string, script: string, extra: Record<string, unknown> = {}, container: Record<string, unknown> = {}): Promise<void> {
  await world.admin.request("POST", `/api/v1/namespaces/${NS}/pods`, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: { containers: [{ name: "main", image: "node:20", command: ["node", "-e", script], ...container }], ...extra },
  });
}

describe("the process node", () => {
  it("stays Ready with its Lease renewed", async () => {
    const node = await world.admin.get<{ status: { conditions: Array<{ type: string; status: string }> } }>("/api/v1/nodes/p2p-process-node");
    expect(node.status.conditions.find((c) => c.type === "Ready")?.status).toBe("True");
    const lease = await world.admin.get<{ spec: { renewTime: string } }>("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/p2p-process-node");
    expect(Date.now() - Date.parse(lease.spec.renewTime)).toBeLessThan(20_000);
  });

  it("runs a Deployment's pods from the real controllers, with env from values, Secrets, ConfigMaps and fields, and Secret volumes as files", async () => {
    const script = [
      "const fs = require('fs'); const http = require('http');",
      "const out = { token: process.env.TOKEN, mode: process.env.MODE, pod: process.env.POD, ns: process.env.NS, file: fs.readFileSync(process.env.TOKEN_FILE, 'utf8') };",
      "http.createServer((q, r) => r.end(JSON.stringify(out))).listen(Number(process.env.PORT), '127.0.0.1');",
    ].join(" ");
    await world.admin.request("POST", `/apis/apps/v1/namespaces/${NS}/deployments`, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "env" },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "env" } },
        template: {
          metadata: { labels: { app: "env" } },
          spec: {
            volumes: [{ name: "creds", secret: { secretName: "creds" } }],
            containers: [
              {
                name: "main",
                image: "node:20",
                command: ["node", "-e", script],
                ports: [{ name: "http", containerPort: 8080 }],
                readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 1 },
                volumeMounts: [{ name: "creds", mountPath: "/etc/creds", readOnly: true }],
                env: [
                  { name: "PORT", value: "8080" },
                  { name: "TOKEN", valueFrom: { secretKeyRef: { name: "creds", key: "token" } } },
                  { name: "MODE", valueFrom: { configMapKeyRef: { name: "settings", key: "mode" } } },
                  { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                  { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                  { name: "TOKEN_FILE", value: "/etc/creds/token" },
                ],
              },
            ],
          },
        },
      },
    });
    const running = await eventually(async () => {
      const list = await world.admin.get<{ items: V1Pod[] }>(`/api/v1/namespaces/${NS}/pods?labelSelector=app%3Denv`);
      const p = list.items[0];
      expect(p?.spec?.nodeName).toBe("p2p-process-node");
      expect(p?.status?.phase).toBe("Running");
      expect(ready(p ?? null)).toBe("True");
      return p!;
    });
    const deployment = await eventually(async () => {
      const d = await world.admin.get<{ status?: { readyReplicas?: number } }>(`/apis/apps/v1/namespaces/${NS}/deployments/env`);
      expect(d.status?.readyReplicas).toBe(1);
      return d;
    });
    expect(deployment.status?.readyReplicas).toBe(1);
    // The container port 8080 is remapped to a free loopback port; the probe found it, and so
    // does the pod's log folder's process. Read what the process saw through the probe's port.
    const pid = Number(running.status?.containerStatuses?.[0]?.containerID?.replace("process://", ""));
    expect(pid).toBeGreaterThan(0);
    const environ = (await readFile(`/proc/${pid}/environ`, "utf8")).split("\0");
    const port = environ.find((e) => e.startsWith("PORT="))!.slice(5);
    const seen = (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as Record<string, string>;
    expect(seen).toEqual({ token: "s3cret", mode: "fast", pod: running.metadata?.name, ns: NS, file: "s3cret" });
    expect(port).not.toBe("8080");
  });

  it("is not Ready until its readiness probe passes", async () => {
    await createPod(
      "slow-ready",
      "setTimeout(() => require('http').createServer((q, r) => r.end('ok')).listen(Number(process.env.PORT), '127.0.0.1'), 3000)",
      {},
      { ports: [{ containerPort: 9000 }], env: [{ name: "PORT", value: "9000" }], readinessProbe: { tcpSocket: { port: 9000 }, periodSeconds: 1 } },
    );
    await eventually(async () => expect((await pod("slow-ready"))?.status?.phase).toBe("Running"));
    expect(ready(await pod("slow-ready"))).toBe("False");
    await eventually(async () => expect(ready(await pod("slow-ready"))).toBe("True"), 20_000);
  });

  it("records exit codes and restarts with back-off under restartPolicy Always", async () => {
    await createPod("crasher", "process.exit(3)");
    const crashed = await eventually(async () => {
      const p = await pod("crasher");
      const s = p?.status?.containerStatuses?.[0];
      expect(s?.restartCount).toBeGreaterThanOrEqual(1);
      expect(s?.lastState?.terminated?.exitCode).toBe(3);
      return s!;
    }, 30_000);
    expect(crashed.state?.waiting?.reason ?? "running").toMatch(/CrashLoopBackOff|running/);
  });

  it("reports Succeeded and Failed under restartPolicy Never", async () => {
    await createPod("done", "process.exit(0)", { restartPolicy: "Never" });
    await createPod("failed", "process.exit(7)", { restartPolicy: "Never" });
    await eventually(async () => expect((await pod("done"))?.status?.phase).toBe("Succeeded"));
    const failed = await eventually(async () => {
      const p = await pod("failed");
      expect(p?.status?.phase).toBe("Failed");
      return p;
    });
    expect(failed?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(7);
  });

  it("waits with CreateContainerConfigError while a referenced Secret is missing, and starts once it exists", async () => {
    await createPod("needs-secret", "setInterval(() => {}, 1000)", {}, { env: [{ name: "X", valueFrom: { secretKeyRef: { name: "later", key: "x" } } }] });
    await eventually(async () => expect((await pod("needs-secret"))?.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe("CreateContainerConfigError"));
    await world.admin.request("POST", `/api/v1/namespaces/${NS}/secrets`, { apiVersion: "v1", kind: "Secret", metadata: { name: "later" }, stringData: { x: "1" } });
    await eventually(async () => expect((await pod("needs-secret"))?.status?.phase).toBe("Running"));
  });

  it("on delete: SIGTERM, the grace period, then SIGKILL; the pod is gone only after the process is", async () => {
    // Ignores SIGTERM: only SIGKILL after terminationGracePeriodSeconds ends it. Ready (its port
    // open) only once the handler is installed, so the SIGTERM cannot arrive before it.
    await createPod(
      "stubborn",
      "process.on('SIGTERM', () => console.log('TERM')); require('net').createServer().listen(Number(process.env.PORT), '127.0.0.1')",
      { terminationGracePeriodSeconds: 3 },
      { ports: [{ containerPort: 7000 }], env: [{ name: "PORT", value: "7000" }], readinessProbe: { tcpSocket: { port: 7000 }, periodSeconds: 1 } },
    );
    const running = await eventually(async () => {
      const p = await pod("stubborn");
      expect(ready(p)).toBe("True");
      return p!;
    });
    const pid = Number(running.status?.containerStatuses?.[0]?.containerID?.replace("process://", ""));
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive()).toBe(true);
    const deletedAt = Date.now();
    await world.admin.request("DELETE", `/api/v1/namespaces/${NS}/pods/stubborn`);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(alive()).toBe(true);
    expect((await pod("stubborn"))?.metadata?.deletionTimestamp).toBeTruthy();
    await eventually(async () => expect(await pod("stubborn")).toBeNull(), 20_000);
    expect(alive()).toBe(false);
    expect(Date.now() - deletedAt).toBeGreaterThanOrEqual(3_000);
  });

  it("binds only the pods for the default scheduler, as kube-scheduler does: another schedulerName stays Pending and unbound", async () => {
    const script = "setInterval(() => {}, 1000)";
    await createPod("other-scheduler", script, { schedulerName: "p2p-bench-unscheduled" });
    await createPod("explicit-default", script, { schedulerName: "default-scheduler" });
    await createPod("unset-scheduler", script);
    // Both default pods are bound (the unset one is defaulted by the apiserver) and run ...
    await eventually(async () => {
      for (const name of ["explicit-default", "unset-scheduler"]) {
        const p = await pod(name);
        expect(p?.spec?.nodeName).toBe("p2p-process-node");
        expect(p?.status?.phase).toBe("Running");
      }
    });
    expect((await pod("unset-scheduler"))?.spec?.schedulerName).toBe("default-scheduler");
    // ... while the other, created first, is still not, a few seconds later.
    await new Promise((r) => setTimeout(r, 3_000));
    const other = await pod("other-scheduler");
    expect(other?.spec?.nodeName).toBeUndefined();
    expect(other?.status?.phase).toBe("Pending");
    expect(other?.status?.containerStatuses).toBeUndefined();
  });

  it("a pod whose container has no command waits with a reason that says why", async () => {
    await world.admin.request("POST", `/api/v1/namespaces/${NS}/pods`, { apiVersion: "v1", kind: "Pod", metadata: { name: "no-command" }, spec: { containers: [{ name: "main", image: "nginx" }] } });
    const waiting = await eventually(async () => {
      const w = (await pod("no-command"))?.status?.containerStatuses?.[0]?.state?.waiting;
      expect(w?.reason).toBe("CreateContainerConfigError");
      return w!;
    });
    expect(waiting.message).toMatch(/has no command/);
  });

  it("the node identity may not read a Secret no pod of it uses (Node authorizer)", async () => {
    const info = controlPlane();
    const node = new RestClient({ server: info.server, ca: info.caCert, cert: join(info.dir, "pki/node.crt"), key: join(info.dir, "pki/node.key") });
    try {
      await world.admin.request("POST", `/api/v1/namespaces/${NS}/secrets`, { apiVersion: "v1", kind: "Secret", metadata: { name: "unused" }, stringData: { a: "b" } });
      const err = await node.get(`/api/v1/namespaces/${NS}/secrets/unused`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeStatusError);
      expect((err as KubeStatusError).code).toBe(403);
    } finally {
      node.close();
    }
  });
});
