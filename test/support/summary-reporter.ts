import type { Reporter } from "vitest/reporters";

// Prints one plain closing line per run, "<suite>: N passed, N failed[, N skipped]", after
// vitest's own summary, so that a CI reading the last line counts what ran.

interface TaskLike {
  type: string;
  mode?: string;
  result?: { state?: string };
  tasks?: TaskLike[];
}

function count(tasks: readonly TaskLike[], totals: { passed: number; failed: number; skipped: number }): void {
  for (const task of tasks) {
    if (task.tasks) count(task.tasks, totals);
    if (task.type !== "test") continue;
    const state = task.result?.state;
    if (state === "pass") totals.passed++;
    else if (state === "fail") totals.failed++;
    else totals.skipped++;
  }
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
