/**
 * The message can never succeed (malformed, violates a business rule): it goes to the
 * dead-letter subject at once instead of being retried.
 */
export class PermanentError extends Error {
  override name = "PermanentError";
}

/** Worth trying again later (a dependency is down, a lock is held). Any other error is treated the same. */
export class RetryableError extends Error {
  override name = "RetryableError";
}

export class ConfigError extends Error {
  override name = "ConfigError";
}
