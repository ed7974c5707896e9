// The chart's values: `helm lint --strict`, and values.schema.json as helm enforces it
// (unknown keys and wrong types fail `helm template` with a message naming them).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isMap, isScalar, parseDocument, type YAMLMap } from "yaml";
import { VALUE_SETS, chartDir, helmLint, helmTemplateRaw } from "./helm.js";

describe("helm lint --strict", () => {
  it.each(Object.entries(VALUE_SETS))("passes with %s", async (_name, values) => {
    const result = await helmLint(values);
    expect(result.stdout + result.stderr).toContain("1 chart(s) linted, 0 chart(s) failed");
    expect(result.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(result.code).toBe(0);
  });
});

describe("values.schema.json", () => {
  it.each([
    ["an unknown top-level key", { replicas: 3 }, "at '': additional properties 'replicas' not allowed"],
    ["an unknown nested key", { nats: { credentials: { secret: "x" } } }, "at '/nats/credentials': additional properties 'secret' not allowed"],
    ["a misspelt feature switch", { networkPolicy: { enable: true } }, "at '/networkPolicy': additional properties 'enable' not allowed"],
    ["a string where a number belongs", { replicaCount: "two" }, "at '/replicaCount': got string, want integer"],
    ["a list where a map belongs", { podLabels: ["team"] }, "at '/podLabels': got array, want object"],
    ["a subject policy that doesn't exist", { subjectPolicy: "strict" }, "at '/subjectPolicy': value must be one of 'any', 'namespaced'"],
    ["a watch namespace that isn't a DNS label", { watchNamespaces: ["Team_A"] }, "at '/watchNamespaces/0'"],
    ["a NATS URL without a scheme", { nats: { url: "nats.nats:4222" } }, "at '/nats/url'"],
  ])("rejects %s, naming it", async (_what, values, message) => {
    const result = await helmTemplateRaw(values);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    expect(result.stderr).toContain(message);
  });

  it("closes every object it describes, except helm's globals and Kubernetes pass-through types", () => {
    const schema = JSON.parse(readFileSync(join(chartDir, "values.schema.json"), "utf8")) as Record<string, unknown>;
    // Contents the API server validates: these are Kubernetes types passed through as is.
    const passThrough = new Set([
      "/properties/global",
      "/properties/affinity/properties/nodeAffinity",
      "/properties/affinity/properties/podAffinity",
      "/properties/affinity/properties/podAntiAffinity",
    ]);
    const open: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}/${i}`));
      if (node === null || typeof node !== "object") return;
      const o = node as Record<string, unknown>;
      if (o["type"] === "object" && o["additionalProperties"] === undefined && !passThrough.has(path)) open.push(path);
      if (o["type"] === "object" && o["additionalProperties"] === true) open.push(path);
      for (const [k, v] of Object.entries(o)) walk(v, `${path}/${k}`);
    };
    walk(schema, "");
    expect(open).toEqual([]);
    expect(schema["additionalProperties"]).toBe(false);
  });

  it("describes every key of values.yaml, and values.yaml comments every key", () => {
    const doc = parseDocument(readFileSync(join(chartDir, "values.yaml"), "utf8"));
    const schema = JSON.parse(readFileSync(join(chartDir, "values.schema.json"), "utf8")) as SchemaNode;
    const undescribed: string[] = [];
    const uncommented: string[] = [];
    const walk = (map: YAMLMap, schemaNode: SchemaNode | undefined, path: string, parentCommented: boolean): void => {
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const keyPath = path ? `${path}.${key}` : key;
        const child = schemaNode?.properties?.[key];
        if (!child) undescribed.push(keyPath);
        const commented = Boolean(isScalar(pair.key) && pair.key.commentBefore) || Boolean((pair.value as { commentBefore?: string } | null)?.commentBefore);
        // A block's comment covers its children; a leaf needs its own or its block's.
        // A free-form map (labels, selectors) holds entries, not keys to describe.
        const isFreeMap = child !== undefined && child.properties === undefined && typeof child.additionalProperties === "object";
        if (isFreeMap) {
          if (!commented && !parentCommented) uncommented.push(keyPath);
        } else if (isMap(pair.value)) walk(pair.value, child, keyPath, commented || parentCommented);
        else if (!commented && !parentCommented) uncommented.push(keyPath);
      }
    };
    walk(doc.contents as YAMLMap, schema, "", false);
    expect(undescribed).toEqual([]);
    expect(uncommented).toEqual([]);
  });
});

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
}
