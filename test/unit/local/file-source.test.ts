import { mkdtemp, mkdir, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileChannelSource, stableUid } from "../../../operator/src/local/file-source.js";

function channelYaml(name: string, opts: { namespace?: string; maxReplicas?: number; subject?: string } = {}): string {
  return [
    "apiVersion: messaging.p2p.dev/v1alpha1",
    "kind: PointToPointChannel",
    "metadata:",
    `  name: ${name}`,
    ...(opts.namespace ? [`  namespace: ${opts.namespace}`] : []),
    "spec:",
    `  subjects: [${opts.subject ?? `orders.${name}`}]`,
    "  workload:",
    "    template:",
    "      spec:",
    "        containers: [{name: c, command: [node, consumer.js]}]",
    "  scaling:",
    `    maxReplicas: ${opts.maxReplicas ?? 3}`,
    "",
  ].join("\n");
}

const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {a: b}\n";

describe("FileChannelSource", () => {
  let dir: string;
  let source: FileChannelSource | null;
  const changes: string[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "p2p-file-source-"));
    changes.length = 0;
    source = null;
  });
  afterEach(async () => {
    await source?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function start(paths: string[]): Promise<FileChannelSource> {
    // A long poll so that only explicit rescans (and fs.watch) drive these tests.
    source = new FileChannelSource({ paths, pollMs: 60_000, debounceMs: 10 });
    await source.start((key) => changes.push(key));
    return source;
  }

  it("reads channels from multi-document files in a directory, skipping other kinds", async () => {
    await writeFile(join(dir, "a.yaml"), `${channelYaml("alpha")}---\n${configMap}---\n${channelYaml("beta", { namespace: "team" })}`);
    await writeFile(join(dir, "notes.txt"), channelYaml("ignored"));
    const s = await start([dir]);

    expect(s.keys().sort()).toEqual(["default/alpha", "team/beta"]);
    expect(changes.sort()).toEqual(["default/alpha", "team/beta"]);
    const alpha = await s.get("default/alpha");
    expect(alpha?.metadata).toMatchObject({ name: "alpha", namespace: "default", generation: 1 });
    expect(alpha?.metadata.uid).toBe(stableUid(join(dir, "a.yaml"), "default/alpha"));
    expect(alpha?.spec.subjects).toEqual(["orders.alpha"]);
  });

  it("refuses a path that does not exist", async () => {
    await expect(start([join(dir, "missing.yaml")])).rejects.toThrow(/no such file/);
  });

  it("bumps generation when the spec changes, and not when only formatting changes", async () => {
    const file = join(dir, "c.yaml");
    await writeFile(file, channelYaml("alpha", { maxReplicas: 3 }));
    const s = await start([file]);
    changes.length = 0;

    await writeFile(file, `# a comment\n${channelYaml("alpha", { maxReplicas: 3 })}`);
    await s.rescan();
    expect(changes).toEqual([]);
    expect((await s.get("default/alpha"))?.metadata.generation).toBe(1);

    await writeFile(file, channelYaml("alpha", { maxReplicas: 7 }));
    await s.rescan();
    expect(changes).toEqual(["default/alpha"]);
    const alpha = await s.get("default/alpha");
    expect(alpha?.metadata.generation).toBe(2);
    expect(alpha?.spec.scaling?.maxReplicas).toBe(7);
  });

  it("keeps status across spec changes, and the uid stays the same", async () => {
    const file = join(dir, "c.yaml");
    await writeFile(file, channelYaml("alpha"));
    const s = await start([file]);
    const before = await s.get("default/alpha");
    await s.writeStatus(before!, { observedGeneration: 1, lag: 5 });
    await writeFile(file, channelYaml("alpha", { maxReplicas: 9 }));
    await s.rescan();
    const after = await s.get("default/alpha");
    expect(after?.metadata.uid).toBe(before?.metadata.uid);
    expect(after?.status).toEqual({ observedGeneration: 1, lag: 5 });
  });

  it("marks a channel whose file is removed as deleted until its finalizer is dropped", async () => {
    const file = join(dir, "c.yaml");
    await writeFile(file, channelYaml("alpha"));
    const s = await start([dir]);
    changes.length = 0;

    await unlink(file);
    await s.rescan();
    expect(changes).toEqual(["default/alpha"]);
    const deleting = await s.get("default/alpha");
    expect(deleting?.metadata.deletionTimestamp).toEqual(expect.any(String));
    expect(deleting?.spec.subjects).toEqual(["orders.alpha"]);
    expect(s.keys()).toEqual(["default/alpha"]);

    const gone: string[] = [];
    s.onGone((key) => gone.push(key));
    await s.setFinalizer(deleting!, false);
    expect(await s.get("default/alpha")).toBeNull();
    expect(s.keys()).toEqual([]);
    expect(gone).toEqual(["default/alpha"]);
  });

  it("deletes a channel whose document is removed from a file that stays", async () => {
    const file = join(dir, "c.yaml");
    await writeFile(file, `${channelYaml("alpha")}---\n${channelYaml("beta")}`);
    const s = await start([file]);
    changes.length = 0;

    await writeFile(file, channelYaml("alpha"));
    await s.rescan();
    expect(changes).toEqual(["default/beta"]);
    expect((await s.get("default/beta"))?.metadata.deletionTimestamp).toBeDefined();
    expect((await s.get("default/alpha"))?.metadata.deletionTimestamp).toBeUndefined();
  });

  it("a finalizer dropped for a channel still in its file changes nothing", async () => {
    const file = join(dir, "c.yaml");
    await writeFile(file, channelYaml("alpha"));
    const s = await start([file]);
    await s.setFinalizer((await s.get("default/alpha"))!, false);
    expect(await s.get("default/alpha")).not.toBeNull();
  });

  it("a channel re-added while it is being finalized comes back once finalization is done", async () => {
    const file = join(dir, "c.yaml");
    await writeFile(file, channelYaml("alpha"));
    const s = await start([dir]);
    await unlink(file);
    await s.rescan();
    const deleting = await s.get("default/alpha");

    await writeFile(file, channelYaml("alpha", { maxReplicas: 5 }));
    await s.rescan();
    // Still the old, terminating object: the new one must not be finalized by mistake.
    expect((await s.get("default/alpha"))?.metadata.deletionTimestamp).toBeDefined();

    changes.length = 0;
    await s.setFinalizer(deleting!, false);
    const again = await s.get("default/alpha");
    expect(changes).toEqual(["default/alpha"]);
    expect(again?.metadata.deletionTimestamp).toBeUndefined();
    expect(again?.spec.scaling?.maxReplicas).toBe(5);
    expect(again?.metadata.generation).toBeGreaterThan(deleting!.metadata.generation!);
  });

  it("keeps a file's channels while it does not parse (a half-written save)", async () => {
    const file = join(dir, "c.yaml");
    await writeFile(file, channelYaml("alpha"));
    const s = await start([file]);
    changes.length = 0;

    await writeFile(file, "kind: PointToPointChannel\nmetadata: {name: [unclosed\n");
    await s.rescan();
    expect(changes).toEqual([]);
    expect((await s.get("default/alpha"))?.metadata.deletionTimestamp).toBeUndefined();
  });

  it("drops a status written for an older incarnation of the key", async () => {
    const file = join(dir, "c.yaml");
    await writeFile(file, channelYaml("alpha"));
    const s = await start([file]);
    const alpha = await s.get("default/alpha");
    await s.writeStatus({ ...alpha!, metadata: { ...alpha!.metadata, uid: "someone-else" } }, { lag: 99 });
    expect((await s.get("default/alpha"))?.status).toBeUndefined();
  });

  it("notices a new file in a watched directory without an explicit rescan", async () => {
    const s = await start([dir]);
    await mkdir(join(dir, "sub"));
    await writeFile(join(dir, "new.yml"), channelYaml("gamma"));
    await expect.poll(() => s.keys(), { timeout: 5_000 }).toEqual(["default/gamma"]);
    expect(changes).toEqual(["default/gamma"]);
  });

  it("uses the first definition of a channel defined in two files", async () => {
    await writeFile(join(dir, "a.yaml"), channelYaml("alpha", { subject: "first.one" }));
    await writeFile(join(dir, "b.yaml"), channelYaml("alpha", { subject: "second.one" }));
    const s = await start([dir]);
    expect((await s.get("default/alpha"))?.spec.subjects).toEqual(["first.one"]);
  });
});
