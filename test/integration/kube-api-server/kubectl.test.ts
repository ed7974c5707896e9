// Real kubectl 1.33 against the test server, with the project's own CRD and example:
// apply (OpenAPI download, field validation, client-side apply), get with printer
// columns, scale, delete waiting on finalizers, and schema errors as kubectl shows them.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AppsV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubeApiServer } from "../../support/kube-api-server/index.js";
import type { KubeApiServer } from "../../support/kube-api-server/index.js";
import { eventually } from "./helpers.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const KUBECTL = join(root, ".tools/bin/kubectl");
const CRDS = join(root, "crds");
const CRD_FILE = join(CRDS, "pointtopointchannels.messaging.p2p.dev.yaml");
const CHANNEL = join(root, "examples/immunisation/channel.yaml");
const P2PC = { group: "messaging.p2p.dev", version: "v1alpha1", plural: "pointtopointchannels", namespace: "default" };

let server: KubeApiServer;
let work: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kubectl(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(KUBECTL, ["--kubeconfig", server.kubeconfigPath, "--cache-dir", join(work, "cache"), ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function kubectlOk(...args: string[]): Promise<string> {
  const run = await kubectl(...args);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return run.stdout;
}

/** The rows of `kubectl get` output as maps from column header to cell. */
function table(output: string): Record<string, string>[] {
  const [header = "", ...lines] = output.trimEnd().split("\n");
  const starts = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ name: m[0], at: m.index ?? 0 }));
  return lines.map((line) =>
    Object.fromEntries(starts.map((col, i) => [col.name, line.slice(col.at, starts[i + 1]?.at ?? line.length).trim()])),
  );
}

function deploymentYaml(name: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
        - name: consumer
          image: ghcr.io/p2p-operator/consumer-template:0.1.0
          env: [{name: A, value: "1"}]
`;
}

beforeAll(async () => {
  if (!existsSync(KUBECTL)) throw new Error(`kubectl not found at ${KUBECTL}: run bash scripts/ensure-tools.sh`);
  server = await startKubeApiServer({ deploymentReadyDelayMs: 20 });
  work = mkdtempSync(join(tmpdir(), "kubectl-test-"));
});
afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("kubectl", () => {
  it("applies the CRDs and the immunisation channel, with defaults from the schema", async () => {
    expect(await kubectlOk("apply", "-f", CRDS)).toBe("customresourcedefinition.apiextensions.k8s.io/pointtopointchannels.messaging.p2p.dev created\n");
    await kubectlOk("wait", "--for", "condition=Established", "--timeout", "10s", "crd/pointtopointchannels.messaging.p2p.dev");
    expect(await kubectlOk("apply", "-f", CHANNEL)).toBe("pointtopointchannel.messaging.p2p.dev/immunisation-register created\n");
    expect(await kubectlOk("apply", "-f", CHANNEL)).toBe("pointtopointchannel.messaging.p2p.dev/immunisation-register unchanged\n");
    expect(await kubectlOk("apply", "-f", CRDS)).toBe("customresourcedefinition.apiextensions.k8s.io/pointtopointchannels.messaging.p2p.dev unchanged\n");

    const channel = JSON.parse(await kubectlOk("get", "p2pc", "immunisation-register", "-o", "json")) as {
      metadata: { generation: number; annotations: Record<string, string> };
      spec: { stream: { storage: string }; scaling: { minReplicas: number; maxReplicas: number } };
    };
    expect(channel.metadata.generation).toBe(1);
    expect(channel.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]).toContain("immunisation.administered");
    expect(channel.spec.stream.storage).toBe("file");
    expect(channel.spec.scaling).toMatchObject({ minReplicas: 1, maxReplicas: 8 });
  });

  it("shows the printer columns in kubectl get, by short name and by category", async () => {
    const custom = server.kubeConfig().makeApiClient(CustomObjectsApi);
    await custom.patchNamespacedCustomObjectStatus(
      {
        ...P2PC,
        name: "immunisation-register",
        body: {
          status: {
            stream: { name: "default_immunisation-register" },
            target: "Deployment/immunisation-register-consumer",
            replicas: 3,
            lag: 42,
            conditions: [{ type: "Ready", status: "True", reason: "Reconciled", message: "ok", lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z") }],
          },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const rows = table(await kubectlOk("get", "p2pc"));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      NAME: "immunisation-register",
      STREAM: "default_immunisation-register",
      TARGET: "Deployment/immunisation-register-consumer",
      MIN: "1",
      MAX: "8",
      REPLICAS: "3",
      LAG: "42",
      READY: "True",
    });
    expect(rows[0]?.["AGE"]).toMatch(/^\d+s$/);
    expect(table(await kubectlOk("get", "messaging")).map((r) => r["NAME"])).toEqual(["immunisation-register"]);
  });

  it("gets and scales a Deployment", async () => {
    const file = join(work, "deployment.yaml");
    writeFileSync(file, deploymentYaml("immunisation-register"));
    expect(await kubectlOk("apply", "-f", file)).toBe("deployment.apps/immunisation-register created\n");
    await eventually(async () => {
      expect(table(await kubectlOk("get", "deploy"))[0]).toMatchObject({ NAME: "immunisation-register", READY: "1/1", "UP-TO-DATE": "1", AVAILABLE: "1" });
    });
    expect(await kubectlOk("scale", "deploy/immunisation-register", "--replicas", "3")).toBe("deployment.apps/immunisation-register scaled\n");
    const apps = server.kubeConfig().makeApiClient(AppsV1Api);
    const scaled = await apps.readNamespacedDeployment({ name: "immunisation-register", namespace: "default" });
    expect(scaled.spec?.replicas).toBe(3);
    await eventually(async () => {
      expect(table(await kubectlOk("get", "deploy", "immunisation-register"))[0]?.["READY"]).toBe("3/3");
    });
    // Re-applying a changed manifest goes through kubectl's strategic merge patch.
    writeFileSync(file, deploymentYaml("immunisation-register").replace('value: "1"', 'value: "2"'));
    expect(await kubectlOk("apply", "-f", file)).toBe("deployment.apps/immunisation-register configured\n");
    const reapplied = await apps.readNamespacedDeployment({ name: "immunisation-register", namespace: "default" });
    expect(reapplied.spec?.template.spec?.containers[0]?.env).toEqual([{ name: "A", value: "2" }]);
    expect(reapplied.metadata?.generation).toBe(3);
  });

  it("rejects an invalid channel with the schema's messages and field paths", async () => {
    const crd = parse(readFileSync(CRD_FILE, "utf8")) as {
      spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, { properties: Record<string, { maximum?: number }>; "x-kubernetes-validations": { rule: string; message: string }[] }> } } } } }[] };
    };
    const spec = crd.spec.versions[0]?.schema.openAPIV3Schema.properties.spec.properties ?? {};
    const minMaxRule = spec["scaling"]?.["x-kubernetes-validations"].find((r) => r.rule.includes("minReplicas <= self.maxReplicas"));
    const maxStreamReplicas = spec["stream"]?.properties["replicas"]?.maximum;
    expect(minMaxRule?.message).toBeTruthy();
    expect(maxStreamReplicas).toBeTypeOf("number");

    const file = join(work, "invalid.yaml");
    writeFileSync(
      file,
      `apiVersion: messaging.p2p.dev/v1alpha1
kind: PointToPointChannel
metadata:
  name: invalid
spec:
  subjects: [orders.created]
  stream: {replicas: ${(maxStreamReplicas ?? 5) + 2}}
  workload:
    scaleTargetRef: {name: orders-consumer}
  scaling: {minReplicas: 5, maxReplicas: 2}
`,
    );
    const run = await kubectl("apply", "-f", file);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('The PointToPointChannel "invalid" is invalid');
    expect(run.stderr).toContain(`spec.scaling.minReplicas: Invalid value: "object": ${minMaxRule?.message}`);
    expect(run.stderr).toContain(`spec.stream.replicas: Invalid value: ${(maxStreamReplicas ?? 5) + 2}: spec.stream.replicas in body should be less than or equal to ${maxStreamReplicas}`);

    writeFileSync(file, readFileSync(file, "utf8").replace("scaling: {minReplicas: 5, maxReplicas: 2}", "scaling: {minReplicas: 1, maxReplicas: 2}\n  surprise: true").replace(/replicas: \d+}/, "replicas: 1}"));
    const unknown = await kubectl("apply", "-f", file);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('strict decoding error: unknown field "spec.surprise"');
    expect((await kubectl("get", "p2pc", "invalid")).stderr).toContain('pointtopointchannels.messaging.p2p.dev "invalid" not found');
  });

  it("waits in kubectl delete until the finalizer is removed", async () => {
    const custom = server.kubeConfig().makeApiClient(CustomObjectsApi);
    await custom.patchNamespacedCustomObject(
      { ...P2PC, name: "immunisation-register", body: { metadata: { finalizers: ["messaging.p2p.dev/finalizer"] } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const child = spawn(KUBECTL, ["--kubeconfig", server.kubeconfigPath, "--cache-dir", join(work, "cache"), "delete", "p2pc", "immunisation-register", "--timeout", "20s"]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));
    let done = false;
    void exited.then(() => (done = true));

    const deleting = await eventually(async () => {
      const obj = (await custom.getNamespacedCustomObject({ ...P2PC, name: "immunisation-register" })) as { metadata: { deletionTimestamp?: string } };
      expect(obj.metadata.deletionTimestamp).toBeTruthy();
      return obj;
    });
    expect(deleting.metadata.deletionTimestamp).toBeTruthy();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(done).toBe(false);

    await custom.patchNamespacedCustomObject(
      { ...P2PC, name: "immunisation-register", body: [{ op: "remove", path: "/metadata/finalizers" }] },
      setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
    );
    expect(await exited).toBe(0);
    expect(stderr).toBe("");
    expect(stdout).toBe('pointtopointchannel.messaging.p2p.dev "immunisation-register" deleted\n');
    expect((await kubectl("get", "p2pc")).stderr).toContain("No resources found in default namespace.");
  });
});

describe("npm run kube-test-server", () => {
  it("starts the server, writes a kubeconfig kubectl can use, prints the URL and stops on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kube-test-server-"));
    const kubeconfig = join(dir, "kubeconfig");
    const child = spawn("npm", ["run", "--silent", "kube-test-server", "--", "--port", "0", "--kubeconfig", kubeconfig, "--crds", CRDS], {
      cwd: root,
      detached: true,
    });
    try {
      let stdout = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      const url = await eventually(() => {
        const m = /http:\/\/127\.0\.0\.1:\d+/.exec(stdout);
        if (!m) throw new Error(`no URL yet: ${stdout}`);
        return m[0];
      }, 20_000);
      expect(readFileSync(kubeconfig, "utf8")).toContain(`server: ${url}`);
      const run = await new Promise<Run>((resolve) =>
        execFile(KUBECTL, ["--kubeconfig", kubeconfig, "--cache-dir", join(dir, "cache"), "get", "crd", "-o", "name"], (err, out, errOut) =>
          resolve({ code: err ? 1 : 0, stdout: out, stderr: errOut }),
        ),
      );
      expect(run).toEqual({ code: 0, stdout: "customresourcedefinition.apiextensions.k8s.io/pointtopointchannels.messaging.p2p.dev\n", stderr: "" });
    } finally {
      const exited = new Promise((resolve) => child.on("exit", resolve));
      if (child.pid) process.kill(-child.pid, "SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
