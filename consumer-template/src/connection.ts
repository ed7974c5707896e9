import { readFileSync } from "node:fs";
import {
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from "@nats-io/transport-node";
import type { ConsumerConfig } from "./config.js";

/**
 * Connects with the credential files of the consumer contract. The authenticators re-read
 * their file on every (re)connect, so a rotated Secret is picked up without a restart.
 * Reconnects forever: a NATS restart must not kill the replicas.
 */
export async function connectNats(config: ConsumerConfig): Promise<NatsConnection> {
  const c = config.credentials;
  const text = (path: string) => () => readFileSync(path, "utf8").trim();
  const bytes = (path: string) => () => new Uint8Array(readFileSync(path));
  const authenticators: Authenticator[] = [];
  if (c.credsFile) authenticators.push(credsAuthenticator(bytes(c.credsFile)));
  if (c.nkeyFile) {
    const seed = text(c.nkeyFile);
    authenticators.push(nkeyAuthenticator(() => new TextEncoder().encode(seed())));
  }
  if (c.tokenFile) authenticators.push(tokenAuthenticator(text(c.tokenFile)));
  if (c.user && c.passwordFile) {
    const passwordFile = c.passwordFile;
    authenticators.push(usernamePasswordAuthenticator(c.user, () => readFileSync(passwordFile, "utf8").replace(/\r?\n$/, "")));
  }
  // Fail at start, with the file's name, rather than on a later reconnect.
  for (const path of [c.credsFile, c.nkeyFile, c.tokenFile, c.passwordFile, c.caFile, c.certFile, c.keyFile]) {
    if (path) readFileSync(path);
  }

  const options: NodeConnectionOptions = {
    servers: config.servers,
    name: `p2p-consumer ${config.channel || config.stream}/${config.consumer}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    // A replica may start before NATS does (or before its Service has endpoints).
    waitOnFirstConnect: true,
  };
  if (authenticators.length > 0) options.authenticator = authenticators;
  if (c.caFile || c.certFile) {
    options.tls = {
      ...(c.caFile && { caFile: c.caFile }),
      ...(c.certFile && { certFile: c.certFile }),
      ...(c.keyFile && { keyFile: c.keyFile }),
    };
  }
  return connect(options);
}
