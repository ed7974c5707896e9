import { describe, expect, it } from "vitest";
import { makeExampleEvent as templateEvent } from "../../../consumer-template/src/event.js";
import { parseImmunisationAdministered } from "../../../consumer-template/src/handler.js";
import { makeExampleEvent } from "../../../operator/src/local/events.js";

describe("p2p publish's example event", () => {
  it.each([0, 1, 7, 42, 99_999])("is the consumer template's event %i, and the template accepts it", (i) => {
    const event = makeExampleEvent(i, "run");
    expect(event).toEqual(templateEvent(i, "run"));
    expect(parseImmunisationAdministered(new TextEncoder().encode(JSON.stringify(event)))).toEqual(event);
  });

  it("stays valid when padded with trailing whitespace", () => {
    const padded = `${JSON.stringify(makeExampleEvent(3))}${" ".repeat(900)}`;
    expect(parseImmunisationAdministered(new TextEncoder().encode(padded)).eventId).toBe("evt-3");
  });
});
