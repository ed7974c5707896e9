// Kubeconfig files for the harness's identities: client certificates for the admin and the
// components, bearer tokens for service accounts (the operator runs on the chart's one).
import { readFile, writeFile } from "node:fs/promises";
import { stringify } from "yaml";

export interface KubeconfigUser {
  cert?: string;
  key?: string;
  token?: string;
}

/** Writes a kubeconfig with the certificates inline, so it stays usable wherever it is copied. */
export async function writeKubeconfig(file: string, server: string, caFile: string, user: KubeconfigUser, namespace?: string): Promise<string> {
  const inline = async (path: string) => (await readFile(path)).toString("base64");
  const entry: Record<string, string> = {};
  if (user.cert && user.key) Object.assign(entry, { "client-certificate-data": await inline(user.cert), "client-key-data": await inline(user.key) });
  if (user.token) entry.token = user.token;
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "p2p-test", cluster: { server, "certificate-authority-data": await inline(caFile) } }],
    users: [{ name: "p2p-test-user", user: entry }],
    contexts: [{ name: "p2p-test", context: { cluster: "p2p-test", user: "p2p-test-user", ...(namespace ? { namespace } : {}) } }],
    "current-context": "p2p-test",
  };
  await writeFile(file, stringify(config), { mode: 0o600 });
  return file;
}
