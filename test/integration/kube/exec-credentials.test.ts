// `p2p operator --kubeconfig` with an exec credential plugin, as on a laptop against EKS, GKE or
// AKS: a real plugin script hands out ServiceAccount tokens (from the real TokenRequest API),
// and the real apiserver authenticates them. The first token the plugin gives is one the server
// does not know, so the 401 path (run the plugin again) is taken for real.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeApiError, KubeRest, loadKubeClientConfig } from "../../../operator/src/kube/index.js";
import { requestToken } from "../../support/control-plane/index.js";
import { useAdminNamespace } from "../support/admin-namespace.js";
import { controlPlane } from "../support/kube-world.js";

const NS = "exec-creds";
const world = useAdminNamespace(NS);
let dir: string;

beforeAll(async () => {
  await world.admin.request("POST", `/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "laptop" } });
  dir = mkdtempSync(join(tmpdir(), "p2p-exec-int-"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const serviceAccountToken = () => requestToken(world.admin, NS, "laptop", { expirationSeconds: 600 });

describe("exec credential plugins against the real apiserver", () => {
  it.each(["v1", "v1beta1"])("client.authentication.k8s.io/%s: authenticates with the plugin's token, and runs it again after a 401", async (version) => {
    const tokens = join(dir, `tokens-${version}`);
    const runs = join(dir, `runs-${version}`);
    // Run 1 hands out a token the server never issued; later runs the real one.
    writeFileSync(tokens, `not-a-token\n${await serviceAccountToken()}\n`);
    const script = join(dir, `plugin-${version}.mjs`);
    writeFileSync(
      script,
      `#!/usr/bin/env node
import { appendFileSync, readFileSync } from "node:fs";
appendFileSync(${JSON.stringify(runs)}, "run\\n");
const n = readFileSync(${JSON.stringify(runs)}, "utf8").split("\\n").filter(Boolean).length;
const lines = readFileSync(${JSON.stringify(tokens)}, "utf8").split("\\n").filter(Boolean);
const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);
process.stdout.write(JSON.stringify({ apiVersion: info.apiVersion, kind: "ExecCredential", status: { token: lines[Math.min(n, lines.length) - 1], expirationTimestamp: new Date(Date.now() + 600000).toISOString() } }));
`,
    );
    chmodSync(script, 0o755);
    const info = controlPlane();
    const kubeconfig = join(dir, `config-${version}`);
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        "current-context": "laptop",
        clusters: [{ name: "c", cluster: { server: info.server, "certificate-authority-data": readFileSync(info.caCert).toString("base64") } }],
        users: [{ name: "u", user: { exec: { apiVersion: `client.authentication.k8s.io/${version}`, command: script, interactiveMode: "Never" } } }],
        contexts: [{ name: "laptop", context: { cluster: "c", user: "u" } }],
      }),
    );
    const rest = new KubeRest(loadKubeClientConfig({ kubeconfig }));
    const whoAmI = () => rest.create<{ status: { userInfo: { username: string } } }>("/apis/authentication.k8s.io/v1/selfsubjectreviews", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "SelfSubjectReview",
    });

    const refused = await whoAmI().catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(KubeApiError);
    expect((refused as KubeApiError).code).toBe(401);
    expect((await whoAmI()).status.userInfo.username).toBe(`system:serviceaccount:${NS}:laptop`);
    expect((await whoAmI()).status.userInfo.username).toBe(`system:serviceaccount:${NS}:laptop`);
    expect(readFileSync(runs, "utf8").split("\n").filter(Boolean)).toHaveLength(2);
  });
});
