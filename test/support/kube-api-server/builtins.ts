// The built-in resource types the operator uses, with the defaults, validation and
// table columns kube-apiserver gives them (only as far as the operator can notice).
import type { FieldError } from "./errors.js";
import { ageOf, deepEqual, getPath, isObject } from "./objects.js";
import type { KubeObject } from "./objects.js";
import type { BuiltinColumn, ResourceType } from "./resources.js";

const STANDARD_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

function builtin(partial: Partial<ResourceType> & Pick<ResourceType, "group" | "version" | "kind" | "plural" | "namespaced">): ResourceType {
  return {
    listKind: `${partial.kind}List`,
    singular: partial.kind.toLowerCase(),
    shortNames: [],
    categories: [],
    verbs: STANDARD_VERBS,
    statusSubresource: false,
    custom: false,
    generation: false,
    storageKey: `${partial.group}/${partial.plural}`,
    ...partial,
  };
}

const age: BuiltinColumn = {
  name: "Age",
  type: "string",
  description: "CreationTimestamp is a timestamp representing the server time when this object was created.",
  cell: (obj) => ageOf(obj.metadata.creationTimestamp),
};

function count(value: unknown): number {
  return isObject(value) ? Object.keys(value).length : 0;
}

function number(value: unknown): number {
  return typeof value === "number" ? value : 0;
}

/** Go's defaulting for the parts of a Deployment a controller compares against. */
function defaultDeployment(obj: KubeObject): void {
  const spec = (isObject(obj["spec"]) ? obj["spec"] : (obj["spec"] = {})) as Record<string, unknown>;
  spec["replicas"] ??= 1;
  spec["revisionHistoryLimit"] ??= 10;
  spec["progressDeadlineSeconds"] ??= 600;
  const strategy = (isObject(spec["strategy"]) ? spec["strategy"] : (spec["strategy"] = {})) as Record<string, unknown>;
  strategy["type"] ??= "RollingUpdate";
  if (strategy["type"] === "RollingUpdate") {
    const rolling = (isObject(strategy["rollingUpdate"]) ? strategy["rollingUpdate"] : (strategy["rollingUpdate"] = {})) as Record<string, unknown>;
    rolling["maxUnavailable"] ??= "25%";
    rolling["maxSurge"] ??= "25%";
  }
  const template = isObject(spec["template"]) ? spec["template"] : undefined;
  const podSpec = template && isObject(template["spec"]) ? template["spec"] : undefined;
  if (podSpec) defaultPodSpec(podSpec);
}

function defaultPodSpec(podSpec: Record<string, unknown>): void {
  podSpec["restartPolicy"] ??= "Always";
  podSpec["terminationGracePeriodSeconds"] ??= 30;
  podSpec["dnsPolicy"] ??= "ClusterFirst";
  podSpec["securityContext"] ??= {};
  podSpec["schedulerName"] ??= "default-scheduler";
  for (const field of ["containers", "initContainers"]) {
    const containers = podSpec[field];
    if (!Array.isArray(containers)) continue;
    for (const container of containers) {
      if (!isObject(container)) continue;
      container["terminationMessagePath"] ??= "/dev/termination-log";
      container["terminationMessagePolicy"] ??= "File";
      const image = typeof container["image"] === "string" ? container["image"] : "";
      const tagged = /:[^/]+$/.test(image) && !image.endsWith(":latest");
      container["imagePullPolicy"] ??= tagged || image.includes("@") ? "IfNotPresent" : "Always";
      container["resources"] ??= {};
      if (Array.isArray(container["ports"])) {
        for (const port of container["ports"]) if (isObject(port)) port["protocol"] ??= "TCP";
      }
    }
  }
}

function selectorMatchesTemplate(obj: KubeObject): boolean {
  const matchLabels = getPath(obj, "spec.selector.matchLabels");
  const labels = getPath(obj, "spec.template.metadata.labels");
  if (!isObject(matchLabels)) return true;
  return Object.entries(matchLabels).every(([k, v]) => isObject(labels) && labels[k] === v);
}

function validateDeployment(obj: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errors: FieldError[] = [];
  const selector = getPath(obj, "spec.selector");
  if (!isObject(selector)) {
    errors.push({ field: "spec.selector", reason: "FieldValueRequired", message: "Required value" });
  } else if (!selectorMatchesTemplate(obj)) {
    errors.push({
      field: "spec.template.metadata.labels",
      reason: "FieldValueInvalid",
      message: `Invalid value: ${JSON.stringify(getPath(obj, "spec.template.metadata.labels") ?? {})}: \`selector\` does not match template \`labels\``,
    });
  }
  const containers = getPath(obj, "spec.template.spec.containers");
  if (!Array.isArray(containers) || containers.length === 0) {
    errors.push({ field: "spec.template.spec.containers", reason: "FieldValueRequired", message: "Required value" });
  } else {
    containers.forEach((c, i) => {
      if (!isObject(c) || typeof c["name"] !== "string" || c["name"] === "") {
        errors.push({ field: `spec.template.spec.containers[${i}].name`, reason: "FieldValueRequired", message: "Required value" });
      }
      if (!isObject(c) || typeof c["image"] !== "string" || c["image"] === "") {
        errors.push({ field: `spec.template.spec.containers[${i}].image`, reason: "FieldValueRequired", message: "Required value" });
      }
    });
  }
  const replicas = getPath(obj, "spec.replicas");
  if (typeof replicas === "number" && replicas < 0) {
    errors.push({ field: "spec.replicas", reason: "FieldValueInvalid", message: `Invalid value: ${replicas}: must be greater than or equal to 0` });
  }
  if (old && !deepEqual(getPath(old, "spec.selector"), selector)) {
    errors.push({
      field: "spec.selector",
      reason: "FieldValueInvalid",
      message: `Invalid value: ${JSON.stringify(selector)}: field is immutable`,
    });
  }
  return errors;
}

function validateHpa(obj: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  if (!isObject(getPath(obj, "spec.scaleTargetRef"))) {
    errors.push({ field: "spec.scaleTargetRef", reason: "FieldValueRequired", message: "Required value" });
  }
  const max = getPath(obj, "spec.maxReplicas");
  if (typeof max !== "number" || max < 1) {
    errors.push({ field: "spec.maxReplicas", reason: "FieldValueInvalid", message: `Invalid value: ${String(max ?? 0)}: must be greater than or equal to 1` });
  }
  return errors;
}

function validateEventsV1(obj: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  for (const field of ["eventTime", "reportingController", "reportingInstance", "action", "reason"]) {
    if (!obj[field]) errors.push({ field, reason: "FieldValueRequired", message: "Required value" });
  }
  const type = obj["type"];
  if (type !== "Normal" && type !== "Warning") {
    errors.push({ field: "type", reason: "FieldValueNotSupported", message: `Unsupported value: ${JSON.stringify(type ?? "")}: supported values: "Normal", "Warning"` });
  }
  const note = obj["note"];
  if (typeof note === "string" && note.length > 1024) {
    errors.push({ field: "note", reason: "FieldValueTooLong", message: "Too long: may not be more than 1024 bytes" });
  }
  return errors;
}

/** events.k8s.io/v1 field <-> core/v1 Event field; both share one storage. */
const EVENT_FIELDS: [string, string][] = [
  ["regarding", "involvedObject"],
  ["related", "related"],
  ["note", "message"],
  ["reason", "reason"],
  ["type", "type"],
  ["action", "action"],
  ["reportingController", "reportingComponent"],
  ["reportingInstance", "reportingInstance"],
  ["eventTime", "eventTime"],
  ["series", "series"],
  ["deprecatedSource", "source"],
  ["deprecatedFirstTimestamp", "firstTimestamp"],
  ["deprecatedLastTimestamp", "lastTimestamp"],
  ["deprecatedCount", "count"],
];

function eventToV1(stored: KubeObject): KubeObject {
  const out: KubeObject = { apiVersion: "events.k8s.io/v1", kind: "Event", metadata: stored.metadata };
  for (const [wire, core] of EVENT_FIELDS) if (stored[core] !== undefined) out[wire] = stored[core];
  return out;
}

function eventFromV1(wire: KubeObject): KubeObject {
  const out: KubeObject = { apiVersion: "v1", kind: "Event", metadata: wire.metadata };
  for (const [field, core] of EVENT_FIELDS) if (wire[field] !== undefined) out[core] = wire[field];
  return out;
}

function involved(obj: KubeObject, field: string): string | undefined {
  const ref = obj["involvedObject"];
  return isObject(ref) && ref[field] !== undefined ? String(ref[field]) : undefined;
}

/** `kubectl get events` columns, the same for core/v1 and events.k8s.io/v1 (one storage). */
const eventColumns: BuiltinColumn[] = [
  { name: "Last Seen", type: "string", cell: (o) => ageOf(o["lastTimestamp"] ?? o["eventTime"] ?? o.metadata.creationTimestamp) },
  { name: "Type", type: "string", cell: (o) => String(o["type"] ?? "") },
  { name: "Reason", type: "string", cell: (o) => String(o["reason"] ?? "") },
  { name: "Object", type: "string", cell: (o) => `${(involved(o, "kind") ?? "").toLowerCase()}/${involved(o, "name") ?? ""}` },
  { name: "Message", type: "string", cell: (o) => String(o["message"] ?? "") },
];

const eventFieldLabels: Record<string, (obj: KubeObject) => string | undefined> = {
  "involvedObject.kind": (o) => involved(o, "kind"),
  "involvedObject.namespace": (o) => involved(o, "namespace"),
  "involvedObject.name": (o) => involved(o, "name"),
  "involvedObject.uid": (o) => involved(o, "uid"),
  "involvedObject.apiVersion": (o) => involved(o, "apiVersion"),
  "involvedObject.resourceVersion": (o) => involved(o, "resourceVersion"),
  "involvedObject.fieldPath": (o) => involved(o, "fieldPath"),
  reason: (o) => (o["reason"] as string | undefined) ?? "",
  reportingComponent: (o) => (o["reportingComponent"] as string | undefined) ?? "",
  type: (o) => (o["type"] as string | undefined) ?? "",
  "source": (o) => (isObject(o["source"]) ? String(o["source"]["component"] ?? "") : ""),
};

const eventsV1FieldLabels: Record<string, (obj: KubeObject) => string | undefined> = {
  "regarding.kind": (o) => involved(o, "kind"),
  "regarding.namespace": (o) => involved(o, "namespace"),
  "regarding.name": (o) => involved(o, "name"),
  "regarding.uid": (o) => involved(o, "uid"),
  reason: (o) => (o["reason"] as string | undefined) ?? "",
  reportingController: (o) => (o["reportingComponent"] as string | undefined) ?? "",
  type: (o) => (o["type"] as string | undefined) ?? "",
};

function podTemplateContainers(obj: KubeObject, field: "name" | "image"): string {
  const containers = getPath(obj, "spec.template.spec.containers");
  return Array.isArray(containers) ? containers.map((c) => (isObject(c) ? String(c[field] ?? "") : "")).join(",") : "";
}

function formatSelector(selector: unknown): string {
  if (!isObject(selector)) return "<none>";
  const parts: string[] = [];
  const matchLabels = selector["matchLabels"];
  if (isObject(matchLabels)) for (const [k, v] of Object.entries(matchLabels)) parts.push(`${k}=${String(v)}`);
  const expressions = selector["matchExpressions"];
  if (Array.isArray(expressions)) {
    for (const e of expressions) {
      if (!isObject(e)) continue;
      const values = Array.isArray(e["values"]) ? e["values"].join(",") : "";
      const op = String(e["operator"] ?? "");
      if (op === "Exists") parts.push(String(e["key"]));
      else if (op === "DoesNotExist") parts.push(`!${String(e["key"])}`);
      else parts.push(`${String(e["key"])} ${op.toLowerCase()} (${values})`);
    }
  }
  return parts.length > 0 ? parts.join(",") : "<none>";
}

export { formatSelector };

export function builtinResourceTypes(): ResourceType[] {
  return [
    builtin({
      group: "",
      version: "v1",
      kind: "Namespace",
      plural: "namespaces",
      namespaced: false,
      shortNames: ["ns"],
      statusSubresource: true,
      verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
      fieldLabels: { "status.phase": (o) => String(getPath(o, "status.phase") ?? "") },
      applyDefaults: (obj) => {
        const spec = (isObject(obj["spec"]) ? obj["spec"] : (obj["spec"] = {})) as Record<string, unknown>;
        spec["finalizers"] ??= ["kubernetes"];
        const status = (isObject(obj["status"]) ? obj["status"] : (obj["status"] = {})) as Record<string, unknown>;
        status["phase"] ??= "Active";
        obj.metadata.labels = { ...obj.metadata.labels, "kubernetes.io/metadata.name": obj.metadata.name ?? "" };
      },
      builtinColumns: [
        { name: "Status", type: "string", description: "The status of the namespace", cell: (o) => String(getPath(o, "status.phase") ?? "") },
        age,
      ],
    }),
    builtin({
      group: "",
      version: "v1",
      kind: "Secret",
      plural: "secrets",
      namespaced: true,
      fieldLabels: { type: (o) => String(o["type"] ?? "") },
      applyDefaults: (obj) => {
        obj["type"] ??= "Opaque";
        // stringData is write-only: the apiserver folds it into data (base64), winning over data.
        const stringData = obj["stringData"];
        if (isObject(stringData)) {
          const data = (isObject(obj["data"]) ? obj["data"] : {}) as Record<string, unknown>;
          for (const [key, value] of Object.entries(stringData)) data[key] = Buffer.from(String(value), "utf8").toString("base64");
          obj["data"] = data;
        }
        delete obj["stringData"];
      },
      validate: (obj) => {
        const errors: FieldError[] = [];
        for (const field of ["data"]) {
          const data = obj[field];
          if (isObject(data)) {
            for (const [key, value] of Object.entries(data)) {
              if (typeof value !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
                errors.push({ field: `data[${key}]`, reason: "FieldValueInvalid", message: `Invalid value: "<secret contents redacted>": illegal base64 data` });
              }
            }
          }
        }
        return errors;
      },
      builtinColumns: [
        { name: "Type", type: "string", description: "The type of the secret", cell: (o) => String(o["type"] ?? "") },
        { name: "Data", type: "string", description: "The number of items in the secret", cell: (o) => count(o["data"]) },
        age,
      ],
    }),
    builtin({
      group: "",
      version: "v1",
      kind: "ConfigMap",
      plural: "configmaps",
      namespaced: true,
      shortNames: ["cm"],
      builtinColumns: [{ name: "Data", type: "string", cell: (o) => count(o["data"]) + count(o["binaryData"]) }, age],
    }),
    builtin({
      group: "",
      version: "v1",
      kind: "Event",
      plural: "events",
      namespaced: true,
      shortNames: ["ev"],
      storageKey: "events",
      fieldLabels: eventFieldLabels,
      omitNameColumn: true,
      builtinColumns: eventColumns,
    }),
    builtin({
      group: "events.k8s.io",
      version: "v1",
      kind: "Event",
      plural: "events",
      namespaced: true,
      shortNames: ["ev"],
      storageKey: "events",
      fieldLabels: eventsV1FieldLabels,
      toWire: eventToV1,
      fromWire: eventFromV1,
      validate: (obj) => validateEventsV1(eventToV1(obj)),
      omitNameColumn: true,
      builtinColumns: eventColumns,
    }),
    builtin({
      group: "apps",
      version: "v1",
      kind: "Deployment",
      plural: "deployments",
      namespaced: true,
      shortNames: ["deploy"],
      categories: ["all"],
      statusSubresource: true,
      scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".spec.selector" },
      generation: true,
      applyDefaults: defaultDeployment,
      validate: validateDeployment,
      builtinColumns: [
        { name: "Ready", type: "string", description: "Number of the pod with ready state", cell: (o) => `${number(getPath(o, "status.readyReplicas"))}/${number(getPath(o, "spec.replicas"))}` },
        { name: "Up-to-date", type: "integer", description: "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", cell: (o) => number(getPath(o, "status.updatedReplicas")) },
        { name: "Available", type: "integer", description: "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", cell: (o) => number(getPath(o, "status.availableReplicas")) },
        age,
        { name: "Containers", type: "string", priority: 1, description: "Names of each container in the template.", cell: (o) => podTemplateContainers(o, "name") },
        { name: "Images", type: "string", priority: 1, description: "Images referenced by each container in the template.", cell: (o) => podTemplateContainers(o, "image") },
        { name: "Selector", type: "string", priority: 1, description: "Label selector for pods.", cell: (o) => formatSelector(getPath(o, "spec.selector")) },
      ],
    }),
    builtin({
      group: "autoscaling",
      version: "v2",
      kind: "HorizontalPodAutoscaler",
      plural: "horizontalpodautoscalers",
      namespaced: true,
      shortNames: ["hpa"],
      categories: ["all"],
      statusSubresource: true,
      generation: true,
      applyDefaults: (obj) => {
        const spec = obj["spec"];
        if (isObject(spec)) spec["minReplicas"] ??= 1;
      },
      validate: validateHpa,
      builtinColumns: [
        { name: "Reference", type: "string", cell: (o) => `${String(getPath(o, "spec.scaleTargetRef.kind") ?? "")}/${String(getPath(o, "spec.scaleTargetRef.name") ?? "")}` },
        { name: "Targets", type: "string", cell: () => "<unknown>" },
        { name: "MinPods", type: "string", cell: (o) => number(getPath(o, "spec.minReplicas")) },
        { name: "MaxPods", type: "integer", cell: (o) => number(getPath(o, "spec.maxReplicas")) },
        { name: "Replicas", type: "integer", cell: (o) => number(getPath(o, "status.currentReplicas")) },
        age,
      ],
    }),
    builtin({
      group: "coordination.k8s.io",
      version: "v1",
      kind: "Lease",
      plural: "leases",
      namespaced: true,
      builtinColumns: [{ name: "Holder", type: "string", cell: (o) => String(getPath(o, "spec.holderIdentity") ?? "") }, age],
    }),
    // Kinds the chart installs; stored as they come, without behaviour of their own.
    builtin({
      group: "",
      version: "v1",
      kind: "ServiceAccount",
      plural: "serviceaccounts",
      namespaced: true,
      shortNames: ["sa"],
      builtinColumns: [{ name: "Secrets", type: "integer", cell: (o) => (Array.isArray(o["secrets"]) ? o["secrets"].length : 0) }, age],
    }),
    builtin({
      group: "",
      version: "v1",
      kind: "Service",
      plural: "services",
      namespaced: true,
      shortNames: ["svc"],
      categories: ["all"],
      statusSubresource: true,
      applyDefaults: (obj) => {
        const spec = obj["spec"];
        if (!isObject(spec)) return;
        spec["type"] ??= "ClusterIP";
        spec["sessionAffinity"] ??= "None";
        if (Array.isArray(spec["ports"])) {
          for (const port of spec["ports"]) {
            if (!isObject(port)) continue;
            port["protocol"] ??= "TCP";
            port["targetPort"] ??= port["port"] ?? 0;
          }
        }
      },
      builtinColumns: [
        { name: "Type", type: "string", cell: (o) => String(getPath(o, "spec.type") ?? "") },
        { name: "Cluster-IP", type: "string", cell: (o) => String(getPath(o, "spec.clusterIP") ?? "<none>") },
        age,
      ],
    }),
    ...["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"].map((kind) =>
      builtin({
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind,
        plural: `${kind.toLowerCase()}s`,
        namespaced: !kind.startsWith("Cluster"),
        builtinColumns: kind.endsWith("Binding")
          ? [{ name: "Role", type: "string", cell: (o: KubeObject) => `${String(getPath(o, "roleRef.kind") ?? "")}/${String(getPath(o, "roleRef.name") ?? "")}` }, age]
          : [{ name: "Created At", type: "date", cell: (o: KubeObject) => o.metadata.creationTimestamp ?? "" }],
      }),
    ),
    builtin({
      group: "networking.k8s.io",
      version: "v1",
      kind: "NetworkPolicy",
      plural: "networkpolicies",
      namespaced: true,
      shortNames: ["netpol"],
      generation: true,
    }),
    builtin({
      group: "policy",
      version: "v1",
      kind: "PodDisruptionBudget",
      plural: "poddisruptionbudgets",
      namespaced: true,
      shortNames: ["pdb"],
      statusSubresource: true,
      generation: true,
    }),
    builtin({
      group: "apiextensions.k8s.io",
      version: "v1",
      kind: "CustomResourceDefinition",
      plural: "customresourcedefinitions",
      namespaced: false,
      shortNames: ["crd", "crds"],
      categories: ["api-extensions"],
      statusSubresource: true,
      generation: true,
      builtinColumns: [{ name: "Created At", type: "date", cell: (o) => o.metadata.creationTimestamp ?? "" }],
    }),
  ];
}
