import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KubeConfigError, loadKubeClientConfig } from "../../../operator/src/kube/kubeconfig.js";

// Exec credential plugins as kubectl runs them: a real plugin script that prints an
// ExecCredential, and what the operator makes of its answer and of bad kubeconfigs.

const NOWHERE = { env: {}, home: "/nonexistent-home", serviceAccountDir: "/nonexistent-sa" };
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "p2p-exec-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A plugin that logs each run's KUBERNETES_EXEC_INFO and answers with `answer` (token-<run>). */
function plugin(answer: (run: number, info: string) => unknown): string {
  const path = join(dir, "plugin.mjs");
  const log = join(dir, "runs.log");
  writeFileSync(
    path,
    `#!/usr/bin/env node
import { appendFileSync, existsSync, readFileSync } from "node:fs";
const runs = existsSync(${JSON.stringify(log)}) ? readFileSync(${JSON.stringify(log)}, "utf8").split("\\n").filter(Boolean).length : 0;
appendFileSync(${JSON.stringify(log)}, process.env.KUBERNETES_EXEC_INFO + "\\n");
const answer = (${answer.toString()})(runs + 1, process.env.KUBERNETES_EXEC_INFO);
process.stdout.write(typeof answer === "string" ? answer : JSON.stringify(answer));
`,
  );
  chmodSync(path, 0o755);
  return path;
}

const runs = () => readFileSync(join(dir, "runs.log"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { apiVersion: string; spec: Record<string, unknown> });

function kubeconfig(exec: Record<string, unknown>): string {
  const path = join(dir, "config");
  writeFileSync(
    path,
    JSON.stringify({
      "current-context": "x",
      clusters: [{ name: "c", cluster: { server: "https://cluster.example:6443", "certificate-authority-data": Buffer.from("CA").toString("base64") } }],
      users: [{ name: "u", user: { exec } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    }),
  );
  return path;
}

describe("exec credential plugins", () => {
  it.each(["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"])(
    "%s: uses the plugin's token until its expirationTimestamp, then runs the plugin again",
    async (apiVersion) => {
      const command = plugin((run) => ({
        apiVersion: "client.authentication.k8s.io/" + (process.env.P2P_EXEC_VERSION ?? ""),
        kind: "ExecCredential",
        status: { token: `token-${run}`, expirationTimestamp: "2030-01-01T00:01:00Z" },
      }));
      let nowMs = Date.parse("2030-01-01T00:00:00Z");
      const c = loadKubeClientConfig({
        ...NOWHERE,
        kubeconfig: kubeconfig({ apiVersion, command, interactiveMode: "Never", provideClusterInfo: true, env: [{ name: "P2P_EXEC_VERSION", value: apiVersion.split("/")[1] }] }),
        now: () => nowMs,
      });
      expect(await c.headers()).toEqual({ Authorization: "Bearer token-1" });
      nowMs += 59_000;
      expect(await c.headers()).toEqual({ Authorization: "Bearer token-1" });
      nowMs += 1_000;
      expect(await c.headers()).toEqual({ Authorization: "Bearer token-2" });
      const [first] = runs();
      expect(first).toEqual({
        apiVersion,
        kind: "ExecCredential",
        spec: { interactive: false, cluster: { server: "https://cluster.example:6443", "certificate-authority-data": Buffer.from("CA").toString("base64") } },
      });
    },
  );

  it("runs the plugin again after the server refused its token (401), and once for concurrent requests", async () => {
    const command = plugin((run) => ({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { token: `token-${run}` } }));
    const c = loadKubeClientConfig({ ...NOWHERE, kubeconfig: kubeconfig({ apiVersion: "client.authentication.k8s.io/v1", command, interactiveMode: "IfAvailable" }) });
    const all = await Promise.all([c.headers(), c.headers(), c.headers()]);
    expect(all.map((h) => h.Authorization)).toEqual(["Bearer token-1", "Bearer token-1", "Bearer token-1"]);
    expect(await c.headers()).toEqual({ Authorization: "Bearer token-1" });
    c.rejected?.();
    expect(await c.headers()).toEqual({ Authorization: "Bearer token-2" });
    expect(runs()).toHaveLength(2);
    expect(runs()[0]!.spec).toEqual({ interactive: false });
  });

  it.each([
    ["no apiVersion", { command: "aws" }, /exec\.apiVersion is null: set client\.authentication\.k8s\.io\/v1 or client\.authentication\.k8s\.io\/v1beta1/],
    ["an old apiVersion", { apiVersion: "client.authentication.k8s.io/v1alpha1", command: "aws" }, /exec\.apiVersion is "client\.authentication\.k8s\.io\/v1alpha1"/],
    ["no command", { apiVersion: "client.authentication.k8s.io/v1" }, /exec\.command is missing/],
    ["interactiveMode Always", { apiVersion: "client.authentication.k8s.io/v1", command: "aws", interactiveMode: "Always" }, /exec\.interactiveMode is Always.*use IfAvailable or Never/],
    ["args that are not strings", { apiVersion: "client.authentication.k8s.io/v1", command: "aws", args: [1] }, /exec\.args must be a list of strings/],
  ])("refuses a kubeconfig with %s, naming the field", (_name, exec, message) => {
    expect(() => loadKubeClientConfig({ ...NOWHERE, kubeconfig: kubeconfig(exec) })).toThrow(message);
    expect(() => loadKubeClientConfig({ ...NOWHERE, kubeconfig: kubeconfig(exec) })).toThrow(KubeConfigError);
  });

  it.each([
    ["prints something else", () => "not json", /printed no ExecCredential JSON/],
    ["answers in another apiVersion", () => ({ apiVersion: "client.authentication.k8s.io/v1beta1", kind: "ExecCredential", status: { token: "t" } }), /not an ExecCredential of client\.authentication\.k8s\.io\/v1/],
    ["returns a client certificate", () => ({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { clientCertificateData: "C", clientKeyData: "K" } }), /returned a client certificate.*use a plugin that returns a token/],
    ["returns a bad expiry", () => ({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { token: "t", expirationTimestamp: "soon" } }), /expirationTimestamp "soon", which is not an RFC 3339 time/],
  ])("fails the request when the plugin %s", async (_name, answer, message) => {
    const command = plugin(answer);
    const c = loadKubeClientConfig({ ...NOWHERE, kubeconfig: kubeconfig({ apiVersion: "client.authentication.k8s.io/v1", command, interactiveMode: "Never" }) });
    await expect(c.headers()).rejects.toThrow(message);
  });

  it("names the install hint when the plugin is not installed", async () => {
    const c = loadKubeClientConfig({
      ...NOWHERE,
      kubeconfig: kubeconfig({ apiVersion: "client.authentication.k8s.io/v1", command: "p2p-no-such-plugin", interactiveMode: "Never", installHint: "install it with: brew install p2p-plugin" }),
    });
    await expect(c.headers()).rejects.toThrow(/exec plugin p2p-no-such-plugin not found: install it with: brew install p2p-plugin/);
  });
});
