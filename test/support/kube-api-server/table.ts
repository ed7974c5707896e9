// Server-side printing: the meta.k8s.io Table kubectl asks for with
// Accept: application/json;as=Table;v=v1;g=meta.k8s.io. Custom resources use the CRD's
// additionalPrinterColumns (JSONPath), built-ins their fixed columns.
import { ageOf, isObject } from "./objects.js";
import type { KubeObject } from "./objects.js";
import type { ResourceType } from "./resources.js";

/** The JSONPath subset printer columns use: .a.b, [n], [*], [?(@.k=="v")]. */
export function evaluateJsonPath(obj: unknown, expression: string): unknown[] {
  let path = expression.trim();
  if (path.startsWith("{") && path.endsWith("}")) path = path.slice(1, -1);
  const tokens = path.match(/\.[^.[\]]+|\[\?\(@\.[^)]*\)\]|\[[^\]]*\]/g) ?? [];
  let current: unknown[] = [obj];
  for (const token of tokens) {
    const next: unknown[] = [];
    for (const value of current) {
      if (token.startsWith(".")) {
        const name = token.slice(1);
        if (name === "*") {
          if (isObject(value)) next.push(...Object.values(value));
        } else if (isObject(value) && value[name] !== undefined) {
          next.push(value[name]);
        }
        continue;
      }
      const filter = /^\[\?\(@\.([\w.-]+)\s*(==|!=)\s*["']?([^"']*)["']?\)\]$/.exec(token);
      if (filter && Array.isArray(value)) {
        const [, field, op, expected] = filter;
        for (const item of value) {
          const actual = (field ?? "").split(".").reduce<unknown>((acc, k) => (isObject(acc) ? acc[k] : undefined), item);
          if ((String(actual) === expected) === (op === "==")) next.push(item);
        }
        continue;
      }
      const inner = token.slice(1, -1);
      if (Array.isArray(value)) {
        if (inner === "*") next.push(...value);
        else {
          const index = Number(inner);
          const item = value[index < 0 ? value.length + index : index];
          if (item !== undefined) next.push(item);
        }
      } else if (isObject(value)) {
        const key = inner.replace(/^['"]|['"]$/g, "");
        if (inner === "*") next.push(...Object.values(value));
        else if (value[key] !== undefined) next.push(value[key]);
      }
    }
    current = next;
  }
  return current;
}

function cellFor(type: string, value: unknown): unknown {
  switch (type) {
    case "integer":
      return typeof value === "number" && Number.isInteger(value) ? value : null;
    case "number":
      return typeof value === "number" ? value : null;
    case "boolean":
      return typeof value === "boolean" ? value : null;
    case "string":
      return typeof value === "string" ? value : null;
    case "date":
      return typeof value === "string" ? ageOf(value) : null;
    default:
      return null;
  }
}

function printValues(values: unknown[]): string {
  return values.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(" ");
}

interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

const NAME_COLUMN: ColumnDefinition = {
  name: "Name",
  type: "string",
  format: "name",
  description: "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
  priority: 0,
};

const AGE_COLUMN: ColumnDefinition = {
  name: "Age",
  type: "date",
  format: "",
  description: "CreationTimestamp is a timestamp representing the server time when this object was created.",
  priority: 0,
};

export type IncludeObject = "None" | "Metadata" | "Object";

export function toTable(
  rt: ResourceType,
  objects: KubeObject[],
  listMeta: Record<string, unknown>,
  includeObject: IncludeObject,
  tableVersion: string,
): Record<string, unknown> {
  const columns: ColumnDefinition[] = rt.omitNameColumn ? [] : [NAME_COLUMN];
  const cellFns: ((obj: KubeObject) => unknown)[] = rt.omitNameColumn ? [] : [(o) => o.metadata.name ?? ""];
  if (rt.custom) {
    const printerColumns = rt.printerColumns ?? [];
    if (printerColumns.length === 0) {
      columns.push(AGE_COLUMN);
      cellFns.push((o) => ageOf(o.metadata.creationTimestamp));
    }
    for (const c of printerColumns) {
      columns.push({ name: c.name, type: c.type, format: c.format ?? "", description: c.description ?? "", priority: c.priority ?? 0 });
      cellFns.push((o) => {
        const values = evaluateJsonPath(o, c.jsonPath);
        if (values.length === 0) return null;
        if (values.length === 1) return cellFor(c.type, values[0]);
        return printValues(values);
      });
    }
  } else {
    for (const c of rt.builtinColumns ?? [{ name: "Age", type: "date", cell: (o: KubeObject) => ageOf(o.metadata.creationTimestamp) }]) {
      columns.push({ name: c.name, type: c.type, format: c.format ?? "", description: c.description ?? "", priority: c.priority ?? 0 });
      cellFns.push(c.cell);
    }
  }
  const rows = objects.map((obj) => {
    const row: Record<string, unknown> = { cells: cellFns.map((fn) => fn(obj)) };
    if (includeObject === "Object") row["object"] = obj;
    if (includeObject === "Metadata") {
      row["object"] = { kind: "PartialObjectMetadata", apiVersion: `meta.k8s.io/${tableVersion}`, metadata: obj.metadata };
    }
    return row;
  });
  return {
    kind: "Table",
    apiVersion: `meta.k8s.io/${tableVersion}`,
    metadata: listMeta,
    columnDefinitions: columns,
    rows,
  };
}
