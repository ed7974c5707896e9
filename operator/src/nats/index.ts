// The JetStream adapter: streams, consumers, lag and dead letters for the NatsSide port.
export { ApplyReasons, applyNatsPlan, deleteStream, type ApplyOutcome } from "./apply.js";
export { NatsConnectionPool, credentialOptions, type ConnectionPoolOptions, type PooledConnection } from "./connection-pool.js";
export { consumerConfig, consumerUpdate, millis, nanos, observedConsumer, observedStream, streamConfig } from "./convert.js";
export {
  DeadLetterHeaders,
  DeadLetterMover,
  deadLetterMsgId,
  type DeadLetterMoverConfig,
  type DeadLetterMoverOptions,
  type MaxDeliveriesAdvisory,
  type MoveResult,
} from "./dead-letter-mover.js";
export {
  DeadLetterQueueNotFoundError,
  REPLAY_COUNT_HEADER,
  purgeDeadLetters,
  readDeadLetters,
  replayDeadLetter,
  replayMsgId,
  type DeadLetter,
  type DeadLetterSelection,
  type ReplayResult,
} from "./dead-letter-queue.js";
export {
  AuthFailedError,
  JetStreamRequestError,
  JsApiCode,
  NatsUnavailableError,
  apiErrorCode,
  describeServers,
  isApiError,
  redactUrl,
  toNatsError,
} from "./errors.js";
export { ServerListError, parseServerList } from "./server-list.js";
export { consumerInfo, gatherNats, streamInfo, streamsCapturing, type GatherOptions, type Gathered } from "./gather.js";
export { mapWithConcurrency } from "./concurrency.js";
export { JetStreamSide, type JetStreamSideOptions } from "./jetstream-side.js";
export { readQueuesInBulk, type BulkReadOptions } from "./queue-reader.js";
