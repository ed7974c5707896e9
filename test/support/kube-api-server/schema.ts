// Structural schemas of custom resources: pruning unknown fields, defaulting, and
// validation (OpenAPI value validations and CEL rules), with the error texts
// kube-apiserver produces, so clients see the same messages.
import { evaluateRule, isTransitionRule } from "./cel.js";
import type { ValidationRule } from "./cel.js";
import type { FieldError } from "./errors.js";
import { clone, deepEqual, isObject } from "./objects.js";
import type { Json } from "./objects.js";

export interface JsonSchema {
  type?: string;
  format?: string;
  description?: string;
  nullable?: boolean;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  required?: string[];
  enum?: Json[];
  default?: Json;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  allOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  not?: JsonSchema;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-embedded-resource"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: string;
  "x-kubernetes-validations"?: ValidationRule[];
  [extension: string]: unknown;
}

function childPath(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function isPreserving(schema: JsonSchema): boolean {
  return schema["x-kubernetes-preserve-unknown-fields"] === true;
}

function additional(schema: JsonSchema): JsonSchema | undefined {
  return isObject(schema.additionalProperties) ? (schema.additionalProperties as JsonSchema) : undefined;
}

/**
 * Removes fields the schema does not know (unless preserved) and nulls the schema
 * does not allow; returns the paths removed so Strict/Warn field validation can report
 * them. The root's apiVersion/kind/metadata are always kept.
 */
export function prune(value: unknown, schema: JsonSchema, path = "", isRoot = true): string[] {
  const unknown: string[] = [];
  pruneInto(value, schema, path, isRoot, unknown);
  return unknown;
}

function pruneInto(value: unknown, schema: JsonSchema, path: string, keepMeta: boolean, unknown: string[]): void {
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, i) => pruneInto(item, schema.items as JsonSchema, `${path}[${i}]`, false, unknown));
    return;
  }
  if (!isObject(value)) return;
  const embedded = keepMeta || schema["x-kubernetes-embedded-resource"] === true;
  const extra = additional(schema);
  for (const key of Object.keys(value)) {
    if (embedded && (key === "apiVersion" || key === "kind" || key === "metadata")) continue;
    const child = value[key];
    const propSchema = schema.properties?.[key] ?? extra;
    if (!propSchema) {
      if (!isPreserving(schema) && schema.additionalProperties !== true) {
        delete value[key];
        unknown.push(childPath(path, key));
      }
      continue;
    }
    if (child === null && !propSchema.nullable && schema.properties?.[key]) {
      delete value[key];
      continue;
    }
    pruneInto(child, propSchema, childPath(path, key), false, unknown);
  }
}

/** Applies schema defaults to fields that are absent, recursively. */
export function applyDefaults(value: unknown, schema: JsonSchema): void {
  if (Array.isArray(value)) {
    if (schema.items) for (const item of value) applyDefaults(item, schema.items);
    return;
  }
  if (!isObject(value)) return;
  for (const [key, propSchema] of Object.entries(schema.properties ?? {})) {
    if (value[key] === undefined && propSchema.default !== undefined) value[key] = clone(propSchema.default);
    if (value[key] !== undefined) applyDefaults(value[key], propSchema);
  }
  const extra = additional(schema);
  if (extra) {
    for (const key of Object.keys(value)) {
      if (!schema.properties?.[key]) applyDefaults(value[key], extra);
    }
  }
}

/** How Go's field errors print a value. */
export function renderValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || value === undefined) return "null";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  if (typeof value === "object") return "object";
  return typeof value;
}

function typeMatches(value: unknown, schema: JsonSchema): boolean {
  if (schema["x-kubernetes-int-or-string"]) return typeof value === "string" || Number.isInteger(value);
  switch (schema.type) {
    case undefined:
      return true;
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "string":
      return typeof value === "string";
    case "boolean":
      return typeof value === "boolean";
    case "object":
      return isObject(value);
    case "array":
      return Array.isArray(value);
    default:
      return true;
  }
}

function invalidValue(field: string, value: unknown, detail: string): FieldError {
  return { field, reason: "FieldValueInvalid", message: `Invalid value: ${renderValue(value)}: ${detail}` };
}

/** Validates value against the schema's OpenAPI value validations (CEL: validateCel). */
export function validate(
  value: unknown,
  schema: JsonSchema,
  path: string,
  errors: FieldError[],
): void {
  if (value === null) {
    if (!schema.nullable && schema.type !== undefined) {
      errors.push({
        field: path,
        reason: "FieldValueTypeInvalid",
        message: `Invalid value: "null": ${path} in body must be of type ${schema.type}: "null"`,
      });
    }
    return;
  }
  if (!typeMatches(value, schema)) {
    const actual = jsonType(value);
    errors.push({
      field: path,
      reason: "FieldValueTypeInvalid",
      message: `Invalid value: "${actual}": ${path} in body must be of type ${schema.type}: "${actual}"`,
    });
    return;
  }
  validateValue(value, schema, path, errors);
  for (const sub of schema.allOf ?? []) validate(value, { ...sub, type: sub.type ?? schema.type }, path, errors);
  if (schema.anyOf && !schema.anyOf.some((sub) => collect(value, sub, path).length === 0)) {
    errors.push(invalidValue(path, schema.type ?? jsonType(value), `${path} in body must match at least one schema (anyOf)`));
  }
  if (schema.oneOf && schema.oneOf.filter((sub) => collect(value, sub, path).length === 0).length !== 1) {
    errors.push(invalidValue(path, schema.type ?? jsonType(value), `${path} in body must validate one and only one schema (oneOf)`));
  }
  if (schema.not && collect(value, schema.not, path).length === 0) {
    errors.push(invalidValue(path, schema.type ?? jsonType(value), `${path} in body must not validate the schema (not)`));
  }

  if (Array.isArray(value)) {
    validateList(value, schema, path, errors);
  } else if (isObject(value)) {
    for (const name of schema.required ?? []) {
      if (value[name] === undefined) {
        errors.push({ field: childPath(path, name), reason: "FieldValueRequired", message: "Required value" });
      }
    }
    const extra = additional(schema);
    for (const [key, child] of Object.entries(value)) {
      const propSchema = schema.properties?.[key] ?? extra;
      if (!propSchema || child === undefined) continue;
      const childField = schema.properties?.[key] ? childPath(path, key) : `${path}[${key}]`;
      validate(child, propSchema, childField, errors);
    }
  }
}

function collect(value: unknown, schema: JsonSchema, path: string): FieldError[] {
  const errors: FieldError[] = [];
  validate(value, schema, path, errors);
  return errors;
}

function validateValue(value: unknown, schema: JsonSchema, path: string, errors: FieldError[]): void {
  if (schema.enum && !schema.enum.some((allowed) => deepEqual(allowed, value))) {
    errors.push({
      field: path,
      reason: "FieldValueNotSupported",
      message: `Unsupported value: ${renderValue(value)}: supported values: ${schema.enum.map(renderValue).join(", ")}`,
    });
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined) {
      if (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum) {
        const op = schema.exclusiveMinimum ? "greater than" : "greater than or equal to";
        errors.push(invalidValue(path, value, `${path} in body should be ${op} ${schema.minimum}`));
      }
    }
    if (schema.maximum !== undefined) {
      if (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum) {
        const op = schema.exclusiveMaximum ? "less than" : "less than or equal to";
        errors.push(invalidValue(path, value, `${path} in body should be ${op} ${schema.maximum}`));
      }
    }
    if (schema.multipleOf !== undefined && value % schema.multipleOf !== 0) {
      errors.push(invalidValue(path, value, `${path} in body should be a multiple of ${schema.multipleOf}`));
    }
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (schema.maxLength !== undefined && length > schema.maxLength) {
      errors.push({
        field: path,
        reason: "FieldValueTooLong",
        message: `Too long: may not be more than ${schema.maxLength} bytes`,
      });
    }
    if (schema.minLength !== undefined && length < schema.minLength) {
      errors.push(invalidValue(path, value, `${path} in body should be at least ${schema.minLength} chars long`));
    }
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) {
      errors.push(invalidValue(path, value, `${path} in body should match '${schema.pattern}'`));
    }
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      errors.push({
        field: path,
        reason: "FieldValueTooMany",
        message: `Too many: ${value.length}: must have at most ${schema.maxItems} items`,
      });
    }
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      errors.push(invalidValue(path, value.length, `${path} in body should have at least ${schema.minItems} items`));
    }
  }
  if (isObject(value)) {
    const count = Object.keys(value).length;
    if (schema.maxProperties !== undefined && count > schema.maxProperties) {
      errors.push({
        field: path,
        reason: "FieldValueTooMany",
        message: `Too many: ${count}: must have at most ${schema.maxProperties} items`,
      });
    }
    if (schema.minProperties !== undefined && count < schema.minProperties) {
      errors.push(invalidValue(path, count, `${path} in body should have at least ${schema.minProperties} properties`));
    }
  }
}

function listKey(item: unknown, keys: string[]): string {
  return JSON.stringify(keys.map((k) => (isObject(item) ? item[k] : undefined) ?? null));
}

function validateList(value: unknown[], schema: JsonSchema, path: string, errors: FieldError[]): void {
  const listType = schema["x-kubernetes-list-type"];
  const mapKeys = schema["x-kubernetes-list-map-keys"] ?? [];
  const seen = new Set<string>();
  value.forEach((item, i) => {
    const itemPath = `${path}[${i}]`;
    if (listType === "map") {
      const key = listKey(item, mapKeys);
      if (seen.has(key)) {
        const keyObject = Object.fromEntries(mapKeys.map((k) => [k, isObject(item) ? item[k] : undefined]));
        errors.push({ field: itemPath, reason: "FieldValueDuplicate", message: `Duplicate value: ${JSON.stringify(keyObject)}` });
      }
      seen.add(key);
    } else if (listType === "set" || schema.uniqueItems) {
      const key = JSON.stringify(item);
      if (seen.has(key)) {
        errors.push({ field: itemPath, reason: "FieldValueDuplicate", message: `Duplicate value: ${renderValue(item)}` });
      }
      seen.add(key);
    }
    if (schema.items) validate(item, schema.items, itemPath, errors);
  });
}

/**
 * Runs x-kubernetes-validations everywhere in the value. oldSelf is the value at the
 * same place in the old object: objects correlate by property, maps by key, lists
 * only when they are list-type map (by key) or set (by value), as in Kubernetes.
 */
export function validateCel(
  value: unknown,
  schema: JsonSchema,
  path: string,
  oldValue: unknown,
  errors: FieldError[],
): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    const listType = schema["x-kubernetes-list-type"];
    const mapKeys = schema["x-kubernetes-list-map-keys"] ?? [];
    const oldList = Array.isArray(oldValue) ? oldValue : [];
    value.forEach((item, i) => {
      let oldItem: unknown;
      if (listType === "map") oldItem = oldList.find((o) => listKey(o, mapKeys) === listKey(item, mapKeys));
      else if (listType === "set") oldItem = oldList.find((o) => deepEqual(o, item));
      if (schema.items) validateCel(item, schema.items, `${path}[${i}]`, oldItem, errors);
    });
  } else if (isObject(value)) {
    const old = isObject(oldValue) ? oldValue : undefined;
    const extra = additional(schema);
    for (const [key, child] of Object.entries(value)) {
      const propSchema = schema.properties?.[key] ?? extra;
      if (!propSchema) continue;
      const childField = schema.properties?.[key] ? childPath(path, key) : `${path}[${key}]`;
      validateCel(child, propSchema, childField, old?.[key], errors);
    }
  }
  validateRules(value, schema, path, oldValue, errors);
}

/** Type errors stop CEL from running at all, as in kube-apiserver. */
export function hasBlockingError(errors: FieldError[]): boolean {
  return errors.some((e) => e.reason === "FieldValueTypeInvalid");
}

export const CEL_SKIPPED_ERROR: FieldError = {
  field: "<nil>",
  reason: "FieldValueInvalid",
  message:
    "Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
};

function validateRules(value: unknown, schema: JsonSchema, path: string, oldValue: unknown, errors: FieldError[]): void {
  for (const rule of schema["x-kubernetes-validations"] ?? []) {
    const transition = isTransitionRule(rule);
    if (transition && oldValue === undefined && !rule.optionalOldSelf) continue;
    const outcome = evaluateRule(rule, value, transition ? oldValue : undefined, schema);
    if (outcome.ok) continue;
    const field = rule.fieldPath ? `${path}${rule.fieldPath.startsWith("[") ? "" : "."}${rule.fieldPath.replace(/^\./, "")}` : path;
    switch (rule.reason) {
      case "FieldValueRequired":
        errors.push({ field, reason: "FieldValueRequired", message: `Required value: ${outcome.message}` });
        break;
      case "FieldValueForbidden":
        errors.push({ field, reason: "FieldValueForbidden", message: `Forbidden: ${outcome.message}` });
        break;
      case "FieldValueDuplicate":
        errors.push({ field, reason: "FieldValueDuplicate", message: `Duplicate value: ${outcome.message}` });
        break;
      default:
        errors.push({
          field,
          reason: "FieldValueInvalid",
          message: `Invalid value: ${renderValue(schema.type ?? jsonType(value))}: ${outcome.message}`,
        });
    }
  }
}
