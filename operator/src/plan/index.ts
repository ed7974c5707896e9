// Pure planners: observed state in, actions and condition verdicts out. No I/O here.
export { ackPendingShortfall, type AckPendingShortfall } from "./ack-pending-headroom.js";
export { NatsFeature, capabilitiesOf, parseServerVersion, versionAtLeast, type ServerCapabilities } from "./capabilities.js";
export { mergeConditions, readyVerdict, transitions, type Verdicts } from "./conditions.js";
export { CREDENTIALS_DIR, CREDENTIAL_FILES, consumerEnv, maxBatch } from "./consumer-env.js";
export { composeStatus, sameStatus, workloadVerdict, type StatusInput } from "./channel-status.js";
export {
  MOVER_CONSUMER_NAME,
  advisoryStreamName,
  desiredAdvisoryStream,
  desiredDeadLetterStream,
  desiredMoverConsumer,
  desiredWorkConsumer,
  desiredWorkStream,
  maxDeliveriesSubject,
} from "./nats-desired.js";
export { planNatsDeletion, type NatsDeletionPlan } from "./nats-deletion.js";
export type {
  AckPolicy,
  ConsumerRole,
  ConsumerSettings,
  ConsumerState,
  DeliverPolicy,
  FieldDiff,
  NatsAction,
  NatsObservation,
  NatsPlan,
  ObservedConsumer,
  ObservedStream,
  RetentionPolicy,
  StreamRole,
  StreamSettings,
  StreamState,
} from "./nats-model.js";
export { NatsReasons, diffFields, planNats, subjectsOverlap, subjectsToCheck } from "./nats-plan.js";
export {
  OWNER_METADATA_KEYS,
  formatOwner,
  ownerDescription,
  ownerMetadata,
  ownerOf,
  ownershipOf,
  parseOwnerDescription,
  type Ownership,
} from "./ownership.js";
export { queueStateFromStream, queueStateOf } from "./queue.js";
export { STATUS_LAG_SHARE, STATUS_READINGS_INTERVAL_MS, statusWriteDue } from "./status-budget.js";
export { STOP_MARGIN_SECONDS, podTerminationGraceSeconds, terminationGracePeriodSeconds } from "./termination-grace.js";
