// Go-style durations ("500ms", "30s", "72h", "1h30m", "1.5h"), parsed once at the edge into
// milliseconds. Same grammar as Go's time.ParseDuration, which is what the apiserver's CEL
// duration() uses, so `p2p validate` and the cluster agree on what a duration is.

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3, // U+00B5 micro sign
  "μs": 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const HINT = "use a number followed by a unit (ns, us, ms, s, m, h), e.g. 500ms, 30s, 72h or 1h30m";

export class DurationError extends Error {
  override readonly name = "DurationError";
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(`invalid duration ${JSON.stringify(input)}: ${reason}; ${HINT}`);
  }
}

/** Parses a Go-style duration into milliseconds (possibly fractional below 1ms). */
export function parseDuration(input: string): number {
  if (typeof input !== "string") throw new DurationError(String(input), "not a string");
  let s = input;
  let sign = 1;
  if (s.startsWith("-") || s.startsWith("+")) {
    sign = s.startsWith("-") ? -1 : 1;
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") throw new DurationError(input, "empty");
  let totalMs = 0;
  const part = /^([0-9]*)(?:\.([0-9]*))?([^0-9.]*)/;
  while (s !== "") {
    const m = part.exec(s);
    const [whole, int = "", frac, unit = ""] = m ?? [];
    if (!m || whole === undefined || (int === "" && (frac === undefined || frac === ""))) {
      throw new DurationError(input, `expected a number at ${JSON.stringify(s)}`);
    }
    if (unit === "") throw new DurationError(input, `missing unit after ${JSON.stringify(whole)}`);
    const unitMs = UNIT_MS[unit];
    if (unitMs === undefined) throw new DurationError(input, `unknown unit ${JSON.stringify(unit)}`);
    totalMs += Number(`${int || "0"}.${frac || "0"}`) * unitMs;
    s = s.slice(whole.length);
  }
  if (!Number.isFinite(totalMs)) throw new DurationError(input, "out of range");
  return sign * roundToNs(totalMs);
}

/** Formats milliseconds compactly, Go-style: 5400000 -> "1h30m", 1500 -> "1.5s", 0 -> "0s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`cannot format ${ms} as a duration`);
  if (ms === 0) return "0s";
  if (ms < 0) return `-${formatDuration(-ms)}`;
  // Work in whole nanoseconds so that the output parses back to the same value.
  let ns = Math.round(ms * 1e6);
  if (ns < 1e6) {
    if (ns < 1e3) return `${ns}ns`;
    return `${trimZeros(ns / 1e3)}us`;
  }
  if (ns < 1e9) return `${trimZeros(ns / 1e6)}ms`;
  let out = "";
  const hours = Math.floor(ns / 3.6e12);
  ns -= hours * 3.6e12;
  const minutes = Math.floor(ns / 6e10);
  ns -= minutes * 6e10;
  if (hours > 0) out += `${hours}h`;
  if (minutes > 0) out += `${minutes}m`;
  if (ns > 0) out += `${trimZeros(ns / 1e9)}s`;
  return out;
}

function trimZeros(n: number): string {
  return String(Number(n.toFixed(9)));
}

function roundToNs(ms: number): number {
  return Math.round(ms * 1e6) / 1e6;
}
