import type { JetStreamClient, JetStreamManager, PubAck, StoredMsg } from "@nats-io/jetstream";
import { headers, type MsgHdrs } from "@nats-io/transport-node";
import { DeadLetterHeaders } from "./dead-letter-mover.js";
import { isApiError, JsApiCode } from "./errors.js";

// What `p2p dlq` does with a channel's `<stream>_DLQ`: read dead letters, replay them to the
// subject they came from, delete them. A replay deletes from the DLQ only after the work stream
// acknowledged the publish; its Nats-Msg-Id is derived from the DLQ sequence, so a replay
// repeated after a crash between publish and delete is dropped as a duplicate, not processed twice.

/** How many times a message has been replayed out of a DLQ; survives its next trip into the DLQ. */
export const REPLAY_COUNT_HEADER = "P2P-Replay-Count";

const DEAD_LETTER_HEADER_NAMES = new Set<string>(Object.values(DeadLetterHeaders).map((h) => h.toLowerCase()));

export interface DeadLetter {
  /** Sequence in the DLQ stream. */
  seq: number;
  /** When it was stored in the DLQ (ISO 8601). */
  time: string;
  originalSubject: string | null;
  originalStream: string | null;
  originalSequence: number | null;
  deliveries: number | null;
  /** The last error: `max_deliveries`, or the consumer's PermanentError message. */
  reason: string | null;
  replayCount: number;
  headers: Record<string, string[]>;
  data: Uint8Array;
}

export interface DeadLetterSelection {
  /** Only these DLQ sequences. */
  seqs?: number[];
  /** At most this many, oldest first. */
  limit?: number;
}

export type ReplayResult =
  | { seq: number; outcome: "replayed"; subject: string; workSeq: number; duplicate: boolean }
  | { seq: number; outcome: "skipped"; why: string };

export class DeadLetterQueueNotFoundError extends Error {
  override readonly name = "DeadLetterQueueNotFoundError";
}

/** Dead letters in `stream`, oldest first; missing sequences (deleted, expired) are left out. */
export async function readDeadLetters(jsm: JetStreamManager, stream: string, selection: DeadLetterSelection = {}): Promise<DeadLetter[]> {
  const limit = selection.limit ?? Number.POSITIVE_INFINITY;
  const found: DeadLetter[] = [];
  for (const seq of await sequencesOf(jsm, stream, selection.seqs)) {
    if (found.length >= limit) break;
    const stored = await getOrNull(jsm, stream, seq);
    if (stored) found.push(deadLetterOf(stored));
  }
  return found;
}

/** Republishes one dead letter to its original subject, then deletes it from the DLQ. */
export async function replayDeadLetter(js: JetStreamClient, jsm: JetStreamManager, stream: string, letter: DeadLetter): Promise<ReplayResult> {
  if (!letter.originalSubject) {
    return { seq: letter.seq, outcome: "skipped", why: `no ${DeadLetterHeaders.OriginalSubject} header: not a dead letter written by p2p; left in place` };
  }
  const ack: PubAck = await js.publish(letter.originalSubject, letter.data, {
    headers: replayHeaders(letter),
    msgID: replayMsgId(stream, letter.seq),
    ...(letter.originalStream ? { expect: { streamName: letter.originalStream } } : {}),
  });
  await deleteIfPresent(jsm, stream, letter.seq);
  return { seq: letter.seq, outcome: "replayed", subject: letter.originalSubject, workSeq: ack.seq, duplicate: ack.duplicate };
}

/** Deletes the selected dead letters (all of them without a selection); returns how many went. */
export async function purgeDeadLetters(jsm: JetStreamManager, stream: string, selection: DeadLetterSelection = {}): Promise<number> {
  if (selection.seqs === undefined && selection.limit === undefined) {
    await ensureStream(jsm, stream);
    return (await jsm.streams.purge(stream)).purged;
  }
  let purged = 0;
  for (const letter of await readDeadLetters(jsm, stream, selection)) {
    if (await deleteIfPresent(jsm, stream, letter.seq)) purged += 1;
  }
  return purged;
}

export function replayMsgId(stream: string, seq: number): string {
  return `replay-${stream}-${seq}`;
}

/** The message's own headers (not the server's Nats-*, not the dead-letter ones) plus the replay count. */
function replayHeaders(letter: DeadLetter): MsgHdrs {
  const h = headers();
  for (const [key, values] of Object.entries(letter.headers)) {
    const lower = key.toLowerCase();
    if (lower.startsWith("nats-") || DEAD_LETTER_HEADER_NAMES.has(lower) || lower === REPLAY_COUNT_HEADER.toLowerCase()) continue;
    for (const v of values) h.append(key, v);
  }
  h.set(REPLAY_COUNT_HEADER, String(letter.replayCount + 1));
  return h;
}

function deadLetterOf(m: StoredMsg): DeadLetter {
  const all: Record<string, string[]> = {};
  for (const [key, values] of m.header) all[key] = [...values];
  const one = (name: string): string | null => m.header.get(name) || null;
  const int = (name: string): number | null => {
    const n = Number(one(name));
    return one(name) !== null && Number.isInteger(n) ? n : null;
  };
  return {
    seq: m.seq,
    time: m.time.toISOString(),
    originalSubject: one(DeadLetterHeaders.OriginalSubject),
    originalStream: one(DeadLetterHeaders.OriginalStream),
    originalSequence: int(DeadLetterHeaders.OriginalSequence),
    deliveries: int(DeadLetterHeaders.Deliveries),
    reason: one(DeadLetterHeaders.Reason),
    replayCount: int(REPLAY_COUNT_HEADER) ?? 0,
    headers: all,
    data: m.data,
  };
}

async function sequencesOf(jsm: JetStreamManager, stream: string, seqs: number[] | undefined): Promise<Iterable<number>> {
  const { state } = await ensureStream(jsm, stream);
  if (seqs) return [...new Set(seqs)].sort((a, b) => a - b);
  const { first_seq: first, last_seq: last } = state;
  return (function* () {
    for (let seq = first; seq <= last && seq > 0; seq++) yield seq;
  })();
}

async function ensureStream(jsm: JetStreamManager, stream: string) {
  try {
    return await jsm.streams.info(stream);
  } catch (err) {
    if (isApiError(err, JsApiCode.StreamNotFound)) {
      throw new DeadLetterQueueNotFoundError(`stream ${stream} not found: the channel has no spec.consumer.deadLetter, or the operator has not created it yet`, { cause: err });
    }
    throw err;
  }
}

async function getOrNull(jsm: JetStreamManager, stream: string, seq: number): Promise<StoredMsg | null> {
  try {
    return await jsm.streams.getMessage(stream, { seq });
  } catch (err) {
    if (isApiError(err, JsApiCode.NoMessageFound)) return null;
    throw err;
  }
}

/** false when it was already gone (expired, or deleted by an earlier run). */
async function deleteIfPresent(jsm: JetStreamManager, stream: string, seq: number): Promise<boolean> {
  try {
    return await jsm.streams.deleteMessage(stream, seq);
  } catch (err) {
    if (isApiError(err, JsApiCode.NoMessageFound, JsApiCode.StreamMsgDeleteFailed) && !(await getOrNull(jsm, stream, seq))) return false;
    throw err;
  }
}
