import type { Msg, MsgHdrs } from "@nats-io/transport-node";

// A JetStream message as a pull request delivers it, settled by answering its reply subject
// (the ack protocol: +ACK, -NAK [{"delay": nanos}], +WPI, +TERM [reason]). The delivery
// details live in the reply subject and are parsed only when asked for.

const ACK = Uint8Array.of(0x2b, 0x41, 0x43, 0x4b); // "+ACK"
const NAK = Uint8Array.of(0x2d, 0x4e, 0x41, 0x4b); // "-NAK"
const WORKING = Uint8Array.of(0x2b, 0x57, 0x50, 0x49); // "+WPI"
const TERM = Uint8Array.of(0x2b, 0x54, 0x45, 0x52, 0x4d); // "+TERM"
const NANOS_PER_MS = 1_000_000;
const encoder = new TextEncoder();

export interface DeliveryInfo {
  /** 1 on the first delivery. */
  deliveryCount: number;
  streamSequence: number;
}

/**
 * The reply subject is $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>
 * (9 tokens), or, from servers that add a domain and an account hash after "ACK", 11 or more.
 */
export function parseDeliveryInfo(reply: string): DeliveryInfo {
  const tokens = reply.split(".");
  const at = tokens.length === 9 ? 4 : tokens.length >= 11 ? 6 : -1;
  if (at < 0 || tokens[0] !== "$JS" || tokens[1] !== "ACK") throw new Error(`not a JetStream delivery: reply subject "${reply}"`);
  return { deliveryCount: Number(tokens[at]), streamSequence: Number(tokens[at + 1]) };
}

export class PulledMessage {
  readonly #msg: Msg;
  #info: DeliveryInfo | null = null;

  constructor(msg: Msg) {
    this.#msg = msg;
  }

  get data(): Uint8Array {
    return this.#msg.data;
  }

  get subject(): string {
    return this.#msg.subject;
  }

  get headers(): MsgHdrs | undefined {
    return this.#msg.headers;
  }

  get info(): DeliveryInfo {
    this.#info ??= parseDeliveryInfo(this.#msg.reply ?? "");
    return this.#info;
  }

  get seq(): number {
    return this.info.streamSequence;
  }

  ack(): void {
    this.#msg.respond(ACK);
  }

  /** Redeliver, after delayMs when given (else at once). */
  nak(delayMs?: number): void {
    this.#msg.respond(delayMs ? encoder.encode(`-NAK {"delay":${Math.round(delayMs * NANOS_PER_MS)}}`) : NAK);
  }

  /** Restarts the server's ackWait clock for this message. */
  working(): void {
    this.#msg.respond(WORKING);
  }

  term(reason?: string): void {
    this.#msg.respond(reason ? encoder.encode(`+TERM ${reason}`) : TERM);
  }
}
