import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Extra server config, written verbatim into the server's config file (e.g. an authorization block). */
export interface NatsServerOptions {
  /** Port to listen on; 0 or absent picks a free one. Kept across restart(). */
  port?: number;
  /** JetStream store directory; absent makes a temp dir that stop() removes. */
  storeDir?: string;
  /** Appended to the generated config file, e.g. `authorization { token: "s3cret" }`. */
  extraConfig?: string;
  /** The nats-server binary; default NATS_SERVER_BIN or `nats-server` on PATH. */
  bin?: string;
  /**
   * Run in its own process group, so that a Ctrl-C in the terminal does not stop the server
   * before the caller has stopped its consumers (`p2p local` stops it last).
   */
  ownProcessGroup?: boolean;
}

export class NatsServerNotFoundError extends Error {
  override name = "NatsServerNotFoundError";
}

/** A real nats-server child process with JetStream, on loopback. */
export class NatsServerProcess {
  private child: ChildProcess | null = null;
  private constructor(
    readonly port: number,
    readonly storeDir: string,
    private readonly configPath: string,
    private readonly bin: string,
    private readonly ownsStoreDir: boolean,
    private readonly ownProcessGroup: boolean,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The release of a nats-server binary, e.g. "2.11.4" (from `nats-server --version`). */
  static versionOf(bin = defaultBin()): string {
    const out = execFileSync(bin, ["--version"], { encoding: "utf8" });
    const version = /v?(\d+\.\d+\.\d+\S*)/.exec(out)?.[1];
    if (!version) throw new Error(`${bin} --version printed no version: ${out.trim()}`);
    return version;
  }

  static async start(options: NatsServerOptions = {}): Promise<NatsServerProcess> {
    const bin = options.bin ?? defaultBin();
    const port = options.port || (await freePort());
    const workDir = await mkdtemp(join(tmpdir(), "p2p-nats-"));
    const storeDir = options.storeDir ?? join(workDir, "jetstream");
    const configPath = join(workDir, "server.conf");
    const config = [
      `listen: "127.0.0.1:${port}"`,
      `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
      options.extraConfig ?? "",
    ].join("\n");
    await writeFile(configPath, config);
    const server = new NatsServerProcess(port, storeDir, configPath, bin, options.storeDir === undefined, options.ownProcessGroup ?? false);
    await server.launch();
    return server;
  }

  /** Starts the process again on the same port and store (after stop() or kill()). */
  async restart(): Promise<void> {
    if (this.child) await this.stop({ keepStore: true });
    await this.launch();
  }

  /** kill -9: no shutdown, no flush. The store stays for restart(). */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill(signal);
    });
  }

  /** Graceful stop; removes a temp store unless keepStore. */
  async stop(opts: { keepStore?: boolean } = {}): Promise<void> {
    await this.kill("SIGTERM");
    if (!opts.keepStore && this.ownsStoreDir) {
      await rm(join(this.storeDir, ".."), { recursive: true, force: true });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private async launch(): Promise<void> {
    const child = spawn(this.bin, ["-c", this.configPath], { stdio: ["ignore", "ignore", "pipe"], detached: this.ownProcessGroup });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const spawnError = new Promise<never>((_, reject) => {
      child.once("error", (err: NodeJS.ErrnoException) => {
        reject(
          err.code === "ENOENT"
            ? new NatsServerNotFoundError(
                `nats-server not found (${this.bin}): install it (Debian: apt-get install nats-server) or set NATS_SERVER_BIN`,
              )
            : err,
        );
      });
      child.once("exit", (code) => reject(new Error(`nats-server exited with ${code}: ${stderr.trim()}`)));
    });
    spawnError.catch(() => undefined);
    this.child = child;
    await Promise.race([waitForPort(this.port, 10_000), spawnError]);
    child.removeAllListeners("exit");
  }
}

function defaultBin(): string {
  return process.env.NATS_SERVER_BIN ?? "nats-server";
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
