// bench/operator-scale: 1,000 PointToPointChannels on a real Kubernetes control plane (etcd,
// kube-apiserver and kube-controller-manager built from Kubernetes' Go modules, started by
// `npm run cluster` as a child process) and a real nats-server, with `p2p operator` as a real
// process on the admin kubeconfig (client certificates). Measures the time from the first
// create until every channel is Ready, then a steady state with 2 s polling: the operator's CPU
// (% of one core, from /proc utime+stime), its RSS (VmRSS), the JetStream API requests per
// second (nats-server's /jsz api.total, monitoring port, used by this benchmark only), the
// operator's Kubernetes requests per second (its own rest_client_requests_total), and the CPU
// of kube-apiserver, etcd and kube-controller-manager. Channels scale existing Deployments
// (scaleTargetRef, minReplicas 0: no pods), created before the clock starts. The benchmark
// itself talks to the apiserver through `kubectl proxy` (plain HTTP, admin rights).
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run, startKubectlProxy, startLocalCluster } from "../scripts/lib/local-cluster.mjs";
import { ROOT, log, onCleanup, procStats, round, runBenchmark, sleep, spawnChild, startNats, stopChild, waitFor } from "./lib/harness.mjs";

const CHANNELS = Number(process.env.BENCH_SCALE_CHANNELS ?? 1_000);
const STEADY_S = Number(process.env.BENCH_SCALE_STEADY_S ?? 30);
// RSS is highest just after the 1,000 creates (the heap has not shrunk back yet): settle first.
const SETTLE_S = 20;
const CREATE_CONCURRENCY = 16;
const GOALS = { allReadyWithinS: 60, steadyCpuPercentAtMost: 25, rssMbAtMost: 200 };
const GROUP_PATH = "apis/messaging.p2p.dev/v1alpha1";

await runBenchmark("operator-scale", 300_000, async () => {
  const { freePort } = await import("../operator/dist/local/index.js");
  const { url: natsUrl, monitorUrl, server: nats } = await startNats();
  const dir = await mkdtemp(join(tmpdir(), "p2p-bench-scale-"));
  if (process.env.BENCH_KEEP !== "1") onCleanup(() => rm(dir, { recursive: true, force: true }));
  else log(`keeping ${dir}`);

  // The control plane in its own processes, so that their CPU is not the operator's or the driver's.
  const { child: cluster, info } = await startLocalCluster({ dir: join(dir, "cluster"), spawn: spawnChild, onLog: (l) => process.env.BENCH_CLUSTER_LOG && log(`cluster: ${l}`) });
  onCleanup(() => stopChild(cluster, 20_000));
  const kubectl = (...args) => run(info.kubectl, ["--kubeconfig", info.kubeconfig, ...args]);
  await kubectl("apply", "--server-side", "-f", "crds");
  await kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/pointtopointchannels.messaging.p2p.dev");
  const { url: apiUrl } = await startKubectlProxy({ kubectl: info.kubectl, kubeconfig: info.kubeconfig, spawn: spawnChild });
  const pids = { apiserver: info.pids["kube-apiserver"], etcd: info.pids.etcd, controllers: info.pids["kube-controller-manager"] };
  log(`control plane ready at ${info.server} (${info.version}), kubectl proxy at ${apiUrl}`);

  const healthPort = await freePort();
  const metricsPort = await freePort();
  const logFile = await open(join(dir, "operator.log"), "w");
  onCleanup(() => logFile.close());
  const operator = spawnChild(
    process.execPath,
    [...(process.env.BENCH_OPERATOR_NODE_FLAGS?.split(" ").filter(Boolean) ?? []), ...(process.env.BENCH_PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROF_DIR}`] : []), process.env.BENCH_OPERATOR_MAIN ?? `${ROOT}operator/dist/cli/main.js`, "operator", "--nats-url", natsUrl, "--health-addr", `127.0.0.1:${healthPort}`, "--metrics-addr", `127.0.0.1:${metricsPort}`],
    { cwd: dir, env: { ...process.env, KUBECONFIG: info.kubeconfig }, stdio: ["ignore", logFile.fd, logFile.fd] },
  );
  await waitFor("the operator to be ready", async () => {
    if (operator.exitCode !== null) throw new Error(`operator exited ${operator.exitCode}; see its log`);
    return fetch(`http://127.0.0.1:${healthPort}/readyz`).then((r) => r.ok, () => false);
  }, { timeoutMs: 30_000, intervalMs: 200 });
  const startupRss = procStats(operator.pid).rssBytes;

  // The consumers' Deployments exist before the channels that scale them (scaleTargetRef).
  await createAll(CHANNELS, (i) => post(`${apiUrl}/apis/apps/v1/namespaces/default/deployments`, deployment(i)));
  log(`created ${CHANNELS} Deployments`);

  // Readiness from one watch, as `kubectl wait` would, rather than listing 1,000 objects again and again.
  const readyNames = new Set();
  const listed = await (await fetch(`${apiUrl}/${GROUP_PATH}/pointtopointchannels`)).json();
  const watch = new AbortController();
  onCleanup(() => watch.abort());
  void followWatch(`${apiUrl}/${GROUP_PATH}/pointtopointchannels?watch=true&resourceVersion=${listed.metadata.resourceVersion}`, watch.signal, (event) => {
    const name = event.object?.metadata?.name;
    if (!name) return;
    const isReady = event.type !== "DELETED" && event.object.status?.conditions?.some((k) => k.type === "Ready" && k.status === "True");
    if (isReady) readyNames.add(name);
    else readyNames.delete(name);
  }).catch((err) => log(`watch ended: ${err.message}`));

  // Create the channels as a `kubectl apply` of 1,000 manifests would: a few requests at a time.
  const createdAt = Date.now();
  const toReady0 = { kube: await kubeRequests(metricsPort), apiserverCpu: procStats(pids.apiserver).cpuSeconds, operatorCpu: procStats(operator.pid).cpuSeconds };
  await createAll(CHANNELS, (i) => post(`${apiUrl}/${GROUP_PATH}/namespaces/default/pointtopointchannels`, channel(i)));
  const createSeconds = (Date.now() - createdAt) / 1000;
  log(`created ${CHANNELS} channels in ${createSeconds.toFixed(1)} s`);

  const readyAt = [];
  let peakRss = startupRss;
  let ready = 0;
  const until = createdAt + 180_000;
  while (ready < CHANNELS) {
    if (Date.now() > until) {
      await stopChild(operator, 20_000);
      throw new Error(`only ${ready}/${CHANNELS} channels Ready after 180 s`);
    }
    if (operator.exitCode !== null) throw new Error(`operator exited ${operator.exitCode}`);
    const now = Date.now();
    ready = readyNames.size;
    readyAt.push({ atS: (now - createdAt) / 1000, ready });
    if (readyAt.length % 20 === 0) {
      const cpu = [operator.pid, nats.pid, pids.apiserver, pids.etcd].map((pid) => procStats(pid).cpuSeconds.toFixed(0)).join("/");
      log(`${ready}/${CHANNELS} Ready after ${((now - createdAt) / 1000).toFixed(0)} s, operator RSS ${Math.round(procStats(operator.pid).rssBytes / 2 ** 20)} MB, CPU s operator/nats/apiserver/etcd ${cpu}`);
    }
    peakRss = Math.max(peakRss, procStats(operator.pid).rssBytes);
    if (ready < CHANNELS) await sleep(100);
  }
  const allReadySeconds = readyAt.at(-1).atS;
  // What getting 1,000 channels Ready cost: the operator's Kubernetes requests, and CPU seconds.
  const toReadyRequests = kubeRequestsBetween(toReady0.kube, await kubeRequests(metricsPort));
  const toReady = {
    operatorKubeRequests: toReadyRequests.total,
    operatorKubeRequestsByMethod: toReadyRequests.byMethod,
    operatorKubeRequestsNot2xx: toReadyRequests.not2xx,
    operatorCpuSeconds: round(procStats(operator.pid).cpuSeconds - toReady0.operatorCpu, 1),
    kubeApiServerCpuSeconds: round(procStats(pids.apiserver).cpuSeconds - toReady0.apiserverCpu, 1),
  };
  const halfReadySeconds = readyAt.find((r) => r.ready >= CHANNELS / 2).atS;
  log(`all ${CHANNELS} Ready after ${allReadySeconds.toFixed(1)} s`);

  // Steady state: every channel polls its lag every 2 s.
  for (let s = 0; s < SETTLE_S; s++) {
    await sleep(1_000);
    peakRss = Math.max(peakRss, procStats(operator.pid).rssBytes);
  }
  const jsz = async () => (await (await fetch(`${monitorUrl}/jsz`)).json()).api;
  const cpuOf = (pid) => procStats(pid).cpuSeconds;
  const cpuNow = () => ({ operator: cpuOf(operator.pid), nats: cpuOf(nats.pid), apiserver: cpuOf(pids.apiserver), etcd: cpuOf(pids.etcd), controllers: cpuOf(pids.controllers) });
  const t0 = performance.now();
  const api0 = await jsz();
  const kube0 = await kubeRequests(metricsPort);
  const cpu0 = cpuNow();
  const rssSamples = [];
  for (let s = 0; s < STEADY_S; s++) {
    await sleep(1_000);
    rssSamples.push(procStats(operator.pid).rssBytes);
  }
  log(`operator RSS MB each second: ${rssSamples.map((b) => Math.round(b / 2 ** 20)).join(" ")}`);
  const seconds = (performance.now() - t0) / 1000;
  const api1 = await jsz();
  const kube1 = await kubeRequests(metricsPort);
  const cpu1 = cpuNow();
  const pct = (k) => round((100 * (cpu1[k] - cpu0[k])) / seconds, 1);
  const mb = (b) => round(b / 2 ** 20, 0);
  const steadyRssMb = mb(Math.max(...rssSamples));
  const sortedRss = [...rssSamples].sort((a, b) => a - b);
  const medianRssMb = mb(sortedRss[Math.floor(sortedRss.length / 2)]);
  const reconciles = await reconcileCount(metricsPort);
  if (process.env.BENCH_HEAP_SNAPSHOT === "1") {
    // Needs NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2 and BENCH_KEEP=1: written into the kept dir.
    process.kill(operator.pid, "SIGUSR2");
    await sleep(15_000);
  }

  await stopChild(operator, 20_000);

  const result = {
    setup: { channels: CHANNELS, kubernetes: info.version, pollInterval: "2s", workload: "scaleTargetRef to an existing Deployment, minReplicas 0", storage: "file", steadySeconds: STEADY_S },
    createSeconds: round(createSeconds, 1),
    halfReadySeconds: round(halfReadySeconds, 1),
    allReadySeconds: round(allReadySeconds, 1),
    toReady,
    steady: {
      operatorCpuPercentOfOneCore: pct("operator"),
      operatorRssMbMax: steadyRssMb,
      operatorRssMbMedian: medianRssMb,
      operatorRssMbAtStart: mb(startupRss),
      operatorRssMbPeakCreatingAndSettling: mb(peakRss),
      jetStreamApiRequestsPerSec: round((api1.total - api0.total) / seconds, 0),
      jetStreamApiErrors: api1.errors - api0.errors,
      natsServerCpuPercent: pct("nats"),
      kubeApiServerCpuPercent: pct("apiserver"),
      etcdCpuPercent: pct("etcd"),
      kubeControllerManagerCpuPercent: pct("controllers"),
      ...kubeRequestRates(kubeRequestsBetween(kube0, kube1), seconds),
      ...(reconciles === null ? {} : { reconcilesTotal: reconciles }),
    },
  };
  result.goals = {
    allReadyWithin60s: allReadySeconds <= GOALS.allReadyWithinS,
    steadyCpuAtMost25Percent: result.steady.operatorCpuPercentOfOneCore <= GOALS.steadyCpuPercentAtMost,
    steadyRssAtMost200MB: steadyRssMb <= GOALS.rssMbAtMost,
    rssAtMost200MBEvenRightAfterCreating: Math.max(steadyRssMb, mb(peakRss)) <= GOALS.rssMbAtMost,
  };
  return result;
});

function channel(i) {
  return {
    apiVersion: "messaging.p2p.dev/v1alpha1",
    kind: "PointToPointChannel",
    metadata: { name: `bench-${String(i).padStart(4, "0")}` },
    spec: {
      subjects: [`bench.scale.${i}`],
      workload: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: `bench-consumer-${String(i).padStart(4, "0")}` } },
      scaling: { minReplicas: 0, maxReplicas: 4, pollInterval: "2s" },
    },
  };
}

function deployment(i) {
  const name = `bench-consumer-${String(i).padStart(4, "0")}`;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "consumer", image: "ghcr.io/p2p-operator/consumer-template:0.1.0" }] } },
    },
  };
}

async function post(url, body) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (res.status !== 201) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
}

async function createAll(count, createOne) {
  let next = 0;
  const worker = async () => {
    while (next < count) await createOne(next++);
  };
  await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, worker));
}

/** Reads a watch stream (one JSON event per line) until aborted. */
async function followWatch(url, signal, onEvent) {
  const res = await fetch(url, { signal });
  if (!res.ok) throw new Error(`watch: ${res.status}`);
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of res.body) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim()) onEvent(JSON.parse(line));
    }
  }
}

/** The operator's rest_client_requests_total by "METHOD code" (from its own /metrics). */
async function kubeRequests(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const counts = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("rest_client_requests_total{")) continue;
    const method = /method="([^"]*)"/.exec(line)?.[1];
    const code = /code="([^"]*)"/.exec(line)?.[1];
    counts[`${method} ${code}`] = Number(line.split(" ").at(-1));
  }
  return counts;
}

/** The requests made between two readings of the counter: in all, by method, and those that did not succeed. */
function kubeRequestsBetween(before, after) {
  const byMethod = {};
  let total = 0;
  let not2xx = 0;
  for (const [key, count] of Object.entries(after)) {
    const delta = count - (before[key] ?? 0);
    const [method, code] = key.split(" ");
    byMethod[method] = (byMethod[method] ?? 0) + delta;
    total += delta;
    if (!code.startsWith("2")) not2xx += delta;
  }
  return { total, byMethod, not2xx };
}

function kubeRequestRates({ total, byMethod, not2xx }, seconds) {
  const perSec = (n) => round(n / seconds, 1);
  return {
    operatorKubeRequestsPerSec: perSec(total),
    operatorKubeRequestsPerSecByMethod: Object.fromEntries(Object.entries(byMethod).map(([m, n]) => [m, perSec(n)])),
    operatorKubeRequestsNot2xx: not2xx,
  };
}

/** Sum of the operator's reconcile counter, if it exports one. */
async function reconcileCount(port) {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const lines = text.split("\n").filter((l) => /^p2p_\w*reconcile\w*_total[{ ]/.test(l));
    if (lines.length === 0) return null;
    return lines.reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
  } catch {
    return null;
  }
}
