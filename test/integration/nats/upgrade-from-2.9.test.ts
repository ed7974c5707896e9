import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { JetStreamSide } from "../../../operator/src/nats/index.js";
import { OWNER_METADATA_KEYS, versionAtLeast } from "../../../operator/src/plan/index.js";
import { natsServerBinFor } from "../../../scripts/nats-server-bin.mjs";
import { makeResolvedChannel, natsTarget } from "../../support/channels.js";
import { NatsServerProcess } from "../../support/nats-server.js";
import { admin, testLog } from "./helpers.js";

// A stream stamped the 2.9 way (owner in the description only) whose store is then served by
// the release under test: the operator keeps owning it without flapping or re-adoption, and
// adds the metadata stamp once.

const suiteVersion = NatsServerProcess.versionOf();
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe.skipIf(!versionAtLeast(suiteVersion, 2, 10))(`a 2.9 store served by ${suiteVersion}`, () => {
  it("keeps the channel's streams as its own, stamps their metadata once, and then stays in sync", async () => {
    const storeDir = join(await mkdtemp(join(tmpdir(), "p2p-upgrade-")), "jetstream");
    dirs.push(join(storeDir, ".."));
    const ch = makeResolvedChannel({ namespace: "health", name: "upgraded", uid: "uid-upgraded", consumer: { deadLetter: { subject: "dlq.upgraded" } } });
    const streams = [ch.stream.name, `${ch.stream.name}_DLQ`, `${ch.stream.name}_ADVISORIES`];

    const old = await NatsServerProcess.start({ storeDir, bin: natsServerBinFor("2.9") });
    const side29 = new JetStreamSide({ log: testLog });
    try {
      const created = await side29.sync(ch, natsTarget(old.url));
      expect(created.server?.serverVersion).toMatch(/^2\.9\./);
      expect(created.stream).toMatchObject({ status: "True", reason: "Created" });
      const adm = await admin(old.url);
      for (let i = 0; i < 5; i++) await adm.js.publish(ch.stream.subjects[0] as string, `m${i}`);
      for (const name of streams) expect((await adm.jsm.streams.info(name)).config.metadata?.[OWNER_METADATA_KEYS.uid]).toBeUndefined();
      await adm.close();
    } finally {
      await side29.close();
      await old.stop({ keepStore: true });
    }

    const current = await NatsServerProcess.start({ storeDir });
    const side = new JetStreamSide({ log: testLog });
    try {
      const target = natsTarget(current.url);
      const first = await side.sync(ch, target);
      expect(first.server?.serverVersion).toBe(suiteVersion);
      expect(first.stream).toMatchObject({ status: "True", reason: "Updated" });
      expect(first.stream.message).toContain("metadata");
      expect(first.consumer.status).toBe("True");
      expect(first.queue?.lag).toBe(5);

      const adm = await admin(current.url);
      for (const name of streams) {
        expect((await adm.jsm.streams.info(name)).config.metadata, name).toMatchObject({ [OWNER_METADATA_KEYS.uid]: "uid-upgraded" });
      }
      for (let i = 0; i < 3; i++) {
        const again = await side.sync(ch, target);
        expect(again.stream).toMatchObject({ status: "True", reason: "InSync" });
        expect(again.consumer).toMatchObject({ status: "True", reason: "InSync" });
      }
      expect((await adm.jsm.streams.info(ch.stream.name)).state.messages).toBe(5);
      await adm.close();
    } finally {
      await side.close();
      await current.stop();
    }
  });
});
