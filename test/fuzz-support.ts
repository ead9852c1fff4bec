// Support for the property suites: they run fast-check inside a worker thread
// (tools/fuzz/jobs.ts) under the fuzz supervisor (tools/fuzz/runner.ts), so that a
// call that never returns (an infinite loop in the core) fails the test with
// its shrunk scenario instead of hanging the whole test run. The worker runs
// the TypeScript sources bundled once per test file by esbuild.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import type { Profile } from "../tools/fuzz/arbitraries.js";
import type { FuzzConfig } from "../tools/fuzz/commands.js";
import type { Failure, Job, JobResult } from "../tools/fuzz/jobs.js";
import { type FuzzIO, supervise, type WorkerTarget } from "../tools/fuzz/runner.js";
import { type Spec, showSpec } from "../tools/fuzz/spec.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
let bundled: Promise<string> | undefined;

/** Resolves "managed-arena" and "managed-arena/debug", which the tools import, to src/. */
const sourceEntries: Plugin = {
  name: "source-entries",
  setup(build) {
    build.onResolve({ filter: /^managed-arena(\/debug)?$/ }, (args) => ({
      path: join(root, "src", args.path === "managed-arena" ? "index.ts" : "debug-entry.ts"),
    }));
  },
};

/** A worker script running the fuzz engine from src/ (bundled on first use). */
export function workerTarget(): Promise<WorkerTarget & { script: string }> {
  bundled ??= (async () => {
    const outfile = join(mkdtempSync(join(tmpdir(), "managed-arena-fuzz-")), "worker.mjs");
    const jobs = join(root, "tools", "fuzz", "jobs.ts");
    await build({
      stdin: {
        contents: `import { isFuzzWorker, workerMain } from ${JSON.stringify(jobs)};\nif (isFuzzWorker()) await workerMain();\n`,
        resolveDir: root,
        loader: "ts",
        sourcefile: "fuzz-worker.ts",
      },
      // The library from its sources, as vitest.config.ts maps the package's name for the suites.
      plugins: [sourceEntries],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      outfile,
      logLevel: "warning",
      banner: {
        js: 'import { createRequire as __createRequire } from "node:module";\nconst require = __createRequire(import.meta.url);',
      },
    });
    return outfile;
  })();
  return bundled.then((script) => ({ script }));
}

/** Hang detection in the suites: generous, since two suites share two cores with the rest of the tests. */
const HANG_MS = 15_000;

/** Runs a job in a worker: a hang is reported (shrunk within `shrinkMs`) like any other failure. */
export async function runInWorker(job: Job, shrinkMs = 20_000, hangMs = HANG_MS): Promise<JobResult> {
  return supervise(job, { target: await workerTarget(), hangMs, shrinkMs, trialMs: 2000 });
}

/**
 * The optional checks the profile suites leave to one dedicated test, so that
 * a defect it finds does not mask the others: every failure shrinks towards
 * the smallest failing case, and a reclaim failure needs no command at all.
 */
export const DEDICATED = ["reclaim"];

/** One fast-check run of a profile (numRuns scenarios) in a worker. */
export function checkProfile(
  profile: Profile | "mixed",
  options: {
    numRuns: number;
    maxCommands?: number;
    differential?: boolean | "sometimes";
    seed?: number;
    fault?: string;
    skip?: string[];
  },
): Promise<JobResult> {
  return runInWorker({
    kind: "check",
    profile,
    numRuns: options.numRuns,
    maxCommands: options.maxCommands ?? 40,
    differential: options.differential ?? false,
    seed: options.seed,
    skip: options.skip ?? DEDICATED,
    fault: options.fault,
  });
}

/** Replays one scenario in a worker. */
export function replay(config: FuzzConfig, commands: Spec[], skip: string[] = DEDICATED): Promise<JobResult> {
  return runInWorker({ kind: "replay", scenario: { config, commands }, skip }, 0, 3000);
}

/** A failure as the fuzz command prints it: what differed, the seed, the shrunk command list. */
export function describeFailure(failure: Failure | undefined): string {
  if (failure === undefined) return "no failure";
  return [
    `${failure.kind} (seed ${failure.seed}${failure.flaky ? ", did not fail again on replay" : ""}):`,
    failure.message,
    `shrunk to ${failure.scenario.commands.length} commands on ${JSON.stringify(failure.scenario.config)}:`,
    ...failure.scenario.commands.map((s, i) => `  ${i + 1}. ${showSpec(s)}`),
  ].join("\n");
}

/** The base config of hand-written scenarios: a small heap, default arena options, the debug core. */
export const SMALL: FuzzConfig = { maxPages: 16, minAlign: 16, maxBytes: 4294967295, differential: false };

/** The summary line of a fuzz run without failures (its ops and seeds). */
export const SUCCESS = /^fuzz: (\d+) ops, (\d+) seeds, 0 failures$/;

/** A FuzzIO that keeps what the command prints, line by line, and works in a fresh temporary directory named after `name`. */
export function captureIO(name: string): FuzzIO & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    lines,
    errors,
    out: (line) => lines.push(...line.split("\n")),
    err: (line) => errors.push(...line.split("\n")),
    isTTY: false,
    cwd: mkdtempSync(join(tmpdir(), `managed-arena-${name}-`)),
  };
}
