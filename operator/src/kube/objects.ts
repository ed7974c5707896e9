import type { PodTemplateSpec, PointToPointChannel } from "../api/types.js";
import type { KubeObject } from "./rest.js";

// The shapes of the built-in objects the operator reads and writes, as far as it needs them.
// Everything else an object carries passes through untouched.

export interface Deployment extends KubeObject {
  spec: {
    replicas?: number;
    selector: { matchLabels?: Record<string, string>; [key: string]: unknown };
    template: PodTemplateSpec;
    [key: string]: unknown;
  };
  status?: { replicas?: number; readyReplicas?: number; availableReplicas?: number; [key: string]: unknown };
}

/** autoscaling/v1 Scale, the scale subresource's body. */
export interface Scale extends KubeObject {
  spec: { replicas?: number };
  status?: { replicas?: number; selector?: string };
}

export interface Secret extends KubeObject {
  data?: Record<string, string>;
  type?: string;
}

export interface HorizontalPodAutoscaler extends KubeObject {
  spec: { scaleTargetRef: { apiVersion?: string; kind: string; name: string } };
}

export interface Lease extends KubeObject {
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/** A channel as it comes from the API (the informer's cached form). */
export type ChannelObject = PointToPointChannel & KubeObject;
