import { parseArgs } from "node:util";
import { pino, type DestinationStream } from "pino";
import { parseDuration } from "../api/index.js";
import {
  CHANNEL_COMMAND_FLAGS,
  FINDER_USAGE,
  channelRef,
  finderOptions,
  openChannelFinder,
  startChannelCommand,
  type ChannelFinder,
  type FoundChannel,
  type Output,
} from "./channel-finder.js";
import { statusJson, statusRows, statusTable } from "./status-view.js";

// `p2p status [CHANNEL]`: every channel with lag, arrival and processing rates, an estimated
// time to drain, replicas, dead letters and the conditions that are not True.

const USAGE = `usage: p2p status [CHANNEL] [flags]

Every channel (in a cluster: all namespaces, or -n NS; locally: the running \`p2p local\`), or
just CHANNEL: lag, arrival (IN) and processing (OUT) rates, estimated time to drain at those
rates, replicas now/desired and max, dead letters held, and every condition that is not True.

  -o json          one JSON document {source, channels: [...]}
  --interval D     in a cluster, rates come from two readings of status.stream this far apart
                   (default 5s; 0 skips them); \`p2p local\` measures them itself
${FINDER_USAGE}`;

export async function run(argv: string[], out: Output = process.stdout, err: Output = process.stderr): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...CHANNEL_COMMAND_FLAGS, interval: { type: "string", default: "5s" } },
  });
  const { stop, usage } = startChannelCommand("status", USAGE, values, out, err);
  if (stop !== null) return stop;
  if (positionals.length > 1) return usage("give at most one CHANNEL");
  let intervalMs: number;
  try {
    intervalMs = parseDuration(values.interval);
  } catch (e) {
    return usage(`--interval: ${(e as Error).message}`);
  }

  const log = pino({ level: process.env.LOG_LEVEL ?? "warn", base: { component: "p2p-status" } }, err as DestinationStream);
  try {
    const finder = await openChannelFinder(finderOptions(values, log));
    const read = readerOf(finder, positionals[0], values.namespace);
    const first = await read();
    let earlier: { found: FoundChannel[]; elapsedMs: number } | null = null;
    let now = first;
    if (intervalMs > 0 && first.some((f) => f.rates === null)) {
      const started = Date.now();
      await new Promise((r) => setTimeout(r, intervalMs));
      now = await read();
      earlier = { found: first, elapsedMs: Date.now() - started };
    }
    const rows = statusRows(now, earlier);
    if (values.output === "json") {
      out.write(`${JSON.stringify({ source: finder.where, channels: statusJson(rows) }, null, 2)}\n`);
    } else if (rows.length === 0) {
      out.write(`no PointToPointChannel in the ${finder.where}${values.namespace ? ` in namespace ${values.namespace}` : ""}\n`);
    } else {
      out.write(`${[`${finder.where}`, ...statusTable(rows)].join("\n")}\n`);
    }
    return 0;
  } catch (e) {
    err.write(`p2p status: ${(e as Error).message}\n`);
    return 1;
  }
}

function readerOf(finder: ChannelFinder, channelArg: string | undefined, namespace: string | undefined): () => Promise<FoundChannel[]> {
  if (channelArg === undefined) return () => finder.list(namespace ?? null);
  const ref = channelRef(channelArg, namespace, finder.defaultNamespace);
  return async () => [await finder.get(ref.namespace, ref.name)];
}
