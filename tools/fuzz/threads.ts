// `managed-arena fuzz --threads N`: the model-based fuzzer on one shared heap.
//
// This thread creates a shared debug heap (`Heap.create({ shared: true,
// debug: true })`) and starts N fuzz workers (the same jobs as the
// single-threaded fuzzer, each under the supervisor's hang detection); each
// attaches to the heap (`Heap.attach(heap.share())`) and runs rounds of
// command sequences on arenas of its own, checking its model after every
// command, while the others do the same on theirs. What a thread cannot
// check while the others run: heap.check() (it needs the heap to itself) and
// that a released heap is one free run. Those are checked here once every
// worker is done: heap.check() is 0 and every page but page 0 and the pages
// of arena records (never given back) is free.
//
// What the model has to know about a shared heap: its memory grows when any
// thread's arena needs pages, and an allocation may meet ENOMEM because the
// other threads hold the pages. The model already lets the heap refuse a
// request only when memory cannot grow by enough (it reads the memory's size
// after the call: that only grows, so a refusal that happened is allowed); on
// a shared heap that becomes "may fail whenever memory is near maxPages",
// and a failed call must still change nothing. A scenario whose two arenas
// cannot even be created (ENOMEM) is skipped.

import { freeRuns, Heap } from "managed-arena/debug";
import type { FuzzJob, JobResult } from "./jobs.js";
import { nextSeed } from "./jobs.js";
import { PAGE } from "./model.js";
import { supervise, type WorkerTarget } from "./runner.js";
import { POINTER_SLOTS } from "./system.js";

/** Pages of the shared heap per thread (plus a few for page 0 and arena records). */
export const PAGES_PER_THREAD = 24;

/** The shared heap's maxPages for `threads` threads. */
export function sharedPages(threads: number): number {
  return 8 + PAGES_PER_THREAD * threads;
}

/** The first seed of thread `thread` (1, 2, ...): thread 1 starts from the run's seed. */
export function threadSeed(seed: number, thread: number): number {
  let s = seed;
  for (let i = 1; i < thread; i++) s = nextSeed(s ^ 0x5bd1e995);
  return s;
}

/** How often the heap is checked while the threads run, and how long they get to pause for it. */
const CHECK_EVERY_MS = 200;
const PAUSE_WAIT_MS = 300;

export interface ThreadsResult extends JobResult {
  /** heap.check() runs made while every thread was paused between two commands. */
  checks: number;
  /** The thread (1-based) whose failure this is. */
  thread?: number;
  /** Per thread: ops, seeds and seconds it ran. */
  perThread: { ops: number; seeds: number; seconds: number; enomem: number; skipped: number }[];
  /** The shared heap's maxPages, and its pages at the end: all, free, in use. */
  heap: { maxPages: number; pages: number; free: number; inUse: number };
  /** Problems of the checks at the end (heap.check(), pages not given back). */
  problems: string[];
}

/** Pages a run may leave in use at the end: page 0 and the META pages of arena records (never given back). */
function allowedInUse(threads: number): number {
  // Each attached thread takes two records (288 bytes on a shared heap) for its scratch; a thread's
  // scenario has at most its arena, the other arena and one child per command (50) live at once.
  const records = (threads + 1) * 2 + threads * 60;
  return 1 + Math.ceil((records * 288) / (PAGE - 16));
}

export async function fuzzThreads(
  job: FuzzJob,
  threads: number,
  options: {
    target: WorkerTarget;
    hangMs: number;
    shrinkMs: number;
    onProgress?(ops: number, seeds: number): void;
  },
): Promise<ThreadsResult> {
  const maxPages = sharedPages(threads);
  const heap = await Heap.create({ shared: true, debug: true, maxPages, onLeak: () => {} });
  const descriptor = heap.share();
  const control = new SharedArrayBuffer(12);
  const flags = new Int32Array(control);
  const pointers = new SharedArrayBuffer(4 * POINTER_SLOTS * threads);
  const abort = new AbortController();
  let active = threads;
  let checks = 0;
  const problems: string[] = [];
  const seed = job.seed ?? Math.floor(Math.random() * 2147483647);
  const progress = Array.from({ length: threads }, () => ({ ops: 0, seeds: 0 }));
  const report = () =>
    options.onProgress?.(
      progress.reduce((sum, p) => sum + p.ops, 0),
      progress.reduce((sum, p) => sum + p.seeds, 0),
    );
  let first: { thread: number; result: JobResult } | undefined;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  /**
   * While the threads run: every CHECK_EVERY_MS, asks them all to pause before their next command,
   * and when every running thread has (within PAUSE_WAIT_MS; one between scenarios does not), runs
   * heap.check() on the quiet heap, then lets them go on. A failed check stops the run.
   */
  const checkWhilePaused = async () => {
    while (active > 0 && first === undefined && problems.length === 0) {
      await sleep(CHECK_EVERY_MS);
      if (active === 0) break;
      Atomics.store(flags, 2, 0);
      Atomics.store(flags, 1, 1);
      const until = performance.now() + PAUSE_WAIT_MS;
      while (Atomics.load(flags, 2) < active && performance.now() < until && active > 0) await sleep(1);
      if (active > 0 && Atomics.load(flags, 2) >= active) {
        checks++;
        const code = heap.check();
        if (code !== 0) {
          problems.push(
            `heap.check() returned ${code} while every thread was paused between two commands (check ${checks})`,
          );
          Atomics.store(flags, 0, 1);
          setTimeout(() => abort.abort(), Math.max(2000, options.hangMs)).unref();
        }
      }
      Atomics.store(flags, 1, 0);
      Atomics.notify(flags, 1);
    }
  };
  const runs = progress.map(async (p, i) => {
    const thread = i + 1;
    const start = performance.now();
    const result = await supervise(
      {
        ...job,
        seed: threadSeed(seed, thread),
        ops: job.ops === undefined ? undefined : Math.ceil(job.ops / threads),
        shared: { descriptor, thread, control, pointers },
      },
      {
        target: options.target,
        hangMs: options.hangMs,
        shrinkMs: options.shrinkMs,
        signal: abort.signal,
        onProgress(ops, seeds) {
          p.ops = ops;
          p.seeds = seeds;
          report();
        },
      },
    );
    active--;
    p.ops = Math.max(p.ops, result.ops);
    p.seeds = Math.max(p.seeds, result.seeds);
    report();
    if (result.failure !== undefined && first === undefined) {
      first = { thread, result };
      // The others stop between scenarios; a hang may hold the heap lock: then they are ended.
      Atomics.store(flags, 0, 1);
      if (result.failure.kind === "hang") abort.abort();
      else setTimeout(() => abort.abort(), Math.max(2000, options.hangMs)).unref();
    }
    return {
      ops: p.ops,
      seeds: p.seeds,
      seconds: (performance.now() - start) / 1000,
      enomem: result.enomem ?? 0,
      skipped: result.skipped ?? 0,
    };
  });
  const checking = checkWhilePaused();
  const perThread = await Promise.all(runs);
  await checking;
  const ops = perThread.reduce((sum, t) => sum + t.ops, 0);
  const seeds = perThread.reduce((sum, t) => sum + t.seeds, 0);
  const pages = heap.memory.buffer.byteLength / PAGE;
  const free = freeRuns(heap).reduce((sum, run) => sum + run.pages, 0);
  const state = { maxPages, pages, free, inUse: pages - free };
  if (first !== undefined) {
    return { ...first.result, ops, seeds, thread: first.thread, perThread, heap: state, problems, checks };
  }
  if (problems.length > 0) return { ops, seeds, perThread, heap: state, problems, checks };
  // Every worker is done and every arena released: the heap is this thread's alone now.
  const code = heap.check();
  if (code !== 0) problems.push(`heap.check() returned ${code} after every thread released its arenas`);
  const allowed = allowedInUse(threads);
  if (state.inUse > allowed) {
    problems.push(
      `after every thread released its arenas, ${state.inUse} of ${pages} pages are still in use (at most ${allowed}: page 0 and arena records)`,
    );
  }
  // And the free pages can be handed out again: the largest run, in one allocation.
  const largest = freeRuns(heap).reduce((max, run) => Math.max(max, run.pages), 0);
  if (largest > 0) {
    const arena = heap.createArena({ name: "reclaim" });
    try {
      arena.alloc(largest * PAGE - 64);
    } catch (error) {
      problems.push(`a new arena's alloc of the largest free run (${largest} pages) threw ${String(error)}`);
    }
    arena.release();
    if (heap.check() !== 0) problems.push(`heap.check() returned ${heap.check()} after the reclaim allocation`);
  }
  return { ops, seeds, perThread, heap: state, problems, checks };
}
