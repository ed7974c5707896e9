import type { QueueState } from "../ports/index.js";
import type { ObservedConsumer, ObservedStream } from "./nats-model.js";

/** The queue from one STREAM.INFO and one CONSUMER.INFO: lag = pending + ackPending. */
export function queueStateOf(stream: ObservedStream, consumer: ObservedConsumer, atMs: number): QueueState {
  const { pending, ackPending, redelivered, waiting, paused } = consumer.state;
  return {
    atMs,
    stream: {
      name: stream.settings.name,
      messages: stream.state.messages,
      bytes: stream.state.bytes,
      firstSeq: stream.state.firstSeq,
      lastSeq: stream.state.lastSeq,
    },
    consumer: { name: consumer.settings.name, pending, ackPending, redelivered, waiting, paused },
    lag: pending + ackPending,
  };
}
