import type { ConsumerStatus, StreamStatus } from "../api/types.js";
import type { QueueState } from "../ports/index.js";
import type { ObservedConsumer, ObservedStream } from "./nats-model.js";

/** The queue from one STREAM.INFO and one CONSUMER.INFO: lag = pending + ackPending. */
export function queueStateOf(stream: ObservedStream, consumer: ObservedConsumer, atMs: number): QueueState {
  const { pending, ackPending, redelivered, waiting, paused } = consumer.state;
  return {
    atMs,
    stream: streamStatusOf(stream),
    consumer: { name: consumer.settings.name, pending, ackPending, redelivered, waiting, paused },
    lag: pending + ackPending,
  };
}

function streamStatusOf(stream: ObservedStream): StreamStatus {
  const { messages, bytes, firstSeq, lastSeq } = stream.state;
  return { name: stream.settings.name, messages, bytes, firstSeq, lastSeq };
}

/**
 * The queue from the stream alone, where CONSUMER.INFO would add nothing: a work-queue stream with
 * its one consumer and no messages. Acked and terminated messages are deleted from a work-queue
 * stream, so messages >= pending + ackPending (equal until a message runs out of deliveries and
 * waits for the dead-letter mover): zero messages is zero lag. null: ask CONSUMER.INFO.
 * `waiting` (pull requests) and `paused` are not in the stream's state: the last read stands in.
 */
export function queueStateFromStream(
  stream: ObservedStream,
  consumerName: string,
  atMs: number,
  last: Pick<ConsumerStatus, "waiting" | "paused"> | undefined,
): QueueState | null {
  if (stream.settings.retention !== "workqueue" || stream.state.consumerCount !== 1 || stream.state.messages !== 0) return null;
  return {
    atMs,
    stream: streamStatusOf(stream),
    consumer: { name: consumerName, pending: 0, ackPending: 0, redelivered: 0, waiting: last?.waiting ?? 0, paused: last?.paused ?? false },
    lag: 0,
  };
}
