// OpenAPI v3: the root index and one document per group version. kubectl apply reads
// it to decide that the server does field validation (the fieldValidation parameter on
// each PATCH operation) and, for custom resources, sees the CRD's schema. Built-ins do
// not advertise strategic-merge-patch here, so kubectl computes their apply patch from
// its compiled-in types (what it does when OpenAPI lacks patch metadata), which yields
// the same strategic merge patch the real schema would.
import { createHash } from "node:crypto";
import { clone } from "./objects.js";

import type { ResourceRegistry, ResourceType } from "./resources.js";
import type { JsonSchema } from "./schema.js";

const OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const PATCH = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";

function gvPath(group: string, version: string): string {
  return group === "" ? `api/${version}` : `apis/${group}/${version}`;
}

/** Component names the way Kubernetes names them. */
function schemaName(rt: ResourceType): string {
  if (rt.custom) return `${rt.group.split(".").reverse().join(".")}.${rt.version}.${rt.kind}`;
  const group = rt.group === "" ? "core" : rt.group.replace(/\.k8s\.io$/, "");
  if (rt.kind === "CustomResourceDefinition") return `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.${rt.kind}`;
  return `io.k8s.api.${group}.${rt.version}.${rt.kind}`;
}

function ref(name: string): Record<string, unknown> {
  return { $ref: `#/components/schemas/${name}` };
}

function gvk(rt: ResourceType): Record<string, string> {
  return { group: rt.group, version: rt.version, kind: rt.kind };
}

function query(name: string, description: string, type = "string"): Record<string, unknown> {
  return { name, in: "query", description, schema: { type, uniqueItems: true } };
}

const WRITE_PARAMS = [
  query("dryRun", "When present, indicates that modifications should not be persisted."),
  query("fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes."),
  query("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, Warn (default), Strict."),
];

function json(schemaRef: Record<string, unknown>): Record<string, unknown> {
  return { "application/json": { schema: schemaRef }, "application/yaml": { schema: schemaRef } };
}

function operation(rt: ResourceType, action: string, operationId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    operationId,
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": gvk(rt),
    responses: { "200": { description: "OK", content: json(ref(schemaName(rt))) }, "401": { description: "Unauthorized" } },
    ...extra,
  };
}

function patchOperation(rt: ResourceType, operationId: string, target: ResourceType | "Scale"): Record<string, unknown> {
  const patchTypes = ["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"];
  const content: Record<string, unknown> = {};
  for (const type of patchTypes) content[type] = { schema: ref(PATCH) };
  const responseSchema = target === "Scale" ? ref("io.k8s.api.autoscaling.v1.Scale") : ref(schemaName(target));
  return {
    operationId,
    "x-kubernetes-action": "patch",
    "x-kubernetes-group-version-kind": target === "Scale" ? { group: "autoscaling", version: "v1", kind: "Scale" } : gvk(rt),
    parameters: [...WRITE_PARAMS, query("force", "Force is going to \"force\" Apply requests.", "boolean")],
    requestBody: { content, required: true },
    responses: { "200": { description: "OK", content: json(responseSchema) }, "201": { description: "Created", content: json(responseSchema) } },
  };
}

function pathsFor(rt: ResourceType): Record<string, unknown> {
  const prefix = `/${gvPath(rt.group, rt.version)}`;
  const base = rt.namespaced ? `${prefix}/namespaces/{namespace}/${rt.plural}` : `${prefix}/${rt.plural}`;
  const id = `${rt.kind}${rt.group.replace(/[^a-z0-9]/gi, "")}${rt.version}`;
  const paths: Record<string, unknown> = {
    [base]: {
      get: operation(rt, "list", `list${id}`, {
        parameters: [query("labelSelector", "A selector to restrict the list of returned objects by their labels."), query("fieldSelector", "A selector to restrict the list of returned objects by their fields."), query("watch", "Watch for changes.", "boolean")],
        responses: { "200": { description: "OK", content: json(ref(`${schemaName(rt)}List`)) } },
      }),
      post: operation(rt, "post", `create${id}`, { parameters: WRITE_PARAMS, requestBody: { content: json(ref(schemaName(rt))), required: true } }),
      delete: operation(rt, "deletecollection", `deletecollection${id}`, { responses: { "200": { description: "OK", content: json(ref(STATUS)) } } }),
    },
    [`${base}/{name}`]: {
      get: operation(rt, "get", `read${id}`),
      put: operation(rt, "put", `replace${id}`, { parameters: WRITE_PARAMS, requestBody: { content: json(ref(schemaName(rt))), required: true } }),
      patch: patchOperation(rt, `patch${id}`, rt),
      delete: operation(rt, "delete", `delete${id}`, { requestBody: { content: json(ref(DELETE_OPTIONS)) } }),
    },
  };
  if (rt.statusSubresource) {
    paths[`${base}/{name}/status`] = {
      get: operation(rt, "get", `read${id}Status`),
      put: operation(rt, "put", `replace${id}Status`, { parameters: WRITE_PARAMS, requestBody: { content: json(ref(schemaName(rt))), required: true } }),
      patch: patchOperation(rt, `patch${id}Status`, rt),
    };
  }
  if (rt.scale) {
    paths[`${base}/{name}/scale`] = {
      get: { ...operation(rt, "get", `read${id}Scale`), "x-kubernetes-group-version-kind": { group: "autoscaling", version: "v1", kind: "Scale" } },
      patch: patchOperation(rt, `patch${id}Scale`, "Scale"),
    };
  }
  return paths;
}

function objectSchema(rt: ResourceType): JsonSchema {
  const gvkExtension = [gvk(rt)];
  if (rt.custom && rt.schema) {
    const schema = clone(rt.schema);
    schema.properties = {
      ...schema.properties,
      apiVersion: { type: "string", description: "APIVersion defines the versioned schema of this representation of an object." },
      kind: { type: "string", description: "Kind is a string value representing the REST resource this object represents." },
      metadata: { allOf: [ref(OBJECT_META) as JsonSchema], description: "Standard object's metadata." },
    };
    return { ...schema, "x-kubernetes-group-version-kind": gvkExtension };
  }
  return {
    type: "object",
    description: `${rt.kind} (schema abbreviated by the test API server)`,
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { allOf: [ref(OBJECT_META) as JsonSchema], default: {} },
      spec: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
      status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
    },
    "x-kubernetes-preserve-unknown-fields": true,
    "x-kubernetes-group-version-kind": gvkExtension,
  };
}

const COMMON_SCHEMAS: Record<string, JsonSchema> = {
  [OBJECT_META]: {
    type: "object",
    properties: {
      name: { type: "string" },
      generateName: { type: "string" },
      namespace: { type: "string" },
      uid: { type: "string" },
      resourceVersion: { type: "string" },
      generation: { type: "integer", format: "int64" },
      creationTimestamp: { type: "string", format: "date-time" },
      deletionTimestamp: { type: "string", format: "date-time" },
      deletionGracePeriodSeconds: { type: "integer", format: "int64" },
      labels: { type: "object", additionalProperties: { type: "string", default: "" } },
      annotations: { type: "object", additionalProperties: { type: "string", default: "" } },
      finalizers: { type: "array", items: { type: "string", default: "" }, "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge" },
      ownerReferences: {
        type: "array",
        items: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["uid"],
        "x-kubernetes-patch-merge-key": "uid",
        "x-kubernetes-patch-strategy": "merge",
      },
      managedFields: { type: "array", items: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
    },
  },
  [LIST_META]: { type: "object", properties: { resourceVersion: { type: "string" }, continue: { type: "string" }, remainingItemCount: { type: "integer" } } },
  [STATUS]: { type: "object", properties: { code: { type: "integer" }, message: { type: "string" }, reason: { type: "string" }, status: { type: "string" } } },
  [PATCH]: { type: "object", description: "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body." },
  [DELETE_OPTIONS]: { type: "object", properties: { propagationPolicy: { type: "string" }, gracePeriodSeconds: { type: "integer" }, preconditions: { type: "object" } } },
  "io.k8s.api.autoscaling.v1.Scale": {
    type: "object",
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { allOf: [ref(OBJECT_META) as JsonSchema] },
      spec: { type: "object", properties: { replicas: { type: "integer", format: "int32" } } },
      status: { type: "object", properties: { replicas: { type: "integer", format: "int32" }, selector: { type: "string" } } },
    },
    "x-kubernetes-group-version-kind": [{ group: "autoscaling", version: "v1", kind: "Scale" }],
  },
};

export function groupVersionDocument(registry: ResourceRegistry, group: string, version: string): Record<string, unknown> | undefined {
  const types = registry.inGroupVersion(group, version);
  if (types.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = { ...COMMON_SCHEMAS };
  for (const rt of types) {
    Object.assign(paths, pathsFor(rt));
    schemas[schemaName(rt)] = objectSchema(rt);
    schemas[`${schemaName(rt)}List`] = {
      type: "object",
      required: ["items"],
      properties: {
        apiVersion: { type: "string" },
        kind: { type: "string" },
        metadata: { allOf: [ref(LIST_META)] },
        items: { type: "array", items: ref(schemaName(rt)) },
      },
      "x-kubernetes-group-version-kind": [{ group: rt.group, version: rt.version, kind: rt.listKind }],
    };
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: "v1.33.0" },
    paths,
    components: { schemas, securitySchemes: { BearerToken: { type: "apiKey", name: "authorization", in: "header" } } },
  };
}

/** The /openapi/v3 index; hashes change when a group version's document changes. */
export function openApiIndex(registry: ResourceRegistry): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const [group, versions] of registry.groups()) {
    for (const version of versions) {
      const doc = groupVersionDocument(registry, group, version);
      const hash = createHash("sha512").update(JSON.stringify(doc)).digest("hex").toUpperCase().slice(0, 128);
      const path = gvPath(group, version);
      paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hash}` };
    }
  }
  return { paths };
}

