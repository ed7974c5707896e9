import { describe, expect, it } from "vitest";
import { OWNER_METADATA_KEYS } from "../../../operator/src/plan/ownership.js";
import { makeResolvedChannel, natsTarget, uniqueName } from "../../support/channels.js";
import { useSideTestEnv } from "./helpers.js";

// The features the channel's status says are in force (status.nats.features) are the ones the
// server really does: this file runs on whichever release the suite runs on (npm run
// test:nats-compat runs it on each), and checks the claim against what the server holds.

const ctx = useSideTestEnv();

function channel(paused = false) {
  const name = uniqueName("feat");
  return { ...makeResolvedChannel({ namespace: "health", name, uid: `uid-${name}` }), paused };
}

/** How many messages one pull of up to 10 gets within 1.5 s. */
async function pullOnce(stream: string, consumer: string): Promise<number> {
  const c = await ctx.adm.js.consumers.get(stream, consumer);
  const batch = await c.fetch({ max_messages: 10, expires: 1_500 });
  let n = 0;
  for await (const m of batch) {
    m.ack();
    n++;
  }
  return n;
}

describe("version-gated features", () => {
  it("reports the server's version, and stamps ownership in stream metadata exactly where it says StreamMetadata", async () => {
    const ch = channel();
    const result = await ctx.side.sync(ch, natsTarget(ctx.server.url));
    expect(result.server?.serverVersion).toBe(ctx.adm.nc.info?.version);
    const metadata = (await ctx.adm.jsm.streams.info(ch.stream.name)).config.metadata ?? {};
    if (result.server?.features.includes("StreamMetadata")) {
      expect(metadata).toMatchObject({ [OWNER_METADATA_KEYS.namespace]: "health", [OWNER_METADATA_KEYS.name]: ch.owner.name, [OWNER_METADATA_KEYS.uid]: ch.owner.uid });
    } else {
      expect(metadata[OWNER_METADATA_KEYS.name]).toBeUndefined();
    }
  });

  it("pauses deliveries on the server for spec.paused exactly where it says ConsumerPause, and resumes them", async () => {
    const ch = channel(true);
    const target = natsTarget(ctx.server.url);
    const first = await ctx.side.sync(ch, target);
    const pauseInForce = first.server?.features.includes("ConsumerPause") ?? false;
    await ctx.adm.js.publish(ch.stream.subjects[0] as string, "held?");

    const info = await ctx.adm.jsm.consumers.info(ch.stream.name, ch.consumer.name);
    if (pauseInForce) {
      expect(info.paused).toBe(true);
      expect(first.consumer.message).toContain("deliveries paused on the server");
      expect(await pullOnce(ch.stream.name, ch.consumer.name)).toBe(0);
      expect((await ctx.side.sync(ch, target)).queue?.consumer.paused).toBe(true);
    } else {
      expect(info.paused ?? false).toBe(false);
      expect(first.consumer.message).toContain("spec.paused holds replicas only");
    }

    const resumed = await ctx.side.sync({ ...ch, paused: false }, target);
    expect(resumed.queue?.consumer.paused).toBe(false);
    expect((await ctx.adm.jsm.consumers.info(ch.stream.name, ch.consumer.name)).paused ?? false).toBe(false);
    expect(await pullOnce(ch.stream.name, ch.consumer.name)).toBe(1);
  });
});

describe("a channel whose subjects take in the JetStream API", () => {
  // 2.10+ refuse such a stream (10052); 2.9 creates it, and from then on the stream answers the
  // account's JetStream API requests in the server's place.
  it.each([["*.>"], ["$JS.>"]])("refuses %s with SubjectOverlap on every server, and creates nothing", async (subject) => {
    const name = uniqueName("api");
    const ch = makeResolvedChannel({ namespace: "health", name, uid: `uid-${name}`, stream: { subjects: [subject] } });
    const result = await ctx.side.sync(ch, natsTarget(ctx.server.url));
    expect(result.stream).toMatchObject({ status: "False", reason: "SubjectOverlap" });
    expect(result.stream.message).toContain(`subject ${subject} takes in the JetStream API ($JS.API.>)`);
    await expect(ctx.adm.jsm.streams.info(ch.stream.name)).rejects.toThrow(/stream not found/);
  });
});
