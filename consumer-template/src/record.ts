import { closeSync, openSync, writeSync } from "node:fs";

/**
 * P2P_RECORD_FILE: one line per processed message, written before its ack so that a
 * killed replica can only ever add duplicates, never lose a line. Tests count the lines.
 */
export class RecordFile {
  private readonly fd: number;

  constructor(path: string) {
    this.fd = openSync(path, "a");
  }

  record(id: string): void {
    writeSync(this.fd, `${id}\n`);
  }

  close(): void {
    closeSync(this.fd);
  }
}
