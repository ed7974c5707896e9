import { DurationError, parseDuration } from "./duration.js";
import type { ResolvedChannel, ResolvedConsumer, ResolvedScaling, ResolvedStream, ResolvedWorkload } from "./resolved.js";
import { ADOPT_ANNOTATION, channelKey, type PointToPointChannel } from "./types.js";

/**
 * The spec defaults, as in DESIGN.md and the CRD's `default:` values (a unit test proves the
 * two agree). resolveChannel applies them itself, so a channel read from a local file, which
 * no apiserver has defaulted, resolves exactly like the same channel read from a cluster.
 */
export const CHANNEL_DEFAULTS = {
  stream: {
    storage: "file",
    replicas: 1,
    maxAge: "0s",
    maxMsgs: -1,
    maxBytes: -1,
    maxMsgSize: -1,
    discard: "new",
    duplicateWindow: "2m",
  },
  consumer: {
    ackWait: "30s",
    maxDeliver: 5,
    maxAckPending: 1000,
    deadLetterMaxAge: "168h",
  },
  scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment" },
  scaling: {
    minReplicas: 1,
    maxReplicas: 10,
    targetLagPerReplica: 100,
    activationLag: 0,
    pollInterval: "2s",
    scaleToZeroAfter: "5m",
    scaleDownStabilizationWindow: "60s",
    scaleUpStabilizationWindow: "0s",
    scaleUpMaxStep: 4,
  },
  deletionPolicy: "Retain",
  paused: false,
} as const;

/** JetStream names may not contain these (nor be longer than 255 characters). */
const INVALID_NAME_CHARS = /[.*>\s/\\]/g;
const MAX_NAME_LENGTH = 255;
const DLQ_SUFFIX = "_DLQ";

export class InvalidChannelError extends Error {
  override readonly name = "InvalidChannelError";
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${message}`, options);
  }
}

/** `p2p.<namespace>.<name>` */
export function defaultSubject(namespace: string, name: string): string {
  return `p2p.${namespace}.${name}`;
}

/** `<namespace>_<name>`, with characters JetStream refuses replaced by `_`. */
export function defaultStreamName(namespace: string, name: string): string {
  return jetStreamName(`${namespace}_${name}`, MAX_NAME_LENGTH - DLQ_SUFFIX.length);
}

/** metadata.name, with characters JetStream refuses replaced by `_`. */
export function defaultConsumerName(name: string): string {
  return jetStreamName(name, MAX_NAME_LENGTH);
}

export function deadLetterStreamName(streamName: string): string {
  return `${streamName}${DLQ_SUFFIX}`;
}

export function consumerDeploymentName(channelName: string): string {
  return `${channelName}-consumer`;
}

/** Applies every default and parses every duration; the input must have passed validateChannel. */
export function resolveChannel(ch: PointToPointChannel): ResolvedChannel {
  const namespace = ch.metadata.namespace ?? "default";
  const name = ch.metadata.name;
  const spec = ch.spec;
  const workload = spec.workload ?? {};

  const stream = spec.stream ?? {};
  const d = CHANNEL_DEFAULTS;
  const resolvedStream: ResolvedStream = {
    name: nonEmpty(stream.name) ?? defaultStreamName(namespace, name),
    subjects: spec.subjects && spec.subjects.length > 0 ? [...spec.subjects] : [defaultSubject(namespace, name)],
    storage: stream.storage ?? d.stream.storage,
    replicas: stream.replicas ?? d.stream.replicas,
    maxAgeMs: ms("spec.stream.maxAge", stream.maxAge ?? d.stream.maxAge),
    maxMsgs: stream.maxMsgs ?? d.stream.maxMsgs,
    maxBytes: stream.maxBytes ?? d.stream.maxBytes,
    maxMsgSize: stream.maxMsgSize ?? d.stream.maxMsgSize,
    discard: stream.discard ?? d.stream.discard,
    duplicateWindowMs: ms("spec.stream.duplicateWindow", stream.duplicateWindow ?? d.stream.duplicateWindow),
  };

  const consumer = spec.consumer ?? {};
  const deadLetter = consumer.deadLetter;
  const resolvedConsumer: ResolvedConsumer = {
    name: nonEmpty(consumer.name) ?? defaultConsumerName(name),
    ackWaitMs: ms("spec.consumer.ackWait", consumer.ackWait ?? d.consumer.ackWait),
    maxDeliver: consumer.maxDeliver ?? d.consumer.maxDeliver,
    backoffMs: (consumer.backoff ?? []).map((b, i) => ms(`spec.consumer.backoff[${i}]`, b)),
    maxAckPending: consumer.maxAckPending ?? d.consumer.maxAckPending,
    deadLetter: deadLetter
      ? {
          subject: deadLetter.subject,
          streamName: deadLetterStreamName(resolvedStream.name),
          maxAgeMs: ms("spec.consumer.deadLetter.maxAge", deadLetter.maxAge ?? d.consumer.deadLetterMaxAge),
        }
      : null,
  };

  let resolvedWorkload: ResolvedWorkload;
  if (workload.scaleTargetRef) {
    const ref = workload.scaleTargetRef;
    resolvedWorkload = {
      kind: "scaleTarget",
      ref: {
        apiVersion: ref.apiVersion || d.scaleTargetRef.apiVersion,
        kind: ref.kind || d.scaleTargetRef.kind,
        name: ref.name,
      },
    };
  } else if (workload.template) {
    resolvedWorkload = {
      kind: "template",
      template: structuredClone(workload.template),
      deploymentName: consumerDeploymentName(name),
    };
  } else {
    throw new InvalidChannelError("spec.workload", "set exactly one of workload.scaleTargetRef or workload.template");
  }

  const scaling = spec.scaling ?? {};
  const scaleUp = scaling.scaleUp ?? {};
  const usePercent = scaleUp.maxStepPercent !== undefined && scaleUp.maxStep === undefined;
  const targetDrainTime = nonEmpty(scaling.targetDrainTime);
  const resolvedScaling: ResolvedScaling = {
    minReplicas: scaling.minReplicas ?? d.scaling.minReplicas,
    maxReplicas: scaling.maxReplicas ?? d.scaling.maxReplicas,
    targetLagPerReplica: scaling.targetLagPerReplica ?? d.scaling.targetLagPerReplica,
    activationLag: scaling.activationLag ?? d.scaling.activationLag,
    pollIntervalMs: ms("spec.scaling.pollInterval", scaling.pollInterval ?? d.scaling.pollInterval),
    scaleToZeroAfterMs: ms("spec.scaling.scaleToZeroAfter", scaling.scaleToZeroAfter ?? d.scaling.scaleToZeroAfter),
    scaleDownStabilizationMs: ms(
      "spec.scaling.scaleDown.stabilizationWindow",
      scaling.scaleDown?.stabilizationWindow ?? d.scaling.scaleDownStabilizationWindow,
    ),
    scaleUpStabilizationMs: ms(
      "spec.scaling.scaleUp.stabilizationWindow",
      scaleUp.stabilizationWindow ?? d.scaling.scaleUpStabilizationWindow,
    ),
    scaleUpMaxStep: usePercent ? null : (scaleUp.maxStep ?? d.scaling.scaleUpMaxStep),
    scaleUpMaxStepPercent: usePercent ? (scaleUp.maxStepPercent ?? null) : null,
    targetDrainTimeMs: targetDrainTime === undefined ? null : ms("spec.scaling.targetDrainTime", targetDrainTime),
  };

  return {
    key: channelKey({ namespace, name }),
    owner: { namespace, name, uid: ch.metadata.uid ?? "" },
    generation: ch.metadata.generation ?? 0,
    connection: spec.connection ? structuredClone(spec.connection) : null,
    stream: resolvedStream,
    consumer: resolvedConsumer,
    workload: resolvedWorkload,
    scaling: resolvedScaling,
    deletionPolicy: spec.deletionPolicy ?? d.deletionPolicy,
    paused: spec.paused ?? d.paused,
    adopt: ch.metadata.annotations?.[ADOPT_ANNOTATION] === "true",
  };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}

function ms(path: string, text: string): number {
  try {
    const value = parseDuration(text);
    if (value < 0) throw new DurationError(text, "negative durations are not allowed");
    return value;
  } catch (err) {
    throw new InvalidChannelError(path, err instanceof Error ? err.message : String(err), { cause: err });
  }
}

/** Replaces characters JetStream refuses; keeps long names unique with a short hash suffix. */
function jetStreamName(raw: string, maxLength: number): string {
  const clean = raw.replace(INVALID_NAME_CHARS, "_");
  if (clean.length <= maxLength) return clean;
  const hash = fnv1a32(raw).toString(16).padStart(8, "0");
  return `${clean.slice(0, maxLength - hash.length - 1)}_${hash}`;
}

function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
