// `npm run cluster -- --kubeconfig FILE`: a real control plane and the process node on
// loopback until SIGINT/SIGTERM. Pods run from the folder this was started in.
// Once ready it also writes STATE_DIR/cluster.json (Kubernetes version, server, kubeconfig,
// kubectl, the components' pids), for scripts that drive it: `npm run demo:kubernetes`, bench/operator-scale.
import { copyFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ControlPlane } from "./control-plane.js";

const { values } = parseArgs({ options: { kubeconfig: { type: "string" }, dir: { type: "string" }, quiet: { type: "boolean" } } });
if (!values.kubeconfig) {
  console.error("usage: npm run cluster -- --kubeconfig FILE [--dir STATE_DIR] [--quiet]");
  process.exit(2);
}
const kubeconfig = resolve(values.kubeconfig);
const log = values.quiet ? () => {} : (line: string) => console.error(`cluster: ${line}`);
const plane = await ControlPlane.start({ dir: values.dir ? resolve(values.dir) : undefined, workDir: process.env.INIT_CWD ?? process.cwd(), log });
await copyFile(plane.kubeconfigPath, kubeconfig);
const { gitVersion: version } = await plane.admin.get<{ gitVersion: string }>("/version");
const info = { version, server: plane.server, kubeconfig, kubectl: plane.binaries.kubectl, dir: plane.dir, pids: plane.pids() };
await writeFile(join(plane.dir, "cluster.json"), `${JSON.stringify(info, null, 2)}\n`);
console.log(`cluster: ready at ${plane.server}; admin kubeconfig in ${kubeconfig} (Ctrl-C stops it); logs in ${plane.dir}/logs`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping pods, controllers, apiserver and etcd`);
  await plane.stop();
  log("stopped");
  process.exit(0);
};
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
