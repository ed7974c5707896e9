import type { ConsumerConfig, ConsumerInfo, ConsumerUpdateConfig, StreamConfig, StreamInfo } from "@nats-io/jetstream";
import type {
  AckPolicy,
  ConsumerSettings,
  DeliverPolicy,
  ObservedConsumer,
  ObservedStream,
  RetentionPolicy,
  StreamSettings,
} from "../plan/index.js";

// JetStream API shapes (durations in nanoseconds) <-> the planner's settings (milliseconds).

const NS_PER_MS = 1_000_000;

export function nanos(ms: number): number {
  return Math.round(ms * NS_PER_MS);
}

export function millis(ns: number | undefined): number {
  return ns ? Math.round(ns / NS_PER_MS) : 0;
}

export function observedStream(si: StreamInfo): ObservedStream {
  const c = si.config;
  return {
    settings: {
      name: c.name,
      description: c.description ?? "",
      subjects: [...(c.subjects ?? [])],
      retention: c.retention as RetentionPolicy,
      storage: c.storage,
      replicas: c.num_replicas,
      maxAgeMs: millis(c.max_age),
      maxMsgs: c.max_msgs,
      maxBytes: c.max_bytes,
      maxMsgSize: c.max_msg_size,
      discard: c.discard,
      duplicateWindowMs: millis(c.duplicate_window),
      metadata: c.metadata ? { ...c.metadata } : null,
    },
    state: {
      messages: si.state.messages,
      bytes: si.state.bytes,
      firstSeq: si.state.first_seq,
      lastSeq: si.state.last_seq,
      consumerCount: si.state.consumer_count,
    },
  };
}

/**
 * The stream config to send. Updating sends the whole config, so the fields we do not manage
 * are taken from what the server has (`current`), and server-set metadata keys are kept.
 */
export function streamConfig(s: StreamSettings, current?: StreamConfig): StreamConfig {
  const managed: Partial<StreamConfig> = {
    name: s.name,
    description: s.description,
    subjects: [...s.subjects],
    retention: s.retention,
    storage: s.storage,
    num_replicas: s.replicas,
    max_age: nanos(s.maxAgeMs),
    max_msgs: s.maxMsgs,
    max_bytes: s.maxBytes,
    max_msg_size: s.maxMsgSize,
    discard: s.discard,
    duplicate_window: nanos(s.duplicateWindowMs),
  };
  const out = { ...(current ?? {}), ...managed } as StreamConfig;
  if (s.metadata) out.metadata = { ...(current?.metadata ?? {}), ...s.metadata };
  return out;
}

export function observedConsumer(ci: ConsumerInfo): ObservedConsumer {
  const c = ci.config;
  return {
    settings: {
      stream: ci.stream_name,
      name: ci.name,
      description: c.description ?? "",
      pull: !c.deliver_subject,
      deliverPolicy: c.deliver_policy as DeliverPolicy,
      ackPolicy: c.ack_policy as AckPolicy,
      ackWaitMs: millis(c.ack_wait),
      maxDeliver: c.max_deliver ?? -1,
      backoffMs: (c.backoff ?? []).map(millis),
      maxAckPending: c.max_ack_pending ?? -1,
      filterSubject: c.filter_subject ?? "",
      inactiveThresholdMs: millis(c.inactive_threshold),
    },
    state: {
      pending: ci.num_pending,
      ackPending: ci.num_ack_pending,
      redelivered: ci.num_redelivered,
      waiting: ci.num_waiting,
      paused: ci.paused ?? false,
    },
  };
}

/** A durable pull consumer's config; like streams, unmanaged fields come from `current`. */
export function consumerConfig(s: ConsumerSettings, current?: ConsumerConfig): Partial<ConsumerConfig> {
  const out: Partial<ConsumerConfig> = {
    ...(current ?? {}),
    durable_name: s.name,
    name: s.name,
    description: s.description,
    deliver_policy: s.deliverPolicy,
    ack_policy: s.ackPolicy,
    ack_wait: nanos(s.ackWaitMs),
    max_deliver: s.maxDeliver,
    max_ack_pending: s.maxAckPending,
  };
  if (s.backoffMs.length > 0) out.backoff = s.backoffMs.map(nanos);
  else delete out.backoff;
  // An empty filter would end up in the request subject (CONSUMER.CREATE.<s>.<c>.): leave it out.
  if (s.filterSubject) out.filter_subject = s.filterSubject;
  else delete out.filter_subject;
  if (s.inactiveThresholdMs > 0) out.inactive_threshold = nanos(s.inactiveThresholdMs);
  else delete out.inactive_threshold;
  return out;
}

/**
 * The mutable part of a consumer, for CONSUMER.UPDATE (the client merges it into the current
 * config). Cleared fields are sent as undefined/0 so that the merge drops them.
 */
export function consumerUpdate(s: ConsumerSettings): ConsumerUpdateConfig {
  return {
    description: s.description,
    ack_wait: nanos(s.ackWaitMs),
    max_deliver: s.maxDeliver,
    max_ack_pending: s.maxAckPending,
    backoff: s.backoffMs.length > 0 ? s.backoffMs.map(nanos) : undefined,
    filter_subject: s.filterSubject || undefined,
    inactive_threshold: s.inactiveThresholdMs > 0 ? nanos(s.inactiveThresholdMs) : 0,
  };
}
