// Where the control plane's binaries are: test/controlplane/build.sh builds them once per
// Kubernetes release into a cache outside the clone (or takes KUBEBUILDER_ASSETS) and prints
// the folder as its last line.
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const REPO_ROOT = resolve(import.meta.dirname, "../../..");

export interface ControlPlaneBinaries {
  dir: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubectl: string;
}

let cached: Promise<ControlPlaneBinaries> | undefined;

export function controlPlaneBinaries(): Promise<ControlPlaneBinaries> {
  cached ??= (async () => {
    const script = join(REPO_ROOT, "test/controlplane/build.sh");
    const { stdout } = await run("bash", [script], { maxBuffer: 16 * 1024 * 1024 }).catch((err: { stderr?: string }) => {
      throw new Error(`building the control plane failed (${script}):\n${err.stderr ?? String(err)}`, { cause: err });
    });
    const dir = stdout.trim().split("\n").at(-1) ?? "";
    return {
      dir,
      etcd: join(dir, "etcd"),
      kubeApiserver: join(dir, "kube-apiserver"),
      kubeControllerManager: join(dir, "kube-controller-manager"),
      kubectl: join(dir, "kubectl"),
    };
  })();
  return cached;
}
