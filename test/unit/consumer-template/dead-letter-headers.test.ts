import { describe, expect, it } from "vitest";
import { DeadLetterHeaders as templateHeaders } from "../../../consumer-template/src/dead-letter-headers.js";
import { DeadLetterHeaders as moverHeaders } from "../../../operator/src/nats/index.js";

describe("dead-letter headers", () => {
  it("are the same whether the template or the operator's mover dead-letters a message", () => {
    expect(templateHeaders).toEqual(moverHeaders);
  });
});
