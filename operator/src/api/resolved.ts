import type { ConnectionSpec, DeletionPolicy, DiscardPolicy, ScaleTargetRef, PodTemplateSpec, StorageType } from "./types.js";

// A channel after defaulting, with every duration parsed once into milliseconds.
// Planners, the scaling policy and adapters work on this, never on the raw spec.

export interface ResolvedStream {
  name: string;
  subjects: string[];
  storage: StorageType;
  replicas: number;
  maxAgeMs: number;
  maxMsgs: number;
  maxBytes: number;
  maxMsgSize: number;
  discard: DiscardPolicy;
  duplicateWindowMs: number;
}

export interface ResolvedDeadLetter {
  subject: string;
  /** `<stream>_DLQ` */
  streamName: string;
  maxAgeMs: number;
}

export interface ResolvedConsumer {
  name: string;
  ackWaitMs: number;
  maxDeliver: number;
  backoffMs: number[];
  maxAckPending: number;
  deadLetter: ResolvedDeadLetter | null;
}

export interface ResolvedScaling {
  minReplicas: number;
  maxReplicas: number;
  targetLagPerReplica: number;
  activationLag: number;
  pollIntervalMs: number;
  scaleToZeroAfterMs: number;
  scaleDownStabilizationMs: number;
  scaleUpStabilizationMs: number;
  /** Most replicas added per step (absolute), or null when a percentage is used. */
  scaleUpMaxStep: number | null;
  scaleUpMaxStepPercent: number | null;
  /** Rate-aware mode when set. */
  targetDrainTimeMs: number | null;
}

export type ResolvedWorkload =
  | { kind: "scaleTarget"; ref: Required<ScaleTargetRef> }
  | { kind: "template"; template: PodTemplateSpec; deploymentName: string };

export interface ChannelOwner {
  namespace: string;
  name: string;
  uid: string;
}

export interface ResolvedChannel {
  key: string;
  owner: ChannelOwner;
  generation: number;
  connection: ConnectionSpec | null;
  stream: ResolvedStream;
  consumer: ResolvedConsumer;
  workload: ResolvedWorkload;
  scaling: ResolvedScaling;
  deletionPolicy: DeletionPolicy;
  paused: boolean;
  /** The messaging.p2p.dev/adopt annotation is "true". */
  adopt: boolean;
}
