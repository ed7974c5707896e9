// A comma-separated list of NATS servers, as --nats-url, NATS_URL and `p2p publish` take it:
// several URLs of one cluster, so that the client can start on any server that is up.

export class ServerListError extends Error {
  override readonly name = "ServerListError";
}

const URL_RE = /^(nats|tls|ws|wss):\/\/[^\s,/]+(:\d+)?\/?$/;
const HOST_PORT_RE = /^[^\s,/:]+:\d+$/;

/** `nats://a:4222, nats://b:4222` -> ["nats://a:4222", "nats://b:4222"]; `what` names the flag in errors. */
export function parseServerList(raw: string, what: string): string[] {
  const servers = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (servers.length === 0) throw new ServerListError(`${what} is empty: give a NATS server URL, e.g. nats://127.0.0.1:4222, or several separated by commas`);
  for (const server of servers) {
    if (!URL_RE.test(server) && !HOST_PORT_RE.test(server)) {
      throw new ServerListError(
        `${what}: ${JSON.stringify(server)} is not a NATS server URL: use nats://host:4222 (or tls://, ws://, wss://, host:port), several separated by commas`,
      );
    }
  }
  return servers;
}
