// The Kubernetes side of an integration test file: the run's real control plane (see
// test/support/control-plane/global-setup.ts), the file's own namespaces, the chart installed
// for real with `helm install` in namespaced mode for those namespaces, and a fault proxy in
// front of the apiserver. The operator runs as a process on a token of the chart's
// ServiceAccount, so the real authorizer allows or denies every call it makes.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { KubeConfig, type V1Deployment } from "@kubernetes/client-node";
import { inject } from "vitest";
import { chartOperatorCommand } from "../../../scripts/lib/chart-operator.mjs";
import { FaultProxy } from "../../support/fault-proxy.js";
import { RestClient, writeKubeconfig, type ControlPlaneInfo } from "../../support/control-plane/index.js";
import { chartDir, toolPath } from "../chart/helm.js";

const run = promisify(execFile);

export function controlPlane(): ControlPlaneInfo {
  const info = inject("controlPlane");
  if (!info) throw new Error("this test needs the control plane, which P2P_CONTROL_PLANE=off turned off");
  return info;
}

export interface KubeWorldOptions {
  /** Namespaces the file's channels live in (created; the operator watches exactly these). */
  namespaces: string[];
  /** Install the chart cluster-wide (one ClusterRole, every namespace watched) instead. */
  clusterWide?: boolean;
  /** Let the chart install the CRD (a control plane of the file's own, without it yet). */
  installCrds?: boolean;
  /** Default: the run's control plane. */
  controlPlane?: ControlPlaneInfo;
  /** Where the chart is installed (created). */
  releaseNamespace: string;
  /** The operator's default NATS connection (chart value nats.url). */
  natsUrl: string;
  /** More chart values, e.g. {subjectPolicy: "namespaced"}. */
  values?: Record<string, unknown>;
}

export const RELEASE = "p2p-operator";

export class KubeWorld {
  private constructor(
    readonly info: ControlPlaneInfo,
    readonly options: KubeWorldOptions,
    readonly admin: RestClient,
    /** The fault proxy the operator talks through. */
    readonly faults: FaultProxy,
    /** The operator's kubeconfig: the chart ServiceAccount's token, through the proxy. */
    readonly kubeconfigPath: string,
  ) {}

  static async start(options: KubeWorldOptions): Promise<KubeWorld> {
    const info = options.controlPlane ?? controlPlane();
    const admin = adminClient(info);
    for (const ns of [...options.namespaces, options.releaseNamespace]) await createNamespace(admin, ns);
    await helm(info, [
      "install",
      RELEASE,
      chartDir,
      "--namespace",
      options.releaseNamespace,
      "--wait=hookOnly",
      ...setJson({
        crds: { enabled: options.installCrds ?? false },
        watchNamespaces: options.clusterWide ? [] : options.namespaces,
        nats: { url: options.natsUrl },
        ...options.values,
      }),
    ]);
    // The chart's own operator pods would need its image; the test runs the operator as a
    // process instead, with the same arguments and the same ServiceAccount (operatorArgs).
    await run(info.kubectl, ["--kubeconfig", info.kubeconfig, "-n", options.releaseNamespace, "scale", "deployment", RELEASE, "--replicas=0"]);
    const faults = await FaultProxy.start({ upstream: info.server, ca: info.caCert, cert: info.servingCert, key: info.servingKey });
    const world = new KubeWorld(info, options, admin, faults, "");
    const kubeconfigPath = await world.serviceAccountKubeconfig(faults.url, `operator-${options.releaseNamespace}`);
    return Object.assign(world, { kubeconfigPath }) as KubeWorld;
  }

  get url(): string {
    return this.faults.url;
  }

  get adminKubeconfig(): string {
    return this.info.kubeconfig;
  }

  /** @kubernetes/client-node as the cluster admin: what a user with kubectl sees. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.info.kubeconfig);
    return kc;
  }

  /** A kubeconfig with a fresh token of the chart's ServiceAccount, for `server` (a proxy or the apiserver). */
  async serviceAccountKubeconfig(server: string, name: string, serviceAccount = RELEASE): Promise<string> {
    const review = await this.admin.request<{ status: { token: string } }>("POST", `/api/v1/namespaces/${this.options.releaseNamespace}/serviceaccounts/${serviceAccount}/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 3600 },
    });
    return writeKubeconfig(join(this.info.dir, `${name}.kubeconfig`), server, this.info.caCert, { token: review.status.token }, this.options.releaseNamespace);
  }

  /** The installed operator Deployment, as helm made it. */
  chartDeployment(): Promise<V1Deployment> {
    return this.admin.get<V1Deployment>(`/apis/apps/v1/namespaces/${this.options.releaseNamespace}/deployments/${RELEASE}`);
  }

  /** The chart's container args and env for the operator, minus the listen addresses the test picks. */
  async operatorArgs(podName: string): Promise<{ args: string[]; env: Record<string, string> }> {
    return chartOperatorCommand(await this.chartDeployment(), { namespace: this.options.releaseNamespace, podName });
  }

  /** The real kubectl; the kubeconfig goes in KUBECONFIG, so plugins (`kubectl p2p`) get it too. */
  async kubectl(args: string[], kubeconfig = this.info.kubeconfig, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(this.info.kubectl, args, { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, ...env, KUBECONFIG: kubeconfig } });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  }

  /** Uninstalls the chart and deletes the file's namespaces (the real namespace controller empties them). */
  async close(): Promise<void> {
    await this.faults.close();
    await helm(this.info, ["uninstall", RELEASE, "--namespace", this.options.releaseNamespace, "--wait=hookOnly"]).catch(() => {});
    for (const ns of [...this.options.namespaces, this.options.releaseNamespace]) {
      await this.admin.request("DELETE", `/api/v1/namespaces/${ns}`).catch(() => {});
    }
    this.admin.close();
  }
}

/** A client as the cluster admin (system:masters). */
export function adminClient(info: ControlPlaneInfo = controlPlane()): RestClient {
  return new RestClient({ server: info.server, ca: info.caCert, cert: info.adminCert, key: info.adminKey });
}

async function createNamespace(admin: RestClient, name: string): Promise<void> {
  await admin.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } }).catch((err: { code?: number }) => {
    if (err.code !== 409) throw err;
  });
}

function setJson(values: Record<string, unknown>): string[] {
  return Object.entries(values).flatMap(([key, value]) => ["--set-json", `${key}=${JSON.stringify(value)}`]);
}

export async function helm(info: ControlPlaneInfo, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(toolPath("helm"), [...args, "--kubeconfig", info.kubeconfig], { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string };
    throw new Error(`helm ${args.slice(0, 2).join(" ")} failed: ${e.stderr ?? String(err)}`, { cause: err });
  }
}
