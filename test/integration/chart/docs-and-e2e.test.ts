// What users copy and what the e2e suite applies, checked where no cluster runs: the
// documented `helm install` line renders, and the e2e manifests are valid Kubernetes
// objects whose pods pass Pod Security "restricted" (run.sh enforces it in the cluster).
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { repoRoot, runTool } from "./helm.js";
import { validateBuiltin, validateMetadata } from "./k8s-schema.js";

type Obj = Record<string, unknown>;

const INSTALL_LINE =
  "helm install p2p-operator charts/p2p-operator -n p2p-system --create-namespace --set nats.url=nats://nats.nats:4222";

/** Every `helm install` command in a Markdown file's code blocks, continuation lines joined. */
function helmInstalls(file: string): string[] {
  const text = readFileSync(join(repoRoot, file), "utf8").replace(/\\\n\s*/g, "");
  return [...text.matchAll(/^(helm install [^\n#]+?)\s*(#.*)?$/gm)].map((m) => m[1]!.trim());
}

describe("the documented install", () => {
  it("docs/helm.md gives the plain helm install line", () => {
    expect(helmInstalls("docs/helm.md")).toContain(INSTALL_LINE);
  });

  it.each(["README.md", "docs/helm.md"])("every helm install in %s renders, naming the operator Deployment p2p-operator", async (file) => {
    const installs = helmInstalls(file);
    expect(installs.length).toBeGreaterThan(0);
    for (const install of installs) {
      // install -> template: the same rendering, no cluster needed.
      const args = install.split(/\s+/).slice(1).filter((a) => a !== "--create-namespace");
      args[0] = "template";
      const result = await runTool("helm", args);
      expect(result.stderr, install).toBe("");
      expect(result.code, install).toBe(0);
      // NOTES.txt, the e2e suite and the README refer to deployment/p2p-operator.
      expect(result.stdout).toMatch(/^kind: Deployment\nmetadata:\n {2}name: p2p-operator\n {2}namespace: p2p-system$/m);
      expect(result.stdout).toContain("- --nats-url=nats://nats.nats:4222");
    }
  });
});

/** The Pod Security Standards "restricted" profile (v1.27+), as admission checks it. */
function restrictedViolations(spec: Obj): string[] {
  const out: string[] = [];
  const podSc = (spec["securityContext"] as Obj | undefined) ?? {};
  for (const flag of ["hostNetwork", "hostPID", "hostIPC"]) if (spec[flag] === true) out.push(`${flag} is set`);
  for (const v of (spec["volumes"] as Obj[] | undefined) ?? []) {
    const allowed = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];
    const kind = Object.keys(v).find((k) => k !== "name");
    if (kind && !allowed.includes(kind)) out.push(`volume ${String(v["name"])} is ${kind}`);
  }
  const containers = [...((spec["initContainers"] as Obj[] | undefined) ?? []), ...((spec["containers"] as Obj[] | undefined) ?? [])];
  for (const c of containers) {
    const sc = (c["securityContext"] as Obj | undefined) ?? {};
    const name = String(c["name"]);
    if (sc["privileged"] === true) out.push(`${name}: privileged`);
    if (sc["allowPrivilegeEscalation"] !== false) out.push(`${name}: allowPrivilegeEscalation must be false`);
    const runAsNonRoot = sc["runAsNonRoot"] ?? podSc["runAsNonRoot"];
    if (runAsNonRoot !== true) out.push(`${name}: runAsNonRoot must be true`);
    if ((sc["runAsUser"] ?? podSc["runAsUser"]) === 0) out.push(`${name}: runAsUser 0`);
    const seccomp = ((sc["seccompProfile"] ?? podSc["seccompProfile"]) as Obj | undefined)?.["type"];
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") out.push(`${name}: seccompProfile must be RuntimeDefault or Localhost`);
    const caps = (sc["capabilities"] as Obj | undefined) ?? {};
    if (!((caps["drop"] as string[] | undefined) ?? []).includes("ALL")) out.push(`${name}: capabilities must drop ALL`);
    const added = ((caps["add"] as string[] | undefined) ?? []).filter((a) => a !== "NET_BIND_SERVICE");
    if (added.length) out.push(`${name}: adds ${added.join(", ")}`);
    for (const p of (c["ports"] as Obj[] | undefined) ?? []) if (p["hostPort"]) out.push(`${name}: hostPort`);
  }
  return out;
}

function manifests(path: string, replacements: Record<string, string> = {}): Obj[] {
  let text = readFileSync(join(repoRoot, path), "utf8");
  for (const [from, to] of Object.entries(replacements)) text = text.replaceAll(from, to);
  return parseAllDocuments(text, { version: "1.1" }).map((d) => d.toJS() as Obj);
}

describe.each([
  ["test/e2e/manifests/nats.yaml", {}],
  [
    "test/e2e/manifests/publish-job.yaml",
    {
      __OPERATOR_IMAGE__: "ghcr.io/p2p-operator/p2p-operator:0.1.0",
      __COUNT__: "5000",
      __NATS_URL__: "nats://nats.nats:4222",
      __ID_PREFIX__: "e2e-1-",
    },
  ],
] as const)("%s", (path, replacements) => {
  const objects = manifests(path, replacements);

  it("holds valid Kubernetes objects", () => {
    expect(objects.length).toBeGreaterThan(0);
    const problems = objects.flatMap((o) => [...validateBuiltin(o), ...validateMetadata(o as never)].map((e) => `${String(o["kind"])}: ${e}`));
    expect(problems).toEqual([]);
    expect(JSON.stringify(objects)).not.toContain("__");
  });

  it("runs its pods under Pod Security restricted", () => {
    const pods = objects.filter((o) => (o["spec"] as Obj | undefined)?.["template"]);
    expect(pods.length).toBeGreaterThan(0);
    for (const o of pods) {
      const spec = ((o["spec"] as Obj)["template"] as Obj)["spec"] as Obj;
      expect(restrictedViolations(spec), `${String(o["kind"])}`).toEqual([]);
    }
  });
});

describe("Pod Security restricted, as the e2e manifests are checked", () => {
  it("flags a pod that runs as root with the default seccomp and capabilities", () => {
    const violations = restrictedViolations({ containers: [{ name: "c", image: "i", securityContext: { runAsUser: 0 } }] });
    expect(violations).toEqual([
      "c: allowPrivilegeEscalation must be false",
      "c: runAsNonRoot must be true",
      "c: runAsUser 0",
      "c: seccompProfile must be RuntimeDefault or Localhost",
      "c: capabilities must drop ALL",
    ]);
  });
});

describe("the schema validator the chart tests rely on", () => {
  it("rejects unknown fields, wrong types and missing required fields, with their paths", () => {
    const errors = validateBuiltin({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "x" },
      spec: {
        replicas: "2",
        selector: {},
        template: { spec: { containers: [{ image: 1, securityContext: { runAsNonroot: true } }] } },
      },
    });
    expect(errors).toEqual([
      "Deployment.spec.replicas: expected int32, got string",
      "Deployment.spec.template.spec.containers[0].name: Required value",
      "Deployment.spec.template.spec.containers[0].image: expected string, got number",
      'Deployment.spec.template.spec.containers[0].securityContext: unknown field "runAsNonroot" (V1SecurityContext)',
    ]);
  });

  it("knows the apiVersion each kind lives in", () => {
    expect(() => validateBuiltin({ apiVersion: "extensions/v1beta1", kind: "Deployment" })).toThrow(/not a built-in kind/);
    expect(validateBuiltin({ apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "p" }, spec: { maxUnavailable: "50%" } })).toEqual([]);
  });
});

describe("npm run test:e2e where no cluster can run", () => {
  /** Runs test/e2e/run.sh with a PATH holding only a stand-in docker (or none). */
  async function runE2e(docker: "missing" | "engine down", env: Record<string, string> = {}) {
    const bin = mkdtempSync(join(tmpdir(), "e2e-path-"));
    try {
      if (docker === "engine down") {
        writeFileSync(join(bin, "docker"), "#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n");
        chmodSync(join(bin, "docker"), 0o755);
      }
      return await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile("/bin/bash", ["test/e2e/run.sh"], { cwd: repoRoot, env: { PATH: `${bin}:/usr/bin:/bin`, ...env } }, (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  }

  it("skips with a clear message and exit 0 when docker is not installed", async () => {
    const result = await runE2e("missing");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("e2e: skipped: docker is not installed");
  });

  it("skips with a clear message and exit 0 when the Docker engine is unreachable", async () => {
    const result = await runE2e("engine down");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("e2e: skipped: the Docker engine is unreachable");
    expect(result.stdout).not.toMatch(/passed/);
  });

  it("fails instead with E2E_REQUIRE=1, as CI sets it", async () => {
    const result = await runE2e("engine down", { E2E_REQUIRE: "1" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("e2e: FAILED: the Docker engine is unreachable");
  });
});
