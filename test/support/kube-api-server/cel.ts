// x-kubernetes-validations: CEL rules evaluated with @marcbachmann/cel-js. Values are
// handed to CEL typed by the schema (integers as bigint, like Kubernetes' int64).
import { Environment } from "@marcbachmann/cel-js";
import type { ParseResult } from "@marcbachmann/cel-js";
import { isObject } from "./objects.js";
import type { JsonSchema } from "./schema.js";

export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: string;
  fieldPath?: string;
  optionalOldSelf?: boolean;
}

const environment = new Environment({
  unlistedVariablesAreDyn: true,
  homogeneousAggregateLiterals: false,
  enableOptionalTypes: true,
});

const compiled = new Map<string, ParseResult>();

/** Parses (and caches) a rule; throws the parser's error for a bad rule. */
export function compileRule(expression: string): ParseResult {
  let program = compiled.get(expression);
  if (!program) {
    program = environment.parse(expression);
    compiled.set(expression, program);
  }
  return program;
}

/** A transition rule compares with the previous object; it runs only on update. */
export function isTransitionRule(rule: ValidationRule): boolean {
  return /\boldSelf\b/.test(rule.rule);
}

/** Converts a JSON value to the CEL value Kubernetes would build from the schema. */
export function toCel(value: unknown, schema: JsonSchema | undefined): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") {
    const type = schema?.type;
    if (type === "integer" || (type === undefined && Number.isInteger(value))) {
      return Number.isInteger(value) ? BigInt(value) : value;
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((item) => toCel(item, schema?.items));
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      const childSchema =
        schema?.properties?.[key] ??
        (isObject(schema?.additionalProperties) ? (schema.additionalProperties as JsonSchema) : undefined);
      out[key] = toCel(child, childSchema);
    }
    return out;
  }
  return value;
}

export interface RuleOutcome {
  ok: boolean;
  message: string;
}

/** Evaluates one rule; an evaluation error counts as a failure with its message. */
export function evaluateRule(
  rule: ValidationRule,
  self: unknown,
  oldSelf: unknown,
  schema: JsonSchema,
): RuleOutcome {
  const context: Record<string, unknown> = { self: toCel(self, schema) };
  if (oldSelf !== undefined) context["oldSelf"] = toCel(oldSelf, schema);
  let result: unknown;
  try {
    result = compileRule(rule.rule)(context);
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
  if (result === true) return { ok: true, message: "" };
  if (rule.messageExpression) {
    try {
      const message = compileRule(rule.messageExpression)(context);
      if (typeof message === "string" && message.trim() !== "") return { ok: false, message };
    } catch {
      // Kubernetes falls back to message (or the default) when messageExpression fails.
    }
  }
  return { ok: false, message: rule.message ?? `failed rule: ${rule.rule}` };
}
