import { pino, type Logger } from "pino";

// The one logger of the operator: JSON lines on stdout, level from LOG_LEVEL (default info).
// Reconciles log through a child bound to {namespace, name, stream, consumer}. Never log a secret.

export type { Logger };

export const log: Logger = pino({
  level: process.env.LOG_LEVEL ?? "info",
  base: { component: "p2p-operator" },
  timestamp: pino.stdTimeFunctions.isoTime,
});

export function childLogger(bindings: Record<string, unknown>, parent: Logger = log): Logger {
  return parent.child(bindings);
}
