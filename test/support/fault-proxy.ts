// A fault-injecting HTTPS proxy between a client (the operator) and the real kube-apiserver,
// for the faults the real server does not make on demand: 409/429/500/503 answers, latency,
// dropped watches, and 410 Gone for a watch's resourceVersion. Everything else passes through
// untouched, including the client's bearer token, so the apiserver still authenticates and
// authorizes the client itself.
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection";

export interface RequestInfo {
  verb: Verb;
  group: string;
  resource: string;
  subresource: string;
  namespace?: string;
  name?: string;
}

export interface FaultMatch {
  verb?: Verb | Verb[];
  resource?: string;
  /** "" matches only requests without a subresource. */
  subresource?: string;
  namespace?: string;
  name?: string;
}

export type FaultCode = 409 | 429 | 500 | 503;

const REASONS: Record<FaultCode, [string, string]> = {
  409: ["Conflict", "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again"],
  429: ["TooManyRequests", "the server has received too many requests and has asked us to try again later"],
  500: ["InternalError", "Internal error occurred: injected by the fault proxy"],
  503: ["ServiceUnavailable", "the server is currently unable to handle the request"],
};

/** Parses an apiserver path the way its request-info resolver does. */
export function requestInfo(method: string, url: URL): RequestInfo | null {
  const parts = url.pathname.split("/").filter(Boolean);
  let rest: string[];
  let group: string;
  if (parts[0] === "api" && parts.length >= 2) {
    group = "";
    rest = parts.slice(2);
  } else if (parts[0] === "apis" && parts.length >= 3) {
    group = parts[1]!;
    rest = parts.slice(3);
  } else return null;
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource = "", name, subresource = ""] = rest;
  if (rest[0] === "namespaces" && rest.length <= 2) namespace = undefined;
  const watch = ["true", "1"].includes((url.searchParams.get("watch") ?? "").toLowerCase());
  const verbs: Record<string, Verb> = { POST: "create", PUT: "update", PATCH: "patch", DELETE: name ? "delete" : "deletecollection" };
  const verb: Verb = method === "GET" ? (watch ? "watch" : name ? "get" : "list") : (verbs[method] ?? "get");
  return { verb, group, resource, subresource, namespace, name };
}

function matches(m: FaultMatch, info: RequestInfo): boolean {
  if (m.verb !== undefined && !(Array.isArray(m.verb) ? m.verb : [m.verb]).includes(info.verb)) return false;
  if (m.resource !== undefined && m.resource !== info.resource) return false;
  if (m.subresource !== undefined && m.subresource !== info.subresource) return false;
  if (m.namespace !== undefined && m.namespace !== info.namespace) return false;
  if (m.name !== undefined && m.name !== info.name) return false;
  return true;
}

function status(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code });
}

export interface FaultProxyOptions {
  /** The apiserver, e.g. https://127.0.0.1:6443. */
  upstream: string;
  /** CA that signed the apiserver's certificate. */
  ca: string;
  /** Serving pair for the proxy (the apiserver's own pair works: it is valid for 127.0.0.1). */
  cert: string;
  key: string;
}

export class FaultProxy {
  private failures: Array<{ match: FaultMatch; remaining: number; code: FaultCode }> = [];
  private latencies: Array<{ match: FaultMatch; ms: number }> = [];
  private expireNext = 0;
  private readonly watches = new Set<{ res: http.ServerResponse; upstream: http.ClientRequest }>();
  /** Requests answered with an injected fault so far. */
  injected = 0;
  /** Every request seen, for tests that count calls of a kind. */
  readonly seen: RequestInfo[] = [];
  /** Every write (anything but GET and HEAD) that passed, as "METHOD path?query". */
  readonly writes: string[] = [];

  private constructor(
    private readonly server: https.Server,
    readonly url: string,
  ) {}

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const upstream = new URL(options.upstream);
    const agent = new https.Agent({ keepAlive: true, ca: readFileSync(options.ca) });
    const server = https.createServer({ cert: readFileSync(options.cert), key: readFileSync(options.key) });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const proxy = new FaultProxy(server, `https://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on("request", (req, res) => void proxy.handle(req, res, upstream, agent));
    return proxy;
  }

  /** The next `count` matching requests get `code` instead of reaching the apiserver. */
  failNext(count: number, match: FaultMatch, code: FaultCode = 409): void {
    this.failures.push({ match, remaining: count, code });
  }

  /** Delays matching requests by `ms` until the returned function is called. */
  addLatency(ms: number, match: FaultMatch = {}): () => void {
    const rule = { match, ms };
    this.latencies.push(rule);
    return () => {
      this.latencies = this.latencies.filter((r) => r !== rule);
    };
  }

  /** Cuts every watch in flight: abruptly (socket destroyed) or as a server timeout would end it. */
  dropWatches(options: { abrupt?: boolean } = {}): number {
    const n = this.watches.size;
    for (const w of this.watches) {
      w.upstream.destroy();
      if (options.abrupt) w.res.socket?.destroy();
      else w.res.end();
    }
    this.watches.clear();
    return n;
  }

  /** The next `count` watches that name a resourceVersion get 410 Gone, as for a compacted one. */
  expireWatches(count = Number.MAX_SAFE_INTEGER): void {
    this.expireNext = count;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, upstream: URL, agent: https.Agent): Promise<void> {
    const url = new URL(req.url ?? "/", upstream);
    const info = requestInfo(req.method ?? "GET", url);
    if (info) {
      this.seen.push(info);
      for (const l of this.latencies) if (matches(l.match, info)) await new Promise((r) => setTimeout(r, l.ms));
      const failure = this.failures.find((f) => f.remaining > 0 && matches(f.match, info));
      if (failure) {
        failure.remaining -= 1;
        this.injected += 1;
        const [reason, message] = REASONS[failure.code];
        req.resume();
        res.writeHead(failure.code, { "Content-Type": "application/json", ...(failure.code === 429 ? { "Retry-After": "1" } : {}) });
        res.end(status(failure.code, reason, message));
        return;
      }
      if (info.verb === "watch" && this.expireNext > 0 && url.searchParams.get("resourceVersion")) {
        this.expireNext -= 1;
        this.injected += 1;
        req.resume();
        res.writeHead(200, { "Content-Type": "application/json" });
        const gone = JSON.parse(status(410, "Expired", `too old resource version: ${url.searchParams.get("resourceVersion")}`));
        res.end(`${JSON.stringify({ type: "ERROR", object: gone })}\n`);
        return;
      }
    }
    if (req.method !== "GET" && req.method !== "HEAD") this.writes.push(`${req.method} ${req.url}`);
    const headers = { ...req.headers, host: upstream.host };
    const out = https.request({ protocol: upstream.protocol, hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on("error", () => res.socket?.destroy());
    if (info?.verb === "watch") {
      const entry = { res, upstream: out };
      this.watches.add(entry);
      res.on("close", () => {
        this.watches.delete(entry);
        out.destroy();
      });
    }
    req.pipe(out);
  }

  async close(): Promise<void> {
    this.dropWatches({ abrupt: true });
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
