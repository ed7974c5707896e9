// A stand-in for the deployment controller plus kubelets: some time after a Deployment
// changes, its status reports every replica updated, ready and available, and
// observedGeneration catches up with generation. Tests tune or pause the delay.
import { ApiError } from "./errors.js";
import { isObject, nowTimestamp } from "./objects.js";
import type { KubeObject } from "./objects.js";
import type { RestApi } from "./rest.js";
import type { ObjectStore } from "./store.js";

const STORAGE_KEY = "apps/deployments";

function desiredStatus(obj: KubeObject): Record<string, unknown> {
  const spec = isObject(obj["spec"]) ? obj["spec"] : {};
  const replicas = typeof spec["replicas"] === "number" ? spec["replicas"] : 1;
  const old = isObject(obj["status"]) ? obj["status"] : {};
  const oldConditions = Array.isArray(old["conditions"]) ? (old["conditions"] as Record<string, unknown>[]) : [];
  const now = nowTimestamp();
  const condition = (type: string, reason: string, message: string): Record<string, unknown> => {
    const previous = oldConditions.find((c) => c["type"] === type);
    const same = previous?.["status"] === "True" && previous["reason"] === reason;
    return {
      type,
      status: "True",
      lastUpdateTime: same ? previous["lastUpdateTime"] : now,
      lastTransitionTime: previous?.["status"] === "True" ? previous["lastTransitionTime"] : now,
      reason,
      message,
    };
  };
  const status: Record<string, unknown> = { observedGeneration: obj.metadata.generation ?? 1 };
  // Zero counts are omitted, as Go's omitempty does.
  if (replicas > 0) {
    status["replicas"] = replicas;
    status["updatedReplicas"] = replicas;
    status["readyReplicas"] = replicas;
    status["availableReplicas"] = replicas;
  }
  status["conditions"] = [
    condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
    condition("Progressing", "NewReplicaSetAvailable", `ReplicaSet "${obj.metadata.name ?? ""}-7d9c8b6f5" has successfully progressed.`),
  ];
  return status;
}

function inSync(obj: KubeObject): boolean {
  const status = isObject(obj["status"]) ? obj["status"] : {};
  const want = desiredStatus(obj);
  return ["observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas"].every(
    (k) => status[k] === want[k],
  );
}

export class DeploymentController {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly unsubscribe: () => void;
  private pausedFlag = false;

  constructor(
    private readonly api: RestApi,
    private readonly store: ObjectStore,
    /** How long after a change the Deployment reports its replicas ready. */
    public readyDelayMs: number,
  ) {
    this.unsubscribe = store.subscribe((event) => {
      if (event.storageKey !== STORAGE_KEY || event.type === "DELETED") return;
      this.schedule(event.object);
    });
  }

  /** While paused, Deployment status does not change (pods "never become ready"). */
  get paused(): boolean {
    return this.pausedFlag;
  }

  set paused(value: boolean) {
    this.pausedFlag = value;
    if (!value) for (const obj of this.store.list(STORAGE_KEY)) this.schedule(obj);
  }

  private schedule(obj: KubeObject): void {
    if (this.pausedFlag || obj.metadata.deletionTimestamp || inSync(obj)) return;
    const key = `${obj.metadata.namespace ?? ""}/${obj.metadata.name ?? ""}`;
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.sync(obj.metadata.namespace ?? "", obj.metadata.name ?? "");
      }, this.readyDelayMs),
    );
  }

  private sync(namespace: string, name: string): void {
    if (this.pausedFlag) return;
    const current = this.store.get(STORAGE_KEY, namespace, name);
    if (!current || current.metadata.deletionTimestamp || inSync(current)) return;
    const rt = this.api.typeFor(STORAGE_KEY);
    if (!rt) return;
    const wire = this.api.toWire(rt, current);
    wire["status"] = desiredStatus(current);
    try {
      this.api.update({ rt, namespace, name, subresource: "status" }, wire, {
        query: new URLSearchParams(),
        userAgent: "kube-controller-manager/v1.33.0",
      });
    } catch (err) {
      if (err instanceof ApiError && (err.code === 404 || err.code === 409)) return;
      throw err;
    }
  }

  close(): void {
    this.unsubscribe();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
