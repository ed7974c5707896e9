import { describe, expect, it } from "vitest";
import { KubeApiError, SecretReader, type Secret } from "../../../operator/src/kube/index.js";

/** The API server's Secrets as our REST client's `get` sees them; counts the requests. */
function secretsApi() {
  const stored = new Map<string, Secret>();
  const api = {
    requests: 0,
    stored,
    async get<T>(path: string): Promise<T> {
      api.requests += 1;
      const match = /^\/api\/v1\/namespaces\/([^/]+)\/secrets\/([^/]+)$/.exec(path);
      if (!match) throw new Error(`unexpected path ${path}`);
      const secret = stored.get(`${match[1]}/${match[2]}`);
      if (!secret) throw new KubeApiError(404, "NotFound", `secrets "${match[2]}" not found`);
      return structuredClone(secret) as T;
    },
  };
  return api;
}

const tokenSecret = (token: string): Secret => ({ metadata: { namespace: "shop", name: "nats-auth" }, data: { token: Buffer.from(token).toString("base64") } });

describe("SecretReader", () => {
  it("keeps a found Secret for its time to live, then reads it again (a rotation is seen)", async () => {
    const api = secretsApi();
    let nowMs = 0;
    const reader = new SecretReader(api, 30_000, () => nowMs);
    api.stored.set("shop/nats-auth", tokenSecret("one"));
    expect((await reader.get("shop", "nats-auth"))?.data?.token).toBe(tokenSecret("one").data?.token);
    api.stored.set("shop/nats-auth", tokenSecret("two"));
    nowMs = 29_999;
    expect((await reader.get("shop", "nats-auth"))?.data?.token).toBe(tokenSecret("one").data?.token);
    expect(api.requests).toBe(1);
    nowMs = 30_000;
    expect((await reader.get("shop", "nats-auth"))?.data?.token).toBe(tokenSecret("two").data?.token);
    expect(api.requests).toBe(2);
  });

  it("never caches a missing Secret, so one created later is seen on the next read", async () => {
    const api = secretsApi();
    const reader = new SecretReader(api, 30_000, () => 0);
    expect(await reader.get("shop", "nats-auth")).toBeNull();
    api.stored.set("shop/nats-auth", tokenSecret("one"));
    expect(await reader.get("shop", "nats-auth")).not.toBeNull();
  });

  it("shares one request among concurrent reads of the same Secret", async () => {
    const api = secretsApi();
    api.stored.set("shop/nats-auth", tokenSecret("one"));
    const reader = new SecretReader(api);
    await Promise.all([reader.get("shop", "nats-auth"), reader.get("shop", "nats-auth"), reader.get("shop", "nats-auth")]);
    expect(api.requests).toBe(1);
  });

  it("passes on errors other than not-found (a 403 names what was refused)", async () => {
    const reader = new SecretReader({
      get: async () => {
        throw new KubeApiError(403, "Forbidden", 'secrets "nats-auth" is forbidden: cannot get resource "secrets"');
      },
    });
    await expect(reader.get("shop", "nats-auth")).rejects.toThrow(/cannot get resource "secrets"/);
  });
});
