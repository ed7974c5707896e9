import { describe, expect, it } from "vitest";
import { ConsumerMetrics } from "../../../consumer-template/src/metrics.js";

describe("ConsumerMetrics.render", () => {
  it("renders the Prometheus text format", () => {
    const m = new ConsumerMetrics();
    m.messages.acked = 41;
    m.messages.dead_lettered = 1;
    m.observeHandler(250);
    m.observeHandler(750);
    m.inFlight = 3;
    m.connected = true;
    const text = m.render();
    expect(text.endsWith("\n")).toBe(true);
    const samples = text.split("\n").filter((l) => l && !l.startsWith("#"));
    expect(samples).toEqual([
      'p2p_consumer_messages_total{outcome="acked"} 41',
      'p2p_consumer_messages_total{outcome="retried"} 0',
      'p2p_consumer_messages_total{outcome="dead_lettered"} 1',
      'p2p_consumer_messages_total{outcome="terminated"} 0',
      'p2p_consumer_messages_total{outcome="released"} 0',
      "p2p_consumer_handler_seconds_sum 1",
      "p2p_consumer_handler_seconds_count 2",
      "p2p_consumer_in_flight 3",
      "p2p_consumer_buffered 0",
      "p2p_consumer_pull_capacity 0",
      "p2p_consumer_connected 1",
    ]);
    // Every metric has its HELP and TYPE before its samples.
    for (const name of ["p2p_consumer_messages_total", "p2p_consumer_handler_seconds", "p2p_consumer_in_flight", "p2p_consumer_connected"]) {
      expect(text.indexOf(`# HELP ${name} `)).toBeLessThan(text.indexOf(`# TYPE ${name} `));
      expect(text.indexOf(`# TYPE ${name} `)).toBeLessThan(text.indexOf(`\n${name}`));
    }
  });
});
