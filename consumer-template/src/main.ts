import { jetstream, type Consumer, type JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { loadConfig } from "./config.js";
import { connectNats } from "./connection.js";
import { ConfigError } from "./errors.js";
import { termTakesReason } from "./flow.js";
import { handle } from "./handler.js";
import { startHttp } from "./http.js";
import { createLogger, type Logger } from "./log.js";
import { ConsumerMetrics } from "./metrics.js";
import { RecordFile } from "./record.js";
import { Runner } from "./runner.js";

const NANOS_PER_MS = 1_000_000;

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    createLogger({}).error("invalid configuration", { err });
    return 2;
  }
  const log = createLogger({ channel: config.channel, stream: config.stream, consumer: config.consumer, pid: process.pid });
  const metrics = new ConsumerMetrics();
  let runner: Runner | null = null;
  let stopping = false;

  const stopped = new Promise<string>((resolve) => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.on(signal, () => {
        // A second signal means "now": give up on a clean stop.
        if (stopping) process.exit(130);
        stopping = true;
        resolve(signal);
      });
    }
  });

  const http = config.httpPort === null ? null : await startHttp(config.httpPort, metrics, {
          live: () => !stopping,
          ready: () => !stopping && metrics.connected,
        });

  const nc = await Promise.race([connectNats(config), stopped.then(() => null)]);
  if (!nc) return 0;
  metrics.connected = true;
  void watchStatus(nc, metrics, log);
  const js = jetstream(nc);
  const consumer = await Promise.race([waitForConsumer(js, config.stream, config.consumer, log, () => stopping), stopped.then(() => null)]);

  if (consumer) {
    const info = await consumer.info(true);
    const ackWaitMs = info.config.ack_wait ? info.config.ack_wait / NANOS_PER_MS : config.ackWaitMsFallback;
    const backoffMs = (info.config.backoff ?? []).map((n) => n / NANOS_PER_MS);
    runner = new Runner({
      nc,
      js,
      stream: config.stream,
      consumer: config.consumer,
      handler: handle,
      concurrency: config.concurrency,
      maxBatch: config.maxBatch,
      workMs: config.workMs,
      ackWaitMs,
      backoffMs,
      retryDelayMs: config.retryDelayMs,
      dlqSubject: config.dlqSubject,
      termWithReason: termTakesReason(nc.info?.version),
      metrics,
      log,
      record: config.recordFile ? new RecordFile(config.recordFile) : null,
    });
    runner.start();
    log.info("consuming", {
      ackWaitMs,
      maxDeliver: info.config.max_deliver,
      maxBatch: config.maxBatch,
      concurrency: config.concurrency,
      httpPort: http?.port ?? null,
    });
  }

  const closed = nc.closed();
  const outcome = await Promise.race([stopped, closed.then((err) => ({ closedWith: err }))]);
  if (typeof outcome !== "string") {
    log.error("connection closed", { err: outcome.closedWith });
    return 1;
  }
  log.info("stopping", { signal: outcome });
  await runner?.stop();
  // Disconnected, a drain would wait for a reconnect (or fail): acks not sent by now go with
  // the connection, and the server redelivers those messages after ackWait.
  if (metrics.connected) await nc.drain();
  else await nc.close();
  http?.server.close();
  log.info("stopped", { messages: metrics.messages });
  return 0;
}

/** The operator may create the consumer after this replica starts: wait for it. */
async function waitForConsumer(js: JetStreamClient, stream: string, name: string, log: Logger, stopping: () => boolean): Promise<Consumer | null> {
  for (let attempt = 0; !stopping(); attempt++) {
    try {
      return await js.consumers.get(stream, name);
    } catch (err) {
      if (attempt === 0 || attempt % 15 === 0) log.warn("consumer not available yet, waiting", { err });
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }
  return null;
}

async function watchStatus(nc: NatsConnection, metrics: ConsumerMetrics, log: Logger): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === "disconnect") {
      metrics.connected = false;
      log.warn("disconnected from NATS");
    } else if (s.type === "reconnect") {
      metrics.connected = true;
      log.info("reconnected to NATS");
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    createLogger({}).error("fatal", { err });
    process.exit(1);
  },
);
