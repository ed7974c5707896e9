import http from "node:http";
import type { AddressInfo } from "node:net";

// /metrics on --metrics-addr and /healthz, /readyz on --health-addr (one server when the two
// addresses are the same). "0" disables an address, as in controller-runtime.

export interface ProbeOptions {
  metricsAddr: string;
  healthAddr: string;
  renderMetrics: () => string;
  /** Liveness: the process can still do its job. */
  healthy: () => boolean;
  /** Readiness: caches synced. */
  ready: () => boolean;
}

export interface ListenAddress {
  host: string | undefined;
  port: number;
}

/** ":8080" -> all interfaces; "127.0.0.1:0" -> loopback, a free port; "[::1]:9090"; "0" -> disabled (null). */
export function parseListenAddress(addr: string): ListenAddress | null {
  if (addr === "0" || addr === "") return null;
  const m = /^(?:\[([^\]]+)\]|([^:]*))?:(\d+)$/.exec(addr);
  if (!m) throw new Error(`invalid listen address ${JSON.stringify(addr)}: use host:port or :port`);
  const host = m[1] ?? (m[2] || undefined);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in ${JSON.stringify(addr)}`);
  return { host, port };
}

export class ProbeServers {
  private readonly servers: http.Server[] = [];
  /** Bound addresses, for logs and tests that pass port 0. */
  readonly addresses: { metrics?: string; health?: string } = {};

  constructor(private readonly options: ProbeOptions) {}

  async start(): Promise<void> {
    const metrics = parseListenAddress(this.options.metricsAddr);
    const health = parseListenAddress(this.options.healthAddr);
    const same = metrics && health && metrics.port !== 0 && metrics.port === health.port && metrics.host === health.host;
    if (same) {
      const bound = await this.listen(metrics, { metrics: true, health: true });
      this.addresses.metrics = bound;
      this.addresses.health = bound;
      return;
    }
    if (metrics) this.addresses.metrics = await this.listen(metrics, { metrics: true, health: false });
    if (health) this.addresses.health = await this.listen(health, { metrics: false, health: true });
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections?.();
          }),
      ),
    );
    this.servers.length = 0;
  }

  private async listen(addr: ListenAddress, serves: { metrics: boolean; health: boolean }): Promise<string> {
    const server = http.createServer((req, res) => this.handle(req, res, serves));
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(addr.port, addr.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    return `${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, serves: { metrics: boolean; health: boolean }): void {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") return text(res, 405, "method not allowed\n");
    if (serves.metrics && path === "/metrics") {
      res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
      res.end(this.options.renderMetrics());
      return;
    }
    if (serves.health && (path === "/healthz" || path === "/livez")) {
      return this.options.healthy() ? text(res, 200, "ok\n") : text(res, 500, "unhealthy\n");
    }
    if (serves.health && path === "/readyz") {
      return this.options.ready() ? text(res, 200, "ok\n") : text(res, 503, "informers not synced\n");
    }
    text(res, 404, "not found\n");
  }
}

function text(res: http.ServerResponse, code: number, body: string): void {
  res.writeHead(code, { "Content-Type": "text/plain; charset=utf-8" });
  res.end(body);
}
