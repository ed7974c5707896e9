// THE file to make yours: everything else in this app is plumbing you can keep.
//
// Contract: resolve = done (the message is acked); throw PermanentError = it can never
// succeed (dead-lettered at once); throw anything else = try again later (nak with backoff,
// dead-lettered by the operator after maxDeliver). A message can be delivered more than
// once (a replica killed mid-task, an ack lost): make the effect idempotent, here by
// keying on eventId.

import { PermanentError, RetryableError } from "./errors.js";
import { IMMUNISATION_ADMINISTERED, type ImmunisationAdministered } from "./event.js";
import { isIsoDate } from "./iso-date.js";

export interface HandlerContext {
  subject: string;
  /** The publisher's Nats-Msg-Id, if any. */
  msgId: string | undefined;
  streamSeq: number;
  /** 1 on the first delivery. */
  deliveryCount: number;
  /** P2P_WORK_MS: simulated work per message, for demos and benchmarks. */
  workMs: number;
}

export async function handle(data: Uint8Array, ctx: HandlerContext): Promise<void> {
  const event = parseImmunisationAdministered(data);

  if (event.simulate === "always-fail") throw new RetryableError(`simulated failure of ${event.eventId}`);
  if (event.simulate === "transient" && ctx.deliveryCount <= (event.transientFailures ?? 1)) {
    throw new RetryableError(`simulated transient failure of ${event.eventId} (delivery ${ctx.deliveryCount})`);
  }

  // Replace with your side effect, e.g. an upsert into the immunisation register keyed on
  // eventId, so a redelivered event records nothing twice.
  if (ctx.workMs > 0) await new Promise((resolve) => setTimeout(resolve, ctx.workMs));
}

const textDecoder = new TextDecoder();

/** Parses and validates; anything malformed is a PermanentError naming the field. */
export function parseImmunisationAdministered(data: Uint8Array): ImmunisationAdministered {
  let value: unknown;
  try {
    value = JSON.parse(textDecoder.decode(data));
  } catch {
    throw new PermanentError("not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new PermanentError("not a JSON object");
  const e = value as Record<string, unknown>;
  if (e.type !== IMMUNISATION_ADMINISTERED) throw new PermanentError(`type must be "${IMMUNISATION_ADMINISTERED}"`);
  for (const field of REQUIRED_TEXT) {
    if (!isNonBlank(e[field])) throw new PermanentError(`${field} must be a non-empty string`);
  }
  if (typeof e.dose !== "number" || !Number.isInteger(e.dose) || e.dose < 1) throw new PermanentError("dose must be a positive integer");
  if (typeof e.administeredAt !== "string" || !isIsoDate(e.administeredAt)) {
    throw new PermanentError("administeredAt must be an ISO 8601 date");
  }
  if (e.simulate !== undefined && e.simulate !== "transient" && e.simulate !== "always-fail") {
    throw new PermanentError('simulate must be "transient" or "always-fail"');
  }
  if (e.transientFailures !== undefined && (typeof e.transientFailures !== "number" || !Number.isInteger(e.transientFailures) || e.transientFailures < 0)) {
    throw new PermanentError("transientFailures must be a non-negative integer");
  }
  return e as unknown as ImmunisationAdministered;
}

const REQUIRED_TEXT = ["eventId", "patientId", "vaccineCode", "providerId"] as const;

/** A string with something other than whitespace in it; trims (a copy) only when it does not start with visible ASCII. */
function isNonBlank(value: unknown): boolean {
  if (typeof value !== "string" || value.length === 0) return false;
  const first = value.charCodeAt(0);
  return (first > 32 && first < 127) || value.trim() !== "";
}
