/** 300000 -> "5m", 90000 -> "1m30s", 1500 -> "1.5s", 250 -> "250ms": Go-style, like the spec. */
export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const parts: string[] = [];
  let rest = ms;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  if (hours) parts.push(`${hours}h`);
  if (minutes) parts.push(`${minutes}m`);
  if (rest) parts.push(`${Number((rest / 1000).toFixed(3))}s`);
  return parts.join("");
}

/** A rate for a reason string: 3 significant-ish digits, no noise. */
export function formatRate(perSec: number): string {
  if (perSec >= 100) return `${Math.round(perSec)}/s`;
  if (perSec >= 10) return `${Number(perSec.toFixed(1))}/s`;
  return `${Number(perSec.toFixed(2))}/s`;
}
