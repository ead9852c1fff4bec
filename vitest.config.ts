import { defineConfig } from "vitest/config";

export default defineConfig({
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
