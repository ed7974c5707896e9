import type { ConsumerInfo, JetStreamManager, StreamInfo } from "@nats-io/jetstream";
import type { ResolvedChannel } from "../api/resolved.js";
import {
  MOVER_CONSUMER_NAME,
  advisoryStreamName,
  subjectsToCheck,
  type ConsumerRole,
  type NatsObservation,
  type StreamRole,
} from "../plan/index.js";
import { observedConsumer, observedStream } from "./convert.js";
import { isApiError, JsApiCode, toNatsError } from "./errors.js";

// Gather: read what the planner needs, "missing" as null. One STREAM.INFO and one CONSUMER.INFO
// per stream/consumer, all in parallel, plus STREAM.NAMES lookups only for subjects that are
// about to be created or added.

export interface Gathered {
  observation: NatsObservation;
  /** The raw answers, so apply can send whole configs and the queue can be read without asking again. */
  streams: Partial<Record<StreamRole, StreamInfo | null>>;
  consumers: Partial<Record<ConsumerRole, ConsumerInfo | null>>;
}

export interface GatherOptions {
  /** Read the DLQ and advisory streams (always when dead letters are configured). */
  deadLetterStreams: boolean;
}

export async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (isApiError(err, JsApiCode.StreamNotFound)) return null;
    throw toNatsError(err, `STREAM.INFO ${name}`);
  }
}

export async function consumerInfo(jsm: JetStreamManager, stream: string, name: string): Promise<ConsumerInfo | null> {
  try {
    return await jsm.consumers.info(stream, name);
  } catch (err) {
    if (isApiError(err, JsApiCode.ConsumerNotFound, JsApiCode.StreamNotFound)) return null;
    throw toNatsError(err, `CONSUMER.INFO ${stream} ${name}`);
  }
}

/** Names of the streams whose subjects collide with `subject` (the server does the wildcard matching). */
export async function streamsCapturing(jsm: JetStreamManager, subject: string): Promise<string[]> {
  try {
    const names: string[] = [];
    for await (const name of jsm.streams.names(subject)) names.push(name);
    return names;
  } catch (err) {
    throw toNatsError(err, `STREAM.NAMES ${subject}`);
  }
}

export async function gatherNats(jsm: JetStreamManager, serverVersion: string, channel: ResolvedChannel, options: GatherOptions): Promise<Gathered> {
  const work = channel.stream.name;
  const dlq = channel.consumer.deadLetter;
  const advisories = advisoryStreamName(work);
  const readDeadLetters = options.deadLetterStreams || dlq !== null;

  const [workStream, workConsumer, dlqStream, advStream, moverConsumer] = await Promise.all([
    streamInfo(jsm, work),
    consumerInfo(jsm, work, channel.consumer.name),
    readDeadLetters && dlq ? streamInfo(jsm, dlq.streamName) : Promise.resolve(undefined),
    readDeadLetters ? streamInfo(jsm, advisories) : Promise.resolve(undefined),
    dlq ? consumerInfo(jsm, advisories, MOVER_CONSUMER_NAME) : Promise.resolve(undefined),
  ]);

  const observation: NatsObservation = {
    serverVersion,
    streams: { work: workStream ? observedStream(workStream) : null },
    consumers: { work: workConsumer ? observedConsumer(workConsumer) : null },
    overlaps: {},
  };
  if (dlqStream !== undefined) observation.streams.deadLetter = dlqStream ? observedStream(dlqStream) : null;
  if (advStream !== undefined) observation.streams.advisories = advStream ? observedStream(advStream) : null;
  if (moverConsumer !== undefined) observation.consumers.mover = moverConsumer ? observedConsumer(moverConsumer) : null;

  const subjects = subjectsToCheck(channel, observation);
  const found = await Promise.all(subjects.map((s) => streamsCapturing(jsm, s)));
  subjects.forEach((s, i) => (observation.overlaps[s] = found[i] ?? []));

  return {
    observation,
    streams: { work: workStream, deadLetter: dlqStream, advisories: advStream },
    consumers: { work: workConsumer, mover: moverConsumer },
  };
}
