// The operator as the chart runs it, for running it as a local process instead (the chart's
// image cannot run on the process node): the container's args and env from the installed
// Deployment, the fieldRefs resolved as the kubelet would for a pod named `podName`.
// Used by test/integration/support/kube-world.ts and `npm run demo:kubernetes`.

/** Args the caller sets itself: the subcommand, the listen addresses and the log level. */
const OWN_ARGS = ["--metrics-addr", "--health-addr", "--log-level"];

export function chartOperatorCommand(deployment, { namespace, podName }) {
  const container = deployment.spec?.template?.spec?.containers?.[0];
  const args = (container?.args ?? []).filter((a) => a !== "operator" && !OWN_ARGS.some((own) => a.startsWith(own)));
  const env = {};
  for (const e of container?.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (field === "metadata.namespace") env[e.name] = namespace;
    else if (field === "metadata.name") env[e.name] = podName;
    else if (e.value !== undefined) env[e.name] = e.value;
  }
  return { args, env };
}
