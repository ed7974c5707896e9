import http from "node:http";
import https from "node:https";
import { createInterface } from "node:readline";
import type { KubeConfig } from "@kubernetes/client-node";

// A narrow JSON client for the Kubernetes REST API. @kubernetes/client-node's KubeConfig does
// what is hard (kubeconfig, in-cluster, exec/OIDC tokens, TLS); the requests themselves are plain
// JSON so that objects stay exactly as the server sent them (no Date conversion, no dropped
// fields), patch content types are explicit, and a watch is a line stream we control.

/** A metav1.Status failure (404, 409, 410, 422, ...) or a transport error (code 0). */
export class KubeApiError extends Error {
  override name = "KubeApiError";
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.code === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.code === 409;
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof KubeApiError && err.code === 409 && err.reason === "AlreadyExists";
export const isGone = (err: unknown): boolean => err instanceof KubeApiError && err.code === 410;

export type PatchType = "merge" | "json" | "strategic";

const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
};

export interface KubeObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  managedFields?: unknown[];
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: KubeObjectMeta;
  [key: string]: unknown;
}

export interface KubeList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

export interface WatchHandle {
  /** Resolves when the stream ends: null on a clean end, the error otherwise. */
  done: Promise<KubeApiError | null>;
  abort(): void;
}

interface ConnectionOptions {
  agent?: http.Agent;
  headers: Record<string, string>;
  auth?: string;
}

/** How long applied auth options are reused before asking KubeConfig again (tokens rotate). */
const AUTH_REFRESH_MS = 60_000;

export class KubeRest {
  private readonly server: URL;
  private connection: { at: number; options: Promise<ConnectionOptions> } | null = null;

  constructor(
    private readonly config: KubeConfig,
    private readonly requestTimeoutMs = 30_000,
  ) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    this.server = new URL(cluster.server);
  }

  async get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  async list<T>(path: string, query: Record<string, string> = {}): Promise<KubeList<T>> {
    return this.request<KubeList<T>>("GET", withQuery(path, query));
  }

  async create<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  async replace<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }

  async patch<T>(path: string, type: PatchType, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, body, PATCH_CONTENT_TYPE[type]);
  }

  async delete<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("DELETE", path, body);
  }

  /**
   * Opens a watch; onEvent gets every event including BOOKMARK and ERROR. An HTTP error at
   * the start (e.g. 410 for a too-old resourceVersion) ends `done` with that error.
   */
  watch<T>(path: string, query: Record<string, string>, onEvent: (event: WatchEvent<T>) => void): WatchHandle {
    let req: http.ClientRequest | null = null;
    let aborted = false;
    let settle: (err: KubeApiError | null) => void = () => {};
    const done = new Promise<KubeApiError | null>((resolve) => {
      let settled = false;
      settle = (err) => {
        if (settled) return;
        settled = true;
        resolve(err);
      };
    });
    void (async () => {
      try {
        const options = await this.connectionOptions();
        if (aborted) return settle(null);
        const url = new URL(withQuery(path, { ...query, watch: "true" }), this.server);
        req = this.transport().request(url, { method: "GET", agent: options.agent, auth: options.auth, headers: { ...options.headers, Accept: "application/json" } });
        req.on("error", (err) => settle(aborted ? null : new KubeApiError(0, "WatchDropped", err.message, { cause: err })));
        req.on("response", (res) => {
          if ((res.statusCode ?? 0) >= 300) {
            readBody(res)
              .then((text) => settle(statusError(res.statusCode ?? 0, text)))
              .catch((err: Error) => settle(new KubeApiError(res.statusCode ?? 0, "Unknown", err.message)));
            return;
          }
          const lines = createInterface({ input: res, crlfDelay: Infinity });
          lines.on("error", (err) => settle(aborted ? null : new KubeApiError(0, "WatchDropped", err.message, { cause: err })));
          lines.on("line", (line) => {
            if (!line.trim()) return;
            let event: WatchEvent<T>;
            try {
              event = JSON.parse(line) as WatchEvent<T>;
            } catch {
              return;
            }
            onEvent(event);
          });
          res.on("error", (err) => settle(aborted ? null : new KubeApiError(0, "WatchDropped", err.message, { cause: err })));
          res.on("aborted", () => settle(aborted ? null : new KubeApiError(0, "WatchDropped", "watch connection aborted")));
          lines.on("close", () => settle(null));
        });
        req.end();
      } catch (err) {
        settle(new KubeApiError(0, "WatchFailed", (err as Error).message, { cause: err }));
      }
    })();
    return {
      done,
      abort: () => {
        aborted = true;
        req?.destroy();
        settle(null);
      },
    };
  }

  private transport(): typeof http | typeof https {
    return this.server.protocol === "https:" ? https : http;
  }

  private async connectionOptions(): Promise<ConnectionOptions> {
    const now = Date.now();
    if (!this.connection || now - this.connection.at > AUTH_REFRESH_MS) {
      const options = (async () => {
        const opts: https.RequestOptions = {};
        await this.config.applyToHTTPSOptions(opts);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
        return { agent: opts.agent || undefined, headers, auth: opts.auth ?? undefined } as ConnectionOptions;
      })();
      this.connection = { at: now, options };
      options.catch(() => {
        this.connection = null;
      });
    }
    return this.connection.options;
  }

  private async request<T>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
    const options = await this.connectionOptions();
    const url = new URL(path, this.server);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const headers: Record<string, string> = { ...options.headers, Accept: "application/json" };
      if (payload) {
        headers["Content-Type"] = contentType;
        headers["Content-Length"] = String(payload.length);
      }
      const req = this.transport().request(url, { method, agent: options.agent, auth: options.auth, headers, timeout: this.requestTimeoutMs });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within ${this.requestTimeoutMs}ms`)));
      req.on("error", (err) => reject(new KubeApiError(0, "Unreachable", `${method} ${path}: ${err.message}`, { cause: err })));
      req.on("response", (res) => {
        readBody(res).then(
          (text) => {
            const code = res.statusCode ?? 0;
            if (code >= 200 && code < 300) {
              try {
                resolve((text ? JSON.parse(text) : {}) as T);
              } catch (err) {
                reject(new KubeApiError(code, "BadResponse", `${method} ${path}: invalid JSON`, { cause: err }));
              }
            } else {
              reject(statusError(code, text, `${method} ${path}`));
            }
          },
          (err: Error) => reject(new KubeApiError(0, "Unreachable", `${method} ${path}: ${err.message}`, { cause: err })),
        );
      });
      req.end(payload);
    });
  }
}

function withQuery(path: string, query: Record<string, string>): string {
  const entries = Object.entries(query).filter(([, v]) => v !== undefined && v !== "");
  if (entries.length === 0) return path;
  return `${path}${path.includes("?") ? "&" : "?"}${new URLSearchParams(entries).toString()}`;
}

function readBody(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
  });
}

function statusError(code: number, text: string, what?: string): KubeApiError {
  let reason = "Unknown";
  let message = text.slice(0, 500) || `HTTP ${code}`;
  try {
    const status = JSON.parse(text) as { reason?: string; message?: string };
    if (status.reason) reason = status.reason;
    if (status.message) message = status.message;
  } catch {
    // not a Status object: keep the raw text
  }
  return new KubeApiError(code, reason, what ? `${what}: ${message}` : message);
}

/** The REST path of a namespaced or cluster-scoped collection. */
export function collectionPath(group: string, version: string, plural: string, namespace?: string): string {
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  return namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${plural}` : `${base}/${plural}`;
}

export function objectPath(group: string, version: string, plural: string, namespace: string, name: string, subresource?: string): string {
  return `${collectionPath(group, version, plural, namespace)}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ""}`;
}
