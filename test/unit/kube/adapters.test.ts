import { describe, expect, it } from "vitest";
import { InvalidSecretError, SecretNotFoundError } from "../../../operator/src/ports/index.js";
import {
  KubeConnectionResolver,
  connectionId,
  credentialsFromSecret,
  mergePatch,
  microTime,
  onlyStatusChanged,
  parseListenAddress,
  type KubeObject,
  type Secret,
} from "../../../operator/src/kube/index.js";
import { makeResolvedChannel } from "../../support/channels.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const secret = (data: Record<string, string>, name = "nats-auth"): Secret => ({
  metadata: { name, namespace: "register" },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});

describe("credentialsFromSecret", () => {
  it.each([
    ["creds", { creds: "-----BEGIN NATS USER JWT-----" }, { creds: "-----BEGIN NATS USER JWT-----" }],
    ["nkey", { nkey: "SUAM..." }, { nkeySeed: "SUAM..." }],
    ["token", { token: "s3cret" }, { token: "s3cret" }],
    ["user+password", { user: "svc", password: "pw" }, { user: "svc", password: "pw" }],
    ["mTLS with CA", { "ca.crt": "CA", "tls.crt": "CRT", "tls.key": "KEY" }, { caPem: "CA", certPem: "CRT", keyPem: "KEY" }],
  ])("reads %s", (_n, data, expected) => {
    expect(credentialsFromSecret(secret(data))).toEqual(expected);
  });

  it.each([
    ["user without password", { user: "svc" }, /user without password/],
    ["password without user", { password: "pw" }, /password without user/],
    ["tls.crt without tls.key", { "tls.crt": "C" }, /tls.crt without tls.key/],
    ["no known key", { other: "x" }, /none of the keys/],
  ])("refuses %s without echoing values", (_n, data, message) => {
    const attempt = () => credentialsFromSecret(secret(data));
    expect(attempt).toThrow(InvalidSecretError);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (err) {
      for (const v of Object.values(data)) if (v.length > 2) expect((err as Error).message).not.toContain(v);
    }
  });
});

describe("KubeConnectionResolver", () => {
  const secrets = new Map<string, Secret>([["register/nats-auth", secret({ token: "s3cret" })]]);
  const resolver = new KubeConnectionResolver(
    { servers: ["nats://op:4222"], credentials: { creds: "OPERATOR" } },
    { get: async (ns: string, name: string) => secrets.get(`${ns}/${name}`) ?? null },
  );

  it("uses the operator's connection without spec.connection", async () => {
    const t = await resolver.resolve(makeResolvedChannel({ namespace: "register" }));
    expect(t.servers).toEqual(["nats://op:4222"]);
    expect(t.credentials).toEqual({ creds: "OPERATOR" });
  });

  it("uses the channel's servers and Secret, and an id that hides the secret", async () => {
    const t = await resolver.resolve(
      makeResolvedChannel({ namespace: "register", connection: { servers: ["nats://team:4222"], secretRef: { name: "nats-auth" } } }),
    );
    expect(t.servers).toEqual(["nats://team:4222"]);
    expect(t.credentials).toEqual({ token: "s3cret" });
    expect(t.id).toMatch(/^nats:\/\/team:4222#[0-9a-f]{16}$/);
    expect(t.id).not.toContain("s3cret");
  });

  it("does not lend the operator's credentials to a channel's own servers", async () => {
    const t = await resolver.resolve(makeResolvedChannel({ namespace: "register", connection: { servers: ["nats://team:4222"] } }));
    expect(t.credentials).toBeNull();
  });

  it("throws SecretNotFoundError for a missing Secret", async () => {
    await expect(
      resolver.resolve(makeResolvedChannel({ namespace: "register", connection: { secretRef: { name: "absent" } } })),
    ).rejects.toBeInstanceOf(SecretNotFoundError);
  });

  it("gives different ids to different credentials on the same servers", () => {
    expect(connectionId(["a"], { token: "1" })).not.toBe(connectionId(["a"], { token: "2" }));
    expect(connectionId(["a"], { token: "1", user: undefined })).toBe(connectionId(["a"], { token: "1" }));
  });
});

describe("mergePatch", () => {
  it.each([
    ["no change", { a: 1 }, { a: 1 }, {}],
    ["changed and added", { a: 1 }, { a: 2, b: 3 }, { a: 2, b: 3 }],
    ["removed key becomes null", { a: 1, b: 2 }, { a: 1 }, { b: null }],
    ["nested", { s: { x: 1, y: 2 } }, { s: { x: 1, y: 3 } }, { s: { y: 3 } }],
    ["arrays replaced whole", { c: [1, 2] }, { c: [1] }, { c: [1] }],
  ])("%s", (_n, before, after, expected) => {
    expect(mergePatch(before, after)).toEqual(expected);
  });
});

describe("onlyStatusChanged", () => {
  const base: KubeObject = {
    apiVersion: "messaging.p2p.dev/v1alpha1",
    kind: "PointToPointChannel",
    metadata: { name: "air", namespace: "register", generation: 2, resourceVersion: "10", finalizers: ["f"] },
    spec: { subjects: ["a"] },
    status: { lag: 1 },
  };
  it.each([
    ["status and resourceVersion only", { ...base, metadata: { ...base.metadata, resourceVersion: "11" }, status: { lag: 5 } }, true],
    ["managedFields only", { ...base, metadata: { ...base.metadata, managedFields: [{ manager: "x" }] } }, true],
    ["spec change", { ...base, spec: { subjects: ["b"] }, metadata: { ...base.metadata, generation: 3 } }, false],
    ["deletion started", { ...base, metadata: { ...base.metadata, deletionTimestamp: "2026-01-01T00:00:00Z" } }, false],
    ["finalizer removed", { ...base, metadata: { ...base.metadata, finalizers: [] } }, false],
    ["annotation added", { ...base, metadata: { ...base.metadata, annotations: { "messaging.p2p.dev/adopt": "true" } } }, false],
  ])("%s -> %s", (_n, next, expected) => {
    expect(onlyStatusChanged(base, next as KubeObject)).toBe(expected);
  });
});

describe("parseListenAddress", () => {
  it.each([
    [":8080", { host: undefined, port: 8080 }],
    ["127.0.0.1:0", { host: "127.0.0.1", port: 0 }],
    ["[::1]:9090", { host: "::1", port: 9090 }],
    ["0", null],
  ])("%s", (addr, expected) => {
    expect(parseListenAddress(addr)).toEqual(expected);
  });
  it("rejects a bare host", () => {
    expect(() => parseListenAddress("localhost")).toThrow(/host:port/);
  });
});

describe("microTime", () => {
  it("writes RFC 3339 with microseconds", () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe("2026-01-02T03:04:05.678000Z");
  });
});
