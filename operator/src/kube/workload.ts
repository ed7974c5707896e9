import type { Logger } from "pino";
import type { ResolvedChannel } from "../api/resolved.js";
import type { ConditionVerdict, ConnectionTarget, WorkloadDriver, WorkloadObservation } from "../ports/index.js";
import {
  buildDeployment,
  credentialMount,
  deploymentDrift,
  desiredPodTemplate,
  isControlledBy,
  TEMPLATE_HASH_ANNOTATION,
  updatedDeployment,
} from "./deployment.js";
import type { KubeInformers } from "./informers.js";
import type { ChannelObject, Deployment, Scale } from "./objects.js";
import { isAlreadyExists, isConflict, isNotFound, objectPath, type KubeRest } from "./rest.js";

/** Plurals of the kinds a scaleTargetRef usually names; others fall back to lower-case + "s". */
const KNOWN_PLURALS: Record<string, string> = {
  Deployment: "deployments",
  StatefulSet: "statefulsets",
  ReplicaSet: "replicasets",
  ReplicationController: "replicationcontrollers",
};

/** How long a Deployment we created counts as existing while the informer has yet to see it. */
const CREATED_GRACE_MS = 10_000;

/**
 * Consumer workloads as Deployments. A template channel owns `<name>-consumer` (created, updated
 * when its pod template drifts, garbage-collected through its ownerReference); a scaleTargetRef
 * is read and scaled through the scale subresource and otherwise never touched.
 */
export class DeploymentWorkloadDriver implements WorkloadDriver {
  private readonly created = new Map<string, { deployment: Deployment; atMs: number }>();
  /** The generation our last template update produced, per Deployment uid: server-side canonicalisation is not drift. */
  private readonly updatedGeneration = new Map<string, { hash: string; generation: number }>();

  constructor(
    private readonly rest: KubeRest,
    private readonly informers: KubeInformers,
    private readonly log: Logger,
  ) {
    // Once the informer has seen a Deployment we created (or its deletion), its cache is the truth.
    const seen = (d: Deployment) => this.created.delete(`${d.metadata.namespace}/${d.metadata.name}`);
    informers.deployments.on({ onAdd: seen, onDelete: seen });
  }

  async observe(channel: ResolvedChannel): Promise<WorkloadObservation> {
    const target =
      channel.workload.kind === "template" ? `Deployment/${channel.workload.deploymentName}` : `${channel.workload.ref.kind}/${channel.workload.ref.name}`;
    return { ...(await this.observeWorkload(channel)), target };
  }

  private async observeWorkload(channel: ResolvedChannel): Promise<WorkloadObservation> {
    const ns = channel.owner.namespace;
    if (channel.workload.kind === "template") {
      const name = channel.workload.deploymentName;
      const cached = this.informers.deployments.get(ns, name);
      const d = cached ?? this.recentlyCreated(ns, name);
      if (!d) return { exists: false, replicas: 0, readyReplicas: 0, blocked: null };
      const blocked: ConditionVerdict | null = isControlledBy(d, channel.owner.uid)
        ? null
        : {
            status: "False",
            reason: "OwnedByAnother",
            message: `Deployment ${name} exists and is not owned by this channel: rename or delete it`,
          };
      return { exists: true, replicas: d.spec.replicas ?? 1, readyReplicas: d.status?.readyReplicas ?? 0, blocked, watched: cached !== undefined };
    }

    const ref = channel.workload.ref;
    let replicas: number;
    let readyReplicas: number;
    let watched = false;
    if (ref.kind === "Deployment" && ref.apiVersion === "apps/v1") {
      const d = this.informers.deployments.get(ns, ref.name);
      if (!d) return { exists: false, replicas: 0, readyReplicas: 0, blocked: null };
      replicas = d.spec.replicas ?? 1;
      readyReplicas = d.status?.readyReplicas ?? 0;
      watched = true;
    } else {
      try {
        const scale = await this.rest.get<Scale>(this.scalePath(channel));
        replicas = scale.spec.replicas ?? 0;
        readyReplicas = scale.status?.replicas ?? 0;
      } catch (err) {
        if (isNotFound(err)) return { exists: false, replicas: 0, readyReplicas: 0, blocked: null };
        throw err;
      }
    }
    return { exists: true, replicas, readyReplicas, blocked: this.conflict(channel), watched };
  }

  async ensure(channel: ResolvedChannel, env: Record<string, string>, target: ConnectionTarget, replicas: number): Promise<void> {
    if (channel.workload.kind !== "template") return;
    const secretName = channel.connection?.secretRef?.name;
    const mount = secretName ? credentialMount(secretName, target.credentials) : null;
    const template = desiredPodTemplate(channel, channel.workload.template, env, mount);
    const ns = channel.owner.namespace;
    const name = channel.workload.deploymentName;
    const log = this.log.child({ namespace: ns, name: channel.owner.name, deployment: name });

    const existing = this.informers.deployments.get(ns, name) ?? this.recentlyCreated(ns, name);
    if (!existing) {
      const desired = buildDeployment(channel, template, replicas);
      try {
        const created = await this.rest.create<Deployment>(this.deploymentsPath(ns), desired);
        this.created.set(`${ns}/${name}`, { deployment: created, atMs: Date.now() });
        log.info({ replicas }, "created the consumer Deployment");
      } catch (err) {
        // The informer has not seen it yet: the next reconcile compares and updates.
        if (!isAlreadyExists(err)) throw err;
      }
      return;
    }
    if (!isControlledBy(existing, channel.owner.uid)) return;
    const drift = this.drift(existing, template);
    if (drift.length === 0) return;
    log.info({ drift }, "the consumer Deployment differs from the channel's template; updating it");
    const update = async (current: Deployment) => {
      const updated = await this.rest.replace<Deployment>(this.deploymentPath(ns, name), updatedDeployment(current, channel, template));
      this.rememberUpdate(updated);
    };
    try {
      await update(existing);
    } catch (err) {
      if (!isConflict(err)) throw err;
      await update(await this.rest.get<Deployment>(this.deploymentPath(ns, name)));
    }
  }

  async scale(channel: ResolvedChannel, replicas: number): Promise<void> {
    const path = this.scalePath(channel);
    const attempt = async () => {
      const scale = await this.rest.get<Scale>(path);
      if (scale.spec.replicas === replicas) return;
      await this.rest.replace<Scale>(path, { ...scale, spec: { ...scale.spec, replicas } });
    };
    try {
      await attempt();
    } catch (err) {
      if (!isConflict(err)) throw err;
      await attempt();
    }
  }

  async release(_channel: ResolvedChannel): Promise<void> {
    // An owned Deployment goes with its channel through ownerReference garbage collection;
    // a scaleTargetRef belongs to the user and stays as it is.
  }

  /** ScaleTargetConflict when an HPA scales the target, or an older channel names the same target. */
  private conflict(channel: ResolvedChannel): ConditionVerdict | null {
    if (channel.workload.kind !== "scaleTarget") return null;
    const ref = channel.workload.ref;
    const ns = channel.owner.namespace;
    const hpa = this.informers.hpas
      .list(ns)
      .find((h) => h.spec?.scaleTargetRef?.name === ref.name && h.spec.scaleTargetRef.kind === ref.kind);
    if (hpa) {
      return {
        status: "False",
        reason: "ScaleTargetConflict",
        message: `HorizontalPodAutoscaler ${hpa.metadata.name} already scales ${ref.kind} ${ref.name}: remove it, or remove workload.scaleTargetRef`,
      };
    }
    const self = this.informers.channels.get(ns, channel.owner.name);
    const selfRank = rank(self?.metadata ?? { name: channel.owner.name });
    const rival = this.informers.scaleTargets
      .channelsTargeting(ns, ref.kind, ref.name)
      .filter((c) => c.metadata.name !== channel.owner.name && !c.metadata.deletionTimestamp)
      .sort((a, b) => (rank(a.metadata) < rank(b.metadata) ? -1 : 1))
      .find((c) => rank(c.metadata) < selfRank);
    if (rival) {
      return {
        status: "False",
        reason: "ScaleTargetConflict",
        message: `channel ${rival.metadata.name} already scales ${ref.kind} ${ref.name}`,
      };
    }
    return null;
  }

  private drift(existing: Deployment, template: Deployment["spec"]["template"]): string[] {
    const drift = deploymentDrift(existing, template);
    const mark = existing.metadata.uid ? this.updatedGeneration.get(existing.metadata.uid) : undefined;
    // We updated it and nobody has touched it since: what is left is the API server's own defaulting.
    if (
      mark &&
      mark.generation === existing.metadata.generation &&
      mark.hash === existing.metadata.annotations?.[TEMPLATE_HASH_ANNOTATION] &&
      !drift.includes("channel template changed")
    ) {
      return [];
    }
    return drift;
  }

  private rememberUpdate(d: Deployment): void {
    const hash = d.metadata.annotations?.[TEMPLATE_HASH_ANNOTATION];
    if (d.metadata.uid && hash && d.metadata.generation !== undefined) {
      this.updatedGeneration.set(d.metadata.uid, { hash, generation: d.metadata.generation });
    }
  }

  private recentlyCreated(ns: string, name: string): Deployment | undefined {
    const key = `${ns}/${name}`;
    const entry = this.created.get(key);
    if (!entry) return undefined;
    if (Date.now() - entry.atMs > CREATED_GRACE_MS) {
      this.created.delete(key);
      return undefined;
    }
    return entry.deployment;
  }

  private deploymentsPath(ns: string): string {
    return `/apis/apps/v1/namespaces/${encodeURIComponent(ns)}/deployments`;
  }

  private deploymentPath(ns: string, name: string): string {
    return objectPath("apps", "v1", "deployments", ns, name);
  }

  private scalePath(channel: ResolvedChannel): string {
    const ns = channel.owner.namespace;
    if (channel.workload.kind === "template") return objectPath("apps", "v1", "deployments", ns, channel.workload.deploymentName, "scale");
    const { apiVersion, kind, name } = channel.workload.ref;
    const [group, version] = apiVersion.includes("/") ? (apiVersion.split("/") as [string, string]) : ["", apiVersion];
    const plural = KNOWN_PLURALS[kind] ?? `${kind.toLowerCase()}s`;
    return objectPath(group, version, plural, ns, name, "scale");
  }
}

/** Older channels rank first (creationTimestamp, then name), so every channel agrees on who scales a shared target. */
function rank(meta: { name: string; creationTimestamp?: string }): string {
  return `${meta.creationTimestamp ?? "9999"}\u0000${meta.name}`;
}
