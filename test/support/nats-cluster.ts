// A real JetStream cluster on loopback: N nats-servers with routes to each other, each on
// free client, route and monitoring ports with its own temp store.
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { freePort, NatsServerProcess } from "./nats-server.js";

export interface NatsClusterOptions {
  /** Number of servers (default 3). */
  size?: number;
  /** The cluster's name (default p2p-test). */
  name?: string;
}

export class NatsCluster {
  private constructor(
    readonly servers: NatsServerProcess[],
    /** server_name of each server, index for index with `servers`. */
    readonly names: string[],
    /** Monitoring (HTTP) ports, index for index with `servers`. */
    readonly monitorPorts: number[],
  ) {}

  static async start(options: NatsClusterOptions = {}): Promise<NatsCluster> {
    const size = options.size ?? 3;
    const clusterName = options.name ?? "p2p-test";
    const ports = await distinctFreePorts(3 * size);
    const clientPorts = ports.slice(0, size);
    const routePorts = ports.slice(size, 2 * size);
    const monitorPorts = ports.slice(2 * size);
    const names = routePorts.map((_, i) => `n${i + 1}`);
    const routes = routePorts.map((p) => `"nats-route://127.0.0.1:${p}"`).join(", ");
    const servers = await Promise.all(
      routePorts.map((routePort, i) =>
        NatsServerProcess.start({
          port: clientPorts[i] as number,
          extraConfig: [
            `server_name: ${names[i]}`,
            `http: "127.0.0.1:${monitorPorts[i]}"`,
            `cluster { name: ${clusterName}, listen: "127.0.0.1:${routePort}", routes: [${routes}] }`,
          ].join("\n"),
        }),
      ),
    );
    const cluster = new NatsCluster(servers, names, monitorPorts);
    await cluster.jetStreamReady();
    return cluster;
  }

  /** Resolves once the cluster has a meta leader and answers JetStream API requests (after start or a restart). */
  async jetStreamReady(timeoutMs = 30_000): Promise<void> {
    const nc = await connect({ servers: this.urls, name: "cluster-probe", maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2_000, checkAPI: false });
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          await jsm.getAccountInfo();
          return;
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`JetStream cluster not ready within ${timeoutMs} ms: ${(err as Error).message}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    } finally {
      await nc.close();
    }
  }

  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  /** The server named `serverName` (as a stream's or consumer's cluster.leader names it). */
  byName(serverName: string): NatsServerProcess {
    const i = this.names.indexOf(serverName);
    const server = this.servers[i];
    if (!server) throw new Error(`no server named ${serverName} in the cluster (${this.names.join(", ")})`);
    return server;
  }

  nameOf(server: NatsServerProcess): string {
    return this.names[this.servers.indexOf(server)] ?? "?";
  }

  monitorUrl(server: NatsServerProcess): string {
    return `http://127.0.0.1:${this.monitorPorts[this.servers.indexOf(server)]}`;
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/** `$JS.API.CONSUMER.LEADER.STEPDOWN` / `$JS.API.STREAM.LEADER.STEPDOWN`: the leader hands over to another replica. */
export async function stepDownLeader(nc: NatsConnection, stream: string, consumer?: string): Promise<void> {
  const subject = consumer ? `$JS.API.CONSUMER.LEADER.STEPDOWN.${stream}.${consumer}` : `$JS.API.STREAM.LEADER.STEPDOWN.${stream}`;
  const reply = (await nc.request(subject, undefined, { timeout: 5_000 })).json<{ success?: boolean; error?: { description: string } }>();
  if (!reply.success) throw new Error(`${subject}: ${reply.error?.description ?? "no success"}`);
}

/** The names of the servers leading `stream` and its `consumer` right now (undefined while an election runs). */
export async function leadersOf(jsm: JetStreamManager, stream: string, consumer: string): Promise<{ stream?: string; consumer?: string }> {
  const [si, ci] = await Promise.all([jsm.streams.info(stream), jsm.consumers.info(stream, consumer)]);
  return { stream: si.cluster?.leader, consumer: ci.cluster?.leader };
}

/** One server's own view of a consumer, from its monitoring port (/jsz): what KEDA's nats-jetstream scaler reads. */
export interface MonitoredConsumer {
  server: string;
  leader: boolean;
  numPending: number;
  numAckPending: number;
}

export async function consumerSeenBy(cluster: NatsCluster, server: NatsServerProcess, stream: string, consumer: string): Promise<MonitoredConsumer | null> {
  const res = await fetch(`${cluster.monitorUrl(server)}/jsz?accounts=true&streams=true&consumers=true`, { signal: AbortSignal.timeout(2_000) });
  const jsz = (await res.json()) as {
    account_details?: Array<{ stream_detail?: Array<{ name: string; consumer_detail?: Array<{ name: string; num_pending: number; num_ack_pending: number; cluster?: { leader?: string } }> }> }>;
  };
  const name = cluster.nameOf(server);
  for (const account of jsz.account_details ?? []) {
    const c = account.stream_detail?.find((s) => s.name === stream)?.consumer_detail?.find((d) => d.name === consumer);
    if (c) return { server: name, leader: c.cluster?.leader === name, numPending: c.num_pending, numAckPending: c.num_ack_pending };
  }
  return null;
}
