import { JetStreamApiError } from "@nats-io/jetstream";
import { errors as coreErrors } from "@nats-io/transport-node";

// Typed errors of the NATS adapter. Each carries the condition `reason` the controller turns it
// into (see controller/errors.ts ConditionError). Messages name servers, streams and codes,
// never a credential.

/** JetStream API error codes (err_code) the adapter acts on. */
export const JsApiCode = {
  /** A clustered stream's replicas cannot be placed: fewer JetStream servers than replicas. */
  ClusterNoPeers: 10005,
  InsufficientResources: 10023,
  ConsumerNotFound: 10014,
  ConsumerDeliverPolicyUpdate: 10012,
  JetStreamNotEnabledForAccount: 10039,
  StreamInvalidConfig: 10052,
  NoMessageFound: 10037,
  StreamMsgDeleteFailed: 10057,
  StreamNameInUse: 10058,
  StreamNotFound: 10059,
  StreamSubjectOverlap: 10065,
  StreamReplicasNotSupported: 10074,
  JetStreamNotEnabled: 10076,
  WorkQueueMultipleUnfiltered: 10099,
  /** 2.10+: "subjects that overlap with jetstream api require no-ack to be true"; also a subject overlap. */
  StreamSubjectOverlapApi: 10100,
} as const;

/** The NATS server cannot be reached (or JetStream does not answer): retry with backoff. */
export class NatsUnavailableError extends Error {
  override readonly name = "NatsUnavailableError";
  readonly reason = "NATSUnavailable";
  readonly code = "NATS_UNAVAILABLE";
}

/** The server rejected the credentials, or they lack a permission the operator needs. */
export class AuthFailedError extends Error {
  override readonly name = "AuthFailedError";
  readonly reason = "AuthFailed";
  readonly code = "AUTH_FAILED";
}

/** A JetStream API request failed with an error the adapter does not turn into a verdict. */
export class JetStreamRequestError extends Error {
  override readonly name = "JetStreamRequestError";
  readonly reason = "JetStreamError";
  constructor(
    message: string,
    readonly code: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** err_code of a JetStream API error, else null. */
export function apiErrorCode(err: unknown): number | null {
  return err instanceof JetStreamApiError ? err.code : null;
}

export function isApiError(err: unknown, ...codes: number[]): boolean {
  const code = apiErrorCode(err);
  return code !== null && codes.includes(code);
}

/** Strips user:password@ from a server URL so that it can be logged. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^@/]*@/i, "$1***@");
}

export function describeServers(servers: readonly string[]): string {
  return servers.map(redactUrl).join(",");
}

/**
 * Maps any error from the NATS client to one of ours: connection-level trouble becomes
 * NatsUnavailableError, authentication and permission trouble AuthFailedError, a JetStream API
 * error JetStreamRequestError (with its code). `what` says what was being done.
 */
export function toNatsError(err: unknown, what: string): Error {
  if (err instanceof NatsUnavailableError || err instanceof AuthFailedError || err instanceof JetStreamRequestError) return err;
  if (err instanceof coreErrors.AuthorizationError || err instanceof coreErrors.UserAuthenticationExpiredError) {
    return new AuthFailedError(`${what}: the server rejected the credentials (${err.message})`, { cause: err });
  }
  if (err instanceof coreErrors.PermissionViolationError) {
    return new AuthFailedError(`${what}: permission denied to ${err.operation} on ${err.subject}`, { cause: err });
  }
  if (err instanceof JetStreamApiError) {
    const code = err.code;
    if (code === JsApiCode.JetStreamNotEnabled || code === JsApiCode.JetStreamNotEnabledForAccount) {
      return new NatsUnavailableError(`${what}: JetStream is not enabled (${code})`, { cause: err });
    }
    return new JetStreamRequestError(`${what}: ${err.message} (${code})`, code, { cause: err });
  }
  if (
    err instanceof coreErrors.ConnectionError ||
    err instanceof coreErrors.TimeoutError ||
    err instanceof coreErrors.ClosedConnectionError ||
    err instanceof coreErrors.DrainingConnectionError ||
    err instanceof coreErrors.RequestError ||
    err instanceof coreErrors.NoRespondersError ||
    (err instanceof Error && err.name === "JetStreamNotEnabled")
  ) {
    return new NatsUnavailableError(`${what}: ${(err as Error).message}`, { cause: err });
  }
  const code = (err as NodeJS.ErrnoException | null)?.code;
  // Node's TLS verification codes: the CA or certificate in the credentials does not fit the server.
  if (typeof code === "string" && /CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET)|^ERR_TLS_|^ERR_SSL_/.test(code)) {
    return new AuthFailedError(`${what}: TLS verification failed (${code})`, { cause: err });
  }
  if (typeof code === "string" && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$/.test(code)) {
    return new NatsUnavailableError(`${what}: ${code}`, { cause: err });
  }
  return err instanceof Error ? err : new Error(`${what}: ${String(err)}`);
}
