// `managed-arena fuzz`: model-based fuzzing of the allocator from the command
// line. Parses the options and hands over to runner.ts. The bundled bin runs
// the fuzz loop in a worker thread started from itself (so that a hang in the
// core is caught); this module is also what that worker runs.

import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Command } from "../cli/main.js";
import { PROFILES, type Profile } from "./arbitraries.js";
import { isFuzzWorker, workerMain } from "./jobs.js";
import {
  FAULTS,
  type FuzzIO,
  type FuzzOptions,
  fuzz,
  HANG_SECONDS,
  OPTIONAL_CHECKS,
  processIO,
  type WorkerTarget,
} from "./runner.js";
import { EFFECT_OPS, type EffectOp } from "./spec.js";

const help = `usage: managed-arena fuzz [options]

Model-based fuzzing of managed-arena: random command sequences (allocations,
frees, reallocs, actions, groups, destructors, children, resets, bad
arguments, re-entrant callbacks) run against the real allocator and a small
reference model, on tiny heaps so that out-of-memory paths are reached, with
the core's invariant checker after every command and the release and debug
cores compared. Failures are shrunk to a minimal command list.

options:
  --seconds N        fuzz for N seconds (default: 10, when --ops is not given)
  --ops N            stop after about N commands
  --seed S           seed of the first round (an integer); later rounds derive theirs
  --replay FILE      re-run the case in a replay file written by a failed run; exit 0 if it passes
  --profile P        ${["mixed", ...PROFILES].join(" | ")} (default: mixed)
  --skip-check NAME  switch off an optional check (${OPTIONAL_CHECKS.join(", ")}), to look past a known defect
  --without-effect E callbacks never call E (free, realloc, releaseGroup, reset, stats, ...), to look past a known defect
  --hang-seconds N   a command that runs longer than this hangs (default: 10)
  --in-process       do not use a worker thread (no hang detection)
  --threads N        N worker threads (1..16) fuzz one shared debug heap at the same time, each with
                     its own arenas and model; at the end heap.check() and every page back (default: off)
  --inject-fault F   break the model on purpose (${FAULTS.join(", ")}), to see the failure path
  -h, --help         this text

On success the last line is "fuzz: <ops> ops, <seeds> seeds, 0 failures" (exit 0).
On failure: the seed, the shrunk command list, a replay file
fuzz-failure-<seed>.json in the current directory and the command that replays
it (exit 1). Bad options exit 2.`;

type Parsed = { options: FuzzOptions; inProcess: boolean } | { error: string };

/** Parses the command's arguments. */
export function parseArgs(args: readonly string[]): Parsed {
  const options: FuzzOptions = { profile: "mixed", skip: [], without: [], hangSeconds: HANG_SECONDS };
  let inProcess = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = (): string | undefined => args[++i];
    const number = (name: string, integer: boolean, min: number): number | string => {
      const text = value();
      const n = text === undefined ? Number.NaN : Number(text);
      if (
        text === undefined ||
        text.trim() === "" ||
        !Number.isFinite(n) ||
        (integer && !Number.isInteger(n)) ||
        n < min
      ) {
        return `${name} needs ${integer ? "an integer" : "a number"} >= ${min}, got ${text === undefined ? "nothing" : JSON.stringify(text)}`;
      }
      return n;
    };
    switch (arg) {
      case "--seconds":
      case "--ops":
      case "--hang-seconds": {
        const n = number(arg, arg === "--ops", arg === "--seconds" ? 0 : arg === "--ops" ? 1 : 0.1);
        if (typeof n === "string") return { error: n };
        if (arg === "--seconds") options.seconds = n;
        else if (arg === "--ops") options.ops = n;
        else options.hangSeconds = n;
        break;
      }
      case "--seed": {
        const n = number(arg, true, 0);
        if (typeof n === "string" || n > 2147483646) return { error: "--seed needs an integer in 0..2147483646" };
        options.seed = n;
        break;
      }
      case "--replay": {
        const file = value();
        if (file === undefined) return { error: "--replay needs a file" };
        options.replay = file;
        break;
      }
      case "--profile": {
        const p = value();
        if (p !== "mixed" && !PROFILES.includes(p as Profile)) {
          return { error: `--profile needs one of mixed, ${PROFILES.join(", ")}` };
        }
        options.profile = p as Profile | "mixed";
        break;
      }
      case "--skip-check": {
        const name = value();
        if (!OPTIONAL_CHECKS.includes(name as (typeof OPTIONAL_CHECKS)[number])) {
          return { error: `--skip-check needs one of ${OPTIONAL_CHECKS.join(", ")}` };
        }
        options.skip.push(name as string);
        break;
      }
      case "--without-effect": {
        const op = value();
        if (!EFFECT_OPS.includes(op as EffectOp))
          return { error: `--without-effect needs one of ${EFFECT_OPS.join(", ")}` };
        options.without.push(op as string);
        break;
      }
      case "--inject-fault": {
        const name = value();
        if (!FAULTS.includes(name as string)) return { error: `--inject-fault needs one of ${FAULTS.join(", ")}` };
        options.fault = name;
        break;
      }
      case "--in-process":
        inProcess = true;
        break;
      case "--threads": {
        const n = number(arg, true, 1);
        if (typeof n === "string" || n > 16) return { error: "--threads needs an integer in 1..16" };
        options.threads = n;
        break;
      }
      case "--worker":
        break;
      default:
        return { error: `unknown option ${JSON.stringify(arg)}` };
    }
  }
  if (options.replay !== undefined && (options.seconds !== undefined || options.ops !== undefined)) {
    return { error: "--replay runs one case: it takes no --seconds or --ops" };
  }
  if (options.threads !== undefined && options.replay !== undefined) {
    return { error: "--replay runs one case in one thread: it takes no --threads" };
  }
  if (options.threads !== undefined && inProcess) {
    return { error: "--threads runs worker threads: it cannot be --in-process" };
  }
  return { options, inProcess };
}

/** The bundled bin this module runs in, as a worker script; undefined from TypeScript sources (tests). */
function selfTarget(): WorkerTarget | undefined {
  const here = fileURLToPath(import.meta.url);
  const entry = process.argv[1];
  if (!here.endsWith(".js") || entry === undefined) return undefined;
  let real: string;
  try {
    real = realpathSync(entry);
  } catch {
    return undefined;
  }
  return real === realpathSync(here) ? { script: here, argv: ["fuzz", "--worker"] } : undefined;
}

/** Runs the command with explicit I/O and worker target (tests); `run` uses the process's. */
export async function runFuzz(args: readonly string[], io: FuzzIO, target?: WorkerTarget): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    io.out(help);
    return 0;
  }
  const parsed = parseArgs(args);
  if ("error" in parsed) {
    io.err(`managed-arena fuzz: ${parsed.error}\n\n${help}`);
    return 2;
  }
  return fuzz({ ...parsed.options, inProcess: parsed.inProcess, target: parsed.inProcess ? undefined : target }, io);
}

export const command: Command = {
  summary: "model-based fuzzing of the allocator (--seconds, --ops, --seed, --replay, --threads)",
  help,
  async run(args: string[]): Promise<number> {
    if (isFuzzWorker()) {
      await workerMain();
      return 0;
    }
    return runFuzz(args, processIO(), selfTarget());
  },
};
