#!/usr/bin/env node
// Compiles the benchmark peers in bench/peers/ (AssemblyScript's own TLSF and
// bump allocators behind a two-function `alloc`/`free` interface) to
// build/bench/peer-*.wasm. Skips a peer whose output is newer than its source
// and than this script. Usable as a module (`buildPeers()`) or as a script.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const require = createRequire(import.meta.url);
const ascBin = join(dirname(require.resolve("assemblyscript/package.json")), "bin", "asc.js");

/** The peers: source in bench/peers/, AssemblyScript runtime that provides `heap.alloc`/`heap.free`. */
export const peers = [
  { name: "tlsf", runtime: "minimal" },
  { name: "bump", runtime: "stub" },
];

/** Absolute path of a peer's compiled module. */
export const peerWasmPath = (name) => join(root, "build", "bench", `peer-${name}.wasm`);

const mtime = (path) => (existsSync(path) ? statSync(path).mtimeMs : 0);

/**
 * Builds every peer that is missing or older than its source.
 * @param {{ force?: boolean, quiet?: boolean }} [options]
 * @returns {string[]} names of the peers that were (re)built
 */
export function buildPeers({ force = false, quiet = false } = {}) {
  const built = [];
  mkdirSync(join(root, "build", "bench"), { recursive: true });
  for (const { name, runtime } of peers) {
    const source = join(here, "peers", `${name}.ts`);
    const output = peerWasmPath(name);
    if (!force && mtime(output) > Math.max(mtime(source), mtime(fileURLToPath(import.meta.url)))) continue;
    // cwd is bench/peers so that asc does not pick up the core's ./asconfig.json
    // (which would make the peer import its memory and apply the core's options).
    execFileSync(
      process.execPath,
      [ascBin, `${name}.ts`, "--runtime", runtime, "-O3", "--noAssert", "--outFile", output],
      { cwd: join(here, "peers"), stdio: quiet ? ["ignore", "ignore", "inherit"] : "inherit" },
    );
    if (!quiet) console.log(`built: ${output.slice(root.length + 1)} ${statSync(output).size} bytes`);
    built.push(name);
  }
  return built;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildPeers({ force: process.argv.includes("--force") });
}
