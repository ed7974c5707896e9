// One pod on the process node: its first container as a local process, with honest status.
// Pending (ContainerCreating, or CreateContainerConfigError while a Secret is missing), then
// Running; Ready only once the readiness probe passes; restarts with the kubelet's back-off
// (10 s doubling to 5 min) per restartPolicy, exit codes in containerStatuses; on deletion
// SIGTERM, terminationGracePeriodSeconds, SIGKILL, then the final delete, as the kubelet does.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { killOnExit } from "./component.js";
import { ContainerConfigError, prepareContainer, type PreparedContainer } from "./pod-setup.js";
import { probeOnce } from "./probe.js";
import { KubeStatusError, type RestClient } from "./rest.js";

const BACKOFF_INITIAL_MS = 10_000;
const BACKOFF_MAX_MS = 300_000;
const BACKOFF_RESET_AFTER_MS = 600_000;
const CONFIG_RETRY_MS = 2_000;

export interface PodRunnerDeps {
  client: RestClient;
  dir: string;
  workDir: string;
  apiServerPort: number;
  log: (line: string) => void;
}

type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: { exitCode: number; signal?: number; reason: string; startedAt: string; finishedAt: string } };

const now = () => new Date().toISOString();

export class PodRunner {
  private child: ChildProcess | null = null;
  private prepared: PreparedContainer | null = null;
  private state: ContainerState = { waiting: { reason: "ContainerCreating" } };
  private lastState: ContainerState | undefined;
  private restartCount = 0;
  private ready = false;
  private phase: "Pending" | "Running" | "Succeeded" | "Failed" = "Pending";
  private startedAt = 0;
  private timers = new Set<NodeJS.Timeout>();
  private terminating: Promise<void> | null = null;
  private closed = false;
  private exited: Promise<void> = Promise.resolve();
  private writing: Promise<void> = Promise.resolve();
  private readonly startTime = now();
  /** Each condition's status and when it last flipped: lastTransitionTime moves only on a flip. */
  private readonly transitions = new Map<string, { status: boolean; at: string }>();

  constructor(
    private pod: V1Pod,
    private readonly deps: PodRunnerDeps,
  ) {
    void this.start();
  }

  get key(): string {
    return `${this.pod.metadata?.namespace}/${this.pod.metadata?.name}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get podDir(): string {
    return join(this.deps.dir, "pods", `${this.pod.metadata?.namespace}_${this.pod.metadata?.name}_${this.pod.metadata?.uid}`);
  }

  /** A newer version of the pod: starts termination once it carries a deletionTimestamp. */
  update(pod: V1Pod): void {
    this.pod = pod;
    if (pod.metadata?.deletionTimestamp && !this.terminating) void this.terminate(pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30, true);
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed && !this.terminating) fn();
    }, ms);
    this.timers.add(timer);
  }

  private async start(): Promise<void> {
    if (this.closed || this.terminating) return;
    try {
      this.prepared ??= await prepareContainer(this.pod, this.deps.client, this.podDir, this.deps.apiServerPort);
    } catch (err) {
      const reason = err instanceof ContainerConfigError ? err.reason : "CreateContainerError";
      this.state = { waiting: { reason, message: err instanceof Error ? err.message : String(err) } };
      this.writeStatus();
      this.later(CONFIG_RETRY_MS, () => void this.start());
      return;
    }
    if (this.closed || this.terminating) return;
    const p = this.prepared;
    await mkdir(this.podDir, { recursive: true, mode: 0o700 });
    const log = createWriteStream(join(this.podDir, `${p.container.name}.log`), { flags: "a" });
    const child = spawn(p.command, p.args, { cwd: this.deps.workDir, env: p.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    killOnExit(child, true);
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.child = child;
    this.startedAt = Date.now();
    const startedAt = now();
    this.exited = new Promise((resolve) => {
      child.once("error", (err) => {
        log.write(`process node: cannot start ${p.command}: ${err.message}\n`);
      });
      child.once("close", (code, signal) => {
        this.child = null;
        const exitCode = code ?? (signal === "SIGKILL" ? 137 : signal === "SIGTERM" ? 143 : 128);
        this.onExit(exitCode, signal ?? undefined, startedAt);
        resolve();
      });
    });
    this.state = { running: { startedAt } };
    this.phase = "Running";
    this.ready = false;
    this.writeStatus();
    this.deps.log(`pod ${this.key} started pid ${child.pid}: ${p.command} ${p.args.join(" ")}`);
    this.probeLoop(this.pod.spec?.containers?.[0]?.readinessProbe);
  }

  private probeLoop(probe: NonNullable<V1Pod["spec"]>["containers"][number]["readinessProbe"]): void {
    if (!probe) {
      this.setReady(true);
      return;
    }
    let successes = 0;
    let failures = 0;
    const child = this.child;
    const tick = async () => {
      if (this.child !== child || !this.prepared) return;
      const ok = await probeOnce(probe, this.prepared, this.deps.workDir).catch(() => false);
      if (this.child !== child || this.terminating) return;
      if (ok) {
        failures = 0;
        if (++successes >= (probe.successThreshold ?? 1)) this.setReady(true);
      } else {
        successes = 0;
        if (++failures >= (probe.failureThreshold ?? 3)) this.setReady(false);
      }
      this.later((probe.periodSeconds ?? 10) * 1000, () => void tick());
    };
    this.later((probe.initialDelaySeconds ?? 0) * 1000, () => void tick());
  }

  private setReady(ready: boolean): void {
    if (this.ready === ready) return;
    this.ready = ready;
    this.writeStatus();
  }

  private onExit(exitCode: number, signal: string | undefined, startedAt: string): void {
    const terminated: ContainerState = {
      terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", startedAt, finishedAt: now(), ...(signal ? { signal: signal === "SIGKILL" ? 9 : 15 } : {}) },
    };
    this.ready = false;
    this.deps.log(`pod ${this.key} exited with ${exitCode}${signal ? ` (${signal})` : ""}`);
    if (this.terminating || this.closed) {
      this.state = terminated;
      return;
    }
    const policy = this.pod.spec?.restartPolicy ?? "Always";
    if (policy === "Never" || (policy === "OnFailure" && exitCode === 0)) {
      this.state = terminated;
      this.phase = exitCode === 0 ? "Succeeded" : "Failed";
      this.writeStatus();
      return;
    }
    if (Date.now() - this.startedAt > BACKOFF_RESET_AFTER_MS) this.restartCount = 0;
    const delay = Math.min(BACKOFF_INITIAL_MS * 2 ** this.restartCount, BACKOFF_MAX_MS);
    this.lastState = terminated;
    this.restartCount += 1;
    this.state = { waiting: { reason: "CrashLoopBackOff", message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${this.prepared?.container.name} pod=${this.pod.metadata?.name}` } };
    this.writeStatus();
    this.later(delay, () => void this.start());
  }

  /** Graceful: SIGTERM, the grace period, SIGKILL; then (when `remove`) the pod's final delete. */
  terminate(graceSeconds: number, remove: boolean): Promise<void> {
    this.terminating ??= (async () => {
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      const child = this.child;
      if (child?.pid) {
        this.ready = false;
        if (remove) this.writeStatus();
        signalGroup(child.pid, "SIGTERM");
        const kill = setTimeout(() => child.pid && signalGroup(child.pid, "SIGKILL"), Math.max(0, graceSeconds) * 1000);
        await this.exited;
        clearTimeout(kill);
      }
      if (!remove) return;
      this.writeStatus();
      await this.writing;
      // As the kubelet ends it: delete with grace 0. The first such call on a pod already being
      // deleted only shortens its grace period; the next one removes it.
      const { namespace, name, uid } = this.pod.metadata ?? {};
      const body = { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0, preconditions: { uid } };
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await this.deps.client.request("DELETE", `/api/v1/namespaces/${namespace}/pods/${name}`, body);
        } catch (err) {
          if (!(err instanceof KubeStatusError && (err.code === 404 || err.code === 409))) this.deps.log(`pod ${this.key}: final delete failed: ${String(err)}`);
          break;
        }
      }
    })();
    return this.terminating;
  }

  /** The pod is gone from the API (or the node stops): no more status writes. */
  async close(graceSeconds: number): Promise<void> {
    this.closed = true;
    await this.terminate(graceSeconds, false);
  }

  private status(): Record<string, unknown> {
    const container = this.pod.spec?.containers?.[0];
    const running = "running" in this.state;
    const condition = (type: string, status: boolean) => {
      let last = this.transitions.get(type);
      if (!last || last.status !== status) this.transitions.set(type, (last = { status, at: now() }));
      return { type, status: status ? "True" : "False", lastProbeTime: null, lastTransitionTime: last.at };
    };
    return {
      phase: this.phase,
      hostIP: "127.0.0.1",
      hostIPs: [{ ip: "127.0.0.1" }],
      podIP: "127.0.0.1",
      podIPs: [{ ip: "127.0.0.1" }],
      startTime: this.startTime,
      conditions: [
        condition("PodReadyToStartContainers", true),
        condition("Initialized", true),
        condition("Ready", this.ready),
        condition("ContainersReady", this.ready),
        condition("PodScheduled", true),
      ],
      containerStatuses: container
        ? [
            {
              name: container.name,
              image: container.image ?? "",
              imageID: "",
              containerID: this.child?.pid ? `process://${this.child.pid}` : undefined,
              ready: this.ready,
              started: running,
              restartCount: this.restartCount,
              state: this.state,
              ...(this.lastState ? { lastState: this.lastState } : {}),
            },
          ]
        : [],
    };
  }

  /** Status writes go one at a time; each sends the latest state. */
  private writeStatus(): void {
    if (this.closed) return;
    const { namespace, name } = this.pod.metadata ?? {};
    this.writing = this.writing.then(async () => {
      if (this.closed) return;
      try {
        await this.deps.client.request("PATCH", `/api/v1/namespaces/${namespace}/pods/${name}/status`, { status: this.status() }, "application/merge-patch+json");
      } catch (err) {
        if (!(err instanceof KubeStatusError && err.code === 404)) this.deps.log(`pod ${this.key}: status write failed: ${String(err)}`);
      }
    });
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}
