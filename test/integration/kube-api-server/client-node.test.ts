// The real @kubernetes/client-node against the test server: CRUD, Status objects,
// resourceVersion and generation, subresources, patches, finalizers, owner GC and
// custom resource validation.
import {
  ApiextensionsV1Api,
  AppsV1Api,
  AutoscalingV2Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import type { V1Deployment } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubeApiServer } from "../../support/kube-api-server/index.js";
import type { KubeApiServer } from "../../support/kube-api-server/index.js";
import { WIDGET_CRDS, eventually, statusOf } from "./helpers.js";

let server: KubeApiServer;
let core: CoreV1Api;
let apps: AppsV1Api;
let custom: CustomObjectsApi;

const W = { group: "example.dev", version: "v1", plural: "widgets" };

beforeAll(async () => {
  server = await startKubeApiServer({ crds: [WIDGET_CRDS], namespaces: ["team-a", "team-b"] });
  const kc = server.kubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
});
afterAll(() => server.close());

function deployment(name: string, replicas = 1): V1Deployment {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "main", image: "example/app:1", env: [{ name: "A", value: "1" }] }] },
      },
    },
  };
}

interface Widget {
  apiVersion: string;
  kind: string;
  metadata: { name: string; generation?: number; resourceVersion?: string; finalizers?: string[]; deletionTimestamp?: string; uid?: string };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

function widget(name: string, spec: Record<string, unknown> = { size: "small" }): Widget {
  return { apiVersion: "example.dev/v1", kind: "Widget", metadata: { name }, spec };
}

describe("core objects", () => {
  it("creates, reads, updates and deletes a secret with uid, timestamps and resourceVersions", async () => {
    const created = await core.createNamespacedSecret({
      namespace: "team-a",
      body: { metadata: { name: "creds", labels: { tier: "db" } }, stringData: {}, data: { token: Buffer.from("s3cret").toString("base64") } },
    });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(created.type).toBe("Opaque");
    const rv1 = Number(created.metadata?.resourceVersion);

    const read = await core.readNamespacedSecret({ name: "creds", namespace: "team-a" });
    expect(Buffer.from(read.data?.["token"] ?? "", "base64").toString()).toBe("s3cret");

    read.metadata!.labels = { tier: "cache" };
    const updated = await core.replaceNamespacedSecret({ name: "creds", namespace: "team-a", body: read });
    expect(Number(updated.metadata?.resourceVersion)).toBeGreaterThan(rv1);
    expect(updated.metadata?.uid).toBe(created.metadata?.uid);

    await core.deleteNamespacedSecret({ name: "creds", namespace: "team-a" });
    const missing = await statusOf(core.readNamespacedSecret({ name: "creds", namespace: "team-a" }));
    expect(missing).toMatchObject({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404, message: 'secrets "creds" not found' });
  });

  it("folds a secret's write-only stringData into data", async () => {
    const created = await core.createNamespacedSecret({
      namespace: "team-a",
      body: { metadata: { name: "string-data" }, data: { user: Buffer.from("old").toString("base64") }, stringData: { user: "register", password: "s3cret" } },
    });
    expect(created.stringData).toBeUndefined();
    const read = await core.readNamespacedSecret({ name: "string-data", namespace: "team-a" });
    expect(read.stringData).toBeUndefined();
    expect(Buffer.from(read.data?.["user"] ?? "", "base64").toString()).toBe("register");
    expect(Buffer.from(read.data?.["password"] ?? "", "base64").toString()).toBe("s3cret");
  });

  it("answers AlreadyExists for a duplicate and Conflict for a stale resourceVersion", async () => {
    await core.createNamespacedSecret({ namespace: "team-a", body: { metadata: { name: "dup" } } });
    const exists = await statusOf(core.createNamespacedSecret({ namespace: "team-a", body: { metadata: { name: "dup" } } }));
    expect(exists).toMatchObject({ reason: "AlreadyExists", code: 409, details: { name: "dup", kind: "secrets" } });

    const first = await core.readNamespacedSecret({ name: "dup", namespace: "team-a" });
    const second = await core.readNamespacedSecret({ name: "dup", namespace: "team-a" });
    first.metadata!.labels = { writer: "first" };
    await core.replaceNamespacedSecret({ name: "dup", namespace: "team-a", body: first });
    second.metadata!.labels = { writer: "second" };
    const stale = await statusOf(core.replaceNamespacedSecret({ name: "dup", namespace: "team-a", body: second }));
    expect(stale.reason).toBe("Conflict");
    expect(stale.message).toBe('Operation cannot be fulfilled on secrets "dup": the object has been modified; please apply your changes to the latest version and try again');
    const now = await core.readNamespacedSecret({ name: "dup", namespace: "team-a" });
    expect(now.metadata?.labels).toEqual({ writer: "first" });
  });

  it("refuses objects in a namespace that does not exist", async () => {
    const status = await statusOf(core.createNamespacedSecret({ namespace: "nowhere", body: { metadata: { name: "x" } } }));
    expect(status).toMatchObject({ reason: "NotFound", code: 404, message: 'namespaces "nowhere" not found' });
  });

  it("lists with label selectors (=, !=, in, notin, exists) and field selectors", async () => {
    const labels: Record<string, string>[] = [{ env: "prod", tier: "web" }, { env: "dev", tier: "web" }, { env: "test" }, {}];
    for (const [i, l] of labels.entries()) {
      await core.createNamespacedConfigMap({ namespace: "team-b", body: { metadata: { name: `cm-${i}`, labels: l } } });
    }
    const names = async (labelSelector?: string, fieldSelector?: string): Promise<string[]> => {
      const list = await core.listNamespacedConfigMap({ namespace: "team-b", labelSelector, fieldSelector });
      return list.items.map((i) => i.metadata?.name ?? "");
    };
    expect(await names("env=prod")).toEqual(["cm-0"]);
    expect(await names("env!=prod")).toEqual(["cm-1", "cm-2", "cm-3"]);
    expect(await names("env in (dev,test)")).toEqual(["cm-1", "cm-2"]);
    expect(await names("env notin (dev,test)")).toEqual(["cm-0", "cm-3"]);
    expect(await names("tier")).toEqual(["cm-0", "cm-1"]);
    expect(await names("!tier")).toEqual(["cm-2", "cm-3"]);
    expect(await names("env,tier=web,env!=dev")).toEqual(["cm-0"]);
    expect(await names(undefined, "metadata.name=cm-2")).toEqual(["cm-2"]);
    expect(await names(undefined, "metadata.name!=cm-2,metadata.namespace=team-b")).toEqual(["cm-0", "cm-1", "cm-3"]);
    const bad = await statusOf(core.listNamespacedConfigMap({ namespace: "team-b", fieldSelector: "spec.nope=1" }));
    expect(bad).toMatchObject({ reason: "BadRequest", code: 400 });

    const page = await core.listNamespacedConfigMap({ namespace: "team-b", limit: 3 });
    expect(page.items).toHaveLength(3);
    expect(page.metadata?.remainingItemCount).toBe(1);
    const rest = await core.listNamespacedConfigMap({ namespace: "team-b", limit: 3, _continue: page.metadata?._continue });
    expect(rest.items.map((i) => i.metadata?.name)).toEqual(["cm-3"]);
    expect(Number(page.metadata?.resourceVersion)).toBeGreaterThan(0);
  });

  it("stores core events and serves them as events.k8s.io/v1 too", async () => {
    const events = server.kubeConfig().makeApiClient(EventsV1Api);
    const eventTime = new Date();
    await events.createNamespacedEvent({
      namespace: "team-a",
      body: {
        metadata: { name: "ch.1" },
        eventTime,
        regarding: { kind: "PointToPointChannel", name: "orders", namespace: "team-a", uid: "u-1" },
        reason: "Scaled",
        note: "lag 420 > 3 x 100",
        type: "Normal",
        action: "Scale",
        reportingController: "p2p.dev/operator",
        reportingInstance: "op-0",
      },
    });
    const asCore = await core.listNamespacedEvent({ namespace: "team-a", fieldSelector: "involvedObject.name=orders,reason=Scaled" });
    expect(asCore.items).toHaveLength(1);
    expect(asCore.items[0]).toMatchObject({ message: "lag 420 > 3 x 100", reportingComponent: "p2p.dev/operator", involvedObject: { kind: "PointToPointChannel" } });
    const invalid = await statusOf(events.createNamespacedEvent({ namespace: "team-a", body: { metadata: { name: "bad" }, type: "Odd" } as never }));
    expect(invalid.reason).toBe("Invalid");
    expect(invalid.details?.causes?.map((c) => c.field)).toEqual(expect.arrayContaining(["eventTime", "reportingController", "type"]));
  });

  it("serves leases and horizontal pod autoscalers", async () => {
    const leases = server.kubeConfig().makeApiClient(CoordinationV1Api);
    const lease = await leases.createNamespacedLease({
      namespace: "kube-system",
      body: { metadata: { name: "p2p-operator" }, spec: { holderIdentity: "pod-a", leaseDurationSeconds: 15 } },
    });
    lease.spec!.holderIdentity = "pod-b";
    const taken = await leases.replaceNamespacedLease({ name: "p2p-operator", namespace: "kube-system", body: lease });
    expect(taken.spec?.holderIdentity).toBe("pod-b");
    const stale = await statusOf(leases.replaceNamespacedLease({ name: "p2p-operator", namespace: "kube-system", body: lease }));
    expect(stale.code).toBe(409);

    const hpas = server.kubeConfig().makeApiClient(AutoscalingV2Api);
    await hpas.createNamespacedHorizontalPodAutoscaler({
      namespace: "team-a",
      body: { metadata: { name: "web" }, spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, maxReplicas: 5 } },
    });
    const listed = await hpas.listNamespacedHorizontalPodAutoscaler({ namespace: "team-a" });
    expect(listed.items.map((h) => [h.spec?.scaleTargetRef.name, h.spec?.minReplicas])).toEqual([["web", 1]]);
  });
});

describe("deployments", () => {
  it("bumps generation on spec changes only and the controller stand-in reports replicas ready", async () => {
    const created = await apps.createNamespacedDeployment({ namespace: "team-a", body: deployment("web", 2) });
    expect(created.metadata?.generation).toBe(1);
    expect(created.status ?? {}).toEqual({});
    expect(created.spec?.strategy?.type).toBe("RollingUpdate");
    expect(created.spec?.template.spec?.containers[0]?.imagePullPolicy).toBe("IfNotPresent");

    const ready = await eventually(async () => {
      const d = await apps.readNamespacedDeployment({ name: "web", namespace: "team-a" });
      expect(d.status).toMatchObject({ observedGeneration: 1, replicas: 2, readyReplicas: 2, availableReplicas: 2, updatedReplicas: 2 });
      return d;
    });
    ready.metadata!.labels = { ...ready.metadata?.labels, touched: "yes" };
    const relabelled = await apps.replaceNamespacedDeployment({ name: "web", namespace: "team-a", body: ready });
    expect(relabelled.metadata?.generation).toBe(1);

    const patched = await apps.patchNamespacedDeployment(
      { name: "web", namespace: "team-a", body: { spec: { template: { spec: { containers: [{ name: "main", env: [{ name: "B", value: "2" }] }] } } } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    expect(patched.metadata?.generation).toBe(2);
    expect(patched.spec?.template.spec?.containers[0]?.env).toEqual([{ name: "A", value: "1" }, { name: "B", value: "2" }]);
    expect(patched.spec?.template.spec?.containers[0]?.image).toBe("example/app:1");
  });

  it("ignores status on the main endpoint and writes it only through /status", async () => {
    await apps.createNamespacedDeployment({ namespace: "team-a", body: deployment("statusy") });
    server.deployments.paused = true;
    try {
      const current = await apps.readNamespacedDeployment({ name: "statusy", namespace: "team-a" });
      const main = await apps.replaceNamespacedDeployment({ name: "statusy", namespace: "team-a", body: { ...current, status: { replicas: 42 } } });
      expect(main.status?.replicas).not.toBe(42);
      const viaStatus = await apps.replaceNamespacedDeploymentStatus({ name: "statusy", namespace: "team-a", body: { ...main, status: { replicas: 42 } } });
      expect(viaStatus.status?.replicas).toBe(42);
      expect(viaStatus.metadata?.generation).toBe(main.metadata?.generation);
    } finally {
      server.deployments.paused = false;
    }
  });

  it("reads and writes replicas through the scale subresource", async () => {
    await apps.createNamespacedDeployment({ namespace: "team-a", body: deployment("scalable", 1) });
    const scale = await apps.readNamespacedDeploymentScale({ name: "scalable", namespace: "team-a" });
    expect(scale).toMatchObject({ kind: "Scale", apiVersion: "autoscaling/v1", spec: { replicas: 1 }, status: { selector: "app=scalable" } });
    await apps.patchNamespacedDeploymentScale(
      { name: "scalable", namespace: "team-a", body: { spec: { replicas: 4 } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const d = await apps.readNamespacedDeployment({ name: "scalable", namespace: "team-a" });
    expect(d.spec?.replicas).toBe(4);
    expect(d.metadata?.generation).toBe(2);
    const staleScale = await statusOf(apps.replaceNamespacedDeploymentScale({ name: "scalable", namespace: "team-a", body: { ...scale, spec: { replicas: 2 } } }));
    expect(staleScale.reason).toBe("Conflict");
    await eventually(async () => {
      const s = await apps.readNamespacedDeploymentScale({ name: "scalable", namespace: "team-a" });
      expect(s.status?.replicas).toBe(4);
    });
  });

  it("applies JSON patches and reports a failed test operation", async () => {
    await apps.createNamespacedDeployment({ namespace: "team-a", body: deployment("jp", 1) });
    const patched = await apps.patchNamespacedDeployment(
      { name: "jp", namespace: "team-a", body: [{ op: "replace", path: "/spec/replicas", value: 3 }, { op: "add", path: "/metadata/annotations", value: { a: "b" } }] },
      setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
    );
    expect(patched.spec?.replicas).toBe(3);
    expect(patched.metadata?.annotations).toEqual({ a: "b" });
    const failed = await statusOf(
      apps.patchNamespacedDeployment(
        { name: "jp", namespace: "team-a", body: [{ op: "test", path: "/spec/replicas", value: 9 }] },
        setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
      ),
    );
    expect(failed.code).toBe(422);
  });

  it("server-side applies with field ownership and reports conflicts", async () => {
    const apply = (manager: string, replicas: number, force = false) =>
      apps.patchNamespacedDeployment(
        { name: "ssa", namespace: "team-a", fieldManager: manager, force, body: { apiVersion: "apps/v1", kind: "Deployment", ...deployment("ssa", replicas) } },
        setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
      );
    const created = await apply("operator", 2);
    expect(created.spec?.replicas).toBe(2);
    expect(created.metadata?.managedFields?.map((m) => [m.manager, m.operation])).toEqual([["operator", "Apply"]]);
    const conflict = await statusOf(apply("someone-else", 5));
    expect(conflict).toMatchObject({ code: 409, reason: "Conflict" });
    expect(conflict.message).toContain('conflict with "operator"');
    expect(conflict.details?.causes?.map((c) => c.field)).toContain(".spec.replicas");
    const forced = await apply("someone-else", 5, true);
    expect(forced.spec?.replicas).toBe(5);
    // An apply that changes nothing writes nothing (the stand-in controller is held so
    // that its status write does not move the resourceVersion either).
    server.deployments.paused = true;
    try {
      const settled = await apply("someone-else", 5);
      await new Promise((resolve) => setTimeout(resolve, 1100)); // managedFields times have 1s precision
      const again = await apply("someone-else", 5);
      expect(again.metadata?.resourceVersion).toBe(settled.metadata?.resourceVersion);
    } finally {
      server.deployments.paused = false;
    }
    const missingManager = await statusOf(
      apps.patchNamespacedDeployment({ name: "ssa", namespace: "team-a", body: { spec: { replicas: 1 } } }, setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply)),
    );
    expect(missingManager.code).toBe(422);
  });
});

describe("collections and dry runs", () => {
  it("deletes a collection by label selector and leaves the rest", async () => {
    for (const [name, app] of [["k1", "keep"], ["d1", "drop"], ["d2", "drop"]] as const) {
      await core.createNamespacedSecret({ namespace: "team-b", body: { metadata: { name, labels: { app } } } });
    }
    await core.deleteCollectionNamespacedSecret({ namespace: "team-b", labelSelector: "app=drop" });
    const left = await core.listNamespacedSecret({ namespace: "team-b", labelSelector: "app" });
    expect(left.items.map((s) => s.metadata?.name)).toEqual(["k1"]);
  });

  it("persists nothing for dryRun=All", async () => {
    const dry = await core.createNamespacedSecret({ namespace: "team-b", dryRun: "All", body: { metadata: { name: "dry" } } });
    expect(dry.metadata?.uid).toBeTruthy();
    expect((await statusOf(core.readNamespacedSecret({ name: "dry", namespace: "team-b" }))).code).toBe(404);
  });

  it("refuses a CRD whose CEL rule does not compile, and serves one that does", async () => {
    const crds = server.kubeConfig().makeApiClient(ApiextensionsV1Api);
    // client-node models name schema extensions x_kubernetes_*; it sends them as x-kubernetes-*.
    const crd = (rule: string) => ({
      metadata: { name: "things.example.dev" },
      spec: {
        group: "example.dev",
        scope: "Namespaced",
        names: { plural: "things", kind: "Thing" },
        versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", x_kubernetes_validations: [{ rule }] } } }],
      },
    });
    const refused = await statusOf(crds.createCustomResourceDefinition({ body: crd("self.a ==") }));
    expect(refused.reason).toBe("Invalid");
    expect(refused.details?.causes?.[0]?.field).toBe("spec.versions[0].schema.openAPIV3Schema.x-kubernetes-validations");
    const created = await crds.createCustomResourceDefinition({ body: crd("true") });
    expect(created.status?.conditions?.find((c) => c.type === "Established")?.status).toBe("True");
    expect((await custom.listNamespacedCustomObject({ group: "example.dev", version: "v1", plural: "things", namespace: "team-b" })) as { items: unknown[] }).toMatchObject({ items: [] });
  });
});

describe("deletion", () => {
  it("holds an object with finalizers until the last one is removed", async () => {
    await custom.createNamespacedCustomObject({ ...W, namespace: "team-a", body: { ...widget("held"), metadata: { name: "held", finalizers: ["example.dev/cleanup"] } } });
    const deleting = (await custom.deleteNamespacedCustomObject({ ...W, namespace: "team-a", name: "held" })) as Widget;
    expect(deleting.metadata.deletionTimestamp).toBeTruthy();
    expect(deleting.metadata.generation).toBe(2);
    const still = (await custom.getNamespacedCustomObject({ ...W, namespace: "team-a", name: "held" })) as Widget;
    expect(still.metadata.finalizers).toEqual(["example.dev/cleanup"]);

    const addAnother = await statusOf(
      custom.patchNamespacedCustomObject(
        { ...W, namespace: "team-a", name: "held", body: { metadata: { finalizers: ["example.dev/cleanup", "late"] } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ),
    );
    expect(addAnother.code).toBe(422);

    await custom.patchNamespacedCustomObject(
      { ...W, namespace: "team-a", name: "held", body: [{ op: "remove", path: "/metadata/finalizers" }] },
      setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
    );
    const gone = await statusOf(custom.getNamespacedCustomObject({ ...W, namespace: "team-a", name: "held" }));
    expect(gone.reason).toBe("NotFound");
  });

  it("garbage-collects dependents whose owners are all gone, and keeps those with a live owner", async () => {
    const owner = (await custom.createNamespacedCustomObject({ ...W, namespace: "team-b", body: widget("owner") })) as Widget;
    const other = (await custom.createNamespacedCustomObject({ ...W, namespace: "team-b", body: widget("other-owner") })) as Widget;
    const ref = (w: Widget) => ({ apiVersion: "example.dev/v1", kind: "Widget", name: w.metadata.name, uid: w.metadata.uid ?? "", controller: false });
    await apps.createNamespacedDeployment({ namespace: "team-b", body: { ...deployment("owned"), metadata: { name: "owned", ownerReferences: [{ ...ref(owner), controller: true }] } } });
    await core.createNamespacedSecret({ namespace: "team-b", body: { metadata: { name: "shared", ownerReferences: [ref(owner), ref(other)] } } });

    await custom.deleteNamespacedCustomObject({ ...W, namespace: "team-b", name: "owner" });
    await eventually(async () => {
      expect((await statusOf(apps.readNamespacedDeployment({ name: "owned", namespace: "team-b" }))).reason).toBe("NotFound");
    });
    const shared = await eventually(async () => {
      const s = await core.readNamespacedSecret({ name: "shared", namespace: "team-b" });
      expect(s.metadata?.ownerReferences?.map((r) => r.name)).toEqual(["other-owner"]);
      return s;
    });
    expect(shared.metadata?.name).toBe("shared");
  });

  it("orphans dependents with propagationPolicy Orphan and waits for them with Foreground", async () => {
    const orphaning = (await custom.createNamespacedCustomObject({ ...W, namespace: "team-b", body: widget("orphaning") })) as Widget;
    const ownerRef = { apiVersion: "example.dev/v1", kind: "Widget", name: "orphaning", uid: orphaning.metadata.uid ?? "" };
    await core.createNamespacedConfigMap({ namespace: "team-b", body: { metadata: { name: "kept", ownerReferences: [ownerRef] } } });
    await custom.deleteNamespacedCustomObject({ ...W, namespace: "team-b", name: "orphaning", propagationPolicy: "Orphan" });
    await eventually(async () => {
      expect((await statusOf(custom.getNamespacedCustomObject({ ...W, namespace: "team-b", name: "orphaning" }))).code).toBe(404);
    });
    const kept = await core.readNamespacedConfigMap({ name: "kept", namespace: "team-b" });
    expect(kept.metadata?.ownerReferences).toBeUndefined();

    const parent = (await custom.createNamespacedCustomObject({ ...W, namespace: "team-b", body: widget("parent") })) as Widget;
    await core.createNamespacedConfigMap({
      namespace: "team-b",
      body: { metadata: { name: "child", finalizers: ["example.dev/slow"], ownerReferences: [{ apiVersion: "example.dev/v1", kind: "Widget", name: "parent", uid: parent.metadata.uid ?? "", blockOwnerDeletion: true }] } },
    });
    await custom.deleteNamespacedCustomObject({ ...W, namespace: "team-b", name: "parent", propagationPolicy: "Foreground" });
    const waiting = await eventually(async () => {
      const p = (await custom.getNamespacedCustomObject({ ...W, namespace: "team-b", name: "parent" })) as Widget;
      expect(p.metadata.finalizers).toEqual(["foregroundDeletion"]);
      const child = await core.readNamespacedConfigMap({ name: "child", namespace: "team-b" });
      expect(child.metadata?.deletionTimestamp).toBeTruthy();
      return p;
    });
    expect(waiting.metadata.deletionTimestamp).toBeTruthy();
    await core.patchNamespacedConfigMap(
      { name: "child", namespace: "team-b", body: { metadata: { finalizers: null } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await eventually(async () => {
      expect((await statusOf(custom.getNamespacedCustomObject({ ...W, namespace: "team-b", name: "parent" }))).code).toBe(404);
    });
  });

  it("empties a deleted namespace and then removes it", async () => {
    await core.createNamespace({ body: { metadata: { name: "doomed" } } });
    await core.createNamespacedSecret({ namespace: "doomed", body: { metadata: { name: "s" } } });
    const terminating = await core.deleteNamespace({ name: "doomed" });
    expect(terminating).toBeTruthy();
    await eventually(async () => {
      expect((await statusOf(core.readNamespace({ name: "doomed" }))).code).toBe(404);
    });
    expect((await core.listNamespacedSecret({ namespace: "doomed" })).items).toEqual([]);
  });
});

describe("custom resources", () => {
  it("applies schema defaults and bumps generation on spec changes, not on status or metadata", async () => {
    const created = (await custom.createNamespacedCustomObject({ ...W, namespace: "team-a", body: { ...widget("defaulted"), status: { replicas: 3 } } })) as Widget;
    expect(created.spec).toEqual({ size: "small", replicas: 1, color: "blue", storage: "disk" });
    expect(created.status).toBeUndefined();
    expect(created.metadata.generation).toBe(1);

    const withStatus = (await custom.replaceNamespacedCustomObjectStatus({
      ...W,
      namespace: "team-a",
      name: "defaulted",
      body: { ...created, spec: { size: "large" }, status: { replicas: 1, conditions: [{ type: "Ready", status: "True" }] } },
    })) as Widget;
    expect(withStatus.status).toEqual({ replicas: 1, conditions: [{ type: "Ready", status: "True" }] });
    expect(withStatus.spec["size"]).toBe("small");
    expect(withStatus.metadata.generation).toBe(1);

    const labelled = (await custom.patchNamespacedCustomObject(
      { ...W, namespace: "team-a", name: "defaulted", body: { metadata: { labels: { a: "b" } }, status: { replicas: 9 } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    )) as Widget;
    expect(labelled.metadata.generation).toBe(1);
    expect(labelled.status?.["replicas"]).toBe(1);

    const resized = (await custom.patchNamespacedCustomObject(
      { ...W, namespace: "team-a", name: "defaulted", body: { spec: { size: "medium" } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    )) as Widget;
    expect(resized.metadata.generation).toBe(2);
    expect(Number(resized.metadata.resourceVersion)).toBeGreaterThan(Number(labelled.metadata.resourceVersion));
  });

  it("rejects invalid custom resources with 422 and the field paths of every error", async () => {
    const status = await statusOf(
      custom.createNamespacedCustomObject({
        ...W,
        namespace: "team-a",
        body: widget("broken", { size: "huge", replicas: 11, color: "Red1", min: 5, max: 2, tags: ["a", "a"], ports: [{ name: "http" }] }),
      }),
    );
    expect(status).toMatchObject({ kind: "Status", code: 422, reason: "Invalid", details: { name: "broken", group: "example.dev", kind: "Widget" } });
    const causes = Object.fromEntries((status.details?.causes ?? []).map((c) => [c.field, c]));
    expect(causes["spec.size"]).toMatchObject({ reason: "FieldValueNotSupported", message: 'Unsupported value: "huge": supported values: "small", "medium", "large"' });
    expect(causes["spec.replicas"]?.message).toBe("Invalid value: 11: spec.replicas in body should be less than or equal to 10");
    expect(causes["spec.color"]?.message).toBe(`Invalid value: "Red1": spec.color in body should match '^[a-z]+$'`);
    expect(causes["spec.tags[1]"]?.reason).toBe("FieldValueDuplicate");
    expect(causes["spec.ports[0].port"]?.reason).toBe("FieldValueRequired");
    expect(causes["spec.min"]?.message).toBe('Invalid value: "object": min must not exceed max');
    expect(status.message).toMatch(/^Widget\.example\.dev "broken" is invalid: \[/);

    const typeError = await statusOf(custom.createNamespacedCustomObject({ ...W, namespace: "team-a", body: widget("typed", { size: "small", replicas: "two" }) }));
    expect(typeError.details?.causes?.[0]).toMatchObject({ field: "spec.replicas", message: 'Invalid value: "string": spec.replicas in body must be of type integer: "string"' });
  });

  it("enforces transition rules (oldSelf) on update only", async () => {
    await custom.createNamespacedCustomObject({ ...W, namespace: "team-a", body: widget("immutable", { size: "small", storage: "memory" }) });
    const status = await statusOf(
      custom.patchNamespacedCustomObject(
        { ...W, namespace: "team-a", name: "immutable", body: { spec: { storage: "disk" } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ),
    );
    expect(status.details?.causes).toEqual([{ field: "spec.storage", reason: "FieldValueForbidden", message: "Forbidden: storage is immutable" }]);
  });

  it("prunes unknown fields silently by default and rejects them with fieldValidation=Strict", async () => {
    const pruned = (await custom.createNamespacedCustomObject({
      ...W,
      namespace: "team-a",
      body: widget("pruned", { size: "small", bogus: true, template: { anything: { goes: 1 } } }),
    })) as Widget;
    expect(pruned.spec["bogus"]).toBeUndefined();
    expect(pruned.spec["template"]).toEqual({ anything: { goes: 1 } });
    const strict = await statusOf(
      custom.createNamespacedCustomObject({ ...W, namespace: "team-a", fieldValidation: "Strict", body: widget("strict", { size: "small", bogus: true }) }),
    );
    expect(strict).toMatchObject({ code: 400, reason: "BadRequest" });
    expect(strict.message).toContain('strict decoding error: unknown field "spec.bogus"');
  });

  it("refuses strategic merge patch for custom resources with 415", async () => {
    await custom.createNamespacedCustomObject({ ...W, namespace: "team-a", body: widget("smp") });
    const status = await statusOf(
      custom.patchNamespacedCustomObject(
        { ...W, namespace: "team-a", name: "smp", body: { spec: { size: "large" } } },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      ),
    );
    expect(status.code).toBe(415);
  });

  it("serves the scale subresource a CRD declares", async () => {
    await custom.createNamespacedCustomObject({ ...W, namespace: "team-a", body: widget("scaled", { size: "small", replicas: 2 }) });
    await custom.patchNamespacedCustomObjectScale(
      { ...W, namespace: "team-a", name: "scaled", body: { spec: { replicas: 6 } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const scaled = (await custom.getNamespacedCustomObject({ ...W, namespace: "team-a", name: "scaled" })) as Widget;
    expect(scaled.spec["replicas"]).toBe(6);
    const tooMany = await statusOf(
      custom.patchNamespacedCustomObjectScale(
        { ...W, namespace: "team-a", name: "scaled", body: { spec: { replicas: 11 } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ),
    );
    expect(tooMany.details?.causes?.[0]?.field).toBe("spec.replicas");
  });

  it("serves cluster-scoped custom resources, where status changes bump generation without a status subresource", async () => {
    const G = { group: "example.dev", version: "v1", plural: "gadgets" };
    const created = (await custom.createClusterCustomObject({ ...G, body: { apiVersion: "example.dev/v1", kind: "Gadget", metadata: { name: "g1" }, spec: { a: 1 }, status: { s: 1 } } })) as Widget;
    expect(created.status).toEqual({ s: 1 });
    const updated = (await custom.patchClusterCustomObject(
      { ...G, name: "g1", body: { status: { s: 2 } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    )) as Widget;
    expect(updated.metadata.generation).toBe(2);
    const listed = (await custom.listClusterCustomObject({ ...G })) as { items: Widget[] };
    expect(listed.items.map((i) => i.metadata.name)).toEqual(["g1"]);
  });
});
