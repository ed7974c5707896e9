// A small Prometheus text-format registry: counters, gauges and histograms with labels.
// Enough for the operator's own metrics without pulling in a client library.

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const names = Object.keys(labels).sort();
  return names.map((n) => `${n}="${escapeLabel(labels[n] ?? "")}"`).join(",");
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function series(name: string, key: string, value: number): string {
  return `${name}${key ? `{${key}}` : ""} ${Number.isFinite(value) ? value : 0}`;
}

interface Metric {
  render(): string[];
}

class ValueMetric implements Metric {
  protected readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly type: "counter" | "gauge",
  ) {}
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [key, value] of this.values) lines.push(series(this.name, key, value));
    return lines;
  }
}

export class Counter extends ValueMetric {
  constructor(name: string, help: string) {
    super(name, help, "counter");
  }
  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
  /** A total kept elsewhere (the process's CPU seconds), read at scrape time. */
  setTotal(labels: Labels, total: number): void {
    this.values.set(labelKey(labels), total);
  }
}

export class Gauge extends ValueMetric {
  constructor(name: string, help: string) {
    super(name, help, "gauge");
  }
  set(labels: Labels, value: number): void {
    this.values.set(labelKey(labels), value);
  }
  delete(labels: Labels): void {
    this.values.delete(labelKey(labels));
  }
}

export class Histogram implements Metric {
  private readonly data = new Map<string, { buckets: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly bounds: number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  ) {}
  observe(labels: Labels, value: number): void {
    const key = labelKey(labels);
    let d = this.data.get(key);
    if (!d) {
      d = { buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
      this.data.set(key, d);
    }
    this.bounds.forEach((b, i) => {
      if (value <= b) d.buckets[i] = (d.buckets[i] ?? 0) + 1;
    });
    d.sum += value;
    d.count += 1;
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [key, d] of this.data) {
      const sep = key ? `${key},` : "";
      this.bounds.forEach((b, i) => lines.push(`${this.name}_bucket{${sep}le="${b}"} ${d.buckets[i] ?? 0}`));
      lines.push(`${this.name}_bucket{${sep}le="+Inf"} ${d.count}`);
      lines.push(series(`${this.name}_sum`, key, d.sum));
      lines.push(series(`${this.name}_count`, key, d.count));
    }
    return lines;
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  private readonly collectors: Array<() => void> = [];
  register<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }
  /** Runs before each scrape, for gauges read from elsewhere (queue depth). */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }
  render(): string {
    for (const fn of this.collectors) fn();
    return `${this.metrics.flatMap((m) => m.render()).join("\n")}\n`;
  }
}

/** The operator's metrics; names follow controller-runtime where one exists. */
export function operatorMetrics(registry = new Registry()) {
  const controller = "pointtopointchannel";
  const channel = {
    lag: registry.register(new Gauge("p2p_channel_lag", "Pending plus ack-pending messages of a channel")),
    replicas: registry.register(new Gauge("p2p_channel_replicas", "Current consumer replicas of a channel")),
    desiredReplicas: registry.register(new Gauge("p2p_channel_desired_replicas", "Replicas the scaling policy wants")),
    maxReplicas: registry.register(new Gauge("p2p_channel_max_replicas", "spec.scaling.maxReplicas of a channel")),
    arrivalRate: registry.register(new Gauge("p2p_channel_arrival_rate", "Messages/s published to a channel (smoothed over ~10 s)")),
    processingRate: registry.register(new Gauge("p2p_channel_processing_rate", "Messages/s acknowledged by a channel's consumers (smoothed over ~10 s)")),
    ready: registry.register(new Gauge("p2p_channel_ready", "1 while a channel's Ready condition is True, else 0")),
    deadLetters: registry.register(new Gauge("p2p_dead_letters_total", "Messages held in a channel's dead-letter stream now (a gauge: expiry and replays lower it)")),
  };
  return {
    registry,
    controller,
    reconcileTotal: registry.register(new Counter("controller_runtime_reconcile_total", "Reconciles by result")),
    kubeRequests: registry.register(new Counter("rest_client_requests_total", "Kubernetes API requests by method and status code (0: no answer; WATCH: a watch opened)")),
    reconcileErrors: registry.register(new Counter("controller_runtime_reconcile_errors_total", "Reconciles that failed")),
    reconcileTime: registry.register(new Histogram("controller_runtime_reconcile_time_seconds", "Time per reconcile")),
    workqueueDepth: registry.register(new Gauge("workqueue_depth", "Keys ready and waiting for a worker")),
    leader: registry.register(new Gauge("leader_election_master_status", "1 when this instance leads")),
    ...channel,
    /** Every per-channel gauge, forgotten together when a channel goes. */
    channelGauges: Object.values(channel),
    scaleEvents: registry.register(new Counter("p2p_scale_events_total", "Replica changes made, by direction")),
    queuePolls: registry.register(new Counter("p2p_queue_polls_total", "Queue polls by outcome: quiet (nothing changed), full, respec (back to the spec reconcile)")),
    ...processMetrics(registry),
  };
}

/** The process's own figures, read at each scrape (the names client libraries use). */
function processMetrics(registry: Registry) {
  const m = {
    cpuSeconds: registry.register(new Counter("process_cpu_seconds_total", "User and system CPU time of the operator process, seconds")),
    residentMemory: registry.register(new Gauge("process_resident_memory_bytes", "Resident memory of the operator process (RSS), bytes")),
    startTime: registry.register(new Gauge("process_start_time_seconds", "When the operator process started, seconds since the Unix epoch")),
    heapUsed: registry.register(new Gauge("nodejs_heap_size_used_bytes", "V8 heap in use (live objects and garbage not yet collected), bytes")),
    heapTotal: registry.register(new Gauge("nodejs_heap_size_total_bytes", "V8 heap reserved, bytes")),
  };
  const startedS = Date.now() / 1000 - process.uptime();
  registry.onCollect(() => {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    m.cpuSeconds.setTotal({}, (cpu.user + cpu.system) / 1e6);
    m.residentMemory.set({}, mem.rss);
    m.startTime.set({}, startedS);
    m.heapUsed.set({}, mem.heapUsed);
    m.heapTotal.set({}, mem.heapTotal);
  });
  return m;
}

export type OperatorMetrics = ReturnType<typeof operatorMetrics>;
