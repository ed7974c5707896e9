// npm run kube-test-server -- --port 0 --kubeconfig FILE [--crds PATH]...
//   [--deployment-ready-delay-ms N] [--log]
// Starts the Kubernetes API test server, writes a kubeconfig for it, prints the URL,
// and runs until killed.
import { parseArgs } from "node:util";
import { startKubeApiServer } from "./server.js";
import type { KubeApiServerOptions } from "./server.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    kubeconfig: { type: "string" },
    crds: { type: "string", multiple: true },
    "deployment-ready-delay-ms": { type: "string" },
    log: { type: "boolean", default: false },
  },
});

const options: KubeApiServerOptions = { port: Number(values.port), host: values.host, log: values.log };
if (values.kubeconfig) options.kubeconfigPath = values.kubeconfig;
if (values.crds) options.crds = values.crds;
if (values["deployment-ready-delay-ms"]) options.deploymentReadyDelayMs = Number(values["deployment-ready-delay-ms"]);

const server = await startKubeApiServer(options);
process.stdout.write(`${server.url}\n`);
process.stderr.write(`kube-api-server: listening on ${server.url}; kubeconfig ${server.kubeconfigPath}\n`);

const stop = (): void => {
  void server.close().then(() => process.exit(0));
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
