import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const script = resolve(import.meta.dirname, "../../../scripts/folder-cycles.mjs");
const dirs: string[] = [];

function sourceTree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "folder-cycles-"));
  dirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const run = (dir: string) => spawnSync(process.execPath, [script, dir], { encoding: "utf8" });

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("folder-cycles", () => {
  it("fails on a cycle closed only by a type import, naming the files", () => {
    const dir = sourceTree({
      "plan/status.ts": 'import type { Verdict } from "../controller/ports.js";\nexport const x = 1;\n',
      "controller/ports.ts": "export interface Verdict { ok: boolean }\n",
      "controller/reconciler.ts": 'import { x } from "../plan/index.js";\n',
      "plan/index.ts": 'export { x } from "./status.js";\n',
    });
    const result = run(dir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("controller/ -> plan/ -> controller/");
    expect(result.stderr).toContain("plan/status.ts");
  });

  it("passes when the shared types live in a folder below both", () => {
    const dir = sourceTree({
      "plan/status.ts": 'import type { Verdict } from "../ports/index.js";\nexport const x = 1;\n',
      "ports/index.ts": "export interface Verdict { ok: boolean }\n",
      "controller/reconciler.ts": 'import { x } from "../plan/index.js";\nimport type { Verdict } from "../ports/index.js";\n',
      "plan/index.ts": 'export { x } from "./status.js";\n',
    });
    const result = run(dir);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });
});
