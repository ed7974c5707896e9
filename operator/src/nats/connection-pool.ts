import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import {
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  type Authenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { ConnectionTarget, NatsCredentials } from "../ports/index.js";
import { log as rootLog } from "../log.js";
import { describeServers, NatsUnavailableError, toNatsError } from "./errors.js";

// One NATS connection per ConnectionTarget.id, shared by every channel that uses it and closed
// when the last one lets go. The client reconnects on its own; while it is disconnected a sync
// fails fast with NatsUnavailableError instead of waiting for request timeouts.

export interface PooledConnection {
  readonly targetId: string;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly js: JetStreamClient;
  /** The version in the current server's INFO (changes after a reconnect to another server). */
  serverVersion(): string;
  /** false while the client is reconnecting. */
  connected(): boolean;
}

export interface ConnectionPoolOptions {
  /** Connection name shown in the server's monitoring. */
  name?: string;
  connectTimeoutMs?: number;
  /** JetStream API request timeout. */
  requestTimeoutMs?: number;
  /** Wait between reconnect attempts. */
  reconnectWaitMs?: number;
  log?: Logger;
}

interface Entry {
  id: string;
  servers: string;
  holders: Set<string>;
  ready: Promise<PooledConnection>;
  conn: PooledConnection | null;
}

export class NatsConnectionPool {
  private readonly entries = new Map<string, Entry>();
  /** holder (channel key) -> target id */
  private readonly holderTargets = new Map<string, string>();
  private readonly log: Logger;

  constructor(private readonly options: ConnectionPoolOptions = {}) {
    this.log = (options.log ?? rootLog).child({ part: "connection-pool" });
  }

  /** The connection for `target`, held on behalf of `holder` until release(holder). */
  async acquire(target: ConnectionTarget, holder: string): Promise<PooledConnection> {
    const previous = this.holderTargets.get(holder);
    if (previous !== undefined && previous !== target.id) await this.release(holder);

    let entry = this.entries.get(target.id);
    if (entry?.conn?.nc.isClosed()) {
      this.entries.delete(target.id);
      entry = undefined;
    }
    if (!entry) {
      const created: Entry = { id: target.id, servers: describeServers(target.servers), holders: new Set(), ready: null as never, conn: null };
      created.ready = this.open(target).then(
        (conn) => {
          created.conn = conn;
          return conn;
        },
        (err: unknown) => {
          // Do not cache a failed connect: the next sync tries again.
          if (this.entries.get(target.id) === created) this.entries.delete(target.id);
          throw err;
        },
      );
      this.entries.set(target.id, created);
      entry = created;
    }
    entry.holders.add(holder);
    this.holderTargets.set(holder, target.id);
    const conn = await entry.ready;
    if (!conn.connected()) {
      throw new NatsUnavailableError(`NATS at ${entry.servers} is unreachable: reconnecting`);
    }
    return conn;
  }

  /** Lets go of whatever `holder` holds; closes the connection when nobody else holds it. */
  async release(holder: string): Promise<void> {
    const id = this.holderTargets.get(holder);
    if (id === undefined) return;
    this.holderTargets.delete(holder);
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.holders.delete(holder);
    if (entry.holders.size > 0) return;
    this.entries.delete(id);
    const conn = await entry.ready.catch(() => null);
    if (conn && !conn.nc.isClosed()) {
      this.log.info({ target: id, servers: entry.servers }, "closing NATS connection: no channel uses it");
      await conn.nc.close().catch(() => undefined);
    }
  }

  /** How many holders share the connection of `targetId` (0 when there is none). */
  holders(targetId: string): number {
    return this.entries.get(targetId)?.holders.size ?? 0;
  }

  /** Open connections (for tests and metrics). */
  size(): number {
    return this.entries.size;
  }

  async close(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    this.holderTargets.clear();
    await Promise.all(
      entries.map(async (e) => {
        const conn = await e.ready.catch(() => null);
        if (conn && !conn.nc.isClosed()) await conn.nc.close().catch(() => undefined);
      }),
    );
  }

  private async open(target: ConnectionTarget): Promise<PooledConnection> {
    const servers = describeServers(target.servers);
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: target.servers,
        name: this.options.name ?? "p2p-operator",
        timeout: this.options.connectTimeoutMs ?? 5_000,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: this.options.reconnectWaitMs ?? 1_000,
        // Otherwise every request allocates two Errors up front for their stack traces, a few
        // percent of the operator's CPU at 1,000 channels polling (bench/operator-scale). Our
        // adapter names the failed operation in its own typed errors.
        noAsyncTraces: true,
        ...credentialOptions(target.credentials),
      });
    } catch (err) {
      throw toNatsError(err, `cannot connect to NATS at ${servers}`);
    }
    let connected = true;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") {
          connected = false;
          this.log.warn({ target: target.id, servers }, "NATS connection lost; reconnecting");
        } else if (s.type === "reconnect") {
          connected = true;
          this.log.info({ target: target.id, servers }, "NATS connection restored");
        } else if (s.type === "error") {
          this.log.warn({ target: target.id, servers, err: s.error.message }, "NATS connection error");
        }
      }
    })().catch(() => undefined);
    const timeout = this.options.requestTimeoutMs ?? 5_000;
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout });
    const js = jetstream(nc, { timeout });
    this.log.info({ target: target.id, servers, version: nc.info?.version }, "connected to NATS");
    return {
      targetId: target.id,
      nc,
      jsm,
      js,
      serverVersion: () => nc.info?.version ?? "0.0.0",
      connected: () => connected && !nc.isClosed(),
    };
  }
}

/** Client options for a credential set: creds file, nkey seed, token, user+password, TLS. */
export function credentialOptions(c: NatsCredentials | null): Partial<NodeConnectionOptions> {
  if (!c) return {};
  const opts: Partial<NodeConnectionOptions> = {};
  const encoder = new TextEncoder();
  const authenticators: Authenticator[] = [];
  if (c.creds) authenticators.push(credsAuthenticator(encoder.encode(c.creds)));
  else if (c.nkeySeed) authenticators.push(nkeyAuthenticator(encoder.encode(c.nkeySeed.trim())));
  if (authenticators.length > 0) opts.authenticator = authenticators;
  if (c.token) opts.token = c.token.trim();
  if (c.user) {
    opts.user = c.user;
    opts.pass = c.password ?? "";
  }
  if (c.caPem || c.certPem || c.keyPem) {
    opts.tls = {
      ...(c.caPem ? { ca: c.caPem } : {}),
      ...(c.certPem ? { cert: c.certPem } : {}),
      ...(c.keyPem ? { key: c.keyPem } : {}),
    };
  }
  return opts;
}
