// The PointToPointChannel API (messaging.p2p.dev/v1alpha1) as TypeScript types.
// crds/pointtopointchannels.messaging.p2p.dev.yaml is the source of truth for the schema;
// a unit test walks both so that neither has a field the other lacks.

export const API_GROUP = "messaging.p2p.dev";
export const API_VERSION = "v1alpha1";
export const KIND = "PointToPointChannel";
export const PLURAL = "pointtopointchannels";
export const FINALIZER = "messaging.p2p.dev/nats-cleanup";
export const ADOPT_ANNOTATION = "messaging.p2p.dev/adopt";

/** A Go-style duration string: "500ms", "30s", "72h", "1h30m". */
export type Duration = string;

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
}

export interface SecretRef {
  name: string;
}

export interface ConnectionSpec {
  servers?: string[];
  secretRef?: SecretRef;
}

export type StorageType = "file" | "memory";
export type DiscardPolicy = "new" | "old";

export interface StreamSpec {
  name?: string;
  storage?: StorageType;
  replicas?: number;
  maxAge?: Duration;
  maxMsgs?: number;
  maxBytes?: number;
  maxMsgSize?: number;
  discard?: DiscardPolicy;
  duplicateWindow?: Duration;
}

export interface DeadLetterSpec {
  subject: string;
  maxAge?: Duration;
}

export interface ConsumerSpec {
  name?: string;
  ackWait?: Duration;
  maxDeliver?: number;
  backoff?: Duration[];
  maxAckPending?: number;
  deadLetter?: DeadLetterSpec;
}

export interface ScaleTargetRef {
  apiVersion?: string;
  kind?: string;
  name: string;
}

/** A core/v1 PodTemplateSpec; kept loose here, the Kubernetes adapter owns its shape. */
export interface PodTemplateSpec {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    containers: ContainerSpec[];
    [key: string]: unknown;
  };
}

export interface ContainerSpec {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  workingDir?: string;
  [key: string]: unknown;
}

export interface WorkloadSpec {
  scaleTargetRef?: ScaleTargetRef;
  template?: PodTemplateSpec;
}

export interface ScaleDownSpec {
  stabilizationWindow?: Duration;
}

export interface ScaleUpSpec {
  stabilizationWindow?: Duration;
  /** Most replicas added in one step. */
  maxStep?: number;
  /** Alternatively, most replicas added in one step as a percentage of the current count. */
  maxStepPercent?: number;
}

export interface ScalingSpec {
  minReplicas?: number;
  maxReplicas?: number;
  targetLagPerReplica?: number;
  activationLag?: number;
  pollInterval?: Duration;
  scaleToZeroAfter?: Duration;
  scaleDown?: ScaleDownSpec;
  scaleUp?: ScaleUpSpec;
  /** Optional rate-aware mode: drain the current lag within this time. */
  targetDrainTime?: Duration;
}

export type DeletionPolicy = "Retain" | "Delete";

export interface ChannelSpec {
  subjects?: string[];
  connection?: ConnectionSpec;
  stream?: StreamSpec;
  consumer?: ConsumerSpec;
  workload: WorkloadSpec;
  scaling?: ScalingSpec;
  deletionPolicy?: DeletionPolicy;
  paused?: boolean;
}

export type ConditionStatus = "True" | "False" | "Unknown";

export type ConditionType = "Ready" | "StreamReady" | "ConsumerReady" | "WorkloadReady" | "ScalingActive";

/** metav1.Condition */
export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface StreamStatus {
  name: string;
  messages: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
}

export interface ConsumerStatus {
  name: string;
  pending: number;
  ackPending: number;
  redelivered: number;
  waiting: number;
  /** The server holds deliveries: spec.paused on a server with consumer pause (2.11+). */
  paused: boolean;
}

/** The server the last sync talked to, and which version-gated features are in force there. */
export interface NatsServerStatus {
  serverVersion: string;
  features: string[];
}

export interface ChannelStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  stream?: StreamStatus;
  consumer?: ConsumerStatus;
  nats?: NatsServerStatus;
  /** The scaled workload as kind/name, e.g. "Deployment/orders-consumer" (the Target column). */
  target?: string;
  lag?: number;
  replicas?: number;
  desiredReplicas?: number;
  lastScaleTime?: string;
  lastScaleReason?: string;
  deadLetters?: number;
}

export interface PointToPointChannel {
  apiVersion: `${typeof API_GROUP}/${typeof API_VERSION}`;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: ChannelSpec;
  status?: ChannelStatus;
}

/** namespace/name */
export type ChannelKey = string;

export function channelKey(meta: Pick<ObjectMeta, "namespace" | "name">): ChannelKey {
  return `${meta.namespace ?? "default"}/${meta.name}`;
}
