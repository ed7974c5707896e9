import type { ConsumerStatus } from "../api/types.js";
import { ownershipOf, queueStateFromStream, queueStateOf, type ObservedStream } from "../plan/index.js";
import type { QueueRead, QueueReading } from "../ports/index.js";
import type { NatsConnectionPool } from "./connection-pool.js";
import { observedConsumer, observedStream } from "./convert.js";
import { toNatsError } from "./errors.js";
import { consumerInfo } from "./gather.js";
import { mapWithConcurrency } from "./concurrency.js";

export interface BulkReadOptions {
  pool: NatsConnectionPool;
  now: () => number;
  /** Each channel's consumer as last read: `waiting` and `paused` where the stream alone answers. */
  lastConsumer: Map<string, ConsumerStatus>;
  /** CONSUMER.INFO requests in flight at once per connection. */
  concurrency?: number;
}

/**
 * Every channel's queue in a few requests: per connection one STREAM.LIST, paged by the server
 * (256 streams a page), then CONSUMER.INFO only for channels whose work stream holds messages.
 * An empty work-queue stream with its one consumer has no lag (queueStateFromStream); anything
 * else asks the consumer, which also tells pending from ack-pending.
 */
export async function readQueuesInBulk(reads: readonly QueueRead[], options: BulkReadOptions): Promise<Map<string, QueueReading | Error>> {
  const out = new Map<string, QueueReading | Error>();
  const byConnection = new Map<string, QueueRead[]>();
  for (const read of reads) {
    const group = byConnection.get(read.target.id);
    if (group) group.push(read);
    else byConnection.set(read.target.id, [read]);
  }
  await Promise.all(
    [...byConnection.values()].map(async (group) => {
      const first = group[0]!;
      // Only the streams this group reads are kept (converted as each page arrives): the listing
      // holds every stream of the account, and a page's objects are garbage once it is read.
      const wanted = new Set<string>();
      for (const { channel } of group) {
        wanted.add(channel.stream.name);
        if (channel.consumer.deadLetter) wanted.add(channel.consumer.deadLetter.streamName);
      }
      let streams: Map<string, ObservedStream>;
      let conn: Awaited<ReturnType<NatsConnectionPool["acquire"]>>;
      try {
        conn = await options.pool.acquire(first.target, first.channel.key);
        streams = new Map();
        for await (const si of conn.jsm.streams.list()) if (wanted.has(si.config.name)) streams.set(si.config.name, observedStream(si));
      } catch (err) {
        const failed = toNatsError(err, `STREAM.LIST on ${first.target.servers.join(",")}`);
        for (const { channel } of group) out.set(channel.key, failed);
        return;
      }
      await mapWithConcurrency(group, options.concurrency ?? 32, async ({ channel }) => {
        try {
          const deadLetter = channel.consumer.deadLetter;
          const dlq = deadLetter ? ours(streams.get(deadLetter.streamName), channel.owner) : null;
          const deadLetters = deadLetter ? (dlq?.state.messages ?? null) : null;
          const work = ours(streams.get(channel.stream.name), channel.owner);
          if (!work) return void out.set(channel.key, { queue: null, deadLetters });
          const atMs = options.now();
          const cheap = queueStateFromStream(work, channel.consumer.name, atMs, options.lastConsumer.get(channel.key));
          if (cheap) return void out.set(channel.key, { queue: cheap, deadLetters });
          const ci = await consumerInfo(conn.jsm, channel.stream.name, channel.consumer.name);
          const queue = ci ? queueStateOf(work, observedConsumer(ci), atMs) : null;
          if (queue) options.lastConsumer.set(channel.key, queue.consumer);
          out.set(channel.key, { queue, deadLetters });
        } catch (err) {
          out.set(channel.key, toNatsError(err, `reading the queue of channel ${channel.key}`));
        }
      });
    }),
  );
  return out;
}

function ours(stream: ObservedStream | undefined, owner: Parameters<typeof ownershipOf>[1]): ObservedStream | null {
  return stream && ownershipOf(stream, owner).kind === "ours" ? stream : null;
}
