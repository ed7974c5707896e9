/** The path of the binary for `version` (2.11.4, 2.11, latest, 2.9); builds it on first use. */
export function natsServerBinFor(version: string): string;
/** NATS_SERVER_BIN when set, else the binary of NATS_SERVER_VERSION (default latest). */
export function natsServerBin(env?: NodeJS.ProcessEnv): string;
