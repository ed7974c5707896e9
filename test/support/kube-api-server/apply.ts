// Server-side apply and managedFields, simplified: each manager owns a set of leaf
// field paths. Apply merges the applied configuration (lists merge by their keys),
// removes what the manager applied before and no longer applies (unless someone else
// owns it), and reports a conflict when another manager owns a field it would change.
// Other writes move ownership of the fields they change to their manager.
import { ApiError } from "./errors.js";
import { clone, deepEqual, isObject, nowTimestamp } from "./objects.js";
import type { JsonObject, KubeObject, ManagedFieldsEntry } from "./objects.js";
import { STRATEGIC_MERGE_KEYS } from "./patch.js";
import type { JsonSchema } from "./schema.js";

/** How list elements are identified: merge-key names, "set" (by value) or atomic. */
export type ListKeys = (fieldPath: string[]) => string[] | "set" | "atomic";

/** A leaf path: segments like "f:spec", 'k:{"name":"c"}', 'v:"x"'. */
type FieldPath = string[];

const SEP = "\u0000";

export function builtinListKeys(fieldPath: string[]): string[] | "set" | "atomic" {
  const field = fieldPath[fieldPath.length - 1]?.replace(/^f:/, "") ?? "";
  const key = STRATEGIC_MERGE_KEYS[field];
  if (key === undefined) return "atomic";
  return key === "" ? "set" : [key];
}

/** List keys from a CRD's structural schema (metadata lists use built-in keys). */
export function schemaListKeys(root: JsonSchema | undefined): ListKeys {
  return (fieldPath) => {
    if (fieldPath[0] === "f:metadata") return builtinListKeys(fieldPath);
    let schema: JsonSchema | undefined = root;
    for (const segment of fieldPath) {
      if (!schema) break;
      if (segment.startsWith("f:")) {
        const name = segment.slice(2);
        schema = schema.properties?.[name] ?? (isObject(schema.additionalProperties) ? (schema.additionalProperties as JsonSchema) : undefined);
      } else {
        schema = schema.items;
      }
    }
    if (!schema) return "atomic";
    if (schema["x-kubernetes-list-type"] === "map") return schema["x-kubernetes-list-map-keys"] ?? [];
    if (schema["x-kubernetes-list-type"] === "set") return "set";
    return "atomic";
  };
}

function elementSegment(item: unknown, keys: string[] | "set"): string {
  if (keys === "set") return `v:${JSON.stringify(item)}`;
  const keyObject: Record<string, unknown> = {};
  for (const k of keys) keyObject[k] = isObject(item) ? item[k] : undefined;
  return `k:${JSON.stringify(keyObject)}`;
}

/** Leaf paths of an object, the way managedFields would record them. */
export function leafPaths(obj: KubeObject | Record<string, unknown>, listKeys: ListKeys): FieldPath[] {
  const out: FieldPath[] = [];
  const walk = (value: unknown, path: FieldPath): void => {
    if (isObject(value) && Object.keys(value).length > 0) {
      for (const [key, child] of Object.entries(value)) {
        if (child === undefined) continue;
        walk(child, [...path, `f:${key}`]);
      }
      return;
    }
    if (Array.isArray(value) && value.length > 0) {
      const keys = listKeys(path);
      if (keys !== "atomic") {
        for (const item of value) {
          const element = [...path, elementSegment(item, keys)];
          out.push([...element, "."]);
          if (keys !== "set") walk(item, element);
        }
        return;
      }
    }
    out.push(path);
  };
  for (const [key, value] of Object.entries(obj)) {
    if (key === "apiVersion" || key === "kind") continue;
    if (key === "metadata" && isObject(value)) {
      for (const metaKey of ["labels", "annotations", "finalizers", "ownerReferences"]) {
        if (value[metaKey] !== undefined) walk(value[metaKey], ["f:metadata", `f:${metaKey}`]);
      }
      continue;
    }
    walk(value, [`f:${key}`]);
  }
  return out;
}

function pathKey(path: FieldPath): string {
  return path.join(SEP);
}

export function toFieldsV1(paths: FieldPath[]): JsonObject {
  const root: JsonObject = {};
  for (const path of paths) {
    let node = root;
    for (const segment of path) {
      if (!isObject(node[segment])) node[segment] = {};
      node = node[segment] as JsonObject;
    }
  }
  return root;
}

export function fromFieldsV1(fields: JsonObject | undefined): FieldPath[] {
  const out: FieldPath[] = [];
  const walk = (node: JsonObject, path: FieldPath): void => {
    const entries = Object.entries(node);
    if (entries.length === 0) {
      out.push(path);
      return;
    }
    for (const [segment, child] of entries) walk(isObject(child) ? (child as JsonObject) : {}, [...path, segment]);
  };
  if (fields) walk(fields, []);
  return out;
}

/** Finds the value a path names in an object (undefined when absent). */
function valueAt(obj: unknown, path: FieldPath): unknown {
  let current: unknown = obj;
  for (const segment of path) {
    if (segment === ".") continue;
    if (segment.startsWith("f:")) {
      current = isObject(current) ? current[segment.slice(2)] : undefined;
    } else if (Array.isArray(current)) {
      current = current.find((item) => matchesElement(item, segment));
    } else {
      return undefined;
    }
  }
  return current;
}

function matchesElement(item: unknown, segment: string): boolean {
  if (segment.startsWith("v:")) return deepEqual(item, JSON.parse(segment.slice(2)));
  if (!segment.startsWith("k:")) return false;
  const keys = JSON.parse(segment.slice(2)) as Record<string, unknown>;
  return isObject(item) && Object.entries(keys).every(([k, v]) => deepEqual(item[k], v));
}

function removeAt(obj: unknown, path: FieldPath): void {
  const parentPath = path[path.length - 1] === "." ? path.slice(0, -2) : path.slice(0, -1);
  const last = path[path.length - 1] === "." ? path[path.length - 2] : path[path.length - 1];
  if (last === undefined) return;
  const parent = valueAt(obj, parentPath);
  if (last.startsWith("f:") && isObject(parent)) delete parent[last.slice(2)];
  else if (Array.isArray(parent)) {
    const index = parent.findIndex((item) => matchesElement(item, last));
    if (index >= 0) parent.splice(index, 1);
  }
}

/** Merges an applied configuration into an object; lists merge by their keys. */
export function mergeApplied(target: unknown, applied: unknown, listKeys: ListKeys, path: FieldPath = []): unknown {
  if (isObject(applied)) {
    const result: Record<string, unknown> = isObject(target) ? clone(target) : {};
    for (const [key, value] of Object.entries(applied)) {
      result[key] = value === null ? null : mergeApplied(result[key], value, listKeys, [...path, `f:${key}`]);
    }
    return result;
  }
  if (Array.isArray(applied)) {
    const keys = path[0] === "f:metadata" && path.length === 2 && (path[1] === "f:finalizers") ? "set" : listKeys(path);
    if (keys === "atomic" || !Array.isArray(target)) return clone(applied);
    const result = clone(target);
    for (const item of applied) {
      const segment = elementSegment(item, keys);
      const index = result.findIndex((existing) => matchesElement(existing, segment));
      if (keys === "set") {
        if (index < 0) result.push(clone(item));
      } else if (index >= 0) {
        result[index] = mergeApplied(result[index], item, listKeys, [...path, segment]);
      } else {
        result.push(clone(item));
      }
    }
    return result;
  }
  return clone(applied);
}

function entryPaths(entry: ManagedFieldsEntry): FieldPath[] {
  return fromFieldsV1(entry.fieldsV1);
}

function ownsOrContains(owned: Set<string>, path: FieldPath): boolean {
  return owned.has(pathKey(path));
}

export interface ApplyResult {
  object: KubeObject;
}

/**
 * Server-side apply of `applied` by `manager` onto `current`. Returns the merged object
 * with managedFields updated; throws 409 on conflicts unless force.
 */
export function serverSideApply(
  current: KubeObject,
  applied: KubeObject,
  manager: string,
  apiVersion: string,
  force: boolean,
  listKeys: ListKeys,
  subresource?: string,
): KubeObject {
  const entries = (current.metadata.managedFields ?? []).map(clone);
  const appliedPaths = leafPaths(applied, listKeys);
  const appliedKeys = new Set(appliedPaths.map(pathKey));
  const conflicts: { manager: string; apiVersion: string; path: FieldPath }[] = [];
  for (const entry of entries) {
    if (entry.manager === manager && entry.operation === "Apply") continue;
    if ((entry.subresource ?? "") !== (subresource ?? "")) continue;
    const owned = entryPaths(entry);
    const kept: FieldPath[] = [];
    for (const path of owned) {
      const contested = appliedKeys.has(pathKey(path)) && path[path.length - 1] !== ".";
      if (contested && !deepEqual(valueAt(current, path), valueAt(applied, path))) {
        if (force) continue;
        conflicts.push({ manager: entry.manager, apiVersion: entry.apiVersion, path });
      }
      kept.push(path);
    }
    entry.fieldsV1 = toFieldsV1(kept);
  }
  if (conflicts.length > 0) throw applyConflict(conflicts);

  const mine = entries.find((e) => e.manager === manager && e.operation === "Apply" && (e.subresource ?? "") === (subresource ?? ""));
  const previouslyApplied = mine ? entryPaths(mine) : [];
  const ownedByOthers = new Set<string>();
  for (const entry of entries) {
    if (entry === mine) continue;
    for (const path of entryPaths(entry)) ownedByOthers.add(pathKey(path));
  }
  const merged = mergeApplied(current, applied, listKeys) as KubeObject;
  const released = previouslyApplied
    .filter((path) => !appliedKeys.has(pathKey(path)) && !ownsOrContains(ownedByOthers, path))
    .sort((a, b) => b.length - a.length);
  for (const path of released) removeAt(merged, path);

  const fieldsV1 = toFieldsV1(appliedPaths);
  // An apply that changes nothing keeps the old timestamp, so it writes nothing.
  const unchanged = mine !== undefined && deepEqual(mine.fieldsV1, fieldsV1) && mine.apiVersion === apiVersion;
  const entry: ManagedFieldsEntry = {
    manager,
    operation: "Apply",
    apiVersion,
    time: unchanged && mine ? mine.time : nowTimestamp(),
    fieldsType: "FieldsV1",
    fieldsV1,
  };
  if (subresource) entry.subresource = subresource;
  const others = entries.filter((e) => e !== mine && fromFieldsV1(e.fieldsV1).length > 0);
  merged.metadata = { ...merged.metadata, managedFields: [...others, entry] };
  return merged;
}

function applyConflict(conflicts: { manager: string; apiVersion: string; path: FieldPath }[]): ApiError {
  const render = (path: FieldPath): string =>
    path.filter((s) => s !== ".").map((s) => (s.startsWith("f:") ? `.${s.slice(2)}` : `[${s.slice(2)}]`)).join("");
  const lines = conflicts.map((c) => `conflict with "${c.manager}" using ${c.apiVersion}: ${render(c.path)}`);
  const message =
    conflicts.length === 1
      ? `Apply failed with 1 conflict: ${lines[0]}`
      : `Apply failed with ${conflicts.length} conflicts: ${lines.join("\n")}`;
  return new ApiError(409, "Conflict", message, {
    causes: conflicts.map((c) => ({
      reason: "FieldManagerConflict",
      message: `conflict with "${c.manager}" using ${c.apiVersion}`,
      field: render(c.path),
    })),
  });
}

/**
 * Records a non-apply write: the fields it changed now belong to `manager` (operation
 * Update) and no longer to anyone else; fields it removed belong to no one.
 */
export function recordUpdate(
  previous: KubeObject | undefined,
  next: KubeObject,
  manager: string,
  apiVersion: string,
  listKeys: ListKeys,
  subresource?: string,
): void {
  const entries = (previous?.metadata.managedFields ?? []).map(clone);
  const before = new Map((previous ? leafPaths(previous, listKeys) : []).map((p) => [pathKey(p), p]));
  const after = leafPaths(next, listKeys);
  const afterKeys = new Set(after.map(pathKey));
  const changed = after.filter((p) => !before.has(pathKey(p)) || !deepEqual(valueAt(previous, p), valueAt(next, p)));
  const changedKeys = new Set(changed.map(pathKey));
  if (changed.length === 0 && [...before.keys()].every((k) => afterKeys.has(k))) {
    next.metadata.managedFields = entries;
    return;
  }
  for (const entry of entries) {
    const owned = entryPaths(entry).filter((p) => afterKeys.has(pathKey(p)) && !(changedKeys.has(pathKey(p)) && entry.manager !== manager));
    entry.fieldsV1 = toFieldsV1(owned);
  }
  let mine = entries.find((e) => e.manager === manager && e.operation === "Update" && (e.subresource ?? "") === (subresource ?? ""));
  if (!mine) {
    mine = { manager, operation: "Update", apiVersion, time: nowTimestamp(), fieldsType: "FieldsV1", fieldsV1: {} };
    if (subresource) mine.subresource = subresource;
    entries.push(mine);
  }
  const mineKeys = new Set(entryPaths(mine).map(pathKey));
  const mergedPaths = [...entryPaths(mine).filter((p) => afterKeys.has(pathKey(p))), ...changed.filter((p) => !mineKeys.has(pathKey(p)))];
  mine.fieldsV1 = toFieldsV1(mergedPaths);
  mine.time = nowTimestamp();
  mine.apiVersion = apiVersion;
  next.metadata.managedFields = entries.filter((e) => fromFieldsV1(e.fieldsV1).length > 0);
}
