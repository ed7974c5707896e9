import { defineConfig } from "vitest/config";
import { natsServerBin } from "./scripts/nats-server-bin.mjs";
import SummaryReporter from "./test/support/summary-reporter.js";

// Every nats-server the tests start (and `p2p local`'s embedded one) is this release:
// NATS_SERVER_BIN, else NATS_SERVER_VERSION (default latest) built by scripts/nats-server.sh.
const NATS_SERVER_BIN = natsServerBin();

// Integration tests start real nats-servers and real processes; each file gets its own
// nats-servers on free ports and its own namespaces on the run's one real Kubernetes control
// plane (started by the global setup), so files may run in parallel, but this machine has
// two cores: keep the fan-out small.
export default defineConfig({
  test: {
    include: ["test/integration/**/*.test.ts"],
    environment: "node",
    env: { NATS_SERVER_BIN },
    reporters: ["default", new SummaryReporter("integration")],
    globalSetup: ["test/support/control-plane/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
