// A steady trickle onto many subjects: `ratePerSubject` messages a second to each of
// `subjects`, spread evenly over the second (a tick every `tickMs` publishes the messages due
// by then, taking the subjects in turn), with plain core NATS publishes (no acks: the
// channel's work-queue stream captures them). Counts what it published.
import { connect } from "@nats-io/transport-node";

const PAYLOAD = new TextEncoder().encode('{"bench":"operator-scale busy"}');

export async function startTrickle({ servers, subjects, ratePerSubject, tickMs = 10 }) {
  const nc = await connect({ servers, name: "bench-trickle" });
  const perMs = (subjects.length * ratePerSubject) / 1000;
  const startedAt = performance.now();
  let published = 0;
  let next = 0;
  const tick = () => {
    const due = Math.floor((performance.now() - startedAt) * perMs);
    while (published < due) {
      nc.publish(subjects[next], PAYLOAD);
      next = (next + 1) % subjects.length;
      published++;
    }
  };
  const timer = setInterval(tick, tickMs);
  let stopped = null;
  return {
    get published() {
      return published;
    },
    stop() {
      clearInterval(timer);
      stopped ??= nc.drain();
      return stopped;
    },
  };
}
