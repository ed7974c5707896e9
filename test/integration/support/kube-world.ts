// The Kubernetes side of an integration test file: the run's real control plane (see
// test/support/control-plane/global-setup.ts), the file's own namespaces, the chart installed
// for real with `helm install` in namespaced mode for those namespaces, and a fault proxy in
// front of the apiserver. The operator runs as a process on a token of the chart's
// ServiceAccount, so the real authorizer allows or denies every call it makes.
import { join } from "node:path";
import { KubeConfig, type V1Deployment } from "@kubernetes/client-node";
import { inject } from "vitest";
import { chartOperatorCommand } from "../../../scripts/lib/chart-operator.mjs";
import { FaultProxy } from "../../support/fault-proxy.js";
import { RestClient, createNamespace, requestToken, writeKubeconfig, type ControlPlaneInfo } from "../../support/control-plane/index.js";
import type { ProcessOutcome } from "../../support/run-process.js";
import { chartDir, runBinary, runTool, valueArgs } from "../chart/helm.js";


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
      ...valueArgs({
        crds: { enabled: options.installCrds ?? false },
        watchNamespaces: options.clusterWide ? [] : options.namespaces,
        nats: { url: options.natsUrl },
        ...options.values,
      }),
    ]);
    // The chart's own operator pods would need its image; the test runs the operator as a
    // process instead, with the same arguments and the same ServiceAccount (operatorArgs).
    const scaled = await kubectl(info, ["-n", options.releaseNamespace, "scale", "deployment", RELEASE, "--replicas=0"]);
    if (scaled.code !== 0) throw new Error(`kubectl scale failed: ${scaled.stderr}`);
    const faults = await FaultProxy.start({ upstream: info.server, ca: info.caCert, cert: info.servingCert, key: info.servingKey });
    const kubeconfigPath = await serviceAccountKubeconfig(info, admin, options.releaseNamespace, faults.url, `operator-${options.releaseNamespace}`);
    return new KubeWorld(info, options, admin, faults, kubeconfigPath);
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
  serviceAccountKubeconfig(server: string, name: string): Promise<string> {
    return serviceAccountKubeconfig(this.info, this.admin, this.options.releaseNamespace, server, name);
  }

  /** The installed operator Deployment, as helm made it. */
  chartDeployment(): Promise<V1Deployment> {
    return this.admin.get<V1Deployment>(`/apis/apps/v1/namespaces/${this.options.releaseNamespace}/deployments/${RELEASE}`);
  }

  /** The chart's container args and env for the operator, minus the listen addresses the test picks. */
  async operatorArgs(podName: string): Promise<{ args: string[]; env: Record<string, string> }> {
    return chartOperatorCommand(await this.chartDeployment(), { namespace: this.options.releaseNamespace, podName });
  }

  /** The real kubectl, as the admin unless another kubeconfig is given. */
  kubectl(args: string[], kubeconfig = this.info.kubeconfig, env: Record<string, string> = {}): Promise<ProcessOutcome> {
    return kubectl(this.info, args, { kubeconfig, env });
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

async function serviceAccountKubeconfig(info: ControlPlaneInfo, admin: RestClient, namespace: string, server: string, name: string): Promise<string> {
  const token = await requestToken(admin, namespace, RELEASE);
  return writeKubeconfig(join(info.dir, `${name}.kubeconfig`), server, info.caCert, { token }, namespace);
}

/** The control plane's own kubectl; the kubeconfig goes in KUBECONFIG, so plugins (`kubectl p2p`) get it too. */
export function kubectl(info: ControlPlaneInfo, args: string[], options: { kubeconfig?: string; env?: Record<string, string> } = {}): Promise<ProcessOutcome> {
  return runBinary(info.kubectl, args, { ...options.env, KUBECONFIG: options.kubeconfig ?? info.kubeconfig });
}

export async function helm(info: ControlPlaneInfo, args: string[]): Promise<string> {
  const result = await runTool("helm", [...args, "--kubeconfig", info.kubeconfig]);
  if (result.code !== 0) throw new Error(`helm ${args.slice(0, 2).join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}
