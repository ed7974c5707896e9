import { defineConfig } from "vitest/config";
import SummaryReporter from "./test/support/summary-reporter.js";

// Integration tests start real nats-servers, real processes and the Kubernetes API test
// server; each file gets its own servers on free ports, so files may run in parallel,
// but this machine has two cores: keep the fan-out small.
export default defineConfig({
  test: {
    include: ["test/integration/**/*.test.ts"],
    environment: "node",
    reporters: ["default", new SummaryReporter("integration")],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
