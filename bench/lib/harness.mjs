// Shared plumbing for the benchmarks: child processes that are always cleaned up, a hard
// deadline per benchmark, a real nats-server, the machine's description, and the one JSON line.
import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { natsServerBin } from "../../scripts/nats-server-bin.mjs";
import { alive, descendantPids } from "../../scripts/lib/process-tree.mjs";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
// The release the benchmarks measure (NATS_SERVER_VERSION, default latest), for every server
// they start and for the machine's description.
process.env.NATS_SERVER_BIN = natsServerBin();
export { sleep };

const children = new Set();
const cleanups = [];
let cleaningUp = null;

/** Runs fn when the benchmark ends, however it ends (last registered runs first). */
export function onCleanup(fn) {
  cleanups.push(fn);
}

/** A child process that is killed (its whole process group) when the benchmark ends. */
export function spawnChild(command, args, options = {}) {
  const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true, ...options });
  children.add(child);
  child.exitedPromise = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  child.exitedPromise.then(() => children.delete(child));
  return child;
}

/**
 * SIGTERM, then SIGKILL after graceMs; resolves when it has exited. Descendants in process
 * groups of their own (`p2p local` starts its replicas and nats-server so) are killed too
 * when the child had to be killed, or when they outlive it.
 */
export async function stopChild(child, graceMs = 5_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  let descendants = descendantPids(child.pid);
  const refresh = setInterval(() => {
    const now = descendantPids(child.pid);
    if (now.length > 0) descendants = [...new Set([...descendants, ...now])];
  }, 200);
  signalGroup(child, "SIGTERM");
  const timer = setTimeout(() => {
    signalGroup(child, "SIGKILL");
    killPids(descendants);
  }, graceMs);
  await child.exitedPromise;
  clearTimeout(timer);
  clearInterval(refresh);
  killPids(descendants.filter(alive));
}

function killPids(pids) {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

export async function cleanup() {
  cleaningUp ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`bench cleanup: ${err?.message ?? err}\n`);
      }
    }
    await Promise.all([...children].map((c) => stopChild(c, 3_000)));
  })();
  return cleaningUp;
}

// Last resort: no child outlives the benchmark, even on an uncaught error.
process.on("exit", () => {
  for (const c of children) {
    const below = descendantPids(c.pid);
    signalGroup(c, "SIGKILL");
    killPids(below);
  }
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

/**
 * Runs a benchmark: main() resolves to the result object, printed as ONE JSON line on stdout.
 * A hard deadline ends it (with an error line) if it hangs; children and servers are always stopped.
 */
export async function runBenchmark(name, deadlineMs, main) {
  const started = Date.now();
  const deadline = setTimeout(() => {
    process.stdout.write(`${JSON.stringify({ bench: name, error: `deadline of ${deadlineMs / 1000}s exceeded` })}\n`);
    void cleanup().finally(() => process.exit(1));
  }, deadlineMs);
  deadline.unref();
  let code = 0;
  try {
    const result = await main();
    const line = { bench: name, ...result, machine: machine(), seconds: round((Date.now() - started) / 1000, 1) };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ bench: name, error: String(err?.stack ?? err) })}\n`);
    code = 1;
  } finally {
    clearTimeout(deadline);
    await cleanup();
  }
  process.exit(code);
}

export function log(message) {
  if (process.env.BENCH_QUIET !== "1") process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${message}\n`);
}

export function round(x, digits = 2) {
  if (x === null || x === undefined || Number.isNaN(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

let machineInfo = null;
export function machine() {
  if (machineInfo) return machineInfo;
  let natsServer = null;
  try {
    natsServer = execFileSync(process.env.NATS_SERVER_BIN, ["--version"], { encoding: "utf8" }).trim().replace(/^nats-server:\s*/, "");
  } catch {
    natsServer = null;
  }
  let cpuModel = cpus()[0]?.model ?? null;
  try {
    cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpuModel;
  } catch {
    // not Linux
  }
  machineInfo = { nproc: cpus().length, cpu: cpuModel, node: process.version, natsServer };
  return machineInfo;
}

/** Resolves when predicate() is truthy, polling every intervalMs; rejects after timeoutMs. */
export async function waitFor(what, predicate, { timeoutMs = 30_000, intervalMs = 50 } = {}) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Collects a child's output lines; keeps the last few for error messages. */
export function lines(stream, onLine) {
  let buffered = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      onLine(line);
    }
  });
}

/** CPU seconds (utime + stime, in clock ticks of USER_HZ = 100 on Linux) from a /proc stat file of a process or a thread. */
function cpuSecondsOf(statPath) {
  const stat = readFileSync(statPath, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds and VmRSS in bytes of a process. */
export function procStats(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s*(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuSeconds: cpuSecondsOf(`/proc/${pid}/stat`), rssBytes: rssKb * 1024 };
}

/**
 * CPU seconds of a process's main thread (JavaScript, and the GC work done on it) and of all its
 * other threads together (for node: V8's GC and compiler helpers, the libuv thread pool).
 */
export function threadCpuSeconds(pid) {
  const out = { main: 0, otherThreads: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out[Number(tid) === pid ? "main" : "otherThreads"] += cpuSecondsOf(`/proc/${pid}/task/${tid}/stat`);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** A real nats-server (JetStream, file storage, loopback) with its monitoring port; stopped at cleanup. */
export async function startNats() {
  const { NatsServerProcess, freePort } = await import("../../operator/dist/local/index.js");
  const monitorPort = await freePort();
  const server = await NatsServerProcess.start({ extraConfig: `http: "127.0.0.1:${monitorPort}"` });
  onCleanup(() => server.stop());
  return { server, url: server.url, monitorUrl: `http://127.0.0.1:${monitorPort}` };
}
