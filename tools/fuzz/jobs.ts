// Jobs: what the fuzzer runs, in-process or inside a worker thread (so that a
// hang in the core, an infinite loop in wasm that no JS timer can interrupt,
// is caught by the supervisor in runner.ts, which terminates the worker).
//
//   fuzz    rounds of fc.check with fresh seeds until a time or ops budget is used
//   check   one fc.check of one profile (the vitest property suites)
//   replay  one scenario: a config and a command list, as in a replay file
//
// A job reports through a Reporter: progress, the scenario about to run (the
// supervisor keeps the last one, to replay a hang), and the result.

import { isMainThread, parentPort, workerData } from "node:worker_threads";
import fc from "fast-check";
import type { Heap, SharedHeapDescriptor } from "managed-arena";
import { type Profile, scenarioArbitrary } from "./arbitraries.js";
import { counters, type FuzzConfig, hooks, runScenario, runSpecs, specsOf } from "./commands.js";
import type { Spec } from "./spec.js";
import { attachShared, crossThread } from "./system.js";

/** A config and a command list: what a replay file holds. */
export interface ScenarioData {
  config: FuzzConfig;
  commands: Spec[];
}

export interface FuzzJob {
  kind: "fuzz";
  profile: Profile | "mixed";
  seconds?: number;
  ops?: number;
  /** First seed; later rounds derive theirs from it. Absent: random seeds. */
  seed?: number;
  fault?: string;
  skip: string[];
  /** Effect ops left out of callbacks. */
  without: string[];
  maxCommands: number;
  /** Scenarios per round (per seed). */
  runsPerRound: number;
  /** `--threads`: this job is one of several threads fuzzing one shared heap at the same time. */
  shared?: SharedJob;
}

/** What a thread of `--threads` gets: the heap to attach to, its number, and the flag that stops every thread. */
export interface SharedJob {
  descriptor: SharedHeapDescriptor;
  /** 1, 2, ...: the thread's number in reports. */
  thread: number;
  /**
   * Int32 [0]: 1 when the run must end (another thread failed), checked between scenarios; [1]: 1
   * while the thread that created the heap wants every thread paused between two commands (to run
   * heap.check()); [2]: threads paused so far (see threads.ts).
   */
  control: SharedArrayBuffer;
  /** Int32 [POINTER_SLOTS per thread]: pointers each thread's arenas handed out (system.ts crossThread). */
  pointers: SharedArrayBuffer;
}

export interface CheckJob {
  kind: "check";
  profile: Profile | "mixed";
  seed?: number;
  numRuns: number;
  maxCommands: number;
  differential: boolean | "sometimes";
  skip: string[];
  fault?: string;
}

export interface ReplayJob {
  kind: "replay";
  scenario: ScenarioData;
  skip: string[];
}

export type Job = FuzzJob | CheckJob | ReplayJob;

export interface Failure {
  kind: "mismatch" | "hang";
  /** The seed of the round (fc.check) that failed. */
  seed: number;
  message: string;
  /** The shrunk scenario. */
  scenario: ScenarioData;
  /** Set when the shrunk scenario did not fail again on replay. */
  flaky?: boolean;
}

export interface JobResult {
  ops: number;
  seeds: number;
  /** Calls that ended in ENOMEM (fuzz jobs), and scenarios skipped because their arenas could not be made. */
  enomem?: number;
  skipped?: number;
  failure?: Failure;
}

export interface Reporter {
  progress(ops: number, seeds: number): void;
  /** Called before each scenario runs (in a worker: posted, so that a hang can be replayed). */
  scenario?(data: ScenarioData, seed: number): void;
}

/** mulberry32 step: the seed of the round after `seed`. */
export function nextSeed(seed: number): number {
  let t = (seed + 0x6d2b79f5) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) % 2147483647;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A thread's part of `--threads`: the shared heap as this thread attached it, and whether to stop. */
interface Concurrent {
  heap: Heap;
  stopped(): boolean;
}

/** Replays a shrunk counterexample once more, for the exact message (and to know it is not flaky). */
async function confirm(seed: number, data: ScenarioData, skip: string[], original: unknown): Promise<Failure> {
  try {
    await runSpecs(data.config, data.commands, { skip });
  } catch (error) {
    return { kind: "mismatch", seed, message: messageOf(error), scenario: data };
  }
  return { kind: "mismatch", seed, message: messageOf(original), scenario: data, flaky: true };
}

/** One fc.check round; the failure (shrunk and confirmed) or undefined. */
async function round(
  arbitrary: ReturnType<typeof scenarioArbitrary>,
  seed: number,
  numRuns: number,
  skip: string[],
  reporter: Reporter,
  progress: () => void,
  timeLimit?: number,
  concurrent?: Concurrent,
): Promise<Failure | undefined> {
  let failed = false;
  const property = fc.asyncProperty(arbitrary, async ({ config, commands }) => {
    if (concurrent?.stopped() && !failed) return;
    if (reporter.scenario !== undefined) reporter.scenario({ config, commands: specsOf(commands) }, seed);
    // On the heap the other threads use until a scenario fails; then shrinking runs each candidate
    // in this thread alone, on a fresh shared heap (config.shared), as a replay does.
    const heap = failed ? undefined : concurrent?.heap;
    try {
      await runScenario(config, commands, { skip, heap });
    } catch (error) {
      if (concurrent !== undefined) failed = true;
      throw error;
    }
    progress();
  });
  const details = await fc.check(property, {
    seed,
    numRuns,
    ...(timeLimit === undefined
      ? {}
      : { interruptAfterTimeLimit: Math.max(1, timeLimit), markInterruptAsFailure: false }),
  });
  if (!details.failed || details.counterexample === null) return undefined;
  const [{ config, commands }] = details.counterexample;
  return confirm(seed, { config, commands: specsOf(commands) }, skip, details.errorInstance);
}

/**
 * Runs a job to its end. A timer is kept alive meanwhile: on Node 20, when the
 * event loop runs out of handles while a WebAssembly instantiation is pending
 * (Heap.create), the main thread was seen to block for good in
 * NodePlatform::DrainTasks (about one run in five of 200 scenarios).
 */
export async function runJob(job: Job, reporter: Reporter): Promise<JobResult> {
  const keepAlive = setInterval(() => {}, 1000);
  try {
    return await runJobInner(job, reporter);
  } finally {
    clearInterval(keepAlive);
    hooks.pause = undefined;
    crossThread.slots = undefined;
  }
}

async function runJobInner(job: Job, reporter: Reporter): Promise<JobResult> {
  const ops0 = counters.ops;
  const enomem0 = counters.enomem;
  const skipped0 = counters.skipped;
  const tally = () => ({ enomem: counters.enomem - enomem0, skipped: counters.skipped - skipped0 });
  const ops = () => counters.ops - ops0;
  if (job.kind === "replay") {
    reporter.scenario?.(job.scenario, 0);
    try {
      await runSpecs(job.scenario.config, job.scenario.commands, { skip: job.skip });
    } catch (error) {
      return {
        ops: ops(),
        seeds: 0,
        failure: { kind: "mismatch", seed: 0, message: messageOf(error), scenario: job.scenario },
      };
    }
    return { ops: ops(), seeds: 0 };
  }
  if (job.kind === "check") {
    const arbitrary = scenarioArbitrary(job.profile, {
      maxCommands: job.maxCommands,
      differential: job.differential,
      fault: job.fault,
    });
    const seed = job.seed ?? Math.floor(Math.random() * 2147483647);
    const failure = await round(arbitrary, seed, job.numRuns, job.skip, reporter, () => reporter.progress(ops(), 1));
    return { ops: ops(), seeds: 1, failure };
  }
  let concurrent: Concurrent | undefined;
  if (job.shared !== undefined) {
    const control = new Int32Array(job.shared.control);
    concurrent = { heap: await attachShared(job.shared.descriptor), stopped: () => Atomics.load(control, 0) !== 0 };
    crossThread.slots = new Int32Array(job.shared.pointers);
    crossThread.thread = job.shared.thread;
    hooks.pause = () => {
      if (Atomics.load(control, 1) !== 1) return;
      Atomics.add(control, 2, 1);
      while (Atomics.load(control, 1) === 1) Atomics.wait(control, 1, 1, 100);
    };
  }
  const arbitrary = scenarioArbitrary(job.profile, {
    maxCommands: job.maxCommands,
    // --threads: one shared debug heap (the release core is not on it), its maxPages for the model.
    differential: concurrent === undefined ? "sometimes" : false,
    // In one thread, a sixth of the scenarios on a shared heap of their own, where heap.free works.
    shared: concurrent === undefined ? "sometimes" : undefined,
    fault: job.fault,
    without: job.without,
    override:
      job.shared === undefined
        ? undefined
        : { maxPages: job.shared.descriptor.maxPages, threads: true, shared: true, differential: false },
  });
  const start = performance.now();
  const deadline = job.seconds === undefined ? undefined : start + job.seconds * 1000;
  let seed = job.seed ?? Math.floor(Math.random() * 2147483647);
  let seeds = 0;
  for (;;) {
    if (job.ops !== undefined && ops() >= job.ops) break;
    const remaining = deadline === undefined ? undefined : deadline - performance.now();
    if (remaining !== undefined && remaining <= 0) break;
    if (concurrent?.stopped()) break;
    if (seeds > 0) seed = nextSeed(seed);
    seeds++;
    const tried = seeds;
    const progress = () => reporter.progress(ops(), tried);
    progress();
    const failure = await round(arbitrary, seed, job.runsPerRound, job.skip, reporter, progress, remaining, concurrent);
    if (failure !== undefined) return { ops: ops(), seeds, failure, ...tally() };
  }
  return { ops: ops(), seeds, ...tally() };
}

/** What a worker posts to its supervisor. */
export type WorkerMessage =
  | { type: "progress"; ops: number; seeds: number }
  | { type: "scenario"; data: ScenarioData; seed: number }
  | { type: "done"; result: JobResult }
  | { type: "error"; message: string };

/** The workerData that makes a thread a fuzz worker. */
export interface WorkerData {
  managedArenaFuzz: Job;
}

/** True in a thread started by the supervisor to run a job. */
export function isFuzzWorker(): boolean {
  return !isMainThread && typeof workerData === "object" && workerData !== null && "managedArenaFuzz" in workerData;
}

/** The body of a fuzz worker: runs its job, posting progress (at most every 50 ms) and scenarios. */
export async function workerMain(): Promise<void> {
  const port = parentPort;
  if (port === null || !isFuzzWorker()) throw new Error("workerMain() outside a fuzz worker");
  const job = (workerData as WorkerData).managedArenaFuzz;
  let last = 0;
  const post = (message: WorkerMessage) => port.postMessage(message);
  try {
    const result = await runJob(job, {
      progress(ops, seeds) {
        const now = performance.now();
        if (now - last < 50) return;
        last = now;
        post({ type: "progress", ops, seeds });
      },
      scenario(data, seed) {
        post({ type: "scenario", data, seed });
      },
    });
    post({ type: "done", result });
  } catch (error) {
    post({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
}
