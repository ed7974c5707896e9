// CustomResourceDefinitions: checking a CRD the way the apiextensions server does (as
// far as tests need), turning it into served resource types, and its status.
import { compileRule } from "./cel.js";
import type { FieldError } from "./errors.js";
import { isObject, nowTimestamp } from "./objects.js";
import type { KubeObject } from "./objects.js";
import type { PrinterColumn, ResourceType, ScaleSubresource } from "./resources.js";
import type { JsonSchema } from "./schema.js";

interface CrdNames {
  plural: string;
  singular?: string;
  kind: string;
  listKind?: string;
  shortNames?: string[];
  categories?: string[];
}

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema?: { openAPIV3Schema?: JsonSchema };
  subresources?: { status?: Record<string, never>; scale?: ScaleSubresource };
  additionalPrinterColumns?: PrinterColumn[];
}

interface CrdSpec {
  group: string;
  names: CrdNames;
  scope: "Namespaced" | "Cluster";
  versions: CrdVersion[];
}

function specOf(crd: KubeObject): CrdSpec | undefined {
  const spec = crd["spec"];
  return isObject(spec) ? (spec as unknown as CrdSpec) : undefined;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Every rule in the schema, with its path, for compiling at CRD creation. */
function rulesIn(schema: JsonSchema | undefined, path: string, out: { path: string; rule: string }[]): void {
  if (!schema) return;
  for (const r of schema["x-kubernetes-validations"] ?? []) {
    out.push({ path, rule: r.rule });
    if (r.messageExpression) out.push({ path, rule: r.messageExpression });
  }
  for (const [name, child] of Object.entries(schema.properties ?? {})) rulesIn(child, `${path}.properties[${name}]`, out);
  if (isObject(schema.additionalProperties)) rulesIn(schema.additionalProperties as JsonSchema, `${path}.additionalProperties`, out);
  rulesIn(schema.items, `${path}.items`, out);
}

export function validateCrd(crd: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errors: FieldError[] = [];
  const spec = specOf(crd);
  if (!spec) return [{ field: "spec", reason: "FieldValueRequired", message: "Required value" }];
  const names = spec.names ?? ({} as CrdNames);
  if (!spec.group) errors.push({ field: "spec.group", reason: "FieldValueRequired", message: "Required value" });
  if (!names.plural) errors.push({ field: "spec.names.plural", reason: "FieldValueRequired", message: "Required value" });
  if (!names.kind) errors.push({ field: "spec.names.kind", reason: "FieldValueRequired", message: "Required value" });
  const expectedName = `${names.plural}.${spec.group}`;
  if (crd.metadata.name !== expectedName) {
    errors.push({
      field: "metadata.name",
      reason: "FieldValueInvalid",
      message: `Invalid value: ${JSON.stringify(crd.metadata.name)}: must be spec.names.plural+"."+spec.group`,
    });
  }
  if (spec.scope !== "Namespaced" && spec.scope !== "Cluster") {
    errors.push({ field: "spec.scope", reason: "FieldValueNotSupported", message: `Unsupported value: ${JSON.stringify(spec.scope ?? "")}: supported values: "Cluster", "Namespaced"` });
  }
  for (const shortName of names.shortNames ?? []) {
    if (!DNS_LABEL.test(shortName)) errors.push({ field: "spec.names.shortNames", reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(shortName)}: must be a DNS-1035 label` });
  }
  const versions = Array.isArray(spec.versions) ? spec.versions : [];
  if (versions.length === 0) errors.push({ field: "spec.versions", reason: "FieldValueRequired", message: "Required value" });
  if (versions.filter((v) => v.storage).length !== 1) {
    errors.push({ field: "spec.versions", reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(versions)}: must have exactly one version marked as storage version` });
  }
  versions.forEach((v, i) => {
    const schema = v.schema?.openAPIV3Schema;
    if (!schema) {
      errors.push({ field: `spec.versions[${i}].schema.openAPIV3Schema`, reason: "FieldValueRequired", message: "Required value: schemas are required" });
      return;
    }
    if (schema.type !== "object") {
      errors.push({ field: `spec.versions[${i}].schema.openAPIV3Schema.type`, reason: "FieldValueRequired", message: "Required value: must be object at the root" });
    }
    const rules: { path: string; rule: string }[] = [];
    rulesIn(schema, `spec.versions[${i}].schema.openAPIV3Schema`, rules);
    for (const { path, rule } of rules) {
      try {
        compileRule(rule);
      } catch (err) {
        errors.push({
          field: `${path}.x-kubernetes-validations`,
          reason: "FieldValueInvalid",
          message: `Invalid value: ${JSON.stringify(rule)}: compilation failed: ${(err as Error).message}`,
        });
      }
    }
  });
  if (old) {
    const oldSpec = specOf(old);
    if (oldSpec && oldSpec.group !== spec.group) {
      errors.push({ field: "spec.group", reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(spec.group)}: field is immutable` });
    }
    if (oldSpec && oldSpec.names?.plural !== names.plural) {
      errors.push({ field: "spec.names.plural", reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(names.plural)}: field is immutable` });
    }
  }
  return errors;
}

/** Defaults the apiextensions server fills in (listKind, singular). */
export function defaultCrd(crd: KubeObject): void {
  const spec = specOf(crd);
  if (!spec?.names) return;
  spec.names.singular ??= spec.names.kind?.toLowerCase();
  spec.names.listKind ??= `${spec.names.kind}List`;
  crd["spec"] = { conversion: { strategy: "None" }, ...spec };
}

/** The status a CRD reaches once its names are accepted: Established at once. */
export function establishedStatus(crd: KubeObject): Record<string, unknown> {
  const spec = specOf(crd);
  const now = nowTimestamp();
  const condition = (type: string, reason: string, message: string): Record<string, unknown> => ({
    type,
    status: "True",
    lastTransitionTime: now,
    reason,
    message,
  });
  return {
    acceptedNames: spec?.names ?? {},
    conditions: [
      condition("NamesAccepted", "NoConflicts", "no conflicts found"),
      condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
    ],
    storedVersions: (spec?.versions ?? []).filter((v) => v.storage).map((v) => v.name),
  };
}

export function resourceTypesForCrd(crd: KubeObject): ResourceType[] {
  const spec = specOf(crd);
  if (!spec) return [];
  const names = spec.names;
  return spec.versions
    .filter((v) => v.served)
    .map((v) => {
      const rt: ResourceType = {
        group: spec.group,
        version: v.name,
        kind: names.kind,
        listKind: names.listKind ?? `${names.kind}List`,
        plural: names.plural,
        singular: names.singular ?? names.kind.toLowerCase(),
        namespaced: spec.scope === "Namespaced",
        shortNames: names.shortNames ?? [],
        categories: names.categories ?? [],
        verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
        statusSubresource: v.subresources?.status !== undefined,
        custom: true,
        generation: true,
        storageKey: `${spec.group}/${names.plural}`,
        crdName: crd.metadata.name ?? "",
        printerColumns: v.additionalPrinterColumns ?? [],
      };
      if (v.schema?.openAPIV3Schema) rt.schema = v.schema.openAPIV3Schema;
      if (v.subresources?.scale) rt.scale = v.subresources.scale;
      return rt;
    });
}
