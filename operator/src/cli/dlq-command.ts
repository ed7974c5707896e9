import { createInterface } from "node:readline/promises";
import { parseArgs } from "node:util";
import { pino, type DestinationStream, type Logger } from "pino";
import { resolveChannel, type ResolvedChannel } from "../api/index.js";
import { alignColumns } from "../local/index.js";
import {
  NatsConnectionPool,
  purgeDeadLetters,
  readDeadLetters,
  replayDeadLetter,
  type DeadLetter,
  type DeadLetterSelection,
  type PooledConnection,
  type ReplayResult,
} from "../nats/index.js";
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

// `p2p dlq list|show|replay|purge CHANNEL`: a channel's dead letters (<stream>_DLQ) without
// the nats CLI. replay and purge leave an Event on the channel and a log line (stderr).

const USAGE = `usage: p2p dlq list|show|replay|purge CHANNEL [flags]

  list      one line per dead letter: DLQ sequence, when it was stored, original subject,
            deliveries, replays, last error, body (shortened)
  show      each dead letter in full: every header and the body
  replay    republish to the original subject with the original headers, P2P-Replay-Count + 1
            and Nats-Msg-Id replay-<dlq stream>-<seq>; each is deleted from the DLQ only after
            the work stream acknowledged it. Fix the cause first: a message that fails again
            comes back to the DLQ.
  purge     delete dead letters; asks first unless --yes

  --seq N        only DLQ sequence N (repeatable, or N,M,...)
  --limit N      at most N dead letters, oldest first (list, show: 100 unless given)
  --dry-run      replay, purge: say what would be done, change nothing
  --yes          purge without asking
  -o json        JSON lines instead of text
${FINDER_USAGE}`;

const ACTIONS = ["list", "show", "replay", "purge"] as const;
/** list and show without --limit or --seq. */
const DEFAULT_LOOK_LIMIT = 100;
type Action = (typeof ACTIONS)[number];

export async function run(argv: string[], out: Output = process.stdout, err: Output = process.stderr): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CHANNEL_COMMAND_FLAGS,
      seq: { type: "string", multiple: true },
      limit: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      yes: { type: "boolean", short: "y", default: false },
    },
  });
  const { stop, usage } = startChannelCommand("dlq", USAGE, values, out, err);
  if (stop !== null) return stop;
  const [action, channelArg, ...extra] = positionals;
  if (!ACTIONS.includes(action as Action)) return usage(`the first argument is one of ${ACTIONS.join(", ")}${action ? `, not ${JSON.stringify(action)}` : ""}`);
  if (!channelArg || extra.length > 0) return usage("give exactly one CHANNEL");
  let selection: DeadLetterSelection;
  try {
    selection = selectionOf(values.seq, values.limit);
  } catch (e) {
    return usage((e as Error).message);
  }

  const log = pino({ level: process.env.LOG_LEVEL ?? "info", base: { component: "p2p-dlq" }, timestamp: pino.stdTimeFunctions.isoTime }, err as DestinationStream);
  const pool = new NatsConnectionPool({ name: "p2p-dlq", log: log.child({}, { level: "warn" }) });
  try {
    const finder = await openChannelFinder(finderOptions(values, log));
    const ref = channelRef(channelArg, values.namespace, finder.defaultNamespace);
    const found = await finder.get(ref.namespace, ref.name);
    const resolved = resolveChannel(found.channel);
    const dlq = resolved.consumer.deadLetter?.streamName;
    if (!dlq) {
      err.write(`p2p dlq: channel ${found.key} has no spec.consumer.deadLetter, so it has no dead letters; add deadLetter.subject to keep them\n`);
      return 1;
    }
    const conn = await pool.acquire(await finder.connection(resolved), "p2p-dlq");
    const ctx: Context = { action: action as Action, found, resolved, dlq, conn, selection, finder, log, out, err, json: values.output === "json" };
    const code = await perform(ctx, values["dry-run"], values.yes);
    await finder.events.flush?.();
    return code;
  } catch (e) {
    err.write(`p2p dlq: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await pool.close();
    log.flush();
  }
}

interface Context {
  action: Action;
  found: FoundChannel;
  resolved: ResolvedChannel;
  dlq: string;
  conn: PooledConnection;
  selection: DeadLetterSelection;
  finder: ChannelFinder;
  log: Logger;
  out: Output;
  err: Output;
  json: boolean;
}

async function perform(ctx: Context, dryRun: boolean, yes: boolean): Promise<number> {
  const { conn, dlq, out } = ctx;
  // Looking needs no more than a screenful by default; replay and purge take every one asked for.
  const looking = ctx.action === "list" || ctx.action === "show";
  const capped = looking && ctx.selection.limit === undefined && ctx.selection.seqs === undefined;
  const selection = capped ? { ...ctx.selection, limit: DEFAULT_LOOK_LIMIT } : ctx.selection;
  const letters = await readDeadLetters(conn.jsm, dlq, selection);
  if (ctx.action === "list" || dryRun) {
    if (ctx.json) for (const l of letters) out.write(`${JSON.stringify(letterJson(l, false))}\n`);
    else out.write(listText(letters, dlq, ctx.action === "list" ? "" : `${ctx.action} --dry-run: would ${ctx.action} `));
  } else if (ctx.action === "show") {
    for (const l of letters) out.write(ctx.json ? `${JSON.stringify(letterJson(l, true))}\n` : showText(l));
    if (!ctx.json && letters.length === 0) out.write(`no dead letters in ${dlq}\n`);
  }
  if (looking || dryRun) {
    if (capped && letters.length === DEFAULT_LOOK_LIMIT) {
      const held = (await conn.jsm.streams.info(dlq)).state.messages;
      if (held > letters.length) ctx.err.write(`p2p dlq: the oldest ${letters.length} of ${held} dead letters; --limit N shows more\n`);
    }
    return 0;
  }
  if (ctx.action === "replay") return replay(ctx, letters);
  return purge(ctx, letters, yes);
}

async function replay(ctx: Context, letters: DeadLetter[]): Promise<number> {
  const { conn, dlq, out } = ctx;
  const results: ReplayResult[] = [];
  let failure: Error | null = null;
  for (const letter of letters) {
    try {
      const r = await replayDeadLetter(conn.js, conn.jsm, dlq, letter);
      results.push(r);
      out.write(ctx.json ? `${JSON.stringify(r)}\n` : `${replayLine(r)}\n`);
    } catch (e) {
      // Not acknowledged: this one stays in the DLQ, and so do the ones after it.
      failure = e as Error;
      ctx.err.write(`p2p dlq: replaying ${dlq} #${letter.seq} to ${letter.originalSubject} failed, left in the DLQ: ${failure.message}\n`);
      break;
    }
  }
  const replayed = results.filter((r) => r.outcome === "replayed");
  const skipped = results.length - replayed.length;
  if (replayed.length > 0) {
    const message = `p2p dlq replay: ${replayed.length} dead letter(s) from ${dlq} republished to ${[...new Set(replayed.map((r) => r.subject))].join(", ")} (DLQ seq ${seqRange(replayed.map((r) => r.seq))})`;
    ctx.finder.events.record(ctx.found.channel, "Normal", "DeadLettersReplayed", message);
  }
  ctx.log.info({ channel: ctx.found.key, dlq, replayed: replayed.length, skipped, failed: failure !== null, seqs: replayed.map((r) => r.seq) }, "replayed dead letters");
  if (!ctx.json) out.write(`replayed ${replayed.length}, skipped ${skipped}${failure ? `, stopped at a failure (${letters.length - results.length} left)` : ""}\n`);
  return failure || skipped > 0 ? 1 : 0;
}

async function purge(ctx: Context, letters: DeadLetter[], yes: boolean): Promise<number> {
  const { dlq, out } = ctx;
  const all = ctx.selection.seqs === undefined && ctx.selection.limit === undefined;
  const what = all ? `every dead letter in ${dlq} (${letters.length} now)` : `${letters.length} dead letter(s) from ${dlq} (seq ${seqRange(letters.map((l) => l.seq))})`;
  if (!all && letters.length === 0) {
    out.write(`nothing to purge: no such dead letters in ${dlq}\n`);
    return 0;
  }
  if (!yes && !(await confirm(`delete ${what}? This cannot be undone. [y/N] `))) {
    ctx.err.write(`p2p dlq: not purged: ${process.stdin.isTTY ? "not confirmed" : "stdin is not a terminal; pass --yes to confirm"}\n`);
    return 1;
  }
  const purged = await purgeDeadLetters(ctx.conn.jsm, dlq, ctx.selection);
  ctx.finder.events.record(ctx.found.channel, "Normal", "DeadLettersPurged", `p2p dlq purge: ${purged} dead letter(s) deleted from ${dlq}`);
  ctx.log.info({ channel: ctx.found.key, dlq, purged }, "purged dead letters");
  out.write(ctx.json ? `${JSON.stringify({ purged })}\n` : `purged ${purged} dead letter(s) from ${dlq}\n`);
  return 0;
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

function selectionOf(seqFlags: string[] | undefined, limitFlag: string | undefined): DeadLetterSelection {
  const selection: DeadLetterSelection = {};
  if (seqFlags) {
    selection.seqs = seqFlags.flatMap((s) => s.split(",")).map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--seq ${s}: a DLQ sequence is an integer >= 1 (see \`p2p dlq list\`)`);
      return n;
    });
  }
  if (limitFlag !== undefined) {
    const n = Number(limitFlag);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--limit ${limitFlag}: give an integer >= 1`);
    selection.limit = n;
  }
  return selection;
}

const decoder = new TextDecoder();

function letterJson(l: DeadLetter, full: boolean): Record<string, unknown> {
  const { data, headers, ...rest } = l;
  return { ...rest, ...(full ? { headers } : {}), body: decoder.decode(data) };
}

function listText(letters: DeadLetter[], dlq: string, prefix: string): string {
  if (letters.length === 0) return `${prefix}no dead letters in ${dlq}\n`;
  const rows = [["SEQ", "STORED", "ORIGINAL SUBJECT", "DELIVERIES", "REPLAYS", "LAST ERROR", "BODY"]];
  for (const l of letters) {
    rows.push([String(l.seq), l.time, l.originalSubject ?? "-", l.deliveries === null ? "-" : String(l.deliveries), String(l.replayCount), shorten(l.reason ?? "-", 40), shorten(decoder.decode(l.data), 60)]);
  }
  return `${prefix ? `${prefix}${letters.length} dead letter(s) of ${dlq}\n` : ""}${alignColumns(rows).join("\n")}\n`;
}

function showText(l: DeadLetter): string {
  const headerLines = Object.entries(l.headers).flatMap(([k, vs]) => vs.map((v) => `  ${k}: ${v}`));
  return [`--- seq ${l.seq}  stored ${l.time}`, ...headerLines, "", decoder.decode(l.data), ""].join("\n");
}

function replayLine(r: ReplayResult): string {
  if (r.outcome === "skipped") return `#${r.seq} skipped: ${r.why}`;
  return `#${r.seq} -> ${r.subject} (work stream seq ${r.workSeq}${r.duplicate ? ", already there from an earlier replay" : ""}); deleted from the DLQ`;
}

function seqRange(seqs: number[]): string {
  if (seqs.length === 0) return "-";
  const sorted = [...seqs].sort((a, b) => a - b);
  return sorted.length === 1 ? String(sorted[0]) : `${sorted[0]}..${sorted[sorted.length - 1]}, ${sorted.length} in all`;
}

function shorten(text: string, max: number): string {
  const one = text.replace(/\s+/g, " ");
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
