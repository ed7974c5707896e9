import { ADOPT_ANNOTATION } from "../api/types.js";
import type { ResolvedChannel } from "../api/resolved.js";
import type { ConditionVerdict } from "../ports/index.js";
import { capabilitiesOf, type ServerCapabilities } from "./capabilities.js";
import {
  desiredAdvisoryStream,
  desiredDeadLetterStream,
  desiredMoverConsumer,
  desiredWorkConsumer,
  desiredWorkStream,
} from "./nats-desired.js";
import type {
  ConsumerRole,
  ConsumerSettings,
  FieldDiff,
  NatsAction,
  NatsObservation,
  NatsPlan,
  ObservedConsumer,
  ObservedStream,
  StreamRole,
  StreamSettings,
} from "./nats-model.js";
import { formatOwner, ownershipOf } from "./ownership.js";

// The NATS planner: what gather observed in, actions and the StreamReady/ConsumerReady verdicts
// out. No I/O. It never deletes anything a channel still declares, never touches a stream it
// does not own, and refuses immutable changes rather than delete-and-recreate.

export const NatsReasons = {
  Created: "Created",
  Updated: "Updated",
  Adopted: "Adopted",
  InSync: "InSync",
  ImmutableFieldChanged: "ImmutableFieldChanged",
  OwnedByAnother: "OwnedByAnother",
  StreamExists: "StreamExists",
  SubjectOverlap: "SubjectOverlap",
  StreamNotReady: "StreamNotReady",
} as const;

const ROLE_LABEL: Record<StreamRole, string> = {
  work: "stream",
  deadLetter: "dead-letter stream",
  advisories: "advisory stream",
};

const STREAM_IMMUTABLE: ReadonlyArray<keyof StreamSettings> = ["retention", "storage"];
const STREAM_MUTABLE: ReadonlyArray<keyof StreamSettings> = [
  "subjects",
  "replicas",
  "maxAgeMs",
  "maxMsgs",
  "maxBytes",
  "maxMsgSize",
  "discard",
  "duplicateWindowMs",
  "description",
  "metadata",
];
const CONSUMER_IMMUTABLE: ReadonlyArray<keyof ConsumerSettings> = ["pull", "deliverPolicy", "ackPolicy"];
const CONSUMER_MUTABLE: ReadonlyArray<keyof ConsumerSettings> = [
  "ackWaitMs",
  "maxDeliver",
  "backoffMs",
  "maxAckPending",
  "filterSubject",
  "inactiveThresholdMs",
  "description",
];

interface StreamPlan {
  actions: NatsAction[];
  verdict: ConditionVerdict;
  /** The stream is ours and exists (or is about to be created): consumers may be put on it. */
  usable: boolean;
}

interface ConsumerPlan {
  actions: NatsAction[];
  verdict: ConditionVerdict;
  usable: boolean;
}

export function planNats(channel: ResolvedChannel, observed: NatsObservation): NatsPlan {
  const caps = capabilitiesOf(observed.serverVersion);
  const work = planStream(channel, "work", desiredWorkStream(channel, caps), observed.streams.work, observed.overlaps);
  const actions: NatsAction[] = [...work.actions];

  let consumer: ConsumerPlan;
  if (work.usable) {
    consumer = planConsumer("work", desiredWorkConsumer(channel), observed.consumers.work);
    if (consumer.usable) consumer = withPause(channel, caps, consumer, observed.consumers.work);
  } else {
    consumer = {
      actions: [],
      verdict: { status: "False", reason: NatsReasons.StreamNotReady, message: `waiting for stream ${channel.stream.name}: ${work.verdict.reason}` },
      usable: false,
    };
  }
  actions.push(...consumer.actions);

  let deadLetterMover = false;
  let consumerVerdict = consumer.verdict;
  const dlqDesired = desiredDeadLetterStream(channel, caps);
  const advDesired = desiredAdvisoryStream(channel, caps);
  const moverDesired = desiredMoverConsumer(channel);
  if (dlqDesired && advDesired && moverDesired) {
    const problems: ConditionVerdict[] = [];
    const dlq = planStream(channel, "deadLetter", dlqDesired, observed.streams.deadLetter ?? null, observed.overlaps);
    actions.push(...dlq.actions);
    if (dlq.verdict.status !== "True") problems.push(dlq.verdict);
    // Advisories name the work stream and consumer: capturing them is pointless until both are ours.
    if (work.usable && consumer.usable) {
      const adv = planStream(channel, "advisories", advDesired, observed.streams.advisories ?? null, observed.overlaps);
      actions.push(...adv.actions);
      if (adv.verdict.status !== "True") problems.push(adv.verdict);
      if (adv.usable) {
        const mover = planConsumer("mover", moverDesired, observed.consumers.mover ?? null);
        actions.push(...mover.actions);
        if (mover.verdict.status !== "True") problems.push(mover.verdict);
        deadLetterMover = dlq.usable && mover.usable;
      }
    }
    const first = problems[0];
    if (first && consumerVerdict.status === "True") {
      consumerVerdict = { status: "False", reason: first.reason, message: `dead letters: ${first.message}` };
    }
  } else {
    // Dead letters switched off: stop capturing advisories. The DLQ stream holds user data and stays.
    const adv = observed.streams.advisories;
    if (adv && ownershipOf(adv, channel.owner).kind === "ours") {
      actions.push({ kind: "deleteStream", role: "advisories", name: adv.settings.name });
    }
  }

  return { actions, stream: work.verdict, consumer: consumerVerdict, deadLetterMover };
}

function planStream(
  channel: ResolvedChannel,
  role: StreamRole,
  desired: StreamSettings,
  observed: ObservedStream | null,
  overlaps: Record<string, string[]>,
): StreamPlan {
  const label = `${ROLE_LABEL[role]} ${desired.name}`;
  if (!observed) {
    const overlap = overlapVerdict(label, desired.subjects, desired.name, overlaps);
    if (overlap) return { actions: [], verdict: overlap, usable: false };
    return {
      actions: [{ kind: "createStream", role, settings: desired }],
      verdict: { status: "True", reason: NatsReasons.Created, message: `created ${label}` },
      usable: true,
    };
  }

  const ownership = ownershipOf(observed, channel.owner);
  const adoptHint = `annotate the channel ${ADOPT_ANNOTATION}="true" to take it over`;
  if (ownership.kind === "another") {
    return refused(NatsReasons.OwnedByAnother, `${label} belongs to channel ${formatOwner(ownership.owner)}`);
  }
  if (ownership.kind === "earlier" && !channel.adopt) {
    return refused(NatsReasons.OwnedByAnother, `${label} belongs to an earlier channel ${formatOwner(ownership.owner)}; ${adoptHint}`);
  }
  if (ownership.kind === "unstamped" && !channel.adopt) {
    return refused(NatsReasons.StreamExists, `${label} exists and was not created by p2p-operator; ${adoptHint}`);
  }
  const ours = ownership.kind === "ours";

  const immutable = immutableVerdict(label, diffFields(observed.settings, desired, STREAM_IMMUTABLE), " without deleting the stream and its messages");
  if (immutable) return { actions: [], verdict: immutable, usable: ours };

  const diff = diffFields(observed.settings, desired, STREAM_MUTABLE);
  if (diff.some((d) => d.field === "subjects")) {
    const added = desired.subjects.filter((s) => !observed.settings.subjects.includes(s));
    const overlap = overlapVerdict(label, added, desired.name, overlaps);
    if (overlap) return { actions: [], verdict: overlap, usable: ours };
  }
  if (diff.length === 0) {
    return { actions: [], verdict: { status: "True", reason: NatsReasons.InSync, message: `${label} is in sync` }, usable: true };
  }
  const fields = diff.map((d) => describeField(d.field)).join(", ");
  return {
    actions: [{ kind: "updateStream", role, settings: desired, diff }],
    verdict: ours
      ? { status: "True", reason: NatsReasons.Updated, message: `updated ${label}: ${fields}` }
      : { status: "True", reason: NatsReasons.Adopted, message: `adopted ${label}` },
    usable: true,
  };
}

/**
 * spec.paused: on 2.11+ the consumer is paused on the server too (replicas stop receiving, not
 * only scaling); older servers cannot, and the verdict says that spec.paused holds replicas only.
 */
function withPause(channel: ResolvedChannel, caps: ServerCapabilities, plan: ConsumerPlan, observed: ObservedConsumer | null): ConsumerPlan {
  const name = channel.consumer.name;
  if (!caps.consumerPause) {
    if (!channel.paused) return plan;
    const note = `; spec.paused holds replicas only: pausing deliveries needs nats-server 2.11 (this is ${caps.version})`;
    return { ...plan, verdict: { ...plan.verdict, message: plan.verdict.message + note } };
  }
  const pausedNow = observed?.state.paused ?? false;
  const actions = [...plan.actions];
  if (pausedNow !== channel.paused) actions.push({ kind: "pauseConsumer", role: "work", stream: channel.stream.name, name, paused: channel.paused });
  if (!channel.paused) return { ...plan, actions };
  return { ...plan, actions, verdict: { ...plan.verdict, message: `${plan.verdict.message}; deliveries paused on the server (spec.paused)` } };
}

/** ImmutableFieldChanged naming the first such field, or null when none changed. */
function immutableVerdict(label: string, changed: FieldDiff[], consequence: string): ConditionVerdict | null {
  const first = changed[0];
  if (!first) return null;
  return {
    status: "False",
    reason: NatsReasons.ImmutableFieldChanged,
    message: `${label}: ${describeField(first.field)} is ${fmt(first.from)} and cannot change to ${fmt(first.to)}${consequence}; nothing was changed`,
  };
}

function refused(reason: string, message: string): StreamPlan {
  return { actions: [], verdict: { status: "False", reason, message }, usable: false };
}

function planConsumer(role: ConsumerRole, desired: ConsumerSettings, observed: ObservedConsumer | null): ConsumerPlan {
  const label = `consumer ${desired.name}${role === "mover" ? ` on ${desired.stream}` : ""}`;
  if (!observed) {
    return {
      actions: [{ kind: "createConsumer", role, settings: desired }],
      verdict: { status: "True", reason: NatsReasons.Created, message: `created ${label}` },
      usable: true,
    };
  }
  const immutable = immutableVerdict(label, diffFields(observed.settings, desired, CONSUMER_IMMUTABLE), "");
  if (immutable) return { actions: [], verdict: immutable, usable: false };
  const diff = diffFields(observed.settings, desired, CONSUMER_MUTABLE);
  if (diff.length === 0) {
    return { actions: [], verdict: { status: "True", reason: NatsReasons.InSync, message: `${label} is in sync` }, usable: true };
  }
  return {
    actions: [{ kind: "updateConsumer", role, settings: desired, diff }],
    verdict: { status: "True", reason: NatsReasons.Updated, message: `updated ${label}: ${diff.map((d) => describeField(d.field)).join(", ")}` },
    usable: true,
  };
}

/**
 * A subject that takes in the JetStream API (`*.>`, `$JS.>`) would have the stream store the
 * server's own API requests: 2.10+ refuse it (10052/10100), but 2.9 creates it and every later
 * API request of the account is answered by the stream instead. Refused here on every version.
 */
const JS_API = ["$JS", "API", ">"];

/** Whether two subjects (with * and > wildcards) can match a common subject. */
export function subjectsOverlap(a: readonly string[], b: readonly string[]): boolean {
  for (let i = 0; ; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined) return x === y;
    if (x === ">" || y === ">") return true;
    if (x !== "*" && y !== "*" && x !== y) return false;
  }
}

/** Streams (other than `self`) whose subjects collide with any of `subjects`, as a SubjectOverlap verdict. */
function overlapVerdict(label: string, subjects: readonly string[], self: string, overlaps: Record<string, string[]>): ConditionVerdict | null {
  for (const subject of subjects) {
    if (subjectsOverlap(subject.split("."), JS_API)) {
      return {
        status: "False",
        reason: NatsReasons.SubjectOverlap,
        message: `${label}: subject ${subject} takes in the JetStream API ($JS.API.>), so the stream would swallow the server's own requests: choose subjects that cannot match $JS.API.>`,
      };
    }
  }
  for (const subject of subjects) {
    const others = (overlaps[subject] ?? []).filter((name) => name !== self);
    if (others.length > 0) {
      return {
        status: "False",
        reason: NatsReasons.SubjectOverlap,
        message: `${label}: subject ${subject} overlaps with stream ${others.join(", ")}`,
      };
    }
  }
  return null;
}

/**
 * The subjects gather must look up with STREAM.NAMES before this sync's plan: every subject of a
 * stream that is missing, and the added subjects of one whose subjects change. A steady state
 * needs none.
 */
export function subjectsToCheck(channel: ResolvedChannel, observed: NatsObservation): string[] {
  const caps = capabilitiesOf(observed.serverVersion);
  const pairs: Array<[StreamSettings | null, ObservedStream | null | undefined]> = [
    [desiredWorkStream(channel, caps), observed.streams.work],
    [desiredDeadLetterStream(channel, caps), observed.streams.deadLetter],
    [desiredAdvisoryStream(channel, caps), observed.streams.advisories],
  ];
  const out = new Set<string>();
  for (const [desired, actual] of pairs) {
    if (!desired || actual === undefined) continue;
    for (const subject of desired.subjects) {
      if (!actual || !actual.settings.subjects.includes(subject)) out.add(subject);
    }
  }
  return [...out];
}

export function diffFields<T extends object>(actual: T, desired: T, fields: ReadonlyArray<keyof T>): FieldDiff[] {
  const out: FieldDiff[] = [];
  for (const field of fields) {
    const from = actual[field];
    const to = desired[field];
    if (field === "metadata") {
      if (to === null) continue; // the server has no metadata: nothing to compare
      const want = (to ?? {}) as Record<string, string>;
      const have = (from ?? {}) as Record<string, string>;
      if (Object.entries(want).some(([k, v]) => have[k] !== v)) out.push({ field: String(field), from, to });
      continue;
    }
    if (!sameValue(from, to, field === "subjects")) out.push({ field: String(field), from, to });
  }
  return out;
}

function sameValue(a: unknown, b: unknown, asSet: boolean): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    const x = asSet ? [...a].sort() : a;
    const y = asSet ? [...b].sort() : b;
    return x.every((v, i) => v === y[i]);
  }
  return a === b;
}

const FIELD_NAMES: Record<string, string> = {
  maxAgeMs: "maxAge",
  duplicateWindowMs: "duplicateWindow",
  ackWaitMs: "ackWait",
  backoffMs: "backoff",
  inactiveThresholdMs: "inactiveThreshold",
  pull: "pull mode",
  deliverPolicy: "deliver policy",
  ackPolicy: "ack policy",
};

function describeField(field: string): string {
  return FIELD_NAMES[field] ?? field;
}

function fmt(v: unknown): string {
  if (typeof v === "boolean") return v ? "yes" : "no";
  return JSON.stringify(v);
}
