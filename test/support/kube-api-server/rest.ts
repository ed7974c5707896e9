// The REST semantics shared by every resource: create, get, list, update, patch,
// delete, with resourceVersion, generation, status/scale subresources, finalizers,
// admission (defaults, validation) and managedFields. http.ts parses requests into
// these calls; the controllers (gc, namespaces, deployments) use them too.
import { randomUUID } from "node:crypto";
import { parse as parseYaml } from "yaml";
import { builtinListKeys, recordUpdate, schemaListKeys, serverSideApply } from "./apply.js";
import type { ListKeys } from "./apply.js";
import { formatSelector } from "./builtins.js";
import { defaultCrd, establishedStatus, resourceTypesForCrd, validateCrd } from "./crd.js";
import {
  ApiError,
  STALE_OBJECT_MESSAGE,
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  invalid,
  notFound,
  unsupportedMediaType,
} from "./errors.js";
import type { FieldError } from "./errors.js";
import { clone, deepEqual, getPath, isObject, nowTimestamp, setPath } from "./objects.js";
import type { KubeObject } from "./objects.js";
import { APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, jsonPatch, mergePatch, strategicMergePatch } from "./patch.js";
import { apiVersionOf, groupResource } from "./resources.js";
import type { ResourceRegistry, ResourceType } from "./resources.js";
import { CEL_SKIPPED_ERROR, applyDefaults, hasBlockingError, prune, validate, validateCel } from "./schema.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import type { ObjectStore } from "./store.js";

export interface Target {
  rt: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export interface WriteOptions {
  /** metav1.CreateOptions / UpdateOptions / PatchOptions as query parameters. */
  query: URLSearchParams;
  /** Used as the field manager when fieldManager is not given. */
  userAgent?: string;
}

export interface Result {
  status: number;
  body: unknown;
  warnings: string[];
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789";

function randomSuffix(): string {
  let out = "";
  for (let i = 0; i < 5; i++) out += GENERATE_CHARS[Math.floor(Math.random() * GENERATE_CHARS.length)];
  return out;
}

function nameErrors(rt: ResourceType, name: string): FieldError[] {
  if (rt.kind === "Namespace") {
    if (!DNS_LABEL.test(name) || name.length > 63) {
      return [{
        field: "metadata.name",
        reason: "FieldValueInvalid",
        message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
      }];
    }
    return [];
  }
  if (!DNS_SUBDOMAIN.test(name) || name.length > 253) {
    return [{
      field: "metadata.name",
      reason: "FieldValueInvalid",
      message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    }];
  }
  return [];
}

function labelErrors(obj: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(obj.metadata.labels ?? {})) {
    if (typeof value !== "string" || value.length > 63 || !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(value)) {
      errors.push({
        field: `metadata.labels`,
        reason: "FieldValueInvalid",
        message: `Invalid value: ${JSON.stringify(value)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
      });
    }
    if (key.length === 0) errors.push({ field: "metadata.labels", reason: "FieldValueInvalid", message: `Invalid value: "": name part must be non-empty` });
  }
  return errors;
}

function contentTypeOf(header: string | undefined): string {
  return (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

export function parseBody(raw: string, contentType?: string): unknown {
  const type = contentTypeOf(contentType);
  try {
    if (type === APPLY_PATCH || type === "application/yaml") return parseYaml(raw);
    return raw.trim() === "" ? undefined : JSON.parse(raw);
  } catch (err) {
    throw badRequest(`error decoding request body: ${(err as Error).message}`);
  }
}

export type GcHook = () => void;

export class RestApi {
  /** Called after anything that may leave dependents without owners. */
  onDeletion: GcHook = () => {};

  constructor(
    readonly registry: ResourceRegistry,
    readonly store: ObjectStore,
  ) {}

  // ---- wire form ---------------------------------------------------------------

  toWire(rt: ResourceType, stored: KubeObject): KubeObject {
    const source = rt.toWire ? rt.toWire(stored) : stored;
    const { apiVersion: _a, kind: _k, metadata, ...rest } = source;
    return { apiVersion: apiVersionOf(rt), kind: rt.kind, metadata: clone(metadata), ...clone(rest) };
  }

  private fromWire(rt: ResourceType, body: unknown): KubeObject {
    if (!isObject(body)) throw badRequest("the body of the request is not a JSON object");
    if (body["apiVersion"] !== undefined && body["apiVersion"] !== apiVersionOf(rt)) {
      throw badRequest(`the API version in the data (${String(body["apiVersion"])}) does not match the expected API version (${apiVersionOf(rt)})`);
    }
    if (body["kind"] !== undefined && body["kind"] !== rt.kind) {
      throw badRequest(`the kind in the data (${String(body["kind"])}) does not match the expected kind (${rt.kind})`);
    }
    const wire = clone(body) as KubeObject;
    if (!isObject(wire.metadata)) wire.metadata = {};
    wire.apiVersion = apiVersionOf(rt);
    wire.kind = rt.kind;
    return rt.fromWire ? rt.fromWire(wire) : wire;
  }

  /** Any served type for a storage key (controllers act through it). */
  typeFor(storageKey: string): ResourceType | undefined {
    return this.registry.byStorageKey(storageKey)[0];
  }

  private listKeys(rt: ResourceType): ListKeys {
    return rt.custom ? schemaListKeys(rt.schema) : builtinListKeys;
  }

  private manager(opts: WriteOptions): string {
    const given = opts.query.get("fieldManager");
    if (given) return given;
    return (opts.userAgent ?? "unknown").split("/")[0] || "unknown";
  }

  // ---- admission -----------------------------------------------------------------

  /** Defaults, prunes and validates; returns warnings, throws 400/422. */
  private admit(rt: ResourceType, obj: KubeObject, old: KubeObject | undefined, opts: WriteOptions): string[] {
    const warnings: string[] = [];
    const errors: FieldError[] = [];
    const name = obj.metadata.name ?? "";
    if (rt.custom && rt.schema) {
      const unknown = prune(obj, rt.schema);
      const mode = opts.query.get("fieldValidation") ?? "Warn";
      if (unknown.length > 0 && mode === "Strict") {
        throw badRequest(
          `${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(", ")}`,
        );
      }
      if (mode === "Warn") warnings.push(...unknown.map((f) => `unknown field "${f}"`));
      applyDefaults(obj, rt.schema);
      validate(obj, rt.schema, "", errors);
      if (hasBlockingError(errors)) errors.push(CEL_SKIPPED_ERROR);
      else validateCel(obj, rt.schema, "", old, errors);
    } else {
      if (rt.kind === "CustomResourceDefinition") {
        defaultCrd(obj);
        errors.push(...validateCrd(obj, old));
      }
      rt.applyDefaults?.(obj);
      errors.push(...(rt.validate?.(obj, old) ?? []));
    }
    errors.unshift(...labelErrors(obj));
    if (errors.length > 0) throw invalid(rt.kind, rt.group, name, errors);
    return warnings;
  }

  private ensureNamespaceAccepts(rt: ResourceType, namespace: string | undefined, name: string): void {
    if (!rt.namespaced || namespace === undefined) return;
    const nsType = this.typeFor("/namespaces");
    const ns = this.store.get("/namespaces", undefined, namespace);
    if (!ns || !nsType) throw notFound({ group: "", plural: "namespaces" }, namespace);
    if (ns.metadata.deletionTimestamp) {
      throw forbidden(groupResource(rt), name, `unable to create new content in namespace ${namespace} because it is being terminated`);
    }
  }

  // ---- read ----------------------------------------------------------------------

  getStored(t: Target): KubeObject {
    const obj = this.store.get(t.rt.storageKey, t.rt.namespaced ? t.namespace : undefined, t.name ?? "");
    if (!obj) throw notFound(groupResource(t.rt), t.name ?? "");
    return obj;
  }

  get(t: Target): KubeObject {
    const obj = this.getStored(t);
    if (t.subresource === "scale") return this.scaleOf(t.rt, obj) as KubeObject;
    return this.toWire(t.rt, obj);
  }

  /** Stored objects matching a list request's namespace and selectors. */
  select(t: Target, query: URLSearchParams): KubeObject[] {
    const labels = parseLabelSelector(query.get("labelSelector"));
    const fields = parseFieldSelector(query.get("fieldSelector"), t.rt.fieldLabels);
    return this.store
      .list(t.rt.storageKey, t.rt.namespaced ? t.namespace : undefined)
      .filter((obj) => labels(obj.metadata.labels) && fields(obj));
  }

  list(t: Target, query: URLSearchParams): { items: KubeObject[]; metadata: Record<string, unknown> } {
    const rv = query.get("resourceVersion");
    const match = query.get("resourceVersionMatch");
    const current = this.store.currentRv();
    if (rv && match === "Exact" && Number(rv) !== current) this.store.assertNotCompacted(Number(rv));
    let items = this.select(t, query);
    const continueToken = query.get("continue");
    let listRv = current;
    if (continueToken) {
      let decoded: { rv: number; start: string };
      try {
        decoded = JSON.parse(Buffer.from(continueToken, "base64").toString("utf8")) as { rv: number; start: string };
      } catch {
        throw badRequest("continue key is not valid: illegal base64 data");
      }
      if (decoded.rv < this.store.compactedRv) {
        throw new ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.");
      }
      listRv = decoded.rv;
      items = items.filter((o) => `${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}` > decoded.start);
    }
    const metadata: Record<string, unknown> = { resourceVersion: String(listRv) };
    const limit = Number(query.get("limit") ?? 0);
    if (limit > 0 && items.length > limit) {
      const last = items[limit - 1] as KubeObject;
      const start = `${last.metadata.namespace ?? ""}/${last.metadata.name ?? ""}`;
      metadata["continue"] = Buffer.from(JSON.stringify({ rv: listRv, start })).toString("base64");
      metadata["remainingItemCount"] = items.length - limit;
      items = items.slice(0, limit);
    }
    return { items: items.map((o) => this.toWire(t.rt, o)), metadata };
  }

  listBody(t: Target, query: URLSearchParams): Record<string, unknown> {
    const { items, metadata } = this.list(t, query);
    // Lists of built-ins carry their items without apiVersion/kind, like the real server.
    const shaped = t.rt.custom ? items : items.map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
    return { kind: t.rt.listKind, apiVersion: apiVersionOf(t.rt), metadata, items: shaped };
  }

  // ---- create --------------------------------------------------------------------

  create(t: Target, body: unknown, opts: WriteOptions, applyManager?: string): Result {
    const { rt } = t;
    if (t.subresource) throw new ApiError(405, "MethodNotAllowed", `the server does not allow this method on the requested resource`);
    const obj = this.fromWire(rt, body);
    const meta = obj.metadata;
    if (rt.namespaced) {
      if (meta.namespace && t.namespace && meta.namespace !== t.namespace) {
        throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
      }
      meta.namespace = t.namespace ?? meta.namespace;
      if (!meta.namespace) throw badRequest("the server could not find the requested resource: a namespace is required");
    } else {
      delete meta.namespace;
    }
    if (meta.resourceVersion) throw badRequest("resourceVersion should not be set on objects to be created");
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`;
    if (!meta.name) {
      throw invalid(rt.kind, rt.group, "", [{ field: "metadata.name", reason: "FieldValueRequired", message: "Required value: name or generateName is required" }]);
    }
    const nameErrs = nameErrors(rt, meta.name);
    if (nameErrs.length > 0) throw invalid(rt.kind, rt.group, meta.name, nameErrs);
    this.ensureNamespaceAccepts(rt, meta.namespace, meta.name);

    meta.uid = randomUUID();
    meta.creationTimestamp = nowTimestamp();
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.managedFields;
    if (rt.generation) meta.generation = 1;
    else delete meta.generation;
    if (rt.statusSubresource && rt.kind !== "Namespace") delete obj["status"];

    const warnings = this.admit(rt, obj, undefined, opts);
    if (rt.kind === "CustomResourceDefinition") obj["status"] = establishedStatus(obj);
    const manager = applyManager ?? this.manager(opts);
    if (applyManager) {
      const applied = serverSideApply({ ...obj, metadata: { ...obj.metadata, managedFields: [] } }, obj, manager, apiVersionOf(rt), true, this.listKeys(rt));
      obj.metadata.managedFields = applied.metadata.managedFields ?? [];
    } else {
      recordUpdate(undefined, obj, manager, apiVersionOf(rt), this.listKeys(rt));
    }
    if (this.store.get(rt.storageKey, meta.namespace, meta.name)) throw alreadyExists(groupResource(rt), meta.name);
    if (opts.query.get("dryRun") === "All") return { status: 201, body: this.toWire(rt, obj), warnings };
    const stored = this.store.create(rt.storageKey, obj);
    if (rt.kind === "CustomResourceDefinition") this.serveCrd(stored);
    return { status: 201, body: this.toWire(rt, stored), warnings };
  }

  // ---- update --------------------------------------------------------------------

  update(t: Target, body: unknown, opts: WriteOptions): Result {
    const old = this.getStored(t);
    if (t.subresource === "scale") return this.updateScale(t, old, body, opts);
    const incoming = this.fromWire(t.rt, body);
    return this.write(t, old, incoming, opts, undefined);
  }

  /** The common path of PUT and non-apply PATCH: everything after decoding. */
  private write(t: Target, old: KubeObject, incoming: KubeObject, opts: WriteOptions, applied: KubeObject | undefined): Result {
    const { rt } = t;
    const name = t.name ?? "";
    const meta = incoming.metadata;
    if (meta.name && meta.name !== name) {
      throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
    }
    if (rt.namespaced && meta.namespace && meta.namespace !== t.namespace) {
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    if (meta.resourceVersion && meta.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(groupResource(rt), name, STALE_OBJECT_MESSAGE);
    }
    if (meta.uid && meta.uid !== old.metadata.uid) {
      throw conflict(groupResource(rt), name, `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${old.metadata.uid ?? ""}`);
    }

    let next: KubeObject;
    if (t.subresource === "finalize") {
      // Namespaces only: the namespace controller's way to drop spec.finalizers.
      next = clone(old);
      setPath(next, "spec.finalizers", getPath(incoming, "spec.finalizers") ?? []);
    } else if (t.subresource === "status") {
      next = clone(old);
      if (incoming["status"] === undefined) delete next["status"];
      else next["status"] = incoming["status"];
      if (applied) next.metadata.managedFields = incoming.metadata.managedFields ?? [];
    } else {
      next = incoming;
      next.metadata = {
        ...incoming.metadata,
        name: old.metadata.name,
        uid: old.metadata.uid,
        creationTimestamp: old.metadata.creationTimestamp,
        resourceVersion: old.metadata.resourceVersion,
      };
      if (rt.namespaced) next.metadata.namespace = old.metadata.namespace;
      else delete next.metadata.namespace;
      const nextMeta = next.metadata as Record<string, unknown>;
      for (const field of ["deletionTimestamp", "deletionGracePeriodSeconds", "generation"]) {
        if (old.metadata[field] === undefined) delete nextMeta[field];
        else nextMeta[field] = old.metadata[field];
      }
      if (rt.statusSubresource) {
        if (old["status"] === undefined) delete next["status"];
        else next["status"] = old["status"];
      }
    }
    if (!applied) delete next.metadata.managedFields;

    if (old.metadata.deletionTimestamp) {
      const added = (next.metadata.finalizers ?? []).filter((f) => !(old.metadata.finalizers ?? []).includes(f));
      if (added.length > 0) {
        throw invalid(rt.kind, rt.group, name, [{
          field: "metadata.finalizers",
          reason: "FieldValueForbidden",
          message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(", ")}}`,
        }]);
      }
    }
    const nameErrs = nameErrors(rt, name);
    if (nameErrs.length > 0) throw invalid(rt.kind, rt.group, name, nameErrs);
    const warnings = this.admit(rt, next, old, opts);
    if (rt.kind === "CustomResourceDefinition" && t.subresource !== "status" && isObject(old["status"])) {
      const fresh = establishedStatus(next);
      next["status"] = { ...old["status"], acceptedNames: fresh["acceptedNames"], storedVersions: fresh["storedVersions"] };
    }

    if (rt.generation && this.specChanged(rt, old, next)) {
      next.metadata.generation = (old.metadata.generation ?? 0) + 1;
    }
    if (!applied) {
      next.metadata.managedFields = clone(old.metadata.managedFields ?? []);
      recordUpdate(old, next, this.manager(opts), apiVersionOf(rt), this.listKeys(rt), t.subresource);
    }
    if (next.metadata.finalizers?.length === 0) delete next.metadata.finalizers;

    const respond = (obj: KubeObject, status = 200): Result => ({
      status,
      body: t.subresource === "scale" ? this.scaleOf(rt, obj) : this.toWire(rt, obj),
      warnings,
    });
    if (deepEqual(next, old)) return respond(old);
    if (opts.query.get("dryRun") === "All") return respond(next);
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0 && !this.hasSpecFinalizers(next)) {
      const removed = this.store.remove(rt.storageKey, next.metadata.namespace, name) ?? next;
      this.afterDelete(rt, removed);
      return respond({ ...next, metadata: { ...next.metadata, resourceVersion: removed.metadata.resourceVersion } });
    }
    const stored = this.store.update(rt.storageKey, next);
    if (rt.kind === "CustomResourceDefinition") this.serveCrd(stored);
    if (next.metadata.deletionTimestamp) this.onDeletion();
    return respond(stored);
  }

  private hasSpecFinalizers(obj: KubeObject): boolean {
    const finalizers = getPath(obj, "spec.finalizers");
    return obj.kind === "Namespace" && Array.isArray(finalizers) && finalizers.length > 0;
  }

  /** Generation tracks the desired state: not metadata, not status (with /status). */
  private specChanged(rt: ResourceType, old: KubeObject, next: KubeObject): boolean {
    if (!rt.custom) return !deepEqual(old["spec"], next["spec"]);
    const strip = (obj: KubeObject): Record<string, unknown> => {
      const { metadata: _m, status, apiVersion: _a, kind: _k, ...rest } = obj;
      return rt.statusSubresource ? rest : { ...rest, status };
    };
    return !deepEqual(strip(old), strip(next));
  }

  // ---- patch ---------------------------------------------------------------------

  patch(t: Target, rawBody: string, contentType: string | undefined, opts: WriteOptions): Result {
    const { rt } = t;
    const type = contentTypeOf(contentType);
    const accepted = rt.custom ? [JSON_PATCH, MERGE_PATCH, APPLY_PATCH] : [JSON_PATCH, MERGE_PATCH, APPLY_PATCH, STRATEGIC_MERGE_PATCH];
    if (!accepted.includes(type)) throw unsupportedMediaType(accepted);
    const patch = parseBody(rawBody, contentType);
    if (type === APPLY_PATCH) return this.apply(t, patch, opts);
    if (opts.query.get("force")) throw badRequest("force: Forbidden: may not be specified for non-apply patch");
    const old = this.getStored(t);
    const current = t.subresource === "scale" ? this.scaleOf(rt, old) : this.toWire(rt, old);
    let patched: unknown;
    if (type === MERGE_PATCH) patched = mergePatch(current, patch);
    else if (type === JSON_PATCH) patched = jsonPatch(current, patch);
    else patched = strategicMergePatch(current, patch);
    if (t.subresource === "scale") return this.updateScale(t, old, patched, opts);
    return this.write(t, old, this.fromWire(rt, patched), opts, undefined);
  }

  private apply(t: Target, patch: unknown, opts: WriteOptions): Result {
    const { rt } = t;
    const manager = opts.query.get("fieldManager");
    if (!manager) {
      throw invalid("PatchOptions", "meta.k8s.io", "", [{ field: "fieldManager", reason: "FieldValueRequired", message: "Required value: is required for apply patch" }]);
    }
    if (!isObject(patch)) throw badRequest("error decoding YAML: the applied configuration is not an object");
    const config = this.fromWire(rt, patch);
    if (config.metadata.name && config.metadata.name !== t.name) {
      throw badRequest(`the name of the object (${config.metadata.name}) does not match the name on the URL (${t.name ?? ""})`);
    }
    const stored = this.store.get(rt.storageKey, rt.namespaced ? t.namespace : undefined, t.name ?? "");
    if (!stored) {
      if (t.subresource) throw notFound(groupResource(rt), t.name ?? "");
      config.metadata.name = t.name ?? "";
      return this.create({ ...t }, this.toWire(rt, config), opts, manager);
    }
    const force = opts.query.get("force") === "true";
    const merged = serverSideApply(stored, config, manager, apiVersionOf(rt), force, this.listKeys(rt), t.subresource);
    if (!config.metadata.resourceVersion) delete merged.metadata.resourceVersion;
    return this.write(t, stored, merged, opts, config);
  }

  // ---- scale ---------------------------------------------------------------------

  scaleOf(rt: ResourceType, obj: KubeObject): Record<string, unknown> {
    if (!rt.scale) throw notFound(groupResource(rt), obj.metadata.name ?? "");
    const selectorValue = rt.scale.labelSelectorPath ? getPath(obj, rt.scale.labelSelectorPath) : undefined;
    const selector = typeof selectorValue === "string" ? selectorValue : selectorValue === undefined ? "" : formatSelector(selectorValue);
    const meta: Record<string, unknown> = {
      name: obj.metadata.name,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp,
    };
    if (obj.metadata.namespace) meta["namespace"] = obj.metadata.namespace;
    const status: Record<string, unknown> = { replicas: getPath(obj, rt.scale.statusReplicasPath) ?? 0 };
    if (selector) status["selector"] = selector;
    return {
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      metadata: meta,
      spec: { replicas: getPath(obj, rt.scale.specReplicasPath) ?? 0 },
      status,
    };
  }

  private updateScale(t: Target, old: KubeObject, body: unknown, opts: WriteOptions): Result {
    const { rt } = t;
    if (!rt.scale) throw notFound(groupResource(rt), t.name ?? "");
    if (!isObject(body)) throw badRequest("the body of the request is not a JSON object");
    const rv = getPath(body, "metadata.resourceVersion");
    if (typeof rv === "string" && rv !== "" && rv !== old.metadata.resourceVersion) {
      throw conflict(groupResource(rt), t.name ?? "", STALE_OBJECT_MESSAGE);
    }
    const replicas = getPath(body, "spec.replicas");
    if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
      throw invalid("Scale", "autoscaling", t.name ?? "", [{
        field: "spec.replicas",
        reason: "FieldValueInvalid",
        message: `Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0`,
      }]);
    }
    const next = this.toWire(rt, old);
    setPath(next, rt.scale.specReplicasPath, replicas);
    const result = this.write({ ...t, subresource: undefined }, old, this.fromWire(rt, next), opts, undefined);
    const stored = this.store.get(rt.storageKey, old.metadata.namespace, t.name ?? "") ?? old;
    return { ...result, body: this.scaleOf(rt, stored) };
  }

  // ---- delete --------------------------------------------------------------------

  delete(t: Target, body: unknown, opts: WriteOptions): Result {
    const { rt } = t;
    const name = t.name ?? "";
    if (t.subresource) throw new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    const old = this.getStored(t);
    const options = isObject(body) ? body : {};
    const preconditions = isObject(options["preconditions"]) ? options["preconditions"] : {};
    if (typeof preconditions["uid"] === "string" && preconditions["uid"] !== old.metadata.uid) {
      throw conflict(groupResource(rt), name, `Precondition failed: UID in precondition: ${preconditions["uid"]}, UID in object meta: ${old.metadata.uid ?? ""}`);
    }
    if (typeof preconditions["resourceVersion"] === "string" && preconditions["resourceVersion"] !== old.metadata.resourceVersion) {
      throw conflict(groupResource(rt), name, `Precondition failed: ResourceVersion in precondition: ${preconditions["resourceVersion"]}, ResourceVersion in object meta: ${old.metadata.resourceVersion ?? ""}`);
    }
    let policy = (options["propagationPolicy"] as string | undefined) ?? opts.query.get("propagationPolicy") ?? undefined;
    if (options["orphanDependents"] === true || opts.query.get("orphanDependents") === "true") policy = "Orphan";
    if (policy !== undefined && !["Orphan", "Background", "Foreground"].includes(policy)) {
      throw invalid("DeleteOptions", "meta.k8s.io", "", [{ field: "propagationPolicy", reason: "FieldValueNotSupported", message: `Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan", "nil"` }]);
    }
    const dryRun = opts.query.get("dryRun") === "All" || (Array.isArray(options["dryRun"]) && options["dryRun"].includes("All"));

    const next = clone(old);
    const finalizers = [...(next.metadata.finalizers ?? [])];
    if (policy === "Orphan" && !finalizers.includes("orphan")) finalizers.push("orphan");
    if (policy === "Foreground" && !finalizers.includes("foregroundDeletion")) finalizers.push("foregroundDeletion");
    if (rt.kind === "Namespace" && !old.metadata.deletionTimestamp) {
      setPath(next, "status.phase", "Terminating");
    }
    const pending = finalizers.length > 0 || this.hasSpecFinalizers(next);
    if (pending) {
      if (old.metadata.deletionTimestamp && deepEqual(finalizers, old.metadata.finalizers ?? [])) {
        return { status: 200, body: this.toWire(rt, old), warnings: [] };
      }
      next.metadata.finalizers = finalizers;
      if (!next.metadata.deletionTimestamp) {
        next.metadata.deletionTimestamp = nowTimestamp();
        next.metadata.deletionGracePeriodSeconds = 0;
        if (next.metadata.generation !== undefined) next.metadata.generation += 1;
      }
      if (dryRun) return { status: 200, body: this.toWire(rt, next), warnings: [] };
      const stored = this.store.update(rt.storageKey, next);
      this.onDeletion();
      return { status: 200, body: this.toWire(rt, stored), warnings: [] };
    }
    if (dryRun) return { status: 200, body: this.toWire(rt, old), warnings: [] };
    const removed = this.store.remove(rt.storageKey, old.metadata.namespace, name) ?? old;
    this.afterDelete(rt, removed);
    if (rt.custom) return { status: 200, body: this.toWire(rt, removed), warnings: [] };
    return {
      status: 200,
      body: {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        details: { name, group: rt.group, kind: rt.plural, uid: old.metadata.uid },
      },
      warnings: [],
    };
  }

  deleteCollection(t: Target, body: unknown, opts: WriteOptions): Result {
    const items = this.select(t, opts.query);
    for (const obj of items) {
      try {
        this.delete({ ...t, namespace: obj.metadata.namespace, name: obj.metadata.name ?? "" }, body, opts);
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    }
    return { status: 200, body: this.listBody(t, new URLSearchParams()), warnings: [] };
  }

  private afterDelete(rt: ResourceType, removed: KubeObject): void {
    if (rt.kind === "CustomResourceDefinition" && removed.metadata.name) {
      this.registry.removeCrd(removed.metadata.name);
      const spec = removed["spec"];
      if (isObject(spec) && isObject(spec["names"])) {
        // Deleting a CRD deletes its custom resources.
        const storageKey = `${String(spec["group"])}/${String(spec["names"]["plural"])}`;
        for (const obj of this.store.list(storageKey)) {
          this.store.remove(storageKey, obj.metadata.namespace, obj.metadata.name ?? "");
        }
      }
    }
    this.onDeletion();
  }

  /** Registers (or re-registers) the resource types a CRD serves. */
  serveCrd(crd: KubeObject): void {
    if (crd.metadata.deletionTimestamp) return;
    this.registry.removeCrd(crd.metadata.name ?? "");
    for (const rt of resourceTypesForCrd(crd)) this.registry.add(rt);
  }
}
