import { createHash } from "node:crypto";
import type { ResolvedChannel } from "../api/resolved.js";
import { API_GROUP, API_VERSION, KIND, type ContainerSpec, type PodTemplateSpec } from "../api/types.js";
import type { NatsCredentials } from "../ports/index.js";
import { CREDENTIAL_FILES, CREDENTIALS_DIR } from "../plan/consumer-env.js";
import { podTerminationGraceSeconds } from "../plan/termination-grace.js";
import type { Deployment } from "./objects.js";
import type { OwnerReference } from "./rest.js";

// The owned consumer Deployment, built purely from the channel: labels, selector, owner
// reference, the consumer env in every container and the channel's Secret mounted as files.

export const CHANNEL_LABEL = `${API_GROUP}/channel`;
export const TEMPLATE_HASH_ANNOTATION = `${API_GROUP}/template-hash`;
export const CREDENTIALS_VOLUME = "p2p-credentials";

/** The selector is immutable on a Deployment, so it holds only what never changes for a channel. */
export function selectorLabels(channelName: string): Record<string, string> {
  return { "app.kubernetes.io/instance": channelName, [CHANNEL_LABEL]: channelName };
}

/** Our labels; the template's own app.kubernetes.io/name wins (it names the user's application). */
export function deploymentLabels(channelName: string, templateLabels: Record<string, string> = {}): Record<string, string> {
  return {
    "app.kubernetes.io/name": templateLabels["app.kubernetes.io/name"] ?? "p2p-consumer",
    "app.kubernetes.io/managed-by": "p2p-operator",
    ...selectorLabels(channelName),
  };
}

export function ownerReference(channel: ResolvedChannel): OwnerReference {
  return {
    apiVersion: `${API_GROUP}/${API_VERSION}`,
    kind: KIND,
    name: channel.owner.name,
    uid: channel.owner.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Secret keys as DESIGN.md names them, per credential field; the file name is CREDENTIAL_FILES'. */
export const SECRET_KEYS: Record<keyof NatsCredentials, string> = {
  creds: "creds",
  nkeySeed: "nkey",
  token: "token",
  user: "user",
  password: "password",
  caPem: "ca.crt",
  certPem: "tls.crt",
  keyPem: "tls.key",
};

/** Which Secret to mount and which of its keys, or null to mount nothing. */
export interface CredentialMount {
  secretName: string;
  /** Secret key -> file name under CREDENTIALS_DIR. */
  items: Array<{ key: string; path: string }>;
}

export function credentialMount(secretName: string, credentials: NatsCredentials | null): CredentialMount | null {
  if (!credentials) return null;
  const items = CREDENTIAL_FILES.filter(({ field }) => credentials[field] !== undefined).map(({ field, file }) => ({
    key: SECRET_KEYS[field],
    path: file,
  }));
  return items.length ? { secretName, items } : null;
}

/**
 * The consumer env as container env entries, in a stable order. Without a mounted Secret the
 * credential file variables would point at files that do not exist, so they are left out.
 */
export function envEntries(env: Record<string, string>, mount: CredentialMount | null): Array<{ name: string; value: string }> {
  return Object.keys(env)
    .sort()
    .filter((name) => mount !== null || !(env[name]?.startsWith(`${CREDENTIALS_DIR}/`) || name === "NATS_USER"))
    .map((name) => ({ name, value: env[name] ?? "" }));
}

function injectContainer(c: ContainerSpec, env: Array<{ name: string; value: string }>, mount: CredentialMount | null): ContainerSpec {
  const injected = new Set(env.map((e) => e.name));
  // Injected variables come first so the user's own env may refer to them as $(P2P_STREAM).
  const userEnv = (c.env ?? []).filter((e) => !injected.has(e.name));
  const out: ContainerSpec = { ...c, env: [...env, ...userEnv] };
  const mounts = ((c.volumeMounts as Array<{ name: string }> | undefined) ?? []).filter((m) => m.name !== CREDENTIALS_VOLUME);
  if (mount) mounts.push({ name: CREDENTIALS_VOLUME, mountPath: CREDENTIALS_DIR, readOnly: true } as { name: string });
  if (mounts.length) out.volumeMounts = mounts;
  else delete out.volumeMounts;
  return out;
}

// Pod Security Standards "restricted" by default; whatever the template sets wins, field by field.
const RESTRICTED_POD = { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } };
const RESTRICTED_CONTAINER = { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } };

function restricted(c: ContainerSpec): ContainerSpec {
  return { ...c, securityContext: { ...RESTRICTED_CONTAINER, ...(c.securityContext as object | undefined) } };
}

/**
 * The pod template the Deployment should have (restricted security defaults, consumer env,
 * credentials, a termination grace period that lets a replica finish its in-flight work).
 */
export function desiredPodTemplate(channel: ResolvedChannel, template: PodTemplateSpec, env: Record<string, string>, mount: CredentialMount | null): PodTemplateSpec {
  const entries = envEntries(env, mount);
  const spec = template.spec ?? { containers: [] };
  const initContainers = spec.initContainers as ContainerSpec[] | undefined;
  const volumes = ((spec.volumes as Array<{ name: string }> | undefined) ?? []).filter((v) => v.name !== CREDENTIALS_VOLUME);
  if (mount) {
    volumes.push({ name: CREDENTIALS_VOLUME, secret: { secretName: mount.secretName, items: mount.items } } as { name: string });
  }
  const podSpec: NonNullable<PodTemplateSpec["spec"]> = {
    ...spec,
    securityContext: { ...RESTRICTED_POD, ...(spec.securityContext as object | undefined) },
    terminationGracePeriodSeconds: podTerminationGraceSeconds(channel, spec),
    containers: spec.containers.map((c) => restricted(injectContainer(c, entries, mount))),
  };
  if (initContainers) podSpec.initContainers = initContainers.map((c) => restricted(injectContainer(c, entries, mount)));
  if (volumes.length) podSpec.volumes = volumes;
  else delete podSpec.volumes;
  const metadata: NonNullable<PodTemplateSpec["metadata"]> = {
    labels: { ...(template.metadata?.labels ?? {}), ...deploymentLabels(channel.owner.name, template.metadata?.labels) },
  };
  if (template.metadata?.annotations && Object.keys(template.metadata.annotations).length) {
    metadata.annotations = { ...template.metadata.annotations };
  }
  return { metadata, spec: podSpec };
}

export function templateHash(template: PodTemplateSpec): string {
  return createHash("sha256").update(canonicalJson(template)).digest("hex").slice(0, 16);
}

export function buildDeployment(channel: ResolvedChannel, template: PodTemplateSpec, replicas: number): Deployment {
  if (channel.workload.kind !== "template") throw new Error(`${channel.key} has no workload.template`);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: channel.workload.deploymentName,
      namespace: channel.owner.namespace,
      labels: deploymentLabels(channel.owner.name, template.metadata?.labels),
      annotations: { [TEMPLATE_HASH_ANNOTATION]: templateHash(template) },
      ownerReferences: [ownerReference(channel)],
    },
    spec: {
      replicas,
      selector: { matchLabels: selectorLabels(channel.owner.name) },
      template: structuredClone(template),
    },
  };
}

/**
 * Where the existing pod template departs from the desired one, as field paths (never values:
 * env may hold things that should not reach a log). Fields the API server defaulted (present in
 * `actual`, absent in `desired`) are not differences; every field we set must be there as we set it.
 */
export function templateDiff(desired: unknown, actual: unknown, path = ""): string[] {
  if (desired === undefined || desired === null) return [];
  if (Array.isArray(desired)) {
    if (!Array.isArray(actual)) return [path || "."];
    if (desired.length !== actual.length) return [`${path} (length ${actual.length} -> ${desired.length})`];
    return desired.flatMap((d, i) => templateDiff(d, actual[i], `${path}[${i}]`));
  }
  if (typeof desired === "object") {
    if (typeof actual !== "object" || actual === null || Array.isArray(actual)) return [path || "."];
    const a = actual as Record<string, unknown>;
    return Object.entries(desired as Record<string, unknown>).flatMap(([k, v]) => templateDiff(v, a[k], path ? `${path}.${k}` : k));
  }
  return desired === actual || (typeof desired === "number" && String(desired) === String(actual)) ? [] : [path || "."];
}

/** Why the Deployment needs an update, or [] when it already matches. */
export function deploymentDrift(existing: Deployment, desiredTemplate: PodTemplateSpec): string[] {
  const reasons: string[] = [];
  const hash = templateHash(desiredTemplate);
  if (existing.metadata.annotations?.[TEMPLATE_HASH_ANNOTATION] !== hash) reasons.push("channel template changed");
  reasons.push(...templateDiff(desiredTemplate, existing.spec?.template).map((p) => `spec.template.${p}`));
  return reasons;
}

/** The existing Deployment with the desired template and our labels; replicas and everything else kept. */
export function updatedDeployment(existing: Deployment, channel: ResolvedChannel, desiredTemplate: PodTemplateSpec): Deployment {
  return {
    ...existing,
    metadata: {
      ...existing.metadata,
      labels: { ...(existing.metadata.labels ?? {}), ...deploymentLabels(channel.owner.name, desiredTemplate.metadata?.labels) },
      annotations: { ...(existing.metadata.annotations ?? {}), [TEMPLATE_HASH_ANNOTATION]: templateHash(desiredTemplate) },
    },
    spec: { ...existing.spec, template: structuredClone(desiredTemplate) },
  };
}

/** Whether this channel (by uid) is the Deployment's controller. */
export function isControlledBy(d: Deployment, uid: string): boolean {
  return (d.metadata.ownerReferences ?? []).some((r) => r.controller === true && r.uid === uid);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
