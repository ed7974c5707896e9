import { describe, expect, it } from "vitest";
import type { ResolvedChannel } from "../../../operator/src/api/resolved.js";
import {
  capabilitiesOf,
  desiredAdvisoryStream,
  desiredDeadLetterStream,
  desiredMoverConsumer,
  desiredWorkConsumer,
  desiredWorkStream,
  planNats,
  subjectsOverlap,
  subjectsToCheck,
  type ConsumerSettings,
  type NatsAction,
  type NatsObservation,
  type ObservedConsumer,
  type ObservedStream,
  type StreamSettings,
} from "../../../operator/src/plan/index.js";
import { makeResolvedChannel } from "../../support/channels.js";

const V29 = "2.9.10";
const V210 = "2.10.22";

function stream(settings: StreamSettings, patch: Partial<StreamSettings> = {}): ObservedStream {
  return {
    settings: { ...settings, ...patch },
    state: { messages: 7, bytes: 700, firstSeq: 3, lastSeq: 9, consumerCount: 1 },
  };
}

function consumer(settings: ConsumerSettings, patch: Partial<ConsumerSettings> = {}): ObservedConsumer {
  return { settings: { ...settings, ...patch }, state: { pending: 4, ackPending: 2, redelivered: 1, waiting: 0, paused: false } };
}

/** The world as it is after a successful sync of `channel` on a server of `version`. */
function converged(channel: ResolvedChannel, version = V29): NatsObservation {
  const caps = capabilitiesOf(version);
  const dlq = desiredDeadLetterStream(channel, caps);
  const adv = desiredAdvisoryStream(channel, caps);
  const mover = desiredMoverConsumer(channel);
  return {
    serverVersion: version,
    streams: {
      work: stream(desiredWorkStream(channel, caps)),
      ...(dlq && adv ? { deadLetter: stream(dlq), advisories: stream(adv) } : {}),
    },
    consumers: { work: consumer(desiredWorkConsumer(channel)), ...(mover ? { mover: consumer(mover) } : {}) },
    overlaps: {},
  };
}

function empty(version = V29, overlaps: Record<string, string[]> = {}): NatsObservation {
  return { serverVersion: version, streams: { work: null, deadLetter: null, advisories: null }, consumers: { work: null, mover: null }, overlaps };
}

function summary(actions: NatsAction[]): string[] {
  return actions.map((a) => {
    switch (a.kind) {
      case "createStream":
      case "createConsumer":
        return `${a.kind}:${a.role}`;
      case "updateStream":
      case "updateConsumer":
        return `${a.kind}:${a.role}:${a.diff.map((d) => d.field).join("+")}`;
      case "deleteStream":
        return `${a.kind}:${a.role}:${a.name}`;
      case "pauseConsumer":
        return `${a.kind}:${a.role}:${a.paused}`;
    }
  });
}

const base = makeResolvedChannel({ namespace: "health", name: "air", uid: "u-1" });
const caps29 = capabilitiesOf(V29);
const workSettings = desiredWorkStream(base, caps29);
const consumerSettings = desiredWorkConsumer(base);

function withWork(patch: Partial<StreamSettings>, channel = base, version = V29): NatsObservation {
  const obs = converged(channel, version);
  obs.streams.work = stream(desiredWorkStream(channel, capabilitiesOf(version)), patch);
  return obs;
}

function withConsumer(patch: Partial<ConsumerSettings>, channel = base): NatsObservation {
  const obs = converged(channel);
  obs.consumers.work = consumer(desiredWorkConsumer(channel), patch);
  return obs;
}

interface Row {
  name: string;
  channel: ResolvedChannel;
  observed: NatsObservation;
  actions: string[];
  stream: [string, string];
  consumer: [string, string];
  messageHas?: string;
}

const rows: Row[] = [
  {
    name: "creates stream and consumer from scratch",
    channel: base,
    observed: empty(),
    actions: ["createStream:work", "createConsumer:work"],
    stream: ["True", "Created"],
    consumer: ["True", "Created"],
  },
  {
    name: "does nothing when everything is in sync",
    channel: base,
    observed: converged(base),
    actions: [],
    stream: ["True", "InSync"],
    consumer: ["True", "InSync"],
  },
  {
    name: "recreates a consumer deleted on the server",
    channel: base,
    observed: { ...converged(base), consumers: { work: null } },
    actions: ["createConsumer:work"],
    stream: ["True", "InSync"],
    consumer: ["True", "Created"],
  },
  {
    name: "refuses to create a stream whose subject overlaps another stream, naming it",
    channel: base,
    observed: empty(V29, { "p2p.health.air": ["someone_else"] }),
    actions: [],
    stream: ["False", "SubjectOverlap"],
    consumer: ["False", "StreamNotReady"],
    messageHas: "someone_else",
  },
  {
    name: "ignores the stream itself in the overlap lookup",
    channel: base,
    observed: { ...converged(base), overlaps: { "p2p.health.air": ["health_air"] } },
    actions: [],
    stream: ["True", "InSync"],
    consumer: ["True", "InSync"],
  },
  {
    name: "updates maxAge in place",
    channel: base,
    observed: withWork({ maxAgeMs: 60_000 }),
    actions: ["updateStream:work:maxAgeMs"],
    stream: ["True", "Updated"],
    consumer: ["True", "InSync"],
    messageHas: "maxAge",
  },
  {
    name: "updates every mutable stream limit that differs",
    channel: base,
    observed: withWork({ maxMsgs: 10, maxBytes: 1000, maxMsgSize: 10, discard: "old", duplicateWindowMs: 1000, replicas: 3 }),
    actions: ["updateStream:work:replicas+maxMsgs+maxBytes+maxMsgSize+discard+duplicateWindowMs"],
    stream: ["True", "Updated"],
    consumer: ["True", "InSync"],
  },
  {
    name: "restores a description someone edited",
    channel: base,
    observed: withWork({ description: "p2p-operator channel health/air uid u-1: note someone added" }),
    actions: ["updateStream:work:description"],
    stream: ["True", "Updated"],
    consumer: ["True", "InSync"],
  },
  {
    name: "refuses to change storage of an existing stream and changes nothing",
    channel: makeResolvedChannel({ namespace: "health", name: "air", uid: "u-1", stream: { storage: "memory", maxAgeMs: 5000 } }),
    observed: withWork({ storage: "file" }, base),
    actions: [],
    stream: ["False", "ImmutableFieldChanged"],
    consumer: ["True", "InSync"],
    messageHas: "storage",
  },
  {
    name: "refuses to change retention of an adopted limits stream",
    channel: makeResolvedChannel({ namespace: "health", name: "air", uid: "u-1", adopt: true }),
    observed: withWork({ retention: "limits", description: "", metadata: null }),
    actions: [],
    stream: ["False", "ImmutableFieldChanged"],
    consumer: ["False", "StreamNotReady"],
    messageHas: "retention",
  },
  {
    name: "updates ackWait of the consumer in place",
    channel: base,
    observed: withConsumer({ ackWaitMs: 10_000 }),
    actions: ["updateConsumer:work:ackWaitMs"],
    stream: ["True", "InSync"],
    consumer: ["True", "Updated"],
  },
  {
    name: "updates maxDeliver, backoff and maxAckPending",
    channel: makeResolvedChannel({ namespace: "health", name: "air", uid: "u-1", consumer: { backoffMs: [1000, 10_000], maxDeliver: 6, maxAckPending: 50 } }),
    observed: withConsumer({ ackWaitMs: 30_000 }),
    actions: ["updateConsumer:work:ackWaitMs+maxDeliver+backoffMs+maxAckPending"],
    stream: ["True", "InSync"],
    consumer: ["True", "Updated"],
  },
  {
    name: "clears an inactive threshold someone set on the durable",
    channel: base,
    observed: withConsumer({ inactiveThresholdMs: 60_000 }),
    actions: ["updateConsumer:work:inactiveThresholdMs"],
    stream: ["True", "InSync"],
    consumer: ["True", "Updated"],
  },
  {
    name: "refuses to change the deliver policy of the consumer",
    channel: base,
    observed: withConsumer({ deliverPolicy: "new", ackWaitMs: 1 }),
    actions: [],
    stream: ["True", "InSync"],
    consumer: ["False", "ImmutableFieldChanged"],
    messageHas: "deliver policy",
  },
  {
    name: "refuses to change the ack policy of the consumer",
    channel: base,
    observed: withConsumer({ ackPolicy: "none" }),
    actions: [],
    stream: ["True", "InSync"],
    consumer: ["False", "ImmutableFieldChanged"],
    messageHas: "ack policy",
  },
  {
    name: "refuses to turn a push consumer into a pull consumer",
    channel: base,
    observed: withConsumer({ pull: false }),
    actions: [],
    stream: ["True", "InSync"],
    consumer: ["False", "ImmutableFieldChanged"],
    messageHas: "pull",
  },
  {
    name: "never touches a stream owned by another channel",
    channel: base,
    observed: withWork({ description: "p2p-operator channel billing/air uid u-9", maxAgeMs: 1 }),
    actions: [],
    stream: ["False", "OwnedByAnother"],
    consumer: ["False", "StreamNotReady"],
    messageHas: "billing/air",
  },
  {
    name: "never touches a stream owned by another channel, even with adopt",
    channel: makeResolvedChannel({ namespace: "health", name: "air", uid: "u-1", adopt: true }),
    observed: withWork({ description: "p2p-operator channel billing/air uid u-9" }),
    actions: [],
    stream: ["False", "OwnedByAnother"],
    consumer: ["False", "StreamNotReady"],
  },
  {
    name: "does not adopt an unstamped stream",
    channel: base,
    observed: withWork({ description: "made by hand" }),
    actions: [],
    stream: ["False", "StreamExists"],
    consumer: ["False", "StreamNotReady"],
    messageHas: "messaging.p2p.dev/adopt",
  },
  {
    name: "adopts an unstamped stream with the adopt annotation, stamping it",
    channel: makeResolvedChannel({ namespace: "health", name: "air", uid: "u-1", adopt: true }),
    observed: { ...withWork({ description: "" }), consumers: { work: null } },
    actions: ["updateStream:work:description", "createConsumer:work"],
    stream: ["True", "Adopted"],
    consumer: ["True", "Created"],
  },
  {
    name: "does not take over the stream of an earlier channel of the same name",
    channel: base,
    observed: withWork({ description: "p2p-operator channel health/air uid u-0" }),
    actions: [],
    stream: ["False", "OwnedByAnother"],
    consumer: ["False", "StreamNotReady"],
    messageHas: "earlier",
  },
  {
    name: "takes over the stream of an earlier channel of the same name with adopt",
    channel: makeResolvedChannel({ namespace: "health", name: "air", uid: "u-1", adopt: true }),
    observed: withWork({ description: "p2p-operator channel health/air uid u-0" }),
    actions: ["updateStream:work:description"],
    stream: ["True", "Adopted"],
    consumer: ["True", "InSync"],
  },
  {
    name: "adds a subject that overlaps no other stream",
    channel: makeResolvedChannel({ namespace: "health", name: "air", uid: "u-1", stream: { subjects: ["p2p.health.air", "air.extra"] } }),
    observed: { ...converged(base), overlaps: { "air.extra": [] } },
    actions: ["updateStream:work:subjects"],
    stream: ["True", "Updated"],
    consumer: ["True", "InSync"],
  },
  {
    name: "refuses to add a subject that overlaps another stream",
    channel: makeResolvedChannel({ namespace: "health", name: "air", uid: "u-1", stream: { subjects: ["p2p.health.air", "air.>"], maxAgeMs: 9 } }),
    observed: { ...converged(base), overlaps: { "air.>": ["AIR_LEGACY"] } },
    actions: [],
    stream: ["False", "SubjectOverlap"],
    consumer: ["True", "InSync"],
    messageHas: "AIR_LEGACY",
  },
  {
    name: "stamps owner metadata on a stream created before the server was upgraded to 2.10",
    channel: base,
    observed: withWork({ metadata: { "_nats.level": "0" } }, base, V210),
    actions: ["updateStream:work:metadata"],
    stream: ["True", "Updated"],
    consumer: ["True", "InSync"],
  },
  {
    name: "keeps server-set metadata keys out of the comparison on 2.10",
    channel: base,
    observed: (() => {
      const obs = converged(base, V210);
      obs.streams.work!.settings.metadata = { ...obs.streams.work!.settings.metadata, "_nats.req.level": "0" };
      return obs;
    })(),
    actions: [],
    stream: ["True", "InSync"],
    consumer: ["True", "InSync"],
  },
];

describe("planNats", () => {
  it.each(rows)("$name", ({ channel, observed, actions, stream: s, consumer: c, messageHas }) => {
    const plan = planNats(channel, observed);
    expect(summary(plan.actions)).toEqual(actions);
    expect([plan.stream.status, plan.stream.reason]).toEqual(s);
    expect([plan.consumer.status, plan.consumer.reason]).toEqual(c);
    if (messageHas) expect(`${plan.stream.message} | ${plan.consumer.message}`).toContain(messageHas);
    expect(plan.deadLetterMover).toBe(false);
  });

  it("stamps the owner in the description, and in metadata only from 2.10 on", () => {
    const on29 = planNats(base, empty(V29)).actions[0];
    const on210 = planNats(base, empty(V210)).actions[0];
    expect(on29?.kind === "createStream" && on29.settings).toMatchObject({
      description: "p2p-operator channel health/air uid u-1",
      metadata: null,
      retention: "workqueue",
    });
    expect(on210?.kind === "createStream" && on210.settings.metadata).toEqual({
      "messaging.p2p.dev/owner-namespace": "health",
      "messaging.p2p.dev/owner-name": "air",
      "messaging.p2p.dev/owner-uid": "u-1",
    });
  });

  it("creates a durable pull consumer with explicit ack, deliver all and no inactive threshold", () => {
    const create = planNats(base, empty()).actions[1];
    expect(create?.kind === "createConsumer" && create.settings).toMatchObject({
      name: "air",
      stream: "health_air",
      pull: true,
      ackPolicy: "explicit",
      deliverPolicy: "all",
      ackWaitMs: 30_000,
      maxDeliver: 5,
      maxAckPending: 1000,
      inactiveThresholdMs: 0,
    });
  });

  it("expects ack_wait = backoff[0], as the server stores it, so a backoff does not update forever", () => {
    const ch = makeResolvedChannel({ namespace: "health", name: "air", uid: "u-1", consumer: { ackWaitMs: 30_000, backoffMs: [1000, 5000], maxDeliver: 4 } });
    const obs = converged(ch);
    obs.consumers.work = consumer(desiredWorkConsumer(ch), { ackWaitMs: 1000 });
    expect(planNats(ch, obs).actions).toEqual([]);
  });

  it("clamps the duplicate window to maxAge, as the server would", () => {
    const ch = makeResolvedChannel({ stream: { maxAgeMs: 30_000, duplicateWindowMs: 120_000 } });
    expect(desiredWorkStream(ch, caps29).duplicateWindowMs).toBe(30_000);
  });

  it("logs what differs: the update carries the field, old and new value", () => {
    const plan = planNats(base, withWork({ maxAgeMs: 60_000 }));
    expect(plan.actions[0]).toMatchObject({ kind: "updateStream", diff: [{ field: "maxAgeMs", from: 60_000, to: 0 }] });
  });
});

describe("planNats with dead letters", () => {
  const dl = makeResolvedChannel({ namespace: "health", name: "air", uid: "u-1", consumer: { deadLetter: { subject: "dlq.air", maxAgeMs: 3_600_000 } } });

  it("creates the DLQ stream, the advisory stream and the mover's consumer, and runs the mover", () => {
    const plan = planNats(dl, empty());
    expect(summary(plan.actions)).toEqual([
      "createStream:work",
      "createConsumer:work",
      "createStream:deadLetter",
      "createStream:advisories",
      "createConsumer:mover",
    ]);
    expect(plan.deadLetterMover).toBe(true);
    const [, , dlq, adv, mover] = plan.actions;
    expect(dlq?.kind === "createStream" && dlq.settings).toMatchObject({ name: "health_air_DLQ", retention: "limits", subjects: ["dlq.air"], maxAgeMs: 3_600_000 });
    expect(adv?.kind === "createStream" && adv.settings).toMatchObject({
      name: "health_air_ADVISORIES",
      retention: "workqueue",
      subjects: ["$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.health_air.air"],
    });
    expect(mover?.kind === "createConsumer" && mover.settings).toMatchObject({ stream: "health_air_ADVISORIES", maxDeliver: -1, pull: true });
  });

  it("is in sync once everything exists", () => {
    const plan = planNats(dl, converged(dl));
    expect(plan.actions).toEqual([]);
    expect(plan.consumer).toMatchObject({ status: "True", reason: "InSync" });
    expect(plan.deadLetterMover).toBe(true);
  });

  it("reports a DLQ subject overlapping another stream on ConsumerReady and does not run the mover", () => {
    const obs = converged(dl);
    obs.streams.deadLetter = null;
    obs.overlaps = { "dlq.air": ["ALL_DLQS"] };
    const plan = planNats(dl, obs);
    expect(plan.actions).toEqual([]);
    expect(plan.stream.status).toBe("True");
    expect(plan.consumer).toMatchObject({ status: "False", reason: "SubjectOverlap" });
    expect(plan.consumer.message).toContain("ALL_DLQS");
    expect(plan.deadLetterMover).toBe(false);
  });

  it("does not capture advisories while the work stream is not ours", () => {
    const obs = empty();
    obs.streams.work = stream(desiredWorkStream(dl, caps29), { description: "made by hand" });
    const plan = planNats(dl, obs);
    expect(summary(plan.actions)).toEqual(["createStream:deadLetter"]);
    expect(plan.deadLetterMover).toBe(false);
  });

  it("deletes its advisory stream, and keeps the DLQ, when dead letters are switched off", () => {
    const plan = planNats(base, converged(dl));
    expect(summary(plan.actions)).toEqual(["deleteStream:advisories:health_air_ADVISORIES"]);
    expect(plan.deadLetterMover).toBe(false);
  });

  it("leaves an advisory stream it does not own alone", () => {
    const obs = converged(dl);
    obs.streams.advisories = stream(obs.streams.advisories!.settings, { description: "someone's" });
    expect(planNats(base, obs).actions).toEqual([]);
  });
});

describe("subjectsToCheck", () => {
  const dl = makeResolvedChannel({ namespace: "health", name: "air", uid: "u-1", consumer: { deadLetter: { subject: "dlq.air" } } });

  it.each([
    { name: "every subject of a missing stream", channel: dl, observed: empty(), want: ["p2p.health.air", "dlq.air", "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.health_air.air"] },
    { name: "none in a steady state", channel: dl, observed: converged(dl), want: [] },
    {
      name: "only the added subjects of a changing stream",
      channel: makeResolvedChannel({ namespace: "health", name: "air", uid: "u-1", stream: { subjects: ["p2p.health.air", "x.y"] } }),
      observed: converged(base),
      want: ["x.y"],
    },
    { name: "none for streams that were not read", channel: base, observed: { ...converged(base), streams: { work: converged(base).streams.work } }, want: [] },
  ])("$name", ({ channel, observed, want }) => {
    expect(subjectsToCheck(channel, observed)).toEqual(want);
  });
});

// Keep the fixtures honest: the converged world really is what the desired builders produce.
it("fixtures: the observed stream defaults match the desired work stream", () => {
  expect(workSettings.name).toBe("health_air");
  expect(consumerSettings.name).toBe("air");
});

describe("spec.paused on the server", () => {
  const V211 = "2.11.4";
  const paused = { ...base, paused: true };
  function observedPaused(isPaused: boolean, version = V211): NatsObservation {
    const obs = converged(base, version);
    obs.consumers.work = { ...obs.consumers.work!, state: { ...obs.consumers.work!.state, paused: isPaused } };
    return obs;
  }

  it.each([
    { case: "2.11, paused channel, running consumer", channel: paused, obs: () => observedPaused(false), actions: ["pauseConsumer:work:true"] },
    { case: "2.11, paused channel, paused consumer", channel: paused, obs: () => observedPaused(true), actions: [] },
    { case: "2.11, unpaused channel, paused consumer", channel: base, obs: () => observedPaused(true), actions: ["pauseConsumer:work:false"] },
    { case: "2.11, unpaused channel, running consumer", channel: base, obs: () => observedPaused(false), actions: [] },
    { case: "2.11, paused channel, no consumer yet", channel: paused, obs: () => ({ ...observedPaused(false), consumers: { work: null } }), actions: ["createConsumer:work", "pauseConsumer:work:true"] },
    { case: "2.10, paused channel", channel: paused, obs: () => observedPaused(false, V210), actions: [] },
    { case: "2.9, paused channel", channel: paused, obs: () => observedPaused(false, V29), actions: [] },
  ])("$case -> $actions", ({ channel, obs, actions }) => {
    expect(summary(planNats(channel, obs()).actions)).toEqual(actions);
  });

  it("says in ConsumerReady whether deliveries are paused on the server or only the replicas are held", () => {
    expect(planNats(paused, observedPaused(true)).consumer.message).toContain("deliveries paused on the server (spec.paused)");
    const old = planNats(paused, observedPaused(false, V210)).consumer;
    expect(old.status).toBe("True");
    expect(old.message).toContain("spec.paused holds replicas only: pausing deliveries needs nats-server 2.11 (this is 2.10.22)");
  });
});

describe("capabilitiesOf", () => {
  it.each([
    { version: "2.9.10", features: [] },
    { version: "2.10.3", features: ["StreamMetadata"] },
    { version: "2.10.4", features: ["StreamMetadata", "TermWithReason"] },
    { version: "2.11.0", features: ["StreamMetadata", "TermWithReason", "ConsumerPause"] },
    { version: "2.15.3", features: ["StreamMetadata", "TermWithReason", "ConsumerPause"] },
    { version: "garbage", features: [] },
  ])("$version -> $features", ({ version, features }) => {
    expect(capabilitiesOf(version).features).toEqual(features);
  });
});

describe("subjectsOverlap", () => {
  it.each([
    ["*.>", "$JS.API.>", true],
    ["$JS.>", "$JS.API.>", true],
    ["$JS.*.CONSUMER", "$JS.API.>", true],
    ["$JS.API", "$JS.API.>", false],
    ["orders.>", "$JS.API.>", false],
    ["a.*.c", "a.b.c", true],
    ["a.*.c", "a.b.d", false],
    ["a.b", "a.b.c", false],
    ["a.>", "a", false],
  ])("%s and %s -> %s", (a, b, expected) => {
    expect(subjectsOverlap(a.split("."), b.split("."))).toBe(expected);
    expect(subjectsOverlap(b.split("."), a.split("."))).toBe(expected);
  });
});
