export { Controller, type ControllerOptions } from "./controller.js";
export { ChannelReconciler, type ReconcileResult, type ReconcilerDeps } from "./reconciler.js";
export { StatusWriter, type ChannelSnapshot, type StatusWriterDeps } from "./status-writer.js";
export { QueuePoller, type PolledChannels, type QueuePollerOptions } from "./queue-poller.js";
export { WorkQueue, jitter, type WorkQueueOptions } from "./work-queue.js";
export { Counter, Gauge, Histogram, Registry, operatorMetrics, type OperatorMetrics } from "./metrics.js";
export { subjectPolicyVerdict, type SubjectPolicy } from "./subject-policy.js";
