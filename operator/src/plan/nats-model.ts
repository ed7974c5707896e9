import type { ResolvedStream } from "../api/resolved.js";
import type { ConditionVerdict } from "../ports/index.js";

// The NATS side as the planner sees it: plain data with durations in ms, no client types.
// nats/ translates JetStream API answers into these and these into API requests.

/** The streams a channel may own: its work queue, its dead letters, and the captured MAX_DELIVERIES advisories. */
export type StreamRole = "work" | "deadLetter" | "advisories";
/** The channel's durable pull consumer, and the operator's own consumer on the advisories stream. */
export type ConsumerRole = "work" | "mover";

export type RetentionPolicy = "workqueue" | "limits" | "interest";

/** A stream as the server holds it: the channel's stream settings plus what the operator adds. */
export interface StreamSettings extends ResolvedStream {
  description: string;
  retention: RetentionPolicy;
  /** Stream metadata; null where the server has none (< 2.10), so it is neither sent nor compared. */
  metadata: Record<string, string> | null;
}

export interface StreamState {
  messages: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  consumerCount: number;
}

export interface ObservedStream {
  settings: StreamSettings;
  state: StreamState;
}

export type DeliverPolicy = "all" | "last" | "new" | "by_start_sequence" | "by_start_time" | "last_per_subject";
export type AckPolicy = "explicit" | "all" | "none";

export interface ConsumerSettings {
  stream: string;
  name: string;
  description: string;
  /** false when the consumer has a deliver subject (push). */
  pull: boolean;
  deliverPolicy: DeliverPolicy;
  ackPolicy: AckPolicy;
  ackWaitMs: number;
  /** -1 = unlimited */
  maxDeliver: number;
  backoffMs: number[];
  maxAckPending: number;
  /** "" = every subject of the stream */
  filterSubject: string;
  /** 0 = never; the operator never sets one (it would delete the durable while scaled to zero). */
  inactiveThresholdMs: number;
}

export interface ConsumerState {
  pending: number;
  ackPending: number;
  redelivered: number;
  waiting: number;
  /** Paused on the server (2.11+); always false on older servers. */
  paused: boolean;
}

export interface ObservedConsumer {
  settings: ConsumerSettings;
  state: ConsumerState;
}

/**
 * What gather read. `null` = read and missing; `undefined` = not read this time
 * (dead-letter streams of a channel without dead letters, after the first sync).
 */
export interface NatsObservation {
  serverVersion: string;
  streams: {
    work: ObservedStream | null;
    deadLetter?: ObservedStream | null;
    advisories?: ObservedStream | null;
  };
  consumers: {
    work: ObservedConsumer | null;
    mover?: ObservedConsumer | null;
  };
  /** subject -> names of the streams whose subjects collide with it (STREAM.NAMES with a subject filter), for the subjects checked. */
  overlaps: Record<string, string[]>;
}

export interface FieldDiff {
  field: string;
  from: unknown;
  to: unknown;
}

export type NatsAction =
  | { kind: "createStream"; role: StreamRole; settings: StreamSettings }
  | { kind: "updateStream"; role: StreamRole; settings: StreamSettings; diff: FieldDiff[] }
  | { kind: "deleteStream"; role: StreamRole; name: string }
  | { kind: "createConsumer"; role: ConsumerRole; settings: ConsumerSettings }
  | { kind: "updateConsumer"; role: ConsumerRole; settings: ConsumerSettings; diff: FieldDiff[] }
  /** spec.paused on a server with consumer pause (2.11+): hold or resume deliveries of the work consumer. */
  | { kind: "pauseConsumer"; role: "work"; stream: string; name: string; paused: boolean };

export interface NatsPlan {
  actions: NatsAction[];
  /** Verdicts as they will be once the actions succeed; apply replaces them when the server refuses one. */
  stream: ConditionVerdict;
  consumer: ConditionVerdict;
  /** Run the dead-letter mover: dead letters are configured and their streams and consumers are (or will be) in place. */
  deadLetterMover: boolean;
}
