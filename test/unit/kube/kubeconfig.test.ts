import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KubeConfigError, TOKEN_REFRESH_MS, loadKubeClientConfig, type KubeClientConfig } from "../../../operator/src/kube/kubeconfig.js";
import { KubeApiError, KubeRest } from "../../../operator/src/kube/rest.js";

// Where the operator finds the API server and its credentials, without @kubernetes/client-node:
// kubeconfig files (fixtures/kubeconfig), in-cluster (fixtures/serviceaccount), and requests
// over TLS with the result (fixtures/tls).

const FIXTURES = join(import.meta.dirname, "fixtures");
const KUBECONFIGS = join(FIXTURES, "kubeconfig");
const SERVICE_ACCOUNT = join(FIXTURES, "serviceaccount");
const fixture = (name: string) => join(KUBECONFIGS, name);
const tls = (name: string) => readFileSync(join(FIXTURES, "tls", name));

/** No KUBECONFIG, not in a cluster, a home without ~/.kube/config. */
const NOWHERE = { env: {}, home: "/nonexistent-home", serviceAccountDir: "/nonexistent-sa" };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "p2p-kubeconfig-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("kubeconfig files", () => {
  it("uses the current context's cluster, user and namespace; relative paths from the file's directory", async () => {
    const c = loadKubeClientConfig({ ...NOWHERE, kubeconfig: fixture("token.yaml") });
    expect(c.server.href).toBe("https://127.0.0.1:6443/");
    expect(c.namespace).toBe("team-a");
    expect(c.tls).toEqual({ ca: tls("ca.crt"), servername: "kubernetes.default.svc", rejectUnauthorized: true });
    expect(await c.headers()).toEqual({ Authorization: "Bearer dev-token" });
    expect(c.source).toContain("context dev");
  });

  it("reads a test-server kubeconfig: plain http, TLS verification off, no credentials", async () => {
    const c = loadKubeClientConfig({ ...NOWHERE, kubeconfig: fixture("test-server.yaml") });
    expect(c.server.href).toBe("http://127.0.0.1:38080/");
    expect(c.tls.rejectUnauthorized).toBe(false);
    expect(c.namespace).toBe("default");
    expect(await c.headers()).toEqual({});
  });

  it("takes a client certificate and key from files, and -data over a path", async () => {
    const c = loadKubeClientConfig({ ...NOWHERE, kubeconfig: fixture("client-cert.yaml") });
    // certificate-authority names a file that does not exist: certificate-authority-data wins.
    expect(c.tls.ca).toEqual(tls("ca.crt"));
    expect(c.tls.cert).toEqual(tls("client.crt"));
    expect(c.tls.key).toEqual(tls("client.key"));
    expect(c.server.pathname).toBe("/k8s/clusters/c-1");
    expect(c.namespace).toBeNull();
    expect(await c.headers()).toEqual({});
  });

  it("sends basic auth and impersonation headers", async () => {
    const c = loadKubeClientConfig({ ...NOWHERE, kubeconfig: fixture("basic-impersonate.yaml") });
    expect(await c.headers()).toEqual({
      Authorization: `Basic ${Buffer.from("admin:s3cret").toString("base64")}`,
      "Impersonate-User": "jane",
      "Impersonate-Group": ["devs", "ops"],
      "Impersonate-Extra-scopes": ["read", "write"],
    });
  });

  it("merges a KUBECONFIG path list like kubectl: the first file to name an entry wins it", async () => {
    const c = loadKubeClientConfig({ ...NOWHERE, env: { KUBECONFIG: [fixture("merge-a.yaml"), join(dir, "missing.yaml"), fixture("merge-b.yaml")].join(delimiter) } });
    expect(c.server.host).toBe("a.example:6443");
    expect(c.namespace).toBe("from-b-ns");
    expect(await c.headers()).toEqual({ Authorization: "Bearer b-token" });
  });

  it.each([
    ["auth-provider.yaml", /user "sso" in .* authenticates with auth-provider "oidc", which p2p operator does not support: use the provider's exec credential plugin/],
    ["proxy.yaml", /cluster "c" in .* sets proxy-url, which p2p operator does not support/],
    ["broken-context.yaml", /current-context "missing" is not among its contexts/],
  ])("refuses %s with an error that says what", (file, message) => {
    expect(() => loadKubeClientConfig({ ...NOWHERE, kubeconfig: fixture(file) })).toThrow(message);
    expect(() => loadKubeClientConfig({ ...NOWHERE, kubeconfig: fixture(file) })).toThrow(KubeConfigError);
  });

  it("refuses what cannot work: no server, a key without a certificate, a missing file, not YAML", () => {
    const write = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const config = (cluster: string, user: string) =>
      `current-context: x\nclusters: [{ name: c, cluster: ${cluster} }]\nusers: [{ name: u, user: ${user} }]\ncontexts: [{ name: x, context: { cluster: c, user: u } }]\n`;
    expect(() => loadKubeClientConfig({ ...NOWHERE, kubeconfig: write("a", config("{}", "{}")) })).toThrow(/has no server/);
    expect(() => loadKubeClientConfig({ ...NOWHERE, kubeconfig: write("b", config("{ server: 'https://h' }", "{ client-key: key.pem, client-key-data: eA== }")) })).toThrow(
      /key without a certificate/,
    );
    expect(() => loadKubeClientConfig({ ...NOWHERE, kubeconfig: write("c", config("{ server: 'https://h', certificate-authority: nope.crt }", "{}")) })).toThrow(
      /cannot read certificate-authority of cluster "c" .*nope\.crt/,
    );
    expect(() => loadKubeClientConfig({ ...NOWHERE, kubeconfig: write("d", config("{ server: 'ftp://h' }", "{}")) })).toThrow(/neither https:\/\/ nor http:\/\//);
    expect(() => loadKubeClientConfig({ ...NOWHERE, kubeconfig: write("e", "clusters: [") })).toThrow(/is not valid YAML/);
    expect(() => loadKubeClientConfig({ ...NOWHERE, kubeconfig: join(dir, "absent") })).toThrow(/cannot read kubeconfig/);
    expect(() => loadKubeClientConfig({ ...NOWHERE, env: { KUBECONFIG: join(dir, "absent") } })).toThrow(/none of the files in KUBECONFIG exists/);
  });
});

describe("token files", () => {
  it("re-reads a rotating token file once per refresh interval, and keeps the last token if a read fails", async () => {
    const kubeconfig = join(dir, "kubeconfig.yaml");
    cpSync(fixture("token-file.yaml"), kubeconfig);
    cpSync(fixture("token"), join(dir, "token"));
    let now = 1_000_000;
    const c = loadKubeClientConfig({ ...NOWHERE, kubeconfig, now: () => now });
    expect(await c.headers()).toEqual({ Authorization: "Bearer file-token-1" });

    writeFileSync(join(dir, "token"), "file-token-2\n");
    now += TOKEN_REFRESH_MS - 1;
    expect(await c.headers()).toEqual({ Authorization: "Bearer file-token-1" });
    now += 1;
    expect(await c.headers()).toEqual({ Authorization: "Bearer file-token-2" });

    unlinkSync(join(dir, "token"));
    now += TOKEN_REFRESH_MS;
    expect(await c.headers()).toEqual({ Authorization: "Bearer file-token-2" });
    writeFileSync(join(dir, "token"), "file-token-3");
    now += TOKEN_REFRESH_MS;
    expect(await c.headers()).toEqual({ Authorization: "Bearer file-token-3" });
  });

  it("falls back to the inline token while the file cannot be read", async () => {
    const kubeconfig = join(dir, "kubeconfig.yaml");
    cpSync(fixture("token-file.yaml"), kubeconfig);
    const c = loadKubeClientConfig({ ...NOWHERE, kubeconfig });
    expect(await c.headers()).toEqual({ Authorization: "Bearer inline-token" });
  });
});

describe("in-cluster", () => {
  const env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "6443" };

  it("uses the service account: https to the service, its CA, its namespace, its token", async () => {
    const c = loadKubeClientConfig({ env, home: "/nonexistent-home", serviceAccountDir: SERVICE_ACCOUNT });
    expect(c.server.href).toBe("https://10.96.0.1:6443/");
    expect(c.tls).toEqual({ ca: tls("ca.crt"), rejectUnauthorized: true });
    expect(c.namespace).toBe("p2p-system");
    expect(c.source).toBe("in-cluster");
    expect(await c.headers()).toEqual({ Authorization: "Bearer sa-token-1" });
  });

  it("brackets an IPv6 service address", () => {
    const c = loadKubeClientConfig({ env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" }, serviceAccountDir: SERVICE_ACCOUNT });
    expect(c.server.host).toBe("[fd00::1]:6443");
  });

  it("follows the kubelet rotating the bound token", async () => {
    const sa = join(dir, "sa");
    cpSync(SERVICE_ACCOUNT, sa, { recursive: true });
    let now = 0;
    const c = loadKubeClientConfig({ env, serviceAccountDir: sa, now: () => now });
    expect(await c.headers()).toEqual({ Authorization: "Bearer sa-token-1" });
    writeFileSync(join(sa, "token"), "sa-token-2");
    now += TOKEN_REFRESH_MS;
    expect(await c.headers()).toEqual({ Authorization: "Bearer sa-token-2" });
  });

  it("where from: --kubeconfig, then KUBECONFIG, then in-cluster, then ~/.kube/config", () => {
    const home = join(dir, "home");
    cpSync(fixture("test-server.yaml"), join(home, ".kube", "config"));
    const inCluster = { env, home, serviceAccountDir: SERVICE_ACCOUNT };
    expect(loadKubeClientConfig({ ...inCluster, kubeconfig: fixture("token.yaml") }).source).toContain("token.yaml");
    expect(loadKubeClientConfig({ ...inCluster, env: { ...env, KUBECONFIG: fixture("token.yaml") } }).source).toContain("token.yaml");
    expect(loadKubeClientConfig(inCluster).source).toBe("in-cluster");
    expect(loadKubeClientConfig({ ...inCluster, env: {} }).source).toContain(join(home, ".kube", "config"));
    // No token mounted (automountServiceAccountToken: false): not in-cluster.
    expect(loadKubeClientConfig({ ...inCluster, serviceAccountDir: join(dir, "none") }).source).toContain(join(home, ".kube", "config"));
    expect(() => loadKubeClientConfig(NOWHERE)).toThrow(/no Kubernetes API to talk to/);
  });
});

describe("KubeRest over TLS with a loaded config", () => {
  let server: https.Server;
  let seen: { path?: string; authorization?: string; clientCn?: string | string[] }[];

  beforeEach(async () => {
    seen = [];
    server = https.createServer({ cert: tls("server.crt"), key: tls("server.key"), ca: tls("ca.crt"), requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      seen.push({ path: req.url, authorization: req.headers.authorization, clientCn: peer?.subject?.CN });
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ kind: "Namespace", metadata: { name: "default" } }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const kubeconfig = (clusterExtra: string, user: string): string => {
    const port = (server.address() as AddressInfo).port;
    const path = join(dir, "kubeconfig");
    writeFileSync(
      path,
      `current-context: x\nclusters: [{ name: c, cluster: { server: "https://127.0.0.1:${port}/prefix/"${clusterExtra ? `, ${clusterExtra}` : ""} } }]\n` +
        `users: [{ name: u, user: ${user} }]\ncontexts: [{ name: x, context: { cluster: c, user: u } }]\n`,
    );
    return path;
  };

  it("verifies the server with the kubeconfig's CA, presents the client certificate, keeps the server's path prefix", async () => {
    const user = `{ client-certificate: ${join(FIXTURES, "tls/client.crt")}, client-key: ${join(FIXTURES, "tls/client.key")}, token: t0 }`;
    const rest = new KubeRest(loadKubeClientConfig({ ...NOWHERE, kubeconfig: kubeconfig(`certificate-authority: ${join(FIXTURES, "tls/ca.crt")}`, user) }));
    expect(await rest.get("/api/v1/namespaces/default")).toMatchObject({ metadata: { name: "default" } });
    expect(seen).toEqual([{ path: "/prefix/api/v1/namespaces/default", authorization: "Bearer t0", clientCn: "p2p-operator" }]);
  });

  it("refuses a server its CA did not sign, unless insecure-skip-tls-verify", async () => {
    const strict: KubeClientConfig = loadKubeClientConfig({ ...NOWHERE, kubeconfig: kubeconfig("", "{}") });
    const err = await new KubeRest(strict, 2_000).get("/api/v1/namespaces/default").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).code).toBe(0);
    expect((err as KubeApiError).message).toMatch(/certificate/);

    const insecure = loadKubeClientConfig({ ...NOWHERE, kubeconfig: kubeconfig("insecure-skip-tls-verify: true", "{}") });
    expect(await new KubeRest(insecure).get("/api/v1/namespaces/default")).toMatchObject({ kind: "Namespace" });
  });
});
