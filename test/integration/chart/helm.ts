// Runs the real helm (and kubectl) binaries against charts/p2p-operator and parses what
// they render. The binaries come from scripts/ensure-tools.sh (.tools/bin), or PATH.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import type { ProcessOutcome } from "../../support/run-process.js";

const run = promisify(execFile);

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
export const chartDir = join(repoRoot, "charts/p2p-operator");
export const crdFile = "pointtopointchannels.messaging.p2p.dev.yaml";
export const repoCrdPath = join(repoRoot, "crds", crdFile);
export const chartCrdPath = join(chartDir, "files/crds", crdFile);

export function toolPath(name: "helm" | "kubectl"): string {
  const local = join(repoRoot, ".tools/bin", name);
  return existsSync(local) ? local : name;
}

export interface KubeManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** One rendered document: the template it came from, its raw text and the parsed object. */
export interface RenderedDoc {
  source: string;
  text: string;
  object: KubeManifest;
}

export function runTool(name: "helm" | "kubectl", args: string[], env?: NodeJS.ProcessEnv): Promise<ProcessOutcome> {
  return runBinary(toolPath(name), args, env);
}

/**
 * Runs a binary from the repository root; a non-zero exit is a result, a missing binary an
 * error. Unlike runProcess (test/support/run-process.ts): no timeout, and the test's env added.
 */
export async function runBinary(bin: string, args: string[], env?: NodeJS.ProcessEnv): Promise<ProcessOutcome> {
  try {
    const { stdout, stderr } = await run(bin, args, {
      cwd: repoRoot,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== "number") throw err; // the binary is missing, not a failed run
    return { code: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** Turns a values object into helm's `--set-json key=json` arguments, one per top-level key. */
export function valueArgs(values: Record<string, unknown>): string[] {
  return Object.entries(values).flatMap(([key, value]) => ["--set-json", `${key}=${JSON.stringify(value)}`]);
}

export const RELEASE = "p2p";
export const RELEASE_NAMESPACE = "p2p-system";

/** `helm template`; resolves with the result whether or not helm succeeded. */
export async function helmTemplateRaw(values: Record<string, unknown> = {}, extraArgs: string[] = []): Promise<ProcessOutcome> {
  return runTool("helm", ["template", RELEASE, chartDir, "--namespace", RELEASE_NAMESPACE, ...valueArgs(values), ...extraArgs]);
}

export async function helmTemplate(values: Record<string, unknown> = {}): Promise<RenderedDoc[]> {
  const result = await helmTemplateRaw(values);
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}): ${result.stderr}`);
  return splitRendered(result.stdout);
}

export async function helmLint(values: Record<string, unknown> = {}): Promise<ProcessOutcome> {
  return runTool("helm", ["lint", "--strict", chartDir, "--namespace", RELEASE_NAMESPACE, ...valueArgs(values)]);
}

/**
 * Splits helm's output into documents. Helm writes each one as
 * `---\n# Source: <chart>/templates/<file>\n<text>`; the text is kept byte for byte.
 */
export function splitRendered(output: string): RenderedDoc[] {
  const docs: RenderedDoc[] = [];
  const parts = output.split(/^---\n/m).filter((part) => part.trim() !== "");
  for (const part of parts) {
    const m = /^# Source: ([^\n]+)\n/.exec(part);
    if (!m) throw new Error(`rendered document without a # Source line:\n${part.slice(0, 200)}`);
    const text = part.slice(m[0].length);
    // YAML 1.1, as Kubernetes reads it (sigs.k8s.io/yaml): 0440 is octal, `on` is true.
    const parsed = parseAllDocuments(text, { version: "1.1" });
    for (const doc of parsed) {
      if (doc.errors.length > 0) throw new Error(`${m[1]}: ${doc.errors[0]!.message}`);
      const object = doc.toJS() as KubeManifest | null;
      if (object === null) continue; // a template that rendered only comments
      docs.push({ source: m[1]!, text, object });
    }
  }
  return docs;
}

export function kindsOf(docs: RenderedDoc[]): string[] {
  return docs.map((d) => `${d.object.kind}/${d.object.metadata.namespace ?? ""}/${d.object.metadata.name}`).sort();
}

export function findDoc(docs: RenderedDoc[], kind: string, name?: string): KubeManifest {
  const doc = docs.find((d) => d.object.kind === kind && (name === undefined || d.object.metadata.name === name));
  if (!doc) throw new Error(`no ${kind}${name ? ` ${name}` : ""} in: ${kindsOf(docs).join(", ")}`);
  return doc.object;
}

/** Every value set the chart is tested with: defaults, namespaced mode, everything on. */
export const VALUE_SETS: Record<string, Record<string, unknown>> = {
  "default values": {},
  "namespaced mode": { watchNamespaces: ["a", "b"] },
  "every optional feature on": {
    watchNamespaces: ["team-a", "team-b"],
    nats: { url: "nats://nats.nats:4222", credentials: { secretName: "p2p-nats", key: "operator.creds" } },
    subjectPolicy: "namespaced",
    logLevel: "debug",
    imagePullSecrets: [{ name: "regcred" }],
    rbac: { create: true, extraScaleTargets: [{ apiGroup: "apps", resource: "statefulsets" }] },
    serviceAccount: { create: true, name: "p2p-operator-sa", annotations: { "example.com/role": "p2p" } },
    metrics: {
      port: 8080,
      service: { enabled: true, port: 8080, annotations: { "prometheus.io/scrape": "true" } },
      serviceMonitor: { enabled: true, interval: "15s", scrapeTimeout: "10s", labels: { release: "kube-prometheus-stack" } },
    },
    networkPolicy: {
      enabled: true,
      apiServer: { cidrs: ["10.96.0.1/32", "172.18.0.2/32"], ports: [443, 6443] },
      nats: { cidrs: ["192.0.2.10/32"], port: 4222 },
      metrics: { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }] },
      extraEgress: [{ to: [{ ipBlock: { cidr: "198.51.100.0/24" } }], ports: [{ port: 7422, protocol: "TCP" }] }],
    },
    podDisruptionBudget: { enabled: true, maxUnavailable: 1 },
    crds: { enabled: true, keep: true },
    podAnnotations: { "example.com/audit": "on" },
    podLabels: { team: "messaging" },
    nodeSelector: { "kubernetes.io/os": "linux" },
    tolerations: [{ key: "dedicated", operator: "Equal", value: "platform", effect: "NoSchedule" }],
    affinity: {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: {
              topologyKey: "kubernetes.io/hostname",
              labelSelector: { matchLabels: { "app.kubernetes.io/name": "p2p-operator" } },
            },
          },
        ],
      },
    },
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway" }],
    priorityClassName: "system-cluster-critical",
    extraEnv: [
      { name: "NODE_OPTIONS", value: "--max-old-space-size=192" },
      { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
    ],
  },
};
