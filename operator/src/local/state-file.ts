import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

// A running `p2p local` says where it is in <state dir>/local.json, so that `p2p publish`
// next to it finds its NATS server without flags. The state dir is --state-dir, else
// P2P_STATE_DIR, else $TMPDIR/p2p-local. Logs of the run live under <state dir>/run-<pid>/.

export interface LocalState {
  pid: number;
  natsUrl: string;
  runDir: string;
  startedAt: string;
}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.P2P_STATE_DIR || join(tmpdir(), "p2p-local");
}

export function stateFilePath(stateDir: string): string {
  return join(stateDir, "local.json");
}

export async function writeLocalState(stateDir: string, state: LocalState): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const path = stateFilePath(stateDir);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, path);
}

/** The state of a `p2p local` that is still running, or null. */
export async function readLocalState(stateDir: string): Promise<LocalState | null> {
  let state: LocalState;
  try {
    state = JSON.parse(await readFile(stateFilePath(stateDir), "utf8")) as LocalState;
  } catch {
    return null;
  }
  return typeof state.natsUrl === "string" && isAlive(state.pid) ? state : null;
}

/** Removes the state file if it is still ours (another `p2p local` may have started since). */
export async function clearLocalState(stateDir: string, pid: number = process.pid): Promise<void> {
  try {
    const state = JSON.parse(await readFile(stateFilePath(stateDir), "utf8")) as LocalState;
    if (state.pid !== pid) return;
  } catch {
    return;
  }
  await rm(stateFilePath(stateDir), { force: true });
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
