// The rendered chart applied with the real kubectl to a real kube-apiserver of its own (this
// file installs cluster-scoped objects: the CRD, ClusterRoles), with strict field validation:
// kubectl's own parsing, mapping and 3-way apply, and the server's admission of every object
// (built-in schemas, the CRD's structural schema, CEL rules and their cost). Then the next
// step NOTES.txt gives: apply the immunisation example and list it with `kubectl get p2pc`.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ControlPlane } from "../../support/control-plane/index.js";
import { RELEASE_NAMESPACE, VALUE_SETS, helmTemplate, repoRoot, type KubeManifest, type RenderedDoc } from "./helm.js";

const namespaces = [RELEASE_NAMESPACE, ...new Set(Object.values(VALUE_SETS).flatMap((v) => (v["watchNamespaces"] as string[] | undefined) ?? []))];
const plane = await ControlPlane.start({ node: false });
afterAll(() => plane.stop());
for (const ns of [...namespaces, "immunisation"]) await plane.createNamespace(ns);

function kubectl(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(plane.binaries.kubectl, [...args, "--kubeconfig", plane.kubeconfigPath], { cwd: repoRoot });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}

// prometheus-operator's ServiceMonitor CRD is not ours to ship: a stand-in of it, so that the
// chart's ServiceMonitor has a server to be admitted by.
expect((await kubectl(["apply", "--server-side", "-f", join(import.meta.dirname, "fixtures/servicemonitor-crd.yaml")])).code).toBe(0);
expect((await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd/servicemonitors.monitoring.coreos.com"])).code).toBe(0);

/** What the server serves, from discovery, as "apiVersion Kind". */
const discovery = await kubectl(["api-resources", "--no-headers", "-o", "wide"]);
const served = new Set(
  discovery.stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      // NAME [SHORTNAMES] APIVERSION NAMESPACED KIND VERBS...: find APIVERSION by its shape.
      const cols = line.trim().split(/\s+/);
      const i = cols.findIndex((c, idx) => idx > 0 && (c === "true" || c === "false"));
      return `${cols[i - 1]} ${cols[i + 1]}`;
    }),
);
const isServed = (m: KubeManifest) => served.has(`${m.apiVersion} ${m.kind}`);

/** The documents as helm wrote them: kubectl parses the very bytes a user would apply. */
const toYamlStream = (docs: RenderedDoc[]) => docs.map((d) => `---\n${d.text}`).join("");

describe.each(Object.entries(VALUE_SETS))("the chart rendered with %s, applied with kubectl", async (_name, values) => {
  const docs = await helmTemplate(values);
  const applicable = docs.filter((d) => isServed(d.object));
  const unserved = [...new Set(docs.filter((d) => !isServed(d.object)).map((d) => `${d.object.apiVersion} ${d.object.kind}`))];

  it("is accepted by the API server, and applying it again changes nothing", async () => {
    expect(unserved).toEqual([]);
    expect(applicable.length).toBeGreaterThan(0);
    const first = await kubectl(["apply", "--validate=strict", "-f", "-"], toYamlStream(applicable));
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split("\n");
    expect(lines).toHaveLength(applicable.length);
    expect(lines.filter((l) => !/ (created|configured|unchanged)$/.test(l))).toEqual([]);

    // What an apply could change: the generation where the object has one (a controller may
    // write its status meanwhile, as the disruption and deployment controllers do), else the
    // resourceVersion.
    const stored = async () => {
      const out: Record<string, { version: string; labels: Record<string, string> }> = {};
      for (const { object } of applicable) {
        const ns = object.metadata.namespace ? ["-n", object.metadata.namespace] : [];
        const group = object.apiVersion.includes("/") ? `.${object.apiVersion.split("/")[0]!}` : "";
        const got = await kubectl(["get", `${object.kind}${group}`, object.metadata.name, ...ns, "-o", "json"]);
        expect(got.code, `${object.kind}/${object.metadata.name}: ${got.stderr}`).toBe(0);
        const live = JSON.parse(got.stdout) as KubeManifest & { metadata: { resourceVersion: string; generation?: number } };
        out[`${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`] = {
          version: live.metadata.generation === undefined ? `rv ${live.metadata.resourceVersion}` : `generation ${live.metadata.generation}`,
          labels: live.metadata.labels ?? {},
        };
      }
      return out;
    };
    const before = await stored();
    for (const { object } of applicable) {
      expect(before[`${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`]?.labels).toMatchObject(object.metadata.labels ?? {});
    }

    // kubectl may still send a patch (a PodDisruptionBudget's selector has patch strategy
    // "replace", so its patch is never empty), but no object may change.
    const second = await kubectl(["apply", "--validate=strict", "-f", "-"], toYamlStream(applicable));
    expect(second.code).toBe(0);
    expect(await stored()).toEqual(before);
    const diff = await kubectl(["diff", "-f", "-"], toYamlStream(applicable));
    expect(diff.stdout).toBe("");
    expect(diff.code).toBe(0);
  });

});

describe("after the chart: the next step in NOTES.txt", () => {
  it("applies the immunisation example and lists it with kubectl get p2pc", async () => {
    const crd = (await helmTemplate()).filter((d) => d.object.kind === "CustomResourceDefinition");
    expect((await kubectl(["apply", "-f", "-"], toYamlStream(crd))).code).toBe(0);
    const applied = await kubectl(["apply", "-n", "immunisation", "-f", join(repoRoot, "examples/immunisation/channel.yaml")]);
    expect(applied.stderr).toBe("");
    expect(applied.stdout.trim()).toBe("pointtopointchannel.messaging.p2p.dev/immunisation-register created");
    const listed = await kubectl(["get", "p2pc", "-n", "immunisation"]);
    expect(listed.code).toBe(0);
    const [header, row] = listed.stdout.trim().split("\n");
    expect(header!.split(/\s+/)).toEqual(["NAME", "STREAM", "TARGET", "MIN", "MAX", "REPLICAS", "LAG", "READY", "AGE"]);
    expect(row).toMatch(/^immunisation-register\s/);
  });
});
