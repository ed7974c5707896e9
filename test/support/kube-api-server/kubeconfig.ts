// A kubeconfig that points kubectl and @kubernetes/client-node at the test server.
// Plain http: client-node 1.x accepts an http:// server only with
// insecure-skip-tls-verify set (kubectl ignores the flag for http).
import { writeFileSync } from "node:fs";
import { stringify } from "yaml";

export const CONTEXT_NAME = "kube-test";

export function kubeconfigYaml(url: string, namespace = "default"): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    preferences: {},
    clusters: [{ name: CONTEXT_NAME, cluster: { server: url, "insecure-skip-tls-verify": true } }],
    users: [{ name: CONTEXT_NAME, user: {} }],
    contexts: [{ name: CONTEXT_NAME, context: { cluster: CONTEXT_NAME, user: CONTEXT_NAME, namespace } }],
    "current-context": CONTEXT_NAME,
  });
}

export function writeKubeconfig(path: string, url: string): void {
  writeFileSync(path, kubeconfigYaml(url), { mode: 0o600 });
}
