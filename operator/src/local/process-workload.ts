import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import type { ResolvedChannel } from "../api/resolved.js";
import type { ContainerSpec } from "../api/types.js";
import type { ConnectionTarget, WorkloadDriver, WorkloadObservation } from "../ports/index.js";
import { CREDENTIAL_FILES, consumerEnv } from "../plan/consumer-env.js";
import { podTerminationGraceSeconds } from "../plan/termination-grace.js";

// Local mode's workload: workload.template's first container run as child processes, one per
// replica, the way a Deployment runs pods. The container's command + args run with cwd =
// workingDir resolved against the directory `p2p local` was started in (process.cwd()), so
// that `command: [node, consumer-template/dist/main.js]` works from the repository root.
// The environment is this process's own (PATH, HOME, ...) plus the container's env values,
// plus the consumer contract env, plus the --env overrides of `p2p local`.
// Replicas that exit are restarted with backoff (restartPolicy Always). Their stdout/stderr go
// to one log file per channel, so the terminal stays free for the live view.

export interface ProcessWorkloadOptions {
  /** Where per-channel log files and credential dirs go. */
  stateDir: string;
  log?: Logger;
  /** Env set last, over the container's and the consumer contract's (e.g. P2P_RECORD_FILE for tests). */
  envOverrides?: Record<string, string>;
  /**
   * SIGTERM, then SIGKILL after this long, for every channel. Unset: each channel's own, as its
   * pods would get (the template's terminationGracePeriodSeconds, else from its ack wait).
   */
  gracePeriodMs?: number;
  /** First restart delay after a crash; doubles up to maxRestartDelayMs (CrashLoopBackOff). */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** A replica that ran this long resets its restart backoff. */
  stableAfterMs?: number;
  cwd?: string;
}

/** One running (or restarting) replica. */
interface Replica {
  index: number;
  child: ChildProcess | null;
  /** Hash of the process spec this replica runs; a changed spec replaces it (a rollout). */
  specHash: string;
  startedAtMs: number;
  restarts: number;
  restartTimer: NodeJS.Timeout | null;
  running: boolean;
}

interface ProcessSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  hash: string;
}

interface ChannelProcesses {
  key: string;
  spec: ProcessSpec;
  desired: number;
  replicas: Replica[];
  /** Replicas on their way out (SIGTERM sent): not counted, but waited for on stop. */
  terminating: Map<ChildProcess, Promise<void>>;
  logFile: string;
  logFd: number;
  credentialsDir: string | null;
  gracePeriodMs: number;
}

export class ProcessWorkload implements WorkloadDriver {
  private readonly channels = new Map<string, ChannelProcesses>();
  private nextIndex = 0;
  private stopped = false;

  constructor(private readonly options: ProcessWorkloadOptions) {}

  async observe(channel: ResolvedChannel): Promise<WorkloadObservation> {
    const blocked = notRunnable(channel);
    if (blocked) return { exists: false, replicas: 0, readyReplicas: 0, blocked: { status: "False", reason: "NotSupportedLocally", message: blocked } };
    const state = this.channels.get(channel.key);
    if (!state) return { exists: false, replicas: 0, readyReplicas: 0, blocked: null };
    return { exists: true, replicas: state.desired, readyReplicas: this.readyOf(state), blocked: null };
  }

  async ensure(channel: ResolvedChannel, env: Record<string, string>, target: ConnectionTarget, replicas: number): Promise<void> {
    if (this.stopped || notRunnable(channel) || channel.workload.kind !== "template") return;
    const container = channel.workload.template.spec?.containers?.[0] as ContainerSpec;
    let state = this.channels.get(channel.key);
    const credentialsDir = target.credentials ? (state?.credentialsDir ?? (await this.privateDir(channel))) : null;
    if (credentialsDir && target.credentials) await writeCredentials(credentialsDir, target);
    const contractEnv = { ...env, ...(credentialsDir ? consumerEnv(channel, target, credentialsDir) : {}) };
    const spec = processSpec(container, contractEnv, this.options.envOverrides ?? {}, this.options.cwd ?? process.cwd());
    const gracePeriodMs = this.options.gracePeriodMs ?? podTerminationGraceSeconds(channel, channel.workload.template.spec) * 1000;

    if (!state) {
      await mkdir(join(this.options.stateDir, "logs"), { recursive: true });
      const logFile = join(this.options.stateDir, "logs", `${channel.owner.namespace}_${channel.owner.name}.log`);
      state = {
        key: channel.key,
        spec,
        desired: 0,
        replicas: [],
        terminating: new Map(),
        logFile,
        logFd: openSync(logFile, "a"),
        credentialsDir,
        gracePeriodMs,
      };
      this.channels.set(channel.key, state);
      this.options.log?.info({ key: channel.key, command: spec.command, args: spec.args, logFile }, "process workload created");
      this.setReplicas(state, replicas);
      return;
    }
    state.gracePeriodMs = gracePeriodMs;
    if (state.spec.hash !== spec.hash) {
      // Like a Deployment rollout: new replicas with the new spec first, then the old ones stop gracefully.
      this.options.log?.info({ key: channel.key }, "process spec changed; replacing replicas");
      state.spec = spec;
      const old = state.replicas.splice(0);
      this.setReplicas(state, state.desired);
      for (const r of old) this.terminate(state, r);
    }
  }

  async scale(channel: ResolvedChannel, replicas: number): Promise<void> {
    const state = this.channels.get(channel.key);
    if (!state || this.stopped) return;
    this.setReplicas(state, replicas);
  }

  async release(channel: ResolvedChannel): Promise<void> {
    await this.releaseKey(channel.key);
  }

  /** Stops a channel's processes by key (garbage collection of a channel that is gone). */
  async releaseKey(key: string): Promise<void> {
    const state = this.channels.get(key);
    if (!state) return;
    this.channels.delete(key);
    await this.stopChannel(state);
  }

  /** Stops every child of every channel (SIGTERM, then SIGKILL after the grace period). */
  async stopAll(): Promise<void> {
    this.stopped = true;
    const all = [...this.channels.values()];
    this.channels.clear();
    await Promise.all(all.map((s) => this.stopChannel(s)));
  }

  /** Force: SIGKILL every child at once (a second Ctrl-C). */
  killAll(): void {
    this.stopped = true;
    for (const state of this.channels.values()) {
      for (const r of state.replicas) r.child?.kill("SIGKILL");
      for (const child of state.terminating.keys()) child.kill("SIGKILL");
    }
  }

  /** The pids of a channel's running replicas (for tests and the live view). */
  pids(key: string): number[] {
    const state = this.channels.get(key);
    if (!state) return [];
    return state.replicas.flatMap((r) => (r.running && r.child?.pid !== undefined ? [r.child.pid] : []));
  }

  /** Running replicas of a channel, or null when it has no workload. */
  ready(key: string): number | null {
    const state = this.channels.get(key);
    return state ? this.readyOf(state) : null;
  }

  logFileOf(key: string): string | undefined {
    return this.channels.get(key)?.logFile;
  }

  private readyOf(state: ChannelProcesses): number {
    return state.replicas.filter((r) => r.running).length;
  }

  private setReplicas(state: ChannelProcesses, n: number): void {
    state.desired = n;
    while (state.replicas.length < n) {
      const replica: Replica = {
        index: this.nextIndex++,
        child: null,
        specHash: state.spec.hash,
        startedAtMs: 0,
        restarts: 0,
        restartTimer: null,
        running: false,
      };
      state.replicas.push(replica);
      this.launch(state, replica);
    }
    // Scale down removes the newest replicas first.
    while (state.replicas.length > n) {
      const replica = state.replicas.pop();
      if (replica) this.terminate(state, replica);
    }
  }

  private launch(state: ChannelProcesses, replica: Replica): void {
    const { spec } = state;
    replica.specHash = spec.hash;
    replica.startedAtMs = Date.now();
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...spec.env, P2P_REPLICA: String(replica.index) },
      stdio: ["ignore", state.logFd, state.logFd],
      // Its own process group: a Ctrl-C in the terminal reaches `p2p local` only, which then stops
      // the replicas in order (SIGTERM, drain) while the NATS server is still up.
      detached: true,
    });
    replica.child = child;
    child.once("spawn", () => {
      if (replica.child === child) replica.running = true;
    });
    child.once("error", (err) => {
      this.options.log?.warn({ key: state.key, replica: replica.index, err: err.message }, "cannot start replica");
    });
    child.once("close", (code, signal) => {
      if (replica.child !== child) return;
      replica.running = false;
      replica.child = null;
      // Still wanted (not scaled away, not stopping): restart with backoff like restartPolicy Always.
      if (this.stopped || !state.replicas.includes(replica) || this.channels.get(state.key) !== state) return;
      const ranMs = Date.now() - replica.startedAtMs;
      if (ranMs >= (this.options.stableAfterMs ?? 10_000)) replica.restarts = 0;
      const base = this.options.restartDelayMs ?? 1_000;
      const delay = Math.min(this.options.maxRestartDelayMs ?? 30_000, base * 2 ** replica.restarts);
      replica.restarts++;
      this.options.log?.warn({ key: state.key, replica: replica.index, code, signal, restartInMs: delay }, "replica exited; restarting");
      replica.restartTimer = setTimeout(() => {
        replica.restartTimer = null;
        if (this.stopped || !state.replicas.includes(replica)) return;
        this.launch(state, replica);
      }, delay);
      replica.restartTimer.unref?.();
    });
  }

  /** SIGTERM, SIGKILL after the grace period; resolves when the process has exited. */
  private terminate(state: ChannelProcesses, replica: Replica): void {
    if (replica.restartTimer) clearTimeout(replica.restartTimer);
    replica.restartTimer = null;
    const child = replica.child;
    replica.running = false;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      replica.child = null;
      return;
    }
    const done = new Promise<void>((resolveDone) => {
      const kill = setTimeout(() => child.kill("SIGKILL"), state.gracePeriodMs);
      child.once("close", () => {
        clearTimeout(kill);
        resolveDone();
      });
    });
    state.terminating.set(child, done);
    void done.then(() => state.terminating.delete(child));
    child.kill("SIGTERM");
  }

  private async stopChannel(state: ChannelProcesses): Promise<void> {
    for (const r of state.replicas.splice(0)) this.terminate(state, r);
    state.desired = 0;
    await Promise.all([...state.terminating.values()]);
    closeSync(state.logFd);
    if (state.credentialsDir) await rm(state.credentialsDir, { recursive: true, force: true });
    this.options.log?.info({ key: state.key }, "process workload stopped");
  }

  private async privateDir(channel: ResolvedChannel): Promise<string> {
    await mkdir(this.options.stateDir, { recursive: true });
    const dir = await mkdtemp(join(this.options.stateDir, `creds-${channel.owner.name}-`));
    await chmod(dir, 0o700);
    return dir;
  }
}

/** Why a channel cannot run as local processes, or null when it can. */
function notRunnable(channel: ResolvedChannel): string | null {
  if (channel.workload.kind === "scaleTarget") {
    const ref = channel.workload.ref;
    return `workload.scaleTargetRef (${ref.kind} ${ref.name}) needs a cluster; local mode runs workload.template containers as processes`;
  }
  const container = channel.workload.template.spec?.containers?.[0];
  if (!container) return "workload.template has no containers";
  if (!container.command?.length) {
    return `container ${container.name} has no command: local mode runs the first container's command and args as a process (the image is not used)`;
  }
  return null;
}

function processSpec(container: ContainerSpec, contractEnv: Record<string, string>, overrides: Record<string, string>, cwd: string): ProcessSpec {
  const [command = "", ...commandArgs] = container.command ?? [];
  const args = [...commandArgs, ...(container.args ?? [])];
  const containerEnv: Record<string, string> = {};
  for (const e of container.env ?? []) if (typeof e.value === "string") containerEnv[e.name] = expand(e.value, containerEnv);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, containerEnv, contractEnv, overrides);
  const workDir = container.workingDir ? resolve(cwd, container.workingDir) : cwd;
  const ownEnv = { ...containerEnv, ...contractEnv, ...overrides };
  const expandedArgs = args.map((a) => expand(a, ownEnv));
  const hash = createHash("sha256").update(JSON.stringify({ command, args: expandedArgs, env: ownEnv, workDir })).digest("hex");
  return { command, args: expandedArgs, env, cwd: workDir, hash };
}

/** Kubernetes' $(VAR) expansion in values and args; unknown references stay as they are. */
function expand(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => vars[name] ?? whole);
}

async function writeCredentials(dir: string, target: ConnectionTarget): Promise<void> {
  const creds = target.credentials;
  if (!creds) return;
  for (const { field, file } of CREDENTIAL_FILES) {
    const value = creds[field];
    if (value) await writeFile(join(dir, file), value, { mode: 0o600 });
  }
}
