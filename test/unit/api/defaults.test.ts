import { describe, expect, it } from "vitest";
import {
  InvalidChannelError,
  defaultConsumerName,
  defaultStreamName,
  resolveChannel,
} from "../../../operator/src/api/defaults.js";
import type { ResolvedChannel } from "../../../operator/src/api/resolved.js";
import type { ChannelSpec, PointToPointChannel } from "../../../operator/src/api/types.js";
import { applyChannelDefaults, validateChannel } from "../../../operator/src/api/validate.js";

function channel(spec: Partial<ChannelSpec> = {}, meta: Partial<PointToPointChannel["metadata"]> = {}): PointToPointChannel {
  return {
    apiVersion: "messaging.p2p.dev/v1alpha1",
    kind: "PointToPointChannel",
    metadata: { name: "register", namespace: "health", ...meta },
    spec: { workload: { scaleTargetRef: { name: "register" } }, ...spec },
  };
}

const template = { spec: { containers: [{ name: "consumer", image: "consumer:1", command: ["node", "main.js"] }] } };

describe("resolveChannel applies every default", () => {
  const minimal = resolveChannel(channel());

  it.each<[string, (r: ResolvedChannel) => unknown, unknown]>([
    ["key", (r) => r.key, "health/register"],
    ["owner", (r) => r.owner, { namespace: "health", name: "register", uid: "" }],
    ["generation", (r) => r.generation, 0],
    ["connection", (r) => r.connection, null],
    ["subjects: [p2p.<namespace>.<name>]", (r) => r.stream.subjects, ["p2p.health.register"]],
    ["stream name: <namespace>_<name>", (r) => r.stream.name, "health_register"],
    ["storage", (r) => r.stream.storage, "file"],
    ["stream replicas", (r) => r.stream.replicas, 1],
    ["maxAge 0s", (r) => r.stream.maxAgeMs, 0],
    ["maxMsgs", (r) => r.stream.maxMsgs, -1],
    ["maxBytes", (r) => r.stream.maxBytes, -1],
    ["maxMsgSize", (r) => r.stream.maxMsgSize, -1],
    ["discard", (r) => r.stream.discard, "new"],
    ["duplicateWindow 2m", (r) => r.stream.duplicateWindowMs, 120_000],
    ["consumer name: metadata.name", (r) => r.consumer.name, "register"],
    ["ackWait 30s", (r) => r.consumer.ackWaitMs, 30_000],
    ["maxDeliver", (r) => r.consumer.maxDeliver, 5],
    ["backoff", (r) => r.consumer.backoffMs, []],
    ["maxAckPending", (r) => r.consumer.maxAckPending, 1000],
    ["no dead letters", (r) => r.consumer.deadLetter, null],
    ["scaleTargetRef apps/v1 Deployment", (r) => r.workload, { kind: "scaleTarget", ref: { apiVersion: "apps/v1", kind: "Deployment", name: "register" } }],
    ["minReplicas", (r) => r.scaling.minReplicas, 1],
    ["maxReplicas", (r) => r.scaling.maxReplicas, 10],
    ["targetLagPerReplica", (r) => r.scaling.targetLagPerReplica, 100],
    ["activationLag", (r) => r.scaling.activationLag, 0],
    ["pollInterval 2s", (r) => r.scaling.pollIntervalMs, 2_000],
    ["scaleToZeroAfter 5m", (r) => r.scaling.scaleToZeroAfterMs, 300_000],
    ["scaleDown window 60s", (r) => r.scaling.scaleDownStabilizationMs, 60_000],
    ["scaleUp window 0s", (r) => r.scaling.scaleUpStabilizationMs, 0],
    ["scaleUp maxStep 4", (r) => r.scaling.scaleUpMaxStep, 4],
    ["no percentage step", (r) => r.scaling.scaleUpMaxStepPercent, null],
    ["lag mode", (r) => r.scaling.targetDrainTimeMs, null],
    ["deletionPolicy", (r) => r.deletionPolicy, "Retain"],
    ["paused", (r) => r.paused, false],
    ["adopt", (r) => r.adopt, false],
  ])("%s", (_name, pick, expected) => {
    expect(pick(minimal)).toEqual(expected);
  });
});

describe("resolveChannel keeps what the spec says", () => {
  it.each<[string, PointToPointChannel, (r: ResolvedChannel) => unknown, unknown]>([
    ["explicit subjects", channel({ subjects: ["a.b", "c.>"] }), (r) => r.stream.subjects, ["a.b", "c.>"]],
    ["explicit stream name", channel({ stream: { name: "ORDERS" } }), (r) => r.stream.name, "ORDERS"],
    ["empty stream name means the default", channel({ stream: { name: "" } }), (r) => r.stream.name, "health_register"],
    ["empty consumer name means the default", channel({ consumer: { name: "" } }), (r) => r.consumer.name, "register"],
    ["explicit consumer name", channel({ consumer: { name: "workers" } }), (r) => r.consumer.name, "workers"],
    ["backoff parsed to ms", channel({ consumer: { backoff: ["1s", "10s", "1m"] } }), (r) => r.consumer.backoffMs, [1_000, 10_000, 60_000]],
    [
      "dead letters: stream <stream>_DLQ, maxAge 168h",
      channel({ consumer: { deadLetter: { subject: "dlq.orders" } } }),
      (r) => r.consumer.deadLetter,
      { subject: "dlq.orders", streamName: "health_register_DLQ", maxAgeMs: 604_800_000 },
    ],
    [
      "dead letters follow an explicit stream name",
      channel({ stream: { name: "ORDERS" }, consumer: { deadLetter: { subject: "dlq.orders", maxAge: "24h" } } }),
      (r) => r.consumer.deadLetter,
      { subject: "dlq.orders", streamName: "ORDERS_DLQ", maxAgeMs: 86_400_000 },
    ],
    [
      "template: Deployment <name>-consumer",
      channel({ workload: { template } }),
      (r) => r.workload,
      { kind: "template", template, deploymentName: "register-consumer" },
    ],
    [
      "scaleTargetRef kind and apiVersion kept",
      channel({ workload: { scaleTargetRef: { apiVersion: "apps/v1", kind: "StatefulSet", name: "db" } } }),
      (r) => r.workload,
      { kind: "scaleTarget", ref: { apiVersion: "apps/v1", kind: "StatefulSet", name: "db" } },
    ],
    [
      "percentage step replaces the absolute default",
      channel({ scaling: { scaleUp: { maxStepPercent: 50 } } }),
      (r) => [r.scaling.scaleUpMaxStep, r.scaling.scaleUpMaxStepPercent],
      [null, 50],
    ],
    ["explicit maxStep", channel({ scaling: { scaleUp: { maxStep: 2 } } }), (r) => r.scaling.scaleUpMaxStep, 2],
    ["targetDrainTime", channel({ scaling: { targetDrainTime: "1m30s" } }), (r) => r.scaling.targetDrainTimeMs, 90_000],
    ["empty targetDrainTime is lag mode", channel({ scaling: { targetDrainTime: "" } }), (r) => r.scaling.targetDrainTimeMs, null],
    ["fractional durations", channel({ scaling: { pollInterval: "1.5s" } }), (r) => r.scaling.pollIntervalMs, 1_500],
    ["connection", channel({ connection: { servers: ["nats://n:4222"], secretRef: { name: "s" } } }), (r) => r.connection, { servers: ["nats://n:4222"], secretRef: { name: "s" } }],
    ["uid and generation", channel({}, { uid: "u-1", generation: 7 }), (r) => [r.owner.uid, r.generation], ["u-1", 7]],
    ["adopt annotation", channel({}, { annotations: { "messaging.p2p.dev/adopt": "true" } }), (r) => r.adopt, true],
    ["no namespace means default", channel({}, { namespace: undefined }), (r) => [r.key, r.stream.name, r.stream.subjects], ["default/register", "default_register", ["p2p.default.register"]]],
    ["deletionPolicy and paused", channel({ deletionPolicy: "Delete", paused: true }), (r) => [r.deletionPolicy, r.paused], ["Delete", true]],
  ])("%s", (_name, ch, pick, expected) => {
    expect(pick(resolveChannel(ch))).toEqual(expected);
  });

  it("does not share the template object with the input", () => {
    const ch = channel({ workload: { template: structuredClone(template) } });
    const r = resolveChannel(ch);
    if (r.workload.kind !== "template") throw new Error("expected a template workload");
    r.workload.template.spec!.containers[0]!.image = "changed";
    expect(ch.spec.workload.template!.spec!.containers[0]!.image).toBe("consumer:1");
  });
});

describe("default JetStream names", () => {
  it.each([
    ["health", "register", "health_register"],
    ["health", "register.v2", "health_register_v2"],
    ["a", "b.c.d", "a_b_c_d"],
  ])("stream name for %s/%s is %s", (ns, name, expected) => {
    expect(defaultStreamName(ns, name)).toBe(expected);
  });

  it("consumer name replaces dots, which JetStream refuses", () => {
    expect(defaultConsumerName("register.v2")).toBe("register_v2");
  });

  it("keeps long default names within 251 characters (room for _DLQ) and distinct", () => {
    const a = defaultStreamName("n".repeat(63), `${"x".repeat(240)}.a`);
    const b = defaultStreamName("n".repeat(63), `${"x".repeat(240)}.b`);
    expect(a.length).toBe(251);
    expect(b.length).toBe(251);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[^.*>\s/\\]+$/);
  });
});

describe("resolveChannel and the CRD's defaults agree", () => {
  // A channel from a local file is not defaulted by an apiserver: both must resolve alike.
  it.each<[string, PointToPointChannel]>([
    ["scaleTargetRef, nothing else", channel()],
    ["template", channel({ workload: { template } })],
    ["dead letters", channel({ consumer: { deadLetter: { subject: "dlq.x" } } })],
    ["partial stream and scaling", channel({ stream: { storage: "memory" }, scaling: { maxReplicas: 3, scaleUp: {} } })],
    ["percentage step", channel({ scaling: { scaleUp: { maxStepPercent: 100 } } })],
  ])("%s", (_name, ch) => {
    expect(validateChannel(ch)).toEqual([]);
    expect(resolveChannel(applyChannelDefaults(ch))).toEqual(resolveChannel(ch));
  });
});

describe("resolveChannel on a spec that skipped validation", () => {
  it("names the field with an unparsable duration", () => {
    expect(() => resolveChannel(channel({ consumer: { ackWait: "10 sec" } }))).toThrow(InvalidChannelError);
    expect(() => resolveChannel(channel({ consumer: { ackWait: "10 sec" } }))).toThrow(/^spec\.consumer\.ackWait: invalid duration "10 sec"/);
  });

  it("refuses a workload with neither form", () => {
    expect(() => resolveChannel(channel({ workload: {} }))).toThrow(/spec\.workload: set exactly one/);
  });
});
