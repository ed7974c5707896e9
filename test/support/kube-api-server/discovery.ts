// Legacy (unaggregated) discovery: /api, /apis, /apis/<group>, and the resource lists
// of each group version. kubectl asks for aggregated discovery first and falls back to
// these when the answer is a plain APIGroupList, as it does with older servers.
import { createHash } from "node:crypto";
import { apiVersionOf } from "./resources.js";
import type { ResourceRegistry, ResourceType } from "./resources.js";

export const SERVER_VERSION = {
  major: "1",
  minor: "33",
  gitVersion: "v1.33.0-p2p-test",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2025-04-23T00:00:00Z",
  goVersion: "go1.24.2",
  compiler: "gc",
  platform: "linux/amd64",
};

function storageVersionHash(rt: ResourceType): string {
  return createHash("sha256").update(`${rt.group}/${rt.version}/${rt.kind}`).digest("base64").slice(0, 11);
}

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function groupOf(name: string, versions: string[]): Record<string, unknown> {
  const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: entries, preferredVersion: entries[0] };
}

export function apiGroupList(registry: ResourceRegistry): Record<string, unknown> {
  const groups = [...registry.groups()]
    .filter(([name]) => name !== "")
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, versions]) => groupOf(name, versions));
  return { kind: "APIGroupList", apiVersion: "v1", groups };
}

export function apiGroup(registry: ResourceRegistry, name: string): Record<string, unknown> | undefined {
  const versions = registry.groups().get(name);
  if (!versions || name === "") return undefined;
  return { kind: "APIGroup", apiVersion: "v1", ...groupOf(name, versions) };
}

export function apiResourceList(registry: ResourceRegistry, group: string, version: string): Record<string, unknown> | undefined {
  const types = registry.inGroupVersion(group, version);
  if (types.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const rt of types.sort((a, b) => a.plural.localeCompare(b.plural))) {
    const entry: Record<string, unknown> = {
      name: rt.plural,
      singularName: rt.singular,
      namespaced: rt.namespaced,
      kind: rt.kind,
      verbs: rt.verbs,
      storageVersionHash: storageVersionHash(rt),
    };
    if (rt.shortNames.length > 0) entry["shortNames"] = rt.shortNames;
    if (rt.categories.length > 0) entry["categories"] = rt.categories;
    resources.push(entry);
    if (rt.statusSubresource) {
      resources.push({ name: `${rt.plural}/status`, singularName: "", namespaced: rt.namespaced, kind: rt.kind, verbs: ["get", "patch", "update"] });
    }
    if (rt.scale) {
      resources.push({
        name: `${rt.plural}/scale`,
        singularName: "",
        namespaced: rt.namespaced,
        group: "autoscaling",
        version: "v1",
        kind: "Scale",
        verbs: ["get", "patch", "update"],
      });
    }
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: apiVersionOf(types[0] as ResourceType), resources };
}
