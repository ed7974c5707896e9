#!/usr/bin/env node
// `npm run demo:kubernetes`: the immunisation example end to end on a local Kubernetes
// control plane, no Docker: what `npm run demo` shows, with the operator's Kubernetes mode.
//
//  1. `npm run cluster` (etcd, kube-apiserver, kube-controller-manager built from Kubernetes'
//     Go modules, and the process node that runs pods' first containers as local processes),
//     and a nats-server (NATS_SERVER_BIN, or nats-server on PATH).
//  2. The CRD and examples/immunisation/channel.yaml applied with kubectl (a copy whose
//     consumers also write each processed Nats-Msg-Id to P2P_RECORD_FILE).
//  3. The chart installed with helm in namespaced mode; its Deployment scaled to 0 (its image
//     cannot run on the process node) and the operator run as a process with the chart's args,
//     on a token of the chart's ServiceAccount: the real RBAC allows or denies each call.
//  4. A burst from `p2p publish`; consumer pods (`node consumer-template/dist/main.js`) drain
//     it while the channel's replicas follow the lag, then scale-down deletes pods gracefully.
//  5. The summary line of `npm run demo`; exit 0 only when nothing was lost. Every process
//     started is stopped, and checked to be gone.
//
// DEMO_COUNT (default 5000) sets the burst size.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { BurstDemo, CLI, minReplicasIn, requireBuilt } from "./lib/burst-demo.mjs";
import { chartOperatorCommand } from "./lib/chart-operator.mjs";
import { ROOT, run, serviceAccountKubeconfig, startKubectlProxy, startLocalCluster } from "./lib/local-cluster.mjs";
import { descendantPids, identityOf, stillRunning } from "./lib/process-tree.mjs";

const exampleFile = "examples/immunisation/channel.yaml";
const namespace = "default";
const releaseNamespace = "p2p-system";
const release = "p2p-operator";
const count = Number(process.env.DEMO_COUNT ?? 5000);
const helmBin = join(ROOT, ".tools/bin/helm");

requireBuilt("npm run demo:kubernetes");
if (!existsSync(helmBin)) {
  console.error("demo: helm is missing; run `bash scripts/ensure-tools.sh` (the pre step does)");
  process.exit(1);
}
const { NatsServerProcess, freePort, problemConditions } = await import("../operator/dist/local/index.js");

const example = parse(readFileSync(join(ROOT, exampleFile), "utf8"));
const work = mkdtempSync(join(tmpdir(), "p2p-demo-kubernetes-"));
const channelFile = join(work, "channel.yaml");
const demo = new BurstDemo({
  work,
  count,
  channelKey: `${namespace}/${example.metadata.name}`,
  channelFile,
  minReplicas: minReplicasIn(readFileSync(join(ROOT, exampleFile), "utf8")),
  title: `npm run demo:kubernetes: a burst of ${count} immunisation events`,
  deadlineMs: 240_000,
});
const consumerDeployment = `${example.metadata.name}-consumer`;

/** Every child this demo starts, stopped in reverse order at the end. */
const children = [];
const track = (command, args, options) => {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  children.push(child);
  return child;
};
let cluster = null;
let nats = null;
let poller = null;
let stopping = null;
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => void stopAll().finally(() => process.exit(130)));

try {
  demo.say("starting the control plane (npm run cluster) and a nats-server");
  cluster = await startLocalCluster({ dir: join(work, "cluster"), spawn: track, onLog: podLine });
  cluster.child.once("exit", (code, signal) => demo.environmentExited(`the control plane exited (${code ?? signal})`));
  nats = await NatsServerProcess.start();
  const { info } = cluster;
  const kubectl = (...args) => run(info.kubectl, ["--kubeconfig", info.kubeconfig, ...args]);
  demo.say(`Kubernetes ${info.version} at ${info.server} (state and logs in ${info.dir}); nats-server ${nats.url}`);

  await kubectl("apply", "--server-side", "-f", "crds");
  await kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/pointtopointchannels.messaging.p2p.dev");
  // The example as it is, plus P2P_RECORD_FILE for the summary's count.
  example.spec.workload.template.spec.containers[0].env.push({ name: "P2P_RECORD_FILE", value: demo.recordFile });
  writeFileSync(channelFile, stringify(example));
  demo.say(`kubectl apply -n ${namespace} -f ${exampleFile} (+ P2P_RECORD_FILE): ${(await kubectl("apply", "-n", namespace, "-f", channelFile)).trim()}`);

  await run(helmBin, [
    "install", release, "charts/p2p-operator", "--kubeconfig", info.kubeconfig, "--namespace", releaseNamespace, "--create-namespace", "--wait=false",
    "--set", "crds.enabled=false", "--set-json", `watchNamespaces=["${namespace}"]`, "--set", `nats.url=${nats.url}`,
  ]);
  await kubectl("-n", releaseNamespace, "scale", "deployment", release, "--replicas=0");
  const operatorUrl = await startOperator(info);
  demo.say(`helm install ${release} (namespaced, ${releaseNamespace}); the operator runs as a process on ServiceAccount ${release}'s token, health ${operatorUrl}`);

  const proxy = await startKubectlProxy({ kubectl: info.kubectl, kubeconfig: info.kubeconfig, spawn: track });
  poller = pollChannel(proxy.url);
  await demo.run(nats.url, { readyTimeoutMs: 120_000 });
} catch (err) {
  demo.failure = err;
  console.error(`demo: ${err.message}`);
} finally {
  await stopAll();
}
process.exit(demo.summary() ? 0 : 1);

/** `p2p operator` with the chart's args and env, on a token of the chart's ServiceAccount. */
async function startOperator(info) {
  const podName = `${release}-demo`;
  const deployment = JSON.parse(await run(info.kubectl, ["--kubeconfig", info.kubeconfig, "-n", releaseNamespace, "get", "deployment", release, "-o", "json"]));
  const chart = chartOperatorCommand(deployment, { namespace: releaseNamespace, podName });
  const kubeconfig = await serviceAccountKubeconfig({ kubectl: info.kubectl, adminKubeconfig: info.kubeconfig, namespace: releaseNamespace, serviceAccount: release, file: join(work, "operator.kubeconfig") });
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  const logFile = join(work, "operator.log");
  const log = openSync(logFile, "a");
  const args = [CLI, "operator", ...chart.args, "--kubeconfig", kubeconfig, "--metrics-addr", `127.0.0.1:${metricsPort}`, "--health-addr", `127.0.0.1:${healthPort}`, "--log-level", "info"];
  const operator = track(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...chart.env }, stdio: ["ignore", log, log] });
  operator.once("exit", (code, signal) => demo.environmentExited(`the operator exited (${code ?? signal}; log: ${logFile})`));
  const healthUrl = `http://127.0.0.1:${healthPort}`;
  for (const end = Date.now() + 30_000; ; await sleep(200)) {
    if (operator.exitCode !== null) throw new Error(`the operator exited with ${operator.exitCode}; log: ${logFile}`);
    if ((await fetch(`${healthUrl}/readyz`).then((r) => r.ok, () => false))) return healthUrl;
    if (Date.now() > end) throw new Error(`the operator was not ready within 30 s; log: ${logFile}`);
  }
}

/** The channel's status and its Deployment's ready replicas, twice a second, as snapshots for the demo. */
function pollChannel(apiUrl) {
  const get = async (path) => {
    const res = await fetch(`${apiUrl}${path}`);
    return res.ok ? res.json() : null;
  };
  const timer = setInterval(async () => {
    const [channel, deployment] = await Promise.all([
      get(`/apis/messaging.p2p.dev/v1alpha1/namespaces/${namespace}/pointtopointchannels/${example.metadata.name}`),
      get(`/apis/apps/v1/namespaces/${namespace}/deployments/${consumerDeployment}`),
    ]).catch(() => [null, null]);
    const s = channel?.status;
    if (!s) return;
    demo.update({
      ready: s.conditions?.find((c) => c.type === "Ready")?.status ?? "Unknown",
      lag: s.lag ?? null,
      readyReplicas: deployment?.status?.readyReplicas ?? 0,
      desiredReplicas: s.desiredReplicas ?? null,
      lastScaleReason: s.lastScaleReason ?? null,
      conditions: problemConditions(s),
    });
  }, 500);
  return timer;
}

/** The process node's lines about the consumer pods: started, and how each one ended. */
function podLine(line) {
  const m = /^node: pod \S+\/(\S+) (started pid \d+|exited with .*)/.exec(line);
  if (m && m[1].startsWith(consumerDeployment)) demo.say(`pod ${m[1]} ${m[2].replace(/^started pid \d+/, "started")}`);
}

/** Stops the operator, kubectl proxy, the control plane (its pods first) and nats-server; then checks that none is left. */
function stopAll() {
  stopping ??= (async () => {
    if (poller) clearInterval(poller);
    // Only children still running: the pid of one that exited may be another process's by now.
    const started = [...children.filter((c) => c.exitCode === null && c.signalCode === null), nats?.pid ? { pid: nats.pid } : null]
      .flatMap((c) => (c?.pid ? [c.pid, ...descendantPids(c.pid)] : []))
      .map(identityOf)
      .filter(Boolean);
    for (const child of [...children].reverse()) await stop(child);
    await nats?.stop();
    const left = started.filter(stillRunning);
    for (const p of left) process.kill(p.pid, "SIGKILL");
    if (left.length > 0) console.error(`demo: ${left.length} process(es) outlived their stop and were killed: ${left.map((p) => `${p.pid} (${p.command})`).join(", ")}`);
    else console.log(`demo: stopped all ${started.length} processes it started (control plane, pods, operator, kubectl proxy, nats-server)`);
  })();
  return stopping;
}

async function stop(child, graceMs = 30_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(killer);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
