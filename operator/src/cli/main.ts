#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";

// `p2p`: a small dispatcher. Each command lives in its own module under cli/ and is loaded
// only when run, so `p2p validate` never pays for the Kubernetes or NATS clients.

/** What a command module exports: run with the arguments after the command name, resolve to the exit code. */
export interface CommandModule {
  run(args: string[]): Promise<number>;
}

interface Command {
  usage: string;
  summary: string;
  load: () => Promise<CommandModule>;
}

// Adding a command is one line here. Use a literal import("./x-command.js") once the module
// exists (type-checked); commandModule() tolerates a module that is not written yet.
const COMMANDS: Record<string, Command> = {
  operator: { usage: "operator [flags]", summary: "run the operator against the current kubeconfig or in-cluster", load: () => import("./operator-command.js") },
  local: { usage: "local [FILES|DIRS]", summary: "run channels from YAML files on this machine, consumers as local processes", load: () => import("./local-command.js") },
  validate: { usage: "validate FILE...", summary: "check PointToPointChannel manifests offline against the CRD's schema and rules", load: () => import("./validate-command.js") },
  publish: { usage: "publish CHANNEL_FILE --count N [--rate R] [--size B]", summary: "publish test messages to a channel and report acks, duplicates and errors", load: () => import("./publish-command.js") },
  status: { usage: "status [CHANNEL] [-n NS] [-o json]", summary: "lag, rates, time to drain, replicas, dead letters and problems of every channel", load: () => import("./status-command.js") },
  dlq: { usage: "dlq list|show|replay|purge CHANNEL", summary: "inspect, replay or delete a channel's dead letters", load: () => import("./dlq-command.js") },
};

/** Installed as the kubectl plugin `kubectl-p2p`, the same CLI calls itself `kubectl p2p`. */
const PROGRAM = basename(process.argv[1] ?? "p2p").startsWith("kubectl-") ? "kubectl p2p" : "p2p";

class UsageError extends Error {
  override readonly name = "UsageError";
}

function helpText(): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length));
  const lines = Object.values(COMMANDS).map((c) => `  ${PROGRAM} ${c.usage.padEnd(width)}  ${c.summary}`);
  return [
    `${PROGRAM} - point-to-point channels with competing consumers on NATS JetStream`,
    "",
    `Usage: ${PROGRAM} <command> [arguments]`,
    "",
    "Commands:",
    ...lines,
    "",
    "Options:",
    `  -h, --help     show this help (${PROGRAM} <command> --help for a command's flags)`,
    "  -v, --version  print the version",
    "",
  ].join("\n");
}

async function commandModule(specifier: string): Promise<CommandModule> {
  try {
    return (await import(specifier)) as CommandModule;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" && String((err as Error).message).includes(specifier.slice(2))) {
      throw new Error(`this command is not available in this build (${specifier} is missing)`, { cause: err });
    }
    throw err;
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
  return pkg.version ?? "unknown";
}

async function main(argv: string[]): Promise<number> {
  const { values, tokens } = parseArgs({
    args: argv,
    options: { help: { type: "boolean", short: "h" }, version: { type: "boolean", short: "v" } },
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const commandToken = tokens.find((t) => t.kind === "positional");
  const globals = tokens.filter((t) => commandToken === undefined || t.index < commandToken.index);
  const unknown = globals.find((t) => t.kind === "option" && t.name !== "help" && t.name !== "version");
  if (unknown && unknown.kind === "option") throw new UsageError(`unknown option ${unknown.rawName}`);

  if (commandToken === undefined || commandToken.kind !== "positional") {
    if (values.version) {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    if (values.help) {
      process.stdout.write(helpText());
      return 0;
    }
    process.stderr.write(helpText());
    return 2;
  }

  let name = commandToken.value;
  let rest = argv.slice(commandToken.index + 1);
  if (name === "help") {
    if (rest[0] === undefined) {
      process.stdout.write(helpText());
      return 0;
    }
    name = rest[0];
    rest = ["--help"];
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}; commands: ${Object.keys(COMMANDS).join(", ")}`);
  if (values.help) rest = ["--help"];
  const module = await command.load();
  return module.run(rest);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  const message = err instanceof Error ? err.message : String(err);
  // parseArgs in a command throws ERR_PARSE_ARGS_* for unknown or malformed flags.
  const usage = err instanceof UsageError || String((err as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS");
  process.stderr.write(`${PROGRAM}: ${message}\n`);
  if (usage) process.stderr.write(`Run ${PROGRAM} --help for usage.\n`);
  process.exitCode = usage ? 2 : 1;
}
