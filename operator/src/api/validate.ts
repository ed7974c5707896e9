import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseCel } from "@marcbachmann/cel-js";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { parse as parseYaml } from "yaml";
import { parseDuration } from "./duration.js";
import { API_GROUP, API_VERSION, KIND } from "./types.js";

// One validator, and the CRD file is its only source of truth: the openAPIV3Schema is
// converted to JSON Schema for ajv (structural-schema semantics: unknown fields are errors
// unless x-kubernetes-preserve-unknown-fields), CRD defaults are applied first as the
// apiserver does, and then the CRD's own CEL x-kubernetes-validations are evaluated with
// cel-js against self (and oldSelf for transition rules). Nothing here restates a rule.

export interface ValidationIssue {
  /** Field path, e.g. "spec.scaling.minReplicas" or "spec.subjects[1]". */
  path: string;
  /** What is wrong and how to fix it. */
  message: string;
}

export const CHANNEL_CRD_FILE = "pointtopointchannels.messaging.p2p.dev.yaml";

/** A node of the CRD's openAPIV3Schema (the parts this validator reads). */
export interface CrdSchema {
  type?: string;
  description?: string;
  properties?: Record<string, CrdSchema>;
  items?: CrdSchema;
  additionalProperties?: CrdSchema | boolean;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  nullable?: boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-validations"?: CelRule[];
}

export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
}

/** Finds crds/ by walking up from this module, so it works from src/ (tsx, vitest) and dist/. */
export function channelCrdPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "crds", CHANNEL_CRD_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find crds/${CHANNEL_CRD_FILE} in any parent of ${fileURLToPath(import.meta.url)}`);
    }
    dir = parent;
  }
}

interface Compiled {
  schema: CrdSchema;
  validate: ValidateFunction;
}

let compiled: Compiled | undefined;

/** The openAPIV3Schema of the served version, as written in the CRD file. */
export function channelSchema(): CrdSchema {
  return load().schema;
}

function load(): Compiled {
  if (compiled) return compiled;
  const crd = parseYaml(readFileSync(channelCrdPath(), "utf8")) as {
    spec: { versions: Array<{ name: string; schema: { openAPIV3Schema: CrdSchema } }> };
  };
  const version = crd.spec.versions.find((v) => v.name === API_VERSION);
  if (!version) throw new Error(`${CHANNEL_CRD_FILE} has no version ${API_VERSION}`);
  const schema = version.schema.openAPIV3Schema;
  const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, strictTypes: false });
  ajv.addFormat("int32", { type: "number", validate: (n: number) => n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat("date-time", /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/);
  compiled = { schema, validate: ajv.compile(toJsonSchema(schema, true)) };
  return compiled;
}

/** OpenAPI v3 (structural, Kubernetes flavour) -> JSON Schema for ajv. */
export function toJsonSchema(node: CrdSchema, isRoot = false): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of [
    "enum",
    "default",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "required",
  ] as const) {
    if (node[key] !== undefined) out[key] = node[key];
  }
  if (node.type) out.type = node.nullable ? [node.type, "null"] : node.type;
  if (node.nullable && node.enum) out.enum = [...node.enum, null];
  if (node.items) out.items = toJsonSchema(node.items);
  if (node["x-kubernetes-list-type"] === "set") out.uniqueItems = true;
  if (node.properties) {
    out.properties = Object.fromEntries(
      Object.entries(node.properties).map(([k, v]) =>
        // The apiserver owns metadata; only name/generateName may be constrained in a CRD.
        [k, isRoot && k === "metadata" ? { type: "object" } : toJsonSchema(v)],
      ),
    );
  }
  if (typeof node.additionalProperties === "object") out.additionalProperties = toJsonSchema(node.additionalProperties);
  else if (node.type === "object" && !node["x-kubernetes-preserve-unknown-fields"]) {
    // Structural schemas prune unknown fields; kubectl's strict field validation rejects them.
    out.additionalProperties = node.additionalProperties === true;
  }
  return out;
}

/**
 * Checks a PointToPointChannel document against the CRD's schema and CEL rules. With `old`
 * (the stored object before an update), transition rules such as immutability run too.
 */
export function validateChannel(doc: unknown, old?: unknown): ValidationIssue[] {
  if (!isObject(doc)) {
    return [{ path: "(document)", message: `must be a ${KIND} manifest (a YAML mapping), got ${describe(doc)}` }];
  }
  const issues: ValidationIssue[] = [];
  const wantApiVersion = `${API_GROUP}/${API_VERSION}`;
  if (doc.apiVersion !== wantApiVersion) {
    issues.push({ path: "apiVersion", message: `must be ${wantApiVersion}, got ${describe(doc.apiVersion)}` });
  }
  if (doc.kind !== KIND) issues.push({ path: "kind", message: `must be ${KIND}, got ${describe(doc.kind)}` });
  issues.push(...metadataIssues(doc.metadata));

  const { schema, validate } = load();
  const self = structuredClone(doc);
  validate(self); // also applies the CRD defaults to `self`, as the apiserver does before validating
  const schemaIssues = (validate.errors ?? []).flatMap(toIssue);
  issues.push(...schemaIssues);

  let oldSelf: unknown;
  if (isObject(old)) {
    oldSelf = structuredClone(old);
    validate(oldSelf);
  }
  issues.push(...celIssues(schema, self, oldSelf, "", schemaIssues.map((i) => i.path)));
  return dedupe(issues);
}

/** The document with the CRD's defaults applied (what the apiserver would store). */
export function applyChannelDefaults<T>(doc: T): T {
  const copy = structuredClone(doc);
  load().validate(copy);
  return copy;
}

// ---------------------------------------------------------------- metadata

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function metadataIssues(meta: unknown): ValidationIssue[] {
  if (!isObject(meta)) return [{ path: "metadata", message: "is required: add metadata with a name" }];
  const issues: ValidationIssue[] = [];
  const { name, namespace } = meta;
  if (name === undefined || name === "") {
    issues.push({ path: "metadata.name", message: "is required: name the channel, e.g. orders-created" });
  } else if (typeof name !== "string" || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    issues.push({ path: "metadata.name", message: `${describe(name)} is not a valid name: ${DNS_HINT}` });
  }
  if (namespace !== undefined && (typeof namespace !== "string" || namespace.length > 63 || !DNS_LABEL.test(namespace))) {
    issues.push({
      path: "metadata.namespace",
      message: `${describe(namespace)} is not a valid namespace: use lowercase letters, digits and "-", at most 63 characters`,
    });
  }
  return issues;
}

// ---------------------------------------------------------------- CEL

type CelProgram = (context: Record<string, unknown>) => unknown;
const programs = new Map<string, CelProgram>();

function program(expression: string): CelProgram {
  let p = programs.get(expression);
  if (!p) {
    p = parseCel(expression) as unknown as CelProgram;
    programs.set(expression, p);
  }
  return p;
}

function isTransitionRule(rule: CelRule): boolean {
  return /\boldSelf\b/.test(rule.rule);
}

function celIssues(
  schema: CrdSchema,
  value: unknown,
  old: unknown,
  path: string,
  schemaErrorPaths: string[],
): ValidationIssue[] {
  if (value === undefined || value === null) return [];
  const issues: ValidationIssue[] = [];
  for (const rule of schema["x-kubernetes-validations"] ?? []) {
    const transition = isTransitionRule(rule);
    if (transition && (old === undefined || old === null)) continue;
    const context: Record<string, unknown> = { self: toCel(value, schema) };
    if (transition) context.oldSelf = toCel(old, schema);
    const at = path + (rule.fieldPath ?? "");
    let ok: unknown;
    try {
      ok = program(rule.rule)(context);
    } catch (err) {
      // A value of the wrong type makes a rule unevaluable; its schema error says what to fix.
      if (schemaErrorPaths.some((p) => isWithin(p, path))) continue;
      issues.push({ path: at || "(document)", message: `rule ${JSON.stringify(rule.rule)} could not be evaluated: ${firstLine(err)}` });
      continue;
    }
    if (ok !== true) issues.push({ path: at || "(document)", message: ruleMessage(rule, context) });
  }

  if (Array.isArray(value)) {
    if (!schema.items) return issues;
    const oldItems = Array.isArray(old) ? old : [];
    const keys = schema["x-kubernetes-list-type"] === "map" ? (schema["x-kubernetes-list-map-keys"] ?? []) : null;
    if (keys) {
      // A map list is keyed like a map: the apiserver refuses two entries with the same key.
      const seen = new Set<string>();
      value.forEach((item, i) => {
        if (!isObject(item)) return;
        const key = JSON.stringify(keys.map((k) => item[k]));
        if (seen.has(key)) {
          const what = keys.map((k) => `${k} ${JSON.stringify(item[k])}`).join(", ");
          issues.push({ path: `${path}[${i}]`, message: `a second entry with ${what}: keep one entry per ${keys.join("+")}` });
        }
        seen.add(key);
      });
    }
    value.forEach((item, i) => {
      // Only map lists correlate items with the old list; atomic lists have no oldSelf per item.
      const oldItem = keys ? oldItems.find((o) => isObject(o) && isObject(item) && keys.every((k) => o[k] === item[k])) : undefined;
      issues.push(...celIssues(schema.items as CrdSchema, item, oldItem, `${path}[${i}]`, schemaErrorPaths));
    });
    return issues;
  }
  if (isObject(value)) {
    const oldObj = isObject(old) ? old : undefined;
    for (const [key, child] of Object.entries(value)) {
      const childSchema =
        schema.properties?.[key] ?? (typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined);
      if (childSchema) issues.push(...celIssues(childSchema, child, oldObj?.[key], joinPath(path, key), schemaErrorPaths));
    }
  }
  return issues;
}

function ruleMessage(rule: CelRule, context: Record<string, unknown>): string {
  if (rule.messageExpression) {
    try {
      const m = program(rule.messageExpression)(context);
      if (typeof m === "string" && m !== "") return m;
    } catch {
      // fall back to the static message, as the apiserver does
    }
  }
  return rule.message ?? `failed rule: ${rule.rule}`;
}

/** JSON values as CEL sees them in the apiserver: integer fields are CEL ints (BigInt in cel-js). */
function toCel(value: unknown, schema: CrdSchema | undefined): unknown {
  if (typeof value === "number") {
    const integral = schema?.type === "integer" || (schema?.type !== "number" && Number.isInteger(value));
    return integral && Number.isInteger(value) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) return value.map((v) => toCel(v, schema?.items));
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        toCel(v, schema?.properties?.[k] ?? (typeof schema?.additionalProperties === "object" ? schema.additionalProperties : undefined)),
      ]),
    );
  }
  return value;
}

// ---------------------------------------------------------------- schema errors -> issues

const DNS_HINT = 'use lowercase letters, digits, "-" and ".", starting and ending with a letter or digit';
const DURATION_HINT = "use a Go-style duration such as 500ms, 30s, 5m, 72h or 1h30m";

/** Why a value fails one of the CRD's patterns, keyed by the pattern text in the CRD. */
export const PATTERN_EXPLANATIONS: Readonly<Record<string, (value: string, path: string) => string>> = {
  "^(\\*|[^.\\s*>]+)(\\.(\\*|[^.\\s*>]+))*(\\.>)?$": (v) => `${JSON.stringify(v)} is not a valid NATS subject: ${subjectProblem(v)}`,
  "^[^.*>\\s/\\\\]*$": (v, path) =>
    `${JSON.stringify(v)} is not a valid ${path.includes("consumer") ? "consumer" : "stream"} name: ` +
    'remove ".", "*", ">", whitespace, "/" and "\\" (e.g. use "_" instead of ".")',
  "^(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$": (v) => durationProblem(v),
  "^$|^(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$": (v) => `${durationProblem(v)}, or leave it empty`,
  "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$": (v) => `${JSON.stringify(v)} is not a valid name: ${DNS_HINT}`,
  "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": (v) =>
    `${JSON.stringify(v)} is not a valid container name: use lowercase letters, digits and "-", e.g. consumer`,
  "^((nats|tls|ws|wss)://)?[^\\s,/]+(:[0-9]+)?/?$": (v) =>
    `${JSON.stringify(v)} is not a NATS server URL: use one URL per entry, e.g. nats://nats.nats:4222`,
  "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$": (v) => `${JSON.stringify(v)} is not a valid reason: use CamelCase, e.g. StreamReady`,
  "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$": (v) =>
    `${JSON.stringify(v)} is not a valid condition type: use CamelCase, e.g. Ready`,
};

/** The first thing wrong with a NATS subject, and how to fix it. */
export function subjectProblem(subject: string): string {
  if (subject === "") return "it is empty; use dot-separated tokens, e.g. orders.created";
  if (/\s/.test(subject)) return "it contains whitespace; use dots between tokens, e.g. orders.created";
  const tokens = subject.split(".");
  if (tokens.some((t) => t === "")) {
    return 'it has an empty token (a leading, trailing or doubled "."); use non-empty tokens, e.g. orders.created';
  }
  if (tokens.some((t) => t.includes("*") && t !== "*")) return '"*" must be a whole token, e.g. orders.*.created';
  if (tokens.some((t, i) => t.includes(">") && (t !== ">" || i !== tokens.length - 1))) {
    return '">" may only be the whole last token, e.g. orders.>';
  }
  return "use dot-separated tokens, e.g. orders.created";
}

function durationProblem(value: string): string {
  try {
    const ms = parseDuration(value);
    if (ms < 0) return `${JSON.stringify(value)} is negative: durations must be 0 or more`;
    return `${JSON.stringify(value)} is not accepted as a duration: ${DURATION_HINT}`;
  } catch (err) {
    return `${JSON.stringify(value)} is not a duration: ${DURATION_HINT}`;
  }
}

const REQUIRED_HINTS: Readonly<Record<string, string>> = {
  spec: "add a spec with at least spec.workload",
  "spec.workload":
    "add spec.workload with either scaleTargetRef (an existing Deployment to scale) or template (a pod template the operator runs)",
  "spec.workload.scaleTargetRef.name": "name the Deployment to scale",
  "spec.workload.template.spec": "add template.spec.containers with at least one container",
  "spec.workload.template.spec.containers": "add at least one container",
  "spec.workload.template.spec.containers[].name": "give the container a name, e.g. consumer",
  "spec.workload.template.spec.containers[].env[].name": "give the environment variable a name",
  "spec.connection.secretRef.name": "name the Secret holding the NATS credentials",
  "spec.consumer.deadLetter.subject": "set the dead-letter subject, e.g. dlq.orders.created, or remove deadLetter",
};

function toIssue(e: ErrorObject): ValidationIssue[] {
  const at = pointerToPath(e.instancePath);
  const data: unknown = e.data;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required": {
      const path = joinPath(at, String(p.missingProperty));
      const hint = REQUIRED_HINTS[path.replace(/\[\d+\]/g, "[]")] ?? "add it";
      return [{ path, message: `is required: ${hint}` }];
    }
    case "additionalProperties": {
      const field = String(p.additionalProperty);
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const guess = closest(field, known);
      const message = guess
        ? `unknown field: did you mean "${guess}"? (known fields: ${known.join(", ")})`
        : `unknown field: remove it, or use one of the known fields: ${known.join(", ")}`;
      return [{ path: joinPath(at, field), message }];
    }
    case "type": {
      const want = String(p.type);
      let fix = "";
      if ((want === "integer" || want === "number") && typeof data === "string" && /^-?\d+(\.\d+)?$/.test(data)) {
        fix = `: write ${data} without quotes`;
      } else if (want === "string" && (typeof data === "number" || typeof data === "boolean")) {
        fix = `: quote it, e.g. "${String(data)}${typeof data === "number" && /(Age|Wait|Window|Interval|After|Time)$/.test(at) ? "s" : ""}"`;
      } else if (want === "integer" && typeof data === "number") {
        fix = ": use a whole number";
      }
      return [{ path: at, message: `must be ${article(want)}, got ${describe(data)}${fix}` }];
    }
    case "enum":
      return [{ path: at, message: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}, got ${describe(data)}` }];
    case "minimum":
      return [{ path: at, message: `must be at least ${String(p.limit)}, got ${String(data)}` }];
    case "maximum":
      return [{ path: at, message: `must be at most ${String(p.limit)}, got ${String(data)}` }];
    case "minItems":
      return [{ path: at, message: `must list at least ${String(p.limit)} item${p.limit === 1 ? "" : "s"}, or be left out for the default` }];
    case "maxItems":
      return [{ path: at, message: `must list at most ${String(p.limit)} items, got ${Array.isArray(data) ? data.length : "?"}: remove some` }];
    case "minLength":
      return [{ path: at, message: p.limit === 1 ? "must not be empty" : `must be at least ${String(p.limit)} characters long` }];
    case "maxLength":
      return [{ path: at, message: `must be at most ${String(p.limit)} characters long, got ${typeof data === "string" ? data.length : "?"}: shorten it` }];
    case "uniqueItems": {
      const dup = Array.isArray(data) ? data[Number(p.i)] : undefined;
      return [{ path: at, message: `lists ${JSON.stringify(dup)} twice: remove the duplicate` }];
    }
    case "pattern": {
      const explain = PATTERN_EXPLANATIONS[String(p.pattern)];
      return [{ path: at, message: explain ? explain(String(data), at) : `${describe(data)} must match ${String(p.pattern)}` }];
    }
    case "format":
      if (p.format === "date-time") return [{ path: at, message: `${describe(data)} must be an RFC 3339 time, e.g. 2024-05-01T12:00:00Z` }];
      return [{ path: at, message: `${describe(data)} is out of range for ${String(p.format)}` }];
    default:
      return [{ path: at, message: e.message ?? `failed ${e.keyword}` }];
  }
}

// ---------------------------------------------------------------- helpers

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function joinPath(path: string, key: string): string {
  const segment = /^[A-Za-z_$][\w$-]*$/.test(key) ? key : `[${JSON.stringify(key)}]`;
  if (path === "") return segment;
  return segment.startsWith("[") ? `${path}${segment}` : `${path}.${segment}`;
}

function pointerToPath(pointer: string): string {
  if (pointer === "") return "";
  let path = "";
  for (const raw of pointer.slice(1).split("/")) {
    const token = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    path = /^\d+$/.test(token) ? `${path}[${token}]` : joinPath(path, token);
  }
  return path;
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return JSON.stringify(v);
  return `${typeof v} ${String(v)}`;
}

function article(type: string): string {
  const noun = type === "object" ? "mapping" : type === "array" ? "list" : type;
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

function isWithin(path: string, ancestor: string): boolean {
  return ancestor === "" || path === ancestor || path.startsWith(`${ancestor}.`) || path.startsWith(`${ancestor}[`);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}

function dedupe(issues: ValidationIssue[]): ValidationIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\u0000${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The known name closest to a misspelt one, if it is close enough to be a likely typo. */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
