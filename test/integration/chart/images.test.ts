// The container images, checked without a Docker engine: the Dockerfiles' stages, users
// and install steps, and that everything they COPY exists and survives .dockerignore.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repoRoot } from "./helm.js";

interface Instruction {
  op: string;
  args: string;
}

interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Parses a Dockerfile into stages (continuation lines joined, comments dropped). */
function parseDockerfile(path: string): { args: Map<string, string>; stages: Stage[] } {
  const text = readFileSync(path, "utf8").replace(/\\\n/g, " ");
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [, op = "", rest = ""] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = op.toUpperCase();
    if (upper === "FROM") {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      const image = (m?.[1] ?? rest).replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? "");
      stages.push({ from: image, name: m?.[2], instructions: [] });
    } else if (upper === "ARG" && stages.length === 0) {
      const [name = "", value = ""] = rest.split("=", 2);
      args.set(name, value);
    } else {
      stages.at(-1)?.instructions.push({ op: upper, args: rest });
    }
  }
  return { args, stages };
}

function runtimeStage(stages: Stage[]): Stage {
  const last = stages.at(-1);
  if (!last) throw new Error("no stages");
  return last;
}

/** The sources of a stage's COPY instructions from the build context (not --from). */
function contextCopies(stage: Stage): string[] {
  return stage.instructions
    .filter((i) => (i.op === "COPY" || i.op === "ADD") && !/--from=/.test(i.args))
    .flatMap((i) => {
      const parts = i.args.split(/\s+/).filter((p) => !p.startsWith("--"));
      return parts.slice(0, -1);
    });
}

function dockerignore(): string[] {
  return readFileSync(join(repoRoot, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** Whether a context path is excluded by one of .dockerignore's patterns (the forms we use). */
function ignored(path: string, patterns: string[]): boolean {
  const clean = path.replace(/\/$/, "");
  return patterns.some((pattern) => {
    if (pattern.startsWith("!")) return false;
    const anyDepth = pattern.startsWith("**/");
    const body = anyDepth ? pattern.slice(3) : pattern;
    const re = new RegExp(`^${body.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}(/.*)?$`);
    if (!anyDepth) return re.test(clean);
    const segments = clean.split("/");
    return segments.some((_, i) => re.test(segments.slice(i).join("/")));
  });
}

const IMAGES = [
  { dockerfile: "operator/Dockerfile", workspace: "operator" },
  { dockerfile: "consumer-template/Dockerfile", workspace: "consumer-template" },
];

describe.each(IMAGES)("$dockerfile", ({ dockerfile, workspace }) => {
  const path = join(repoRoot, dockerfile);

  it("exists", () => {
    expect(existsSync(path), `${dockerfile} is missing`).toBe(true);
  });

  it.runIf(existsSync(path))("builds in one stage and runs from another, on a current Node LTS", () => {
    const { stages } = parseDockerfile(path);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) {
      if (/^[\w-]+$/.test(stage.from) && stages.some((s) => s.name === stage.from)) continue; // FROM an earlier stage
      const m = /^node:(\d+)[-.\w]*$/.exec(stage.from);
      expect(m, `${stage.from} is a node image`).not.toBeNull();
      expect(Number(m![1]), `${stage.from}: an LTS line (even major, 22 or newer)`).toBeGreaterThanOrEqual(22);
      expect(Number(m![1]) % 2).toBe(0);
    }
    const build = stages.slice(0, -1);
    expect(build.some((s) => s.instructions.some((i) => i.op === "RUN" && /npm (ci|run build)/.test(i.args)))).toBe(true);
  });

  it.runIf(existsSync(path))("runs as a numeric non-root user", () => {
    const users = runtimeStage(parseDockerfile(path).stages).instructions.filter((i) => i.op === "USER");
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!.args.trim();
    const m = /^(\d+)(?::(\d+))?$/.exec(user);
    expect(m, `USER ${user} is numeric (runAsNonRoot can only check a number)`).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    if (m![2] !== undefined) expect(Number(m![2])).toBeGreaterThan(0);
  });

  it.runIf(existsSync(path))("installs production dependencies only in the runtime stage", () => {
    const runs = runtimeStage(parseDockerfile(path).stages).instructions.filter((i) => i.op === "RUN").map((i) => i.args);
    const installs = runs.filter((r) => /\bnpm\s+(ci|install|i)\b/.test(r));
    expect(installs.length, "the runtime stage installs its dependencies").toBeGreaterThan(0);
    for (const install of installs) {
      expect(install).toMatch(/\bnpm\s+ci\b/); // from the lockfile, never a fresh resolve
      expect(install).toMatch(/--omit=dev\b/);
      expect(install).not.toMatch(/--include=dev|--production=false/);
    }
    expect(runs.join("\n")).not.toMatch(/\b(tsc|npm run build|npx)\b/); // compiled in the build stage
  });

  it.runIf(existsSync(path))("copies only files that exist and that .dockerignore keeps", () => {
    const patterns = dockerignore();
    const { stages } = parseDockerfile(path);
    const sources = stages.flatMap(contextCopies);
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(join(repoRoot, source)), `${dockerfile}: COPY ${source} exists`).toBe(true);
      expect(ignored(source, patterns), `${dockerfile}: COPY ${source} is not excluded by .dockerignore`).toBe(false);
    }
    // A host's node_modules or dist must never leak into the image.
    expect(ignored(`${workspace}/node_modules`, patterns)).toBe(true);
    expect(ignored(`${workspace}/dist`, patterns)).toBe(true);
    expect(ignored("node_modules", patterns)).toBe(true);
  });
});

describe("operator/Dockerfile", () => {
  const path = join(repoRoot, "operator/Dockerfile");
  const { stages } = parseDockerfile(path);
  const runtime = runtimeStage(stages);

  it("starts `p2p operator` from the compiled CLI", () => {
    const entrypoint = runtime.instructions.filter((i) => i.op === "ENTRYPOINT").at(-1);
    const cmd = runtime.instructions.filter((i) => i.op === "CMD").at(-1);
    expect(JSON.parse(entrypoint!.args)).toEqual(["node", "operator/dist/cli/main.js"]);
    expect(JSON.parse(cmd!.args)).toEqual(["operator"]);
    // The compiled path exists once the workspace is built: src/cli/main.ts -> dist/cli/main.js.
    const tsconfig = parse(readFileSync(join(repoRoot, "operator/tsconfig.build.json"), "utf8")) as { compilerOptions: { outDir: string; rootDir: string } };
    expect(tsconfig.compilerOptions).toMatchObject({ outDir: "dist", rootDir: "src" });
    expect(existsSync(join(repoRoot, "operator/src/cli/main.ts"))).toBe(true);
  });

  it("ships the CRD the operator validates channels with, beside the compiled code", () => {
    const copies = runtime.instructions.filter((i) => i.op === "COPY").map((i) => i.args);
    expect(copies).toContain("crds/ crds/");
    expect(copies.some((c) => /--from=build .*operator\/dist operator\/dist/.test(c))).toBe(true);
    expect(runtime.instructions.some((i) => i.op === "WORKDIR" && i.args === "/app")).toBe(true);
  });

  it("gives the chart's pod the same user the image declares", () => {
    const values = parse(readFileSync(join(repoRoot, "charts/p2p-operator/values.yaml"), "utf8")) as {
      securityContext: { runAsUser: number; runAsGroup: number };
    };
    const user = runtime.instructions.filter((i) => i.op === "USER").at(-1)!.args;
    expect(user).toBe(`${values.securityContext.runAsUser}:${values.securityContext.runAsGroup}`);
  });
});
