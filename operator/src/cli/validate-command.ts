import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { parseAllDocuments } from "yaml";
import { API_GROUP, KIND, applyChannelDefaults, validateChannel } from "../api/index.js";
import { ackPendingShortfall } from "../plan/index.js";
import type { Output } from "./channel-finder.js";

// `p2p validate FILE...`: the CRD's schema and CEL rules, offline. One line per problem,
// `FILE: <field path>: <what is wrong and how to fix it>`, so editors and CI can point at it.

const USAGE = `Usage: p2p validate FILE...

Checks PointToPointChannel manifests (multi-document YAML; kind: List too) against the
CRD's schema and rules, offline. Prints one line per problem:
  FILE: <field path>: <what is wrong and how to fix it>
A valid channel that will not work as meant gets a line too, FILE: <field path>: warning: ...
(it does not change the exit status).
In a file with several documents, FILE is written FILE#N for the N-th document.
Documents of other kinds are skipped with a note on stderr.
Exit status: 0 when every channel is valid, 1 when any problem was found, 2 on usage errors.
`;

export async function run(args: string[], out: Output = process.stdout, err: Output = process.stderr): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { help: { type: "boolean", short: "h" } },
    allowPositionals: true,
  });
  if (values.help) {
    out.write(USAGE);
    return 0;
  }
  if (positionals.length === 0) {
    err.write(`p2p validate: no files given\n\n${USAGE}`);
    return 2;
  }
  let problems = 0;
  for (const file of positionals) {
    const lines = await validateFile(file, err);
    problems += lines.errors.length;
    for (const line of [...lines.errors, ...lines.warnings]) out.write(`${line}\n`);
    if (lines.errors.length === 0 && lines.channels > 0) {
      out.write(`${file}: ok (${lines.channels} ${KIND}${lines.channels === 1 ? "" : "s"})\n`);
    } else if (lines.errors.length === 0) {
      err.write(`${file}: no ${KIND} found\n`);
    }
  }
  return problems > 0 ? 1 : 0;
}

interface FileResult {
  errors: string[];
  warnings: string[];
  channels: number;
}

async function validateFile(file: string, notes: Output): Promise<FileResult> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory; pass the YAML files in it" : String((e as Error).message);
    return { errors: [`${file}: (file): cannot read: ${why}`], warnings: [], channels: 0 };
  }
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [];
  const result: FileResult = { errors: [], warnings: [], channels: 0 };
  list.forEach((doc, i) => {
    const label = list.length > 1 ? `${file}#${i + 1}` : file;
    const yamlError = doc.errors[0];
    if (yamlError) {
      const pos = yamlError.linePos?.[0];
      const where = pos ? `line ${pos.line}, column ${pos.col}` : "(yaml)";
      const reason = (yamlError.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
      result.errors.push(`${label}: ${where}: invalid YAML: ${reason}`);
      return;
    }
    checkDocument(doc.toJS({ maxAliasCount: 100 }) as unknown, "", label, result, notes);
  });
  return result;
}

function checkDocument(value: unknown, prefix: string, label: string, result: FileResult, notes: Output): void {
  if (value === null || value === undefined) return; // an empty document, e.g. after a trailing ---
  if (typeof value !== "object" || Array.isArray(value)) {
    result.errors.push(`${label}: ${prefix || "(document)"}: expected a Kubernetes manifest (a YAML mapping with apiVersion and kind)`);
    return;
  }
  const doc = value as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown }; items?: unknown };
  if (doc.kind === "List" && Array.isArray(doc.items)) {
    doc.items.forEach((item, i) => checkDocument(item, `${prefix}items[${i}].`, label, result, notes));
    return;
  }
  const ourGroup = typeof doc.apiVersion === "string" && doc.apiVersion.startsWith(`${API_GROUP}/`);
  if (doc.kind !== KIND && !ourGroup) {
    const what = `${typeof doc.kind === "string" ? doc.kind : "a document without kind"}${typeof doc.metadata?.name === "string" ? `/${doc.metadata.name}` : ""}`;
    notes.write(`${label}: skipping ${prefix ? `${prefix.slice(0, -1)} ` : ""}${what}: not a ${KIND}\n`);
    return;
  }
  result.channels++;
  const issues = validateChannel(doc);
  for (const issue of issues) {
    const path = prefix && issue.path === "(document)" ? prefix.slice(0, -1) : `${prefix}${issue.path}`;
    result.errors.push(`${label}: ${path}: ${issue.message}`);
  }
  if (issues.length === 0) {
    for (const w of warningsOf(doc)) result.warnings.push(`${label}: ${prefix}${w.path}: warning: ${w.message}`);
  }
}

/** What a valid channel (its defaults applied, as the apiserver stores it) will not do as meant. */
function warningsOf(doc: object): Array<{ path: string; message: string }> {
  const { spec } = applyChannelDefaults(doc) as { spec: { consumer: { maxAckPending: number }; scaling: { maxReplicas: number } } };
  const shortfall = ackPendingShortfall(spec.consumer.maxAckPending, spec.scaling.maxReplicas);
  return shortfall ? [{ path: "spec.consumer.maxAckPending", message: shortfall.message }] : [];
}
