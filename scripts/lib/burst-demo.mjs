// What `npm run demo` and `npm run demo:kubernetes` share: with the channel running somewhere
// (p2p local, or a local Kubernetes control plane), publish a burst with `p2p publish`, show
// lag and replicas as the consumers drain it and as the channel goes back to minReplicas,
// draw the run as an SVG, and end with the one summary line, counted from the consumers'
// P2P_RECORD_FILE (one Nats-Msg-Id per processed message):
//
//   demo: published=N processed=N lost=0 duplicates=D maxReplicas=R drainSeconds=S
//
// The environment feeds snapshots of the channel through update(): {ready, lag, readyReplicas,
// desiredReplicas, lastScaleReason, ratePerSec, conditions (the problems)}.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timelineSvg } from "../../bench/lib/timeline-svg.mjs";
import { ROOT } from "./local-cluster.mjs";

export const CLI = join(ROOT, "operator/dist/cli/main.js");

/** Exits with a hint when the workspaces are not built. */
export function requireBuilt(command) {
  if (existsSync(CLI) && existsSync(join(ROOT, "consumer-template/dist/main.js"))) return;
  console.error(`demo: not built; run \`${command}\` (its pre step builds), or \`npm run build\` first`);
  process.exit(1);
}

export class BurstDemo {
  /**
   * @param {object} o
   * @param {string} o.work a temp folder for the record file (removed when the demo passes)
   * @param {number} o.count messages in the burst
   * @param {string} o.channelKey namespace/name, for the picture
   * @param {string} o.channelFile the channel's manifest (`p2p publish` reads its subjects)
   * @param {number} o.minReplicas where the scale-down ends
   * @param {string} o.title the picture's title
   * @param {number} o.deadlineMs no wait goes on past this long after the start
   */
  constructor({ work, count, channelKey, channelFile, minReplicas, title, deadlineMs }) {
    Object.assign(this, { work, count, channelKey, channelFile, minReplicas, title });
    this.deadline = Date.now() + deadlineMs;
    this.recordFile = join(work, "processed.txt");
    this.idPrefix = `demo-${Date.now().toString(36)}-`;
    this.t0 = Date.now();
    this.latest = null;
    this.exited = null;
    this.timeline = [];
    this.publishStart = null;
    this.waiters = new Set();
    this.published = 0;
    this.maxReplicas = 0;
    this.drainSeconds = null;
    this.failure = null;
  }

  say(text) {
    console.log(`[${String(Math.round((Date.now() - this.t0) / 1000)).padStart(3)}s] ${text}`);
  }

  /** A new snapshot of the channel. */
  update(snapshot) {
    this.latest = snapshot;
    if (this.publishStart !== null) this.timeline.push({ t: (Date.now() - this.publishStart) / 1000, lag: snapshot.lag ?? 0, replicas: snapshot.readyReplicas ?? 0 });
    this.wake();
  }

  /** The environment ended (p2p local or the control plane exited): waits fail with `description`. */
  environmentExited(description) {
    this.exited = description;
    this.wake();
  }

  wake() {
    for (const w of this.waiters) w();
  }

  /** Resolves once pred() holds; rejects when the environment exits or after timeoutMs. */
  until(what, pred, timeoutMs) {
    const end = Math.min(this.deadline, Date.now() + timeoutMs);
    return new Promise((resolve, reject) => {
      const check = () => {
        if (pred()) return done(resolve);
        if (this.exited) return done(() => reject(new Error(`${this.exited} while waiting for ${what}`)));
        if (Date.now() > end) return done(() => reject(new Error(`timed out waiting for ${what}`)));
      };
      const timer = setInterval(check, 200);
      const done = (fn) => {
        clearInterval(timer);
        this.waiters.delete(check);
        fn();
      };
      this.waiters.add(check);
      check();
    });
  }

  processedIds() {
    let text = "";
    try {
      text = readFileSync(this.recordFile, "utf8");
    } catch {
      return { lines: 0, unique: new Set() };
    }
    const ids = text.split("\n").filter((l) => l.startsWith(this.idPrefix));
    return { lines: ids.length, unique: new Set(ids) };
  }

  /**
   * Waits for the channel to be Ready, publishes the burst to natsUrl, waits for the drain and
   * the way back to minReplicas. Never throws: a failure is printed and kept for summary().
   */
  async run(natsUrl, { readyTimeoutMs = 60_000, drainTimeoutMs = 90_000, scaleDownTimeoutMs = 90_000 } = {}) {
    let ticker = null;
    try {
      await this.until("the channel to be Ready", () => this.latest?.ready === "True" && this.latest.readyReplicas >= 1, readyTimeoutMs);
      this.say(`channel ${this.channelKey} is Ready with ${this.latest.readyReplicas} replica(s); publishing ${this.count} events`);
      this.publishStart = Date.now();
      ticker = this.startTicker();
      const { code, report } = await this.publish(natsUrl);
      this.published = report.acked;
      this.say(`published: acked=${report.acked} duplicates=${report.duplicates} errors=${report.errors} at ${report.ratePerSec} msg/s`);
      if (code !== 0) throw new Error(`p2p publish failed: ${report.firstError ?? `exit ${code}`}`);

      await this.until("the burst to drain", () => {
        this.maxReplicas = Math.max(this.maxReplicas, this.latest?.readyReplicas ?? 0);
        return this.latest?.lag === 0 && this.processedIds().unique.size >= this.published;
      }, drainTimeoutMs);
      this.drainSeconds = Math.round((Date.now() - this.publishStart) / 100) / 10;
      this.say(`drained in ${this.drainSeconds}s; waiting for the scale-down to minReplicas`);

      const min = this.minReplicas;
      await this.until(`replicas back at ${min}`, () => this.latest?.desiredReplicas === min && this.latest?.readyReplicas === min, scaleDownTimeoutMs);
      this.say(`scaled down to ${min}: ${this.latest.lastScaleReason}`);
    } catch (err) {
      this.failure = err;
      const l = this.latest;
      console.error(`demo: ${err.message}${l ? ` (last status: lag ${l.lag}, replicas ${l.readyReplicas}/${l.desiredReplicas}${problems(l) ? `, ${problems(l)}` : ""})` : ""}`);
    } finally {
      if (ticker) clearInterval(ticker);
    }
  }

  /** A line when something moved (lag, replicas, processed, a scale decision), else every 5 s. */
  startTicker() {
    let lastLine = "";
    let lastPrintedAt = 0;
    return setInterval(() => {
      const l = this.latest;
      if (!l) return;
      this.maxReplicas = Math.max(this.maxReplicas, l.readyReplicas ?? 0);
      const p = this.processedIds().unique.size;
      const issue = problems(l);
      const line =
        `lag ${String(l.lag ?? "-").padStart(5)}  replicas ${l.readyReplicas ?? 0}/${l.desiredReplicas ?? "-"}  ` +
        `processed ${String(p).padStart(String(this.count).length)}/${this.published || this.count}  last scale: ${l.lastScaleReason ?? "-"}${issue ? `  [${issue}]` : ""}`;
      if (line === lastLine && Date.now() - lastPrintedAt < 5_000) return;
      lastLine = line;
      lastPrintedAt = Date.now();
      const rate = l.ratePerSec === null || l.ratePerSec === undefined || !l.lag ? "" : `  (arrivals ~${Math.round(l.ratePerSec)}/s)`;
      this.say(line + rate);
    }, 1_000);
  }

  publish(natsUrl) {
    return new Promise((resolve, reject) => {
      const args = [CLI, "publish", this.channelFile, "--count", String(this.count), "--nats-url", natsUrl, "--id-prefix", this.idPrefix];
      const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.on("exit", (code) => {
        try {
          resolve({ code, report: JSON.parse(out.trim().split("\n").pop()) });
        } catch {
          reject(new Error(`p2p publish exited ${code} without a report`));
        }
      });
    });
  }

  /** Prints the picture's path and the summary line; removes the work folder when the demo passed. Returns whether it did. */
  summary() {
    const picture = this.writePicture();
    if (picture) console.log(`demo: lag and replicas of this run: ${picture}`);
    const { lines, unique } = this.processedIds();
    let lost = 0;
    for (let i = 0; i < this.published; i++) if (!unique.has(`${this.idPrefix}${i}`)) lost++;
    console.log(
      `demo: published=${this.published} processed=${unique.size} lost=${lost} duplicates=${lines - unique.size} maxReplicas=${this.maxReplicas} drainSeconds=${this.drainSeconds ?? "-"}`,
    );
    const ok = lost === 0 && this.published === this.count && !this.failure;
    if (ok) rmSync(this.work, { recursive: true, force: true });
    else console.error(`demo: logs kept in ${this.work}`);
    return ok;
  }

  /** An SVG of this run's lag and replicas, beside the work dir (which goes on success). */
  writePicture() {
    if (this.timeline.length === 0) return null;
    const file = join(tmpdir(), `p2p-demo-${new Date(this.t0).toISOString().replace(/[:.]/g, "-")}.svg`);
    const svg = timelineSvg({
      title: this.title,
      subtitle: `${this.channelKey}, from examples/immunisation/channel.yaml`,
      series: [{ name: "p2p-operator", lag: this.timeline.map((p) => [p.t, p.lag]), replicas: this.timeline.map((p) => [p.t, p.replicas]) }],
    });
    writeFileSync(file, svg);
    return file;
  }
}

function problems(snap) {
  return (snap?.conditions ?? []).map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`).join("; ");
}

/** minReplicas as written in a channel manifest (defaults to 1, as the API does). */
export function minReplicasIn(manifestText) {
  const m = /minReplicas:\s*(\d+)/.exec(manifestText);
  return m ? Number(m[1]) : 1;
}
