export { decideReplicas, initialScalingState } from "./policy.js";
export { RATE_SMOOTHING_MS } from "./rates.js";
export { formatDurationMs } from "./format.js";
export type {
  QueueSample,
  ScalingActiveReason,
  ScalingDecision,
  ScalingInput,
  ScalingState,
  TimedRecommendation,
} from "./types.js";
