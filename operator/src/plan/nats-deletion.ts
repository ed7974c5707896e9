import type { ResolvedChannel } from "../api/resolved.js";
import type { NatsAction, ObservedStream, StreamRole } from "./nats-model.js";
import { formatOwner, ownerOf, ownershipOf } from "./ownership.js";

export interface NatsDeletionPlan {
  actions: NatsAction[];
  /** Streams left in place because another channel (or nobody) owns them. */
  kept: Array<{ role: StreamRole; name: string; why: string }>;
}

/**
 * On channel deletion with deletionPolicy Delete: remove the work stream (its consumer goes with
 * it), the DLQ and the advisory stream, but only those stamped with this very channel.
 * Retain removes nothing.
 */
export function planNatsDeletion(
  channel: ResolvedChannel,
  streams: Partial<Record<StreamRole, ObservedStream | null>>,
): NatsDeletionPlan {
  const plan: NatsDeletionPlan = { actions: [], kept: [] };
  if (channel.deletionPolicy !== "Delete") return plan;
  for (const role of ["advisories", "deadLetter", "work"] as const) {
    const stream = streams[role];
    if (!stream) continue;
    const ownership = ownershipOf(stream, channel.owner);
    if (ownership.kind === "ours") {
      plan.actions.push({ kind: "deleteStream", role, name: stream.settings.name });
    } else {
      const owner = ownerOf(stream);
      plan.kept.push({ role, name: stream.settings.name, why: owner ? `owned by ${formatOwner(owner)}` : "not created by p2p-operator" });
    }
  }
  return plan;
}
