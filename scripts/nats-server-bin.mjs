// The nats-server binary the tests and benchmarks run: NATS_SERVER_BIN when set, else the
// release NATS_SERVER_VERSION names (default `latest`), built once by scripts/nats-server.sh.
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const script = join(dirname(fileURLToPath(import.meta.url)), "nats-server.sh");

/** The path of the binary for `version` (2.11.4, 2.11, latest, 2.9); builds it on first use. */
export function natsServerBinFor(version) {
  const out = execFileSync("bash", [script, version], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const path = out.trim().split("\n").pop();
  if (!path) throw new Error(`scripts/nats-server.sh ${version} printed no path`);
  return path;
}

export function natsServerBin(env = process.env) {
  return env.NATS_SERVER_BIN || natsServerBinFor(env.NATS_SERVER_VERSION || "latest");
}
