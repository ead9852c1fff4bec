// The supervisor of fuzz jobs, and the `managed-arena fuzz` command's body.
//
// A job runs in a worker thread when there is a script to start one with (the
// bundled bin starts itself); the supervisor watches its messages, and when
// none has come for `hangMs` the worker is stuck in a call that never returns
// (an infinite loop in the core cannot be interrupted from inside): it is
// terminated, and the scenario it was running is shrunk by replaying smaller
// command lists in fresh workers. Without a script (tests running the
// TypeScript sources) the job runs in-process, without that protection.

import { readFileSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import cliProgress from "cli-progress";
import type { Profile } from "./arbitraries.js";
import { OPTIONAL_CHECKS } from "./commands.js";
import type { FuzzJob, Job, JobResult, ScenarioData, WorkerMessage } from "./jobs.js";
import { runJob } from "./jobs.js";
import { U32_MAX } from "./model.js";
import { invalidSpec, type Spec, showSpec } from "./spec.js";

/** How to start a fuzz worker: a script that calls workerMain() when it is one (see jobs.ts). */
export interface WorkerTarget {
  script: string | URL;
  argv?: string[];
}

export interface SuperviseOptions {
  target?: WorkerTarget;
  /** No message from the worker for this long: it hangs. */
  hangMs: number;
  /** Time allowed to shrink a hanging scenario (0: report it as it is). */
  shrinkMs: number;
  /** Time a replay may take before it counts as hanging, while shrinking. */
  trialMs?: number;
  onProgress?(ops: number, seeds: number): void;
  /** Ends the job early (`--threads`: another thread failed): the worker is terminated, the result is what it did. */
  signal?: AbortSignal;
}

type Outcome =
  | { kind: "done"; result: JobResult }
  | { kind: "hang"; last?: { data: ScenarioData; seed: number }; ops: number; seeds: number };

function runInWorker(
  job: Job,
  target: WorkerTarget,
  hangMs: number,
  onProgress?: (ops: number, seeds: number) => void,
  signal?: AbortSignal,
): Promise<Outcome> {
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(target.script, { argv: target.argv ?? [], workerData: { managedArenaFuzz: job } });
    let beat = performance.now();
    // Starting a worker (parsing the bundle, compiling the core) may be slow on a busy machine: grace until it speaks.
    let limit = Math.max(hangMs, 10_000);
    let last: { data: ScenarioData; seed: number } | undefined;
    let ops = 0;
    let seeds = 0;
    let settled = false;
    const settle = () => {
      settled = true;
      clearInterval(timer);
      signal?.removeEventListener("abort", abort);
    };
    const abort = () => {
      if (settled) return;
      settle();
      void worker.terminate();
      resolvePromise({ kind: "done", result: { ops, seeds } });
    };
    if (signal?.aborted) queueMicrotask(abort);
    else signal?.addEventListener("abort", abort);
    const timer = setInterval(
      () => {
        if (settled || performance.now() - beat <= limit) return;
        settle();
        void worker.terminate();
        resolvePromise({ kind: "hang", last, ops, seeds });
      },
      Math.max(20, Math.min(250, hangMs / 4)),
    );
    worker.on("message", (message: WorkerMessage) => {
      if (settled) return;
      beat = performance.now();
      limit = hangMs;
      switch (message.type) {
        case "progress":
          ops = message.ops;
          seeds = message.seeds;
          onProgress?.(ops, seeds);
          return;
        case "scenario":
          last = { data: message.data, seed: message.seed };
          return;
        case "done":
          settle();
          void worker.terminate();
          resolvePromise({ kind: "done", result: message.result });
          return;
        case "error":
          settle();
          void worker.terminate();
          reject(new Error(`fuzz worker failed: ${message.message}`));
          return;
      }
    });
    worker.on("error", (error) => {
      if (settled) return;
      settle();
      reject(error);
    });
    worker.on("exit", (code) => {
      if (settled) return;
      settle();
      reject(new Error(`fuzz worker exited (code ${code}) before finishing`));
    });
  });
}

/** Simpler variants of one spec: its behaviours without one effect, or not throwing. */
function simpler(spec: Spec): Spec[] {
  const variants: Spec[] = [];
  const behaviours = (b: { throws: boolean; effects: { op: string }[] }, rebuild: (b: never) => Spec) => {
    if (b.throws) variants.push(rebuild({ ...b, throws: false } as never));
    b.effects.forEach((_, i) => {
      variants.push(rebuild({ ...b, effects: b.effects.filter((__, j) => j !== i) } as never));
    });
  };
  if (spec.t === "add") behaviours(spec.behaviour, (b) => ({ ...spec, behaviour: b }));
  if (spec.t === "alloc" && spec.dtor !== undefined) behaviours(spec.dtor, (b) => ({ ...spec, dtor: b }));
  if (spec.t === "group") {
    if (spec.fail) variants.push({ ...spec, fail: false });
    spec.body.forEach((_, i) => {
      variants.push({ ...spec, body: spec.body.filter((__, j) => j !== i) });
    });
  }
  return variants;
}

/** Shrinks a hanging scenario: drops chunks of commands, then simplifies behaviours, while it still hangs. */
async function shrinkHang(
  data: ScenarioData,
  target: WorkerTarget,
  skip: string[],
  trialMs: number,
  budgetMs: number,
): Promise<ScenarioData> {
  const deadline = performance.now() + budgetMs;
  const hangs = async (commands: Spec[]) => {
    if (performance.now() > deadline) return false;
    const job: Job = { kind: "replay", scenario: { config: data.config, commands }, skip };
    const outcome = await runInWorker(job, target, trialMs).catch(() => undefined);
    return outcome?.kind === "hang";
  };
  let commands = data.commands;
  for (let chunk = Math.max(1, Math.ceil(commands.length / 2)); ; ) {
    let removed = false;
    for (let i = 0; i < commands.length; ) {
      const candidate = [...commands.slice(0, i), ...commands.slice(i + chunk)];
      if (candidate.length > 0 && (await hangs(candidate))) {
        commands = candidate;
        removed = true;
      } else i += chunk;
    }
    if (performance.now() > deadline || (chunk === 1 && !removed)) break;
    if (!removed) chunk = Math.max(1, Math.floor(chunk / 2));
  }
  for (let i = 0; i < commands.length; i++) {
    let variants = simpler(commands[i]);
    while (variants.length > 0) {
      const variant = variants.shift() as Spec;
      const candidate = commands.map((c, j) => (j === i ? variant : c));
      if (await hangs(candidate)) {
        commands = candidate;
        variants = simpler(variant);
      }
    }
  }
  return { config: data.config, commands };
}

/** Runs a job in a worker (with hang detection and shrinking) when a target is given, else in-process. */
export async function supervise(job: Job, options: SuperviseOptions): Promise<JobResult> {
  const { target } = options;
  if (target === undefined) return runJob(job, { progress: (ops, seeds) => options.onProgress?.(ops, seeds) });
  const outcome = await runInWorker(job, target, options.hangMs, options.onProgress, options.signal);
  if (outcome.kind === "done") return outcome.result;
  const last = outcome.last;
  if (last === undefined) throw new Error(`the fuzz worker made no progress in ${options.hangMs / 1000} s`);
  const skip = job.kind === "fuzz" || job.kind === "check" || job.kind === "replay" ? job.skip : [];
  const scenario =
    options.shrinkMs > 0
      ? await shrinkHang(last.data, target, skip, options.trialMs ?? Math.min(options.hangMs, 2000), options.shrinkMs)
      : last.data;
  return {
    ops: outcome.ops,
    seeds: outcome.seeds,
    failure: {
      kind: "hang",
      seed: last.seed,
      message: `no progress for ${options.hangMs / 1000} s: a call in this scenario never returns (an infinite loop in the core or in a callback)`,
      scenario,
    },
  };
}

// ---- the command -----------------------------------------------------------------

export interface FuzzOptions {
  seconds?: number;
  ops?: number;
  seed?: number;
  replay?: string;
  profile: Profile | "mixed";
  fault?: string;
  skip: string[];
  /** Effect ops left out of the callbacks' behaviours. */
  without: string[];
  hangSeconds: number;
  /** --in-process was given (the printed commands repeat it; `target` says where the job runs). */
  inProcess?: boolean;
  /** Where to run the job: a worker target, or in-process when undefined. */
  target?: WorkerTarget;
  /** `--threads N`: N workers fuzz one shared heap at the same time (0 or absent: off). */
  threads?: number;
}

/** The default of --hang-seconds. */
export const HANG_SECONDS = 10;

/** Scenarios per round: fewer for a small --ops budget, so that it spreads over more seeds. */
function runsPerRound(ops: number | undefined): number {
  return ops !== undefined && ops < 2000 ? 5 : 25;
}

/**
 * The arguments of `managed-arena fuzz` that run the round of `seed` again
 * as this run did: the seed, and every option that changes what the round
 * generates or checks, or how it runs (--ops sets the scenarios per round).
 * --seconds is left out: the round runs first, so any budget reaches it.
 */
export function roundArgs(options: FuzzOptions, seed: number): string[] {
  const args = ["--seed", String(seed)];
  if (options.ops !== undefined) args.push("--ops", String(options.ops));
  if (options.profile !== "mixed") args.push("--profile", options.profile);
  if (options.fault !== undefined) args.push("--inject-fault", options.fault);
  for (const name of options.skip) args.push("--skip-check", name);
  for (const op of options.without) args.push("--without-effect", op);
  if (options.hangSeconds !== HANG_SECONDS) args.push("--hang-seconds", String(options.hangSeconds));
  if (options.inProcess) args.push("--in-process");
  if (options.threads) args.push("--threads", String(options.threads));
  return args;
}

export interface FuzzIO {
  /** One line of output. */
  out(line: string): void;
  /** One line of error output. */
  err(line: string): void;
  /** Draw a progress bar on `stream` (a terminal); otherwise plain lines, at most one a second. */
  isTTY: boolean;
  stream?: NodeJS.WritableStream;
  /** Where replay files are written. */
  cwd: string;
}

/** The fuzz command with the process's stdout/stderr. */
export function processIO(): FuzzIO {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    isTTY: process.stdout.isTTY === true,
    stream: process.stdout,
    cwd: process.cwd(),
  };
}

const FAULTS = ["liveBytes", "hang", "traceName", "utf8", "quarantine", "drain"];

/** The contents of a replay file. */
export interface ReplayFile extends ScenarioData {
  managedArenaFuzz: 1;
  seed: number;
  kind: "mismatch" | "hang";
  message: string;
  skip: string[];
}

function progressDisplay(options: FuzzOptions, io: FuzzIO) {
  const start = performance.now();
  let ops = 0;
  let seeds = 0;
  let lastLine = start;
  const elapsed = () => (performance.now() - start) / 1000;
  const rate = () => Math.round(ops / Math.max(elapsed(), 0.001));
  let bar: cliProgress.SingleBar | undefined;
  if (io.isTTY && io.stream !== undefined) {
    bar = new cliProgress.SingleBar(
      {
        format: "fuzz [{bar}] {percentage}% | {ops} ops | {rate} ops/s | {seeds} seeds | {time}s",
        hideCursor: true,
        stream: io.stream,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(options.ops ?? Math.round((options.seconds ?? 10) * 10), 0, { ops: 0, rate: 0, seeds: 0, time: "0.0" });
  }
  const draw = () => {
    const payload = { ops, rate: rate(), seeds, time: elapsed().toFixed(1) };
    if (bar !== undefined) bar.update(options.ops !== undefined ? ops : Math.round(elapsed() * 10), payload);
    else if (performance.now() - lastLine >= 1000) {
      lastLine = performance.now();
      io.out(`fuzz: ${ops} ops, ${seeds} seeds, ${payload.time} s, ${payload.rate} ops/s`);
    }
  };
  const timer = setInterval(draw, 250);
  return {
    update(o: number, s: number) {
      ops = o;
      seeds = s;
      draw();
    },
    stop() {
      clearInterval(timer);
      if (bar !== undefined) {
        draw();
        bar.stop();
      }
    },
  };
}

function reportFailure(result: JobResult, options: FuzzOptions, io: FuzzIO, thread?: number): number {
  const failure = result.failure;
  if (failure === undefined) return 0;
  const file = join(io.cwd, `fuzz-failure-${failure.seed}.json`);
  const replay: ReplayFile = {
    managedArenaFuzz: 1,
    seed: failure.seed,
    kind: failure.kind,
    message: failure.message,
    skip: options.skip,
    config: failure.scenario.config,
    commands: failure.scenario.commands,
  };
  writeFileSync(file, `${JSON.stringify(replay, null, 2)}\n`);
  io.out(`fuzz: FAILED (${failure.kind}) after ${result.ops} ops, ${result.seeds} seeds; seed ${failure.seed}`);
  if (thread !== undefined) {
    io.out(
      `  in thread ${thread} of ${options.threads} on one shared heap (shrunk and replayed in that thread alone, on a shared heap of its own)`,
    );
  }
  for (const line of failure.message.split("\n")) io.out(`  ${line}`);
  if (failure.flaky)
    io.out("  (the shrunk case did not fail again when replayed: the failure may depend on earlier runs)");
  io.out(`shrunk to ${failure.scenario.commands.length} commands, on ${JSON.stringify(failure.scenario.config)}:`);
  failure.scenario.commands.forEach((spec, i) => {
    io.out(`  ${String(i + 1).padStart(3)}. ${showSpec(spec)}`);
  });
  io.out(`the same round again: npx managed-arena fuzz ${roundArgs(options, failure.seed).join(" ")}`);
  io.out(`replay file: ${file}`);
  // The replay file holds the config (with any injected fault), the commands and the skipped checks.
  const hang = options.hangSeconds !== HANG_SECONDS ? ` --hang-seconds ${options.hangSeconds}` : "";
  io.out(`replay with: npx managed-arena fuzz --replay ${basename(file)}${hang}`);
  return 1;
}

/** Reads and checks a replay file; throws a readable Error when it is not one. */
export function readReplay(path: string): ReplayFile {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const fail = (why: string): never => {
    throw new Error(`${path} is not a fuzz replay file: ${why}`);
  };
  if (typeof data !== "object" || data === null) return fail("not a JSON object");
  const file = data as Partial<ReplayFile>;
  const config = file.config as Partial<ReplayFile["config"]> | undefined;
  if (typeof config !== "object" || config === null) return fail("no config");
  const int = (v: unknown, min: number, max: number) =>
    typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
  if (!int(config.maxPages, 2, 65536)) fail("config.maxPages must be an integer in 2..65536");
  if (!int(config.minAlign, 8, 4096) || !Number.isInteger(Math.log2(config.minAlign as number))) {
    fail("config.minAlign must be a power of two in 8..4096");
  }
  if (!int(config.maxBytes, 0, U32_MAX)) fail("config.maxBytes must be an integer in 0..2^32-1");
  if (typeof config.differential !== "boolean") fail("config.differential must be a boolean");
  if (config.poison !== undefined && typeof config.poison !== "boolean") fail("config.poison must be a boolean");
  if (config.trace !== undefined && typeof config.trace !== "boolean") fail("config.trace must be a boolean");
  if (config.quarantine !== undefined && !int(config.quarantine, 0, U32_MAX)) {
    fail("config.quarantine must be an integer in 0..2^32-1");
  }
  if (config.fault !== undefined && !FAULTS.includes(config.fault)) fail(`unknown config.fault ${config.fault}`);
  if (config.shared !== undefined && typeof config.shared !== "boolean") fail("config.shared must be a boolean");
  if (config.threads !== undefined && typeof config.threads !== "boolean") fail("config.threads must be a boolean");
  if (!Array.isArray(file.commands)) return fail("no commands array");
  file.commands.forEach((spec, i) => {
    const why = invalidSpec(spec);
    if (why !== undefined) fail(`command ${i + 1}: ${why}`);
  });
  const skip = Array.isArray(file.skip) ? file.skip.filter((s): s is string => typeof s === "string") : [];
  return {
    managedArenaFuzz: 1,
    seed: typeof file.seed === "number" ? file.seed : 0,
    kind: file.kind === "hang" ? "hang" : "mismatch",
    message: typeof file.message === "string" ? file.message : "",
    skip,
    config: config as ReplayFile["config"],
    commands: file.commands as Spec[],
  };
}

/** `managed-arena fuzz`: resolves to the exit code (0 passed, 1 failed, 2 bad input). */
export async function fuzz(options: FuzzOptions, io: FuzzIO): Promise<number> {
  const hangMs = options.hangSeconds * 1000;
  if (options.replay !== undefined) {
    const path = resolve(io.cwd, options.replay);
    let file: ReplayFile;
    try {
      file = readReplay(path);
    } catch (error) {
      io.err(`managed-arena fuzz: ${error instanceof Error ? error.message : String(error)}`);
      return 2;
    }
    const skip = [...new Set([...file.skip, ...options.skip])];
    const result = await supervise(
      { kind: "replay", scenario: { config: file.config, commands: file.commands }, skip },
      { target: options.target, hangMs, shrinkMs: 0 },
    );
    if (result.failure !== undefined) {
      io.out(`fuzz: replay of ${options.replay} FAILED (${result.failure.kind}):`);
      for (const line of result.failure.message.split("\n")) io.out(`  ${line}`);
      io.out(`fuzz: replay of ${options.replay}: ${file.commands.length} commands, 1 failure`);
      return 1;
    }
    io.out(`fuzz: replay of ${options.replay} passed: ${file.commands.length} commands, ${result.ops} ops, 0 failures`);
    return 0;
  }
  const job: FuzzJob = {
    kind: "fuzz",
    profile: options.profile,
    seconds: options.ops === undefined && options.seconds === undefined ? 10 : options.seconds,
    ops: options.ops,
    seed: options.seed,
    fault: options.fault,
    skip: options.skip,
    without: options.without,
    maxCommands: 50,
    runsPerRound: runsPerRound(options.ops),
  };
  const display = progressDisplay({ ...options, seconds: job.seconds }, io);
  if (options.threads) {
    const target = options.target;
    if (target === undefined) {
      display.stop();
      io.err("managed-arena fuzz: --threads needs worker threads (not --in-process)");
      return 2;
    }
    const { fuzzThreads } = await import("./threads.js");
    let threaded: Awaited<ReturnType<typeof fuzzThreads>>;
    try {
      threaded = await fuzzThreads(job, options.threads, {
        target,
        hangMs,
        shrinkMs: 120_000,
        onProgress: display.update,
      });
    } finally {
      display.stop();
    }
    const { heap, perThread } = threaded;
    const rates = perThread.map(
      (t, i) => `thread ${i + 1}: ${t.ops} ops in ${t.seconds.toFixed(1)} s (${Math.round(t.ops / t.seconds)} ops/s)`,
    );
    io.out(`fuzz: ${options.threads} threads on one shared heap of ${heap.maxPages} pages; ${rates.join("; ")}`);
    const enomem = perThread.reduce((sum, t) => sum + t.enomem, 0);
    const skipped = perThread.reduce((sum, t) => sum + t.skipped, 0);
    io.out(
      `fuzz: ${enomem} calls ended in ENOMEM, ${skipped} scenarios skipped (no pages for their arenas); heap.check() ran ${threaded.checks} times with every thread paused between two commands`,
    );
    if (threaded.failure !== undefined) return reportFailure(threaded, options, io, threaded.thread);
    io.out(
      `fuzz: at the end the heap has ${heap.pages} pages, ${heap.free} free, ${heap.inUse} in use (page 0, arena records)`,
    );
    if (threaded.problems.length > 0) {
      io.out(`fuzz: FAILED after ${threaded.ops} ops, ${threaded.seeds} seeds:`);
      for (const problem of threaded.problems) io.out(`  ${problem}`);
      return 1;
    }
    io.out(`fuzz: ${threaded.ops} ops, ${threaded.seeds} seeds, 0 failures`);
    return 0;
  }
  let result: JobResult;
  try {
    result = await supervise(job, { target: options.target, hangMs, shrinkMs: 120_000, onProgress: display.update });
  } finally {
    display.stop();
  }
  if (result.failure !== undefined) return reportFailure(result, options, io);
  io.out(`fuzz: ${result.ops} ops, ${result.seeds} seeds, 0 failures`);
  return 0;
}

export { FAULTS, OPTIONAL_CHECKS };
