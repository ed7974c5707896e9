import type { ResolvedChannel } from "../api/resolved.js";
import type { ServerCapabilities } from "./capabilities.js";
import type { ConsumerSettings, StreamSettings } from "./nats-model.js";
import { ownerDescription, ownerMetadata } from "./ownership.js";

// The streams and consumers a channel should have, in the planner's terms.

/** The durable consumer the operator's dead-letter mover reads the advisories with. */
export const MOVER_CONSUMER_NAME = "p2p-dead-letter-mover";

export function advisoryStreamName(streamName: string): string {
  return `${streamName}_ADVISORIES`;
}

/** What the server publishes when a message of `stream` reached maxDeliver on `consumer`. */
export function maxDeliveriesSubject(streamName: string, consumerName: string): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${streamName}.${consumerName}`;
}

/**
 * The server refuses a duplicate window longer than max age (and defaults it to max age);
 * clamp so that desired and actual agree instead of failing or updating forever.
 */
function clampDuplicateWindow(duplicateWindowMs: number, maxAgeMs: number): number {
  return maxAgeMs > 0 ? Math.min(duplicateWindowMs, maxAgeMs) : duplicateWindowMs;
}

export function desiredWorkStream(channel: ResolvedChannel, caps: ServerCapabilities): StreamSettings {
  const s = channel.stream;
  return {
    name: s.name,
    description: ownerDescription(channel.owner, "work"),
    subjects: [...s.subjects],
    retention: "workqueue",
    storage: s.storage,
    replicas: s.replicas,
    maxAgeMs: s.maxAgeMs,
    maxMsgs: s.maxMsgs,
    maxBytes: s.maxBytes,
    maxMsgSize: s.maxMsgSize,
    discard: s.discard,
    duplicateWindowMs: clampDuplicateWindow(s.duplicateWindowMs, s.maxAgeMs),
    metadata: caps.metadata ? ownerMetadata(channel.owner) : null,
  };
}

/** `<stream>_DLQ`: limits retention, so dead letters stay for inspection until maxAge. */
export function desiredDeadLetterStream(channel: ResolvedChannel, caps: ServerCapabilities): StreamSettings | null {
  const dl = channel.consumer.deadLetter;
  if (!dl) return null;
  return {
    name: dl.streamName,
    description: ownerDescription(channel.owner, "deadLetter"),
    subjects: [dl.subject],
    retention: "limits",
    storage: channel.stream.storage,
    replicas: channel.stream.replicas,
    maxAgeMs: dl.maxAgeMs,
    maxMsgs: -1,
    maxBytes: -1,
    maxMsgSize: -1,
    discard: "old",
    // The mover's Nats-Msg-Id dedupes within this window; it covers an operator crash between copy and delete.
    duplicateWindowMs: clampDuplicateWindow(channel.stream.duplicateWindowMs, dl.maxAgeMs),
    metadata: caps.metadata ? ownerMetadata(channel.owner) : null,
  };
}

/**
 * `<stream>_ADVISORIES` captures MAX_DELIVERIES advisories so none is missed while the operator is
 * down; work-queue retention, so an advisory is gone once the mover has acked it.
 */
export function desiredAdvisoryStream(channel: ResolvedChannel, caps: ServerCapabilities): StreamSettings | null {
  if (!channel.consumer.deadLetter) return null;
  const name = advisoryStreamName(channel.stream.name);
  return {
    name,
    description: ownerDescription(channel.owner, "advisories"),
    subjects: [maxDeliveriesSubject(channel.stream.name, channel.consumer.name)],
    retention: "workqueue",
    storage: channel.stream.storage,
    replicas: channel.stream.replicas,
    maxAgeMs: 0,
    maxMsgs: -1,
    maxBytes: -1,
    maxMsgSize: -1,
    discard: "old",
    duplicateWindowMs: 2 * 60_000,
    metadata: caps.metadata ? ownerMetadata(channel.owner) : null,
  };
}

/**
 * The channel's durable pull consumer. With a backoff the server uses backoff[0] as the ack wait
 * of the first delivery and stores it as ack_wait, so that is what we expect to see.
 */
export function desiredWorkConsumer(channel: ResolvedChannel): ConsumerSettings {
  const c = channel.consumer;
  return {
    stream: channel.stream.name,
    name: c.name,
    description: `p2p-operator channel ${channel.key}`,
    pull: true,
    deliverPolicy: "all",
    ackPolicy: "explicit",
    ackWaitMs: c.backoffMs[0] ?? c.ackWaitMs,
    maxDeliver: c.maxDeliver,
    backoffMs: [...c.backoffMs],
    maxAckPending: c.maxAckPending,
    filterSubject: "",
    inactiveThresholdMs: 0,
  };
}

export function desiredMoverConsumer(channel: ResolvedChannel): ConsumerSettings | null {
  if (!channel.consumer.deadLetter) return null;
  return {
    stream: advisoryStreamName(channel.stream.name),
    name: MOVER_CONSUMER_NAME,
    description: `p2p-operator dead-letter mover of channel ${channel.key}`,
    pull: true,
    deliverPolicy: "all",
    ackPolicy: "explicit",
    ackWaitMs: 30_000,
    // An advisory is retried until its message is moved: giving up would strand the message.
    maxDeliver: -1,
    backoffMs: [],
    maxAckPending: 256,
    filterSubject: "",
    inactiveThresholdMs: 0,
  };
}
