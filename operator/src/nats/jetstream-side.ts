import type { Logger } from "pino";
import type { ResolvedChannel } from "../api/resolved.js";
import type { ConsumerStatus } from "../api/types.js";
import type { ConnectionTarget, NatsSide, NatsSyncResult, QueueRead, QueueReading, QueueState } from "../ports/index.js";
import { log as rootLog } from "../log.js";
import {
  MOVER_CONSUMER_NAME,
  advisoryStreamName,
  capabilitiesOf,
  ownershipOf,
  planNats,
  planNatsDeletion,
  queueStateOf,
  type ObservedStream,
} from "../plan/index.js";
import { applyNatsPlan, deleteStream } from "./apply.js";
import { NatsConnectionPool, type ConnectionPoolOptions, type PooledConnection } from "./connection-pool.js";
import { observedConsumer, observedStream } from "./convert.js";
import { DeadLetterMover, type DeadLetterMoverOptions } from "./dead-letter-mover.js";
import { toNatsError } from "./errors.js";
import { consumerInfo, gatherNats, streamInfo } from "./gather.js";
import { readQueuesInBulk } from "./queue-reader.js";

// The NatsSide port on JetStream: gather -> planNats -> apply per channel, the dead-letter
// movers, and the queue read that the scaling policy runs on.

export interface JetStreamSideOptions {
  /** A pool to share; by default the side owns one (and closes it in close()). */
  pool?: NatsConnectionPool;
  poolOptions?: ConnectionPoolOptions;
  log?: Logger;
  mover?: DeadLetterMoverOptions;
  now?: () => number;
}

export class JetStreamSide implements NatsSide {
  readonly pool: NatsConnectionPool;
  private readonly ownsPool: boolean;
  private readonly log: Logger;
  private readonly movers = new Map<string, DeadLetterMover>();
  /** Channels whose leftover advisory stream has been looked for once (dead letters off). */
  private readonly advisoriesChecked = new Set<string>();
  private readonly now: () => number;
  /** Each channel's consumer as last read, for what a bulk read from the stream alone cannot know. */
  private readonly lastConsumer = new Map<string, ConsumerStatus>();

  constructor(private readonly options: JetStreamSideOptions = {}) {
    this.log = options.log ?? rootLog;
    this.pool = options.pool ?? new NatsConnectionPool({ log: this.log, ...options.poolOptions });
    this.ownsPool = !options.pool;
    this.now = options.now ?? Date.now;
  }

  async sync(channel: ResolvedChannel, target: ConnectionTarget): Promise<NatsSyncResult> {
    const log = this.channelLog(channel);
    const conn = await this.pool.acquire(target, channel.key);
    try {
      const caps = capabilitiesOf(conn.serverVersion());
      const gathered = await gatherNats(conn.jsm, caps.version, channel, {
        deadLetterStreams: !this.advisoriesChecked.has(channel.key),
      });
      const plan = planNats(channel, gathered.observation);
      const outcome = await applyNatsPlan(conn.jsm, plan, gathered, log);
      if (!channel.consumer.deadLetter) this.advisoriesChecked.add(channel.key);
      else this.advisoriesChecked.delete(channel.key);

      if (outcome.deadLetterMover) this.ensureMover(channel, conn, log);
      else await this.stopMover(channel.key);

      const work = outcome.streams.work ? observedStream(outcome.streams.work) : null;
      const consumer = outcome.consumers.work ? observedConsumer(outcome.consumers.work) : null;
      const ours = work !== null && ownershipOf(work, channel.owner).kind === "ours";
      const queue: QueueState | null = ours && consumer ? queueStateOf(work, consumer, this.now()) : null;
      if (queue) this.lastConsumer.set(channel.key, queue.consumer);

      let deadLetters: number | null = null;
      const dlq = outcome.streams.deadLetter ? observedStream(outcome.streams.deadLetter) : null;
      if (channel.consumer.deadLetter && dlq && ownershipOf(dlq, channel.owner).kind === "ours") deadLetters = dlq.state.messages;

      return { stream: outcome.stream, consumer: outcome.consumer, queue, deadLetters, server: { serverVersion: caps.version, features: caps.features } };
    } catch (err) {
      throw toNatsError(err, `NATS sync of channel ${channel.key}`);
    }
  }

  async finalize(channel: ResolvedChannel, target: ConnectionTarget): Promise<void> {
    const log = this.channelLog(channel);
    await this.stopMover(channel.key);
    this.advisoriesChecked.delete(channel.key);
    this.lastConsumer.delete(channel.key);
    try {
      // Retain touches nothing on the server, so a channel whose server is gone can still go.
      if (channel.deletionPolicy !== "Delete") return;
      const conn = await this.pool.acquire(target, channel.key);
      const dl = channel.consumer.deadLetter;
      const [work, deadLetter, advisories] = await Promise.all([
        streamInfo(conn.jsm, channel.stream.name),
        dl ? streamInfo(conn.jsm, dl.streamName) : Promise.resolve(null),
        streamInfo(conn.jsm, advisoryStreamName(channel.stream.name)),
      ]);
      const observed = (si: typeof work): ObservedStream | null => (si ? observedStream(si) : null);
      const plan = planNatsDeletion(channel, { work: observed(work), deadLetter: observed(deadLetter), advisories: observed(advisories) });
      for (const kept of plan.kept) log.warn(kept, "not deleting a stream this channel does not own");
      for (const action of plan.actions) {
        if (action.kind !== "deleteStream") continue;
        log.info({ streamName: action.name, role: action.role }, "deleting stream (deletionPolicy Delete)");
        await deleteStream(conn.jsm, action.name);
      }
    } catch (err) {
      throw toNatsError(err, `NATS cleanup of channel ${channel.key}`);
    } finally {
      await this.pool.release(channel.key);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.movers.values()].map((m) => m.stop()));
    this.movers.clear();
    if (this.ownsPool) await this.pool.close();
  }

  /** The queue of one channel: one STREAM.INFO and one CONSUMER.INFO, sent together. */
  async readQueue(channel: ResolvedChannel, target: ConnectionTarget): Promise<QueueState | null> {
    const conn = await this.pool.acquire(target, channel.key);
    try {
      const [si, ci] = await Promise.all([streamInfo(conn.jsm, channel.stream.name), consumerInfo(conn.jsm, channel.stream.name, channel.consumer.name)]);
      if (!si || !ci) return null;
      const stream = observedStream(si);
      if (ownershipOf(stream, channel.owner).kind !== "ours") return null;
      return queueStateOf(stream, observedConsumer(ci), this.now());
    } catch (err) {
      throw toNatsError(err, `reading the queue of channel ${channel.key}`);
    }
  }

  async readQueues(reads: readonly QueueRead[]): Promise<Map<string, QueueReading | Error>> {
    return readQueuesInBulk(reads, { pool: this.pool, now: this.now, lastConsumer: this.lastConsumer });
  }

  /** The running mover of a channel, if any (for tests and the live view). */
  mover(channelKey: string): DeadLetterMover | undefined {
    return this.movers.get(channelKey);
  }

  private ensureMover(channel: ResolvedChannel, conn: PooledConnection, log: Logger): void {
    const dl = channel.consumer.deadLetter;
    if (!dl) return;
    const next = new DeadLetterMover(
      conn,
      {
        channelKey: channel.key,
        workStream: channel.stream.name,
        advisoryStream: advisoryStreamName(channel.stream.name),
        moverConsumer: MOVER_CONSUMER_NAME,
        deadLetterSubject: dl.subject,
        deadLetterStream: dl.streamName,
      },
      log.child({ part: "dead-letter-mover" }),
      this.options.mover,
    );
    const current = this.movers.get(channel.key);
    if (current && current.running && current.conn === conn && current.signature() === next.signature()) return;
    this.movers.set(channel.key, next);
    if (current) void current.stop();
    next.start();
  }

  private async stopMover(key: string): Promise<void> {
    const mover = this.movers.get(key);
    if (!mover) return;
    this.movers.delete(key);
    await mover.stop();
  }

  private channelLog(channel: ResolvedChannel): Logger {
    return this.log.child({
      namespace: channel.owner.namespace,
      name: channel.owner.name,
      stream: channel.stream.name,
      consumer: channel.consumer.name,
    });
  }
}
