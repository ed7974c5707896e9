// The local Kubernetes control plane (`npm run cluster`: test/support/control-plane/main.ts)
// as a child process, for the scripts that drive it (`npm run demo:kubernetes`,
// bench/operator-scale): its ready line, the cluster.json it writes into its state folder,
// `kubectl proxy` for plain-HTTP admin access, and kubeconfigs on a ServiceAccount's token.
import { spawn as spawnProcess } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const defaultSpawn = (command, args, options) => spawnProcess(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });

/**
 * Starts the control plane with its state in `dir` and resolves once it is ready, with
 * `info` = {server, kubeconfig (admin), kubectl, dir, pids: {etcd, kube-apiserver, ...}}.
 * `spawn(command, args, options)` lets a caller track the child (default: child_process.spawn);
 * its stdout and stderr must be pipes. `onLog` gets the cluster's progress lines (process node
 * included: "node: pod NS/NAME exited with 0").
 */
export async function startLocalCluster({ dir, spawn = defaultSpawn, onLog = () => {}, timeoutMs = 180_000 }) {
  // Pods run from INIT_CWD: the repository root, wherever npm was started.
  const child = spawn(process.execPath, ["--import", "tsx", "test/support/control-plane/main.ts", "--kubeconfig", join(dir, "kubeconfig"), "--dir", dir], {
    cwd: ROOT,
    env: { ...process.env, INIT_CWD: ROOT },
  });
  createInterface({ input: child.stderr }).on("line", (line) => onLog(line.replace(/^cluster: /, "")));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the control plane was not ready within ${timeoutMs / 1000} s (logs in ${dir}/logs)`)), timeoutMs);
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (!line.startsWith("cluster: ready")) return;
      clearTimeout(timer);
      resolve();
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the control plane exited (${code ?? signal}) before it was ready (logs in ${dir}/logs)`));
    });
  });
  const info = JSON.parse(await readFile(join(dir, "cluster.json"), "utf8"));
  return { child, info };
}

/** `kubectl proxy` on a free loopback port: the API over plain HTTP with the kubeconfig's rights. */
export async function startKubectlProxy({ kubectl, kubeconfig, spawn = defaultSpawn }) {
  const child = spawn(kubectl, ["--kubeconfig", kubeconfig, "proxy", "--port=0"], { cwd: ROOT });
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /Starting to serve on (\S+:\d+)/.exec(line);
      if (m) resolve(`http://${m[1]}`);
    });
    child.once("exit", (code) => reject(new Error(`kubectl proxy exited ${code}`)));
  });
  return { child, url };
}

/** A kubeconfig like the admin's, but on a fresh token of a ServiceAccount (TokenRequest, via `kubectl create token`). */
export async function serviceAccountKubeconfig({ kubectl, adminKubeconfig, namespace, serviceAccount, file }) {
  const token = (await run(kubectl, ["--kubeconfig", adminKubeconfig, "-n", namespace, "create", "token", serviceAccount, "--duration=2h"])).trim();
  const config = parse(await readFile(adminKubeconfig, "utf8"));
  config.users = config.users.map((u) => ({ name: u.name, user: { token } }));
  config.contexts = config.contexts.map((c) => ({ ...c, context: { ...c.context, namespace } }));
  await writeFile(file, stringify(config), { mode: 0o600 });
  return file;
}

/** Runs a command to its end; resolves to its stdout, rejects with its stderr. */
export function run(command, args, { input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawnProcess(command, args, { cwd: ROOT, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    if (input !== undefined) child.stdin.end(input);
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${basename(command)} ${args.join(" ")} exited ${code}: ${stderr.trim()}`))));
  });
}
