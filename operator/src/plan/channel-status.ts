import type { ResolvedChannel } from "../api/resolved.js";
import type { ChannelStatus } from "../api/types.js";
import type { ConditionVerdict, NatsSyncResult, WorkloadObservation } from "../ports/index.js";
import { mergeConditions, type Verdicts } from "./conditions.js";

/** What one reconcile concluded, for the status it writes. */
export interface StatusInput {
  /** A verdict that stands for every condition: an invalid spec or a refused subject policy. */
  invalid?: ConditionVerdict;
  stream?: ConditionVerdict;
  consumer?: ConditionVerdict;
  workload?: ConditionVerdict;
  scaling?: ConditionVerdict;
  /** A fault of a phase no other condition covers (the finalizer): Ready carries it as it is. */
  ready?: ConditionVerdict;
  observed?: WorkloadObservation;
  nats?: Pick<NatsSyncResult, "queue" | "deadLetters" | "server"> & Partial<NatsSyncResult>;
  desiredReplicas?: number;
  lastScale?: { time: string; reason: string } | null;
}

/** The next status: previous status overlaid with this reconcile's verdicts and readings. */
export function composeStatus(before: ChannelStatus, generation: number, nowIso: string, input: StatusInput): ChannelStatus {
  const verdicts: Verdicts = input.invalid
    ? { StreamReady: input.invalid, ConsumerReady: input.invalid, WorkloadReady: input.invalid, ScalingActive: input.invalid }
    : {
        ...(input.stream && { StreamReady: input.stream }),
        ...(input.consumer && { ConsumerReady: input.consumer }),
        ...(input.workload && { WorkloadReady: input.workload }),
        ...(input.scaling && { ScalingActive: input.scaling }),
      };
  const status: ChannelStatus = {
    ...before,
    observedGeneration: generation,
    conditions: mergeConditions(before.conditions, verdicts, generation, nowIso, input.ready),
  };
  const queue = input.nats?.queue;
  if (queue) {
    status.stream = queue.stream;
    status.consumer = queue.consumer;
    status.lag = queue.lag;
  }
  if (input.nats && input.nats.deadLetters !== null) status.deadLetters = input.nats.deadLetters;
  if (input.nats?.server) status.nats = input.nats.server;
  if (input.observed?.exists) status.replicas = input.observed.replicas;
  if (input.observed?.target) status.target = input.observed.target;
  if (input.desiredReplicas !== undefined) status.desiredReplicas = input.desiredReplicas;
  if (input.lastScale) {
    status.lastScaleTime = input.lastScale.time;
    status.lastScaleReason = input.lastScale.reason;
  }
  return status;
}

/** WorkloadReady from what the driver observed. */
export function workloadVerdict(channel: ResolvedChannel, observed: WorkloadObservation): ConditionVerdict {
  if (observed.blocked) return observed.blocked;
  const workload = channel.workload;
  const name = workload.kind === "template" ? workload.deploymentName : workload.ref.name;
  if (!observed.exists) {
    return workload.kind === "scaleTarget"
      ? { status: "False", reason: "ScaleTargetNotFound", message: `${workload.ref.kind} ${name} not found: create it, or fix workload.scaleTargetRef` }
      : { status: "False", reason: "WorkloadPending", message: `creating ${name}` };
  }
  const message = `${name}: ${observed.readyReplicas}/${observed.replicas} replicas ready`;
  return observed.readyReplicas < observed.replicas
    ? { status: "True", reason: "ReplicasStarting", message }
    : { status: "True", reason: "WorkloadReady", message };
}

/** Status equality that ignores key order and undefined fields. */
export function sameStatus(a: ChannelStatus, b: ChannelStatus): boolean {
  return sameJson(a, b);
}

// A walk rather than comparing two key-sorted JSON.stringify results: this runs on every poll
// of every channel, and the strings were a twentieth of the operator's CPU at 1,000 channels.
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => sameJson(x ?? null, b[i] ?? null));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x).filter((k) => x[k] !== undefined);
  if (keys.length !== Object.keys(y).filter((k) => y[k] !== undefined).length) return false;
  return keys.every((k) => Object.hasOwn(y, k) && sameJson(x[k], y[k]));
}
