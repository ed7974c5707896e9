import type { ResolvedChannel } from "../api/resolved.js";

/** Beyond the longest handler: releasing the buffer, the last acks and closing the connection. */
export const STOP_MARGIN_SECONDS = 5;

/**
 * How long a consumer replica gets between SIGTERM and SIGKILL when the template does not say
 * (a pod's terminationGracePeriodSeconds). On SIGTERM a replica stops pulling, finishes what is
 * in flight and exits. A handler still running past the ack wait of its delivery has lost the
 * message to a redelivery anyway, so the longest ack wait bounds the work worth waiting for:
 * ackWait, or with a backoff the longest of its steps (the server times delivery n out after
 * backoff[n-1], the last step repeating). A handler that calls working() to run longer needs
 * terminationGracePeriodSeconds of its own in the template.
 */
export function terminationGracePeriodSeconds(channel: ResolvedChannel): number {
  const { ackWaitMs, backoffMs } = channel.consumer;
  const longestAckWaitMs = backoffMs.length > 0 ? Math.max(...backoffMs) : ackWaitMs;
  return Math.ceil(longestAckWaitMs / 1000) + STOP_MARGIN_SECONDS;
}

/** The template's own terminationGracePeriodSeconds wins; else the channel's. */
export function podTerminationGraceSeconds(channel: ResolvedChannel, podSpec: Record<string, unknown> | undefined): number {
  const own = podSpec?.terminationGracePeriodSeconds;
  return typeof own === "number" && Number.isInteger(own) && own >= 0 ? own : terminationGracePeriodSeconds(channel);
}
