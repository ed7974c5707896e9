export { ControlPlane, type ControlPlaneInfo, type ControlPlaneOptions } from "./control-plane.js";
export { controlPlaneBinaries, type ControlPlaneBinaries } from "./binaries.js";
export { ProcessNode, type ProcessNodeOptions } from "./process-node.js";
export { KubeStatusError, RestClient, type Credentials, type WatchEvent } from "./rest.js";
export { writeKubeconfig } from "./kubeconfig.js";
export { createNamespace, requestToken, type TokenSpec } from "./api-calls.js";
