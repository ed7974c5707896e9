// What the process node does before it starts a pod's first container, as a kubelet would:
// resolves env (value, secretKeyRef, configMapKeyRef, fieldRef, envFrom), writes Secret,
// ConfigMap, projected (service-account token, CA, namespace) and emptyDir volumes into a
// private folder, and gives each container port a free loopback port.
//
// A process cannot mount anything at the container's paths, so paths and ports are
// rewritten: an env value or argument that starts with a volume's mountPath gets the host
// folder instead, and one that is a container port (`8080`, `:8080`, `--port=8080`) gets the
// remapped port. Probes follow the remap.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { V1Container, V1KeyToPath, V1Pod, V1Volume } from "@kubernetes/client-node";
import { freePort } from "../nats-server.js";
import { requestToken } from "./api-calls.js";
import type { RestClient } from "./rest.js";
import { KubeStatusError } from "./rest.js";

/** A pod that cannot start yet (a missing Secret, no command): kubelet's CreateContainerConfigError. */
export class ContainerConfigError extends Error {
  override name = "ContainerConfigError";
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface PreparedContainer {
  container: V1Container;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** containerPort -> host port on 127.0.0.1. */
  ports: Map<number, number>;
  /** Named container ports -> host port. */
  namedPorts: Map<string, number>;
}

type Data = Record<string, string>;

interface Sources {
  secret(name: string): Promise<Data | null>;
  configMap(name: string): Promise<Data | null>;
}

function sourcesFor(client: RestClient, namespace: string): Sources {
  const cache = new Map<string, Promise<Data | null>>();
  const read = (kind: "secrets" | "configmaps", name: string) => {
    const key = `${kind}/${name}`;
    let hit = cache.get(key);
    if (!hit) {
      hit = client.find<{ data?: Data }>(`/api/v1/namespaces/${namespace}/${kind}/${name}`).then((o) => {
        if (!o) return null;
        const data = o.data ?? {};
        if (kind === "configmaps") return data;
        return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
      });
      cache.set(key, hit);
    }
    return hit;
  };
  return { secret: (name) => read("secrets", name), configMap: (name) => read("configmaps", name) };
}

function fieldOf(pod: V1Pod, fieldPath: string): string {
  const fields: Record<string, string | undefined> = {
    "metadata.name": pod.metadata?.name,
    "metadata.namespace": pod.metadata?.namespace,
    "metadata.uid": pod.metadata?.uid,
    "spec.nodeName": pod.spec?.nodeName,
    "spec.serviceAccountName": pod.spec?.serviceAccountName,
    "status.podIP": "127.0.0.1",
    "status.hostIP": "127.0.0.1",
  };
  const value = fields[fieldPath];
  if (value === undefined) throw new ContainerConfigError("CreateContainerConfigError", `fieldRef ${fieldPath} is not supported by the process node`);
  return value;
}

async function resolveEnv(pod: V1Pod, container: V1Container, sources: Sources): Promise<Data> {
  const env: Data = {};
  const missing = (kind: string, name: string) => new ContainerConfigError("CreateContainerConfigError", `${kind} "${name}" not found`);
  for (const from of container.envFrom ?? []) {
    const name = from.secretRef?.name ?? from.configMapRef?.name ?? "";
    const data = from.secretRef ? await sources.secret(name) : await sources.configMap(name);
    const optional = from.secretRef?.optional ?? from.configMapRef?.optional ?? false;
    if (!data) {
      if (optional) continue;
      throw missing(from.secretRef ? "secret" : "configmap", name);
    }
    for (const [k, v] of Object.entries(data)) env[`${from.prefix ?? ""}${k}`] = v;
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined || !e.valueFrom) {
      env[e.name] = e.value ?? "";
      continue;
    }
    const ref = e.valueFrom.secretKeyRef ?? e.valueFrom.configMapKeyRef;
    if (ref) {
      const kind = e.valueFrom.secretKeyRef ? "secret" : "configmap";
      const data = kind === "secret" ? await sources.secret(ref.name ?? "") : await sources.configMap(ref.name ?? "");
      const value = data?.[ref.key];
      if (value === undefined) {
        if (ref.optional) continue;
        throw data ? new ContainerConfigError("CreateContainerConfigError", `couldn't find key ${ref.key} in ${kind} ${pod.metadata?.namespace}/${ref.name}`) : missing(kind, ref.name ?? "");
      }
      env[e.name] = value;
    } else if (e.valueFrom.fieldRef) {
      env[e.name] = fieldOf(pod, e.valueFrom.fieldRef.fieldPath);
    } else {
      throw new ContainerConfigError("CreateContainerConfigError", `env ${e.name}: only secretKeyRef, configMapKeyRef and fieldRef are supported by the process node`);
    }
  }
  return env;
}

async function writeItems(dir: string, data: Data, items: V1KeyToPath[] | undefined): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const entries: Array<[string, string]> = items?.length ? items.flatMap((i) => (data[i.key] === undefined ? [] : [[i.path, data[i.key]!] as [string, string]])) : Object.entries(data);
  for (const [path, value] of entries) {
    await mkdir(join(dir, path, ".."), { recursive: true, mode: 0o700 });
    await writeFile(join(dir, path), value, { mode: 0o600 });
  }
}

async function writeVolume(pod: V1Pod, volume: V1Volume, dir: string, client: RestClient, sources: Sources): Promise<void> {
  const ns = pod.metadata?.namespace ?? "default";
  if (volume.secret) {
    const data = await sources.secret(volume.secret.secretName ?? "");
    if (!data && !volume.secret.optional) throw new ContainerConfigError("CreateContainerConfigError", `secret "${volume.secret.secretName}" not found (volume ${volume.name})`);
    await writeItems(dir, data ?? {}, volume.secret.items);
  } else if (volume.configMap) {
    const data = await sources.configMap(volume.configMap.name ?? "");
    if (!data && !volume.configMap.optional) throw new ContainerConfigError("CreateContainerConfigError", `configmap "${volume.configMap.name}" not found (volume ${volume.name})`);
    await writeItems(dir, data ?? {}, volume.configMap.items);
  } else if (volume.projected) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const source of volume.projected.sources ?? []) {
      if (source.serviceAccountToken) {
        const sa = pod.spec?.serviceAccountName ?? "default";
        const token = await requestToken(client, ns, sa, {
          audiences: source.serviceAccountToken.audience ? [source.serviceAccountToken.audience] : undefined,
          expirationSeconds: source.serviceAccountToken.expirationSeconds ?? 3607,
          boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.metadata?.name, uid: pod.metadata?.uid },
        });
        await writeFile(join(dir, source.serviceAccountToken.path), token, { mode: 0o600 });
      } else if (source.configMap) {
        const data = await sources.configMap(source.configMap.name ?? "");
        if (data) await writeItems(dir, data, source.configMap.items);
      } else if (source.secret) {
        const data = await sources.secret(source.secret.name ?? "");
        if (data) await writeItems(dir, data, source.secret.items);
      } else if (source.downwardAPI) {
        for (const item of source.downwardAPI.items ?? []) {
          if (item.fieldRef) await writeFile(join(dir, item.path), fieldOf(pod, item.fieldRef.fieldPath), { mode: 0o600 });
        }
      }
    }
  } else {
    // emptyDir and anything else: an empty private folder.
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
}

function rewrite(value: string, mounts: Array<[string, string]>, ports: Map<number, number>): string {
  for (const [mountPath, hostDir] of mounts) {
    if (value === mountPath || value.startsWith(`${mountPath}/`)) return hostDir + value.slice(mountPath.length);
  }
  for (const [containerPort, hostPort] of ports) {
    const p = String(containerPort);
    if (value === p) return String(hostPort);
    const m = new RegExp(`^(.*[:=])${p}$`).exec(value);
    if (m) return `${m[1]}${hostPort}`;
  }
  return value;
}

export async function prepareContainer(pod: V1Pod, client: RestClient, podDir: string, apiServerPort: number): Promise<PreparedContainer> {
  const container = pod.spec?.containers?.[0];
  if (!container) throw new ContainerConfigError("CreateContainerConfigError", "the pod has no container");
  const commandLine = [...(container.command ?? []), ...(container.args ?? [])];
  if (!container.command?.length) {
    throw new ContainerConfigError("CreateContainerConfigError", `container ${container.name} has no command: the process node runs a container's command, and cannot know its image's entrypoint`);
  }
  const sources = sourcesFor(client, pod.metadata?.namespace ?? "default");
  const mounts: Array<[string, string]> = [];
  try {
    const byName = new Map((pod.spec?.volumes ?? []).map((v) => [v.name, v]));
    for (const mount of container.volumeMounts ?? []) {
      const volume = byName.get(mount.name);
      if (!volume) throw new ContainerConfigError("CreateContainerConfigError", `volumeMount ${mount.name} names no volume`);
      const dir = join(podDir, "volumes", mount.name);
      await writeVolume(pod, volume, dir, client, sources);
      mounts.push([mount.mountPath.replace(/\/$/, ""), mount.subPath ? join(dir, mount.subPath) : dir]);
    }
    mounts.sort((a, b) => b[0].length - a[0].length);
    const ports = new Map<number, number>();
    const namedPorts = new Map<string, number>();
    for (const port of container.ports ?? []) {
      const host = await freePort();
      ports.set(port.containerPort, host);
      if (port.name) namedPorts.set(port.name, host);
    }
    const resolved = await resolveEnv(pod, container, sources);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: podDir,
      HOSTNAME: pod.metadata?.name ?? "",
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: String(apiServerPort),
    };
    for (const [k, v] of Object.entries(resolved)) env[k] = rewrite(v, mounts, ports);
    const [command, ...args] = commandLine.map((a) => rewrite(a, mounts, ports));
    return { container, command: command ?? "", args, env, ports, namedPorts };
  } catch (err) {
    if (err instanceof KubeStatusError && err.code === 403) throw new ContainerConfigError("CreateContainerConfigError", err.message);
    throw err;
  }
}
