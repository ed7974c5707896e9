// One control-plane process (etcd, kube-apiserver, kube-controller-manager): started with its
// output in a log file, stopped with SIGTERM then SIGKILL, and killed with the harness if the
// harness exits first, so no process outlives the run.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";

/** Children to kill if the harness exits first, and whether each leads a process group of its own. */
const running = new Map<ChildProcess, { group: boolean }>();

process.on("exit", () => {
  for (const [child, { group }] of running) {
    try {
      // Pods run in process groups of their own: kill the whole group.
      if (group && child.pid) process.kill(-child.pid, "SIGKILL");
      else child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** Kills `child` (and its process group when `group`) if the harness exits before it does. */
export function killOnExit(child: ChildProcess, group: boolean): void {
  running.set(child, { group });
  child.once("exit", () => running.delete(child));
}

export class Component {
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    killOnExit(child, false);
    this.exited = new Promise((resolve) => {
      child.once("exit", (code) => {
        this.exitCode = code;
        resolve(code);
      });
    });
  }

  static start(name: string, bin: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Component {
    const log = createWriteStream(logFile, { flags: "a" });
    const child = spawn(bin, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    return new Component(name, child, logFile);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  /** Throws with the end of the log when the process has exited: a start that failed says why. */
  assertAlive(): void {
    if (this.alive) return;
    throw new Error(`${this.name} exited (code ${this.exitCode}); the end of ${this.logFile}:\n${this.tail(25)}`);
  }

  tail(lines: number): string {
    try {
      return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  async stop(graceMs = 10_000): Promise<void> {
    if (!this.alive) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** kill -9, for fault tests. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.child.kill("SIGKILL");
    await this.exited;
  }
}
