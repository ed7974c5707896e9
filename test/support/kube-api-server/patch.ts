// The patch formats of PATCH requests: JSON merge patch (RFC 7386), JSON patch
// (RFC 6902) and strategic merge patch for built-in types. Server-side apply is in
// apply.ts.
import { ApiError, badRequest } from "./errors.js";
import { clone, deepEqual, isObject } from "./objects.js";

export const MERGE_PATCH = "application/merge-patch+json";
export const JSON_PATCH = "application/json-patch+json";
export const STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json";
export const APPLY_PATCH = "application/apply-patch+yaml";

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const result: Record<string, unknown> = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function decodePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw unprocessable(`invalid JSON pointer: ${pointer}`);
  return pointer.slice(1).split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function unprocessable(message: string): ApiError {
  return new ApiError(422, "Invalid", message);
}

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function parentOf(doc: unknown, parts: string[], path: string): { parent: unknown; last: string } {
  let current = doc;
  for (const part of parts.slice(0, -1)) {
    if (Array.isArray(current)) current = current[Number(part)];
    else if (isObject(current)) current = current[part];
    else current = undefined;
    if (current === undefined) throw unprocessable(`doc is missing path: "${path}": missing value`);
  }
  return { parent: current, last: parts[parts.length - 1] ?? "" };
}

function getAt(doc: unknown, path: string): unknown {
  let current = doc;
  for (const part of decodePointer(path)) {
    if (Array.isArray(current)) current = current[Number(part)];
    else if (isObject(current)) current = current[part];
    else return undefined;
  }
  return current;
}

function removeAt(doc: unknown, path: string): unknown {
  const parts = decodePointer(path);
  const { parent, last } = parentOf(doc, parts, path);
  if (Array.isArray(parent)) {
    const index = Number(last);
    if (!(index >= 0 && index < parent.length)) throw unprocessable(`Unable to remove nonexistent key: ${last}: missing value`);
    return parent.splice(index, 1)[0];
  }
  if (!isObject(parent) || !(last in parent)) {
    throw unprocessable(`Unable to remove nonexistent key: ${last}: missing value`);
  }
  const old = parent[last];
  delete parent[last];
  return old;
}

function addAt(doc: unknown, path: string, value: unknown, replace: boolean): unknown {
  const parts = decodePointer(path);
  if (parts.length === 0) return clone(value);
  const { parent, last } = parentOf(doc, parts, path);
  if (Array.isArray(parent)) {
    const index = last === "-" ? parent.length : Number(last);
    if (!(index >= 0 && index <= parent.length)) throw unprocessable(`add operation does not apply: doc is missing path: "${path}": missing value`);
    if (replace) parent[index] = clone(value);
    else parent.splice(index, 0, clone(value));
  } else if (isObject(parent)) {
    if (replace && !(last in parent)) throw unprocessable(`replace operation does not apply: doc is missing key: ${path}: missing value`);
    parent[last] = clone(value);
  } else {
    throw unprocessable(`add operation does not apply: doc is missing path: "${path}": missing value`);
  }
  return doc;
}

export function jsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  let doc = clone(target);
  for (const raw of operations as Operation[]) {
    switch (raw.op) {
      case "add":
        doc = addAt(doc, raw.path, raw.value, false);
        break;
      case "replace":
        doc = addAt(doc, raw.path, raw.value, true);
        break;
      case "remove":
        removeAt(doc, raw.path);
        break;
      case "move": {
        const value = removeAt(doc, raw.from ?? "");
        doc = addAt(doc, raw.path, value, false);
        break;
      }
      case "copy":
        doc = addAt(doc, raw.path, getAt(doc, raw.from ?? ""), false);
        break;
      case "test":
        if (!deepEqual(getAt(doc, raw.path), raw.value)) {
          throw unprocessable(`the server rejected our request due to an error in our request: testing value ${raw.path} failed: test failed`);
        }
        break;
      default:
        throw unprocessable(`Unexpected kind: ${String(raw.op)}`);
    }
  }
  return doc;
}

/**
 * Merge keys of lists in the built-in types we serve (from the Go struct tags
 * patchStrategy=merge, patchMergeKey=...). A list whose field is absent here is
 * replaced atomically. "" marks a merged list of scalars (finalizers).
 */
export const STRATEGIC_MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  volumeDevices: "devicePath",
  ports: "containerPort",
  imagePullSecrets: "name",
  conditions: "type",
  ownerReferences: "uid",
  hostAliases: "ip",
  topologySpreadConstraints: "topologyKey",
  resourceClaims: "name",
  finalizers: "",
};

const SET_ORDER = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE = "$deleteFromPrimitiveList/";

/** Strategic merge patch over our built-in types' merge keys. */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  if (patch["$patch"] === "replace") {
    const replaced = clone(patch);
    delete replaced["$patch"];
    return replaced;
  }
  if (patch["$patch"] === "delete") return undefined;
  const result: Record<string, unknown> = isObject(target) ? clone(target) : {};
  const retainKeys = patch["$retainKeys"];
  for (const [key, value] of Object.entries(patch)) {
    if (key === "$retainKeys" || key === "$patch") continue;
    if (key.startsWith(SET_ORDER)) continue;
    if (key.startsWith(DELETE_FROM_PRIMITIVE)) {
      const field = key.slice(DELETE_FROM_PRIMITIVE.length);
      const current = result[field];
      if (Array.isArray(current) && Array.isArray(value)) {
        result[field] = current.filter((item) => !value.some((v) => deepEqual(v, item)));
      }
      continue;
    }
    if (value === null) {
      delete result[key];
      continue;
    }
    const mergeKey = STRATEGIC_MERGE_KEYS[key];
    if (Array.isArray(value) && mergeKey !== undefined) {
      result[key] = mergeList(result[key], value, mergeKey, patch[`${SET_ORDER}${key}`]);
    } else {
      result[key] = strategicMergePatch(result[key], value);
    }
  }
  if (Array.isArray(retainKeys)) {
    for (const key of Object.keys(result)) if (!retainKeys.includes(key)) delete result[key];
  }
  return result;
}

function mergeList(target: unknown, patch: unknown[], mergeKey: string, order: unknown): unknown[] {
  const current = Array.isArray(target) ? clone(target) : [];
  if (mergeKey === "") {
    const merged = [...current];
    for (const item of patch) if (!merged.some((m) => deepEqual(m, item))) merged.push(clone(item));
    return sortBy(merged, order, (item) => item);
  }
  if (patch.some((item) => isObject(item) && item["$patch"] === "replace")) {
    return patch.filter((item) => !(isObject(item) && item["$patch"] === "replace")).map(clone);
  }
  const keyOf = (item: unknown): unknown => (isObject(item) ? item[mergeKey] : undefined);
  let merged = [...current];
  for (const item of patch) {
    const index = merged.findIndex((m) => deepEqual(keyOf(m), keyOf(item)));
    if (isObject(item) && item["$patch"] === "delete") {
      if (index >= 0) merged.splice(index, 1);
      continue;
    }
    if (index >= 0) merged[index] = strategicMergePatch(merged[index], item);
    else merged.push(strategicMergePatch(undefined, item));
  }
  merged = merged.filter((m) => m !== undefined);
  return sortBy(merged, order, keyOf);
}

/** Honors $setElementOrder: listed elements in that order, the rest after them. */
function sortBy(items: unknown[], order: unknown, keyOf: (item: unknown) => unknown): unknown[] {
  if (!Array.isArray(order)) return items;
  const orderKeys = order.map((o) => (isObject(o) ? Object.values(o)[0] : o));
  const rank = (item: unknown): number => {
    const i = orderKeys.findIndex((k) => deepEqual(k, keyOf(item)));
    return i < 0 ? orderKeys.length : i;
  };
  return [...items].sort((a, b) => rank(a) - rank(b));
}
