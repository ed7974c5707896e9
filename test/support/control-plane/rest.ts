// A small JSON client for the test harness and the process node: requests and watches over
// TLS with a client certificate or a bearer token. Deliberately independent of the operator's
// own Kubernetes client, which is what the tests examine.
import type { ClientRequest, IncomingMessage } from "node:http";
import https from "node:https";
import { readFileSync } from "node:fs";

export interface Credentials {
  server: string;
  ca: string;
  cert?: string;
  key?: string;
  token?: string;
}

export class KubeStatusError extends Error {
  override name = "KubeStatusError";
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

export interface WatchHandle {
  /** Resolves when the server ends the watch or the connection drops. */
  done: Promise<void>;
  stop(): void;
}

export class RestClient {
  private readonly agent: https.Agent;

  constructor(readonly creds: Credentials) {
    this.agent = new https.Agent({
      keepAlive: true,
      ca: readFileSync(creds.ca),
      cert: creds.cert ? readFileSync(creds.cert) : undefined,
      key: creds.key ? readFileSync(creds.key) : undefined,
    });
  }

  private open(method: string, path: string, payload?: { contentType: string; bytes: Buffer }): { req: ClientRequest; res: Promise<IncomingMessage> } {
    const url = new URL(path, this.creds.server);
    const headers: Record<string, string> = { Accept: "application/json" };
    if (payload) {
      headers["Content-Type"] = payload.contentType;
      headers["Content-Length"] = String(payload.bytes.length);
    }
    if (this.creds.token) headers.Authorization = `Bearer ${this.creds.token}`;
    const req = https.request(url, { method, agent: this.agent, headers });
    const res = new Promise<IncomingMessage>((resolve, reject) => {
      req.once("response", resolve);
      req.once("error", reject);
    });
    return { req, res };
  }

  /** One request; a non-2xx answer throws KubeStatusError with the server's reason and message. */
  async request<T = unknown>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
    const payload = body === undefined ? undefined : { contentType, bytes: Buffer.from(JSON.stringify(body)) };
    const { req, res } = this.open(method, path, payload);
    req.end(payload?.bytes);
    const response = await res;
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const code = response.statusCode ?? 0;
    if (code < 200 || code > 299) {
      let reason = "Unknown";
      let message = text;
      try {
        const status = JSON.parse(text) as { reason?: string; message?: string };
        reason = status.reason ?? reason;
        message = status.message ?? message;
      } catch {
        // not a Status object: keep the raw text
      }
      throw new KubeStatusError(code, reason, `${method} ${path}: ${code} ${reason}: ${message}`);
    }
    const json = (response.headers["content-type"] ?? "").includes("json");
    return (json && text ? JSON.parse(text) : text) as T;
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  /** Like get, but null for 404. */
  async find<T = unknown>(path: string): Promise<T | null> {
    try {
      return await this.get<T>(path);
    } catch (err) {
      if (err instanceof KubeStatusError && err.code === 404) return null;
      throw err;
    }
  }

  /** Streams watch events to `onEvent` until stopped or the server ends the watch. */
  async watch<T>(path: string, onEvent: (event: WatchEvent<T>) => void): Promise<WatchHandle> {
    const { req, res } = this.open("GET", path);
    req.end();
    const response = await res;
    if ((response.statusCode ?? 0) !== 200) {
      const chunks: Buffer[] = [];
      for await (const chunk of response) chunks.push(chunk as Buffer);
      throw new KubeStatusError(response.statusCode ?? 0, "WatchFailed", `watch ${path}: ${response.statusCode}: ${Buffer.concat(chunks).toString("utf8")}`);
    }
    let buffered = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) onEvent(JSON.parse(line) as WatchEvent<T>);
      }
    });
    const done = new Promise<void>((resolve) => {
      response.once("end", resolve);
      response.once("close", resolve);
      response.once("error", () => resolve());
      req.once("error", () => resolve());
    });
    return { done, stop: () => req.destroy() };
  }

  close(): void {
    this.agent.destroy();
  }
}
