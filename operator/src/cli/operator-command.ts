import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { ChannelReconciler, Controller, operatorMetrics, type SubjectPolicy } from "../controller/index.js";
import {
  DeploymentWorkloadDriver,
  KubeChannelSource,
  KubeConfigError,
  KubeConnectionResolver,
  KubeEventRecorder,
  KubeRest,
  LeaderElector,
  ProbeServers,
  SERVICE_ACCOUNT_DIR,
  SecretReader,
  createInformers,
  loadKubeClientConfig,
} from "../kube/index.js";
import { log, type Logger } from "../log.js";
import { JetStreamSide, ServerListError, parseServerList, redactUrl } from "../nats/index.js";

// `p2p operator`: the reconcile loop against the Kubernetes API. Informers feed the work queue,
// the Deployment driver and Secret-backed connections plug into the shared reconciler, and with
// --leader-elect only the holder of the Lease reconciles.

const USAGE = `Usage: p2p operator [flags]

Runs the PointToPointChannel operator against the current kubeconfig (or in-cluster).
Every flag can also be set from the environment variable in brackets.

  --nats-url URL            the operator's NATS server(s), comma-separated [NATS_URL]
                            (default nats://127.0.0.1:4222)
  --nats-creds FILE         a NATS .creds file for the operator's connection [NATS_CREDS]
  --namespace NS            watch this namespace; repeat for more (default: all) [WATCH_NAMESPACES, comma list]
  --metrics-addr ADDR       Prometheus /metrics on host:port, "0" to disable [METRICS_ADDR] (default :8080)
  --health-addr ADDR        /healthz and /readyz on host:port [HEALTH_ADDR] (default :8081)
  --leader-elect            reconcile only while holding the Lease [LEADER_ELECT=true]
                            (Lease $LEADER_ELECTION_ID, default p2p-operator, in $POD_NAMESPACE)
  --subject-policy POLICY   any | namespaced: subjects must start with "<namespace>." [SUBJECT_POLICY] (default any)
  --log-level LEVEL         trace | debug | info | warn | error [LOG_LEVEL] (default info)
  --kubeconfig FILE         kubeconfig to use [KUBECONFIG] (default: in-cluster, else ~/.kube/config;
                            token, tokenFile, client-certificate or exec plugin users; no auth-provider)
  -h, --help                show this help
`;

export interface OperatorOptions {
  /** The operator's own NATS servers (--nats-url, comma-separated: the servers of one cluster). */
  natsServers: string[];
  natsCreds: string | null;
  /** null: all namespaces. */
  namespaces: string[] | null;
  metricsAddr: string;
  healthAddr: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  subjectPolicy: SubjectPolicy;
  logLevel: string;
  kubeconfig: string | null;
}

export class OperatorUsageError extends Error {
  override name = "OperatorUsageError";
}

const LOG_LEVELS = new Set(["trace", "debug", "info", "warn", "error", "fatal", "silent"]);

function natsServersOption(flag: string | undefined, env: string | undefined): string[] {
  try {
    return parseServerList(flag ?? env ?? "nats://127.0.0.1:4222", flag !== undefined ? "--nats-url" : "NATS_URL");
  } catch (err) {
    if (err instanceof ServerListError) throw new OperatorUsageError(err.message);
    throw err;
  }
}

/** Flags over environment over defaults. */
export function operatorOptions(args: string[], env: NodeJS.ProcessEnv = process.env): OperatorOptions | "help" {
  const { values } = parseArgs({
    args,
    options: {
      "nats-url": { type: "string" },
      "nats-creds": { type: "string" },
      namespace: { type: "string", multiple: true },
      "metrics-addr": { type: "string" },
      "health-addr": { type: "string" },
      "leader-elect": { type: "boolean" },
      "subject-policy": { type: "string" },
      "log-level": { type: "string" },
      kubeconfig: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: false,
  });
  if (values.help) return "help";
  const list = (xs: string[] | undefined) =>
    (xs ?? [])
      .flatMap((x) => x.split(","))
      .map((x) => x.trim())
      .filter(Boolean);
  const namespaces = values.namespace?.length ? list(values.namespace) : list(env.WATCH_NAMESPACES ? [env.WATCH_NAMESPACES] : []);
  const subjectPolicy = values["subject-policy"] ?? env.SUBJECT_POLICY ?? "any";
  if (subjectPolicy !== "any" && subjectPolicy !== "namespaced") {
    throw new OperatorUsageError(`--subject-policy must be any or namespaced, not ${JSON.stringify(subjectPolicy)}`);
  }
  const logLevel = values["log-level"] ?? env.LOG_LEVEL ?? "info";
  if (!LOG_LEVELS.has(logLevel)) throw new OperatorUsageError(`--log-level must be one of ${[...LOG_LEVELS].join(", ")}`);
  return {
    natsServers: natsServersOption(values["nats-url"], env.NATS_URL),
    natsCreds: values["nats-creds"] ?? (env.NATS_CREDS || null),
    namespaces: namespaces.length ? [...new Set(namespaces)] : null,
    metricsAddr: values["metrics-addr"] ?? env.METRICS_ADDR ?? ":8080",
    healthAddr: values["health-addr"] ?? env.HEALTH_ADDR ?? ":8081",
    leaderElect: values["leader-elect"] ?? /^(1|true|yes)$/i.test(env.LEADER_ELECT ?? ""),
    leaderElectionNamespace: env.POD_NAMESPACE || inClusterNamespace() || "default",
    leaderElectionId: env.LEADER_ELECTION_ID || "p2p-operator",
    subjectPolicy,
    logLevel,
    kubeconfig: values.kubeconfig ?? null,
  };
}

function inClusterNamespace(): string | null {
  try {
    return readFileSync(`${SERVICE_ACCOUNT_DIR}/namespace`, "utf8").trim() || null;
  } catch {
    return null;
  }
}

export interface OperatorRuntime {
  probes: ProbeServers;
  /** Graceful: stop taking keys, finish in-flight reconciles, release the lease, close NATS. */
  stop(): Promise<void>;
  /** Resolves with the exit code when the operator ends by itself (lost lease). */
  ended: Promise<number>;
}

export async function startOperator(options: OperatorOptions, logger: Logger = log): Promise<OperatorRuntime> {
  logger.level = options.logLevel;
  const kube = loadKubeClientConfig({ kubeconfig: options.kubeconfig });
  const metrics = operatorMetrics();
  const countRequest = (method: string, code: number) => metrics.kubeRequests.inc({ method, code: String(code) });
  const rest = new KubeRest(kube, undefined, countRequest);
  const natsCredentials = options.natsCreds ? { creds: readFileSync(options.natsCreds, "utf8") } : null;
  const identity = `${process.env.POD_NAME || hostname()}_${randomBytes(4).toString("hex")}`;

  const informers = createInformers(rest, { namespaces: options.namespaces, log: logger.child({ component: "informer" }) });
  const source = new KubeChannelSource(rest, informers, logger.child({ component: "source" }));
  const events = new KubeEventRecorder(rest, logger.child({ component: "events" }), identity);
  const nats = new JetStreamSide({ log: logger.child({ component: "nats" }) });
  const reconciler = new ChannelReconciler({
    source,
    nats,
    workload: new DeploymentWorkloadDriver(rest, informers, logger.child({ component: "workload" })),
    connections: new KubeConnectionResolver({ servers: options.natsServers, credentials: natsCredentials }, new SecretReader(rest)),
    events,
    log: logger,
    metrics,
    subjectPolicy: options.subjectPolicy,
    statusBudget: true,
    pollLoop: true,
  });
  const controller = new Controller({
    source,
    reconciler,
    log: logger.child({ component: "controller" }),
    metrics,
    workers: 4,
    poll: { channels: reconciler, nats },
    // Watch events and the queue loop carry every change; the resync is the safety net (a
    // Secret whose content changed, a channel waiting with an invalid spec). Every 60 s it was
    // a spec reconcile of every channel a minute: a fifth of the idle CPU at 1,000 channels.
    resyncMs: 5 * 60_000,
  });

  let stopping = false;
  let lostLease = false;
  const probes = new ProbeServers({
    metricsAddr: options.metricsAddr,
    healthAddr: options.healthAddr,
    renderMetrics: () => metrics.registry.render(),
    healthy: () => !lostLease,
    ready: () => source.synced && !stopping,
  });
  await probes.start();
  logger.info(
    {
      namespaces: options.namespaces ?? "all",
      kube: `${kube.server.origin} (${kube.source})`,
      natsServers: options.natsServers.map(redactUrl),
      metrics: probes.addresses.metrics,
      health: probes.addresses.health,
      leaderElect: options.leaderElect,
      subjectPolicy: options.subjectPolicy,
      identity,
    },
    "p2p operator starting",
  );

  let endedWith!: (code: number) => void;
  const ended = new Promise<number>((resolve) => (endedWith = resolve));
  const leaderLabels = { name: options.leaderElectionId };
  metrics.leader.set(leaderLabels, 0);

  const startReconciling = () => {
    if (stopping) return;
    metrics.leader.set(leaderLabels, 1);
    controller.start().catch((err: Error) => {
      logger.error({ err: err.message }, "controller failed to start");
      endedWith(1);
    });
  };

  let elector: LeaderElector | null = null;
  // Warm caches on every replica: a standby is ready, and takes over without a relist.
  void source.warmUp();
  if (options.leaderElect) {
    // Lease requests time out well inside the renew deadline, so a hung request cannot keep a
    // leader that has lost contact acting past the point where a standby may take over.
    elector = new LeaderElector(new KubeRest(kube, 4_000, countRequest), {
      namespace: options.leaderElectionNamespace,
      name: options.leaderElectionId,
      identity,
      log: logger.child({ component: "leader-election" }),
      onStartedLeading: startReconciling,
      onStoppedLeading: () => {
        // Like controller-runtime: a replica that lost the lease must not write again. Exit at
        // once and let the Deployment restart it as a fresh standby.
        lostLease = true;
        metrics.leader.set(leaderLabels, 0);
        logger.error({ identity }, "leader election lost; exiting");
        endedWith(1);
      },
      onLeaderChange: (holder) => logger.info({ leader: holder }, "lease holder observed"),
    });
    elector.start();
  } else {
    startReconciling();
  }

  let stopped: Promise<void> | null = null;
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      logger.info("shutting down: finishing in-flight reconciles");
      await controller.stop();
      await source.stop();
      await elector?.stop(true);
      metrics.leader.set(leaderLabels, 0);
      await events.flush();
      await nats.close().catch((err: Error) => logger.warn({ err: err.message }, "closing NATS connections failed"));
      await probes.stop();
      logger.info("p2p operator stopped");
    })());
  return { probes, stop, ended };
}

export async function run(args: string[]): Promise<number> {
  let options: OperatorOptions | "help";
  try {
    options = operatorOptions(args);
  } catch (err) {
    if (err instanceof OperatorUsageError) {
      process.stderr.write(`p2p operator: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (options === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  let runtime: OperatorRuntime;
  try {
    runtime = await startOperator(options);
  } catch (err) {
    if (err instanceof KubeConfigError) {
      process.stderr.write(`p2p operator: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const code = await new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        log.warn({ signal }, "second signal: exiting now");
        process.exit(1);
      }
      log.info({ signal }, "signal received");
      runtime.stop().then(
        () => resolve(0),
        (err: Error) => {
          log.error({ err: err.message }, "shutdown failed");
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    runtime.ended.then((c) => {
      log.flush?.();
      // Lost the lease: leave now, without touching anything else.
      process.exit(c);
    });
  });
  log.flush?.();
  // Anything still holding the event loop (a half-open socket) must not keep a stopped operator alive.
  setTimeout(() => process.exit(code), 2_000).unref();
  return code;
}
