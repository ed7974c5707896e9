import { describe, expect, it } from "vitest";
import { Informer } from "../../../operator/src/kube/informer.js";
import type { ChannelObject } from "../../../operator/src/kube/objects.js";
import type { KubeRest } from "../../../operator/src/kube/rest.js";
import { ScaleTargetIndex } from "../../../operator/src/kube/scale-target-index.js";
import { log } from "../../../operator/src/log.js";

const channel = (name: string, target: string | null, rv: string, namespace = "register"): ChannelObject =>
  ({
    apiVersion: "messaging.p2p.dev/v1alpha1",
    kind: "PointToPointChannel",
    metadata: { name, namespace, resourceVersion: rv },
    spec: { workload: target ? { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: target } } : { template: {} } },
  }) as unknown as ChannelObject;

const names = (cs: ChannelObject[]) => cs.map((c) => c.metadata.name).sort();

function informer(): Informer<ChannelObject> {
  return new Informer<ChannelObject>({} as KubeRest, { group: "messaging.p2p.dev", version: "v1alpha1", plural: "pointtopointchannels", namespaces: null, log });
}

describe("ScaleTargetIndex", () => {
  it("finds the channels whose scaleTargetRef names a workload, as channels come, change and go", () => {
    const channels = informer();
    channels.upsert(channel("a", "register", "1"));
    const index = new ScaleTargetIndex(channels); // sees what the informer already holds
    channels.upsert(channel("b", "register", "2"));
    channels.upsert(channel("c", "other", "3"));
    channels.upsert(channel("d", null, "4"));
    channels.upsert(channel("e", "register", "5", "elsewhere"));
    expect(names(index.channelsTargeting("register", "Deployment", "register"))).toEqual(["a", "b"]);
    expect(names(index.channelsTargeting("register", "Deployment", "other"))).toEqual(["c"]);

    channels.upsert(channel("b", "other", "6")); // retargeted
    channels.remove(channel("a", "register", "7"));
    channels.upsert(channel("c", null, "8")); // switched to a template
    expect(index.channelsTargeting("register", "Deployment", "register")).toEqual([]);
    expect(names(index.channelsTargeting("register", "Deployment", "other"))).toEqual(["b"]);
    expect(names(index.channelsTargeting("elsewhere", "Deployment", "register"))).toEqual(["e"]);
    expect(index.channelsTargeting("register", "StatefulSet", "other")).toEqual([]);
  });
});
