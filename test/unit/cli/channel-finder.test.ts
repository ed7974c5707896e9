import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { KubeChannelFinder, channelRef, type KubeReads } from "../../../operator/src/cli/channel-finder.js";
import { resolveChannel, type PointToPointChannel } from "../../../operator/src/api/index.js";
import { KubeApiError, KubeEventRecorder, type KubeList } from "../../../operator/src/kube/index.js";

// The Kubernetes side of `p2p status` / `p2p dlq` at our own narrow interface (KubeRest's
// get/list/create/patch), with an in-memory store standing in for the cluster's objects.

const silent = pino({ level: "silent" });

/** Objects by REST path; list answers a collection path (namespaced or across namespaces). */
class MemoryApi implements KubeReads {
  readonly objects = new Map<string, Record<string, unknown>>();

  put(path: string, object: Record<string, unknown>): void {
    this.objects.set(path, object);
  }

  async get<T>(path: string): Promise<T> {
    const o = this.objects.get(path);
    if (!o) throw new KubeApiError(404, "NotFound", `${path} not found`);
    return structuredClone(o) as T;
  }

  async list<T>(path: string): Promise<KubeList<T>> {
    const m = /^(\/apis?\/.+?)(?:\/namespaces\/([^/]+))?\/([^/]+)$/.exec(path)!;
    const [, base, namespace, plural] = m;
    const items = [...this.objects.entries()]
      .filter(([p]) => {
        const o = /^(\/apis?\/.+?)\/namespaces\/([^/]+)\/([^/]+)\/[^/]+$/.exec(p);
        return o !== null && o[1] === base && o[3] === plural && (namespace === undefined || o[2] === namespace);
      })
      .map(([, o]) => structuredClone(o) as T);
    return { items, metadata: {} };
  }

  async create<T>(path: string, body: unknown): Promise<T> {
    const name = (body as { metadata: { name: string } }).metadata.name;
    this.put(`${path}/${name}`, body as Record<string, unknown>);
    return body as T;
  }

  async patch<T>(path: string, _type: string, body: unknown): Promise<T> {
    const merged = { ...(await this.get<Record<string, unknown>>(path)), ...(body as Record<string, unknown>) };
    this.put(path, merged);
    return merged as T;
  }
}

const CHANNELS = "/apis/messaging.p2p.dev/v1alpha1";

function channel(namespace: string, name: string, spec: Partial<PointToPointChannel["spec"]> = {}, lag = 0): PointToPointChannel {
  return {
    apiVersion: "messaging.p2p.dev/v1alpha1",
    kind: "PointToPointChannel",
    metadata: { namespace, name, uid: `uid-${name}`, generation: 1, resourceVersion: "7" },
    spec: { workload: { template: { spec: { containers: [{ name: "c", image: "i" }] } } }, ...spec },
    status: { lag, deadLetters: 1 },
  } as PointToPointChannel;
}

function cluster(...channels: PointToPointChannel[]): MemoryApi {
  const api = new MemoryApi();
  for (const c of channels) api.put(`${CHANNELS}/namespaces/${c.metadata.namespace}/pointtopointchannels/${c.metadata.name}`, c as unknown as Record<string, unknown>);
  return api;
}

function finder(api: MemoryApi, o: { natsUrl?: string; natsCreds?: string } = {}) {
  return new KubeChannelFinder(api, "cluster (test)", "team-a", o, new KubeEventRecorder(api, silent, "p2p-cli@test"));
}

describe("KubeChannelFinder", () => {
  it("lists channels of every namespace, or of one, with their status and no rates of their own", async () => {
    const api = cluster(channel("team-b", "orders", {}, 5), channel("team-a", "register", {}, 42), channel("team-a", "audit"));
    const f = finder(api);
    expect((await f.list(null)).map((c) => [c.key, c.status.lag, c.rates])).toEqual([
      ["team-a/audit", 0, null],
      ["team-a/register", 42, null],
      ["team-b/orders", 5, null],
    ]);
    expect((await f.list("team-b")).map((c) => c.key)).toEqual(["team-b/orders"]);
  });

  it("says which channel is missing and how to find it", async () => {
    await expect(finder(cluster()).get("team-a", "nope")).rejects.toThrow("pointtopointchannel team-a/nope not found in the cluster (test): check the name, or pass -n NAMESPACE");
  });

  it("connects to the channel's own servers with the credentials of its Secret", async () => {
    const c = channel("team-a", "secure", { connection: { servers: ["nats://nats.team-a:4222"], secretRef: { name: "nats-auth" } } });
    const api = cluster(c);
    api.put("/api/v1/namespaces/team-a/secrets/nats-auth", { metadata: { namespace: "team-a", name: "nats-auth" }, data: { token: Buffer.from("s3cret").toString("base64") } });
    const target = await finder(api).connection(resolveChannel(c));
    expect(target.servers).toEqual(["nats://nats.team-a:4222"]);
    expect(target.credentials).toEqual({ token: "s3cret" });
    expect(target.id).not.toContain("s3cret");
  });

  it("prefers --nats-url and --nats-creds, which reach the server from outside the cluster", async () => {
    const c = channel("team-a", "secure", { connection: { servers: ["nats://nats.team-a:4222"], secretRef: { name: "absent" } } });
    const dir = await mkdtemp(join(tmpdir(), "finder-"));
    await writeFile(join(dir, "user.creds"), "CREDS");
    const target = await finder(cluster(c), { natsUrl: "nats://127.0.0.1:4222", natsCreds: join(dir, "user.creds") }).connection(resolveChannel(c));
    expect(target).toMatchObject({ servers: ["nats://127.0.0.1:4222"], credentials: { creds: "CREDS" } });
  });

  it("asks for --nats-url when the channel uses the operator's own connection, and names a missing Secret", async () => {
    const plain = channel("team-a", "plain");
    await expect(finder(cluster(plain)).connection(resolveChannel(plain))).rejects.toThrow(/uses the operator's own NATS connection.*pass --nats-url/);
    const c = channel("team-a", "secure", { connection: { servers: ["nats://x:4222"], secretRef: { name: "gone" } } });
    await expect(finder(cluster(c)).connection(resolveChannel(c))).rejects.toThrow("Secret team-a/gone (spec.connection.secretRef) not found: create it, or pass --nats-creds");
  });

  it("leaves an Event on the channel for what p2p dlq did", async () => {
    const c = channel("team-a", "register");
    const api = cluster(c);
    const f = finder(api);
    f.events.record(c, "Normal", "DeadLettersReplayed", "p2p dlq replay: 2 dead letter(s) from team-a_register_DLQ republished");
    await f.events.flush?.();
    const events = [...api.objects.entries()].filter(([p]) => p.startsWith("/api/v1/namespaces/team-a/events/")).map(([, o]) => o);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      involvedObject: { kind: "PointToPointChannel", namespace: "team-a", name: "register", uid: "uid-register" },
      reason: "DeadLettersReplayed",
      type: "Normal",
      message: "p2p dlq replay: 2 dead letter(s) from team-a_register_DLQ republished",
      reportingInstance: "p2p-cli@test",
    });
  });
});

describe("channelRef", () => {
  it.each([
    ["orders", undefined, { namespace: "ctx-ns", name: "orders" }],
    ["orders", "team-a", { namespace: "team-a", name: "orders" }],
    ["team-b/orders", undefined, { namespace: "team-b", name: "orders" }],
    ["team-b/orders", "team-b", { namespace: "team-b", name: "orders" }],
  ])("reads %s with -n %s", (arg, ns, expected) => {
    expect(channelRef(arg, ns, "ctx-ns")).toEqual(expected);
  });

  it("refuses a namespace given twice, differently", () => {
    expect(() => channelRef("team-b/orders", "team-a", "x")).toThrow("CHANNEL team-b/orders names namespace team-b but -n says team-a: give one of them");
  });
});
