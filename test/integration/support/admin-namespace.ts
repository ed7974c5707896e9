// A test file's own namespace on the run's control plane, used as the cluster admin: created
// before the file's tests, deleted (the real namespace controller empties it) after them.
import { afterAll, beforeAll } from "vitest";
import { createNamespace, type RestClient } from "../../support/control-plane/index.js";
import { adminClient } from "./kube-world.js";

export interface AdminNamespace {
  /** Set once the file's beforeAll hooks run. */
  admin: RestClient;
}

export function useAdminNamespace(namespace: string): AdminNamespace {
  const env = {} as AdminNamespace;
  beforeAll(async () => {
    env.admin = adminClient();
    await createNamespace(env.admin, namespace);
  });
  afterAll(async () => {
    await env.admin?.request("DELETE", `/api/v1/namespaces/${namespace}`).catch(() => {});
    env.admin?.close();
  });
  return env;
}
