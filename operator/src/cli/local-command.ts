import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { destination, pino, type Logger } from "pino";
import { ChannelReconciler, Controller, type ChannelSnapshot } from "../controller/index.js";
import type { NatsSide } from "../ports/index.js";
import {
  FileChannelSource,
  LocalConnectionResolver,
  LoggingEventRecorder,
  NatsServerProcess,
  ProcessWorkload,
  channelJson,
  clearLocalState,
  defaultStateDir,
  renderTable,
  stateFilePath,
  writeChannelsFile,
  writeLocalState,
  type ChannelRow,
} from "../local/index.js";
import { JetStreamSide, parseServerList } from "../nats/index.js";

// `p2p local [FILES|DIRS]`: the operator's reconcile loop without Kubernetes. Channels come from
// YAML files, workload.template containers run as child processes, and an embedded nats-server
// runs unless --nats-url is given.

export interface LocalOptions {
  paths: string[];
  /** Use these NATS servers (comma-separated) instead of starting one. */
  natsUrl?: string;
  /** Where local.json, logs and credentials go (default P2P_STATE_DIR or $TMPDIR/p2p-local). */
  stateDir?: string;
  /** Env for every consumer process, over the container's and the contract's. */
  env?: Record<string, string>;
  log?: Logger;
  /** SIGTERM -> SIGKILL grace period for consumer processes; default: each channel's, as for its pods. */
  gracePeriodMs?: number;
  /** Rescan interval of the channel files (fs.watch is the fast path). */
  filePollMs?: number;
  /** Replaces the JetStream adapter (tests). */
  natsSide?: NatsSide;
}

export interface LocalRuntime {
  natsUrl: string;
  /** This run's directory: consumer logs under logs/, the operator's log in p2p-local.log. */
  runDir: string;
  logDir: string;
  /** The operator's own log (reconciles, scaling, events). */
  logFile: string;
  source: FileChannelSource;
  workload: ProcessWorkload;
  reconciler: ChannelReconciler;
  events: LoggingEventRecorder;
  /** The latest snapshot of every channel that still exists. */
  rows(): ChannelRow[];
  onSnapshot(listener: (row: ChannelRow) => void): void;
  /** Stops the controller, the consumer processes (gracefully), NATS; idempotent. */
  stop(): Promise<void>;
  /** A second Ctrl-C: SIGKILL the consumers. */
  kill(): void;
}

export async function startLocal(options: LocalOptions): Promise<LocalRuntime> {
  const stateDir = options.stateDir ?? defaultStateDir();
  const runDir = join(stateDir, `run-${process.pid}-${Date.now().toString(36)}`);
  const logDir = join(runDir, "logs");
  await mkdir(logDir, { recursive: true });
  const logFile = join(runDir, "p2p-local.log");
  const log =
    options.log ??
    pino(
      { level: process.env.LOG_LEVEL ?? "info", base: { name: "p2p-local" }, timestamp: pino.stdTimeFunctions.isoTime },
      destination({ dest: logFile, sync: false, mkdir: true }),
    );

  const server = options.natsUrl ? null : await NatsServerProcess.start({ ownProcessGroup: true });
  const natsUrl = options.natsUrl ?? server!.url;
  const source = new FileChannelSource({ paths: options.paths, log: log.child({ component: "files" }), pollMs: options.filePollMs ?? 2_000 });
  const workload = new ProcessWorkload({
    stateDir: runDir,
    log: log.child({ component: "processes" }),
    envOverrides: options.env ?? {},
    ...(options.gracePeriodMs !== undefined && { gracePeriodMs: options.gracePeriodMs }),
  });
  const nats = options.natsSide ?? new JetStreamSide({ log: log.child({ component: "nats" }) });
  const events = new LoggingEventRecorder(log.child({ component: "events" }));
  source.onGone((key) => {
    workload.releaseKey(key).catch((err: unknown) => log.error({ key, err: (err as Error).message }, "stopping the processes of a removed channel failed"));
  });
  const reconciler = new ChannelReconciler({
    source,
    nats,
    workload,
    connections: new LocalConnectionResolver(parseServerList(natsUrl, "--nats-url")),
    events,
    log,
  });
  const controller = new Controller({ source, reconciler, log, workers: 2, resyncMs: 30_000 });

  const latest = new Map<string, ChannelSnapshot>();
  const listeners: Array<(row: ChannelRow) => void> = [];
  const rowOf = (snap: ChannelSnapshot): ChannelRow => ({
    key: snap.key,
    status: snap.status,
    running: workload.ready(snap.key),
    ratePerSec: snap.rate,
  });
  reconciler.onSnapshot((snap) => {
    latest.set(snap.key, snap);
    for (const l of listeners) l(rowOf(snap));
    scheduleChannelsFile();
  });

  // For `p2p status` and `p2p dlq` in another terminal: at most one write per interval, the last snapshot always written.
  let fileTimer: NodeJS.Timeout | null = null;
  let fileWrite: Promise<void> = Promise.resolve();
  const writeChannels = () => {
    fileTimer = null;
    const keys = new Set(source.keys());
    const entries = [...latest.values()]
      .filter((s) => keys.has(s.key))
      .map((s) => ({ channel: s.channel, status: s.status, arrivalRatePerSec: s.rate, processingRatePerSec: s.processingRate }));
    fileWrite = fileWrite
      .then(() => writeChannelsFile(runDir, entries))
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, "could not write channels.json"));
  };
  const scheduleChannelsFile = () => {
    fileTimer ??= setTimeout(writeChannels, 250);
    fileTimer.unref?.();
  };

  // Last resort when this process exits without stop() (an uncaught error, process.exit):
  // children in their own process groups would outlive it. Nothing can catch a SIGKILL, though.
  const killChildren = () => {
    workload.killAll();
    try {
      if (server?.pid) process.kill(server.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.once("exit", killChildren);

  const rows = () => {
    const keys = new Set(source.keys());
    return [...latest.values()].filter((s) => keys.has(s.key)).sort((a, b) => a.key.localeCompare(b.key)).map(rowOf);
  };

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      await controller.stop();
      if (fileTimer) clearTimeout(fileTimer);
      await fileWrite;
      await workload.stopAll();
      await nats.close().catch(() => undefined);
      await server?.stop();
      process.removeListener("exit", killChildren);
      await clearLocalState(stateDir);
      log.info("p2p local stopped");
      log.flush?.();
    })());

  try {
    await controller.start();
  } catch (err) {
    process.removeListener("exit", killChildren);
    await controller.stop().catch(() => undefined);
    await nats.close().catch(() => undefined);
    await server?.stop();
    throw err;
  }
  await writeLocalState(stateDir, { pid: process.pid, natsUrl, runDir, startedAt: new Date().toISOString() });
  log.info({ natsUrl, runDir, stateFile: stateFilePath(stateDir), paths: options.paths }, "p2p local started");

  return {
    natsUrl,
    runDir,
    logDir,
    logFile,
    source,
    workload,
    reconciler,
    events,
    rows,
    onSnapshot: (listener) => {
      // A channel that is not requeued (an invalid spec) was reported once already: replay what is known.
      for (const row of rows()) listener(row);
      listeners.push(listener);
    },
    stop,
    kill: () => workload.killAll(),
  };
}

const USAGE = `usage: p2p local [FILES|DIRS...] [--nats-url URL] [--json] [--env NAME=VALUE]... [--state-dir DIR]

Runs the operator's reconcile loop on this machine: PointToPointChannels from YAML files
(re-read on change; a removed file finalizes its channels), workload.template's first
container run as child processes (cwd: this directory) with the consumer env, and an
embedded nats-server (nats-server on PATH or NATS_SERVER_BIN) unless --nats-url is given.
Default path: the current directory.

  --nats-url URLS     use these NATS servers (comma-separated: the servers of one
                      cluster) instead of starting one
  --json              JSON lines (default when stdout is not a terminal): one {"type":"started",
                      natsUrl, logDir, ...}, then one {"type":"channel", channel, ready, lag,
                      replicas, readyReplicas, desiredReplicas, ratePerSec, lastScaleReason,
                      conditions (those not True), ...} per reconcile, {"type":"stopped"} last
  --env NAME=VALUE    extra env for every consumer process (repeatable)
  --state-dir DIR     where local.json (read by \`p2p publish\`) and logs go
                      (default P2P_STATE_DIR or $TMPDIR/p2p-local)
`;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        "nats-url": { type: "string" },
        json: { type: "boolean", default: false },
        env: { type: "string", multiple: true, default: [] },
        "state-dir": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`p2p local: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const env: Record<string, string> = {};
  for (const pair of values.env ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      process.stderr.write(`p2p local: --env wants NAME=VALUE, got ${JSON.stringify(pair)}\n`);
      return 2;
    }
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const json = values.json || !process.stdout.isTTY;
  const stateDir = values["state-dir"] ?? defaultStateDir();

  if (values["nats-url"] !== undefined) {
    try {
      parseServerList(values["nats-url"], "--nats-url");
    } catch (err) {
      process.stderr.write(`p2p local: ${(err as Error).message}\n`);
      return 2;
    }
  }
  let runtime: LocalRuntime;
  try {
    runtime = await startLocal({
      paths: positionals.length > 0 ? positionals : ["."],
      ...(values["nats-url"] ? { natsUrl: values["nats-url"] } : {}),
      stateDir,
      env,
    });
  } catch (err) {
    process.stderr.write(`p2p local: ${(err as Error).message}\n`);
    return 1;
  }

  const header = { natsUrl: runtime.natsUrl, logDir: runtime.logDir };
  let redraw: NodeJS.Timeout | null = null;
  if (json) {
    writeLine({ type: "started", natsUrl: runtime.natsUrl, logDir: runtime.logDir, logFile: runtime.logFile, stateFile: stateFilePath(stateDir) });
    runtime.onSnapshot((row) => writeLine(channelJson(row)));
  } else {
    process.stdout.write("\x1b[2J");
    const draw = () => {
      const view = { ...header, channelsInFiles: runtime.source.keys().length };
      const lines = renderTable(view, runtime.rows(), Date.now(), process.stdout.columns || 120);
      process.stdout.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join("\n")}\n\x1b[J`);
    };
    draw();
    redraw = setInterval(draw, 1_000);
  }

  return new Promise<number>((resolveRun) => {
    // The loop's own timers are unref'd; this keeps `p2p local` running until a signal, even with
    // --nats-url and no valid channel (so no child process) to hold the event loop open.
    const keepAlive = setInterval(() => undefined, 60_000);
    const resolve = (code: number) => {
      clearInterval(keepAlive);
      resolveRun(code);
    };
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        runtime.kill();
        return;
      }
      if (redraw) clearInterval(redraw);
      if (json) writeLine({ type: "stopping", signal });
      else process.stdout.write(`\nstopping: consumers finish their work (Ctrl-C again to kill them)\n`);
      void runtime.stop().then(
        () => {
          if (json) writeLine({ type: "stopped" });
          resolve(0);
        },
        (err: unknown) => {
          process.stderr.write(`p2p local: stopping failed: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("SIGHUP", onSignal); // the terminal went away
  });
}

function writeLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
