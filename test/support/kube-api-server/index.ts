// The Kubernetes API test server: public names. See README.md.
export { startKubeApiServer } from "./server.js";
export type { KubeApiServer, KubeApiServerOptions } from "./server.js";
export type { Faults, FaultCode, FaultMatch, Verb } from "./faults.js";
export type { DeploymentController } from "./deployment-controller.js";
export { kubeconfigYaml } from "./kubeconfig.js";
