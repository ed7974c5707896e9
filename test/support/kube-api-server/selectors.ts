// labelSelector and fieldSelector query parameters, parsed as apimachinery does.
import { badRequest } from "./errors.js";
import type { KubeObject } from "./objects.js";

type LabelRequirement =
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "!exists" };

function splitTopLevel(input: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of input) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

export type LabelSelector = (labels: Record<string, string> | undefined) => boolean;

export function parseLabelSelector(selector: string | null | undefined): LabelSelector {
  if (!selector) return () => true;
  const requirements: LabelRequirement[] = splitTopLevel(selector).map((part) => {
    let m = /^(\S+?)\s+(in|notin)\s+\((.*)\)$/.exec(part);
    if (m) {
      const values = (m[3] ?? "").split(",").map((v) => v.trim()).filter((v) => v !== "");
      return { key: m[1] as string, op: m[2] as "in" | "notin", values };
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
    if (m) return { key: m[1] as string, op: m[2] === "!=" ? "!=" : "=", value: m[3] ?? "" };
    m = /^!\s*(\S+)$/.exec(part);
    if (m) return { key: m[1] as string, op: "!exists" };
    if (/^[A-Za-z0-9._/-]+$/.test(part)) return { key: part, op: "exists" };
    throw badRequest(`unable to parse requirement: found '${part}', expected: in, notin, =, ==, !=, gt, lt`);
  });
  return (labels) => {
    const l = labels ?? {};
    return requirements.every((r) => {
      const has = Object.prototype.hasOwnProperty.call(l, r.key);
      const value = l[r.key];
      switch (r.op) {
        case "=":
          return has && value === r.value;
        case "!=":
          return !has || value !== r.value;
        case "in":
          return has && r.values.includes(value as string);
        case "notin":
          return !has || !r.values.includes(value as string);
        case "exists":
          return has;
        case "!exists":
          return !has;
      }
    });
  };
}

export type FieldGetter = (obj: KubeObject) => string | undefined;
export type FieldSelector = (obj: KubeObject) => boolean;

const metadataFields: Record<string, FieldGetter> = {
  "metadata.name": (obj) => obj.metadata.name,
  "metadata.namespace": (obj) => obj.metadata.namespace ?? "",
};

/** Parses "a=b,c!=d"; unknown field labels are a 400 like the real server. */
export function parseFieldSelector(
  selector: string | null | undefined,
  extraFields: Record<string, FieldGetter> = {},
): FieldSelector {
  if (!selector) return () => true;
  const fields = { ...metadataFields, ...extraFields };
  const terms = selector.split(",").map((t) => t.trim()).filter((t) => t !== "").map((term) => {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    const field = m[1] as string;
    const getter = fields[field];
    if (!getter) {
      throw badRequest(`field label not supported: ${field}`);
    }
    return { getter, negate: m[2] === "!=", value: m[3] ?? "" };
  });
  return (obj) => terms.every((t) => ((t.getter(obj) ?? "") === t.value) !== t.negate);
}
