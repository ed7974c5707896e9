import { describe, expect, it } from "vitest";
import type { ResolvedChannel } from "../../../operator/src/api/resolved.js";
import type { ContainerSpec, PodTemplateSpec } from "../../../operator/src/api/types.js";
import {
  CREDENTIALS_VOLUME,
  TEMPLATE_HASH_ANNOTATION,
  buildDeployment,
  credentialMount,
  deploymentDrift,
  desiredPodTemplate,
  templateDiff,
  updatedDeployment,
  type Deployment,
} from "../../../operator/src/kube/index.js";
import { makeResolvedChannel } from "../../support/channels.js";

const userTemplate: PodTemplateSpec = {
  metadata: { labels: { team: "register" }, annotations: { "prometheus.io/scrape": "true" } },
  spec: {
    containers: [
      {
        name: "consumer",
        image: "registry.example/air-consumer:1.2",
        env: [
          { name: "LOG_LEVEL", value: "debug" },
          { name: "NATS_URL", value: "nats://user-override:4222" },
        ],
      },
      { name: "sidecar", image: "registry.example/sidecar:1" },
    ],
    initContainers: [{ name: "migrate", image: "registry.example/migrate:1" }],
  },
};

function templateChannel(template: PodTemplateSpec = userTemplate, overrides: Parameters<typeof makeResolvedChannel>[0] = {}): ResolvedChannel {
  const base = makeResolvedChannel({ namespace: "register", name: "air", uid: "uid-air", ...overrides });
  return { ...base, workload: { kind: "template", template, deploymentName: "air-consumer" } };
}

const env = {
  NATS_URL: "nats://nats.nats:4222",
  P2P_CHANNEL: "register/air",
  P2P_STREAM: "register_air",
  P2P_CONSUMER: "air",
  P2P_SUBJECTS: "p2p.register.air",
  P2P_MAX_BATCH: "100",
  NATS_CREDS_FILE: "/var/run/secrets/p2p/creds",
};

describe("desiredPodTemplate", () => {
  it("gives the pods a termination grace period from the channel's ack wait, unless the template sets its own", () => {
    const channel = templateChannel(userTemplate, { consumer: { ackWaitMs: 45_000 } });
    expect(desiredPodTemplate(channel, userTemplate, env, null).spec?.terminationGracePeriodSeconds).toBe(50);
    const own: PodTemplateSpec = { ...userTemplate, spec: { ...userTemplate.spec!, terminationGracePeriodSeconds: 600 } };
    expect(desiredPodTemplate(channel, own, env, null).spec?.terminationGracePeriodSeconds).toBe(600);
    // A Deployment built before this field was set drifts, and is updated once.
    const desired = desiredPodTemplate(channel, userTemplate, env, null);
    const older = structuredClone(desired);
    delete older.spec!.terminationGracePeriodSeconds;
    expect(deploymentDrift(buildDeployment(channel, older, 1), desired)).toContain("spec.template.spec.terminationGracePeriodSeconds");
  });

  it("injects the consumer env first into every container, replacing user values of the same name", () => {
    const t = desiredPodTemplate(templateChannel(), userTemplate, env, credentialMount("nats-auth", { creds: "x" }));
    for (const c of [...(t.spec?.containers ?? []), ...((t.spec?.initContainers as ContainerSpec[] | undefined) ?? [])]) {
      const names = (c.env ?? []).map((e) => e.name);
      expect(names.slice(0, Object.keys(env).length)).toEqual(Object.keys(env).sort());
      expect((c.env ?? []).filter((e) => e.name === "NATS_URL")).toEqual([{ name: "NATS_URL", value: "nats://nats.nats:4222" }]);
    }
    expect(t.spec?.containers[0]?.env?.at(-1)).toEqual({ name: "LOG_LEVEL", value: "debug" });
  });

  it("mounts the channel's Secret read-only with only the keys it holds, mapped to the contract's file names", () => {
    const mount = credentialMount("nats-auth", { user: "svc", password: "pw", caPem: "PEM" });
    const t = desiredPodTemplate(templateChannel(), userTemplate, env, mount);
    expect(t.spec?.volumes).toEqual([
      {
        name: CREDENTIALS_VOLUME,
        secret: {
          secretName: "nats-auth",
          items: [
            { key: "password", path: "password" },
            { key: "ca.crt", path: "ca.crt" },
          ],
        },
      },
    ]);
    for (const c of t.spec?.containers ?? []) {
      expect(c.volumeMounts).toEqual([{ name: CREDENTIALS_VOLUME, mountPath: "/var/run/secrets/p2p", readOnly: true }]);
    }
  });

  it("mounts nothing and drops credential-file env without a channel Secret", () => {
    const t = desiredPodTemplate(templateChannel(), userTemplate, { ...env, NATS_USER: "op" }, null);
    expect(t.spec?.volumes).toBeUndefined();
    const names = (t.spec?.containers[0]?.env ?? []).map((e) => e.name);
    expect(names).not.toContain("NATS_CREDS_FILE");
    expect(names).not.toContain("NATS_USER");
    expect(t.spec?.containers[0]?.volumeMounts).toBeUndefined();
  });

  it("keeps the user's labels and annotations and adds the selector labels", () => {
    const t = desiredPodTemplate(templateChannel(), userTemplate, env, null);
    expect(t.metadata?.labels).toMatchObject({
      team: "register",
      "app.kubernetes.io/instance": "air",
      "messaging.p2p.dev/channel": "air",
    });
    expect(t.metadata?.annotations).toEqual({ "prometheus.io/scrape": "true" });
  });

  it("lets the template name its application, and labels it p2p-consumer otherwise", () => {
    const named = { ...userTemplate, metadata: { labels: { "app.kubernetes.io/name": "immunisation-register" } } };
    expect(desiredPodTemplate(templateChannel(named), named, env, null).metadata?.labels?.["app.kubernetes.io/name"]).toBe("immunisation-register");
    expect(desiredPodTemplate(templateChannel(), userTemplate, env, null).metadata?.labels?.["app.kubernetes.io/name"]).toBe("p2p-consumer");
  });

  it("does not mutate the channel's template", () => {
    const before = structuredClone(userTemplate);
    desiredPodTemplate(templateChannel(), userTemplate, env, credentialMount("s", { token: "t" }));
    expect(userTemplate).toEqual(before);
  });
});

describe("buildDeployment", () => {
  it("is owned by the channel, selects its pods, and starts with the given replicas", () => {
    const ch = templateChannel();
    const t = desiredPodTemplate(ch, userTemplate, env, null);
    const d = buildDeployment(ch, t, 3);
    expect(d.metadata).toMatchObject({ name: "air-consumer", namespace: "register" });
    expect(d.metadata.ownerReferences).toEqual([
      { apiVersion: "messaging.p2p.dev/v1alpha1", kind: "PointToPointChannel", name: "air", uid: "uid-air", controller: true, blockOwnerDeletion: true },
    ]);
    expect(d.spec.replicas).toBe(3);
    expect(d.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/instance": "air", "messaging.p2p.dev/channel": "air" });
    for (const [k, v] of Object.entries(d.spec.selector.matchLabels ?? {})) expect(d.spec.template.metadata?.labels?.[k]).toBe(v);
    expect(d.metadata.annotations?.[TEMPLATE_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("templateDiff", () => {
  it.each([
    ["equal", { a: 1, b: [1, 2] }, { a: 1, b: [1, 2] }, []],
    ["server-defaulted fields are not drift", { a: 1 }, { a: 1, terminationMessagePath: "/dev/termination-log" }, []],
    ["a changed scalar", { image: "a:1" }, { image: "a:2" }, ["image"]],
    ["a missing field", { c: { d: "x" } }, { c: {} }, ["c.d"]],
    ["array length", { env: [{ name: "A" }] }, { env: [] }, ["env (length 0 -> 1)"]],
    ["nested in arrays", { containers: [{ name: "c", image: "x" }] }, { containers: [{ name: "c", image: "y" }] }, ["containers[0].image"]],
    ["type change", { a: { b: 1 } }, { a: "str" }, ["a"]],
  ])("%s", (_name, desired, actual, expected) => {
    expect(templateDiff(desired, actual)).toEqual(expected);
  });

  it("names paths, never values", () => {
    const diff = templateDiff({ env: [{ name: "PASSWORD", value: "hunter2" }] }, { env: [{ name: "PASSWORD", value: "old" }] });
    expect(diff.join(" ")).not.toContain("hunter2");
  });
});

describe("deploymentDrift and updatedDeployment", () => {
  const ch = templateChannel();
  const template = desiredPodTemplate(ch, userTemplate, env, null);
  const existing = (): Deployment => {
    const d = buildDeployment(ch, template, 4);
    // What an API server adds: defaults and bookkeeping.
    const c0 = d.spec.template.spec?.containers[0];
    if (c0) Object.assign(c0, { imagePullPolicy: "IfNotPresent", terminationMessagePath: "/dev/termination-log" });
    Object.assign(d.spec.template.spec ?? {}, { restartPolicy: "Always", dnsPolicy: "ClusterFirst" });
    d.metadata.uid = "dep-uid";
    d.metadata.resourceVersion = "42";
    d.status = { replicas: 4, readyReplicas: 4 };
    return d;
  };

  it("finds none when only the server's defaults were added", () => {
    expect(deploymentDrift(existing(), template)).toEqual([]);
  });

  it("finds a changed image and a changed template hash", () => {
    const newTemplate = structuredClone(userTemplate);
    if (newTemplate.spec?.containers[0]) newTemplate.spec.containers[0].image = "registry.example/air-consumer:1.3";
    const desired = desiredPodTemplate(ch, newTemplate, env, null);
    expect(deploymentDrift(existing(), desired)).toEqual(["channel template changed", "spec.template.spec.containers[0].image"]);
  });

  it("finds a hand edit of a field the template sets", () => {
    const d = existing();
    d.spec.template.spec?.containers[0]?.env?.push({ name: "EXTRA", value: "1" });
    expect(deploymentDrift(d, template)).toEqual(["spec.template.spec.containers[0].env (length 8 -> 7)"]);
  });

  it("updates the template but never replicas, and keeps the resourceVersion for a guarded write", () => {
    const d = existing();
    d.spec.replicas = 7;
    const newTemplate = structuredClone(userTemplate);
    if (newTemplate.spec?.containers[0]) newTemplate.spec.containers[0].image = "v2";
    const desired = desiredPodTemplate(ch, newTemplate, env, null);
    const u = updatedDeployment(d, ch, desired);
    expect(u.spec.replicas).toBe(7);
    expect(u.metadata.resourceVersion).toBe("42");
    expect(u.spec.template.spec?.containers[0]?.image).toBe("v2");
    expect(deploymentDrift(u, desired)).toEqual([]);
  });
});

describe("pod security defaults", () => {
  it("makes a bare template satisfy the restricted profile, and lets the template's own settings win", () => {
    const bare = desiredPodTemplate(templateChannel(), { spec: { containers: [{ name: "c", image: "i" }] } }, {}, null);
    expect(bare.spec?.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(bare.spec?.containers[0]?.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    const own = desiredPodTemplate(
      templateChannel(),
      { spec: { securityContext: { runAsUser: 4242 }, containers: [{ name: "c", image: "i", securityContext: { readOnlyRootFilesystem: true } }] } },
      {},
      null,
    );
    expect(own.spec?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 4242 });
    expect(own.spec?.containers[0]?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  });
});
