// Tests start their own real nats-server on a free port with a temp store.
export { NatsServerProcess, freePort, type NatsServerOptions } from "../../operator/src/local/nats-server-process.js";
