// Processes below a process, from /proc: what the benchmarks and the demos stop and check
// for, since pods and servers run in process groups of their own.
import { readFileSync, readdirSync } from "node:fs";

/** Every process below pid, from /proc (ppid links). */
export function descendantPids(pid) {
  const parents = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // gone
    }
  }
  const out = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift();
    for (const [child, parent] of parents) {
      if (parent === p) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}


/**
 * Who a process is: its pid and when it started (clock ticks since boot, from /proc), since
 * pids are reused (pid_max is often 32768). Null when it is gone (a zombie is gone: it has
 * exited and only waits to be reaped).
 */
export function identityOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") return null;
    const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    return { pid, startTicks: fields[19], command };
  } catch {
    return null;
  }
}

/** True while the very process `identity` names runs (not another one that got its pid). */
export function stillRunning(identity) {
  return identityOf(identity.pid)?.startTicks === identity.startTicks;
}
