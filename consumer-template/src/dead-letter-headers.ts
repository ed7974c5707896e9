// Headers on a dead-lettered message. The operator's dead-letter mover writes the same ones
// (a unit test keeps the two in step), so every message in the DLQ stream reads alike.
export const DeadLetterHeaders = {
  OriginalSubject: "P2P-Original-Subject",
  OriginalSequence: "P2P-Original-Sequence",
  OriginalStream: "P2P-Original-Stream",
  OriginalMsgId: "P2P-Original-Msg-Id",
  Deliveries: "P2P-Deliveries",
  Reason: "P2P-Reason",
} as const;
