import { describe, expect, it } from "vitest";
import { DurationError, formatDuration, parseDuration } from "../../../operator/src/api/duration.js";

describe("parseDuration (Go's time.ParseDuration grammar)", () => {
  it.each([
    ["0", 0],
    ["0s", 0],
    ["500ms", 500],
    ["30s", 30_000],
    ["2m", 120_000],
    ["72h", 259_200_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["1h0m0s", 3_600_000],
    ["2h45m30.5s", 9_930_500],
    [".5s", 500],
    ["1.s", 1_000],
    ["1ns", 0.000001],
    ["1500us", 1.5],
    ["1500µs", 1.5],
    ["1500μs", 1.5],
    ["1ms1us", 1.001],
    ["-1.5s", -1_500],
    ["+30s", 30_000],
  ])("%s is %d ms", (text, ms) => {
    expect(parseDuration(text)).toBeCloseTo(ms, 9);
  });

  it.each([
    ["", /empty/],
    ["10 sec", /unknown unit " sec"/],
    ["30", /missing unit/],
    ["1d", /unknown unit "d"/],
    ["1H", /unknown unit "H"/],
    ["s", /expected a number/],
    [".s", /expected a number/],
    ["1h 30m", /unknown unit "h "/],
    ["one hour", /expected a number/],
    ["-", /empty/],
    ["1.2.3s", /missing unit after "1.2"/],
  ])("rejects %j with a clear error", (text, reason) => {
    expect(() => parseDuration(text)).toThrow(DurationError);
    expect(() => parseDuration(text)).toThrow(reason);
    expect(() => parseDuration(text)).toThrow(/e\.g\. 500ms, 30s/);
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [500, "500ms"],
    [1_500, "1.5s"],
    [30_000, "30s"],
    [120_000, "2m"],
    [5_400_000, "1h30m"],
    [259_200_000, "72h"],
    [90_061_001, "25h1m1.001s"],
    [1.5, "1.5ms"],
    [0.001_5, "1.5us"],
    [0.000_5, "500ns"],
    [-2_000, "-2s"],
  ])("%d ms is %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each([0, 1, 999, 1_000, 59_999, 3_600_001, 5_400_000, 86_400_000, 0.25, 123_456.789])(
    "round-trips %d ms through parseDuration",
    (ms) => {
      expect(parseDuration(formatDuration(ms))).toBeCloseTo(ms, 9);
    },
  );
});
