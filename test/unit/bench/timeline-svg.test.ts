import { describe, expect, it } from "vitest";
import { niceCeiling, timelineSvg } from "../../../bench/lib/timeline-svg.mjs";

// The burst picture: checked by reading the drawn coordinates back, not by eye.

const ours = { name: "ours", lag: [[0, 0], [2, 3000], [10, 1000], [20, 0]] as Array<[number, number]>, replicas: [[0, 1], [3, 5], [5, 8], [30, 1]] as Array<[number, number]> };
const keda = { name: "KEDA <emulated> & HPA", dashed: true, lag: [[0, 0], [2, 3000], [40, 0]] as Array<[number, number]>, replicas: [[0, 1], [15, 5], [40, 5]] as Array<[number, number]> };

function polyline(svg: string, series: string, metric: string): Array<[number, number]> {
  const m = new RegExp(`<polyline data-series="${series}" data-metric="${metric}"[^>]* points="([^"]*)"`).exec(svg);
  if (!m) throw new Error(`no ${metric} line for ${series}`);
  return m[1]!.split(" ").map((p) => p.split(",").map(Number) as [number, number]);
}

/** Every element either self-closes or is closed in order: the document is well formed. */
function unbalancedTags(svg: string): string[] {
  const stack: string[] = [];
  for (const [, closing, name, selfClosing] of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
    if (selfClosing) continue;
    if (!closing) stack.push(name!);
    else if (stack.pop() !== name) return [`</${name}> closes the wrong element`];
  }
  return stack;
}

describe("timelineSvg", () => {
  const svg = timelineSvg({ title: "burst of 36000: lag & replicas", subtitle: "2 cores", series: [ours, keda] });

  it("is a well-formed SVG document with the title, legend and axis labels escaped", () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(unbalancedTags(svg)).toEqual([]);
    expect(svg).toContain(">burst of 36000: lag &amp; replicas<");
    expect(svg).toContain(">KEDA &lt;emulated&gt; &amp; HPA<");
    expect(svg).toContain(">seconds since the burst<");
  });

  it("draws lag to scale: time runs left to right on one axis for both runs, higher lag is higher up", () => {
    const a = polyline(svg, "ours", "lag");
    const b = polyline(svg, "KEDA &lt;emulated&gt; &amp; HPA", "lag");
    expect(a).toHaveLength(4);
    // Same instant, same x, whichever run.
    expect(a[1]![0]).toBe(b[1]![0]);
    // The peak (3000) is the highest point; lag 0 lies on the panel's baseline for both runs.
    expect(a[1]![1]).toBeLessThan(a[2]![1]);
    expect(a[0]![1]).toBe(a[3]![1]);
    expect(b[2]![1]).toBe(a[3]![1]);
    // 20 s is half of 40 s from the axis.
    const x0 = a[0]![0];
    expect(a[3]![0] - x0).toBeCloseTo((b[2]![0] - x0) / 2, 0);
  });

  it("draws replicas as steps: a count holds until the next change", () => {
    const r = polyline(svg, "ours", "replicas");
    // 1 until 3 s, then 5: the point at 3 s is drawn at the old height first.
    expect(r.map(([, y]) => y).slice(0, 3)).toEqual([r[0]![1], r[0]![1], r[2]![1]]);
    expect(r[1]![0]).toBe(r[2]![0]);
    expect(r[2]![1]).toBeLessThan(r[0]![1]);
  });

  it.each([
    [7, 8],
    [36_000, 40_000],
    [4_100, 5_000],
    [1, 1],
  ])("rounds an axis of %d up to %d", (v, expected) => {
    expect(niceCeiling(v)).toBe(expected);
  });
});
