// Strict structural validation of built-in Kubernetes objects against the Kubernetes
// OpenAPI schema, as generated into @kubernetes/client-node's models (the package's
// models are produced by openapi-generator from the official spec; the version is in
// each model file's header). Like `kubectl apply --validate=strict`, it rejects unknown
// fields, wrong types and missing required fields, with the field path in the message.
//
// Where the generated models lose information it is put back from the OpenAPI spec:
// resource.Quantity is x-kubernetes-int-or-string (the models say string), and required
// fields are read from the generated declarations ('name': string vs 'name'?: string).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as k8s from "@kubernetes/client-node";

interface Attribute {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

interface ModelClass {
  getAttributeTypeMap(): Attribute[];
}

/** The kinds the chart renders, by apiVersion: the model class each one validates with. */
const KINDS: Record<string, Record<string, string>> = {
  v1: { ServiceAccount: "V1ServiceAccount", Service: "V1Service", Secret: "V1Secret", ConfigMap: "V1ConfigMap", Namespace: "V1Namespace" },
  "apps/v1": { Deployment: "V1Deployment", StatefulSet: "V1StatefulSet" },
  "policy/v1": { PodDisruptionBudget: "V1PodDisruptionBudget" },
  "networking.k8s.io/v1": { NetworkPolicy: "V1NetworkPolicy" },
  "rbac.authorization.k8s.io/v1": {
    ClusterRole: "V1ClusterRole",
    ClusterRoleBinding: "V1ClusterRoleBinding",
    Role: "V1Role",
    RoleBinding: "V1RoleBinding",
  },
  "apiextensions.k8s.io/v1": { CustomResourceDefinition: "V1CustomResourceDefinition" },
  "batch/v1": { Job: "V1Job" },
};

/** Fields whose OpenAPI type is resource.Quantity (int-or-string), typed string in the models. */
const QUANTITY_FIELDS = new Set([
  "V1ResourceRequirements.limits",
  "V1ResourceRequirements.requests",
  "V1EmptyDirVolumeSource.sizeLimit",
]);

const modelsDir = join(dirname(createRequire(import.meta.url).resolve("@kubernetes/client-node")), "gen/models");

export function isBuiltinKind(apiVersion: string, kind: string): boolean {
  return KINDS[apiVersion]?.[kind] !== undefined;
}

/** The OpenAPI spec version the models were generated from, e.g. "v1.34.0". */
export function schemaVersion(): string {
  const header = readFileSync(join(modelsDir, "V1Deployment.d.ts"), "utf8");
  const m = /OpenAPI spec version: (\S+)/.exec(header);
  return m?.[1] ?? "unknown";
}

const requiredCache = new Map<string, Set<string>>();

function requiredFields(className: string): Set<string> {
  let required = requiredCache.get(className);
  if (required) return required;
  const declaration = readFileSync(join(modelsDir, `${className}.d.ts`), "utf8");
  required = new Set<string>();
  for (const m of declaration.matchAll(/^ {4}'([^']+)'(\?)?:/gm)) {
    if (m[2] === undefined) required.add(m[1]!);
  }
  requiredCache.set(className, required);
  return required;
}

function modelClass(className: string): ModelClass {
  const cls = (k8s as unknown as Record<string, ModelClass | undefined>)[className];
  if (!cls || typeof cls.getAttributeTypeMap !== "function") throw new Error(`no model ${className} in @kubernetes/client-node`);
  return cls;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function checkType(type: string, format: string, value: unknown, path: string, errors: string[], quantity = false): void {
  if (value === null) return; // null clears a field in apply; the server treats it as unset
  const arrayOf = /^Array<(.+)>$/.exec(type);
  const mapOf = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (arrayOf) {
    if (!Array.isArray(value)) return void errors.push(`${path}: expected array, got ${describe(value)}`);
    value.forEach((item, i) => checkType(arrayOf[1]!, "", item, `${path}[${i}]`, errors, quantity));
    return;
  }
  if (mapOf) {
    if (!isPlainObject(value)) return void errors.push(`${path}: expected object, got ${describe(value)}`);
    for (const [key, item] of Object.entries(value)) checkType(mapOf[1]!, "", item, `${path}.${key}`, errors, quantity);
    return;
  }
  switch (type) {
    case "any":
      return;
    case "string":
      if (typeof value === "string") return;
      if (quantity && typeof value === "number") return;
      return void errors.push(`${path}: expected string, got ${describe(value)}`);
    case "Date":
      if (typeof value !== "string") errors.push(`${path}: expected a timestamp string, got ${describe(value)}`);
      return;
    case "boolean":
      if (typeof value !== "boolean") errors.push(`${path}: expected boolean, got ${describe(value)}`);
      return;
    case "number":
      if (typeof value !== "number") return void errors.push(`${path}: expected ${format || "number"}, got ${describe(value)}`);
      if ((format === "int32" || format === "int64") && !Number.isInteger(value)) errors.push(`${path}: expected ${format}, got ${value}`);
      if (format === "int32" && Math.abs(value) > 2 ** 31 - 1) errors.push(`${path}: ${value} overflows int32`);
      return;
    case "IntOrString":
      if (typeof value !== "string" && !(typeof value === "number" && Number.isInteger(value))) {
        errors.push(`${path}: expected integer or string, got ${describe(value)}`);
      }
      return;
    default:
      validateModel(type, value, path, errors);
  }
}

function validateModel(className: string, value: unknown, path: string, errors: string[]): void {
  if (!isPlainObject(value)) return void errors.push(`${path}: expected object (${className}), got ${describe(value)}`);
  const attributes = modelClass(className).getAttributeTypeMap();
  const byJsonName = new Map(attributes.map((a) => [a.baseName, a]));
  for (const name of requiredFields(className)) {
    const attr = attributes.find((a) => a.name === name);
    const jsonName = attr?.baseName ?? name;
    if (value[jsonName] === undefined || value[jsonName] === null) errors.push(`${path}.${jsonName}: Required value`);
  }
  for (const [key, item] of Object.entries(value)) {
    const attr = byJsonName.get(key);
    if (!attr) {
      errors.push(`${path}: unknown field "${key}" (${className})`);
      continue;
    }
    checkType(attr.type, attr.format, item, `${path}.${key}`, errors, QUANTITY_FIELDS.has(`${className}.${attr.baseName}`));
  }
}

/**
 * Validates one object against the schema of its apiVersion and kind. Returns the errors,
 * each with the field path (empty when valid). Throws for a kind this module doesn't know.
 */
export function validateBuiltin(object: { apiVersion?: unknown; kind?: unknown; [field: string]: unknown }): string[] {
  const apiVersion = String(object.apiVersion);
  const kind = String(object.kind);
  const className = KINDS[apiVersion]?.[kind];
  if (!className) throw new Error(`${apiVersion} ${kind} is not a built-in kind known to the validator`);
  const errors: string[] = [];
  validateModel(className, object, kind, errors);
  return errors;
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** The apiserver's ObjectMeta rules for names and labels (apimachinery validation). */
export function validateMetadata(object: { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } }): string[] {
  const errors: string[] = [];
  const { name, namespace, labels } = object.metadata;
  if (object.kind === "Service") {
    if (name.length > 63 || !DNS1035_LABEL.test(name)) errors.push(`metadata.name: "${name}" is not a DNS-1035 label`);
  } else if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    errors.push(`metadata.name: "${name}" is not a DNS-1123 subdomain`);
  }
  if (namespace !== undefined && (namespace.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace))) {
    errors.push(`metadata.namespace: "${namespace}" is not a DNS-1123 label`);
  }
  for (const [key, value] of Object.entries(labels ?? {})) {
    const [prefix, label] = key.includes("/") ? key.split("/", 2) : [undefined, key];
    if (prefix !== undefined && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) errors.push(`metadata.labels: bad prefix in "${key}"`);
    if (label === undefined || label.length > 63 || !LABEL_NAME.test(label)) errors.push(`metadata.labels: bad name in "${key}"`);
    if (typeof value !== "string" || value.length > 63 || !LABEL_VALUE.test(value)) errors.push(`metadata.labels.${key}: bad value "${String(value)}"`);
  }
  return errors;
}
