import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../..");
const FIXTURES = join(import.meta.dirname, "fixtures/summary");

it("counts a failed beforeAll and a file that fails to load as failures in the closing line", () => {
  const run = spawnSync(process.execPath, [join(ROOT, "node_modules/vitest/vitest.mjs"), "run", "--root", FIXTURES, "--config", join(FIXTURES, "vitest.config.ts")], {
    encoding: "utf8",
    timeout: 60_000,
  });
  const last = run.stdout.trim().split("\n").at(-1);
  expect(last).toBe("fixture: 1 passed, 2 failed, 1 skipped");
  expect(run.status).not.toBe(0);
}, 60_000);
