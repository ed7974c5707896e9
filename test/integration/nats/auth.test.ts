import { createUser } from "@nats-io/nkeys";
import { afterAll, describe, expect, it } from "vitest";
import type { NatsCredentials } from "../../../operator/src/controller/ports.js";
import { AuthFailedError, JetStreamSide } from "../../../operator/src/nats/index.js";
import { makeResolvedChannel, natsTarget, uniqueName } from "../../support/channels.js";
import { NatsServerProcess } from "../../support/nats-server.js";
import { testLog } from "./helpers.js";

// Credentials against real servers: the right secret works, a wrong one gives AuthFailed, and no
// secret value shows up in what the error says.

const PASSWORD = "correct-horse-battery-staple";
const TOKEN = "s3cr3t-t0ken-value";

const servers: NatsServerProcess[] = [];
const side = new JetStreamSide({ log: testLog });

afterAll(async () => {
  await side.close();
  await Promise.all(servers.map((s) => s.stop()));
});

async function serverWith(extraConfig: string): Promise<NatsServerProcess> {
  const s = await NatsServerProcess.start({ extraConfig });
  servers.push(s);
  return s;
}

function channel() {
  return makeResolvedChannel({ namespace: "health", name: uniqueName("auth") });
}

/** Everything a user could see of an error: message, cause chain, and its JSON. */
function visible(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) parts.push(e.message, JSON.stringify(e));
  return parts.join(" | ");
}

async function expectAuthFailed(url: string, credentials: NatsCredentials, secret: string): Promise<void> {
  const err = await side.sync(channel(), natsTarget(url, credentials)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AuthFailedError);
  expect(err).toMatchObject({ name: "AuthFailedError", reason: "AuthFailed" });
  expect(visible(err)).not.toContain(secret);
}

describe("user and password", () => {
  it("works with the right password and gives AuthFailed for a wrong one", async () => {
    const server = await serverWith(`authorization { user: "operator", password: "${PASSWORD}" }`);
    const ok = await side.sync(channel(), natsTarget(server.url, { user: "operator", password: PASSWORD }));
    expect(ok.stream).toMatchObject({ status: "True", reason: "Created" });

    await expectAuthFailed(server.url, { user: "operator", password: "wrong-password-value" }, "wrong-password-value");
    await expectAuthFailed(server.url, { user: "operator", password: "" }, PASSWORD);
  });

  it("does not leak a password given in the server URL", async () => {
    const server = await serverWith(`authorization { user: "operator", password: "${PASSWORD}" }`);
    const url = server.url.replace("nats://", "nats://operator:url-secret-value@");
    const err = await side.sync(channel(), natsTarget(url)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthFailedError);
    expect(visible(err)).not.toContain("url-secret-value");
  });
});

describe("token", () => {
  it("works with the right token and gives AuthFailed for a wrong one", async () => {
    const server = await serverWith(`authorization { token: "${TOKEN}" }`);
    const ok = await side.sync(channel(), natsTarget(server.url, { token: TOKEN }));
    expect(ok.consumer).toMatchObject({ status: "True", reason: "Created" });

    await expectAuthFailed(server.url, { token: "not-the-token-value" }, "not-the-token-value");
  });
});

describe("nkey", () => {
  it("works with the user's seed and gives AuthFailed for another seed", async () => {
    const user = createUser();
    const stranger = createUser();
    const server = await serverWith(`authorization { users: [ { nkey: "${user.getPublicKey()}" } ] }`);
    const seed = new TextDecoder().decode(user.getSeed());
    const ok = await side.sync(channel(), natsTarget(server.url, { nkeySeed: seed }));
    expect(ok.stream.status).toBe("True");

    const wrongSeed = new TextDecoder().decode(stranger.getSeed());
    await expectAuthFailed(server.url, { nkeySeed: wrongSeed }, wrongSeed);
  });
});
