// The Kubernetes adapter: channels from informers, consumer Deployments, connections from
// Secrets, Events, leader election and the probe/metrics endpoints.

export { KubeChannelSource, onlyStatusChanged } from "./channel-source.js";
export { KubeConnectionResolver, connectionId, connectionTarget, credentialsFromSecret, type DefaultConnection } from "./connections.js";
export {
  CHANNEL_LABEL,
  CREDENTIALS_VOLUME,
  TEMPLATE_HASH_ANNOTATION,
  buildDeployment,
  credentialMount,
  deploymentDrift,
  desiredPodTemplate,
  envEntries,
  isControlledBy,
  selectorLabels,
  templateDiff,
  templateHash,
  updatedDeployment,
  type CredentialMount,
} from "./deployment.js";
export { EventAggregator, KubeEventRecorder, type EventDecision, type EventIdentity } from "./events.js";
export { EXEC_API_VERSIONS, EXEC_TIMEOUT_MS, ExecCredentialError, credentialFrom, execCredentialSource, parseExecPlugin, type ExecCredentialSource, type ExecPlugin } from "./exec-credential.js";
export { Informer, type InformerHandlers, type InformerOptions } from "./informer.js";
export { createInformers, type InformerSettings, type KubeInformers } from "./informers.js";
export {
  KubeConfigError,
  SERVICE_ACCOUNT_DIR,
  TOKEN_REFRESH_MS,
  loadKubeClientConfig,
  type KubeClientConfig,
  type KubeConfigLoadOptions,
  type KubeHeaders,
  type KubeTls,
} from "./kubeconfig.js";
export { LeaderElector, microTime, type LeaderElectionOptions } from "./leader.js";
export { mergePatch } from "./merge-patch.js";
export type { ChannelObject, Deployment, HorizontalPodAutoscaler, Lease, Scale, Secret } from "./objects.js";
export { SECRET_CACHE_MS, SecretReader, type SecretLookup } from "./secret-reader.js";
export { ProbeServers, parseListenAddress, type ListenAddress, type ProbeOptions } from "./probes.js";
export {
  KubeApiError,
  KubeRest,
  collectionPath,
  isAlreadyExists,
  isConflict,
  isGone,
  isNotFound,
  objectPath,
  type KubeList,
  type KubeObject,
  type OwnerReference,
  type PatchType,
  type WatchEvent,
} from "./rest.js";
export { DeploymentWorkloadDriver } from "./workload.js";
