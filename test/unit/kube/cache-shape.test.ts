import { describe, expect, it } from "vitest";
import { deepFreeze, deploymentForCache, sameForChannels, withoutManagedFields } from "../../../operator/src/kube/cache-shape.js";
import type { Deployment } from "../../../operator/src/kube/objects.js";

function deployment(overrides: { owned?: boolean; generation?: number; replicas?: number; ready?: number; observedGeneration?: number } = {}): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "register-consumer",
      namespace: "health",
      uid: "d-1",
      resourceVersion: "7",
      generation: overrides.generation ?? 1,
      annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{...}" },
      managedFields: [{ manager: "kubectl" }],
      ...(overrides.owned && {
        ownerReferences: [{ apiVersion: "messaging.p2p.dev/v1alpha1", kind: "PointToPointChannel", name: "register", uid: "c-1", controller: true }],
      }),
    },
    spec: {
      replicas: overrides.replicas ?? 2,
      selector: { matchLabels: { app: "register" } },
      template: { metadata: { labels: { app: "register" } }, spec: { containers: [{ name: "consumer", image: "consumer:1" }] } },
    },
    status: { replicas: 2, readyReplicas: overrides.ready ?? 2, availableReplicas: 2, observedGeneration: overrides.observedGeneration ?? 1, conditions: [] },
  };
}

describe("what the informers keep of an object", () => {
  it("drops managedFields from any object, and keeps a Deployment a channel controls whole but for them", () => {
    const owned = deploymentForCache(deployment({ owned: true }));
    expect(owned.metadata.managedFields).toBeUndefined();
    expect(owned.spec.template.spec?.containers).toHaveLength(1);
    expect(owned.metadata.annotations).toBeDefined();
    expect(withoutManagedFields(deployment()).metadata.managedFields).toBeUndefined();
  });

  it("keeps of any other Deployment what a scale target is read for", () => {
    const target = deploymentForCache(deployment());
    expect(target.metadata).toMatchObject({ name: "register-consumer", namespace: "health", uid: "d-1", resourceVersion: "7" });
    expect(target.metadata.annotations).toBeUndefined();
    expect(target.spec).toEqual({ replicas: 2, selector: { matchLabels: { app: "register" } }, template: {} });
    expect(target.status).toEqual({ readyReplicas: 2 });
  });

  it("tells channels of a change to generation, replicas or ready replicas, not of a rollout step", () => {
    const before = deploymentForCache(deployment({ owned: true }));
    expect(sameForChannels(before, deploymentForCache(deployment({ owned: true, observedGeneration: 2 })))).toBe(true);
    expect(sameForChannels(before, deploymentForCache(deployment({ owned: true, ready: 1 })))).toBe(false);
    expect(sameForChannels(before, deploymentForCache(deployment({ owned: true, replicas: 3, generation: 2 })))).toBe(false);
    expect(sameForChannels(before, deploymentForCache(deployment()))).toBe(false);
  });

  it("freezes what it keeps, all the way down", () => {
    const frozen = deepFreeze(deploymentForCache(deployment({ owned: true })));
    expect(() => {
      (frozen.spec.template.spec!.containers[0] as { image: string }).image = "other:2";
    }).toThrow(TypeError);
  });
});
