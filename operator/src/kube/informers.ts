import type { Logger } from "pino";
import { API_GROUP, API_VERSION, PLURAL } from "../api/types.js";
import { deploymentForCache, withoutManagedFields } from "./cache-shape.js";
import { Informer } from "./informer.js";
import { ScaleTargetIndex } from "./scale-target-index.js";
import type { ChannelObject, Deployment, HorizontalPodAutoscaler } from "./objects.js";
import type { KubeRest } from "./rest.js";

/** The caches the operator reads from: channels and the workloads and HPAs they depend on (Secrets are read by name, see SecretReader). */
export interface KubeInformers {
  channels: Informer<ChannelObject>;
  deployments: Informer<Deployment>;
  hpas: Informer<HorizontalPodAutoscaler>;
  /** Channels by the workload their scaleTargetRef names, from the channel informer. */
  scaleTargets: ScaleTargetIndex;
}

export interface InformerSettings {
  /** null: all namespaces. */
  namespaces: string[] | null;
  log: Logger;
  watchTimeoutSeconds?: number;
}

export function createInformers(rest: KubeRest, settings: InformerSettings): KubeInformers {
  const common = { namespaces: settings.namespaces, watchTimeoutSeconds: settings.watchTimeoutSeconds };
  const log = (resource: string) => settings.log.child({ informer: resource });
  const channels = new Informer<ChannelObject>(rest, {
    ...common,
    group: API_GROUP,
    version: API_VERSION,
    plural: PLURAL,
    log: log(`${PLURAL}.${API_GROUP}`),
    transform: withoutManagedFields,
  });
  return {
    channels,
    deployments: new Informer<Deployment>(rest, {
      ...common,
      group: "apps",
      version: "v1",
      plural: "deployments",
      log: log("deployments.apps"),
      transform: deploymentForCache,
    }),
    hpas: new Informer<HorizontalPodAutoscaler>(rest, {
      ...common,
      group: "autoscaling",
      version: "v2",
      plural: "horizontalpodautoscalers",
      log: log("horizontalpodautoscalers.autoscaling"),
      transform: withoutManagedFields,
    }),
    scaleTargets: new ScaleTargetIndex(channels),
  };
}

/** What starting, stopping and readiness need of any informer. */
export interface InformerLifecycle {
  start(): Promise<void>;
  stop(): void;
  readonly synced: boolean;
}

export function allInformers(informers: KubeInformers): InformerLifecycle[] {
  return [informers.channels, informers.deployments, informers.hpas];
}
