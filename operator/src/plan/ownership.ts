import type { ChannelOwner } from "../api/resolved.js";
import type { ObservedStream, StreamRole } from "./nats-model.js";

// Which channel a stream belongs to, stamped in its description (every server) and in its
// metadata (servers >= 2.10). The description is the source that works everywhere; metadata
// wins where present because nobody edits it by accident in a UI.

const PREFIX = "p2p-operator channel";
const ROLE_SUFFIX: Record<StreamRole, string> = {
  work: "",
  deadLetter: ": dead letters",
  advisories: ": max-deliveries advisories",
};

export const OWNER_METADATA_KEYS = {
  namespace: "messaging.p2p.dev/owner-namespace",
  name: "messaging.p2p.dev/owner-name",
  uid: "messaging.p2p.dev/owner-uid",
} as const;

/** `p2p-operator channel <namespace>/<name> uid <uid>`, with a role suffix for the dead-letter streams. */
export function ownerDescription(owner: ChannelOwner, role: StreamRole): string {
  return `${PREFIX} ${owner.namespace}/${owner.name} uid ${owner.uid || "-"}${ROLE_SUFFIX[role]}`;
}

export function ownerMetadata(owner: ChannelOwner): Record<string, string> {
  return {
    [OWNER_METADATA_KEYS.namespace]: owner.namespace,
    [OWNER_METADATA_KEYS.name]: owner.name,
    [OWNER_METADATA_KEYS.uid]: owner.uid,
  };
}

const DESCRIPTION_RE = /^p2p-operator channel ([^\s/]+)\/(\S+) uid (\S+)(?::.*)?$/;

export function parseOwnerDescription(description: string): ChannelOwner | null {
  const m = DESCRIPTION_RE.exec(description.trim());
  if (!m) return null;
  const [, namespace = "", name = "", uid = ""] = m;
  return { namespace, name, uid: uid === "-" ? "" : uid };
}

/** The stamped owner of a stream, or null when it carries no stamp (created by someone else). */
export function ownerOf(stream: ObservedStream): ChannelOwner | null {
  const md = stream.settings.metadata;
  const namespace = md?.[OWNER_METADATA_KEYS.namespace];
  const name = md?.[OWNER_METADATA_KEYS.name];
  if (namespace && name) return { namespace, name, uid: md?.[OWNER_METADATA_KEYS.uid] ?? "" };
  return parseOwnerDescription(stream.settings.description);
}

export type Ownership =
  | { kind: "ours" }
  | { kind: "unstamped" }
  /** Stamped by a channel of the same namespace/name but another uid: an earlier incarnation (deleted with Retain). */
  | { kind: "earlier"; owner: ChannelOwner }
  | { kind: "another"; owner: ChannelOwner };

export function ownershipOf(stream: ObservedStream, channel: ChannelOwner): Ownership {
  const owner = ownerOf(stream);
  if (!owner) return { kind: "unstamped" };
  if (owner.namespace !== channel.namespace || owner.name !== channel.name) return { kind: "another", owner };
  if (owner.uid === channel.uid) return { kind: "ours" };
  return { kind: "earlier", owner };
}

export function formatOwner(owner: ChannelOwner): string {
  return `${owner.namespace}/${owner.name}${owner.uid ? ` (uid ${owner.uid})` : ""}`;
}
