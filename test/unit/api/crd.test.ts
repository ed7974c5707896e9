import { readFileSync } from "node:fs";
import { parse as parseCel } from "@marcbachmann/cel-js";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import type {
  ConditionStatus,
  DeletionPolicy,
  DiscardPolicy,
  PointToPointChannel,
  StorageType,
} from "../../../operator/src/api/types.js";
import { API_GROUP, API_VERSION, KIND, PLURAL } from "../../../operator/src/api/types.js";
import { PATTERN_EXPLANATIONS, channelCrdPath, channelSchema, validateChannel, type CrdSchema } from "../../../operator/src/api/validate.js";

/** Every optional field made required, all the way down: the compiler forces the sample to be complete. */
type Full<T> = T extends readonly (infer U)[] ? Full<U>[] : T extends object ? { [K in keyof T]-?: Full<Exclude<T[K], undefined>> } : T;

const sample: Full<PointToPointChannel> = {
  apiVersion: "messaging.p2p.dev/v1alpha1",
  kind: "PointToPointChannel",
  metadata: {
    name: "register",
    namespace: "health",
    uid: "u-1",
    generation: 1,
    resourceVersion: "1",
    creationTimestamp: "2026-01-01T00:00:00Z",
    deletionTimestamp: "2026-01-02T00:00:00Z",
    labels: { a: "b" },
    annotations: { a: "b" },
    finalizers: ["messaging.p2p.dev/nats-cleanup"],
  },
  spec: {
    subjects: ["immunisation.administered"],
    connection: { servers: ["nats://nats.nats:4222"], secretRef: { name: "nats-auth" } },
    stream: {
      name: "IMMUNISATION",
      storage: "file",
      replicas: 3,
      maxAge: "72h",
      maxMsgs: 1000,
      maxBytes: 1_000_000,
      maxMsgSize: 1024,
      discard: "new",
      duplicateWindow: "2m",
    },
    consumer: {
      name: "register",
      ackWait: "30s",
      maxDeliver: 5,
      backoff: ["1s", "10s"],
      maxAckPending: 1000,
      deadLetter: { subject: "dlq.immunisation.administered", maxAge: "168h" },
    },
    workload: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "register" },
      template: {
        metadata: { labels: { app: "register" }, annotations: { note: "x" } },
        spec: {
          containers: [
            {
              name: "consumer",
              image: "consumer:1",
              command: ["node"],
              args: ["main.js"],
              env: [{ name: "P2P_WORK_MS", value: "20", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
              workingDir: "/app",
            },
          ],
        },
      },
    },
    scaling: {
      minReplicas: 1,
      maxReplicas: 8,
      targetLagPerReplica: 100,
      activationLag: 0,
      pollInterval: "2s",
      scaleToZeroAfter: "5m",
      scaleDown: { stabilizationWindow: "60s" },
      scaleUp: { stabilizationWindow: "0s", maxStep: 4, maxStepPercent: 100 },
      targetDrainTime: "1m",
    },
    deletionPolicy: "Retain",
    paused: false,
  },
  status: {
    observedGeneration: 1,
    conditions: [{ type: "Ready", status: "True", observedGeneration: 1, lastTransitionTime: "2026-01-01T00:00:00Z", reason: "Ready", message: "ok" }],
    stream: { name: "IMMUNISATION", messages: 1, bytes: 10, firstSeq: 1, lastSeq: 1 },
    consumer: { name: "register", pending: 1, ackPending: 0, redelivered: 0, waiting: 0, paused: false },
    nats: { serverVersion: "2.15.3", features: ["StreamMetadata", "TermWithReason", "ConsumerPause"] },
    target: "Deployment/register",
    lag: 1,
    replicas: 1,
    desiredReplicas: 1,
    lastScaleTime: "2026-01-01T00:00:00Z",
    lastScaleReason: "lag 1 <= 1 x 100",
    deadLetters: 0,
  },
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Walks the schema and a typed value together, both ways. */
function differences(schema: CrdSchema, value: unknown, path: string): string[] {
  const out: string[] = [];
  const jsonType = Array.isArray(value) ? "array" : value === null ? "null" : Number.isInteger(value) ? "integer" : typeof value === "object" ? "object" : typeof value;
  if (schema.type && schema.type !== jsonType) out.push(`${path}: the schema says ${schema.type}, the types say ${jsonType}`);
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((v) => out.push(...differences(schema.items as CrdSchema, v, `${path}[]`)));
  } else if (isObject(value)) {
    if (schema.properties) {
      for (const key of Object.keys(schema.properties)) {
        if (!(key in value)) out.push(`${path}.${key}: in the CRD schema, missing from the TypeScript types`);
      }
      for (const [key, v] of Object.entries(value)) {
        const child = schema.properties[key];
        if (!child) out.push(`${path}.${key}: in the TypeScript types, missing from the CRD schema`);
        else out.push(...differences(child, v, `${path}.${key}`));
      }
    } else if (typeof schema.additionalProperties === "object") {
      for (const [key, v] of Object.entries(value)) out.push(...differences(schema.additionalProperties, v, `${path}.${key}`));
    }
  }
  return out;
}

function at(schema: CrdSchema, path: string): CrdSchema {
  let node: CrdSchema | undefined = schema;
  for (const key of path.split(".")) node = key === "[]" ? node?.items : node?.properties?.[key];
  if (!node) throw new Error(`no schema at ${path}`);
  return node;
}

const crd = parseYaml(readFileSync(channelCrdPath(), "utf8"));
const version = crd.spec.versions[0];
const schema = channelSchema();

describe("the TypeScript types and the CRD schema agree", () => {
  it("have the same fields, with the same JSON types, in spec and status", () => {
    const { metadata: _apiServerOwned, ...rest } = sample;
    const { metadata: _m, ...schemaProperties } = schema.properties ?? {};
    expect(differences({ ...schema, properties: schemaProperties }, rest, "")).toEqual([]);
  });

  it("the fully populated sample breaks only the two either-or rules", () => {
    expect(validateChannel(sample).map((i) => i.path)).toEqual(["spec.workload", "spec.scaling.scaleUp"]);
  });

  it.each<[string, string[]]>([
    ["spec.stream.storage", Object.keys({ file: true, memory: true } satisfies Record<StorageType, true>)],
    ["spec.stream.discard", Object.keys({ new: true, old: true } satisfies Record<DiscardPolicy, true>)],
    ["spec.deletionPolicy", Object.keys({ Retain: true, Delete: true } satisfies Record<DeletionPolicy, true>)],
    ["status.conditions.[].status", Object.keys({ True: true, False: true, Unknown: true } satisfies Record<ConditionStatus, true>)],
  ])("enum %s", (path, values) => {
    expect(at(schema, path).enum).toEqual(values);
  });
});

describe("the CRD", () => {
  it("names the API as DESIGN.md does", () => {
    expect(crd.metadata.name).toBe(`${PLURAL}.${API_GROUP}`);
    expect(crd.spec.group).toBe(API_GROUP);
    expect(crd.spec.scope).toBe("Namespaced");
    expect(crd.spec.names).toMatchObject({ kind: KIND, plural: PLURAL, shortNames: ["p2pc"], categories: ["messaging"] });
    expect(crd.spec.versions.map((v: { name: string }) => v.name)).toEqual([API_VERSION]);
    expect(version).toMatchObject({ served: true, storage: true, subresources: { status: {} } });
  });

  it("has the printer columns Stream, Target, Min, Max, Replicas, Lag, Ready, Age", () => {
    const columns = version.additionalPrinterColumns as Array<{ name: string; jsonPath: string }>;
    expect(columns.map((c) => c.name)).toEqual(["Stream", "Target", "Min", "Max", "Replicas", "Lag", "Ready", "Age"]);
    expect(columns.find((c) => c.name === "Ready")?.jsonPath).toBe('.status.conditions[?(@.type=="Ready")].status');
    for (const c of columns.filter((c) => /^\.(spec|status)\.[\w.]+$/.test(c.jsonPath))) {
      expect(() => at(schema, c.jsonPath.slice(1)), c.jsonPath).not.toThrow();
    }
  });

  it("is structural: every node has a type, objects say which fields they keep", () => {
    const problems: string[] = [];
    visit(schema, "", (node, path) => {
      if (!node.type) problems.push(`${path}: no type`);
      if (node.type === "object" && !node.properties && node.additionalProperties === undefined && !node["x-kubernetes-preserve-unknown-fields"] && path !== ".metadata") {
        problems.push(`${path}: an object without properties would be pruned to {}`);
      }
    });
    expect(problems).toEqual([]);
  });

  it("uses patterns that mean the same in Go RE2 and JavaScript, each with a human explanation", () => {
    const patterns = new Set<string>();
    visit(schema, "", (node) => node.pattern && patterns.add(node.pattern));
    for (const p of patterns) {
      expect(p, "no lookaround or backreference (RE2 has none)").not.toMatch(/\(\?[=!<]|\\[1-9]/);
      expect(() => new RegExp(p, "u")).not.toThrow();
      expect(Object.keys(PATTERN_EXPLANATIONS), p).toContain(p);
    }
  });

  it("keeps CEL within the apiserver's cost budget: what a rule reads is bounded", () => {
    const problems: string[] = [];
    visit(schema, "", (node, path, inList) => {
      for (const { rule, message, fieldPath } of node["x-kubernetes-validations"] ?? []) {
        if (!message) problems.push(`${path}: rule ${rule} has no message`);
        if (fieldPath) expect(() => at(node, fieldPath.slice(1)), `${path} ${fieldPath}`).not.toThrow();
        if (inList.some((l) => l.maxItems === undefined)) problems.push(`${path}: rule inside a list without maxItems`);
        // self.a.b reads a.b; self.a.startsWith(...) reads a.
        const fields = [...rule.matchAll(/\b(?:self|oldSelf)((?:\.\w+)+)(\()?/g)].map((m) => {
          const segments = m[1]!.slice(1).split(".");
          return (m[2] ? segments.slice(0, -1) : segments).join(".");
        });
        const read = [node, ...fields.filter((f) => f !== "").map((f) => at(node, f))];
        for (const r of read) {
          if (r.type === "string" && r.maxLength === undefined && r.enum === undefined) problems.push(`${path}: rule ${rule} reads an unbounded string`);
          if (r.type === "array" && (r.maxItems === undefined || (r.items?.type === "string" && r.items.maxLength === undefined))) {
            problems.push(`${path}: rule ${rule} reads an unbounded list`);
          }
        }
        expect(() => parseCel(rule), rule).not.toThrow();
      }
    });
    expect(problems).toEqual([]);
  });

  it("has defaults that pass its own schema", () => {
    const problems: string[] = [];
    visit(schema, "", (node, path) => {
      if (typeof node.default === "string" && node.pattern && !new RegExp(node.pattern, "u").test(node.default)) problems.push(path);
      if (node.enum && node.default !== undefined && !node.enum.includes(node.default)) problems.push(path);
    });
    expect(problems).toEqual([]);
  });
});

function visit(node: CrdSchema, path: string, fn: (node: CrdSchema, path: string, inList: CrdSchema[]) => void, inList: CrdSchema[] = []): void {
  fn(node, path, inList);
  for (const [key, child] of Object.entries(node.properties ?? {})) visit(child, `${path}.${key}`, fn, inList);
  if (node.items) visit(node.items, `${path}[]`, fn, [...inList, node]);
  if (typeof node.additionalProperties === "object") visit(node.additionalProperties, `${path}.*`, fn, inList);
}
