// A real JetStream cluster on loopback: N nats-servers with routes to each other, each on
// free client, route and monitoring ports with its own temp store.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
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
