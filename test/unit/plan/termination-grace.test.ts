import { describe, expect, it } from "vitest";
import { STOP_MARGIN_SECONDS, podTerminationGraceSeconds, terminationGracePeriodSeconds } from "../../../operator/src/plan/index.js";
import { makeResolvedChannel } from "../../support/channels.js";

describe("terminationGracePeriodSeconds", () => {
  it.each([
    { name: "the default ackWait 30s", ackWaitMs: 30_000, backoffMs: [], seconds: 30 + STOP_MARGIN_SECONDS },
    { name: "a short ackWait", ackWaitMs: 2_000, backoffMs: [], seconds: 2 + STOP_MARGIN_SECONDS },
    { name: "an ackWait of a fraction of a second, rounded up", ackWaitMs: 1_500, backoffMs: [], seconds: 2 + STOP_MARGIN_SECONDS },
    { name: "a backoff: its longest step, whatever ackWait says", ackWaitMs: 30_000, backoffMs: [1_000, 10_000, 60_000], seconds: 60 + STOP_MARGIN_SECONDS },
    { name: "a backoff shorter than ackWait", ackWaitMs: 30_000, backoffMs: [1_000, 5_000], seconds: 5 + STOP_MARGIN_SECONDS },
  ])("with $name: $seconds s", ({ ackWaitMs, backoffMs, seconds }) => {
    expect(terminationGracePeriodSeconds(makeResolvedChannel({ consumer: { ackWaitMs, backoffMs } }))).toBe(seconds);
  });
});

describe("podTerminationGraceSeconds", () => {
  const channel = makeResolvedChannel({ consumer: { ackWaitMs: 30_000 } });
  it.each([
    { name: "no pod spec", spec: undefined, seconds: 35 },
    { name: "a pod spec without it", spec: { containers: [] }, seconds: 35 },
    { name: "the template's own 120", spec: { containers: [], terminationGracePeriodSeconds: 120 }, seconds: 120 },
    { name: "the template's own 0", spec: { containers: [], terminationGracePeriodSeconds: 0 }, seconds: 0 },
    { name: "a string (not an integer): the channel's", spec: { containers: [], terminationGracePeriodSeconds: "60" }, seconds: 35 },
  ])("with $name: $seconds s", ({ spec, seconds }) => {
    expect(podTerminationGraceSeconds(channel, spec)).toBe(seconds);
  });
});
