import { describe, expect, it } from "vitest";
import { isIsoDate } from "../../../consumer-template/src/iso-date.js";

// What the example handler accepted before: this pattern, then Date.parse not NaN.
const OLD_PATTERN = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;
const oldCheck = (s: string) => OLD_PATTERN.test(s) && !Number.isNaN(Date.parse(s));

describe("isIsoDate", () => {
  it.each([
    "2025-01-06",
    "2024-02-29",
    "2000-02-29",
    "0000-01-01",
    "2025-12-31",
    "2025-01-06T09:00Z",
    "2025-01-06T09:00:00Z",
    "2025-01-06T09:00:00.1Z",
    "2025-01-06T09:00:00.123456789Z",
    "2025-01-06T09:00:00+01:00",
    "2025-01-06T23:59:59-23:59",
    "2025-01-06T24:00Z",
    "2025-01-06T24:00:00.000+02:00",
  ])("accepts %s", (s) => {
    expect(isIsoDate(s)).toBe(true);
    expect(oldCheck(s)).toBe(true);
  });

  it.each([
    "",
    "yesterday",
    "2025-1-06",
    "2025/01/06",
    "2025-13-01",
    "2025-00-10",
    "2025-01-00",
    "2025-01-32",
    "2025-01-06T09:00",
    "2025-01-06T09Z",
    "2025-01-06 09:00Z",
    "2025-01-06T9:00Z",
    "2025-01-06T09:60Z",
    "2025-01-06T09:00:60Z",
    "2025-01-06T24:01Z",
    "2025-01-06T24:00:01Z",
    "2025-01-06T24:00:00.001Z",
    "2025-01-06T09:00:00.Z",
    "2025-01-06T09:00+24:00",
    "2025-01-06T09:00+01:60",
    "2025-01-06T09:00+0100",
    "2025-01-06T09:00Zjunk",
    "2025-01-06junk",
    "2025-01-06T09:00:00.5",
    "x2025-01-06",
  ])("refuses %s", (s) => {
    expect(isIsoDate(s)).toBe(false);
    expect(oldCheck(s)).toBe(false);
  });

  it.each(["2025-02-29", "2025-02-30", "2025-04-31", "1900-02-29", "2025-06-31T10:00Z"])(
    "refuses %s, a day its month does not have (Date.parse rolled it over into the next month)",
    (s) => {
      expect(isIsoDate(s)).toBe(false);
      expect(oldCheck(s)).toBe(true);
    },
  );

  it("agrees with the pattern and Date.parse on generated strings, but for days past the month's end", () => {
    const parts = {
      date: ["2025-01-31", "2024-02-29", "2025-02-28", "2025-09-30", "2025-13-01", "2025-00-01", "2025-1-01", "9999-12-31"],
      time: ["", "T00:00", "T23:59", "T24:00", "T24:30", "T12:60", "T12:00:59", "T12:00:60", "T24:00:00", "T12:00:00.5", "T24:00:00.0", "T12:00:00.", "T1:00"],
      zone: ["", "Z", "+00:00", "-23:59", "+24:00", "+01:60", "z", "+0100"],
    };
    let compared = 0;
    for (const date of parts.date) {
      for (const time of parts.time) {
        for (const zone of parts.zone) {
          const s = date + time + zone;
          expect([s, isIsoDate(s)]).toEqual([s, oldCheck(s)]);
          compared++;
        }
      }
    }
    expect(compared).toBe(8 * 13 * 8);
  });
});
