// The control plane's own PKI, made with openssl: one CA that signs the apiserver's serving
// certificate and every client certificate, and the service-account signing key pair.
// Identities follow Kubernetes' bootstrap RBAC, so each component gets exactly the rights the
// real one has: system:masters for the admin, system:kube-controller-manager, the node as
// system:node:<name> in system:nodes (the Node authorizer's rules), and system:kube-scheduler
// for binding pods to the node.
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface ClientIdentity {
  /** The user name (certificate CN). */
  user: string;
  /** Groups (certificate O entries). */
  groups?: string[];
}

export interface CertPair {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serving: CertPair;
  serviceAccountKey: string;
  serviceAccountPub: string;
  client(id: ClientIdentity, file: string): Promise<CertPair>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run("openssl", args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? String(err)}`, { cause: err });
  }
}

function subject(id: ClientIdentity): string {
  return [...(id.groups ?? []).map((g) => `/O=${g}`), `/CN=${id.user}`].join("");
}

async function signed(dir: string, name: string, subj: string, ca: CertPair, extensions: string): Promise<CertPair> {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", pair.key, "-subj", subj, "-out", join(dir, `${name}.csr`)], dir);
  await openssl(
    ["x509", "-req", "-in", join(dir, `${name}.csr`), "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-days", "30", "-sha256", "-extfile", ext, "-out", pair.cert],
    dir,
  );
  return pair;
}

/** Creates the CA, the apiserver's serving pair (valid for loopback and the in-cluster names) and the SA keys. */
export async function createPki(dir: string, serviceIp: string): Promise<Pki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca: CertPair = { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
  await openssl(
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca.key, "-out", ca.cert, "-days", "30", "-subj", "/CN=p2p-operator-test-ca", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    dir,
  );
  const names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"];
  const san = [...names.map((n) => `DNS:${n}`), "IP:127.0.0.1", `IP:${serviceIp}`].join(",");
  const serving = await signed(dir, "apiserver", "/CN=kube-apiserver", ca, `keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
  const serviceAccountKey = join(dir, "sa.key");
  const serviceAccountPub = join(dir, "sa.pub");
  await openssl(["genrsa", "-out", serviceAccountKey, "2048"], dir);
  await openssl(["rsa", "-in", serviceAccountKey, "-pubout", "-out", serviceAccountPub], dir);
  return {
    dir,
    caCert: ca.cert,
    caKey: ca.key,
    serving,
    serviceAccountKey,
    serviceAccountPub,
    client: (id, file) => signed(dir, file, subject(id), ca, "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"),
  };
}
