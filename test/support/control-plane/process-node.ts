// The process node: a Node that stays Ready (its Lease renewed, its status heartbeat sent)
// and runs the pods bound to it as local processes (see pod-runner.ts). It acts under two
// identities, as a real cluster's parts would: system:node:<name> (the Node authorizer lets
// it read only its own pods' Secrets) for everything a kubelet does, and system:kube-scheduler
// to bind pending pods to itself. Like the real kube-scheduler it schedules only the pods
// that ask for it (spec.schedulerName unset, which the apiserver defaults, or
// "default-scheduler"): a pod naming another scheduler stays Pending and unbound.
import { mkdir } from "node:fs/promises";
import type { V1Pod } from "@kubernetes/client-node";
import { ListWatch } from "./list-watch.js";
import { PodRunner } from "./pod-runner.js";
import { KubeStatusError, RestClient, type Credentials } from "./rest.js";

const LEASE_RENEW_MS = 10_000;
const STATUS_HEARTBEAT_MS = 60_000;
const SCHEDULER_NAME = "default-scheduler";

export interface ProcessNodeOptions {
  name: string;
  node: Credentials;
  scheduler: Credentials;
  apiServerPort: number;
  dir: string;
  workDir: string;
  log?: (line: string) => void;
}

export class ProcessNode {
  private readonly runners = new Map<string, PodRunner>();
  private readonly nodeClient: RestClient;
  private readonly schedulerClient: RestClient;
  private watches: Array<ListWatch<V1PodWithMeta>> = [];
  private timers: NodeJS.Timeout[] = [];
  private readonly log: (line: string) => void;

  private constructor(readonly options: ProcessNodeOptions) {
    this.nodeClient = new RestClient(options.node);
    this.schedulerClient = new RestClient(options.scheduler);
    this.log = options.log ?? (() => {});
  }

  static async start(options: ProcessNodeOptions): Promise<ProcessNode> {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const node = new ProcessNode(options);
    await node.register();
    await node.renewLease();
    node.timers.push(setInterval(() => void node.renewLease().catch((e) => node.log(`lease renewal failed: ${String(e)}`)), LEASE_RENEW_MS));
    node.timers.push(setInterval(() => void node.sendStatus().catch((e) => node.log(`node status failed: ${String(e)}`)), STATUS_HEARTBEAT_MS));
    node.watches.push(
      new ListWatch<V1PodWithMeta>(node.schedulerClient, "/api/v1/pods", `fieldSelector=${encodeURIComponent(`spec.nodeName=,spec.schedulerName=${SCHEDULER_NAME}`)}`, {
        onObject: (pod) => void node.bind(pod),
        onDeleted: () => {},
        onError: (err) => node.log(`pending pods watch: ${String(err)}`),
      }),
      new ListWatch<V1PodWithMeta>(node.nodeClient, "/api/v1/pods", `fieldSelector=spec.nodeName%3D${encodeURIComponent(options.name)}`, {
        onObject: (pod) => node.sync(pod),
        onDeleted: (pod) => node.forget(pod),
        onError: (err) => node.log(`node pods watch: ${String(err)}`),
      }),
    );
    return node;
  }

  get name(): string {
    return this.options.name;
  }

  private async register(): Promise<void> {
    try {
      await this.nodeClient.request("POST", "/api/v1/nodes", {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: this.name, labels: { "kubernetes.io/hostname": this.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64" } },
        spec: {},
      });
    } catch (err) {
      if (!(err instanceof KubeStatusError && err.code === 409)) throw err;
    }
    await this.sendStatus();
  }

  private async sendStatus(): Promise<void> {
    const at = new Date().toISOString();
    const condition = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, lastHeartbeatTime: at, lastTransitionTime: at });
    const capacity = { cpu: "2", memory: "24Gi", pods: "110", "ephemeral-storage": "50Gi" };
    await this.nodeClient.request(
      "PATCH",
      `/api/v1/nodes/${this.name}/status`,
      {
        status: {
          capacity,
          allocatable: capacity,
          addresses: [
            { type: "InternalIP", address: "127.0.0.1" },
            { type: "Hostname", address: this.name },
          ],
          daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
          nodeInfo: {
            machineID: "process-node",
            systemUUID: "process-node",
            bootID: "process-node",
            kernelVersion: "",
            osImage: "process node (pods run as local processes)",
            containerRuntimeVersion: "process://1",
            kubeletVersion: "v0.0.0-process-node",
            kubeProxyVersion: "",
            operatingSystem: "linux",
            architecture: "amd64",
          },
          conditions: [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "process node"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "process node"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "process node"),
            condition("Ready", "True", "KubeletReady", "the process node runs pods as local processes"),
          ],
        },
      },
      "application/merge-patch+json",
    );
  }

  private async renewLease(): Promise<void> {
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${this.name}`;
    const renewTime = new Date().toISOString().replace("Z", "000Z");
    try {
      await this.nodeClient.request("PATCH", path, { spec: { renewTime, holderIdentity: this.name } }, "application/merge-patch+json");
    } catch (err) {
      if (!(err instanceof KubeStatusError && err.code === 404)) throw err;
      await this.nodeClient.request("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: this.name, namespace: "kube-node-lease" },
        spec: { holderIdentity: this.name, leaseDurationSeconds: 40, renewTime },
      });
    }
  }

  private async bind(pod: V1PodWithMeta): Promise<void> {
    if (pod.spec?.nodeName || pod.metadata.deletionTimestamp) return;
    if ((pod.spec?.schedulerName ?? SCHEDULER_NAME) !== SCHEDULER_NAME) return;
    const { namespace, name } = pod.metadata;
    try {
      await this.schedulerClient.request("POST", `/api/v1/namespaces/${namespace}/pods/${name}/binding`, {
        apiVersion: "v1",
        kind: "Binding",
        metadata: { name, namespace },
        target: { apiVersion: "v1", kind: "Node", name: this.name },
      });
    } catch (err) {
      if (!(err instanceof KubeStatusError && (err.code === 404 || err.code === 409))) this.log(`binding ${namespace}/${name} failed: ${String(err)}`);
    }
  }

  private sync(pod: V1PodWithMeta): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const runner = this.runners.get(key);
    if (runner) {
      runner.update(pod);
      return;
    }
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if (phase === "Succeeded" || phase === "Failed") return;
    const created = new PodRunner(pod, { client: this.nodeClient, dir: this.options.dir, workDir: this.options.workDir, apiServerPort: this.options.apiServerPort, log: this.log });
    this.runners.set(key, created);
    created.update(pod);
  }

  private forget(pod: V1PodWithMeta): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const runner = this.runners.get(key);
    if (!runner) return;
    this.runners.delete(key);
    // Deleted with grace 0 (forced) or after our own final delete: nothing may keep running.
    void runner.close(0);
  }

  /** Stops watching and ends every pod's process (SIGTERM, then SIGKILL after 10 s). */
  async stop(): Promise<void> {
    for (const w of this.watches) w.stop();
    for (const t of this.timers) clearInterval(t);
    await Promise.all([...this.runners.values()].map((r) => r.close(10)));
    this.runners.clear();
    this.nodeClient.close();
    this.schedulerClient.close();
  }
}

type V1PodWithMeta = V1Pod & { metadata: { name: string; namespace: string; uid: string; resourceVersion?: string; deletionTimestamp?: unknown } };
