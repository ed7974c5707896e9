import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ConsumerMetrics } from "./metrics.js";

export interface HealthSource {
  /** Alive: not shutting down. A NATS outage is not a reason to restart the process. */
  live(): boolean;
  /** Ready: alive and connected to NATS. */
  ready(): boolean;
}

/** /healthz (liveness), /readyz and /metrics; resolves with the port it listens on (port 0 picks a free one). */
export async function startHttp(port: number, metrics: ConsumerMetrics, health: HealthSource): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz" || path === "/readyz") {
      const ok = path === "/healthz" ? health.live() : health.ready();
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: ok ? "ok" : "unavailable", connected: metrics.connected, inFlight: metrics.inFlight }));
    } else if (path === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      res.end(metrics.render());
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
