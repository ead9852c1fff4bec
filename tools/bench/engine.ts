// The measuring engine: every task of every peer runs in the same process,
// interleaved round by round (the order rotated, and reversed every other
// round, so drift — thermal, GC, other load — hits every peer alike), each
// round one tinybench run per task; the samples of all rounds are pooled and
// their median reported, with the median of each round kept to show spread.
//
// V8 shares inline-cache feedback between closures made from one function
// literal: a task body written once and instantiated per peer would see every
// peer's call targets and go polymorphic. So task bodies are separate named
// functions per peer (scenarios.ts); the engine only calls `task.fn`.

import { Bench } from "tinybench";
import { quantile } from "./stats.js";

type Hook = () => void | Promise<void>;

/** One thing to time: a peer in a scenario. */
export interface Task {
  /** Scenario id, as in {@link Timing.scenario}. */
  scenario: string;
  /** Peer name. */
  peer: string;
  /** Operations per call of `fn`: samples are divided by it. */
  ops: number;
  /** The timed body: one call is one sample. */
  fn: () => unknown;
  /** `fn` returns a promise (awaited inside the timed window). */
  async?: boolean;
  /**
   * Calls per round. Default: at least 16, and as many more as fit in the
   * round's time budget. Given: exactly that many (for slow tasks whose
   * untimed setup dwarfs the timed part, a time budget would mean thousands
   * of setups).
   */
  iterations?: number;
  /** Untimed, around every phase (warmup, run) of every round, or around every call. */
  beforeAll?: Hook;
  afterAll?: Hook;
  beforeEach?: Hook;
  afterEach?: Hook;
}

/** The result of one task: nanoseconds per operation. */
export interface Timing {
  scenario: string;
  peer: string;
  /** Median of the pooled samples. */
  ns: number;
  /** First and third quartiles of the pooled samples. */
  p25: number;
  p75: number;
  /** Samples pooled over all rounds. */
  samples: number;
  /** Median of each round, in the order of the rounds. */
  rounds: number[];
}

export interface EngineOptions {
  /** Rounds over all tasks. */
  rounds: number;
  /** Time budget of a task in one round, ms. */
  timeMs: number;
  /** Warmup budget of a task in the first round, ms (later rounds warm up for a quarter of it). */
  warmupMs: number;
  /** Called after every task run. */
  progress?: (done: number, total: number) => void;
}

/** The order of round `round`: rotated by an even share of the tasks, reversed every other round. */
export function roundOrder<T>(tasks: readonly T[], round: number, rounds: number): T[] {
  const shift = Math.floor((round * tasks.length) / rounds) % Math.max(1, tasks.length);
  const order = tasks.slice(shift).concat(tasks.slice(0, shift));
  return round % 2 === 1 ? order.reverse() : order;
}

/** Times every task, interleaved; returns one Timing per task, in the order given. */
export async function measure(tasks: readonly Task[], options: EngineOptions): Promise<Timing[]> {
  const pooled = new Map<Task, number[]>();
  const perRound = new Map<Task, number[]>();
  for (const task of tasks) {
    pooled.set(task, []);
    perRound.set(task, []);
  }
  let done = 0;
  for (let round = 0; round < options.rounds; round++) {
    for (const task of roundOrder(tasks, round, options.rounds)) {
      const samples = await runOnce(task, round, options);
      const ns = samples.map((ms) => (ms * 1e6) / task.ops);
      const all = pooled.get(task) as number[];
      for (const sample of ns) all.push(sample);
      (perRound.get(task) as number[]).push(quantile(Float64Array.from(ns).sort(), 0.5));
      options.progress?.(++done, tasks.length * options.rounds);
    }
  }
  return tasks.map((task) => {
    const sorted = Float64Array.from(pooled.get(task) as number[]).sort();
    return {
      scenario: task.scenario,
      peer: task.peer,
      ns: quantile(sorted, 0.5),
      p25: quantile(sorted, 0.25),
      p75: quantile(sorted, 0.75),
      samples: sorted.length,
      rounds: perRound.get(task) as number[],
    };
  });
}

/** One tinybench run of one task; its samples in ms. */
async function runOnce(task: Task, round: number, options: EngineOptions): Promise<number[]> {
  const slow = task.iterations !== undefined;
  const bench = new Bench({
    time: slow ? 0 : options.timeMs,
    iterations: task.iterations ?? 16,
    // Tasks with a fixed count warm up once (one call), in the first round.
    warmup: !slow || round === 0,
    warmupTime: slow ? 0 : round === 0 ? options.warmupMs : options.warmupMs / 4,
    warmupIterations: slow ? 1 : 8,
    retainSamples: true,
    throws: true,
    timestampProvider: "hrtimeNow",
  });
  const name = `${task.scenario} / ${task.peer}`;
  bench.add(name, task.fn, {
    async: task.async === true,
    beforeAll: task.beforeAll,
    afterAll: task.afterAll,
    beforeEach: task.beforeEach,
    afterEach: task.afterEach,
  });
  if (task.async) await bench.run();
  else bench.runSync();
  const result = bench.getTask(name)?.result;
  if (result === undefined || result.state !== "completed") {
    const error = result !== undefined && "error" in result ? result.error : undefined;
    throw error ?? new Error(`${name}: ${result?.state ?? "not run"}`);
  }
  return Array.from(result.latency.samples ?? []);
}
