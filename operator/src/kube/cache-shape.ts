import { isDeepStrictEqual } from "node:util";
import { API_GROUP, KIND } from "../api/types.js";
import type { Deployment } from "./objects.js";
import type { KubeObject } from "./rest.js";

// What the informers keep of each object. A cache of 1,000 channels and their Deployments is most
// of the operator's memory, and a real apiserver's objects carry much the operator never reads:
// managedFields (server-side apply bookkeeping, rewritten on every write) on every object, and
// the full pod template and status of Deployments that are only scale targets.

/** Any object without managedFields: nothing in the operator reads them, and writes never send them back. */
export function withoutManagedFields<T extends KubeObject>(obj: T): T {
  if (obj.metadata?.managedFields === undefined) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

// What channels read of a Deployment (kube/workload.ts): its name, owners, spec.replicas and
// status.readyReplicas, and of one a channel controls also its pod template and template-hash
// annotation. The two functions below keep and compare exactly that.

/**
 * A Deployment as the operator uses it. One a channel controls (`<name>-consumer`) is kept whole
 * but for managedFields: its pod template is compared with the channel's and replaced from it.
 * Any other is at most a scale target, only ever written through the scale subresource.
 */
export function deploymentForCache(d: Deployment): Deployment {
  const trimmed = withoutManagedFields(d);
  if (controlledByChannel(trimmed)) return trimmed;
  const { replicas, selector } = trimmed.spec ?? {};
  return {
    ...trimmed,
    metadata: { ...trimmed.metadata, annotations: undefined },
    spec: { replicas, selector, template: {} as Deployment["spec"]["template"] },
    status: trimmed.status && { readyReplicas: trimmed.status.readyReplicas },
  };
}

/**
 * Whether two versions of a Deployment look the same to its channels. Its spec moves with its
 * generation; conditions, observedGeneration and the other counters move with every rollout
 * step and are read by nobody here, so such an update reconciles no channel.
 */
export function sameForChannels(a: Deployment, b: Deployment): boolean {
  return (
    a.metadata.generation === b.metadata.generation &&
    a.metadata.deletionTimestamp === b.metadata.deletionTimestamp &&
    isDeepStrictEqual(a.metadata.ownerReferences, b.metadata.ownerReferences) &&
    isDeepStrictEqual(a.metadata.annotations, b.metadata.annotations) &&
    a.spec?.replicas === b.spec?.replicas &&
    a.status?.readyReplicas === b.status?.readyReplicas
  );
}

function controlledByChannel(d: Deployment): boolean {
  return (d.metadata.ownerReferences ?? []).some((r) => r.controller === true && r.kind === KIND && r.apiVersion.startsWith(`${API_GROUP}/`));
}

/**
 * Freezes an object and everything in it. Informer caches hand out their objects without a copy
 * (client-go's rule: never mutate what the cache returns); frozen, a mutation throws where it
 * happens instead of corrupting the cache for every later reader.
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}
