import type { Reporter } from "vitest/reporters";

// Prints one plain closing line per run, "<suite>: N passed, N failed[, N skipped]", after
// vitest's own summary, so that a CI reading the last line counts what ran. A file that fails
// to load or a suite whose hook fails (beforeAll, afterAll) counts as one failure of its own,
// since its tests are then skipped or never collected and would otherwise read "0 failed".

interface TaskLike {
  type: string;
  mode?: string;
  result?: { state?: string };
  tasks?: TaskLike[];
}

/** Counts tests; returns whether any failure was counted at or below these tasks. */
function count(tasks: readonly TaskLike[], totals: { passed: number; failed: number; skipped: number }): boolean {
  let failedBelow = false;
  for (const task of tasks) {
    const failedBefore = totals.failed;
    if (task.tasks) count(task.tasks, totals);
    if (task.type === "test") {
      const state = task.result?.state;
      if (state === "pass") totals.passed++;
      else if (state === "fail") totals.failed++;
      else totals.skipped++;
    } else if (task.result?.state === "fail" && totals.failed === failedBefore) {
      // A file or suite that failed with no failed test inside: a load error or a failed hook.
      totals.failed++;
    }
    if (totals.failed > failedBefore) failedBelow = true;
  }
  return failedBelow;
}

export default class SummaryReporter implements Reporter {
  constructor(private readonly suite: string) {}

  onFinished(files: readonly TaskLike[] = [], errors: readonly unknown[] = []): void {
    const totals = { passed: 0, failed: 0, skipped: 0 };
    count(files, totals);
    const failed = totals.failed + errors.length;
    const skipped = totals.skipped > 0 ? `, ${totals.skipped} skipped` : "";
    process.stdout.write(`${this.suite}: ${totals.passed} passed, ${failed} failed${skipped}\n`);
  }
}
