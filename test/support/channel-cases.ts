// Channel manifests users write, valid and not, shared by the offline validator's unit tests
// and the real apiserver's admission tests: the same mistakes must be refused in both places,
// at the same field, with the same fix.
import type { CrdSchema } from "../../operator/src/api/validate.js";

// Loose on purpose: the cases below write what users write, including what the types forbid.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Doc = any;

export function base(): Doc {
  return {
    apiVersion: "messaging.p2p.dev/v1alpha1",
    kind: "PointToPointChannel",
    metadata: { name: "register", namespace: "health" },
    spec: {
      subjects: ["immunisation.administered"],
      consumer: { deadLetter: { subject: "dlq.immunisation.administered" } },
      workload: { template: { spec: { containers: [{ name: "consumer", image: "consumer:1", command: ["node", "main.js"] }] } } },
      scaling: { minReplicas: 1, maxReplicas: 8 },
    },
  };
}

export function edit(change: (doc: Doc) => void): Doc {
  const doc = base();
  change(doc);
  return doc;
}

export interface InvalidCase {
  name: string;
  doc: Doc;
  old?: Doc;
  path: string;
  fix: RegExp;
}

const longName = "s".repeat(252);

export const invalid: InvalidCase[] = [
  { name: "empty subject token (a..b)", doc: edit((d) => (d.spec.subjects = ["a..b"])), path: "spec.subjects[0]", fix: /empty token/ },
  { name: "leading dot in a subject", doc: edit((d) => (d.spec.subjects = [".orders"])), path: "spec.subjects[0]", fix: /empty token/ },
  { name: "trailing dot in a subject", doc: edit((d) => (d.spec.subjects = ["ok", "orders."])), path: "spec.subjects[1]", fix: /empty token/ },
  { name: "> not last", doc: edit((d) => (d.spec.subjects = ["orders.>.created"])), path: "spec.subjects[0]", fix: /">" may only be the whole last token/ },
  { name: "> inside a token", doc: edit((d) => (d.spec.subjects = ["orders.a>"])), path: "spec.subjects[0]", fix: /">" may only be/ },
  { name: "* inside a token", doc: edit((d) => (d.spec.subjects = ["orders.creat*"])), path: "spec.subjects[0]", fix: /"\*" must be a whole token/ },
  { name: "whitespace in a subject", doc: edit((d) => (d.spec.subjects = ["orders created"])), path: "spec.subjects[0]", fix: /whitespace/ },
  { name: "$JS. prefix", doc: edit((d) => (d.spec.subjects = ["$JS.API.STREAM.LIST"])), path: "spec.subjects[0]", fix: /reserved for the NATS server/ },
  { name: "$SYS subject", doc: edit((d) => (d.spec.subjects = ["$SYS"])), path: "spec.subjects[0]", fix: /reserved/ },
  { name: "the same subject twice", doc: edit((d) => (d.spec.subjects = ["a.b", "a.b"])), path: "spec.subjects", fix: /twice: remove the duplicate/ },
  { name: "an empty subjects list", doc: edit((d) => (d.spec.subjects = [])), path: "spec.subjects", fix: /at least 1 item, or be left out/ },
  { name: "stream name with a dot", doc: edit((d) => (d.spec.stream = { name: "orders.v1" })), path: "spec.stream.name", fix: /not a valid stream name: remove "\."/ },
  { name: "consumer name with a path separator", doc: edit((d) => (d.spec.consumer.name = "team/workers")), path: "spec.consumer.name", fix: /not a valid consumer name/ },
  { name: "stream name too long for <name>_DLQ", doc: edit((d) => (d.spec.stream = { name: longName })), path: "spec.stream.name", fix: /at most 251 characters/ },
  { name: "minReplicas > maxReplicas", doc: edit((d) => (d.spec.scaling = { minReplicas: 5, maxReplicas: 3 })), path: "spec.scaling.minReplicas", fix: /lower scaling\.minReplicas or raise scaling\.maxReplicas/ },
  { name: "minReplicas above the default maxReplicas", doc: edit((d) => (d.spec.scaling = { minReplicas: 11 })), path: "spec.scaling.minReplicas", fix: /must not exceed maxReplicas/ },
  { name: "negative minReplicas", doc: edit((d) => (d.spec.scaling.minReplicas = -1)), path: "spec.scaling.minReplicas", fix: /at least 0, got -1/ },
  { name: "maxReplicas 0", doc: edit((d) => (d.spec.scaling = { minReplicas: 0, maxReplicas: 0 })), path: "spec.scaling.maxReplicas", fix: /at least 1, got 0/ },
  { name: "replicas as a quoted number", doc: edit((d) => (d.spec.scaling.maxReplicas = "8")), path: "spec.scaling.maxReplicas", fix: /write 8 without quotes/ },
  { name: "fractional replicas", doc: edit((d) => (d.spec.scaling.maxReplicas = 2.5)), path: "spec.scaling.maxReplicas", fix: /whole number/ },
  { name: "targetLagPerReplica 0", doc: edit((d) => (d.spec.scaling.targetLagPerReplica = 0)), path: "spec.scaling.targetLagPerReplica", fix: /at least 1/ },
  {
    name: "both workload forms",
    doc: edit((d) => (d.spec.workload.scaleTargetRef = { name: "register" })),
    path: "spec.workload",
    fix: /exactly one of workload\.scaleTargetRef .* or workload\.template/,
  },
  { name: "neither workload form", doc: edit((d) => (d.spec.workload = {})), path: "spec.workload", fix: /exactly one of/ },
  { name: "no workload at all", doc: edit((d) => delete d.spec.workload), path: "spec.workload", fix: /is required: add spec\.workload with either scaleTargetRef/ },
  { name: "no spec", doc: edit((d) => delete d.spec), path: "spec", fix: /is required/ },
  { name: "template without containers", doc: edit((d) => (d.spec.workload.template.spec = {})), path: "spec.workload.template.spec.containers", fix: /add at least one container/ },
  { name: "template with an empty containers list", doc: edit((d) => (d.spec.workload.template.spec.containers = [])), path: "spec.workload.template.spec.containers", fix: /at least 1 item/ },
  { name: "container without a name", doc: edit((d) => delete d.spec.workload.template.spec.containers[0].name), path: "spec.workload.template.spec.containers[0].name", fix: /give the container a name/ },
  { name: "misspelt env field in a container", doc: edit((d) => (d.spec.workload.template.spec.containers[0].env = [{ name: "A", values: "1" }])), path: "spec.workload.template.spec.containers[0].env[0].values", fix: /did you mean "value"/ },
  { name: "scaleTargetRef without a name", doc: edit((d) => (d.spec.workload = { scaleTargetRef: { kind: "Deployment" } })), path: "spec.workload.scaleTargetRef.name", fix: /name the Deployment to scale/ },
  { name: "scaleTargetRef name in capitals", doc: edit((d) => (d.spec.workload = { scaleTargetRef: { name: "Register" } })), path: "spec.workload.scaleTargetRef.name", fix: /lowercase letters/ },
  { name: "backoff as long as maxDeliver", doc: edit((d) => Object.assign(d.spec.consumer, { maxDeliver: 3, backoff: ["1s", "2s", "3s"] })), path: "spec.consumer.backoff", fix: /remove backoff entries or raise consumer\.maxDeliver/ },
  { name: "backoff longer than the default maxDeliver", doc: edit((d) => (d.spec.consumer.backoff = ["1s", "2s", "3s", "4s", "5s", "6s"])), path: "spec.consumer.backoff", fix: /fewer entries than maxDeliver/ },
  { name: "maxDeliver 0", doc: edit((d) => (d.spec.consumer.maxDeliver = 0)), path: "spec.consumer.maxDeliver", fix: /at least 1/ },
  { name: "maxAckPending 0", doc: edit((d) => (d.spec.consumer.maxAckPending = 0)), path: "spec.consumer.maxAckPending", fix: /at least 1/ },
  { name: "unknown field (typo)", doc: edit((d) => (d.spec.scaling.maxReplica = 3)), path: "spec.scaling.maxReplica", fix: /unknown field: did you mean "maxReplicas"\?/ },
  { name: "unknown field in spec", doc: edit((d) => (d.spec.replicas = 3)), path: "spec.replicas", fix: /unknown field: remove it, or use one of the known fields: subjects, connection/ },
  { name: "10 sec as a duration", doc: edit((d) => (d.spec.stream = { maxAge: "10 sec" })), path: "spec.stream.maxAge", fix: /"10 sec" is not a duration: use a Go-style duration such as 500ms/ },
  { name: "a day unit Go does not know", doc: edit((d) => (d.spec.consumer.deadLetter.maxAge = "7d")), path: "spec.consumer.deadLetter.maxAge", fix: /not a duration/ },
  { name: "a duration without unit (YAML number)", doc: edit((d) => (d.spec.consumer.ackWait = 30)), path: "spec.consumer.ackWait", fix: /must be a string, got number 30: quote it, e.g\. "30s"/ },
  { name: "a negative duration", doc: edit((d) => (d.spec.scaling.scaleToZeroAfter = "-5m")), path: "spec.scaling.scaleToZeroAfter", fix: /negative/ },
  { name: "a bad backoff entry", doc: edit((d) => (d.spec.consumer.backoff = ["1s", "soon"])), path: "spec.consumer.backoff[1]", fix: /not a duration/ },
  { name: "ackWait 0s", doc: edit((d) => (d.spec.consumer.ackWait = "0s")), path: "spec.consumer.ackWait", fix: /greater than 0/ },
  { name: "pollInterval 0", doc: edit((d) => (d.spec.scaling.pollInterval = "0")), path: "spec.scaling.pollInterval", fix: /greater than 0, e\.g\. 2s/ },
  { name: "targetDrainTime 0s", doc: edit((d) => (d.spec.scaling.targetDrainTime = "0s")), path: "spec.scaling.targetDrainTime", fix: /or empty for lag mode/ },
  { name: "storage: disk", doc: edit((d) => (d.spec.stream = { storage: "disk" })), path: "spec.stream.storage", fix: /one of "file", "memory", got "disk"/ },
  { name: "discard: oldest", doc: edit((d) => (d.spec.stream = { discard: "oldest" })), path: "spec.stream.discard", fix: /one of "new", "old"/ },
  { name: "stream.replicas 6", doc: edit((d) => (d.spec.stream = { replicas: 6 })), path: "spec.stream.replicas", fix: /at most 5, got 6/ },
  { name: "maxMsgs below -1", doc: edit((d) => (d.spec.stream = { maxMsgs: -2 })), path: "spec.stream.maxMsgs", fix: /at least -1/ },
  { name: "deletionPolicy in lower case", doc: edit((d) => (d.spec.deletionPolicy = "delete")), path: "spec.deletionPolicy", fix: /"Retain", "Delete"/ },
  { name: "paused: yes (a string in YAML 1.2)", doc: edit((d) => (d.spec.paused = "yes")), path: "spec.paused", fix: /must be a boolean/ },
  { name: "both scale-up step policies", doc: edit((d) => (d.spec.scaling.scaleUp = { maxStep: 2, maxStepPercent: 50 })), path: "spec.scaling.scaleUp", fix: /either scaleUp\.maxStep .* or scaleUp\.maxStepPercent/ },
  { name: "dead-letter subject with a wildcard", doc: edit((d) => (d.spec.consumer.deadLetter.subject = "dlq.*")), path: "spec.consumer.deadLetter.subject", fix: /literal subject without \* or >/ },
  { name: "dead-letter subject equal to the channel's", doc: edit((d) => (d.spec.consumer.deadLetter.subject = "immunisation.administered")), path: "spec.consumer.deadLetter.subject", fix: /must differ from the channel's subjects/ },
  { name: "dead-letter subject under $JS", doc: edit((d) => (d.spec.consumer.deadLetter.subject = "$JS.dlq")), path: "spec.consumer.deadLetter.subject", fix: /reserved for the NATS server/ },
  { name: "dead letters without a subject", doc: edit((d) => (d.spec.consumer.deadLetter = { maxAge: "1h" })), path: "spec.consumer.deadLetter.subject", fix: /set the dead-letter subject/ },
  { name: "two servers in one entry", doc: edit((d) => (d.spec.connection = { servers: ["nats://a:4222,nats://b:4222"] })), path: "spec.connection.servers[0]", fix: /one URL per entry/ },
  { name: "secretRef without a name", doc: edit((d) => (d.spec.connection = { secretRef: {} })), path: "spec.connection.secretRef.name", fix: /name the Secret/ },
  { name: "metadata.name in capitals", doc: edit((d) => (d.metadata.name = "Register")), path: "metadata.name", fix: /lowercase letters/ },
  { name: "no metadata.name", doc: edit((d) => delete d.metadata.name), path: "metadata.name", fix: /is required/ },
  { name: "wrong apiVersion", doc: edit((d) => (d.apiVersion = "messaging.p2p.dev/v1")), path: "apiVersion", fix: /must be messaging\.p2p\.dev\/v1alpha1/ },
  { name: "a status condition with a bad status", doc: edit((d) => (d.status = { conditions: [{ type: "Ready", status: "Yes", lastTransitionTime: "2026-01-01T00:00:00Z", reason: "R", message: "" }] })), path: "status.conditions[0].status", fix: /"True", "False", "Unknown"/ },
  {
    name: "two Ready conditions",
    doc: edit((d) => {
      const ready = { type: "Ready", status: "True", lastTransitionTime: "2026-01-01T00:00:00Z", reason: "Ready", message: "" };
      d.status = { conditions: [ready, { ...ready, status: "False" }] };
    }),
    path: "status.conditions[1]",
    fix: /second entry with type "Ready": keep one entry per type/,
  },
  { name: "a status time that is not RFC 3339", doc: edit((d) => (d.status = { lastScaleTime: "yesterday" })), path: "status.lastScaleTime", fix: /RFC 3339/ },
  { name: "changing storage of an existing stream", doc: edit((d) => (d.spec.stream = { storage: "memory" })), old: base(), path: "spec.stream.storage", fix: /stream\.storage is immutable: set it back/ },
  { name: "renaming the stream", doc: edit((d) => (d.spec.stream = { name: "ORDERS2" })), old: edit((d) => (d.spec.stream = { name: "ORDERS" })), path: "spec.stream.name", fix: /stream\.name is immutable/ },
  { name: "naming a stream that used the default", doc: edit((d) => (d.spec.stream = { name: "health_register" })), old: base(), path: "spec.stream.name", fix: /remove it if it was not set/ },
  { name: "removing an explicit stream name", doc: base(), old: edit((d) => (d.spec.stream = { name: "ORDERS" })), path: "spec.stream.name", fix: /immutable/ },
  { name: "renaming the durable consumer", doc: edit((d) => (d.spec.consumer.name = "workers")), old: base(), path: "spec.consumer.name", fix: /consumer\.name is immutable/ },
];

/** Every CEL rule (x-kubernetes-validations) in a CRD schema, with where it sits. */
export function collectRules(schema: CrdSchema, path = ""): Array<{ path: string; rule: NonNullable<CrdSchema["x-kubernetes-validations"]>[number] }> {
  const own = (schema["x-kubernetes-validations"] ?? []).map((rule) => ({ path: path || "(root)", rule }));
  const children = [
    ...Object.entries(schema.properties ?? {}).map(([k, s]) => collectRules(s, path ? `${path}.${k}` : k)),
    ...(schema.items ? [collectRules(schema.items, `${path}[]`)] : []),
  ];
  return [...own, ...children.flat()];
}
