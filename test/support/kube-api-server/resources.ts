// What the server knows about each resource type: names for discovery, scope,
// subresources, table columns, schema. Built-ins come from builtins.ts; crd.ts adds and
// removes custom resource types as CRDs come and go.
import type { FieldError } from "./errors.js";
import type { KubeObject } from "./objects.js";
import type { JsonSchema } from "./schema.js";

export interface PrinterColumn {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

export interface ScaleSubresource {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

/** A Table column for a built-in: its definition and how to fill it from an object. */
export interface BuiltinColumn {
  name: string;
  type: string;
  format?: string;
  priority?: number;
  description?: string;
  cell: (obj: KubeObject) => unknown;
}

export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  statusSubresource: boolean;
  scale?: ScaleSubresource;
  /** Served from a CRD: no strategic merge patch, schema validation, CEL. */
  custom: boolean;
  /** Whether metadata.generation is maintained (bumped on spec changes). */
  generation: boolean;
  /** The storage group/plural; several versions (and events.k8s.io) may share one. */
  storageKey: string;
  /** CR: the openAPIV3Schema of this version. */
  schema?: JsonSchema;
  /** CR: additionalPrinterColumns (Name comes first and is implicit). */
  printerColumns?: PrinterColumn[];
  /** Built-in: the Table columns after Name (absent: just Age). */
  builtinColumns?: BuiltinColumn[];
  /** Built-in: no Name column first (events). */
  omitNameColumn?: boolean;
  /** Extra field selector labels beyond metadata.name/metadata.namespace. */
  fieldLabels?: Record<string, (obj: KubeObject) => string | undefined>;
  /** Server-side defaulting for built-ins (mutates). */
  applyDefaults?: (obj: KubeObject) => void;
  /** Built-in validation, returning field errors. */
  validate?: (obj: KubeObject, old: KubeObject | undefined) => FieldError[];
  /** Converts from the stored form to this version's wire form and back (events.k8s.io). */
  toWire?: (stored: KubeObject) => KubeObject;
  fromWire?: (wire: KubeObject) => KubeObject;
  /** The OpenAPI v3 component schema for built-ins (refs to components in openapi.ts). */
  openapiSchemaName?: string;
  /** CRD owning this type. */
  crdName?: string;
}

export function apiVersionOf(rt: ResourceType): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

export function groupResource(rt: ResourceType): { group: string; plural: string } {
  return { group: rt.group, plural: rt.plural };
}

/** All types served right now, looked up the way URLs name them. */
export class ResourceRegistry {
  private readonly types = new Map<string, ResourceType>();
  /** Bumped on every change so OpenAPI hashes and discovery caches notice. */
  generation = 0;

  add(rt: ResourceType): void {
    this.types.set(`${rt.group}/${rt.version}/${rt.plural}`, rt);
    this.generation++;
  }

  removeCrd(crdName: string): void {
    for (const [key, rt] of this.types) {
      if (rt.crdName === crdName) this.types.delete(key);
    }
    this.generation++;
  }

  get(group: string, version: string, plural: string): ResourceType | undefined {
    return this.types.get(`${group}/${version}/${plural}`);
  }

  all(): ResourceType[] {
    return [...this.types.values()];
  }

  byStorageKey(storageKey: string): ResourceType[] {
    return this.all().filter((rt) => rt.storageKey === storageKey);
  }

  /** Finds the type for an object's apiVersion and kind (for owner references). */
  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.all().find((rt) => apiVersionOf(rt) === apiVersion && rt.kind === kind);
  }

  /** Group -> versions in preference order (first is preferred). */
  groups(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const rt of this.types.values()) {
      const versions = out.get(rt.group) ?? [];
      if (!versions.includes(rt.version)) versions.push(rt.version);
      out.set(rt.group, versions);
    }
    for (const versions of out.values()) versions.sort(compareKubeVersions);
    return out;
  }

  inGroupVersion(group: string, version: string): ResourceType[] {
    return this.all().filter((rt) => rt.group === group && rt.version === version);
  }
}

/** Kubernetes version priority: GA > beta > alpha, then by number, newest first. */
export function compareKubeVersions(a: string, b: string): number {
  const rank = (v: string): [number, number, number] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0];
    const stability = m[2] === undefined ? 0 : m[2] === "beta" ? 1 : 2;
    return [stability, -Number(m[1]), -Number(m[3] ?? 0)];
  };
  const ra = rank(a);
  const rb = rank(b);
  for (let i = 0; i < 3; i++) {
    if (ra[i] !== rb[i]) return (ra[i] ?? 0) - (rb[i] ?? 0);
  }
  return a.localeCompare(b);
}
