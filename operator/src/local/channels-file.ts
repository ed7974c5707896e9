import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ChannelStatus, PointToPointChannel } from "../api/types.js";

// A running `p2p local` keeps <run dir>/channels.json up to date with every channel it
// reconciles (spec, latest status and smoothed rates), so that `p2p status` and `p2p dlq` in
// another terminal see what its live view sees, conditions included, without a second reconcile.

export interface LocalChannelEntry {
  channel: PointToPointChannel;
  status: ChannelStatus;
  arrivalRatePerSec: number | null;
  processingRatePerSec: number | null;
}

export interface LocalChannelsFile {
  updatedAt: string;
  channels: LocalChannelEntry[];
}

export function channelsFilePath(runDir: string): string {
  return join(runDir, "channels.json");
}

export async function writeChannelsFile(runDir: string, channels: LocalChannelEntry[], nowMs = Date.now()): Promise<void> {
  const path = channelsFilePath(runDir);
  const tmp = `${path}.${process.pid}.tmp`;
  const file: LocalChannelsFile = { updatedAt: new Date(nowMs).toISOString(), channels };
  await writeFile(tmp, `${JSON.stringify(file)}\n`);
  await rename(tmp, path);
}

/** The channels of the `p2p local` whose run dir this is; an empty list before its first reconcile. */
export async function readChannelsFile(runDir: string): Promise<LocalChannelsFile> {
  try {
    return JSON.parse(await readFile(channelsFilePath(runDir), "utf8")) as LocalChannelsFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { updatedAt: new Date(0).toISOString(), channels: [] };
    throw err;
  }
}
