// `npm run cluster -- --kubeconfig FILE` as a user runs it: one line once the apiserver is
// ready, a kubeconfig that kubectl can use (the node Ready, a Deployment's pod running as a
// process), and on SIGTERM everything stops: no control-plane or pod process is left behind.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { eventually } from "../operator/support.js";
import { controlPlane } from "../support/kube-world.js";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "../../..");

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function childrenOf(pid: number): Promise<number[]> {
  const { stdout } = await run("ps", ["-o", "pid=", "--ppid", String(pid)]).catch(() => ({ stdout: "" }));
  return stdout.split("\n").map((l) => Number(l.trim())).filter((n) => n > 0);
}

describe("npm run cluster", () => {
  it("prints one ready line, serves kubectl, and leaves no process behind on SIGTERM", async () => {
    const kubectl = controlPlane().kubectl;
    const dir = await mkdtemp(join(tmpdir(), "p2p-cluster-cmd-"));
    const kubeconfig = join(dir, "kubeconfig");
    const main = spawn(process.execPath, ["--import", "tsx", join(ROOT, "test/support/control-plane/main.ts"), "--kubeconfig", kubeconfig, "--quiet"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    main.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => main.once("exit", (code) => resolve(code)));
    try {
      await eventually(() => expect(stdout).toMatch(/^cluster: ready at https:\/\/127\.0\.0\.1:\d+; admin kubeconfig in /), 120_000, 250);
      expect(stdout.trim().split("\n")).toHaveLength(1);
      const env = { ...process.env, KUBECONFIG: kubeconfig };
      const nodes = await run(kubectl, ["get", "nodes", "--no-headers"], { env });
      expect(nodes.stdout).toMatch(/^p2p-process-node\s+Ready\s/);
      await run(kubectl, ["create", "deployment", "sleeper", "--image=busybox", "--", "sleep", "infinity"], { env });
      const podPid = await eventually(async () => {
        const { stdout: id } = await run(kubectl, ["get", "pods", "-l", "app=sleeper", "-o", "jsonpath={.items[0].status.containerStatuses[0].containerID}"], { env });
        expect(id).toMatch(/^process:\/\/\d+$/);
        return Number(id.replace("process://", ""));
      }, 60_000);
      const components = await childrenOf(main.pid!);
      expect(components.length).toBeGreaterThanOrEqual(3); // etcd, kube-apiserver, kube-controller-manager (+ pods)
      const names = await Promise.all(components.map((pid) => readFile(`/proc/${pid}/comm`, "utf8").then((c) => c.trim(), () => "")));
      expect(names).toEqual(expect.arrayContaining(["etcd", "kube-apiserver", "kube-controller"]));

      main.kill("SIGTERM");
      expect(await exited).toBe(0);
      // Reparented children may take a moment to be reaped; anything still there after that leaked.
      await eventually(async () => {
        const left = [...components, podPid].filter(alive);
        const what = await Promise.all(left.map((pid) => readFile(`/proc/${pid}/status`, "utf8").then((t) => t.split("\n").slice(0, 3).join(" "), () => "gone")));
        expect(what, `still running after the command exited: ${left.join(", ")}`).toEqual([]);
      }, 5_000);
    } finally {
      if (main.exitCode === null) main.kill("SIGKILL");
    }
  }, 180_000);
});
