import { describe, expect, it } from "vitest";
import { operatorMetrics } from "../../../operator/src/controller/metrics.js";

/** The value of an unlabelled series in Prometheus text. */
function valueOf(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`${name} is not in the scrape`);
  return Number(line.slice(name.length + 1));
}

describe("the operator's process metrics", () => {
  it("reads memory, heap and CPU at each scrape", () => {
    const metrics = operatorMetrics();
    const first = metrics.registry.render();
    expect(first).toContain("# TYPE process_cpu_seconds_total counter");
    const rss = valueOf(first, "process_resident_memory_bytes");
    expect(rss).toBeGreaterThan(10 * 2 ** 20);
    expect(valueOf(first, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
    expect(valueOf(first, "nodejs_heap_size_used_bytes")).toBeLessThanOrEqual(valueOf(first, "nodejs_heap_size_total_bytes"));
    const started = valueOf(first, "process_start_time_seconds");
    expect(started).toBeLessThanOrEqual(Date.now() / 1000);
    expect(started).toBeGreaterThan(Date.now() / 1000 - process.uptime() - 2);

    // CPU spent between two scrapes shows in the second.
    const cpuBefore = valueOf(first, "process_cpu_seconds_total");
    const until = performance.now() + 50;
    let spin = 0;
    while (performance.now() < until) spin++;
    expect(spin).toBeGreaterThan(0);
    expect(valueOf(metrics.registry.render(), "process_cpu_seconds_total")).toBeGreaterThan(cpuBefore);
  });
});
