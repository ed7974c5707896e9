import type { ConditionVerdict } from "./ports.js";

/**
 * An error an adapter throws when the outside world is not as the channel needs it, with the
 * condition it should become. The controller turns it into that condition plus a retry.
 */
export interface ConditionError extends Error {
  readonly reason: string;
}

export function isConditionError(err: unknown): err is ConditionError {
  return err instanceof Error && typeof (err as Partial<ConditionError>).reason === "string";
}

/** The verdict for an error: typed adapter errors keep their reason; anything else is unexpected. */
export function verdictOf(err: unknown, fallbackReason: string): ConditionVerdict {
  if (isConditionError(err)) return { status: "False", reason: err.reason, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { status: "False", reason: fallbackReason, message };
}

export class SecretNotFoundError extends Error implements ConditionError {
  override name = "SecretNotFoundError";
  readonly reason = "SecretNotFound";
}

export class InvalidSecretError extends Error implements ConditionError {
  override name = "InvalidSecretError";
  readonly reason = "InvalidSecret";
}
