// npm run bench: builds both workspaces, then runs every benchmark in sequence. Each prints
// ONE JSON line on stdout (passed through here); progress goes to stderr. Exit 1 if any
// benchmark failed to produce its figures. Budget: under ten minutes on a 2-core machine.
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const BENCHES = ["consumer-throughput.mjs", "burst-drain.mjs", "operator-scale.mjs"];
const only = process.argv.slice(2);
const started = Date.now();
const BUDGET_MS = 10 * 60_000;

const build = spawnSync("npm", ["run", "build", "--silent", "--workspaces"], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
if (build.status !== 0) {
  process.stderr.write("bench: the build failed\n");
  process.exit(1);
}

let failed = 0;
let current = null;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    // Each benchmark cleans up its own servers and children on SIGTERM.
    current?.kill("SIGTERM");
    process.exitCode = 130;
  });
}
for (const file of BENCHES.filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))) {
  process.stderr.write(`\nbench: ${file}\n`);
  const left = BUDGET_MS - (Date.now() - started);
  const code = await new Promise((resolve) => {
    current = spawn(process.execPath, [`bench/${file}`], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    // The whole run stays within its ten minutes: a benchmark still running then is stopped
    // (it cleans up on SIGTERM) and counts as failed.
    const guard = setTimeout(() => {
      process.stderr.write(`bench: ${file} stopped: the ten-minute budget is spent\n`);
      current?.kill("SIGTERM");
    }, Math.max(1_000, left));
    let out = "";
    current.stdout.on("data", (chunk) => (out += chunk));
    current.on("exit", (c) => {
      clearTimeout(guard);
      let ok = c === 0;
      for (const line of out.split("\n").filter((l) => l.startsWith("{"))) {
        process.stdout.write(`${line}\n`);
        if (JSON.parse(line).error) ok = false;
      }
      resolve(ok ? 0 : 1);
    });
  });
  current = null;
  if (code !== 0) failed++;
  if (process.exitCode === 130) break;
}
process.stderr.write(`\nbench: done in ${Math.round((Date.now() - started) / 1000)} s${failed ? `, ${failed} failed` : ""}\n`);
process.exit(failed ? 1 : (process.exitCode ?? 0));
