import { execFile, type ExecFileOptions } from "node:child_process";

// One way for tests to run a program and look at its exit code and output.

export interface ProcessOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command`; never rejects: a failure is a non-zero code (-1 when it did not run or timed out). */
export function runProcess(command: string, args: string[], options: ExecFileOptions = {}): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 30_000, ...options, encoding: "utf8" }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
