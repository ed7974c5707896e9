import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { connect } from "@nats-io/transport-node";
import { parseAllDocuments } from "yaml";
import { API_GROUP, API_VERSION, KIND, parseDuration, resolveChannel, type PointToPointChannel } from "../api/index.js";
import { defaultStateDir, makeExampleEvent, publishEvents, readLocalState, stateFilePath } from "../local/index.js";
import { parseServerList } from "../nats/index.js";

// `p2p publish CHANNEL_FILE --count N`: a load generator. Publishes example
// immunisation_administered events to the channel's first subject, each with a unique
// Nats-Msg-Id, and prints one JSON line: {acked, duplicates, errors, ratePerSec, ...}.

const USAGE = `usage: p2p publish CHANNEL_FILE --count N [--rate R] [--size B] [--retry-for D] [--nats-url URLS] [--channel NAME] [--id-prefix P]

Publishes N example immunisation_administered events to the channel's first subject, each
with a unique Nats-Msg-Id (<prefix><i>, so the stream drops duplicates), and prints one JSON
line {acked, duplicates, errors, ratePerSec, ...}. Exit 1 if any publish failed.

  --count N         how many messages (required)
  --rate R          at most R messages/s (default: as fast as acks come back)
  --size B          pad each message to B bytes (trailing JSON whitespace)
  --window W        outstanding publishes at most (default 256)
  --retry-for D     retry a failed publish (same Nats-Msg-Id, so it is stored once) for up
                    to this long, e.g. 30s through a stream leader election (default 0s)
  --nats-url URLS   comma-separated servers; default: NATS_URL, else the server of the
                    \`p2p local\` running here
                    (its <state dir>/local.json; --state-dir or P2P_STATE_DIR or $TMPDIR/p2p-local)
  --channel NAME    which channel of a multi-document file (default: the first)
  --id-prefix P     Nats-Msg-Id prefix (default: a random one per run)
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      count: { type: "string" },
      rate: { type: "string" },
      size: { type: "string" },
      window: { type: "string" },
      "retry-for": { type: "string" },
      "nats-url": { type: "string" },
      "state-dir": { type: "string" },
      channel: { type: "string" },
      "id-prefix": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const file = positionals[0];
  if (!file || positionals.length > 1) return usage("give exactly one CHANNEL_FILE");
  const count = intFlag("--count", values.count, 1);
  const rate = values.rate === undefined ? undefined : intFlag("--rate", values.rate, 1);
  const size = values.size === undefined ? 0 : intFlag("--size", values.size, 0);
  const window = values.window === undefined ? 256 : intFlag("--window", values.window, 1);
  if (count === null || rate === null || size === null || window === null) return 2;
  let retryForMs = 0;
  try {
    retryForMs = parseDuration(values["retry-for"] ?? "0s");
  } catch (err) {
    return usage(`--retry-for: ${(err as Error).message}`);
  }

  let subject: string;
  try {
    subject = await firstSubject(file, values.channel);
  } catch (err) {
    process.stderr.write(`p2p publish: ${(err as Error).message}\n`);
    return 1;
  }
  const stateDir = values["state-dir"] ?? defaultStateDir();
  const natsUrl = values["nats-url"] || process.env.NATS_URL || (await readLocalState(stateDir))?.natsUrl;
  if (!natsUrl) {
    process.stderr.write(
      `p2p publish: no NATS server: pass --nats-url, set NATS_URL, or start \`p2p local\` here (no running one in ${stateFilePath(stateDir)})\n`,
    );
    return 1;
  }

  const runId = values["id-prefix"] ?? `pub-${randomBytes(4).toString("hex")}-`;
  let nc;
  try {
    nc = await connect({ servers: parseServerList(natsUrl, values["nats-url"] ? "--nats-url" : "NATS_URL"), name: "p2p-publish" });
  } catch (err) {
    process.stderr.write(`p2p publish: cannot connect to ${natsUrl}: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    const report = await publishEvents(nc, {
      subject,
      count,
      ...(rate !== undefined ? { ratePerSec: rate } : {}),
      sizeBytes: size,
      window,
      retryForMs,
      idPrefix: runId,
      body: (i, msgId) => ({ ...makeExampleEvent(i, runId), eventId: msgId }),
    });
    process.stdout.write(`${JSON.stringify({ ...report, count, subject, idPrefix: runId })}\n`);
    if (report.errors > 0) process.stderr.write(`p2p publish: ${report.errors} publishes failed; first: ${report.firstError}\n`);
    return report.errors > 0 ? 1 : 0;
  } finally {
    await nc.drain().catch(() => undefined);
  }
}

/** The channel's first subject, defaults applied (p2p.<namespace>.<name> when spec.subjects is empty). */
async function firstSubject(file: string, name: string | undefined): Promise<string> {
  const docs = parseAllDocuments(await readFile(file, "utf8"));
  const channels = docs
    .map((d) => d.toJS() as unknown)
    .filter((v): v is PointToPointChannel => {
      const c = v as Partial<PointToPointChannel> | null;
      return c?.kind === KIND && c.apiVersion === `${API_GROUP}/${API_VERSION}` && typeof c.metadata?.name === "string";
    });
  const channel = name ? channels.find((c) => c.metadata.name === name) : channels[0];
  if (!channel) throw new Error(name ? `${file}: no PointToPointChannel named ${name}` : `${file}: no PointToPointChannel in it`);
  channel.metadata.namespace ||= "default";
  const subject = resolveChannel(channel).stream.subjects[0];
  if (!subject) throw new Error(`${file}: channel ${channel.metadata.name} has no subject`);
  if (/[*>]/.test(subject)) throw new Error(`${file}: the first subject ${subject} is a wildcard; publish needs a concrete subject`);
  return subject;
}

function intFlag(flag: string, raw: string | undefined, min: number): number | null {
  const value = Number(raw);
  if (raw === undefined || !Number.isInteger(value) || value < min) {
    usage(`${flag} must be an integer >= ${min}`);
    return null;
  }
  return value;
}

function usage(message: string): number {
  process.stderr.write(`p2p publish: ${message}\n${USAGE}`);
  return 2;
}
