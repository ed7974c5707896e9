// bench/operator-scale: 1,000 PointToPointChannels on a real Kubernetes control plane (etcd,
// kube-apiserver and kube-controller-manager built from Kubernetes' Go modules, started by
// `npm run cluster` as a child process) and a real nats-server, with `p2p operator` as a real
// process on the admin kubeconfig (client certificates). Measures the time from the first
// create until every channel is Ready, then two phases with 2 s polling: `steady` (no
// messages) and `busy` (every channel gets a trickle of messages nobody consumes, so its lag
// moves and the operator scales its Deployment from 0 to 1). In each: the operator's CPU (% of
// one core, from /proc utime+stime), its RSS (VmRSS), the JetStream API requests per second
// (nats-server's /jsz api.total, monitoring port, used by this benchmark only), the operator's
// Kubernetes requests per second (its own rest_client_requests_total), and the CPU of
// kube-apiserver, etcd and kube-controller-manager. Channels scale existing Deployments
// (scaleTargetRef, minReplicas 0), created before the clock starts; their pods name a
// scheduler that does not exist, so the process node leaves them Pending (no processes run).
// The benchmark itself talks to the apiserver through `kubectl proxy` (plain HTTP, admin rights).
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run, startKubectlProxy, startLocalCluster } from "../scripts/lib/local-cluster.mjs";
import { ROOT, log, onCleanup, procStats, round, runBenchmark, sleep, spawnChild, startNats, stopChild, threadCpuSeconds, waitFor } from "./lib/harness.mjs";
import { kubeRequestRates, kubeRequestsBetween, operatorCounters, pollFigures } from "./lib/operator-metrics.mjs";
import { startTrickle } from "./lib/trickle-publisher.mjs";
import { followCollection } from "./lib/watch-follower.mjs";

const CHANNELS = Number(process.env.BENCH_SCALE_CHANNELS ?? 1_000);
const STEADY_S = Number(process.env.BENCH_SCALE_STEADY_S ?? 30);
const BUSY_S = Number(process.env.BENCH_SCALE_BUSY_S ?? 30);
const BUSY_RATE = Number(process.env.BENCH_SCALE_BUSY_RATE ?? 1); // messages a second to each channel
// RSS is highest just after the creates (the heap has not shrunk back yet): settle first.
const SETTLE_S = 20;
// The scale-ups and their status writes happen in the busy phase's first seconds: not measured.
// The warm-up lasts BUSY_WARMUP_S, and longer while channels still wait for their first replica
// (then BUSY_SETTLE_S more), up to BUSY_WARMUP_MAX_S.
const BUSY_WARMUP_S = Number(process.env.BENCH_SCALE_BUSY_WARMUP_S ?? 20);
const BUSY_SETTLE_S = 10;
const BUSY_WARMUP_MAX_S = Math.max(120, Math.ceil(CHANNELS * 0.05));
const WATCH_TIMEOUT_S = Number(process.env.BENCH_SCALE_WATCH_TIMEOUT_S ?? 300);
const CREATE_CONCURRENCY = 16;
// Names padded so that they sort (bench-0000 .. bench-4999).
const PAD = Math.max(4, String(CHANNELS - 1).length);
const READY_DEADLINE_MS = Math.max(180_000, CHANNELS * 120);
const DEADLINE_MS = 300_000 + READY_DEADLINE_MS + CHANNELS * 60 + (SETTLE_S + STEADY_S + BUSY_WARMUP_MAX_S + BUSY_S) * 1_000;
// Issue 13's goals.
const GOALS = {
  steadyJetStreamApiRequestsPerSecAtMost: 10,
  steadyCpuPercentAtMost: 5,
  steadyRssMbAtMost: 150,
  steadyApiserverWritesPerSecAtMost: 0.1,
  busyCpuPercentAtMost: 25,
  busyApiserverWritesPerSecAtMost: CHANNELS / 10,
  allReadyWithinS: CHANNELS === 5_000 ? 30 : 60,
};
const GROUP_PATH = "apis/messaging.p2p.dev/v1alpha1";
const pad = (i) => String(i).padStart(PAD, "0");

await runBenchmark("operator-scale", DEADLINE_MS, async () => {
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

  // Readiness from one watch, as `kubectl wait` would, rather than listing 1,000 objects again and
  // again; re-opened when the apiserver ends it, re-listed on 410 Gone. Each channel's
  // status.desiredReplicas too, for the busy phase.
  const readyNames = new Set();
  const desiredReplicas = new Map();
  const scaledUp = { get size() { return [...desiredReplicas.values()].filter((r) => r >= 1).length; } };
  const watch = new AbortController();
  onCleanup(() => watch.abort());
  let watchesOpened = 0;
  let firstWatch;
  const watching = new Promise((resolve) => (firstWatch = resolve));
  void followCollection(`${apiUrl}/${GROUP_PATH}/pointtopointchannels`, watch.signal, {
    timeoutSeconds: WATCH_TIMEOUT_S,
    onWatchStart: (rv) => {
      if (watchesOpened > 0) log(`channel watch ended; watching again from resourceVersion ${rv}`);
      watchesOpened++;
      firstWatch();
    },
    onObject: (object) => {
      const name = object.metadata.name;
      if (object.status?.conditions?.some((k) => k.type === "Ready" && k.status === "True")) readyNames.add(name);
      else readyNames.delete(name);
      desiredReplicas.set(name, object.status?.desiredReplicas ?? 0);
    },
    onDeleted: (object) => {
      readyNames.delete(object.metadata.name);
      desiredReplicas.delete(object.metadata.name);
    },
    onError: (err) => log(`channel watch: ${err.message}`),
  });
  await watching;

  // Create the channels as a `kubectl apply` of 1,000 manifests would: a few requests at a time.
  const cpuOf = (pid) => procStats(pid).cpuSeconds;
  const cpuNow = () => ({ operator: cpuOf(operator.pid), nats: cpuOf(nats.pid), apiserver: cpuOf(pids.apiserver), etcd: cpuOf(pids.etcd), controllers: cpuOf(pids.controllers) });
  const createdAt = Date.now();
  const toReady0 = { kube: (await operatorCounters(metricsPort)).kube, cpu: cpuNow() };
  await createAll(CHANNELS, (i) => post(`${apiUrl}/${GROUP_PATH}/namespaces/default/pointtopointchannels`, channel(i)));
  const createSeconds = (Date.now() - createdAt) / 1000;
  log(`created ${CHANNELS} channels in ${createSeconds.toFixed(1)} s`);

  const readyAt = [];
  let peakRss = startupRss;
  let ready = 0;
  const until = createdAt + READY_DEADLINE_MS;
  while (ready < CHANNELS) {
    if (Date.now() > until) {
      await stopChild(operator, 20_000);
      throw new Error(`only ${ready}/${CHANNELS} channels Ready after ${READY_DEADLINE_MS / 1000} s`);
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
  const toReadyRequests = kubeRequestsBetween(toReady0.kube, (await operatorCounters(metricsPort)).kube);
  const toReady = {
    operatorKubeRequests: toReadyRequests.total,
    operatorKubeRequestsByMethod: toReadyRequests.byMethod,
    operatorKubeRequestsNot2xx: toReadyRequests.not2xx,
    ...cpuSecondsBetween(toReady0.cpu, cpuNow()),
  };
  const halfReadySeconds = readyAt.find((r) => r.ready >= CHANNELS / 2).atS;
  log(`all ${CHANNELS} Ready after ${allReadySeconds.toFixed(1)} s`);

  // Steady state: every channel polls its lag every 2 s.
  for (let s = 0; s < SETTLE_S; s++) {
    await sleep(1_000);
    peakRss = Math.max(peakRss, procStats(operator.pid).rssBytes);
  }
  const jsz = async () => (await (await fetch(`${monitorUrl}/jsz`)).json()).api;
  const mb = (b) => round(b / 2 ** 20, 0);
  /** One measured window of `seconds`: rates and CPU shares over it, RSS sampled each second. */
  const measure = async (phase, windowS, extra = async () => ({})) => {
    const t0 = performance.now();
    const api0 = await jsz();
    const counters0 = await operatorCounters(metricsPort);
    const cpu0 = cpuNow();
    const threads0 = threadCpuSeconds(operator.pid);
    const more0 = await extra();
    const rssSamples = [];
    for (let s = 0; s < windowS; s++) {
      await sleep(1_000);
      if (operator.exitCode !== null) throw new Error(`operator exited ${operator.exitCode}`);
      rssSamples.push(procStats(operator.pid).rssBytes);
    }
    const seconds = (performance.now() - t0) / 1000;
    const api1 = await jsz();
    const counters1 = await operatorCounters(metricsPort);
    const cpu1 = cpuNow();
    const threads1 = threadCpuSeconds(operator.pid);
    const more1 = await extra();
    log(`${phase}: operator RSS MB each second: ${rssSamples.map((b) => Math.round(b / 2 ** 20)).join(" ")}`);
    const pct = (k) => round((100 * (cpu1[k] - cpu0[k])) / seconds, 1);
    const sortedRss = [...rssSamples].sort((a, b) => a - b);
    return {
      seconds,
      figures: {
        operatorCpuPercentOfOneCore: pct("operator"),
        operatorCpuPercentByThread: Object.fromEntries(
          Object.entries(threads1).map(([name, s1]) => [name, round((100 * (s1 - (threads0[name] ?? 0))) / seconds, 1)]).filter(([, p]) => p > 0),
        ),
        operatorRssMbMax: mb(sortedRss.at(-1)),
        operatorRssMbMedian: mb(sortedRss[Math.floor(sortedRss.length / 2)]),
        jetStreamApiRequestsPerSec: round((api1.total - api0.total) / seconds, 0),
        jetStreamApiErrors: api1.errors - api0.errors,
        natsServerCpuPercent: pct("nats"),
        kubeApiServerCpuPercent: pct("apiserver"),
        etcdCpuPercent: pct("etcd"),
        kubeControllerManagerCpuPercent: pct("controllers"),
        ...kubeRequestRates(kubeRequestsBetween(counters0.kube, counters1.kube), seconds, round),
        ...pollFigures(counters0, counters1, seconds, round),
      },
      more0,
      more1,
    };
  };
  const steadyWindow = await measure("steady", STEADY_S);
  const steady = { ...steadyWindow.figures, operatorRssMbAtStart: mb(startupRss), operatorRssMbPeakCreatingAndSettling: mb(peakRss) };
  if (process.env.BENCH_HEAP_SNAPSHOT === "1") {
    // Needs NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2 and BENCH_KEEP=1: written into the kept dir.
    process.kill(operator.pid, "SIGUSR2");
    await sleep(15_000);
  }

  // Busy: every channel gets BUSY_RATE messages a second that nobody consumes, so its lag grows
  // and the operator scales its Deployment 0 -> 1 (and writes status as the lag moves).
  const subjects = Array.from({ length: CHANNELS }, (_, i) => `bench.scale.${i}`);
  const trickle = await startTrickle({ servers: natsUrl, subjects, ratePerSubject: BUSY_RATE });
  onCleanup(() => trickle.stop());
  const busyStartedAt = Date.now();
  const sinceBusyS = () => (Date.now() - busyStartedAt) / 1000;
  let allScaledUpSeconds = null;
  const watchScaleUps = async (done) => {
    while (!done()) {
      if (allScaledUpSeconds === null && scaledUp.size >= CHANNELS) allScaledUpSeconds = sinceBusyS();
      await sleep(1_000);
    }
  };
  await watchScaleUps(() => {
    if (sinceBusyS() >= BUSY_WARMUP_MAX_S) return true;
    return sinceBusyS() >= BUSY_WARMUP_S && allScaledUpSeconds !== null && sinceBusyS() >= allScaledUpSeconds + BUSY_SETTLE_S;
  });
  const warmupSeconds = sinceBusyS();
  const wantingAtWindowStart = scaledUp.size;
  const podsAfterWarmup = await podCount(apiUrl);
  log(`busy: ${wantingAtWindowStart}/${CHANNELS} channels want >= 1 replica, ${podsAfterWarmup} pods exist after a ${warmupSeconds.toFixed(0)} s warm-up`);
  let windowDone = false;
  const scaleUpsDuring = watchScaleUps(() => windowDone);
  const busyWindow = await measure("busy", BUSY_S, async () => trickle.published);
  windowDone = true;
  await scaleUpsDuring;
  await trickle.stop();
  const deployments = (await (await fetch(`${apiUrl}/apis/apps/v1/namespaces/default/deployments`)).json()).items;
  const pods = (await (await fetch(`${apiUrl}/api/v1/namespaces/default/pods`)).json()).items;
  const busy = {
    ...busyWindow.figures,
    publishedPerSec: round((busyWindow.more1 - busyWindow.more0) / busyWindow.seconds, 0),
    warmupSeconds: round(warmupSeconds, 0),
    channelsWantingReplicasAtWindowStart: wantingAtWindowStart,
    channelsWantingReplicas: scaledUp.size,
    desiredReplicasMax: Math.max(0, ...desiredReplicas.values()),
    allScaledUpSeconds: round(allScaledUpSeconds, 1),
    deploymentsScaledUp: deployments.filter((d) => (d.spec?.replicas ?? 0) >= 1).length,
    podsAfterWarmup,
    podsAtEnd: pods.length,
    podsBound: pods.filter((p) => p.spec?.nodeName).length,
  };

  await stopChild(operator, 20_000);

  const result = {
    setup: {
      channels: CHANNELS,
      kubernetes: info.version,
      pollInterval: "2s",
      workload: "scaleTargetRef to an existing Deployment, minReplicas 0; pods for a scheduler nobody runs (Pending)",
      storage: "file",
      steadySeconds: STEADY_S,
      busy: { messagesPerSecPerChannel: BUSY_RATE, warmupSecondsAtLeast: BUSY_WARMUP_S, seconds: BUSY_S },
      channelWatchesOpened: watchesOpened,
    },
    createSeconds: round(createSeconds, 1),
    halfReadySeconds: round(halfReadySeconds, 1),
    allReadySeconds: round(allReadySeconds, 1),
    toReady,
    steady,
    busy,
  };
  result.goals = {
    [CHANNELS === 5_000 ? "allReadyWithin30sAt5000Channels" : "allReadyWithin60s"]: allReadySeconds <= GOALS.allReadyWithinS,
    steadyJetStreamApiRequestsAtMost10PerSec: steady.jetStreamApiRequestsPerSec <= GOALS.steadyJetStreamApiRequestsPerSecAtMost,
    steadyCpuAtMost5Percent: steady.operatorCpuPercentOfOneCore <= GOALS.steadyCpuPercentAtMost,
    steadyRssAtMost150MB: steady.operatorRssMbMax <= GOALS.steadyRssMbAtMost,
    steadyApiserverWritesAtMost0_1PerSec: steady.apiserverWritesPerSec <= GOALS.steadyApiserverWritesPerSecAtMost,
    busyCpuAtMost25Percent: busy.operatorCpuPercentOfOneCore <= GOALS.busyCpuPercentAtMost,
    busyApiserverWritesAtMostChannelsOver10PerSec: busy.apiserverWritesPerSec <= GOALS.busyApiserverWritesPerSecAtMost,
  };
  return result;
});

/** CPU seconds each process used between two readings. */
function cpuSecondsBetween(a, b) {
  const d = (k) => round(b[k] - a[k], 1);
  return { operatorCpuSeconds: d("operator"), kubeApiServerCpuSeconds: d("apiserver"), etcdCpuSeconds: d("etcd"), kubeControllerManagerCpuSeconds: d("controllers"), natsServerCpuSeconds: d("nats") };
}

function channel(i) {
  return {
    apiVersion: "messaging.p2p.dev/v1alpha1",
    kind: "PointToPointChannel",
    metadata: { name: `bench-${pad(i)}` },
    spec: {
      subjects: [`bench.scale.${i}`],
      workload: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: `bench-consumer-${pad(i)}` } },
      scaling: { minReplicas: 0, maxReplicas: 4, pollInterval: "2s" },
    },
  };
}

function deployment(i) {
  const name = `bench-consumer-${pad(i)}`;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      // A scheduler nobody runs: the pods that scaling up creates stay Pending, as on a cluster
      // without room, and cost nothing after their creation (the process node, like
      // kube-scheduler, binds only pods for "default-scheduler").
      template: { metadata: { labels: { app: name } }, spec: { schedulerName: "p2p-bench-unscheduled", containers: [{ name: "consumer", image: "ghcr.io/p2p-operator/consumer-template:0.1.0" }] } },
    },
  };
}

/** How many pods the default namespace holds (all the benchmark's), from a one-item page. */
async function podCount(apiUrl) {
  const page = await (await fetch(`${apiUrl}/api/v1/namespaces/default/pods?limit=1`)).json();
  return page.items.length + (page.metadata.remainingItemCount ?? 0);
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
