// node bench/lib/profile-summary.mjs FILE.cpuprofile [TOP] [--last SECONDS | --from HH:MM:SS --for SECONDS]:
// self time by function and by package/file, from a `node --cpu-prof` profile. Used to say where
// the time goes. --last keeps the samples of the profile's last SECONDS only; --from/--for a
// window in UTC wall-clock time (a benchmark's log times its phases), placed by the start time
// node writes into the file's name (CPU.YYYYMMDD.HHMMSS.pid...; to the second).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { positionals, values } = parseArgs({ allowPositionals: true, options: { last: { type: "string" }, from: { type: "string" }, for: { type: "string" } } });
const [file, topArg] = positionals;
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8"));
const window = sampleWindow(values);
if (window) {
  // timeDeltas[i] is the time (µs) from sample i-1 to sample i.
  let t = 0;
  const times = profile.timeDeltas.map((d) => (t += d));
  const [fromUs, toUs] = window(t);
  profile.samples = profile.samples.filter((_, i) => times[i] >= fromUs && times[i] < toUs);
}

/** The window to keep, as a function of the profile's length (µs from its start), or null for all of it. */
function sampleWindow({ last, from, for: length }) {
  if (last !== undefined) return (endUs) => [endUs - Number(last) * 1e6, Number.POSITIVE_INFINITY];
  if (from === undefined) return null;
  const [, ymd, hms] = /CPU\.(\d{8})\.(\d{6})\./.exec(file) ?? [];
  if (!ymd || !hms) throw new Error(`--from needs node's file name (CPU.YYYYMMDD.HHMMSS...): ${file}`);
  const iso = (d, t) => `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${t}Z`;
  const startedMs = Date.parse(iso(ymd, `${hms.slice(0, 2)}:${hms.slice(2, 4)}:${hms.slice(4, 6)}`));
  const fromUs = (Date.parse(iso(ymd, from)) - startedMs) * 1000;
  return () => [fromUs, fromUs + Number(length ?? 30) * 1e6];
}
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfTicks = new Map();
for (const id of profile.samples) selfTicks.set(id, (selfTicks.get(id) ?? 0) + 1);
// Percentages are of the busy samples: idle is reported apart.
const idleIds = new Set(profile.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) => n.id));
const idle = profile.samples.filter((id) => idleIds.has(id)).length;
for (const id of idleIds) selfTicks.delete(id);
const total = profile.samples.length - idle;

// Inclusive time: a sample counts once for every distinct function on its stack.
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const frameName = (n) => {
  const cf = n.callFrame;
  const where = cf.url ? cf.url.replace(/^file:\/\//, "").replace(/.*node_modules\//, "nm:").replace(/.*\/work\/main\//, "") : "(native)";
  return `${cf.functionName || "(anonymous)"} ${where}:${cf.lineNumber + 1}`;
};
const inclusive = new Map();
for (const [id, ticks] of selfTicks) {
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const name = frameName(byId.get(cur));
    if (!seen.has(name)) {
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + ticks);
    }
  }
}

const byFunction = new Map();
const byFile = new Map();
for (const [id, ticks] of selfTicks) {
  const { callFrame } = byId.get(id);
  const where = callFrame.url ? callFrame.url.replace(/^file:\/\//, "").replace(/.*node_modules\//, "nm:").replace(/.*\/work\/main\//, "") : "(native)";
  const fn = `${callFrame.functionName || "(anonymous)"} ${where}:${callFrame.lineNumber + 1}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + ticks);
  const pkg = where.startsWith("nm:") ? where.split("/").slice(0, where.startsWith("nm:@") ? 2 : 1).join("/") : where.startsWith("node:") ? "node:internal" : where;
  byFile.set(pkg, (byFile.get(pkg) ?? 0) + ticks);
}
const pct = (t) => `${((100 * t) / total).toFixed(1)}%`.padStart(6);
const show = (title, map) => {
  console.log(`\n${title}`);
  for (const [k, t] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
};
console.log(`${file}: ${total} busy samples, ${idle} idle (${((100 * idle) / (idle + total)).toFixed(0)}% of the process's life)`);
show("self time by package/file", byFile);
show("self time by function", byFunction);
show("inclusive time by function", inclusive);
