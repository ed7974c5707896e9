// npm run test:nats-compat [VERSION...]: the NATS-facing integration suites on each nats-server
// release we support (scripts/nats-server.sh --list: 2.9, 2.10, 2.11, 2.12, latest), one
// release after the other, then a version-by-suite table. Exit 1 if any test failed anywhere.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { natsServerBinFor } from "./nats-server-bin.mjs";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** The suites that talk to NATS and nothing else (no Kubernetes API). */
const SUITES = ["test/integration/nats", "test/integration/cluster", "test/integration/local", "test/integration/consumer-template", "test/integration/support"];

const asked = process.argv.slice(2);
const versions = asked.length > 0 ? asked : run("bash", ["scripts/nats-server.sh", "--list"]).stdout.trim().split("\n");
const work = mkdtempSync(join(tmpdir(), "p2p-nats-compat-"));
const rows = [];

for (const version of versions) {
  const bin = natsServerBinFor(version);
  const release = run(bin, ["--version"]).stdout.trim().replace(/^nats-server:\s*/, "");
  process.stderr.write(`\nnats-compat: ${version} (${release}, ${bin})\n`);
  const report = join(work, `${version}.json`);
  // These suites need no Kubernetes: the control plane stays off.
  const env = { ...process.env, NATS_SERVER_BIN: bin, NATS_SERVER_VERSION: version, P2P_CONTROL_PLANE: "off" };
  const vitest = spawnSync("npx", ["vitest", "run", "--config", "vitest.integration.config.ts", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...SUITES], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  rows.push({ version, release, counts: countsBySuite(report), exit: vitest.status });
}
rmSync(work, { recursive: true, force: true });

const header = ["nats-server", ...SUITES.map((s) => s.replace("test/integration/", ""))];
const table = [header, ...rows.map((r) => [`${r.version} (${r.release})`, ...SUITES.map((s) => cell(r.counts.get(s)))])];
const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)));
process.stdout.write(`\n${table.map((row) => row.map((c, i) => c.padEnd(widths[i])).join("  ")).join("\n")}\n`);

const passed = rows.reduce((n, r) => n + [...r.counts.values()].reduce((m, c) => m + c.passed, 0), 0);
const failed = rows.reduce((n, r) => n + [...r.counts.values()].reduce((m, c) => m + c.failed, 0), 0);
// A run that exited non-zero without a failed test (a crash, a file that did not load) counts once.
const broken = rows.filter((r) => r.exit !== 0 && [...r.counts.values()].every((c) => c.failed === 0)).length;
process.stdout.write(`nats-compat: ${passed} passed, ${failed + broken} failed\n`);
process.exit(failed + broken > 0 ? 1 : 0);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status}`);
  return r;
}

/** suite folder -> {passed, failed, skipped}, from vitest's JSON report. */
function countsBySuite(reportPath) {
  const counts = new Map();
  let report;
  try {
    report = JSON.parse(readFileSync(reportPath, "utf8"));
  } catch {
    return counts;
  }
  for (const file of report.testResults ?? []) {
    const path = relative(ROOT, file.name);
    const suite = SUITES.find((s) => path.startsWith(`${s}/`));
    if (!suite) continue;
    const c = counts.get(suite) ?? { passed: 0, failed: 0, skipped: 0 };
    for (const t of file.assertionResults ?? []) {
      if (t.status === "passed") c.passed++;
      else if (t.status === "failed") c.failed++;
      else c.skipped++;
    }
    // A file that failed to load has no test results but is a failure all the same.
    if ((file.assertionResults ?? []).length === 0 && file.status === "failed") c.failed++;
    counts.set(suite, c);
  }
  return counts;
}

function cell(c) {
  if (!c) return "-";
  return `${c.passed} ok${c.failed ? ` ${c.failed} FAILED` : ""}${c.skipped ? ` ${c.skipped} skipped` : ""}`;
}
