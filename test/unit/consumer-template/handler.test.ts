import { describe, expect, it } from "vitest";
import { PermanentError, RetryableError } from "../../../consumer-template/src/errors.js";
import { makeExampleEvent } from "../../../consumer-template/src/event.js";
import { handle, parseImmunisationAdministered, type HandlerContext } from "../../../consumer-template/src/handler.js";

const encode = (value: unknown) => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
const ctx = (deliveryCount = 1): HandlerContext => ({ subject: "immunisation.administered", msgId: "m-1", streamSeq: 1, deliveryCount, workMs: 0 });
const valid = makeExampleEvent(7);

describe("makeExampleEvent", () => {
  it("makes valid, deterministic, distinct events", () => {
    for (let i = 0; i < 500; i++) expect(parseImmunisationAdministered(encode(makeExampleEvent(i)))).toEqual(makeExampleEvent(i));
    expect(makeExampleEvent(3, "run-a")).toEqual(makeExampleEvent(3, "run-a"));
    expect(makeExampleEvent(3, "run-a").eventId).toBe("run-a-3");
    expect(new Set(Array.from({ length: 100 }, (_, i) => makeExampleEvent(i).eventId)).size).toBe(100);
  });
});

describe("parseImmunisationAdministered", () => {
  it.each([
    { name: "not JSON", body: "{nope", reason: "not JSON" },
    { name: "an array", body: [valid], reason: "not a JSON object" },
    { name: "null", body: "null", reason: "not a JSON object" },
    { name: "another type", body: { ...valid, type: "immunisation_cancelled" }, reason: 'type must be "immunisation_administered"' },
    { name: "no eventId", body: { ...valid, eventId: undefined }, reason: "eventId must be a non-empty string" },
    { name: "blank patientId", body: { ...valid, patientId: "  " }, reason: "patientId must be a non-empty string" },
    { name: "numeric vaccineCode", body: { ...valid, vaccineCode: 42 }, reason: "vaccineCode must be a non-empty string" },
    { name: "no providerId", body: { ...valid, providerId: "" }, reason: "providerId must be a non-empty string" },
    { name: "dose 0", body: { ...valid, dose: 0 }, reason: "dose must be a positive integer" },
    { name: "dose 1.5", body: { ...valid, dose: 1.5 }, reason: "dose must be a positive integer" },
    { name: 'dose "2"', body: { ...valid, dose: "2" }, reason: "dose must be a positive integer" },
    { name: "administeredAt not a date", body: { ...valid, administeredAt: "yesterday" }, reason: "administeredAt must be an ISO 8601 date" },
    { name: "administeredAt month 13", body: { ...valid, administeredAt: "2025-13-01" }, reason: "administeredAt must be an ISO 8601 date" },
    { name: "administeredAt 30 February", body: { ...valid, administeredAt: "2025-02-30" }, reason: "administeredAt must be an ISO 8601 date" },
    { name: "patientId of non-breaking spaces", body: { ...valid, patientId: "\u00a0\u00a0" }, reason: "patientId must be a non-empty string" },
    { name: "unknown simulate", body: { ...valid, simulate: "explode" }, reason: 'simulate must be "transient" or "always-fail"' },
  ])("refuses $name as a PermanentError", ({ body, reason }) => {
    expect(() => parseImmunisationAdministered(encode(body))).toThrow(new PermanentError(reason));
  });

  it.each(["2025-01-06", "2025-01-06T09:00Z", "2025-01-06T09:00:00.123Z", "2025-01-06T09:00:00+01:00"])("accepts administeredAt %s", (administeredAt) => {
    expect(parseImmunisationAdministered(encode({ ...valid, administeredAt })).administeredAt).toBe(administeredAt);
  });
});

describe("handle", () => {
  it("resolves for a valid event", async () => {
    await expect(handle(encode(valid), ctx())).resolves.toBeUndefined();
  });

  it("rejects a malformed event with a PermanentError", async () => {
    await expect(handle(encode({ ...valid, dose: -1 }), ctx())).rejects.toBeInstanceOf(PermanentError);
  });

  it.each([
    { failures: undefined, deliveryCount: 1, fails: true },
    { failures: undefined, deliveryCount: 2, fails: false },
    { failures: 3, deliveryCount: 3, fails: true },
    { failures: 3, deliveryCount: 4, fails: false },
    { failures: 0, deliveryCount: 1, fails: false },
  ])("transient with $failures failures, delivery $deliveryCount: fails=$fails", async ({ failures, deliveryCount, fails }) => {
    const body = { ...valid, simulate: "transient", ...(failures !== undefined && { transientFailures: failures }) };
    const result = handle(encode(body), ctx(deliveryCount));
    if (fails) await expect(result).rejects.toBeInstanceOf(RetryableError);
    else await expect(result).resolves.toBeUndefined();
  });

  it("always-fail fails every delivery, retryably", async () => {
    for (const n of [1, 2, 5, 50]) await expect(handle(encode({ ...valid, simulate: "always-fail" }), ctx(n))).rejects.toBeInstanceOf(RetryableError);
  });

  it("spends P2P_WORK_MS on each message", async () => {
    const started = performance.now();
    await handle(encode(valid), { ...ctx(), workMs: 50 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });
});
