import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUser } from "@nats-io/nkeys";
import { afterAll, describe, expect, it } from "vitest";
import type { NatsCredentials } from "../../../operator/src/ports/index.js";
import { AuthFailedError, JetStreamSide, NatsUnavailableError } from "../../../operator/src/nats/index.js";
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

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
async function makeCertificates(): Promise<{ dir: string; ca: string; clientCert: string; clientKey: string; otherCa: string }> {
  const dir = await mkdtemp(join(tmpdir(), "p2p-tls-"));
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const subj = (cn: string) => ["-subj", `/CN=${cn}`];
  for (const ca of ["ca", "other-ca"]) {
    run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${ca}.key`, "-out", `${ca}.crt`, "-days", "1", ...subj(ca)]);
  }
  await writeFile(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const who of ["server", "client"]) {
    run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${who}.key`, "-out", `${who}.csr`, ...subj(who)]);
    run(["x509", "-req", "-in", `${who}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${who}.crt`, "-days", "1", ...(who === "server" ? ["-extfile", "server.ext"] : [])]);
  }
  const read = (f: string) => readFile(join(dir, f), "utf8");
  return { dir, ca: await read("ca.crt"), clientCert: await read("client.crt"), clientKey: await read("client.key"), otherCa: await read("other-ca.crt") };
}

describe("TLS", () => {
  it("connects with the CA and a client certificate, and fails without them", async () => {
    const certs = await makeCertificates();
    try {
      const server = await serverWith(
        `tls { cert_file: "${join(certs.dir, "server.crt")}", key_file: "${join(certs.dir, "server.key")}", ca_file: "${join(certs.dir, "ca.crt")}", verify: true }`,
      );
      const url = server.url.replace("nats://", "tls://");
      const ok = await side.sync(channel(), natsTarget(url, { caPem: certs.ca, certPem: certs.clientCert, keyPem: certs.clientKey }));
      expect(ok.stream.status).toBe("True");

      const wrongCa = await side.sync(channel(), natsTarget(url, { caPem: certs.otherCa, certPem: certs.clientCert, keyPem: certs.clientKey })).catch((e: unknown) => e);
      expect(wrongCa).toBeInstanceOf(AuthFailedError);
      expect((wrongCa as Error).message).toContain("TLS verification failed");
      expect(visible(wrongCa)).not.toContain("PRIVATE KEY");

      // The server drops a client without a certificate during the handshake; the client cannot
      // tell that from a network fault and times out.
      const quick = new JetStreamSide({ log: testLog, poolOptions: { connectTimeoutMs: 1_000 } });
      try {
        const noClientCert = await quick.sync(channel(), natsTarget(url, { caPem: certs.ca })).catch((e: unknown) => e);
        expect(noClientCert).toBeInstanceOf(NatsUnavailableError);
      } finally {
        await quick.close();
      }
    } finally {
      await rm(certs.dir, { recursive: true, force: true });
    }
  });
});
