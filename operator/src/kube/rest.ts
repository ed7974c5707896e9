import http from "node:http";
import https from "node:https";
import { createInterface } from "node:readline";
import type { KubeClientConfig, KubeHeaders } from "./kubeconfig.js";
import type { ObjectMeta } from "../api/types.js";

// A narrow JSON client for the Kubernetes REST API: objects stay exactly as the server sent
// them (no Date conversion, no dropped fields), patch content types are explicit, and a watch
// is a line stream we control. Where the server is and how to authenticate: kubeconfig.ts.

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

/** Object metadata as the API server sends it: the channel's ObjectMeta plus what other kinds carry. */
export interface KubeObjectMeta extends ObjectMeta {
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

export class KubeRest {
  private readonly server: URL;
  /** The server's path prefix (a proxied API server may have one), without a trailing slash. */
  private readonly prefix: string;
  private readonly agent: http.Agent;

  constructor(
    private readonly config: KubeClientConfig,
    private readonly requestTimeoutMs = 30_000,
    /** Told of every request's method and status code (0: no answer), e.g. for rest_client_requests_total. */
    private readonly observe: (method: string, code: number) => void = () => {},
  ) {
    this.server = config.server;
    this.prefix = this.server.pathname.replace(/\/+$/, "");
    // One agent for the process' lifetime, keeping connections (and TLS sessions) between requests.
    this.agent = this.server.protocol === "https:" ? new https.Agent({ keepAlive: true, ...config.tls }) : new http.Agent({ keepAlive: true });
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
        const auth = await this.config.headers();
        if (aborted) return settle(null);
        const url = this.url(withQuery(path, { ...query, watch: "true" }));
        req = this.transport().request(url, { method: "GET", agent: this.agent, headers: { ...auth, Accept: "application/json" } });
        req.on("error", (err) => settle(aborted ? null : new KubeApiError(0, "WatchDropped", err.message, { cause: err })));
        req.on("response", (res) => {
          this.observe("WATCH", res.statusCode ?? 0);
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

  private url(path: string): URL {
    return new URL(this.prefix + path, this.server);
  }

  private async request<T>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
    let auth: KubeHeaders;
    try {
      auth = await this.config.headers();
    } catch (err) {
      throw new KubeApiError(0, "NoCredentials", `${method} ${path}: ${(err as Error).message}`, { cause: err });
    }
    const url = this.url(path);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const headers: KubeHeaders = { ...auth, Accept: "application/json" };
      if (payload) {
        headers["Content-Type"] = contentType;
        headers["Content-Length"] = String(payload.length);
      }
      const req = this.transport().request(url, { method, agent: this.agent, headers, timeout: this.requestTimeoutMs });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within ${this.requestTimeoutMs}ms`)));
      req.on("error", (err) => {
        this.observe(method, 0);
        reject(new KubeApiError(0, "Unreachable", `${method} ${path}: ${err.message}`, { cause: err }));
      });
      req.on("response", (res) => {
        this.observe(method, res.statusCode ?? 0);
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
              if (code === 401) this.config.rejected?.();
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
