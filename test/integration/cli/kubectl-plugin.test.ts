import { existsSync, readFileSync, realpathSync } from "node:fs";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runProcess } from "../../support/run-process.js";

// `kubectl p2p ...`: the package's second bin, found by the real kubectl on PATH as a plugin.

const repoRoot = join(import.meta.dirname, "../../..");
const mainJs = join(repoRoot, "operator/dist/cli/main.js");
const kubectl = join(repoRoot, ".tools/bin/kubectl");

let dir: string;
let env: NodeJS.ProcessEnv;

const run = (command: string, args: string[]) => runProcess(command, args, { cwd: dir, env });

describe.skipIf(!existsSync(mainJs) || !existsSync(kubectl))("the kubectl plugin (after npm run build)", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "kubectl-p2p-"));
    // What npm does for a bin: a link named after it, to the file package.json names.
    const bin = (JSON.parse(readFileSync(join(repoRoot, "operator/package.json"), "utf8")) as { bin: Record<string, string> }).bin;
    await symlink(join(repoRoot, "operator", bin["kubectl-p2p"]!), join(dir, "kubectl-p2p"));
    env = { PATH: [dir, join(repoRoot, ".tools/bin"), process.env.PATH].join(delimiter), HOME: dir, P2P_STATE_DIR: join(dir, "state") };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is the same CLI as p2p, linked by npm run build next to it", () => {
    expect(realpathSync(join(repoRoot, "node_modules/.bin/kubectl-p2p"))).toBe(realpathSync(mainJs));
  });

  it("is listed by kubectl plugin list and answers kubectl p2p --help under its kubectl name", async () => {
    const list = await run(kubectl, ["plugin", "list"]);
    expect(list.stdout).toContain(join(dir, "kubectl-p2p"));
    const help = await run(kubectl, ["p2p", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^kubectl p2p - point-to-point channels/);
    expect(help.stdout).toMatch(/kubectl p2p status \[CHANNEL\]/);
    expect(help.stdout).toMatch(/kubectl p2p dlq list\|show\|replay\|purge CHANNEL/);
  });

  it("passes its arguments through: kubectl p2p status and dlq reach the commands", async () => {
    const status = await run(kubectl, ["p2p", "status", "--local"]);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain(`p2p status: no running \`p2p local\` here (${join(dir, "state", "local.json")})`);
    const dlq = await run(kubectl, ["p2p", "dlq", "drop", "orders"]);
    expect(dlq.code).toBe(2);
    expect(dlq.stderr).toMatch(/first argument is one of list, show, replay, purge/);
  });

  it("talks to the current context of the kubeconfig, as kubectl does", async () => {
    // No cluster here: the point is which server it tries and that it says so.
    const kubeconfig = join(dir, "config");
    await run(kubectl, ["config", "set-cluster", "nowhere", "--server=https://127.0.0.1:1", `--kubeconfig=${kubeconfig}`]);
    await run(kubectl, ["config", "set-context", "nowhere", "--cluster=nowhere", `--kubeconfig=${kubeconfig}`]);
    await run(kubectl, ["config", "use-context", "nowhere", `--kubeconfig=${kubeconfig}`]);
    env = { ...env, KUBECONFIG: kubeconfig };
    const status = await run(kubectl, ["p2p", "status"]);
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/p2p status: .*127\.0\.0\.1:1/);
  });
});
