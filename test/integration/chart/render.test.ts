// `helm template` of charts/p2p-operator with the real helm binary: what it renders for
// the default values, for namespaced mode and with every optional feature on.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  RELEASE_NAMESPACE,
  VALUE_SETS,
  chartCrdPath,
  findDoc,
  helmTemplate,
  helmTemplateRaw,
  repoCrdPath,
  repoRoot,
  splitRendered,
  type KubeManifest,
  type RenderedDoc,
} from "./helm.js";
import { isBuiltinKind, schemaVersion, validateBuiltin, validateMetadata } from "./k8s-schema.js";

type Obj = Record<string, unknown>;
const get = (o: unknown, path: string): unknown =>
  path.split(".").reduce<unknown>((acc, k) => (acc !== null && typeof acc === "object" ? (acc as Obj)[k] : undefined), o);

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** Every rule of every Role and ClusterRole, flattened to group/resource -> verbs. */
function grants(role: KubeManifest): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const rule of (role["rules"] as PolicyRule[] | undefined) ?? []) {
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        const key = `${group === "" ? "core" : group}/${resource}`;
        out.set(key, [...(out.get(key) ?? []), ...rule.verbs].sort());
      }
    }
  }
  return out;
}

/** The operator's access, as the operator's design states it (see docs/helm.md). */
const NAMESPACED_ACCESS: Record<string, string[]> = {
  "messaging.p2p.dev/pointtopointchannels": ["get", "list", "patch", "update", "watch"],
  "messaging.p2p.dev/pointtopointchannels/status": ["get", "patch", "update"],
  "messaging.p2p.dev/pointtopointchannels/finalizers": ["update"],
  "apps/deployments": ["create", "delete", "get", "list", "patch", "update", "watch"],
  "apps/deployments/scale": ["get", "patch", "update"],
  "autoscaling/horizontalpodautoscalers": ["get", "list", "watch"],
  "core/secrets": ["get"],
  "core/events": ["create", "patch"],
  "events.k8s.io/events": ["create", "patch"],
};
const LEASE_ACCESS = { "coordination.k8s.io/leases": ["create", "get", "update"] };

function podSpecs(docs: RenderedDoc[]): Array<{ owner: string; spec: Obj }> {
  return docs.flatMap(({ object }) => {
    const spec = get(object, "spec.template.spec") ?? (object.kind === "Pod" ? object["spec"] : undefined);
    return spec ? [{ owner: `${object.kind}/${object.metadata.name}`, spec: spec as Obj }] : [];
  });
}

describe.each(Object.entries(VALUE_SETS))("helm template with %s", (_name, values) => {
  let docs: RenderedDoc[];
  beforeAll(async () => {
    docs = await helmTemplate(values);
  });

  it(`renders only objects that validate against the Kubernetes ${schemaVersion()} schema`, () => {
    const problems: string[] = [];
    for (const { object, source } of docs) {
      if (object.apiVersion === "monitoring.coreos.com/v1") continue; // not a built-in: see the ServiceMonitor test
      if (!isBuiltinKind(object.apiVersion, object.kind)) {
        problems.push(`${source}: unexpected ${object.apiVersion} ${object.kind}`);
        continue;
      }
      for (const error of [...validateBuiltin(object), ...validateMetadata(object)]) {
        problems.push(`${source} ${object.kind}/${object.metadata.name}: ${error}`);
      }
    }
    expect(problems).toEqual([]);
    expect(docs.length).toBeGreaterThan(5);
  });

  it("puts the standard app.kubernetes.io labels on every object it owns", () => {
    for (const { object } of docs) {
      if (object.kind === "CustomResourceDefinition") continue; // verbatim from crds/
      const labels = object.metadata.labels ?? {};
      expect(labels, `${object.kind}/${object.metadata.name}`).toMatchObject({
        "app.kubernetes.io/name": "p2p-operator",
        "app.kubernetes.io/instance": "p2p",
        "app.kubernetes.io/version": "0.1.0",
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/part-of": "p2p-operator",
        "helm.sh/chart": "p2p-operator-0.1.0",
      });
    }
  });

  it("runs every pod under the restricted Pod Security Standard", () => {
    const pods = podSpecs(docs);
    expect(pods.length).toBeGreaterThan(0);
    for (const { owner, spec } of pods) {
      expect(get(spec, "securityContext.runAsNonRoot"), owner).toBe(true);
      expect(get(spec, "securityContext.seccompProfile.type"), owner).toBe("RuntimeDefault");
      expect(spec["hostNetwork"] ?? false, owner).toBe(false);
      expect(spec["hostPID"] ?? false, owner).toBe(false);
      const containers = [...((spec["initContainers"] as Obj[] | undefined) ?? []), ...(spec["containers"] as Obj[])];
      for (const c of containers) {
        const where = `${owner} container ${String(c["name"])}`;
        const sc = c["securityContext"] as Obj;
        expect(sc, where).toMatchObject({
          runAsNonRoot: true,
          runAsUser: 10001,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        });
        expect(get(sc, "capabilities.add") ?? [], where).toEqual([]);
        expect(sc["privileged"] ?? false, where).toBe(false);
        // A read-only root filesystem needs somewhere to write temp files.
        const tmp = ((c["volumeMounts"] as Obj[] | undefined) ?? []).find((m) => m["mountPath"] === "/tmp");
        expect(tmp, `${where} mounts /tmp`).toBeDefined();
        const volume = (spec["volumes"] as Obj[]).find((v) => v["name"] === tmp!["name"]);
        expect(volume?.["emptyDir"], `${where}: /tmp is an emptyDir`).toBeDefined();
      }
      for (const volume of (spec["volumes"] as Obj[] | undefined) ?? []) {
        expect(volume["hostPath"], `${owner} uses no hostPath`).toBeUndefined();
      }
    }
  });

  it("names every container's env vars, ports and mounts, and every pod's volumes, once", () => {
    for (const { owner, spec } of podSpecs(docs)) {
      const names = (list: unknown, key = "name") => ((list as Obj[] | undefined) ?? []).map((x) => String(x[key]));
      const duplicates = (xs: string[]) => xs.filter((x, i) => xs.indexOf(x) !== i);
      expect(duplicates(names(spec["volumes"])), `${owner} volumes`).toEqual([]);
      for (const c of spec["containers"] as Obj[]) {
        expect(duplicates(names(c["env"])), `${owner} env`).toEqual([]);
        expect(duplicates(names(c["ports"])), `${owner} ports`).toEqual([]);
        expect(duplicates(names(c["volumeMounts"], "mountPath")), `${owner} mounts`).toEqual([]);
      }
    }
  });

  it("grants no wildcard, no pods/exec, and no writes to RBAC or CRDs", () => {
    const roles = docs.filter((d) => d.object.kind === "Role" || d.object.kind === "ClusterRole");
    expect(roles.length).toBeGreaterThan(0);
    for (const { object } of roles) {
      for (const rule of object["rules"] as PolicyRule[]) {
        const all = [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...rule.verbs, ...(rule.nonResourceURLs ?? [])];
        expect(all.filter((x) => x.includes("*")), `${object.kind}/${object.metadata.name}`).toEqual([]);
        expect(rule.resources ?? []).not.toContain("pods/exec");
        expect(rule.apiGroups ?? []).not.toContain("rbac.authorization.k8s.io");
        expect(rule.apiGroups ?? []).not.toContain("apiextensions.k8s.io");
        expect(rule.verbs).not.toContain("escalate");
        expect(rule.verbs).not.toContain("bind");
        expect(rule.verbs).not.toContain("impersonate");
      }
    }
  });

  it("lets the Deployment's probes, Service and PodDisruptionBudget find the operator pods", () => {
    const deployment = findDoc(docs, "Deployment");
    const podLabels = get(deployment, "spec.template.metadata.labels") as Record<string, string>;
    const selector = get(deployment, "spec.selector.matchLabels") as Record<string, string>;
    expect(podLabels).toMatchObject(selector);
    const pdb = findDoc(docs, "PodDisruptionBudget");
    expect(podLabels).toMatchObject(get(pdb, "spec.selector.matchLabels") as Record<string, string>);
    const service = findDoc(docs, "Service");
    expect(podLabels).toMatchObject(get(service, "spec.selector") as Record<string, string>);

    const container = (get(deployment, "spec.template.spec.containers") as Obj[])[0]!;
    const portNames = (container["ports"] as Obj[]).map((p) => p["name"]);
    const servicePort = (get(service, "spec.ports") as Obj[])[0]!;
    expect(portNames).toContain(servicePort["targetPort"]);
    expect(get(container, "livenessProbe.httpGet")).toEqual({ path: "/healthz", port: "health" });
    expect(get(container, "readinessProbe.httpGet")).toEqual({ path: "/readyz", port: "health" });
    expect(portNames).toContain("health");
    expect(container["resources"]).toMatchObject({ requests: { cpu: expect.any(String), memory: expect.any(String) } });
  });
});

describe("helm template with default values", () => {
  let docs: RenderedDoc[];
  beforeAll(async () => {
    docs = await helmTemplate();
  });

  it("runs two replicas with leader election and the operator's flags", () => {
    const deployment = findDoc(docs, "Deployment");
    expect(get(deployment, "spec.replicas")).toBe(2);
    const container = (get(deployment, "spec.template.spec.containers") as Obj[])[0]!;
    expect(container["image"]).toBe("ghcr.io/p2p-operator/p2p-operator:0.1.0");
    expect(container["args"]).toEqual([
      "operator",
      "--nats-url=nats://nats.nats:4222",
      "--metrics-addr=:8080",
      "--health-addr=:8081",
      "--leader-elect",
      "--subject-policy=any",
      "--log-level=info",
    ]);
    // POD_NAMESPACE names where the leader-election Lease lives.
    expect(container["env"]).toContainEqual({ name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } });
  });

  it("grants the operator's access cluster-wide through one ClusterRole, and leases only in its namespace", () => {
    const clusterRole = findDoc(docs, "ClusterRole");
    expect(Object.fromEntries(grants(clusterRole))).toEqual(NAMESPACED_ACCESS);
    const binding = findDoc(docs, "ClusterRoleBinding");
    expect(binding["roleRef"]).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole.metadata.name });
    expect(binding["subjects"]).toEqual([{ kind: "ServiceAccount", name: "p2p-p2p-operator", namespace: RELEASE_NAMESPACE }]);

    const roles = docs.filter((d) => d.object.kind === "Role").map((d) => d.object);
    expect(roles.map((r) => `${r.metadata.namespace}/${r.metadata.name}`)).toEqual([`${RELEASE_NAMESPACE}/p2p-p2p-operator-leader-election`]);
    expect(Object.fromEntries(grants(roles[0]!))).toEqual(LEASE_ACCESS);
    // Only creating a Lease is unrestricted (RBAC can't name what doesn't exist yet);
    // reading and renewing are limited to the Lease the operator is told to use.
    const container = (get(findDoc(docs, "Deployment"), "spec.template.spec.containers") as Obj[])[0]!;
    const leaseName = (container["env"] as Obj[]).find((e) => e["name"] === "LEADER_ELECTION_ID")?.["value"];
    expect(leaseName).toBe("p2p-p2p-operator");
    expect(roles[0]!["rules"]).toEqual([
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: [leaseName], verbs: ["get", "update"] },
    ]);
    expect(docs.some((d) => d.object.kind === "NetworkPolicy" || d.object.kind === "ServiceMonitor")).toBe(false);
  });

  it("renders no NATS credentials volume when no Secret is named", () => {
    const deployment = findDoc(docs, "Deployment");
    const volumes = (get(deployment, "spec.template.spec.volumes") as Obj[]).map((v) => v["name"]);
    expect(volumes).toEqual(["tmp"]);
  });
});

describe("helm template in namespaced mode (watchNamespaces: [a, b])", () => {
  let docs: RenderedDoc[];
  beforeAll(async () => {
    docs = await helmTemplate(VALUE_SETS["namespaced mode"]);
  });

  it("renders no ClusterRole or ClusterRoleBinding at all", () => {
    const clusterScoped = docs.filter((d) => d.object.kind === "ClusterRole" || d.object.kind === "ClusterRoleBinding");
    expect(clusterScoped.map((d) => d.object.metadata.name)).toEqual([]);
  });

  it("grants the namespaced access through a Role and RoleBinding in each watched namespace only", () => {
    const roles = docs.filter((d) => d.object.kind === "Role").map((d) => d.object);
    const byNamespace = Object.fromEntries(roles.map((r) => [`${r.metadata.namespace}/${r.metadata.name}`, Object.fromEntries(grants(r))]));
    expect(byNamespace).toEqual({
      "a/p2p-p2p-operator": NAMESPACED_ACCESS,
      "b/p2p-p2p-operator": NAMESPACED_ACCESS,
      [`${RELEASE_NAMESPACE}/p2p-p2p-operator-leader-election`]: LEASE_ACCESS,
    });
    const bindings = docs.filter((d) => d.object.kind === "RoleBinding").map((d) => d.object);
    for (const ns of ["a", "b"]) {
      const binding = bindings.find((b) => b.metadata.namespace === ns);
      expect(binding?.["roleRef"]).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "p2p-p2p-operator" });
      expect(binding?.["subjects"]).toEqual([{ kind: "ServiceAccount", name: "p2p-p2p-operator", namespace: RELEASE_NAMESPACE }]);
    }
  });

  it("can read Secrets only in the watched namespaces", () => {
    const secretReaders = docs
      .filter((d) => d.object.kind === "Role" || d.object.kind === "ClusterRole")
      .filter((d) => grants(d.object).has("core/secrets"))
      .map((d) => `${d.object.kind}/${d.object.metadata.namespace ?? "<cluster>"}`);
    expect(secretReaders.sort()).toEqual(["Role/a", "Role/b"]);
  });

  it("passes each watched namespace to the operator", () => {
    const container = (get(findDoc(docs, "Deployment"), "spec.template.spec.containers") as Obj[])[0]!;
    const args = container["args"] as string[];
    expect(args.filter((a) => a.startsWith("--namespace"))).toEqual(["--namespace=a", "--namespace=b"]);
  });
});

describe("helm template with every optional feature on", () => {
  let docs: RenderedDoc[];
  beforeAll(async () => {
    docs = await helmTemplate(VALUE_SETS["every optional feature on"]);
  });

  it("grants the scale subresource, and nothing else, of the extra scale target kinds", () => {
    const watchedRoles = docs.filter((d) => d.object.kind === "Role" && d.object.metadata.namespace !== RELEASE_NAMESPACE);
    expect(watchedRoles.map((r) => r.object.metadata.namespace)).toEqual(["team-a", "team-b"]);
    for (const role of watchedRoles) {
      const access = Object.fromEntries(grants(role.object));
      expect(access).toEqual({ ...NAMESPACED_ACCESS, "apps/statefulsets/scale": ["get", "patch", "update"] });
    }
  });

  it("mounts the NATS credentials Secret read-only and passes the file as --nats-creds", () => {
    const deployment = findDoc(docs, "Deployment");
    const spec = get(deployment, "spec.template.spec") as Obj;
    const container = (spec["containers"] as Obj[])[0]!;
    const flag = (container["args"] as string[]).find((a) => a.startsWith("--nats-creds="));
    expect(flag).toBeDefined();
    const credsPath = flag!.slice("--nats-creds=".length);
    const volume = (spec["volumes"] as Obj[]).find((v) => get(v, "secret.secretName") === "p2p-nats");
    expect(get(volume, "secret.items")).toEqual([{ key: "operator.creds", path: "nats.creds" }]);
    const mount = (container["volumeMounts"] as Obj[]).find((m) => m["name"] === volume!["name"]);
    expect(mount?.["readOnly"]).toBe(true);
    expect(credsPath).toBe(`${String(mount!["mountPath"])}/nats.creds`);
    expect(container["args"]).toContain("--subject-policy=namespaced");
    expect(container["args"]).toContain("--log-level=debug");
  });

  it("limits the NetworkPolicy to metrics and probe ingress, and DNS, API server and NATS egress", () => {
    const policy = findDoc(docs, "NetworkPolicy");
    expect(get(policy, "spec.policyTypes")).toEqual(["Ingress", "Egress"]);
    expect(get(policy, "spec.podSelector.matchLabels")).toEqual({ "app.kubernetes.io/name": "p2p-operator", "app.kubernetes.io/instance": "p2p" });
    const ingress = get(policy, "spec.ingress") as Obj[];
    expect(ingress.flatMap((r) => (r["ports"] as Obj[]).map((p) => p["port"]))).toEqual(["metrics", "health"]);
    expect(ingress[0]!["from"]).toEqual([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }]);

    const egress = get(policy, "spec.egress") as Obj[];
    const ports = egress.map((r) => (r["ports"] as Obj[]).map((p) => `${String(p["protocol"])}/${String(p["port"])}`));
    expect(ports).toEqual([["UDP/53", "TCP/53"], ["TCP/443", "TCP/6443"], ["TCP/4222"], ["TCP/7422"]]);
    expect(egress.every((r) => Array.isArray(r["to"]) && (r["to"] as unknown[]).length > 0)).toBe(true);
    expect(egress[1]!["to"]).toEqual([{ ipBlock: { cidr: "10.96.0.1/32" } }, { ipBlock: { cidr: "172.18.0.2/32" } }]);
    expect(egress[2]!["to"]).toEqual([
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "nats" } },
        podSelector: { matchLabels: { "app.kubernetes.io/name": "nats" } },
      },
      { ipBlock: { cidr: "192.0.2.10/32" } },
    ]);
  });

  it("renders a ServiceMonitor that scrapes the metrics Service's named port", () => {
    const monitor = findDoc(docs, "ServiceMonitor");
    const service = findDoc(docs, "Service");
    expect(monitor.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(monitor.metadata.labels).toMatchObject({ release: "kube-prometheus-stack" });
    expect(service.metadata.labels).toMatchObject(get(monitor, "spec.selector.matchLabels") as Record<string, string>);
    expect(get(monitor, "spec.namespaceSelector")).toEqual({ matchNames: [RELEASE_NAMESPACE] });
    const endpoints = get(monitor, "spec.endpoints") as Obj[];
    expect(endpoints).toEqual([{ port: "metrics", path: "/metrics", interval: "15s", scrapeTimeout: "10s" }]);
    expect((get(service, "spec.ports") as Obj[]).map((p) => p["name"])).toContain("metrics");
    // Only the fields prometheus-operator's ServiceMonitor v1 defines at these levels.
    expect(Object.keys(monitor).sort()).toEqual(["apiVersion", "kind", "metadata", "spec"]);
    expect(Object.keys(monitor["spec"] as Obj).sort()).toEqual(["endpoints", "namespaceSelector", "selector"]);
  });

  it("fills the topology spread constraint's selector with the pod's selector labels", () => {
    const spread = get(findDoc(docs, "Deployment"), "spec.template.spec.topologySpreadConstraints");
    expect(spread).toEqual([
      {
        maxSkew: 1,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: { "app.kubernetes.io/name": "p2p-operator", "app.kubernetes.io/instance": "p2p" } },
      },
    ]);
  });

  it("fails, naming the fix, when a ServiceMonitor is asked for without the metrics Service", async () => {
    const result = await helmTemplateRaw({ metrics: { service: { enabled: false }, serviceMonitor: { enabled: true } } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("metrics.serviceMonitor.enabled needs metrics.service.enabled");
  });
});

describe("the chart's CRD", () => {
  const repoCrd = readFileSync(repoCrdPath, "utf8");

  it("is a byte-for-byte copy of crds/ (scripts/sync-chart-crds.sh)", () => {
    expect(readFileSync(chartCrdPath, "utf8")).toBe(repoCrd);
  });

  it("is what scripts/sync-chart-crds.sh --check agrees with", async () => {
    const { execFile } = await import("node:child_process");
    const code = await new Promise<number | null>((resolve) => {
      execFile("bash", ["scripts/sync-chart-crds.sh", "--check"], { cwd: repoRoot }, (err) => resolve(err ? ((err as { code?: number }).code ?? 1) : 0));
    });
    expect(code).toBe(0);
  });

  it("renders exactly the crds/ file when crds.keep is off", async () => {
    const result = await helmTemplateRaw({ crds: { enabled: true, keep: false } }, ["--show-only", "templates/crds.yaml"]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(`---\n# Source: p2p-operator/templates/crds.yaml\n${repoCrd}`);
  });

  it("adds only the helm.sh/resource-policy: keep annotation when crds.keep is on", async () => {
    const result = await helmTemplateRaw({ crds: { enabled: true, keep: true } }, ["--show-only", "templates/crds.yaml"]);
    const [doc] = splitRendered(result.stdout);
    // The one line (and its annotations: key, if crds/ has none) inserted under metadata.
    const expected = repoCrd.replace(/^metadata:\n(  annotations:\n)?/m, "metadata:\n  annotations:\n    helm.sh/resource-policy: keep\n");
    expect(doc!.text).toBe(expected);
    expect(doc!.object.metadata.annotations).toMatchObject({ "helm.sh/resource-policy": "keep" });
  });

  it("is left out with crds.enabled=false", async () => {
    const docs = await helmTemplate({ crds: { enabled: false } });
    expect(docs.some((d) => d.object.kind === "CustomResourceDefinition")).toBe(false);
    expect(docs.some((d) => d.object.kind === "Deployment")).toBe(true);
  });
});
