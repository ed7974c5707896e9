import { describe, expect, it } from "vitest";
import { composeStatus, sameStatus, workloadVerdict } from "../../../operator/src/plan/channel-status.js";
import { makeResolvedChannel } from "../../support/channels.js";

const t0 = "2026-01-01T00:00:00.000Z";
const ok = { status: "True" as const, reason: "Ok", message: "ok" };

describe("composeStatus", () => {
  it("carries the queue, replicas, target and last scale into status", () => {
    const status = composeStatus({}, 3, t0, {
      stream: ok,
      consumer: ok,
      workload: ok,
      scaling: ok,
      observed: { exists: true, replicas: 4, readyReplicas: 4, blocked: null, target: "Deployment/register-consumer" },
      nats: {
        stream: ok,
        consumer: ok,
        deadLetters: 2,
        server: { serverVersion: "2.11.4", features: ["StreamMetadata", "TermWithReason", "ConsumerPause"] },
        queue: {
          atMs: 0,
          lag: 42,
          stream: { name: "s", messages: 40, bytes: 1, firstSeq: 1, lastSeq: 40 },
          consumer: { name: "c", pending: 30, ackPending: 12, redelivered: 0, waiting: 1, paused: false },
        },
      },
      desiredReplicas: 4,
      lastScale: { time: t0, reason: "lag 420 > 3 x 100" },
    });
    expect(status).toMatchObject({
      observedGeneration: 3,
      lag: 42,
      replicas: 4,
      desiredReplicas: 4,
      target: "Deployment/register-consumer",
      deadLetters: 2,
      lastScaleReason: "lag 420 > 3 x 100",
      nats: { serverVersion: "2.11.4", features: ["StreamMetadata", "TermWithReason", "ConsumerPause"] },
    });
    expect(status.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
  });

  it("keeps the last known queue figures when NATS could not be read", () => {
    const before = composeStatus({}, 1, t0, {
      nats: { stream: ok, consumer: ok, deadLetters: null, server: { serverVersion: "2.9.10", features: [] }, queue: { atMs: 0, lag: 7, stream: { name: "s", messages: 7, bytes: 1, firstSeq: 1, lastSeq: 7 }, consumer: { name: "c", pending: 7, ackPending: 0, redelivered: 0, waiting: 0, paused: false } } },
    });
    const down = { status: "False" as const, reason: "NATSUnavailable", message: "connection refused" };
    const after = composeStatus(before, 1, t0, { stream: down, consumer: down, nats: { stream: down, consumer: down, queue: null, deadLetters: null, server: null } });
    expect(after.lag).toBe(7);
    expect(after.nats).toEqual({ serverVersion: "2.9.10", features: [] });
    expect(after.conditions?.find((c) => c.type === "StreamReady")?.reason).toBe("NATSUnavailable");
  });

  it("lets one invalid verdict stand for every condition", () => {
    const invalid = { status: "False" as const, reason: "InvalidSpec", message: "spec.scaling.minReplicas: ..." };
    const status = composeStatus({}, 2, t0, { invalid });
    expect(status.conditions?.map((c) => c.reason)).toEqual(Array(5).fill("InvalidSpec"));
  });

  it("compares statuses regardless of key order", () => {
    expect(sameStatus({ lag: 1, replicas: 2 }, { replicas: 2, lag: 1 })).toBe(true);
    expect(sameStatus({ lag: 1 }, { lag: 2 })).toBe(false);
  });
});

describe("workloadVerdict", () => {
  it.each([
    ["a missing scale target", "scaleTarget", { exists: false, replicas: 0, readyReplicas: 0, blocked: null }, "False", "ScaleTargetNotFound"],
    ["an owned Deployment not yet created", "template", { exists: false, replicas: 0, readyReplicas: 0, blocked: null }, "False", "WorkloadPending"],
    ["replicas still starting", "template", { exists: true, replicas: 3, readyReplicas: 1, blocked: null }, "True", "ReplicasStarting"],
    ["all replicas ready", "template", { exists: true, replicas: 3, readyReplicas: 3, blocked: null }, "True", "WorkloadReady"],
    ["a conflict", "scaleTarget", { exists: true, replicas: 3, readyReplicas: 3, blocked: { status: "False" as const, reason: "ScaleTargetConflict", message: "HPA" } }, "False", "ScaleTargetConflict"],
  ])("%s", (_name, kind, observed, status, reason) => {
    const channel =
      kind === "template"
        ? makeResolvedChannel({ workload: { kind: "template", template: { spec: { containers: [{ name: "c" }] } }, deploymentName: "register-consumer" } })
        : makeResolvedChannel();
    expect(workloadVerdict(channel, observed)).toMatchObject({ status, reason });
  });
});
