import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import type { Logger } from "pino";
import { API_GROUP, API_VERSION, PLURAL, channelKey, type ChannelStatus, type PointToPointChannel, type ResolvedChannel } from "../api/index.js";
import type { ConnectionTarget, EventRecorder, NatsCredentials } from "../ports/index.js";
import {
  KubeConfigError,
  KubeEventRecorder,
  KubeRest,
  collectionPath,
  connectionTarget,
  credentialsFromSecret,
  isNotFound,
  loadKubeClientConfig,
  objectPath,
  SecretReader,
} from "../kube/index.js";
import { parseServerList } from "../nats/index.js";
import { LocalConnectionResolver, LoggingEventRecorder, defaultStateDir, readChannelsFile, readLocalState, stateFilePath } from "../local/index.js";

// Where `p2p status` and `p2p dlq` find channels: the cluster of the current kubeconfig context,
// or the `p2p local` running on this machine (--local, or when there is no cluster to talk to).
// Both give the channel as stored (spec and status), a NATS connection for it, and somewhere
// to leave an Event.

export interface FoundChannel {
  key: string;
  channel: PointToPointChannel;
  status: ChannelStatus;
  /** Smoothed rates a running `p2p local` measured; null from a cluster (status has no rates). */
  rates: { arrivalPerSec: number | null; processingPerSec: number | null } | null;
}

export interface ChannelFinder {
  /** For the user: "cluster (kubeconfig ..., context ...)" or "p2p local (pid ..., nats://...)". */
  readonly where: string;
  /** The namespace a bare CHANNEL name means when -n is not given. */
  readonly defaultNamespace: string;
  /** All channels, or those of one namespace. */
  list(namespace: string | null): Promise<FoundChannel[]>;
  get(namespace: string, name: string): Promise<FoundChannel>;
  connection(channel: ResolvedChannel): Promise<ConnectionTarget>;
  /** Events on the channel: core/v1 Events in a cluster, log lines locally. */
  readonly events: EventRecorder & { flush?(): Promise<void> };
}

export interface FinderOptions {
  local: boolean;
  kubeconfig?: string;
  stateDir?: string;
  /** --nats-url (or NATS_URL): wins over the channel's spec.connection.servers. */
  natsUrl?: string;
  /** --nats-creds: a .creds file for that connection. */
  natsCreds?: string;
  log: Logger;
}

export class ChannelNotFoundError extends Error {
  override readonly name = "ChannelNotFoundError";
}

/** The narrow part of KubeRest a finder uses (a unit test's fake implements just this). */
export type KubeReads = Pick<KubeRest, "get" | "list" | "create" | "patch">;

export async function openChannelFinder(o: FinderOptions): Promise<ChannelFinder> {
  const stateDir = o.stateDir ?? defaultStateDir();
  if (o.local) return localFinder(stateDir, o);
  let config;
  try {
    config = loadKubeClientConfig(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {});
  } catch (err) {
    if (!(err instanceof KubeConfigError) || o.kubeconfig) throw err;
    if (await readLocalState(stateDir)) return localFinder(stateDir, o);
    throw new Error(`${err.message}; and no running \`p2p local\` (${stateFilePath(stateDir)}): point KUBECONFIG at a cluster, or start \`p2p local\``, {
      cause: err,
    });
  }
  const rest = new KubeRest(config);
  return new KubeChannelFinder(rest, `cluster (${config.source})`, config.namespace ?? "default", o, new KubeEventRecorder(rest, o.log, `p2p-cli@${hostname()}`));
}

export class KubeChannelFinder implements ChannelFinder {
  constructor(
    private readonly rest: KubeReads,
    readonly where: string,
    readonly defaultNamespace: string,
    private readonly o: Pick<FinderOptions, "natsUrl" | "natsCreds">,
    readonly events: EventRecorder & { flush?(): Promise<void> },
  ) {}

  async list(namespace: string | null): Promise<FoundChannel[]> {
    const list = await this.rest.list<PointToPointChannel>(collectionPath(API_GROUP, API_VERSION, PLURAL, namespace ?? undefined));
    return list.items.map(foundInCluster).sort((a, b) => a.key.localeCompare(b.key));
  }

  async get(namespace: string, name: string): Promise<FoundChannel> {
    try {
      return foundInCluster(await this.rest.get<PointToPointChannel>(objectPath(API_GROUP, API_VERSION, PLURAL, namespace, name)));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      throw new ChannelNotFoundError(`pointtopointchannel ${namespace}/${name} not found in the ${this.where}: check the name, or pass -n NAMESPACE`, { cause: err });
    }
  }

  async connection(channel: ResolvedChannel): Promise<ConnectionTarget> {
    const servers = this.o.natsUrl ? parseServerList(this.o.natsUrl, "--nats-url") : (channel.connection?.servers ?? []);
    if (servers.length === 0) {
      throw new Error(
        `channel ${channel.key} uses the operator's own NATS connection, which this command cannot see: pass --nats-url (or set NATS_URL), e.g. nats://127.0.0.1:4222 after \`kubectl port-forward -n nats svc/nats 4222\``,
      );
    }
    return connectionTarget(servers, await this.credentials(channel));
  }

  private async credentials(channel: ResolvedChannel): Promise<NatsCredentials | null> {
    if (this.o.natsCreds) return { creds: await readFile(this.o.natsCreds, "utf8") };
    const ref = channel.connection?.secretRef;
    if (!ref) return null;
    const namespace = channel.owner.namespace;
    const secret = await new SecretReader(this.rest).get(namespace, ref.name);
    if (!secret) throw new Error(`Secret ${namespace}/${ref.name} (spec.connection.secretRef) not found: create it, or pass --nats-creds`);
    return credentialsFromSecret(secret);
  }
}

function foundInCluster(channel: PointToPointChannel): FoundChannel {
  return { key: channelKey(channel.metadata), channel, status: channel.status ?? {}, rates: null };
}

async function localFinder(stateDir: string, o: FinderOptions): Promise<ChannelFinder> {
  const state = await readLocalState(stateDir);
  if (!state) {
    throw new Error(`no running \`p2p local\` here (${stateFilePath(stateDir)}): start one, pass --state-dir, or leave out --local to use the cluster`);
  }
  const found = async (): Promise<FoundChannel[]> =>
    (await readChannelsFile(state.runDir)).channels
      .map((e) => ({
        key: channelKey(e.channel.metadata),
        channel: e.channel,
        status: e.status,
        rates: { arrivalPerSec: e.arrivalRatePerSec, processingPerSec: e.processingRatePerSec },
      }))
      .sort((a, b) => a.key.localeCompare(b.key));
  const resolver = new LocalConnectionResolver(parseServerList(o.natsUrl ?? state.natsUrl, o.natsUrl ? "--nats-url" : "the p2p local state file's natsUrl"));
  return {
    where: `p2p local (pid ${state.pid}, ${state.natsUrl})`,
    defaultNamespace: "default",
    list: async (namespace) => (await found()).filter((f) => namespace === null || f.channel.metadata.namespace === namespace),
    get: async (namespace, name) => {
      const hit = (await found()).find((f) => f.key === `${namespace}/${name}`);
      if (!hit) throw new ChannelNotFoundError(`no channel ${namespace}/${name} in the running p2p local (pid ${state.pid}): \`p2p status --local\` lists them`);
      return hit;
    },
    connection: (channel) => resolver.resolve(channel),
    events: new LoggingEventRecorder(o.log),
  };
}

/** The flags every command that finds channels takes (parseArgs options). */
export const FINDER_FLAGS = {
  namespace: { type: "string", short: "n" },
  local: { type: "boolean", default: false },
  kubeconfig: { type: "string" },
  "state-dir": { type: "string" },
  "nats-url": { type: "string" },
  "nats-creds": { type: "string" },
} as const;

/** FINDER_FLAGS plus what every command that shows channels takes: -o json and --help. */
export const CHANNEL_COMMAND_FLAGS = {
  ...FINDER_FLAGS,
  output: { type: "string", short: "o" },
  help: { type: "boolean", short: "h", default: false },
} as const;

export interface Output {
  write(text: string): unknown;
}

/**
 * The start both `p2p status` and `p2p dlq` share: --help prints the usage (exit 0), a wrong -o
 * is a usage error (exit 2). `stop` is that exit code, or null to go on; `usage` reports any
 * later usage error the same way.
 */
export function startChannelCommand(
  command: string,
  usageText: string,
  values: { help?: boolean | undefined; output?: string | undefined },
  out: Output,
  err: Output,
): { stop: number | null; usage: (message: string) => number } {
  const usage = (message: string) => {
    err.write(`p2p ${command}: ${message}\n${usageText}`);
    return 2;
  };
  if (values.help) {
    out.write(usageText);
    return { stop: 0, usage };
  }
  if (values.output !== undefined && values.output !== "json") return { stop: usage(`-o ${values.output}: only -o json is supported`), usage };
  return { stop: null, usage };
}

export const FINDER_USAGE = `  -n, --namespace NS  the channel's namespace (default: the kubeconfig context's, else default);
                      CHANNEL may also be written NS/NAME
  --local             the \`p2p local\` running here instead of the cluster (also the default when
                      no kubeconfig is found); --state-dir DIR where it is (default P2P_STATE_DIR
                      or $TMPDIR/p2p-local)
  --kubeconfig FILE   default: KUBECONFIG, in-cluster, ~/.kube/config (its current context)
  --nats-url URL      the channel's NATS server as seen from here (default NATS_URL, else the
                      channel's spec.connection.servers); --nats-creds FILE a .creds file for it
                      (default: the channel's spec.connection.secretRef Secret)
`;

export interface FinderFlagValues {
  local?: boolean | undefined;
  kubeconfig?: string | undefined;
  "state-dir"?: string | undefined;
  "nats-url"?: string | undefined;
  "nats-creds"?: string | undefined;
}

export function finderOptions(values: FinderFlagValues, log: Logger, env: NodeJS.ProcessEnv = process.env): FinderOptions {
  const natsUrl = values["nats-url"] || env.NATS_URL;
  return {
    local: values.local ?? false,
    log,
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    ...(values["state-dir"] ? { stateDir: values["state-dir"] } : {}),
    ...(natsUrl ? { natsUrl } : {}),
    ...(values["nats-creds"] ? { natsCreds: values["nats-creds"] } : {}),
  };
}

/** CHANNEL as NAME (in -n, else the finder's default namespace) or NS/NAME. */
export function channelRef(arg: string, namespaceFlag: string | undefined, defaultNamespace: string): { namespace: string; name: string } {
  const slash = arg.indexOf("/");
  if (slash < 0) return { namespace: namespaceFlag ?? defaultNamespace, name: arg };
  const namespace = arg.slice(0, slash);
  if (namespaceFlag && namespaceFlag !== namespace) throw new Error(`CHANNEL ${arg} names namespace ${namespace} but -n says ${namespaceFlag}: give one of them`);
  return { namespace, name: arg.slice(slash + 1) };
}
