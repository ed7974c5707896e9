import type { ChannelStatus, ConditionStatus, ConsumerStatus, NatsServerStatus, PointToPointChannel, StreamStatus } from "../api/types.js";
import type { ResolvedChannel } from "../api/resolved.js";

// The reconcile loop knows the outside world only through these ports. kube/ and local/
// implement the channel source and the workload; nats/ implements the NATS side. cli/
// wires them together, so one loop runs in a cluster and on a laptop.

/** What a planner concludes about one condition; the controller stamps times and generation. */
export interface ConditionVerdict {
  status: ConditionStatus;
  reason: string;
  message: string;
}

/** Where channels come from: the Kubernetes API, or YAML files in local mode. */
export interface ChannelSource {
  /** Calls onChange(key) for every channel that may need a reconcile; resolves once the initial list is known. */
  start(onChange: (key: string) => void): Promise<void>;
  stop(): Promise<void>;
  /** The channel as it is now, or null when it no longer exists: a copy, the caller's to change. */
  get(key: string): Promise<PointToPointChannel | null>;
  /**
   * The channel as cached, without a copy, for the queue poll's every-few-seconds read: never
   * change it. While the channel is unchanged the same object comes back, so a caller may key
   * work on its identity; a source that cannot promise that returns a fresh object each time.
   */
  peek(key: string): Readonly<PointToPointChannel> | null;
  /** Every key currently known (for resync). */
  keys(): string[];
  /** Writes status (only called when it changed). */
  writeStatus(channel: PointToPointChannel, status: ChannelStatus): Promise<void>;
  /** Adds or removes the operator's finalizer. Local mode keeps no finalizers and returns at once. */
  setFinalizer(channel: PointToPointChannel, present: boolean): Promise<void>;
}

/** Credentials for one NATS connection, as file contents or values. Never logged. */
export interface NatsCredentials {
  creds?: string;
  nkeySeed?: string;
  token?: string;
  user?: string;
  password?: string;
  caPem?: string;
  certPem?: string;
  keyPem?: string;
}

/** Where a channel's NATS connection goes, and with which credentials. */
export interface ConnectionTarget {
  servers: string[];
  credentials: NatsCredentials | null;
  /** Stable identity for pooling (servers + a hash of the credentials, never the secret itself). */
  id: string;
}

/** Resolves a channel's connection: the operator's default, or spec.connection + its Secret. */
export interface ConnectionResolver {
  /** Throws SecretNotFoundError (or another typed error) when the referenced Secret is missing or incomplete. */
  resolve(channel: ResolvedChannel): Promise<ConnectionTarget>;
}

/** The queue as read through the JetStream API at one moment. */
export interface QueueState {
  atMs: number;
  stream: StreamStatus;
  consumer: ConsumerStatus;
  /** pending + ackPending */
  lag: number;
}

/** The NATS half of a reconcile: gather -> plan -> apply for stream, consumer and dead letters. */
export interface NatsSyncResult {
  stream: ConditionVerdict;
  consumer: ConditionVerdict;
  /** null when the queue could not be read (stream or consumer missing or refused). */
  queue: QueueState | null;
  /** Messages held in the DLQ stream; null without dead letters configured. */
  deadLetters: number | null;
  /** The server's version and the version-gated features in force; null when the sync did not reach it. */
  server: NatsServerStatus | null;
}

/** One channel's part of a bulk queue read (NatsSide.readQueues). */
export interface QueueRead {
  channel: ResolvedChannel;
  target: ConnectionTarget;
}

/** What a bulk read found for one channel. */
export interface QueueReading {
  /** null when the stream or consumer is missing or not this channel's: a spec reconcile repairs it. */
  queue: QueueState | null;
  /** Messages held in the DLQ stream; null without dead letters configured. */
  deadLetters: number | null;
}

export interface NatsSide {
  /**
   * Brings the stream, consumer, DLQ stream and dead-letter mover in line with the channel and
   * reads the queue. Expected refusals (ImmutableFieldChanged, OwnedByAnother, StreamExists,
   * SubjectOverlap) come back as verdicts; an unreachable server or a bad credential throws a
   * typed error (NatsUnavailableError, AuthFailedError) for the controller to turn into a
   * condition and a retry.
   */
  sync(channel: ResolvedChannel, target: ConnectionTarget): Promise<NatsSyncResult>;
  /**
   * The queues of many channels: one paged STREAM.LIST per connection, and CONSUMER.INFO only for
   * channels whose stream holds messages. A channel whose read failed maps to its error.
   */
  readQueues(reads: readonly QueueRead[]): Promise<Map<string, QueueReading | Error>>;
  /** On channel deletion: stops the dead-letter mover; with deletionPolicy Delete removes stream, consumer and DLQ stream. */
  finalize(channel: ResolvedChannel, target: ConnectionTarget): Promise<void>;
  close(): Promise<void>;
}

/** What the workload looks like now. */
export interface WorkloadObservation {
  /** false when a scaleTargetRef does not exist (yet) or the owned Deployment is not created yet. */
  exists: boolean;
  /** spec.replicas (what we asked for, or what someone else set). */
  replicas: number;
  readyReplicas: number;
  /** Non-null when the workload cannot be scaled by us: a verdict such as ScaleTargetConflict, NotSupportedLocally. */
  blocked: ConditionVerdict | null;
  /** The scaled workload as kind/name (status.target, the Target column), when the driver names one. */
  target?: string;
  /**
   * Read from a watched cache whose changes come back as a spec reconcile of the channel: until
   * then the queue poll may take this observation as still true (a quiet poll skips it).
   */
  watched?: boolean;
}

/** The consumer pods (kube) or processes (local) of a channel. */
export interface WorkloadDriver {
  observe(channel: ResolvedChannel): Promise<WorkloadObservation>;
  /**
   * Template workloads only: create or update the owned workload from workload.template with the
   * consumer env injected; keeps the current replica count (scaling is separate). A scaleTargetRef
   * workload is never created or changed here.
   */
  ensure(channel: ResolvedChannel, env: Record<string, string>, target: ConnectionTarget, replicas: number): Promise<void>;
  /** Sets replicas (kube: the scale subresource). */
  scale(channel: ResolvedChannel, replicas: number): Promise<void>;
  /** The channel is gone: stop/delete what we own (kube relies on ownerReference GC). */
  release(channel: ResolvedChannel): Promise<void>;
}

export type EventType = "Normal" | "Warning";

export interface EventRecorder {
  record(channel: PointToPointChannel, type: EventType, reason: string, message: string): void;
}
