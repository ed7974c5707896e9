import { createHash } from "node:crypto";
import type { ConnectionTarget, NatsCredentials } from "../../operator/src/ports/index.js";
import type { ResolvedChannel, ResolvedConsumer, ResolvedDeadLetter, ResolvedScaling, ResolvedStream } from "../../operator/src/api/resolved.js";

// ResolvedChannel literals for tests: the defaults of DESIGN.md, overridden field by field.

export interface ResolvedChannelOverrides {
  namespace?: string;
  name?: string;
  uid?: string;
  generation?: number;
  adopt?: boolean;
  deletionPolicy?: ResolvedChannel["deletionPolicy"];
  connection?: ResolvedChannel["connection"];
  stream?: Partial<ResolvedStream>;
  consumer?: Partial<Omit<ResolvedConsumer, "deadLetter">> & {
    /** A subject (and optional maxAgeMs) turns dead letters on; the stream name follows the work stream. */
    deadLetter?: (Partial<ResolvedDeadLetter> & { subject: string }) | null;
  };
  scaling?: Partial<ResolvedScaling>;
  workload?: ResolvedChannel["workload"];
}

let counter = 0;

/** A unique, valid name for a test channel, so tests sharing a server never collide. */
export function uniqueName(prefix = "ch"): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

export function makeResolvedChannel(o: ResolvedChannelOverrides = {}): ResolvedChannel {
  const namespace = o.namespace ?? "default";
  const name = o.name ?? "orders";
  const streamName = o.stream?.name ?? `${namespace}_${name}`;
  const stream: ResolvedStream = {
    name: streamName,
    subjects: [`p2p.${namespace}.${name}`],
    storage: "file",
    replicas: 1,
    maxAgeMs: 0,
    maxMsgs: -1,
    maxBytes: -1,
    maxMsgSize: -1,
    discard: "new",
    duplicateWindowMs: 120_000,
    ...o.stream,
  };
  const dl = o.consumer?.deadLetter;
  const deadLetter: ResolvedDeadLetter | null = dl
    ? { streamName: `${streamName}_DLQ`, maxAgeMs: 168 * 3_600_000, ...dl }
    : null;
  const consumer: ResolvedConsumer = {
    name,
    ackWaitMs: 30_000,
    maxDeliver: 5,
    backoffMs: [],
    maxAckPending: 1000,
    ...o.consumer,
    deadLetter,
  };
  const scaling = scalingWith(o.scaling);
  return {
    key: `${namespace}/${name}`,
    owner: { namespace, name, uid: o.uid ?? `uid-${name}` },
    generation: o.generation ?? 1,
    connection: o.connection ?? null,
    stream,
    consumer,
    workload: o.workload ?? { kind: "scaleTarget", ref: { apiVersion: "apps/v1", kind: "Deployment", name: `${name}-consumer` } },
    scaling,
    deletionPolicy: o.deletionPolicy ?? "Retain",
    paused: false,
    adopt: o.adopt ?? false,
  };
}

/** A ConnectionTarget for a test server; the id hashes the credentials like a resolver would. */
export function natsTarget(servers: string | string[], credentials: NatsCredentials | null = null): ConnectionTarget {
  const list = Array.isArray(servers) ? servers : [servers];
  const hash = createHash("sha256").update(JSON.stringify(credentials ?? {})).digest("hex").slice(0, 16);
  return { servers: list, credentials, id: `${list.join(",")}#${hash}` };
}

/** The defaults of DESIGN.md's spec.scaling, parsed, overridden field by field. */
export function scalingWith(overrides: Partial<ResolvedScaling> = {}): ResolvedScaling {
  return {
    minReplicas: 1,
    maxReplicas: 10,
    targetLagPerReplica: 100,
    activationLag: 0,
    pollIntervalMs: 2_000,
    scaleToZeroAfterMs: 300_000,
    scaleDownStabilizationMs: 60_000,
    scaleUpStabilizationMs: 0,
    scaleUpMaxStep: 4,
    scaleUpMaxStepPercent: null,
    targetDrainTimeMs: null,
    ...overrides,
  };
}
