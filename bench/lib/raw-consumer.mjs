// The raw nats.js limit the consumer template is measured against: one batched consume()
// with a callback that acks, nothing else. env: NATS_URL, P2P_STREAM, P2P_CONSUMER, RAW_MAX_MESSAGES.
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

const nc = await connect({ servers: process.env.NATS_URL, name: "bench-raw-consumer" });
const js = jetstream(nc);
const consumer = await js.consumers.get(process.env.P2P_STREAM, process.env.P2P_CONSUMER);
const messages = await consumer.consume({
  max_messages: Number(process.env.RAW_MAX_MESSAGES ?? 1000),
  callback: (m) => m.ack(),
});
const stop = async () => {
  await messages.close();
  await nc.drain();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
