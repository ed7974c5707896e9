import { spawn, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";
import {
  ApiException,
  AppsV1Api,
  AutoscalingV2Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Deployment,
} from "@kubernetes/client-node";
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { ChannelSpec, Condition, ConditionType, PointToPointChannel } from "../../../operator/src/api/types.js";
import { freePort } from "../../support/nats-server.js";
import type { KubeWorld } from "../support/kube-world.js";

// The world of an operator integration test: the run's real control plane with the CRD, the
// chart installed for the file's namespaces, the operator as a child process (run from source
// with tsx) on the chart's ServiceAccount through a fault proxy, and clients to look at both
// the cluster (the real @kubernetes/client-node, as admin) and NATS.

export const ROOT = resolve(import.meta.dirname, "../../..");
const MAIN = join(ROOT, "operator/src/cli/main.ts");
const GROUP = "messaging.p2p.dev";
const VERSION = "v1alpha1";
const PLURAL = "pointtopointchannels";

/** Retries `fn` until it stops throwing; the last error is the test's failure. */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs = 20_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(intervalMs);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const isNotFound = (err: unknown) => err instanceof ApiException && err.code === 404;
const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** Reads and writes the cluster the way a user (kubectl) would. */
export class Cluster {
  readonly custom: CustomObjectsApi;
  readonly apps: AppsV1Api;
  readonly core: CoreV1Api;
  readonly autoscaling: AutoscalingV2Api;
  readonly coordination: CoordinationV1Api;

  constructor(readonly kc: KubeConfig) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.autoscaling = kc.makeApiClient(AutoscalingV2Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
  }

  async applyChannel(namespace: string, name: string, spec: ChannelSpec): Promise<PointToPointChannel> {
    return (await this.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: "PointToPointChannel", metadata: { name, namespace }, spec },
    })) as PointToPointChannel;
  }

  async channel(namespace: string, name: string): Promise<PointToPointChannel | null> {
    try {
      return (await this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name })) as PointToPointChannel;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async patchChannel(namespace: string, name: string, patch: unknown): Promise<PointToPointChannel> {
    return (await this.custom.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: patch }, merge)) as PointToPointChannel;
  }

  async deleteChannel(namespace: string, name: string): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name });
  }

  async deployment(namespace: string, name: string): Promise<V1Deployment | null> {
    try {
      return await this.apps.readNamespacedDeployment({ namespace, name });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** A user's own Deployment (a scaleTargetRef). */
  async createDeployment(namespace: string, name: string, replicas: number): Promise<V1Deployment> {
    return this.apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name, labels: { app: name } },
        spec: {
          replicas,
          selector: { matchLabels: { app: name } },
          template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "app", image: "registry.example/app:1", command: ["sleep", "infinity"] }] } },
        },
      },
    });
  }

  async scaleOf(namespace: string, name: string): Promise<number | undefined> {
    return (await this.apps.readNamespacedDeploymentScale({ namespace, name })).spec?.replicas;
  }

  async createTokenSecret(namespace: string, name: string, token: string): Promise<void> {
    await this.core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData: { token } } });
  }

  async createHpa(namespace: string, name: string, target: string): Promise<void> {
    await this.autoscaling.createNamespacedHorizontalPodAutoscaler({
      namespace,
      body: {
        metadata: { name },
        spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: target }, minReplicas: 1, maxReplicas: 3 },
      },
    });
  }

  async events(namespace: string, involvedName: string): Promise<Array<{ reason?: string; message?: string; type?: string; count?: number }>> {
    const list = await this.core.listNamespacedEvent({ namespace });
    return list.items.filter((e) => e.involvedObject.name === involvedName);
  }
}

export function conditionOf(channel: PointToPointChannel | null, type: ConditionType): Condition | undefined {
  return channel?.status?.conditions?.find((c) => c.type === type);
}

/** A test spec: short polls and windows so the suite stays fast. */
export function fastScaling(overrides: Partial<NonNullable<ChannelSpec["scaling"]>> = {}): NonNullable<ChannelSpec["scaling"]> {
  return {
    minReplicas: 1,
    maxReplicas: 5,
    targetLagPerReplica: 10,
    pollInterval: "300ms",
    scaleDown: { stabilizationWindow: "1s" },
    scaleUp: { stabilizationWindow: "0s", maxStep: 4 },
    ...overrides,
  };
}

// Consumer pods that run on the process node but take no messages, so that a test sets the lag
// itself (publishing, or draining with NatsClient.drain). Tests of real consumers use the
// consumer template's own command instead.
export const consumerTemplate = {
  metadata: { labels: { team: "register" } },
  spec: { containers: [{ name: "consumer", image: "registry.example/consumer:1", command: ["sleep", "infinity"], env: [{ name: "P2P_WORK_MS", value: "5" }] }] },
};

export interface OperatorProcessOptions {
  /** The chart install whose arguments, env and ServiceAccount the operator runs with. */
  world: KubeWorld;
  /** Default: the world's (the chart ServiceAccount's token, through its fault proxy). */
  kubeconfig?: string;
  args?: string[];
  env?: Record<string, string>;
  name?: string;
}

/** `p2p operator` as a child process, with its JSON log kept for assertions and post-mortems. */
export class OperatorProcess {
  readonly lines: string[] = [];
  private exitCode: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly metricsUrl: string,
    readonly healthUrl: string,
    readonly name: string,
  ) {
    this.exitCode = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? null : 0))));
    let buffer = "";
    const take = (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      let i: number;
      while ((i = buffer.indexOf("\n")) >= 0) {
        this.lines.push(buffer.slice(0, i));
        buffer = buffer.slice(i + 1);
      }
    };
    child.stdout?.on("data", take);
    child.stderr?.on("data", take);
    if (process.env.P2P_TEST_OPERATOR_LOG) child.stdout?.pipe(process.stderr);
  }

  static async start(o: OperatorProcessOptions): Promise<OperatorProcess> {
    const metricsPort = await freePort();
    const healthPort = await freePort();
    const name = o.name ?? "operator";
    const chart = await o.world.operatorArgs(name);
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        MAIN,
        "operator",
        ...chart.args,
        "--kubeconfig",
        o.kubeconfig ?? o.world.kubeconfigPath,
        "--metrics-addr",
        `127.0.0.1:${metricsPort}`,
        "--health-addr",
        `127.0.0.1:${healthPort}`,
        "--log-level",
        "debug",
        ...(o.args ?? []),
      ],
      { cwd: ROOT, env: { ...process.env, ...chart.env, ...o.env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    const op = new OperatorProcess(child, `http://127.0.0.1:${metricsPort}/metrics`, `http://127.0.0.1:${healthPort}`, name);
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`operator exited with ${child.exitCode}:\n${op.tail()}`);
      const res = await fetch(`${op.healthUrl}/readyz`);
      if (res.status !== 200) throw new Error(`readyz ${res.status}`);
    }, 30_000);
    return op;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  async metrics(): Promise<string> {
    return (await fetch(this.metricsUrl)).text();
  }

  /** One sample of a metric, e.g. metric("leader_election_master_status"). */
  async metric(name: string, labels = ""): Promise<number | undefined> {
    const text = await this.metrics();
    const line = text.split("\n").find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ""}`) && !l.startsWith("#"));
    return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : undefined;
  }

  /** Parsed JSON log records matching `msg`. */
  records(msg: string | RegExp): Array<Record<string, unknown>> {
    return this.lines
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return null;
        }
      })
      .filter((r): r is Record<string, unknown> => r !== null && (typeof msg === "string" ? r.msg === msg : msg.test(String(r.msg))));
  }

  tail(n = 40): string {
    return this.lines.slice(-n).join("\n");
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    if (!this.exited) this.child.kill(signal);
    return this.exitCode;
  }

  /** SIGTERM and wait: resolves with the exit code. */
  async stop(): Promise<number | null> {
    return this.kill("SIGTERM");
  }

  wait(): Promise<number | null> {
    return this.exitCode;
  }
}

/** What a test needs from NATS: stream and consumer listings, publishing, and draining as a consumer would. */
export class NatsClient {
  private constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
  ) {}

  static async connect(url: string): Promise<NatsClient> {
    const nc = await connect({ servers: url });
    return new NatsClient(nc, await jetstreamManager(nc));
  }

  async streamNames(): Promise<string[]> {
    const names: string[] = [];
    for await (const s of this.jsm.streams.list()) names.push(s.config.name);
    return names.sort();
  }

  async consumerNames(stream: string): Promise<string[]> {
    const names: string[] = [];
    for await (const c of this.jsm.consumers.list(stream)) names.push(c.name);
    return names.sort();
  }

  async streamExists(stream: string): Promise<boolean> {
    return (await this.streamNames()).includes(stream);
  }

  async publish(subject: string, count: number): Promise<void> {
    const js = jetstream(this.nc);
    for (let i = 0; i < count; i++) await js.publish(subject, `m${i}`, { msgID: `${subject}-${Date.now()}-${i}` });
  }

  /** Consumes and acks everything on the durable, as the consumer pods would. */
  async drain(stream: string, consumer: string): Promise<number> {
    const js = jetstream(this.nc);
    const c = await js.consumers.get(stream, consumer);
    let n = 0;
    for (;;) {
      const batch = await c.fetch({ max_messages: 100, expires: 1_000 });
      let got = 0;
      for await (const m of batch) {
        m.ack();
        got += 1;
      }
      n += got;
      if (got === 0) break;
    }
    await this.nc.flush();
    return n;
  }

  async consumerAckPolicy(stream: string, consumer: string): Promise<AckPolicy> {
    return (await this.jsm.consumers.info(stream, consumer)).config.ack_policy;
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}
