import { createHash } from "node:crypto";
import type { ResolvedChannel } from "../api/resolved.js";
import { InvalidSecretError, SecretNotFoundError } from "../ports/index.js";
import type { ConnectionResolver, ConnectionTarget, NatsCredentials } from "../ports/index.js";
import type { Secret } from "./objects.js";
import type { SecretLookup } from "./secret-reader.js";

/** The operator's own connection: --nats-url and, optionally, the --nats-creds file's content. */
export interface DefaultConnection {
  servers: string[];
  credentials: NatsCredentials | null;
}

/**
 * A channel without spec.connection uses the operator's connection. With spec.connection, its
 * servers (or the operator's) and the credentials in its Secret, read by name (SecretReader):
 * the reconciler comes back after one poll on SecretNotFound, so a Secret created later is seen then.
 */
export class KubeConnectionResolver implements ConnectionResolver {
  constructor(
    private readonly defaults: DefaultConnection,
    private readonly secrets: SecretLookup,
  ) {}

  async resolve(channel: ResolvedChannel): Promise<ConnectionTarget> {
    const spec = channel.connection;
    if (!spec || (!spec.secretRef && !spec.servers?.length)) return connectionTarget(this.defaults.servers, this.defaults.credentials);
    const servers = spec.servers?.length ? spec.servers : this.defaults.servers;
    if (!spec.secretRef) return connectionTarget(servers, null);
    const namespace = channel.owner.namespace;
    const secret = await this.secrets.get(namespace, spec.secretRef.name);
    if (!secret) {
      throw new SecretNotFoundError(`Secret ${namespace}/${spec.secretRef.name} (spec.connection.secretRef) not found`);
    }
    return connectionTarget(servers, credentialsFromSecret(secret));
  }
}

export function connectionTarget(servers: string[], credentials: NatsCredentials | null): ConnectionTarget {
  return { servers, credentials, id: connectionId(servers, credentials) };
}

/** servers + a hash of the credentials: pools connections without holding the secret in a key. */
export function connectionId(servers: string[], credentials: NatsCredentials | null): string {
  const base = servers.join(",");
  if (!credentials) return base;
  const canonical = JSON.stringify(Object.entries(credentials).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)));
  return `${base}#${createHash("sha256").update(canonical).digest("hex").slice(0, 16)}`;
}

/** Secret keys (DESIGN.md): creds | nkey | token | user+password | ca.crt | tls.crt+tls.key. */
export function credentialsFromSecret(secret: Secret): NatsCredentials {
  const name = `${secret.metadata.namespace}/${secret.metadata.name}`;
  const data = secret.data ?? {};
  const value = (key: string): string | undefined => {
    const b64 = data[key];
    return b64 === undefined ? undefined : Buffer.from(b64, "base64").toString("utf8");
  };
  const creds: NatsCredentials = {};
  const set = (field: keyof NatsCredentials, key: string) => {
    const v = value(key);
    if (v !== undefined) creds[field] = v;
  };
  set("creds", "creds");
  set("nkeySeed", "nkey");
  set("token", "token");
  set("user", "user");
  set("password", "password");
  set("caPem", "ca.crt");
  set("certPem", "tls.crt");
  set("keyPem", "tls.key");

  if ((creds.user === undefined) !== (creds.password === undefined)) {
    throw new InvalidSecretError(`Secret ${name} has ${creds.user === undefined ? "password without user" : "user without password"}: set both`);
  }
  if ((creds.certPem === undefined) !== (creds.keyPem === undefined)) {
    throw new InvalidSecretError(`Secret ${name} has ${creds.certPem === undefined ? "tls.key without tls.crt" : "tls.crt without tls.key"}: set both`);
  }
  if (Object.keys(creds).length === 0) {
    throw new InvalidSecretError(`Secret ${name} has none of the keys creds, nkey, token, user+password, ca.crt, tls.crt+tls.key`);
  }
  return creds;
}
