import { execFile } from "node:child_process";
import { dirname, isAbsolute, resolve } from "node:path";
/** Request headers, as KubeHeaders in kubeconfig.ts (which imports this file). */
type KubeHeaders = Record<string, string | string[]>;

// Exec credential plugins (client.authentication.k8s.io v1 and v1beta1), as kubectl runs them:
// `aws eks get-token`, `gke-gcloud-auth-plugin`, `kubelogin`. The plugin gets an ExecCredential
// in KUBERNETES_EXEC_INFO and prints one with status.token and, usually, status.expirationTimestamp.
// The token is used until it expires (or the server answers 401), then the plugin runs again.

export const EXEC_API_VERSIONS = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"] as const;
/** A plugin that has not answered in this long is stopped, and the request fails. */
export const EXEC_TIMEOUT_MS = 30_000;

export interface ExecPlugin {
  apiVersion: (typeof EXEC_API_VERSIONS)[number];
  command: string;
  args: string[];
  env: Record<string, string>;
  installHint?: string;
  /** spec.cluster for the plugin, when the kubeconfig asks for provideClusterInfo. */
  cluster: Record<string, unknown> | null;
  /** For error messages: the kubeconfig user. */
  what: string;
}

export class ExecCredentialError extends Error {
  override name = "ExecCredentialError";
}

/** users[].user.exec of a kubeconfig, checked field by field; errors name the field and the fix. */
export function parseExecPlugin(exec: Record<string, unknown>, what: string, kubeconfig: string, cluster: Record<string, unknown> | null): ExecPlugin {
  const field = (name: string) => `${what}: exec.${name}`;
  const apiVersion = exec.apiVersion;
  if (!EXEC_API_VERSIONS.includes(apiVersion as ExecPlugin["apiVersion"])) {
    throw new ExecCredentialError(`${field("apiVersion")} is ${JSON.stringify(apiVersion ?? null)}: set ${EXEC_API_VERSIONS.join(" or ")}`);
  }
  const command = exec.command;
  if (typeof command !== "string" || command === "") throw new ExecCredentialError(`${field("command")} is missing: name the plugin to run`);
  const args = exec.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) throw new ExecCredentialError(`${field("args")} must be a list of strings`);
  const env: Record<string, string> = {};
  for (const entry of (exec.env ?? []) as unknown[]) {
    const e = entry as { name?: unknown; value?: unknown };
    if (typeof e?.name !== "string" || typeof e.value !== "string") throw new ExecCredentialError(`${field("env")} entries need a name and a string value`);
    env[e.name] = e.value;
  }
  if (exec.interactiveMode === "Always") {
    throw new ExecCredentialError(`${field("interactiveMode")} is Always, but p2p operator never has a terminal to prompt on: use IfAvailable or Never`);
  }
  // A relative command with a slash is relative to the kubeconfig's directory, as kubectl does it.
  const resolved = command.includes("/") && !isAbsolute(command) ? resolve(dirname(kubeconfig), command) : command;
  return {
    apiVersion: apiVersion as ExecPlugin["apiVersion"],
    command: resolved,
    args: args as string[],
    env,
    installHint: typeof exec.installHint === "string" ? exec.installHint : undefined,
    cluster: exec.provideClusterInfo === true ? cluster : null,
    what,
  };
}

export interface ExecCredentialSource {
  headers(): Promise<KubeHeaders>;
  /** The server refused the token (401): the next request runs the plugin again. */
  rejected(): void;
}

/** Bearer headers from the plugin's token, cached until its expirationTimestamp; one run at a time. */
export function execCredentialSource(plugin: ExecPlugin, fixed: KubeHeaders, now: () => number = Date.now): ExecCredentialSource {
  let cached: { headers: KubeHeaders; expiresAtMs: number | null } | null = null;
  let running: Promise<KubeHeaders> | null = null;
  return {
    headers: () => {
      if (cached && (cached.expiresAtMs === null || now() < cached.expiresAtMs)) return Promise.resolve(cached.headers);
      running ??= runPlugin(plugin)
        .then(({ token, expiresAtMs }) => {
          cached = { headers: { ...fixed, Authorization: `Bearer ${token}` }, expiresAtMs };
          return cached.headers;
        })
        .finally(() => (running = null));
      return running;
    },
    rejected: () => {
      cached = null;
    },
  };
}

async function runPlugin(plugin: ExecPlugin): Promise<{ token: string; expiresAtMs: number | null }> {
  const info = { apiVersion: plugin.apiVersion, kind: "ExecCredential", spec: { interactive: false, ...(plugin.cluster ? { cluster: plugin.cluster } : {}) } };
  const env = { ...process.env, ...plugin.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) };
  const stdout = await new Promise<string>((resolveRun, reject) => {
    execFile(plugin.command, plugin.args, { env, timeout: EXEC_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (err, out, stderr) => {
      if (!err) return resolveRun(out);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        return reject(new ExecCredentialError(`${plugin.what}: exec plugin ${plugin.command} not found${plugin.installHint ? `: ${plugin.installHint.trim()}` : ": install it or fix exec.command"}`));
      }
      reject(new ExecCredentialError(`${plugin.what}: exec plugin ${plugin.command} failed (${err.message.split("\n")[0]})${stderr ? `: ${stderr.trim().slice(-300)}` : ""}`));
    });
  });
  return credentialFrom(stdout, plugin);
}

/** The plugin's answer: an ExecCredential of the same apiVersion with status.token. */
export function credentialFrom(stdout: string, plugin: Pick<ExecPlugin, "apiVersion" | "command" | "what">): { token: string; expiresAtMs: number | null } {
  const where = `${plugin.what}: exec plugin ${plugin.command}`;
  let doc: { apiVersion?: unknown; kind?: unknown; status?: Record<string, unknown> };
  try {
    doc = JSON.parse(stdout) as typeof doc;
  } catch {
    throw new ExecCredentialError(`${where} printed no ExecCredential JSON`);
  }
  if (doc?.kind !== "ExecCredential" || doc.apiVersion !== plugin.apiVersion) {
    throw new ExecCredentialError(`${where} printed ${String(doc?.kind)} ${String(doc?.apiVersion)}, not an ExecCredential of ${plugin.apiVersion} (exec.apiVersion must match the plugin's)`);
  }
  const status = doc.status ?? {};
  const token = status.token;
  if (typeof token !== "string" || token === "") {
    const cert = typeof status.clientCertificateData === "string";
    throw new ExecCredentialError(
      cert
        ? `${where} returned a client certificate, which p2p operator does not take from exec plugins: use a plugin that returns a token`
        : `${where} returned no status.token`,
    );
  }
  const expiry = status.expirationTimestamp;
  if (expiry === undefined || expiry === null) return { token, expiresAtMs: null };
  const expiresAtMs = typeof expiry === "string" ? Date.parse(expiry) : Number.NaN;
  if (Number.isNaN(expiresAtMs)) throw new ExecCredentialError(`${where} returned status.expirationTimestamp ${JSON.stringify(expiry)}, which is not an RFC 3339 time`);
  return { token, expiresAtMs };
}
