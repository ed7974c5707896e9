import type { QueueReading } from "../ports/index.js";

/** Two readings of a queue that say the same (their times aside): lag, every stream and consumer counter, dead letters. */
export function sameReading(a: QueueReading, b: QueueReading): boolean {
  if (a.deadLetters !== b.deadLetters) return false;
  const x = a.queue;
  const y = b.queue;
  if (x === null || y === null) return x === y;
  return x.lag === y.lag && sameFlat(x.stream, y.stream) && sameFlat(x.consumer, y.consumer);
}

/** Objects of plain values with the same keys and values. */
function sameFlat(a: object, b: object): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  return keys.length === Object.keys(y).length && keys.every((k) => x[k] === y[k]);
}
