#!/usr/bin/env node
// The folder-level half of `npm run cycles`. dpdm finds cycles between files; this finds them
// between the folders under operator/src (plan/, controller/, kube/, ...), where `import type`
// counts as much as a value import: a planner that takes its types from controller/ while the
// controller imports plan/ is a cycle even though no single file closes it.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["operator/src", "consumer-template/src"];
const importPattern = /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/g;

function tsFiles(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return entry.endsWith(".ts") && !entry.endsWith(".d.ts") ? [path] : [];
  });
}

/** The folder a file belongs to: its first path segment below the source root ("log.ts" is its own). */
function folderOf(srcRoot, file) {
  return relative(srcRoot, file).split(sep)[0].replace(/\.ts$/, "");
}

function folderGraph(srcRoot) {
  const edges = new Map();
  for (const file of tsFiles(srcRoot)) {
    const from = folderOf(srcRoot, file);
    for (const [, spec] of readFileSync(file, "utf8").matchAll(importPattern)) {
      if (!spec.startsWith(".")) continue;
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(srcRoot + sep)) continue;
      const to = folderOf(srcRoot, target);
      if (to === from) continue;
      if (!edges.has(from)) edges.set(from, new Map());
      if (!edges.get(from).has(to)) edges.get(from).set(to, relative(root, file));
    }
  }
  return edges;
}

/** Every cycle as a folder path, found by depth-first search from each folder. */
function cyclesOf(edges) {
  const found = new Set();
  const cycles = [];
  const walk = (start, node, path) => {
    for (const next of edges.get(node)?.keys() ?? []) {
      if (next === start) {
        const key = [...path].sort().join(",");
        if (!found.has(key)) {
          found.add(key);
          cycles.push([...path, start]);
        }
      } else if (!path.includes(next)) walk(start, next, [...path, next]);
    }
  };
  for (const start of edges.keys()) walk(start, start, [start]);
  return cycles;
}

let failed = false;
for (const dir of roots) {
  const srcRoot = resolve(root, dir);
  const edges = folderGraph(srcRoot);
  for (const cycle of cyclesOf(edges)) {
    failed = true;
    const steps = cycle.slice(1).map((to, i) => `  ${cycle[i]}/ -> ${to}/ (${edges.get(cycle[i]).get(to)})`);
    console.error(`folder cycle in ${dir}: ${cycle.join("/ -> ")}/\n${steps.join("\n")}`);
  }
}
if (failed) {
  console.error("Move the shared names into a folder both sides import (shared domain types live in ports/).");
  process.exit(1);
}
console.log(`no folder cycles in ${roots.join(", ")}`);
