import { describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { NatsServerProcess } from "../../support/nats-server.js";

describe("nats-server launcher", () => {
  it("starts a JetStream server that keeps file streams across kill -9 and restart", async () => {
    await using server = await NatsServerProcess.start();
    let nc = await connect({ servers: server.url });
    let jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "LAUNCHER", subjects: ["launcher.>"] });
    await nc.publish("launcher.a", "x");
    await nc.flush();
    await nc.close();
    await server.kill();
    await server.restart();
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info("LAUNCHER");
    expect(info.config.subjects).toEqual(["launcher.>"]);
    // The release the suite runs on: NATS_SERVER_BIN, set from NATS_SERVER_VERSION (default latest).
    expect(nc.info?.version).toBe(NatsServerProcess.versionOf());
    await nc.close();
  });
});
