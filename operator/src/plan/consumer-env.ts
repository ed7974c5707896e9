import type { ResolvedChannel } from "../api/resolved.js";
import type { ConnectionTarget, NatsCredentials } from "../ports/index.js";

/** Where credential files are mounted in consumer pods. */
export const CREDENTIALS_DIR = "/var/run/secrets/p2p";

/** Secret keys (DESIGN.md) and the file each becomes under CREDENTIALS_DIR, with the env var naming it. */
export const CREDENTIAL_FILES: ReadonlyArray<{ field: keyof NatsCredentials; file: string; env: string }> = [
  { field: "creds", file: "creds", env: "NATS_CREDS_FILE" },
  { field: "nkeySeed", file: "nkey", env: "NATS_NKEY_FILE" },
  { field: "token", file: "token", env: "NATS_TOKEN_FILE" },
  { field: "password", file: "password", env: "NATS_PASSWORD_FILE" },
  { field: "caPem", file: "ca.crt", env: "NATS_CA_FILE" },
  { field: "certPem", file: "tls.crt", env: "NATS_CERT_FILE" },
  { field: "keyPem", file: "tls.key", env: "NATS_KEY_FILE" },
];

/**
 * The consumer contract: env injected into template pods and local processes.
 * P2P_MAX_BATCH = max(1, floor(maxAckPending / maxReplicas)) so that no replica's prefetch can
 * starve the others of the shared maxAckPending.
 */
export function consumerEnv(
  channel: ResolvedChannel,
  target: ConnectionTarget,
  credentialsDir: string = CREDENTIALS_DIR,
): Record<string, string> {
  const env: Record<string, string> = {
    NATS_URL: target.servers.join(","),
    P2P_CHANNEL: channel.key,
    P2P_STREAM: channel.stream.name,
    P2P_CONSUMER: channel.consumer.name,
    P2P_SUBJECTS: channel.stream.subjects.join(","),
    P2P_MAX_BATCH: String(maxBatch(channel)),
    P2P_ACK_WAIT_MS: String(effectiveAckWaitMs(channel)),
  };
  if (channel.consumer.deadLetter) env.P2P_DLQ_SUBJECT = channel.consumer.deadLetter.subject;
  const creds = target.credentials;
  if (creds) {
    for (const { field, file, env: name } of CREDENTIAL_FILES) {
      if (creds[field]) env[name] = `${credentialsDir}/${file}`;
    }
    if (creds.user) env.NATS_USER = creds.user;
  }
  return env;
}

export function maxBatch(channel: ResolvedChannel): number {
  return Math.max(1, Math.floor(channel.consumer.maxAckPending / Math.max(1, channel.scaling.maxReplicas)));
}

/** With a backoff the server uses backoff[0] as the first delivery's ack wait, whatever ackWait says. */
export function effectiveAckWaitMs(channel: ResolvedChannel): number {
  return channel.consumer.backoffMs[0] ?? channel.consumer.ackWaitMs;
}
