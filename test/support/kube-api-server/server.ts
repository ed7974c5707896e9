// startKubeApiServer: wires the registry, store, REST semantics, watches, controllers
// and faults behind one node:http server on a free port.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { builtinResourceTypes } from "./builtins.js";
import { DeploymentController } from "./deployment-controller.js";
import { Faults } from "./faults.js";
import { GarbageCollector } from "./gc.js";
import { createRequestHandler } from "./http.js";
import { writeKubeconfig } from "./kubeconfig.js";
import { isObject } from "./objects.js";
import type { KubeObject } from "./objects.js";
import { ResourceRegistry } from "./resources.js";
import { RestApi } from "./rest.js";
import { ObjectStore } from "./store.js";
import { WatchHub } from "./watch.js";

export interface KubeApiServerOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Where to write the kubeconfig; default a file in a fresh temp dir. */
  kubeconfigPath?: string;
  /** Delay before a Deployment reports its replicas ready; default 0 (next tick). */
  deploymentReadyDelayMs?: number;
  /** Interval of BOOKMARK events on watches that allow them; default 1000 ms. */
  bookmarkIntervalMs?: number;
  /** Namespaces to create besides default, kube-system, kube-public, kube-node-lease. */
  namespaces?: string[];
  /** CRD manifests (YAML files or directories of them) to create at start. */
  crds?: string[];
  /** Watch history kept before older resourceVersions answer 410; default 10000 events. */
  historyLimit?: number;
  /** Log one line per request (true: to stderr). */
  log?: boolean | ((line: string) => void);
}

export interface KubeApiServer extends AsyncDisposable {
  /** http://127.0.0.1:PORT */
  url: string;
  /** A kubeconfig file whose current context points at this server (namespace default). */
  kubeconfigPath: string;
  /** A client-node KubeConfig for this server. */
  kubeConfig(): KubeConfig;
  faults: Faults;
  /** The Deployment status stand-in: set readyDelayMs, or paused to hold status still. */
  deployments: DeploymentController;
  /** The current (global) resourceVersion. */
  resourceVersion(): string;
  /** Watches currently open. */
  openWatches(): number;
  close(): Promise<void>;
}

function manifestFiles(path: string): string[] {
  if (statSync(path).isDirectory()) {
    return readdirSync(path)
      .filter((f) => /\.(ya?ml|json)$/.test(f))
      .sort()
      .map((f) => join(path, f));
  }
  return [path];
}

export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const registry = new ResourceRegistry();
  for (const rt of builtinResourceTypes()) registry.add(rt);
  const store = new ObjectStore(options.historyLimit ?? 10_000);
  const api = new RestApi(registry, store);
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
  const watches = new WatchHub(api, store, () => bookmarkIntervalMs);
  const gc = new GarbageCollector(api, store, registry);
  const deployments = new DeploymentController(api, store, options.deploymentReadyDelayMs ?? 0);
  const faults = new Faults({
    dropWatches: (abrupt) => watches.dropAll(abrupt),
    compact: () => store.compact(),
  });

  const bootstrap = { query: new URLSearchParams(), userAgent: "kube-apiserver/v1.33.0" };
  const nsType = registry.get("", "v1", "namespaces");
  const crdType = registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  if (!nsType || !crdType) throw new Error("built-in types missing");
  for (const name of ["default", "kube-system", "kube-public", "kube-node-lease", ...(options.namespaces ?? [])]) {
    api.create({ rt: nsType }, { apiVersion: "v1", kind: "Namespace", metadata: { name } }, bootstrap);
  }
  for (const path of options.crds ?? []) {
    for (const file of manifestFiles(path)) {
      for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
        const obj = doc.toJS() as unknown;
        if (isObject(obj) && obj["kind"] === "CustomResourceDefinition") api.create({ rt: crdType }, obj as KubeObject, bootstrap);
      }
    }
  }

  const log = options.log === true ? (line: string) => process.stderr.write(`kube-api-server: ${line}\n`) : options.log || undefined;
  let address = "";
  const routerDeps: Parameters<typeof createRequestHandler>[0] = {
    registry,
    api,
    watches,
    faults,
    serverAddress: () => address,
  };
  if (log) routerDeps.log = log;
  const server = createServer(createRequestHandler(routerDeps));
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port, address: host } = server.address() as AddressInfo;
  address = `${host}:${port}`;
  const url = `http://${host}:${port}`;

  let tempDir: string | undefined;
  let kubeconfigPath = options.kubeconfigPath;
  if (!kubeconfigPath) {
    tempDir = mkdtempSync(join(tmpdir(), "kube-api-server-"));
    kubeconfigPath = join(tempDir, "kubeconfig");
  }
  writeKubeconfig(kubeconfigPath, url);

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    deployments.close();
    gc.close();
    watches.dropAll(true);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  };

  return {
    url,
    kubeconfigPath,
    kubeConfig: () => {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath as string);
      return kc;
    },
    faults,
    deployments,
    resourceVersion: () => String(store.currentRv()),
    openWatches: () => watches.openCount,
    close,
    [Symbol.asyncDispose]: close,
  };
}
