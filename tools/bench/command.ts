// `managed-arena bench`: measures managed-arena against its peers in this
// process and prints a table of ratios, the memory and size figures, and the
// goals (ratios, a time, memory per allocation, wasm size) with met / missed.

import { readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import type { Command } from "../cli/main.js";
import { measure, type Task } from "./engine.js";
import { footprint } from "./footprint.js";
import { MAX_BUMP_BYTES, workloadPlan } from "./replay.js";
import { assemble, type Results, renderMarkdown, renderSvg, renderText, workloadGoals } from "./report.js";
import { LIST, plan, SCENARIO_IDS, type Scenario, THING } from "./scenarios.js";

const ID_WIDTH = Math.max(...SCENARIO_IDS.map(([id]) => id.length)) + 1;

const help = `usage: managed-arena bench [--quick] [--json | --markdown] [--svg FILE] [--rounds N] [--time MS] [--only TEXT]
       managed-arena bench --workload FILE [--workload FILE ...] [same options but --only]

Measures managed-arena against its peers, every peer in this process, the
tasks interleaved round by round (order rotated every round), medians of the
pooled samples reported:

  wasm peers (raw exports, same JS->wasm boundary): AssemblyScript's bump
  allocator (stub runtime) and TLSF (minimal runtime); JS peers: an array of
  closures run in reverse, the native DisposableStack (Node 24+, else n/a),
  and a doubly linked list whose free searches it from the newest record,
  O(n), as drmm_kfree does ("${LIST}"); a JS malloc over one ArrayBuffer,
  ${THING} (its free searches the live blocks: O(n)).

Then memory per 16-byte allocation and wasm size; the memory scenarios
(small arenas and tight memory), measured once after the timed ones, each
on a heap of its own; and the goals (time ratios against the peers, the
time of an empty arena, bytes per allocation and per arena, wasm size), met
or missed.

scenarios (--only TEXT runs those whose id contains TEXT):
${SCENARIO_IDS.map(([id, measures]) => `  ${id.padEnd(ID_WIDTH)} ${measures}`).join("\n")}

options:
  --quick       4 short rounds (about 18 s) instead of 9 (about 100 s)
  --json        print the results as JSON (nothing else on stdout)
  --markdown    print the tables as Markdown
  --svg FILE    also write a bar chart of the goals (SVG) to FILE
  --rounds N    rounds over all tasks (default 9, --quick 4)
  --time MS     time budget of each task in each round (default 150, --quick 25)
  --only TEXT   only the scenarios whose id contains TEXT (ids above; for profiling)
  --workload FILE
                replay a recorded workload (docs/workloads.md; record one with
                recordWorkload() from "managed-arena/workload") against
                managed-arena, TLSF, bump and ${THING} instead of the
                built-in scenarios; repeat for several files. Peers without
                arenas run a release as a free of each live block; a peer
                that cannot run the workload (an alignment above 16 B for
                TLSF and bump, more than ${MAX_BUMP_BYTES / 2 ** 20} MiB without reuse for bump) is
                skipped, and the output says why. A malformed file is an
                error naming its line (exit 2)`;

interface Options {
  quick: boolean;
  json: boolean;
  markdown: boolean;
  svg?: string;
  rounds: number;
  timeMs: number;
  only?: string;
  workloads: string[];
}

function parse(args: string[]): Options | string {
  const options: Options = { quick: false, json: false, markdown: false, rounds: 0, timeMs: 0, workloads: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = () => {
      const next = args[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    const positive = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${arg} needs a positive integer`);
      return n;
    };
    try {
      if (arg === "--quick") options.quick = true;
      else if (arg === "--json") options.json = true;
      else if (arg === "--markdown") options.markdown = true;
      else if (arg === "--svg") options.svg = value();
      else if (arg === "--rounds") options.rounds = positive();
      else if (arg === "--time") options.timeMs = positive();
      else if (arg === "--only") options.only = value();
      else if (arg === "--workload") options.workloads.push(value());
      else return `unknown option ${JSON.stringify(arg)}`;
    } catch (error) {
      return (error as Error).message;
    }
  }
  if (options.json && options.markdown) return "--json and --markdown exclude each other";
  if (options.workloads.length > 0 && options.only !== undefined) return "--only and --workload exclude each other";
  options.rounds ||= options.quick ? 4 : 9;
  options.timeMs ||= options.quick ? 25 : 150;
  return options;
}

async function run(args: string[]): Promise<number> {
  const options = parse(args);
  if (typeof options === "string") {
    console.error(`managed-arena bench: ${options}\n\n${help}`);
    return 2;
  }
  if (options.workloads.length > 0) return runWorkloads(options);
  const started = performance.now();
  const loadAtStart = loadavg()[0];
  const { scenarios, tasks, verify } = await plan({ quick: options.quick });
  const only = options.only;
  const chosen = only === undefined ? scenarios : scenarios.filter((s) => s.id.includes(only));
  if (chosen.length === 0) {
    console.error(`managed-arena bench: no scenario id contains ${JSON.stringify(only)}`);
    return 2;
  }
  const timed = tasks.filter((task) => chosen.some((s) => s.id === task.scenario));
  const measured = chosen.filter((s) => s.measured === true).map((s) => s.id);
  const timedScenarios = chosen.filter((s) => s.measured !== true);
  print(await measureAll(timedScenarios, timed, verify, measured, options, started, loadAtStart), options);
  return 0;
}

/**
 * What both runs share: times `tasks` (a progress line on a terminal),
 * checks what the replays computed, takes the memory figures of the
 * `measured` scenarios, and assembles the report.
 */
async function measureAll(
  scenarios: Scenario[],
  tasks: Task[],
  verify: () => void,
  measured: string[],
  options: Options,
  started: number,
  loadAtStart: number,
): Promise<Results> {
  const tty = process.stderr.isTTY === true;
  const timings = await measure(tasks, {
    rounds: options.rounds,
    timeMs: options.timeMs,
    warmupMs: options.quick ? 100 : 150,
    progress: (done, total) => {
      if (tty) process.stderr.write(`\rmeasuring: ${done}/${total} task runs`);
    },
  });
  if (tty) process.stderr.write("\r\x1b[K");
  verify();
  const figures = await footprint(measured);
  const settings = { quick: options.quick, rounds: options.rounds, timeMs: options.timeMs };
  return assemble(scenarios, timings, figures, settings, (performance.now() - started) / 1000, loadAtStart);
}

function print(results: Results, options: Options): void {
  if (options.svg !== undefined) writeFileSync(options.svg, renderSvg([results]));
  if (options.json) console.log(JSON.stringify(results, null, 2));
  else if (options.markdown) console.log(renderMarkdown(results));
  else console.log(renderText(results));
}

/** `bench --workload FILE ...`: each workload a scenario, the same tables and chart; its goals are parity with each peer. */
async function runWorkloads(options: Options): Promise<number> {
  const started = performance.now();
  const loadAtStart = loadavg()[0];
  const files: { text: string; source: string }[] = [];
  for (const path of options.workloads) {
    try {
      files.push({ text: readFileSync(path, "utf8"), source: path });
    } catch (error) {
      console.error(`managed-arena bench: cannot read workload ${path}: ${(error as Error).message}`);
      return 2;
    }
  }
  let workloads: Awaited<ReturnType<typeof workloadPlan>>;
  try {
    workloads = await workloadPlan(files);
  } catch (error) {
    const e = error as Error;
    const what = e.name === "WorkloadError" ? "bad workload" : "workload replay failed";
    console.error(`managed-arena bench: ${what}: ${e.message}`);
    return e.name === "WorkloadError" ? 2 : 1;
  }
  const results = await measureAll(
    workloads.scenarios,
    workloads.tasks,
    workloads.verify,
    [],
    options,
    started,
    loadAtStart,
  );
  results.goals = workloadGoals(results.scenarios);
  results.notes = workloads.notes;
  print(results, options);
  return 0;
}

/** The `bench` subcommand. */
export const command: Command = {
  summary: "measure managed-arena against TLSF, bump, @thi.ng/malloc, closures, DisposableStack; replay workloads",
  help,
  run,
};
