import type { ResolvedChannel } from "../api/resolved.js";
import type { ConditionError } from "../ports/index.js";
import type { ConnectionResolver, ConnectionTarget } from "../ports/index.js";

/** A channel asks for something local mode cannot give (a Secret, a scale target). */
export class NotSupportedLocallyError extends Error implements ConditionError {
  override name = "NotSupportedLocallyError";
  readonly reason = "NotSupportedLocally";
}

/**
 * Local mode's connections: spec.connection.servers when the channel sets them, else the
 * embedded nats-server (or --nats-url). There are no Secrets without a cluster.
 */
export class LocalConnectionResolver implements ConnectionResolver {
  constructor(private readonly defaultServers: string[]) {}

  async resolve(channel: ResolvedChannel): Promise<ConnectionTarget> {
    if (channel.connection?.secretRef) {
      throw new NotSupportedLocallyError(
        `secrets are not supported in local mode (spec.connection.secretRef ${channel.connection.secretRef.name}): remove it, or run the operator in a cluster`,
      );
    }
    const servers = channel.connection?.servers?.length ? channel.connection.servers : this.defaultServers;
    return { servers, credentials: null, id: servers.join(",") };
  }
}
