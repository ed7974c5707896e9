export { decideReplicas, initialScalingState } from "./policy.js";
export { quietUntilMs, resumeAfterQuiet } from "./quiet.js";
export { RATE_FLOOR_PER_SEC, RATE_SMOOTHING_MS, drainTimeMs, ratesBetween } from "./rates.js";
export { formatDurationMs, formatRate } from "./format.js";
export type {
  QueueSample,
  ScalingActiveReason,
  ScalingDecision,
  ScalingInput,
  ScalingState,
  TimedRecommendation,
} from "./types.js";
