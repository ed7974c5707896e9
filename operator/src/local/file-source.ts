import { createHash } from "node:crypto";
import { watch, type FSWatcher } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, extname, join, resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import { parseAllDocuments } from "yaml";
import { API_GROUP, API_VERSION, KIND, channelKey, type ChannelStatus, type PointToPointChannel } from "../api/types.js";
import type { ChannelSource } from "../ports/index.js";

// Local mode's channel source: PointToPointChannel documents in YAML files. It plays the part
// of the API server for the reconcile loop: it assigns uid and generation, keeps status in
// memory, and turns a removed file (or a removed document) into a deletionTimestamp, so that
// the reconciler finalizes the channel (deletionPolicy, stopping its processes) exactly as in
// a cluster.

export interface FileChannelSourceOptions {
  /** Files and directories (a directory contributes its *.yaml / *.yml files, not recursively). */
  paths: string[];
  log?: Logger;
  /** Rescan interval: the fallback for file systems where fs.watch misses changes. */
  pollMs?: number;
  /** fs.watch events within this window fold into one rescan (editors write in several steps). */
  debounceMs?: number;
  now?: () => number;
}

export class ChannelFileError extends Error {
  override name = "ChannelFileError";
}

interface Entry {
  channel: PointToPointChannel;
  file: string;
  /** Canonical JSON of the spec, to bump generation only on a real change. */
  specJson: string;
}

interface FileState {
  text: string;
  /** The channel documents of the last version of this file that parsed. */
  docs: PointToPointChannel[];
}

const API = `${API_GROUP}/${API_VERSION}`;

export class FileChannelSource implements ChannelSource {
  private readonly entries = new Map<string, Entry>();
  /** Channels re-added while their previous incarnation is still being finalized (like AlreadyExists while terminating). */
  private readonly waiting = new Map<string, { channel: PointToPointChannel; file: string }>();
  private readonly files = new Map<string, FileState>();
  private readonly watchers: FSWatcher[] = [];
  private readonly statusListeners: Array<(key: string, status: ChannelStatus) => void> = [];
  private readonly goneListeners: Array<(key: string) => void> = [];
  private onChange: (key: string) => void = () => undefined;
  private pollTimer: NodeJS.Timeout | null = null;
  private debounceTimer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> | null = null;
  private rescanRequested = false;
  private stopped = false;
  private readonly roots: string[];
  private readonly now: () => number;

  constructor(private readonly options: FileChannelSourceOptions) {
    if (options.paths.length === 0) throw new ChannelFileError("no channel files or directories given");
    this.roots = options.paths.map((p) => resolve(p));
    this.now = options.now ?? Date.now;
  }

  async start(onChange: (key: string) => void): Promise<void> {
    for (const root of this.roots) {
      try {
        await stat(root);
      } catch {
        throw new ChannelFileError(`${root}: no such file or directory`);
      }
    }
    await this.scan();
    this.onChange = onChange;
    for (const key of this.entries.keys()) onChange(key);
    this.watch();
    const pollMs = this.options.pollMs ?? 2_000;
    const poll = () => {
      if (this.stopped) return;
      this.requestScan();
      this.pollTimer = setTimeout(poll, pollMs);
      this.pollTimer.unref?.();
    };
    this.pollTimer = setTimeout(poll, pollMs);
    this.pollTimer.unref?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    for (const w of this.watchers.splice(0)) w.close();
    await this.scanning;
  }

  async get(key: string): Promise<PointToPointChannel | null> {
    return this.peek(key);
  }

  /** A copy each time: entries are updated in place, so their identity says nothing of a change. */
  peek(key: string): PointToPointChannel | null {
    const entry = this.entries.get(key);
    return entry ? structuredClone(entry.channel) : null;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  async writeStatus(channel: PointToPointChannel, status: ChannelStatus): Promise<void> {
    const key = channelKey(channel.metadata);
    const entry = this.entries.get(key);
    // A status computed for another incarnation of the key is dropped, as a uid precondition would drop it.
    if (!entry || entry.channel.metadata.uid !== channel.metadata.uid) return;
    entry.channel.status = structuredClone(status);
    for (const listener of this.statusListeners) listener(key, status);
  }

  async setFinalizer(channel: PointToPointChannel, present: boolean): Promise<void> {
    if (present) return;
    const key = channelKey(channel.metadata);
    const entry = this.entries.get(key);
    // Finalized: a deleted channel is gone now; one that is still in its file stays.
    if (!entry || !entry.channel.metadata.deletionTimestamp || entry.channel.metadata.uid !== channel.metadata.uid) return;
    this.entries.delete(key);
    for (const listener of this.goneListeners) listener(key);
    const next = this.waiting.get(key);
    if (next) {
      this.waiting.delete(key);
      this.upsert(key, next.channel, next.file, (entry.channel.metadata.generation ?? 1) + 1);
      this.onChange(key);
    }
  }

  /** Status as last written, per channel (for views). */
  onStatus(listener: (key: string, status: ChannelStatus) => void): void {
    this.statusListeners.push(listener);
  }

  /**
   * Called when a deleted channel is gone for good: local mode's stand-in for ownerReference
   * garbage collection, so that what a channel owned goes with it even when the reconciler
   * could not release it (a channel whose spec was invalid when it was deleted).
   */
  onGone(listener: (key: string) => void): void {
    this.goneListeners.push(listener);
  }

  /** The file a channel came from. */
  fileOf(key: string): string | undefined {
    return this.entries.get(key)?.file;
  }

  /** Rescans now (tests; the watcher and the poll call this too). */
  async rescan(): Promise<void> {
    this.rescanRequested = true;
    while (this.scanning) await this.scanning;
    if (!this.rescanRequested) return;
    this.scanning = this.scan().finally(() => {
      this.scanning = null;
    });
    await this.scanning;
  }

  private requestScan(): void {
    if (this.stopped) return;
    this.rescan().catch((err: unknown) => this.options.log?.error({ err: (err as Error).message }, "rescanning channel files failed"));
  }

  private watch(): void {
    const dirs = new Set<string>();
    for (const root of this.roots) dirs.add(this.files.has(root) ? dirname(root) : root);
    for (const dir of dirs) {
      try {
        const w = watch(dir, { persistent: false }, () => this.debounced());
        w.on("error", () => undefined);
        this.watchers.push(w);
      } catch (err) {
        this.options.log?.warn({ dir, err: (err as Error).message }, "cannot watch; falling back to polling");
      }
    }
  }

  private debounced(): void {
    if (this.stopped) return;
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => this.requestScan(), this.options.debounceMs ?? 150);
    this.debounceTimer.unref?.();
  }

  /** Reads every file, then brings the in-memory set in line with what the files say. */
  private async scan(): Promise<void> {
    this.rescanRequested = false;
    const present = await this.listFiles();
    const seen = new Map<string, { channel: PointToPointChannel; file: string }>();
    for (const file of present) {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch {
        continue; // removed between listing and reading: treated as absent
      }
      const docs = this.docsOf(file, text);
      for (const channel of docs) {
        const key = channelKey(channel.metadata);
        const other = seen.get(key);
        if (other) {
          if (other.file !== file) this.options.log?.warn({ key, file, first: other.file }, "channel defined twice; the first definition wins");
          continue;
        }
        seen.set(key, { channel, file });
      }
    }
    for (const file of [...this.files.keys()]) if (!present.includes(file)) this.files.delete(file);

    const changed: string[] = [];
    for (const [key, { channel, file }] of seen) {
      const existing = this.entries.get(key);
      if (existing?.channel.metadata.deletionTimestamp) {
        this.waiting.set(key, { channel, file });
        continue;
      }
      if (this.upsert(key, channel, file)) changed.push(key);
    }
    for (const key of [...this.waiting.keys()]) if (!seen.has(key)) this.waiting.delete(key);
    for (const [key, entry] of this.entries) {
      if (seen.has(key) || entry.channel.metadata.deletionTimestamp) continue;
      entry.channel.metadata.deletionTimestamp = new Date(this.now()).toISOString();
      this.options.log?.info({ key, file: entry.file }, "channel removed from its file; finalizing");
      changed.push(key);
    }
    for (const key of changed) this.onChange(key);
  }

  /** Stores a parsed channel; returns true when the stored channel changed. */
  private upsert(key: string, parsed: PointToPointChannel, file: string, generation = 1): boolean {
    const specJson = canonicalJson(parsed.spec);
    const existing = this.entries.get(key);
    if (existing) {
      const meta = existing.channel.metadata;
      const metaChanged = !isDeepStrictEqual(
        { labels: meta.labels, annotations: meta.annotations },
        { labels: parsed.metadata.labels, annotations: parsed.metadata.annotations },
      );
      // Moved to another file: the same channel (same uid) as long as this process runs.
      if (existing.specJson === specJson && !metaChanged) {
        existing.file = file;
        return false;
      }
      if (existing.specJson !== specJson) {
        meta.generation = (meta.generation ?? 1) + 1;
        existing.channel.spec = structuredClone(parsed.spec);
        existing.specJson = specJson;
      }
      meta.labels = parsed.metadata.labels;
      meta.annotations = parsed.metadata.annotations;
      meta.resourceVersion = String(Number(meta.resourceVersion ?? "0") + 1);
      existing.file = file;
      return true;
    }
    const channel: PointToPointChannel = structuredClone({
      ...parsed,
      metadata: {
        ...parsed.metadata,
        uid: stableUid(file, key),
        generation,
        resourceVersion: "1",
        creationTimestamp: new Date(this.now()).toISOString(),
      },
    });
    delete channel.status;
    delete channel.metadata.deletionTimestamp;
    delete channel.metadata.finalizers;
    this.entries.set(key, { channel, file, specJson });
    return true;
  }

  /** The channel documents of a file; an unparseable version (often a half-written save) keeps the previous documents. */
  private docsOf(file: string, text: string): PointToPointChannel[] {
    const cached = this.files.get(file);
    if (cached && cached.text === text) return cached.docs;
    const out: PointToPointChannel[] = [];
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) {
        this.options.log?.warn({ file, err: doc.errors[0]?.message }, "cannot parse YAML; keeping the previous version of this file");
        const docs = cached?.docs ?? [];
        this.files.set(file, { text, docs });
        return docs;
      }
      const value: unknown = doc.toJS();
      if (!isChannelDoc(value)) continue;
      const metadata = { ...value.metadata, namespace: value.metadata.namespace || "default" };
      out.push({ ...value, metadata, spec: value.spec ?? ({} as PointToPointChannel["spec"]) });
    }
    this.files.set(file, { text, docs: out });
    return out;
  }

  private async listFiles(): Promise<string[]> {
    const out: string[] = [];
    for (const root of this.roots) {
      let isDir: boolean;
      try {
        isDir = (await stat(root)).isDirectory();
      } catch {
        continue; // gone: its channels are deleted
      }
      if (!isDir) {
        out.push(root);
        continue;
      }
      let names: string[];
      try {
        names = await readdir(root);
      } catch {
        continue;
      }
      for (const name of names.sort()) {
        const ext = extname(name).toLowerCase();
        if ((ext === ".yaml" || ext === ".yml") && !basename(name).startsWith(".")) out.push(join(root, name));
      }
    }
    return [...new Set(out)];
  }
}

function isChannelDoc(value: unknown): value is PointToPointChannel {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<PointToPointChannel>;
  return v.kind === KIND && v.apiVersion === API && typeof v.metadata?.name === "string" && v.metadata.name !== "";
}

/** A uid that stays the same across restarts of `p2p local` for the same file and channel. */
export function stableUid(file: string, key: string): string {
  const h = createHash("sha256").update(`${file}\0${key}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
