import { ConfigError } from "./errors.js";

/** Credential files as the operator mounts them (DESIGN.md, the consumer contract). */
export interface CredentialFiles {
  credsFile?: string;
  nkeyFile?: string;
  tokenFile?: string;
  user?: string;
  passwordFile?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export interface ConsumerConfig {
  servers: string[];
  /** namespace/name of the PointToPointChannel, for logs. */
  channel: string;
  stream: string;
  consumer: string;
  subjects: string[];
  dlqSubject: string | null;
  /** Most messages this replica holds at once (pulled, buffered or in flight). */
  maxBatch: number;
  concurrency: number;
  workMs: number;
  recordFile: string | null;
  /** null = no HTTP server; 0 = a free port. */
  httpPort: number | null;
  /** Used only when consumer info cannot be read. */
  ackWaitMsFallback: number;
  /** First retry delay when the consumer has no backoff of its own; doubles per delivery. */
  retryDelayMs: number;
  credentials: CredentialFiles;
}

/** Reads the consumer contract env; throws ConfigError naming the variable at fault. */
export function loadConfig(env: NodeJS.ProcessEnv): ConsumerConfig {
  const credentials: CredentialFiles = {};
  const files = {
    credsFile: "NATS_CREDS_FILE",
    nkeyFile: "NATS_NKEY_FILE",
    tokenFile: "NATS_TOKEN_FILE",
    passwordFile: "NATS_PASSWORD_FILE",
    caFile: "NATS_CA_FILE",
    certFile: "NATS_CERT_FILE",
    keyFile: "NATS_KEY_FILE",
  } as const;
  for (const [field, name] of Object.entries(files) as [keyof typeof files, string][]) {
    if (env[name]) credentials[field] = env[name];
  }
  if (env.NATS_USER) credentials.user = env.NATS_USER;
  if (credentials.passwordFile && !credentials.user) throw new ConfigError("NATS_PASSWORD_FILE needs NATS_USER");
  if (Boolean(credentials.certFile) !== Boolean(credentials.keyFile)) throw new ConfigError("NATS_CERT_FILE and NATS_KEY_FILE go together");

  return {
    servers: list(env.NATS_URL ?? "nats://127.0.0.1:4222"),
    channel: env.P2P_CHANNEL ?? "",
    stream: required(env, "P2P_STREAM"),
    consumer: required(env, "P2P_CONSUMER"),
    subjects: list(env.P2P_SUBJECTS ?? ""),
    dlqSubject: env.P2P_DLQ_SUBJECT || null,
    maxBatch: int(env, "P2P_MAX_BATCH", 100, 1),
    concurrency: int(env, "P2P_CONCURRENCY", 4, 1),
    workMs: int(env, "P2P_WORK_MS", 0, 0),
    recordFile: env.P2P_RECORD_FILE || null,
    httpPort: httpPort(env.P2P_HTTP_PORT),
    ackWaitMsFallback: int(env, "P2P_ACK_WAIT_MS", 30_000, 1),
    retryDelayMs: int(env, "P2P_RETRY_DELAY_MS", 1_000, 0),
    credentials,
  };
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`${name} is required`);
  return value;
}

function list(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new ConfigError(`${name} must be an integer >= ${min}, got "${raw}"`);
  return value;
}

// Off unless asked for: local mode runs several replicas on one machine, where a fixed
// default port would clash. The Deployment sets it.
function httpPort(raw: string | undefined): number | null {
  if (raw === undefined || raw === "" || raw === "off") return null;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new ConfigError(`P2P_HTTP_PORT must be a port, 0 or "off", got "${raw}"`);
  return port;
}
