import { describe, expect, it } from "vitest";
import {
  capabilitiesOf,
  desiredWorkStream,
  ownerDescription,
  ownershipOf,
  parseOwnerDescription,
  planNatsDeletion,
  queueStateOf,
  versionAtLeast,
  type ObservedStream,
} from "../../../operator/src/plan/index.js";
import { makeResolvedChannel } from "../../support/channels.js";

describe("owner stamp", () => {
  it.each([
    { owner: { namespace: "health", name: "air", uid: "6f1c-22" }, role: "work" as const },
    { owner: { namespace: "health", name: "air", uid: "" }, role: "work" as const },
    { owner: { namespace: "a", name: "b.c-d", uid: "x" }, role: "deadLetter" as const },
    { owner: { namespace: "a", name: "b", uid: "x" }, role: "advisories" as const },
  ])("round-trips $owner.namespace/$owner.name uid '$owner.uid' ($role)", ({ owner, role }) => {
    expect(parseOwnerDescription(ownerDescription(owner, role))).toEqual(owner);
  });

  it("reads the documented format", () => {
    expect(ownerDescription({ namespace: "health", name: "air", uid: "u1" }, "work")).toBe("p2p-operator channel health/air uid u1");
  });

  it.each(["", "made by hand", "p2p-operator channel nouid", "channel a/b uid c"])("finds no owner in %j", (d) => {
    expect(parseOwnerDescription(d)).toBeNull();
  });

  it("prefers metadata over the description", () => {
    const ch = makeResolvedChannel({ namespace: "health", name: "air", uid: "u1" });
    const s: ObservedStream = {
      settings: {
        ...desiredWorkStream(ch, capabilitiesOf("2.10.0")),
        description: "p2p-operator channel other/x uid 9",
      },
      state: { messages: 0, bytes: 0, firstSeq: 0, lastSeq: 0, consumerCount: 0 },
    };
    expect(ownershipOf(s, ch.owner)).toEqual({ kind: "ours" });
  });
});

describe("server capabilities", () => {
  it.each([
    ["2.9.10", false],
    ["2.10.0", true],
    ["2.10.0-beta.3", true],
    ["2.11.4", true],
    ["3.0.0", true],
    ["v2.9.25", false],
    ["garbage", false],
  ])("%s has stream metadata: %s", (version, metadata) => {
    expect(capabilitiesOf(version).metadata).toBe(metadata);
  });

  it("compares versions numerically", () => {
    expect(versionAtLeast("2.10.1", 2, 9, 30)).toBe(true);
    expect(versionAtLeast("2.9.9", 2, 9, 10)).toBe(false);
  });
});

describe("planNatsDeletion", () => {
  const ch = makeResolvedChannel({ namespace: "health", name: "air", uid: "u1", deletionPolicy: "Delete", consumer: { deadLetter: { subject: "dlq.air" } } });
  const caps = capabilitiesOf("2.9.10");
  const mine = (name: string): ObservedStream => ({
    settings: { ...desiredWorkStream(ch, caps), name },
    state: { messages: 1, bytes: 1, firstSeq: 1, lastSeq: 1, consumerCount: 1 },
  });

  it("removes nothing with Retain", () => {
    const retain = { ...ch, deletionPolicy: "Retain" as const };
    expect(planNatsDeletion(retain, { work: mine("health_air") }).actions).toEqual([]);
  });

  it("removes the streams this channel owns and keeps the others", () => {
    const foreign = mine("health_air_DLQ");
    foreign.settings.description = "p2p-operator channel billing/air uid z";
    const plan = planNatsDeletion(ch, { work: mine("health_air"), deadLetter: foreign, advisories: mine("health_air_ADVISORIES") });
    expect(plan.actions).toEqual([
      { kind: "deleteStream", role: "advisories", name: "health_air_ADVISORIES" },
      { kind: "deleteStream", role: "work", name: "health_air" },
    ]);
    expect(plan.kept).toEqual([{ role: "deadLetter", name: "health_air_DLQ", why: "owned by billing/air (uid z)" }]);
  });
});

describe("queueStateOf", () => {
  it("takes lag = pending + ackPending and the stream's figures", () => {
    const ch = makeResolvedChannel({ namespace: "health", name: "air" });
    const q = queueStateOf(
      { settings: desiredWorkStream(ch, capabilitiesOf("2.9.10")), state: { messages: 9, bytes: 900, firstSeq: 2, lastSeq: 10, consumerCount: 1 } },
      {
        settings: { stream: "health_air", name: "air", description: "", pull: true, deliverPolicy: "all", ackPolicy: "explicit", ackWaitMs: 1, maxDeliver: 1, backoffMs: [], maxAckPending: 1, filterSubject: "", inactiveThresholdMs: 0 },
        state: { pending: 5, ackPending: 3, redelivered: 1, waiting: 2, paused: false },
      },
      1234,
    );
    expect(q).toEqual({
      atMs: 1234,
      stream: { name: "health_air", messages: 9, bytes: 900, firstSeq: 2, lastSeq: 10 },
      consumer: { name: "air", pending: 5, ackPending: 3, redelivered: 1, waiting: 2, paused: false },
      lag: 8,
    });
  });
});
