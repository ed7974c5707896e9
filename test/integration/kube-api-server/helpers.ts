// Shared bits of the kube-api-server tests: the fixture CRD path and a way to read the
// Status object out of a client-node ApiException.
import { fileURLToPath } from "node:url";
import { ApiException } from "@kubernetes/client-node";
import { expect } from "vitest";

export const WIDGET_CRDS = fileURLToPath(
  new URL("../../support/kube-api-server/fixtures/widgets.example.dev.yaml", import.meta.url),
);

export interface Status {
  kind: string;
  apiVersion: string;
  status: string;
  message: string;
  reason: string;
  code: number;
  details?: { name?: string; group?: string; kind?: string; causes?: { reason: string; message: string; field: string }[] };
}

/** Awaits a call that must fail and returns the Status object the server sent. */
export async function statusOf(call: Promise<unknown>): Promise<Status> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body: unknown = err.body;
    const status = (typeof body === "string" ? JSON.parse(body) : body) as Status;
    expect(status.code).toBe(err.code);
    return status;
  }
  throw new Error("expected the call to fail");
}

export async function eventually<T>(probe: () => Promise<T> | T, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw lastError;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
