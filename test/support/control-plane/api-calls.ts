// The few API calls the harness, the process node and the tests make themselves, in one place.
import { KubeStatusError, type RestClient } from "./rest.js";

/** Creates a namespace; one that exists already is fine. */
export async function createNamespace(client: RestClient, name: string, labels: Record<string, string> = {}): Promise<void> {
  try {
    await client.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });
  } catch (err) {
    if (!(err instanceof KubeStatusError && err.code === 409)) throw err;
  }
}

export interface TokenSpec {
  expirationSeconds?: number;
  audiences?: string[];
  boundObjectRef?: { apiVersion: string; kind: string; name?: string; uid?: string };
}

/** A token of a ServiceAccount from the TokenRequest API, as a pod or `kubectl create token` gets one. */
export async function requestToken(client: RestClient, namespace: string, serviceAccount: string, spec: TokenSpec = { expirationSeconds: 3600 }): Promise<string> {
  const review = await client.request<{ status: { token: string } }>("POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec,
  });
  return review.status.token;
}
