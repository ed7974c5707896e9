import type { Logger } from "pino";
import { channelKey, type PointToPointChannel } from "../api/types.js";
import type { EventRecorder, EventType } from "../ports/index.js";

export interface LocalEvent {
  time: string;
  key: string;
  type: EventType;
  reason: string;
  message: string;
}

/** Local mode's events: logged, and kept (the last few per channel) for the live view. */
export class LoggingEventRecorder implements EventRecorder {
  private readonly recent = new Map<string, LocalEvent[]>();

  constructor(
    private readonly log: Logger,
    private readonly keep = 5,
  ) {}

  record(channel: PointToPointChannel, type: EventType, reason: string, message: string): void {
    const key = channelKey(channel.metadata);
    const event: LocalEvent = { time: new Date().toISOString(), key, type, reason, message };
    if (type === "Warning") this.log.warn({ event }, message);
    else this.log.info({ event }, message);
    const list = this.recent.get(key) ?? [];
    list.push(event);
    if (list.length > this.keep) list.shift();
    this.recent.set(key, list);
  }

  eventsOf(key: string): readonly LocalEvent[] {
    return this.recent.get(key) ?? [];
  }
}
