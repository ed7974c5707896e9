import type { ConsumerInfo, JetStreamManager, StreamInfo } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { ConditionVerdict } from "../ports/index.js";
import type { ConsumerRole, NatsAction, NatsPlan, StreamRole } from "../plan/index.js";
import { NatsReasons } from "../plan/index.js";
import { consumerConfig, consumerUpdate, streamConfig } from "./convert.js";
import type { Gathered } from "./gather.js";
import { streamsCapturing } from "./gather.js";
import { apiErrorCode, AuthFailedError, isApiError, JsApiCode, NatsUnavailableError, toNatsError } from "./errors.js";

// Apply: perform the planner's actions in order. A refusal by the server (overlap, invalid
// config) becomes a verdict and skips what depends on it; connection and auth failures throw.

export const ApplyReasons = {
  StreamConfigRejected: "StreamConfigRejected",
  ConsumerConfigRejected: "ConsumerConfigRejected",
} as const;

export interface ApplyOutcome {
  stream: ConditionVerdict;
  consumer: ConditionVerdict;
  deadLetterMover: boolean;
  /** What the server holds after apply (null = missing), for reading the queue without asking again. */
  streams: Partial<Record<StreamRole, StreamInfo | null>>;
  consumers: Partial<Record<ConsumerRole, ConsumerInfo | null>>;
}

const LABEL: Record<StreamRole, string> = { work: "stream", deadLetter: "dead-letter stream", advisories: "advisory stream" };

export async function applyNatsPlan(jsm: JetStreamManager, plan: NatsPlan, gathered: Gathered, log: Logger): Promise<ApplyOutcome> {
  const out: ApplyOutcome = {
    stream: plan.stream,
    consumer: plan.consumer,
    deadLetterMover: plan.deadLetterMover,
    streams: { ...gathered.streams },
    consumers: { ...gathered.consumers },
  };
  const failedStreams = new Set<StreamRole>();
  const failedConsumers = new Set<ConsumerRole>();
  const deadLetterProblem = (v: ConditionVerdict) => {
    out.deadLetterMover = false;
    if (out.consumer.status === "True") out.consumer = { status: "False", reason: v.reason, message: `dead letters: ${v.message}` };
  };

  for (const action of plan.actions) {
    if (action.kind === "createConsumer" || action.kind === "updateConsumer") {
      const dependsOn: StreamRole = action.role === "work" ? "work" : "advisories";
      if (failedStreams.has(dependsOn) && !out.streams[dependsOn]) continue;
      try {
        out.consumers[action.role] = await applyConsumer(jsm, action, log);
      } catch (err) {
        const verdict = rejection(err, `consumer ${action.settings.name}`, ApplyReasons.ConsumerConfigRejected);
        failedConsumers.add(action.role);
        if (action.role === "work") {
          out.consumer = verdict;
          out.deadLetterMover = false;
        } else deadLetterProblem(verdict);
      }
      continue;
    }
    if (action.kind === "pauseConsumer") {
      // A consumer the server refused is not there to pause.
      if (failedConsumers.has("work")) continue;
      const info = out.consumers.work;
      await pauseConsumer(jsm, action, log);
      if (info) out.consumers.work = { ...info, paused: action.paused };
      continue;
    }
    if (action.kind === "deleteStream") {
      log.info({ streamName: action.name, role: action.role }, "deleting stream");
      await deleteStream(jsm, action.name);
      out.streams[action.role] = null;
      continue;
    }
    if (action.role === "advisories" && (failedStreams.has("work") || failedConsumers.has("work"))) continue;
    try {
      out.streams[action.role] = await applyStream(jsm, action, gathered, log);
    } catch (err) {
      const name = action.settings.name;
      let verdict = rejection(err, `${LABEL[action.role]} ${name}`, ApplyReasons.StreamConfigRejected, replicasHint(err, action.settings.replicas));
      if (isApiError(err, JsApiCode.StreamSubjectOverlap, JsApiCode.StreamSubjectOverlapApi)) {
        verdict = await overlapVerdict(jsm, `${LABEL[action.role]} ${name}`, name, action.settings.subjects);
      }
      failedStreams.add(action.role);
      if (action.role === "work") {
        out.stream = verdict;
        if (!out.streams.work) {
          out.consumer = { status: "False", reason: NatsReasons.StreamNotReady, message: `waiting for stream ${name}: ${verdict.reason}` };
        }
        out.deadLetterMover = false;
      } else deadLetterProblem(verdict);
    }
  }
  return out;
}

async function applyStream(
  jsm: JetStreamManager,
  action: Extract<NatsAction, { kind: "createStream" | "updateStream" }>,
  gathered: Gathered,
  log: Logger,
): Promise<StreamInfo> {
  if (action.kind === "createStream") {
    log.info({ streamName: action.settings.name, role: action.role }, "creating stream");
    return jsm.streams.add(streamConfig(action.settings));
  }
  log.info({ streamName: action.settings.name, role: action.role, diff: action.diff }, "updating stream");
  const current = gathered.streams[action.role]?.config;
  return jsm.streams.update(action.settings.name, streamConfig(action.settings, current ?? undefined));
}

async function applyConsumer(
  jsm: JetStreamManager,
  action: Extract<NatsAction, { kind: "createConsumer" | "updateConsumer" }>,
  log: Logger,
): Promise<ConsumerInfo> {
  const s = action.settings;
  if (action.kind === "createConsumer") {
    log.info({ streamName: s.stream, consumerName: s.name, role: action.role }, "creating consumer");
    return jsm.consumers.add(s.stream, consumerConfig(s));
  }
  log.info({ streamName: s.stream, consumerName: s.name, role: action.role, diff: action.diff }, "updating consumer");
  return jsm.consumers.update(s.stream, s.name, consumerUpdate(s));
}

/** Far enough ahead to mean "until resumed", near enough that pause_remaining fits the server's int64 nanoseconds. */
const PAUSED_UNTIL = new Date("2100-01-01T00:00:00Z");

async function pauseConsumer(jsm: JetStreamManager, action: Extract<NatsAction, { kind: "pauseConsumer" }>, log: Logger): Promise<void> {
  log.info({ streamName: action.stream, consumerName: action.name, paused: action.paused }, action.paused ? "pausing consumer (spec.paused)" : "resuming consumer");
  try {
    if (action.paused) await jsm.consumers.pause(action.stream, action.name, PAUSED_UNTIL);
    else await jsm.consumers.resume(action.stream, action.name);
  } catch (err) {
    throw toNatsError(err, `CONSUMER.PAUSE ${action.stream} ${action.name}`);
  }
}

export async function deleteStream(jsm: JetStreamManager, name: string): Promise<void> {
  try {
    await jsm.streams.delete(name);
  } catch (err) {
    if (isApiError(err, JsApiCode.StreamNotFound)) return;
    throw toNatsError(err, `STREAM.DELETE ${name}`);
  }
}

/** A server refusal as a verdict (with what to do about it, when known); connection and auth trouble is rethrown. */
function rejection(err: unknown, what: string, reason: string, hint = ""): ConditionVerdict {
  const code = apiErrorCode(err);
  if (code === null) throw toNatsError(err, what);
  const mapped = toNatsError(err, what);
  if (mapped instanceof NatsUnavailableError || mapped instanceof AuthFailedError) throw mapped;
  return { status: "False", reason, message: `${what}: the server refused: ${(err as Error).message} (${code})${hint ? `: ${hint}` : ""}` };
}

/**
 * The server's words for too many replicas ("no suitable peers for placement", "replicas > 1 not
 * supported in non-clustered mode") do not name the field: say which one and how to fix it.
 */
function replicasHint(err: unknown, replicas: number): string {
  if (replicas <= 1) return "";
  if (isApiError(err, JsApiCode.StreamReplicasNotSupported)) {
    return `stream.replicas ${replicas} needs a JetStream cluster, and this server runs alone: set spec.stream.replicas to 1, or cluster the servers`;
  }
  if (isApiError(err, JsApiCode.ClusterNoPeers, JsApiCode.InsufficientResources)) {
    return `stream.replicas ${replicas} needs ${replicas} JetStream servers with room for it (one replica on each), and the cluster has fewer: lower spec.stream.replicas to the cluster's size, or add servers`;
  }
  return "";
}

/** Error 10065 does not say which stream: look it up so the verdict can name it. */
async function overlapVerdict(jsm: JetStreamManager, label: string, self: string, subjects: string[]): Promise<ConditionVerdict> {
  for (const subject of subjects) {
    const others = (await streamsCapturing(jsm, subject)).filter((n) => n !== self);
    if (others.length > 0) {
      return { status: "False", reason: NatsReasons.SubjectOverlap, message: `${label}: subject ${subject} overlaps with stream ${others.join(", ")}` };
    }
  }
  return { status: "False", reason: NatsReasons.SubjectOverlap, message: `${label}: subjects overlap with an existing stream` };
}
