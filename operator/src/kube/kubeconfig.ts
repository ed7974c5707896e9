import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { isIPv6 } from "node:net";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import { parse } from "yaml";
import { ExecCredentialError, execCredentialSource, parseExecPlugin } from "./exec-credential.js";

// Where the Kubernetes API is and how to authenticate to it, without @kubernetes/client-node:
// loading that package costs the operator ~80 MB of RSS (its config module pulls in the whole
// generated API), and KubeRest only needs the server, TLS settings and a few headers.
//
// Where from, first match wins (as controller-runtime):
//   --kubeconfig FILE; else KUBECONFIG (a path list, merged like kubectl: the first file that
//   names a context, cluster or user wins it); else in-cluster (KUBERNETES_SERVICE_HOST/PORT
//   and the pod's service account); else ~/.kube/config.
// Supported in a kubeconfig: the current context's cluster (server, certificate-authority,
// certificate-authority-data, insecure-skip-tls-verify, tls-server-name) and user (token,
// tokenFile, client-certificate(-data) with client-key(-data), username/password, as,
// as-uid, as-groups, as-user-extra, exec credential plugins: see exec-credential.ts). Not
// supported, refused with an error that names them: auth-provider (the retired in-tree OIDC
// and cloud providers; their replacements are exec plugins), proxy-url.

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** How long a token read from a file is used before the file is read again (bound tokens rotate). */
export const TOKEN_REFRESH_MS = 60_000;

export interface KubeTls {
  /** PEM CA bundle; absent: the system's roots. */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
  servername?: string;
}

export type KubeHeaders = Record<string, string | string[]>;

export interface KubeClientConfig {
  server: URL;
  /** Used for an https server only. */
  tls: KubeTls;
  /** The context's (or the service account's) namespace, if any. */
  namespace: string | null;
  /** For logs: "in-cluster", or the kubeconfig file(s) and context. */
  source: string;
  /** Authentication and impersonation headers. A token file is read again after TOKEN_REFRESH_MS. */
  headers(): Promise<KubeHeaders>;
  /** Told of a 401: a credential with a lifetime (an exec plugin's token) is fetched again. */
  rejected?(): void;
}

export class KubeConfigError extends Error {
  override name = "KubeConfigError";
}

export interface KubeConfigLoadOptions {
  /** --kubeconfig: this file only, which must exist. */
  kubeconfig?: string | null;
  env?: NodeJS.ProcessEnv;
  /** For ~/.kube/config. */
  home?: string;
  serviceAccountDir?: string;
  now?: () => number;
}

export function loadKubeClientConfig(options: KubeConfigLoadOptions = {}): KubeClientConfig {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  if (options.kubeconfig) return fromKubeconfigFiles([options.kubeconfig], now);
  const listed = (env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
  if (listed.length > 0) {
    const present = listed.filter((f) => existsSync(f));
    if (present.length === 0) throw new KubeConfigError(`none of the files in KUBECONFIG exists: ${listed.join(delimiter)}`);
    return fromKubeconfigFiles(present, now);
  }
  const serviceAccountDir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && existsSync(join(serviceAccountDir, "token"))) {
    return inCluster(env.KUBERNETES_SERVICE_HOST, env.KUBERNETES_SERVICE_PORT, serviceAccountDir, now);
  }
  const home = join(options.home ?? homedir(), ".kube", "config");
  if (existsSync(home)) return fromKubeconfigFiles([home], now);
  throw new KubeConfigError(
    `no Kubernetes API to talk to: no --kubeconfig, no KUBECONFIG, not in a cluster (KUBERNETES_SERVICE_HOST/PORT and ${join(serviceAccountDir, "token")}), no ${home}`,
  );
}

/** The pod's service account: CA and namespace read once, the token re-read as it rotates. */
export function inCluster(host: string, port: string, serviceAccountDir: string, now: () => number = Date.now): KubeClientConfig {
  const server = url(`https://${isIPv6(host) ? `[${host}]` : host}:${port}`, "in-cluster server (KUBERNETES_SERVICE_HOST/PORT)");
  const namespaceFile = join(serviceAccountDir, "namespace");
  const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, "utf8").trim() || null : null;
  return {
    server,
    tls: { ca: readRequired(join(serviceAccountDir, "ca.crt"), "the service account's CA"), rejectUnauthorized: true },
    namespace,
    source: "in-cluster",
    headers: headerSource({}, { tokenFile: join(serviceAccountDir, "token") }, now),
  };
}

// --- kubeconfig files ---------------------------------------------------------------------

interface Named<T> {
  name: string;
  value: T;
  /** The file it came from: relative paths in it are relative to that file's directory. */
  file: string;
}

interface Merged {
  currentContext?: string;
  clusters: Map<string, Named<Record<string, unknown>>>;
  users: Map<string, Named<Record<string, unknown>>>;
  contexts: Map<string, Named<Record<string, unknown>>>;
}

export function fromKubeconfigFiles(files: string[], now: () => number = Date.now): KubeClientConfig {
  const merged: Merged = { clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const file of files) mergeFile(merged, file);
  const where = files.join(delimiter);
  const contextName = merged.currentContext;
  if (!contextName) throw new KubeConfigError(`kubeconfig ${where}: no current-context`);
  const context = merged.contexts.get(contextName);
  if (!context) throw new KubeConfigError(`kubeconfig ${where}: current-context "${contextName}" is not among its contexts`);
  const clusterName = str(context.value.cluster);
  const cluster = clusterName ? merged.clusters.get(clusterName) : undefined;
  if (!cluster) throw new KubeConfigError(`kubeconfig ${where}: cluster "${clusterName ?? ""}" of context "${contextName}" is not among its clusters`);
  const userName = str(context.value.user);
  const user = userName ? merged.users.get(userName) : undefined;
  if (userName && !user) throw new KubeConfigError(`kubeconfig ${where}: user "${userName}" of context "${contextName}" is not among its users`);

  const c = cluster.value;
  const what = `cluster "${cluster.name}" in ${cluster.file}`;
  if (c["proxy-url"]) throw new KubeConfigError(`${what} sets proxy-url, which p2p operator does not support`);
  const serverText = str(c.server);
  if (!serverText) throw new KubeConfigError(`${what} has no server`);
  const server = url(serverText, what);
  const tls: KubeTls = { rejectUnauthorized: c["insecure-skip-tls-verify"] !== true };
  const ca = fileOrData(c, "certificate-authority", cluster.file, what);
  if (ca) tls.ca = ca;
  const servername = str(c["tls-server-name"]);
  if (servername) tls.servername = servername;

  let headers: () => Promise<KubeHeaders> = async () => ({});
  let rejected: (() => void) | undefined;
  if (user) {
    const u = user.value;
    const userWhat = `user "${user.name}" in ${user.file}`;
    refuseUnsupported(u, userWhat);
    const cert = fileOrData(u, "client-certificate", user.file, userWhat);
    const key = fileOrData(u, "client-key", user.file, userWhat);
    if (!cert !== !key) throw new KubeConfigError(`${userWhat} has a client ${cert ? "certificate without a key" : "key without a certificate"}`);
    if (cert && key) Object.assign(tls, { cert, key });
    const token = str(u.token);
    const tokenFile = str(u.tokenFile);
    const username = str(u.username);
    const password = str(u.password);
    if ((token || tokenFile) && (username || password)) {
      throw new KubeConfigError(`${userWhat} has both a token and a username/password: use one`);
    }
    const fixed: KubeHeaders = impersonation(u, userWhat);
    if (isRecord(u.exec)) {
      if (token || tokenFile || username || password) throw new KubeConfigError(`${userWhat} has both exec and a token or username/password: use one`);
      const clusterInfo = {
        server: serverText,
        ...(servername && { "tls-server-name": servername }),
        ...(c["insecure-skip-tls-verify"] === true && { "insecure-skip-tls-verify": true }),
        ...(ca && { "certificate-authority-data": ca.toString("base64") }),
      };
      let plugin: ReturnType<typeof parseExecPlugin>;
      try {
        plugin = parseExecPlugin(u.exec, userWhat, user.file, clusterInfo);
      } catch (err) {
        if (err instanceof ExecCredentialError) throw new KubeConfigError(err.message, { cause: err });
        throw err;
      }
      const source = execCredentialSource(plugin, fixed, now);
      headers = source.headers;
      rejected = source.rejected;
    } else {
      if (username || password) fixed.Authorization = `Basic ${Buffer.from(`${username ?? ""}:${password ?? ""}`).toString("base64")}`;
      headers = headerSource(fixed, { token, tokenFile: tokenFile ? resolvePath(tokenFile, user.file) : undefined }, now);
    }
  }
  return { server, tls, namespace: str(context.value.namespace) ?? null, source: `kubeconfig ${where}, context ${contextName}`, headers, rejected };
}

function mergeFile(merged: Merged, file: string): void {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new KubeConfigError(`cannot read kubeconfig ${file}: ${(err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new KubeConfigError(`kubeconfig ${file} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) return; // an empty file, as kubectl allows
  if (!isRecord(doc)) throw new KubeConfigError(`kubeconfig ${file} is not a mapping`);
  merged.currentContext ||= str(doc["current-context"]);
  entries(doc, "clusters", "cluster", file, merged.clusters);
  entries(doc, "users", "user", file, merged.users);
  entries(doc, "contexts", "context", file, merged.contexts);
}

function entries(doc: Record<string, unknown>, list: string, field: string, file: string, into: Map<string, Named<Record<string, unknown>>>): void {
  const items = doc[list];
  if (items === undefined || items === null) return;
  if (!Array.isArray(items)) throw new KubeConfigError(`kubeconfig ${file}: ${list} is not a list`);
  for (const item of items) {
    const name = isRecord(item) ? str(item.name) : undefined;
    if (!name || !isRecord(item)) throw new KubeConfigError(`kubeconfig ${file}: an entry of ${list} has no name`);
    const value = item[field] ?? {};
    if (!isRecord(value)) throw new KubeConfigError(`kubeconfig ${file}: ${list} "${name}" has no ${field} mapping`);
    if (!into.has(name)) into.set(name, { name, value, file });
  }
}

function refuseUnsupported(user: Record<string, unknown>, what: string): void {
  if (isRecord(user["auth-provider"])) {
    const name = str(user["auth-provider"].name);
    throw new KubeConfigError(
      `${what} authenticates with auth-provider${name ? ` "${name}"` : ""}, which p2p operator does not support: use the provider's exec credential plugin (as kubectl does since 1.26), a token, tokenFile or client certificate`,
    );
  }
}

function impersonation(user: Record<string, unknown>, what: string): KubeHeaders {
  const headers: KubeHeaders = {};
  const as = str(user.as);
  const uid = str(user["as-uid"]);
  const groups = user["as-groups"];
  const extra = user["as-user-extra"];
  if (!as && (uid || groups || extra)) throw new KubeConfigError(`${what}: as-uid, as-groups and as-user-extra need as`);
  if (as) headers["Impersonate-User"] = as;
  if (uid) headers["Impersonate-Uid"] = uid;
  if (Array.isArray(groups) && groups.length) headers["Impersonate-Group"] = groups.map(String);
  if (isRecord(extra)) {
    for (const [k, v] of Object.entries(extra)) headers[`Impersonate-Extra-${encodeURIComponent(k)}`] = (Array.isArray(v) ? v : [v]).map(String);
  }
  return headers;
}

/** `<field>-data` (base64) wins over `<field>` (a path, relative to the kubeconfig's directory). */
function fileOrData(entry: Record<string, unknown>, field: string, kubeconfig: string, what: string): Buffer | undefined {
  const data = str(entry[`${field}-data`]);
  if (data) return Buffer.from(data, "base64");
  const path = str(entry[field]);
  return path ? readRequired(resolvePath(path, kubeconfig), `${field} of ${what}`) : undefined;
}

// --- tokens ---------------------------------------------------------------------------------

/**
 * Fixed headers plus `Authorization: Bearer` from a token, or from a token file read at most
 * once per TOKEN_REFRESH_MS. A failed re-read keeps the last token read (or the inline token),
 * and is retried at the next interval; with no token at all it fails the request.
 */
function headerSource(fixed: KubeHeaders, auth: { token?: string; tokenFile?: string }, now: () => number): () => Promise<KubeHeaders> {
  const withToken = (token: string | undefined): KubeHeaders => (token ? { ...fixed, Authorization: `Bearer ${token}` } : fixed);
  const { tokenFile } = auth;
  if (!tokenFile) {
    const headers = Promise.resolve(withToken(auth.token));
    return () => headers;
  }
  let last: { token: string; headers: KubeHeaders } | null = auth.token ? { token: auth.token, headers: withToken(auth.token) } : null;
  let current: { at: number; headers: Promise<KubeHeaders> } | null = null;
  return () => {
    const at = now();
    if (current && at - current.at < TOKEN_REFRESH_MS) return current.headers;
    const read = readFile(tokenFile, "utf8").then((text) => {
      const token = text.trim();
      if (!token) throw new Error("the file is empty");
      if (last?.token !== token) last = { token, headers: withToken(token) };
      return last.headers;
    });
    const attempt: { at: number; headers: Promise<KubeHeaders> } = {
      at,
      headers: read.catch((err: Error) => {
        if (last) return last.headers;
        if (current === attempt) current = null; // nothing to fall back on: try again at the next request
        throw new KubeConfigError(`cannot read the token file ${tokenFile}: ${err.message}`, { cause: err });
      }),
    };
    current = attempt;
    return attempt.headers;
  };
}

// --- helpers --------------------------------------------------------------------------------

function readRequired(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new KubeConfigError(`cannot read ${what} from ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function resolvePath(path: string, kubeconfig: string): string {
  return isAbsolute(path) ? path : resolve(dirname(kubeconfig), path);
}

function url(text: string, what: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new KubeConfigError(`${what}: server ${JSON.stringify(text)} is not a URL`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw new KubeConfigError(`${what}: server ${text} is neither https:// nor http://`);
  return parsed;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
