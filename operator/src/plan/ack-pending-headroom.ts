// maxAckPending is shared by all replicas of a channel: each pulls at most P2P_MAX_BATCH =
// max(1, floor(maxAckPending / maxReplicas)). Below one message per replica, the server stops
// delivering once maxAckPending messages are out, so replicas beyond maxAckPending hold
// nothing and scaling up to them adds no throughput.

export interface AckPendingShortfall {
  /** Most replicas that can hold a message at once. */
  usefulReplicas: number;
  /** What is wrong, and the two ways to fix it. */
  message: string;
}

export function ackPendingShortfall(maxAckPending: number, maxReplicas: number): AckPendingShortfall | null {
  if (maxAckPending >= maxReplicas) return null;
  return {
    usefulReplicas: maxAckPending,
    message:
      `maxAckPending ${maxAckPending} is below maxReplicas ${maxReplicas}: at most ${maxAckPending} replicas can hold a message ` +
      `at once (maxAckPending is shared by all replicas), so replicas beyond ${maxAckPending} add nothing; ` +
      `raise spec.consumer.maxAckPending to at least ${maxReplicas} (maxReplicas x the batch each replica should pull), ` +
      `or lower spec.scaling.maxReplicas to ${maxAckPending}`,
  };
}
