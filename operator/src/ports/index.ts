// The domain types the reconcile loop, the planners and the adapters share. This folder sits
// below plan/, controller/, nats/, kube/ and local/: it imports only api/, so none of them
// reaches another through it.
export { InvalidSecretError, SecretNotFoundError, isConditionError, verdictOf, type ConditionError } from "./errors.js";
export type {
  ChannelSource,
  ConditionVerdict,
  ConnectionResolver,
  ConnectionTarget,
  EventRecorder,
  EventType,
  NatsCredentials,
  NatsSide,
  NatsSyncResult,
  QueueRead,
  QueueReading,
  QueueState,
  WorkloadDriver,
  WorkloadObservation,
} from "./ports.js";
