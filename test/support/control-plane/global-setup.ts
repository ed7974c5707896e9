// vitest globalSetup for the integration suite: one real control plane per run (namespaces
// keep test files apart), with the repository's CRD applied by the real kubectl and
// Established. Test files reach it through `inject("controlPlane")`.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import { REPO_ROOT } from "./binaries.js";
import { ControlPlane, type ControlPlaneInfo } from "./control-plane.js";

const run = promisify(execFile);

declare module "vitest" {
  export interface ProvidedContext {
    controlPlane: ControlPlaneInfo | null;
  }
}

let plane: ControlPlane | undefined;

export async function setup(project: TestProject): Promise<void> {
  if (process.env.P2P_CONTROL_PLANE === "off") {
    project.provide("controlPlane", null);
    return;
  }
  const started = Date.now();
  plane = await ControlPlane.start({ log: process.env.P2P_CONTROL_PLANE_LOG ? (l) => console.error(`control plane: ${l}`) : undefined });
  const kubectl = plane.binaries.kubectl;
  await run(kubectl, ["--kubeconfig", plane.kubeconfigPath, "apply", "--server-side", "-f", join(REPO_ROOT, "crds")]);
  await run(kubectl, ["--kubeconfig", plane.kubeconfigPath, "wait", "--for=condition=Established", "--timeout=60s", "crd/pointtopointchannels.messaging.p2p.dev"]);
  console.error(`control plane: Kubernetes ${plane.binaries.dir.split("/").at(-1)} ready at ${plane.server} in ${Date.now() - started} ms (state and logs: ${plane.dir})`);
  project.provide("controlPlane", plane.info());
}

export async function teardown(): Promise<void> {
  await plane?.stop();
}
