import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterEach, beforeAll } from "vitest";
import { makeExampleEvent, publishEvents } from "../../../operator/src/local/index.js";
import { startLocal, type LocalRuntime } from "../../../operator/src/cli/local-command.js";
import type { ChannelStatus } from "../../../operator/src/api/types.js";
import { MAIN as CONSUMER_MAIN, ensureTemplateBuilt } from "../consumer-template/support.js";

export { ensureTemplateBuilt } from "../consumer-template/support.js";
export { CONSUMER_MAIN };

export interface ChannelOptions {
  name: string;
  minReplicas?: number;
  maxReplicas?: number;
  targetLagPerReplica?: number;
  ackWait?: string;
  maxDeliver?: number;
  backoff?: string[];
  workMs?: number;
  concurrency?: number;
  deletionPolicy?: "Retain" | "Delete";
  scaleDownWindow?: string;
  /** Extra args for the consumer (ignored by it; lets a test find its processes with ps). */
  tag?: string;
  /** stream.replicas (a cluster's servers hold one replica each). */
  replicas?: number;
}

/** A channel file whose template runs the built consumer template with this node binary. */
export function channelYaml(o: ChannelOptions): string {
  const args = o.tag ? `\n            args: [${JSON.stringify(o.tag)}]` : "";
  return `apiVersion: messaging.p2p.dev/v1alpha1
kind: PointToPointChannel
metadata:
  name: ${o.name}
spec:
  subjects: [test.${o.name}]
  stream: {replicas: ${o.replicas ?? 1}}
  consumer:
    ackWait: ${o.ackWait ?? "30s"}
    maxDeliver: ${o.maxDeliver ?? 5}
    backoff: ${JSON.stringify(o.backoff ?? [])}
    deadLetter: {subject: dlq.${o.name}}
  workload:
    template:
      spec:
        containers:
          - name: consumer
            command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(CONSUMER_MAIN)}]${args}
            env:
              - {name: P2P_WORK_MS, value: "${o.workMs ?? 20}"}
              - {name: P2P_CONCURRENCY, value: "${o.concurrency ?? 4}"}
              - {name: P2P_RETRY_DELAY_MS, value: "100"}
              - {name: LOG_LEVEL, value: "warn"}
  scaling:
    minReplicas: ${o.minReplicas ?? 1}
    maxReplicas: ${o.maxReplicas ?? 4}
    targetLagPerReplica: ${o.targetLagPerReplica ?? 100}
    pollInterval: 500ms
    scaleDown: {stabilizationWindow: ${o.scaleDownWindow ?? "2s"}}
  deletionPolicy: ${o.deletionPolicy ?? "Retain"}
`;
}

/** One `p2p local` (in this process) on its own embedded nats-server (or given servers), with a channel file in a temp dir. */
export class LocalFixture {
  private constructor(
    readonly dir: string,
    readonly file: string,
    readonly recordFile: string,
    readonly runtime: LocalRuntime,
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    readonly key: string,
  ) {}

  /** `natsUrl` (comma-separated servers) replaces the embedded nats-server. */
  static async start(channel: ChannelOptions, natsUrl?: string): Promise<LocalFixture> {
    const dir = await mkdtemp(join(tmpdir(), "p2p-local-it-"));
    const file = join(dir, "channel.yaml");
    const recordFile = join(dir, "processed.txt");
    await writeFile(file, channelYaml(channel));
    const runtime = await startLocal({
      paths: [file],
      stateDir: join(dir, "state"),
      ...(natsUrl ? { natsUrl } : {}),
      env: { P2P_RECORD_FILE: recordFile },
      log: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
      gracePeriodMs: 10_000,
      filePollMs: 500,
    });
    const nc = await connect({ servers: runtime.natsUrl.split(","), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    return new LocalFixture(dir, file, recordFile, runtime, nc, await jetstreamManager(nc), `default/${channel.name}`);
  }

  get stream(): string {
    return this.key.replace("/", "_");
  }

  status(): ChannelStatus {
    return this.runtime.rows().find((r) => r.key === this.key)?.status ?? {};
  }

  running(): number {
    return this.runtime.workload.ready(this.key) ?? 0;
  }

  pids(): number[] {
    return this.runtime.workload.pids(this.key);
  }

  /** Ready=True and the consumer processes are running. */
  async ready(replicas = 1): Promise<void> {
    await waitFor("channel Ready", () => this.status().conditions?.some((c) => c.type === "Ready" && c.status === "True") && this.running() >= replicas, 30_000).catch(
      (err: Error) => {
        const notTrue = this.status().conditions?.filter((c) => c.status !== "True").map((c) => `${c.type} ${c.reason}: ${c.message}`);
        throw new Error(`${err.message} (${this.running()} of ${replicas} replicas running; ${notTrue?.join("; ") || "no condition"})`, { cause: err });
      },
    );
  }

  /** Nats-Msg-Ids the consumers recorded (one line per processed message, duplicates included). */
  async recorded(): Promise<string[]> {
    const text = await readFile(this.recordFile, "utf8").catch(() => "");
    return text.split("\n").filter((l) => l !== "");
  }

  async close(): Promise<void> {
    await this.nc.close().catch(() => undefined);
    await this.runtime.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export async function waitFor(what: string, predicate: () => unknown | Promise<unknown>, timeoutMs = 30_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function summarize(ids: string[]): { lines: number; unique: Set<string>; duplicates: number } {
  const unique = new Set(ids);
  return { lines: ids.length, unique, duplicates: ids.length - unique.size };
}

/** One `p2p local` runtime per test, closed after it, with the template built once per file. */
export function useLocalFixtures(): (o: ChannelOptions, replicas?: number) => Promise<LocalFixture> {
  let current: LocalFixture | null = null;
  beforeAll(ensureTemplateBuilt, 120_000);
  afterEach(async () => {
    await current?.close();
    current = null;
  });
  return async (o, replicas = 1) => {
    current = await LocalFixture.start(o);
    await current.ready(replicas);
    return current;
  };
}

/** `count` example events on the channel's subject, ids `<name>-<i>`. */
export function burst(f: LocalFixture, name: string, count: number) {
  return publishEvents(f.nc, {
    subject: `test.${name}`,
    count,
    idPrefix: `${name}-`,
    body: (i, id) => ({ ...makeExampleEvent(i), eventId: id }),
  });
}
