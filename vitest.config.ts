import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // The tools (tools/) import the library by the package's name, as a user does; in the suites
    // that name is the TypeScript source, so that a test and the tool it drives share one library
    // (one Heap, Arena and ArenaError; test/setup.ts registers the debug core with it). The bin and
    // the packed package are tested on the built entries (test/*-cli.test.ts, test/package.test.ts).
    alias: [
      { find: /^managed-arena$/, replacement: source("./src/index.ts") },
      { find: /^managed-arena\/debug$/, replacement: source("./src/debug-entry.ts") },
      { find: /^managed-arena\/shared$/, replacement: source("./src/shared-entry.ts") },
      { find: /^managed-arena\/workload$/, replacement: source("./src/workload.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // Registers the debug core (src/debug-entry.ts) for the suites' debug heaps.
    setupFiles: ["test/setup.ts"],
    pool: "forks",
    // The leak reporter's tests collect garbage on purpose (test/leak.test.ts).
    execArgv: ["--expose-gc"],
    // Arenas a test drops unreleased are reported (onLeak's default console.warn) whenever the
    // collector gets to them, which can be after their file has finished: written straight to the
    // output, such a warning cannot race vitest's closing of the worker's channel.
    disableConsoleIntercept: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
