// A real Kubernetes control plane on loopback: etcd, kube-apiserver (Node and RBAC
// authorizers, service-account token signing, default admission plus NodeRestriction, its own
// CA) and kube-controller-manager, built from Kubernetes' Go modules, plus the process node
// that runs pods as local processes. Used by `npm run cluster` and by the tests.
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../nats-server.js";
import { controlPlaneBinaries, REPO_ROOT, type ControlPlaneBinaries } from "./binaries.js";
import { Component } from "./component.js";
import { writeKubeconfig } from "./kubeconfig.js";
import { createPki, type ClientIdentity, type Pki } from "./pki.js";
import { ProcessNode } from "./process-node.js";
import { createNamespace } from "./api-calls.js";
import { RestClient } from "./rest.js";

const SERVICE_CIDR = "10.96.0.0/24";
const SERVICE_IP = "10.96.0.1";

/** What a test needs to reach a control plane (serialisable: vitest hands it to test files). */
export interface ControlPlaneInfo {
  server: string;
  apiServerPort: number;
  /** The admin's kubeconfig. */
  kubeconfig: string;
  kubectl: string;
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
}

export interface ControlPlaneOptions {
  /** Where state, certificates and logs go; a fresh temp dir when absent (removed on stop). */
  dir?: string;
  /** Working directory of the processes the node runs (default: the repository root). */
  workDir?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Start the process node (default true). */
  node?: boolean;
}

export class ControlPlane {
  private constructor(
    readonly dir: string,
    private readonly ownsDir: boolean,
    readonly binaries: ControlPlaneBinaries,
    readonly pki: Pki,
    readonly server: string,
    /** The admin's kubeconfig (system:masters). */
    readonly kubeconfigPath: string,
    readonly admin: RestClient,
    private readonly components: Component[],
    readonly node: ProcessNode | null,
  ) {}

  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const log = options.log ?? (() => {});
    const binaries = await controlPlaneBinaries();
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "p2p-kube-")));
    await mkdir(join(dir, "logs"), { recursive: true });
    const pki = await createPki(join(dir, "pki"), SERVICE_IP);
    const [etcdPort, etcdPeerPort, apiPort, kcmPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const server = `https://127.0.0.1:${apiPort}`;
    const components: Component[] = [];
    const stopAll = async () => {
      for (const c of [...components].reverse()) await c.stop();
    };
    try {
      const etcd = Component.start("etcd", binaries.etcd, [
        "--name=default",
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
        // Test data: an fsync per write would make every test wait on the disk.
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ], join(dir, "logs/etcd.log"));
      components.push(etcd);
      log(`etcd starting on 127.0.0.1:${etcdPort}`);

      const apiserver = Component.start("kube-apiserver", binaries.kubeApiserver, [
        `--etcd-servers=http://127.0.0.1:${etcdPort}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        `--cert-dir=${join(dir, "apiserver")}`,
        `--tls-cert-file=${pki.serving.cert}`,
        `--tls-private-key-file=${pki.serving.key}`,
        `--client-ca-file=${pki.caCert}`,
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        // The apiserver would publish its address as the `kubernetes` Service's endpoint, and
        // refuses a loopback one; nothing in the tests reaches it through that Service.
        "--endpoint-reconciler-type=none",
        "--allow-privileged=true",
        "--profiling=false",
        "--v=1",
      ], join(dir, "logs/kube-apiserver.log"));
      components.push(apiserver);
      log(`kube-apiserver starting on ${server}`);

      const identity = async (name: string, id: ClientIdentity) => {
        const pair = await pki.client(id, name);
        return writeKubeconfig(join(dir, `${name}.kubeconfig`), server, pki.caCert, pair);
      };
      const adminPair = await pki.client({ user: "p2p-admin", groups: ["system:masters"] }, "admin");
      const kubeconfigPath = await writeKubeconfig(join(dir, "admin.kubeconfig"), server, pki.caCert, adminPair);
      const admin = new RestClient({ server, ca: pki.caCert, ...adminPair });
      await waitReady(admin, [etcd, apiserver]);
      log(`kube-apiserver ready`);

      const kcmKubeconfig = await identity("kube-controller-manager", { user: "system:kube-controller-manager" });
      const kcm = Component.start("kube-controller-manager", binaries.kubeControllerManager, [
        `--kubeconfig=${kcmKubeconfig}`,
        `--authentication-kubeconfig=${kcmKubeconfig}`,
        `--authorization-kubeconfig=${kcmKubeconfig}`,
        "--bind-address=127.0.0.1",
        `--secure-port=${kcmPort}`,
        "--leader-elect=false",
        // Each controller acts as its own service account, so RBAC is enforced on them too.
        "--use-service-account-credentials=true",
        `--service-account-private-key-file=${pki.serviceAccountKey}`,
        `--root-ca-file=${pki.caCert}`,
        `--cluster-signing-cert-file=${pki.caCert}`,
        `--cluster-signing-key-file=${pki.caKey}`,
        "--controllers=*",
        "--v=1",
      ], join(dir, "logs/kube-controller-manager.log"));
      components.push(kcm);
      // The serviceaccount controller creating `default` in `default` shows the controllers run.
      await until(async () => (await admin.find("/api/v1/namespaces/default/serviceaccounts/default")) !== null, 60_000, () => kcm.assertAlive(), "kube-controller-manager to create the default ServiceAccount");
      log(`kube-controller-manager ready`);

      let node: ProcessNode | null = null;
      if (options.node !== false) {
        const nodeName = "p2p-process-node";
        const nodePair = await pki.client({ user: `system:node:${nodeName}`, groups: ["system:nodes"] }, "node");
        const schedulerPair = await pki.client({ user: "system:kube-scheduler" }, "scheduler");
        node = await ProcessNode.start({
          name: nodeName,
          node: { server, ca: pki.caCert, ...nodePair },
          scheduler: { server, ca: pki.caCert, ...schedulerPair },
          apiServerPort: apiPort,
          dir: join(dir, "node"),
          workDir: options.workDir ?? REPO_ROOT,
          log: (line) => log(`node: ${line}`),
        });
        log(`process node ${nodeName} ready`);
      }
      return new ControlPlane(dir, options.dir === undefined, binaries, pki, server, kubeconfigPath, admin, components, node);
    } catch (err) {
      await stopAll();
      throw err;
    }
  }

  info(): ControlPlaneInfo {
    return {
      server: this.server,
      apiServerPort: Number(new URL(this.server).port),
      kubeconfig: this.kubeconfigPath,
      kubectl: this.binaries.kubectl,
      dir: this.dir,
      caCert: this.pki.caCert,
      caKey: this.pki.caKey,
      servingCert: this.pki.serving.cert,
      servingKey: this.pki.serving.key,
      adminCert: this.admin.creds.cert ?? "",
      adminKey: this.admin.creds.key ?? "",
    };
  }

  createNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
    return createNamespace(this.admin, name, labels);
  }

  /** The pids of etcd, kube-apiserver and kube-controller-manager, e.g. to read their CPU from /proc. */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.components.map((c) => [c.name, c.pid]));
  }

  /** Stops the node (its pods first), then the controllers, the apiserver and etcd. */
  async stop(): Promise<void> {
    await this.node?.stop();
    for (const c of [...this.components].reverse()) await c.stop();
    this.admin.close();
    // P2P_KEEP_CONTROL_PLANE=1 keeps state, logs and the pods' output for a post-mortem.
    if (this.ownsDir && process.env.P2P_KEEP_CONTROL_PLANE !== "1") await rm(this.dir, { recursive: true, force: true });
  }
}

async function until(check: () => Promise<boolean>, timeoutMs: number, alive: () => void, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    alive();
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function waitReady(admin: RestClient, components: Component[]): Promise<void> {
  const alive = () => components.forEach((c) => c.assertAlive());
  await until(
    async () => {
      await admin.get("/readyz");
      return true;
    },
    120_000,
    alive,
    "kube-apiserver /readyz",
  );
}
