import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type ConsumerInfo, type JetStreamManager } from "@nats-io/jetstream";
import { connect, headers, nanos, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll } from "vitest";
import { NatsServerProcess } from "../../support/nats-server.js";
import { makeExampleEvent, type ImmunisationAdministered } from "../../../consumer-template/src/event.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const TEMPLATE = join(ROOT, "consumer-template");
export const MAIN = join(TEMPLATE, "dist/main.js");

/**
 * Builds consumer-template/dist unless it is newer than every source file. Test files run
 * in parallel: a lock directory keeps two of them from writing dist at the same time.
 */
export async function ensureTemplateBuilt(): Promise<void> {
  const lock = join(tmpdir(), "p2p-consumer-template-build.lock");
  for (let i = 0; ; i++) {
    try {
      await mkdir(lock);
      break;
    } catch {
      // A lock left by a killed test run is stale after two minutes.
      const held = await stat(lock).catch(() => null);
      if (held && Date.now() - held.mtimeMs > 120_000) await rmdir(lock).catch(() => {});
      if (i > 1200) throw new Error(`${lock} held for two minutes`);
      await sleep(100);
    }
  }
  try {
    if (await isStale()) await promisify(execFile)("npm", ["run", "build", "-w", "consumer-template"], { cwd: ROOT });
  } finally {
    await rmdir(lock);
  }
}

async function isStale(): Promise<boolean> {
  const built = await stat(MAIN).catch(() => null);
  if (!built) return true;
  const src = join(TEMPLATE, "src");
  for (const file of await readdir(src)) {
    if ((await stat(join(src, file))).mtimeMs > built.mtimeMs) return true;
  }
  return false;
}

export interface ChannelFixture {
  stream: string;
  consumer: string;
  subject: string;
  dlqSubject: string;
  dlqStream: string;
  jsm: JetStreamManager;
}

let channels = 0;

/** A work-queue stream and its durable pull consumer, as the operator would make them. */
export async function createChannel(
  nc: NatsConnection,
  o: { ackWaitMs?: number; maxDeliver?: number; backoffMs?: number[]; maxAckPending?: number; deadLetters?: boolean } = {},
): Promise<ChannelFixture> {
  channels += 1;
  const stream = `CT_${process.pid}_${channels}`;
  const subject = `ct.${process.pid}.${channels}`;
  const dlqSubject = `dlq.${subject}`;
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [subject], retention: RetentionPolicy.Workqueue, storage: StorageType.File });
  await jsm.consumers.add(stream, {
    durable_name: stream,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(o.ackWaitMs ?? 30_000),
    max_deliver: o.maxDeliver ?? 5,
    max_ack_pending: o.maxAckPending ?? 1000,
    ...(o.backoffMs && { backoff: o.backoffMs.map(nanos) }),
  });
  const dlqStream = `${stream}_DLQ`;
  if (o.deadLetters) await jsm.streams.add({ name: dlqStream, subjects: [dlqSubject], storage: StorageType.File });
  return { stream, consumer: stream, subject, dlqSubject, dlqStream, jsm };
}

/** Publishes events with Nats-Msg-Id = eventId, a bounded window of unacked publishes at a time. */
export async function publishEvents(
  nc: NatsConnection,
  subject: string,
  count: number,
  o: { runId?: string; edit?: (e: ImmunisationAdministered, i: number) => unknown } = {},
): Promise<string[]> {
  const js = jetstream(nc);
  const ids: string[] = [];
  const window = new Set<Promise<unknown>>();
  for (let i = 0; i < count; i++) {
    const event = makeExampleEvent(i, o.runId ?? "evt");
    const body = o.edit ? o.edit(event, i) : event;
    ids.push(event.eventId);
    const p = js.publish(subject, JSON.stringify(body), { msgID: event.eventId }).finally(() => window.delete(p));
    window.add(p);
    if (window.size >= 256) await Promise.race(window);
  }
  await Promise.all(window);
  return ids;
}

/** Publishes raw bytes with an id (and an application header), for malformed events. */
export async function publishRaw(nc: NatsConnection, subject: string, data: string, msgId: string): Promise<void> {
  const h = headers();
  h.set("Traceparent", `00-${"1".repeat(32)}-${"2".repeat(16)}-01`);
  await jetstream(nc).publish(subject, data, { msgID: msgId, headers: h });
}

/** A consumer-template replica as a real child process. */
export class ConsumerProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private constructor(readonly child: ChildProcess) {
    let partial = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      partial += chunk.toString();
      const parts = partial.split("\n");
      partial = parts.pop()!;
      this.lines.push(...parts);
    });
    child.stderr!.on("data", (chunk: Buffer) => this.lines.push(chunk.toString()));
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  }

  static spawn(fixture: ChannelFixture, natsUrl: string, env: Record<string, string> = {}): ConsumerProcess {
    const child = spawn(process.execPath, [MAIN], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        NATS_URL: natsUrl,
        P2P_CHANNEL: `test/${fixture.stream}`,
        P2P_STREAM: fixture.stream,
        P2P_CONSUMER: fixture.consumer,
        P2P_SUBJECTS: fixture.subject,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new ConsumerProcess(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The first JSON log line with this msg, once it appears. */
  async waitForLog(msg: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const found = await waitFor(() => this.logs().find((l) => l.msg === msg), timeoutMs, `log "${msg}"`);
    return found;
  }

  logs(): Record<string, unknown>[] {
    return this.lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    await this.exited;
  }
}

/** Two replicas of one channel, each recording what it processed in a file of its own (<dir>/<name>-<role>). */
export interface ReplicaPair {
  first: ConsumerProcess;
  second: ConsumerProcess;
  firstFile: string;
  /** Resolves once both replicas consume. */
  consuming: () => Promise<unknown>;
  /** Both record files' lines. */
  records: () => Promise<string[]>;
}

export function spawnPair(fixture: ChannelFixture, natsUrl: string, dir: string, name: string, env: Record<string, string>): ReplicaPair {
  const firstFile = join(dir, `${name}-first`);
  const secondFile = join(dir, `${name}-second`);
  const first = ConsumerProcess.spawn(fixture, natsUrl, { ...env, P2P_RECORD_FILE: firstFile });
  const second = ConsumerProcess.spawn(fixture, natsUrl, { ...env, P2P_RECORD_FILE: secondFile });
  return {
    first,
    second,
    firstFile,
    consuming: () => Promise.all([first.waitForLog("consuming"), second.waitForLog("consuming")]),
    records: async () => [...(await recorded(firstFile)), ...(await recorded(secondFile))],
  };
}

/** Lines of a P2P_RECORD_FILE, [] if it does not exist yet. */
export async function recorded(path: string): Promise<string[]> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text.split("\n").filter((l) => l !== "");
}

export async function waitFor<T>(probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await sleep(50);
  }
}

/** The consumer's info once nothing is pending nor awaiting an ack. */
export function drained(ch: ChannelFixture, timeoutMs = 20_000): Promise<ConsumerInfo> {
  return waitFor(
    async () => {
      const c = await ch.jsm.consumers.info(ch.stream, ch.consumer);
      return c.num_pending === 0 && c.num_ack_pending === 0 && c;
    },
    timeoutMs,
    "the consumer to drain",
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Counts of each id: duplicates are the ids seen more than once. */
export function tally(ids: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

/** One real nats-server, a client connection and a temp dir per test file, with the template built. */
export interface TemplateTestEnv {
  server: NatsServerProcess;
  nc: NatsConnection;
  dir: string;
}

export function useTemplateTestEnv(): TemplateTestEnv {
  const env = {} as TemplateTestEnv;
  beforeAll(async () => {
    await ensureTemplateBuilt();
    env.server = await NatsServerProcess.start();
    env.nc = await connect({ servers: env.server.url });
    env.dir = await mkdtemp(join(tmpdir(), "p2p-ct-"));
  });
  afterAll(async () => {
    await env.nc?.close();
    await env.server?.stop();
    if (env.dir) await rm(env.dir, { recursive: true, force: true });
  });
  return env;
}
