// The few numbers worth scraping, rendered in the Prometheus text format.

export type Outcome = "acked" | "retried" | "dead_lettered" | "terminated" | "released";

export class ConsumerMetrics {
  readonly messages: Record<Outcome, number> = { acked: 0, retried: 0, dead_lettered: 0, terminated: 0, released: 0 };
  handlerSecondsSum = 0;
  handlerCount = 0;
  inFlight = 0;
  buffered = 0;
  capacity = 0;
  connected = false;

  observeHandler(ms: number): void {
    this.handlerSecondsSum += ms / 1000;
    this.handlerCount++;
  }

  render(): string {
    const lines = [
      "# HELP p2p_consumer_messages_total Messages finished by this replica, by outcome.",
      "# TYPE p2p_consumer_messages_total counter",
      ...Object.entries(this.messages).map(([outcome, n]) => `p2p_consumer_messages_total{outcome="${outcome}"} ${n}`),
      "# HELP p2p_consumer_handler_seconds Time spent in the handler.",
      "# TYPE p2p_consumer_handler_seconds summary",
      `p2p_consumer_handler_seconds_sum ${this.handlerSecondsSum}`,
      `p2p_consumer_handler_seconds_count ${this.handlerCount}`,
      ...gauge("p2p_consumer_in_flight", "Messages in the handler now.", this.inFlight),
      ...gauge("p2p_consumer_buffered", "Messages received and waiting for a worker.", this.buffered),
      ...gauge("p2p_consumer_pull_capacity", "Most messages this replica holds at once.", this.capacity),
      ...gauge("p2p_consumer_connected", "1 while connected to NATS.", this.connected ? 1 : 0),
    ];
    return `${lines.join("\n")}\n`;
  }
}

function gauge(name: string, help: string, value: number): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`];
}
