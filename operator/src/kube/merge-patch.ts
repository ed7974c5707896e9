import { isDeepStrictEqual } from "node:util";

/**
 * The RFC 7386 JSON merge patch that turns `before` into `after`: changed keys carry their new
 * value, removed keys null, unchanged keys nothing. Arrays are replaced whole.
 */
export function mergePatch(before: unknown, after: unknown): unknown {
  if (!isPlainObject(before) || !isPlainObject(after)) return after;
  const patch: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(after)) {
    if (value === undefined) continue;
    const old = before[key];
    if (isDeepStrictEqual(old, value)) continue;
    patch[key] = isPlainObject(old) && isPlainObject(value) ? mergePatch(old, value) : value;
  }
  for (const key of Object.keys(before)) {
    if (before[key] !== undefined && (!(key in after) || after[key] === undefined)) patch[key] = null;
  }
  return patch;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
