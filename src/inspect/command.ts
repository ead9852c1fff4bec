// `managed-arena inspect`: sets up arenas on a fresh heap (the built-in
// scenario, or a user's script), prints each arena's report() and draws the
// heap's linear memory with renderMemoryMap().

import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Arena } from "../arena.js";
import type { Command } from "../cli/main.js";
import { type ChildLink, Kind } from "../handles.js";
import { Heap } from "../heap.js";
import { renderMemoryMap } from "../memory-map.js";
import { builtInScenario } from "./scenario.js";

const help = `usage: managed-arena inspect [--svg FILE] [--script FILE] [--arena NAME] [--bytes-per-row N]

Sets up arenas on a fresh heap, prints each arena's report() (a tree of its
allocations, actions, groups and children, newest first) and, with --svg,
draws the heap's linear memory as an SVG: chunks, node headers, payloads,
padding, free blocks, one colour per arena, a legend.

Without --script it runs a built-in scenario: a device arena "gpu0" with a
probe group, a destructor and a child "gpu0/vram" (256-byte alignment); a
"net" arena whose packet buffers were partly freed (free blocks) and a large
ring; a "scratch" arena with 64-byte alignment; and an arena released before
the picture was taken (its pages are free again).

options:
  --svg FILE          write the memory map to FILE ("-": to stdout, the reports then go to stderr)
  --script FILE       an ES module whose default export, async (heap) => {...}, sets up
                      arenas on the heap it is given (heap.createArena(...)) instead of the
                      built-in scenario; it may return arenas to report on
  --arena NAME        highlight the arena named NAME (and its children) in the picture
  --bytes-per-row N   bytes of memory per row of the picture, a power of two in 256..65536
                      (default 4096: 16 rows per 64 KiB page)`;

interface Options {
  svg?: string;
  script?: string;
  arena?: string;
  bytesPerRow?: number;
}

function parse(args: string[]): Options | string {
  const options: Options = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const next = args[i + 1];
    const needsValue = ["--svg", "--script", "--arena", "--bytes-per-row"];
    if (!needsValue.includes(arg)) return `unknown option ${JSON.stringify(arg)}`;
    if (next === undefined || (next.startsWith("--") && next !== "-")) return `${arg} needs a value`;
    i++;
    if (arg === "--svg") options.svg = next;
    else if (arg === "--script") options.script = next;
    else if (arg === "--arena") options.arena = next;
    else {
      const n = Number(next);
      if (!Number.isInteger(n) || n < 256 || n > 65536 || (n & (n - 1)) !== 0) {
        return `--bytes-per-row needs a power of two in 256..65536, got ${JSON.stringify(next)}`;
      }
      options.bytesPerRow = n;
    }
  }
  if (options.svg === undefined && (options.arena !== undefined || options.bytesPerRow !== undefined)) {
    return `${options.arena !== undefined ? "--arena" : "--bytes-per-row"} shapes the picture: it needs --svg FILE`;
  }
  return options;
}

/** A script that cannot be used as one (not found, no default export): reported without a stack. */
class UsageError extends Error {}

function isArenaOf(value: unknown, heap: Heap): value is Arena {
  return typeof value === "object" && value !== null && (value as Arena).heap === heap && "state" in value;
}

/** Runs a user's script on `heap`; resolves to the arenas it returned, if any. */
async function runScript(file: string, heap: Heap): Promise<Arena[]> {
  let module: { default?: unknown };
  try {
    module = await import(pathToFileURL(resolve(file)).href);
  } catch (error) {
    throw new UsageError(`cannot load ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof module.default !== "function") {
    throw new UsageError(`${file} must export a default function: export default async (heap) => { ... }`);
  }
  const result: unknown = await module.default(heap);
  const values = Array.isArray(result) ? result : [result];
  return values.filter((value): value is Arena => isArenaOf(value, heap));
}

/** Every live arena reachable from `roots` through child links, parents first. */
function withChildren(roots: readonly Arena[], heap: Heap): Arena[] {
  const all: Arena[] = [];
  const visit = (arena: Arena) => {
    if (arena.released || all.includes(arena)) return;
    all.push(arena);
    for (const registration of heap.slots) {
      if (registration?.role === Kind.Child && registration.owner === arena.state)
        visit((registration as ChildLink).child);
    }
  };
  for (const root of roots) visit(root);
  return all;
}

async function run(args: string[]): Promise<number> {
  const options = parse(args);
  if (typeof options === "string") {
    console.error(`managed-arena inspect: ${options}\n\n${help}`);
    return 2;
  }
  const heap = await Heap.create();
  // Every arena the scenario creates on the heap, in order: a name lives on the JS side only.
  const created: Arena[] = [];
  const createArena = heap.createArena.bind(heap);
  heap.createArena = (arenaOptions) => {
    const arena = createArena(arenaOptions);
    created.push(arena);
    return arena;
  };
  let returned: Arena[];
  try {
    returned = options.script === undefined ? builtInScenario(heap) : await runScript(options.script, heap);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`managed-arena inspect: ${error.message}`);
      return 2;
    }
    const what = options.script === undefined ? "the built-in scenario" : options.script;
    console.error(`managed-arena inspect: ${what} failed: ${error instanceof Error ? error.stack : String(error)}`);
    return 1;
  }
  const roots = [...created, ...returned.filter((arena) => !created.includes(arena))].filter((a) => !a.released);
  const arenas = withChildren(roots, heap);
  const log = options.svg === "-" ? console.error : console.log;
  const reports = roots.filter((arena) => !arenas.some((parent) => isChildOf(parent, arena, heap)));
  log(reports.length === 0 ? "no live arena on the heap" : reports.map((arena) => arena.report()).join("\n\n"));

  if (options.svg === undefined) {
    log("\n(pass --svg FILE to draw the memory map)");
    return 0;
  }
  let target: Heap | Arena = heap;
  if (options.arena !== undefined) {
    const found = arenas.find((arena) => arena.name === options.arena);
    if (found === undefined) {
      const names = arenas.map((arena) => JSON.stringify(arena.name)).join(", ");
      console.error(`managed-arena inspect: no live arena named ${JSON.stringify(options.arena)} (have: ${names})`);
      return 2;
    }
    target = found;
  }
  const svg = renderMemoryMap(target, { arenas, bytesPerRow: options.bytesPerRow });
  if (options.svg === "-") process.stdout.write(svg);
  else {
    writeFileSync(options.svg, svg);
    const pages = heap.memory.buffer.byteLength / 65536;
    log(`\nwrote ${options.svg}: ${arenas.length} arenas on ${pages} pages of linear memory`);
  }
  return 0;
}

/** True when `child` is registered as a child of `parent` (so parent's report() shows it). */
function isChildOf(parent: Arena, child: Arena, heap: Heap): boolean {
  return heap.slots.some(
    (registration) =>
      registration?.role === Kind.Child &&
      registration.owner === parent.state &&
      (registration as ChildLink).child === child,
  );
}

/** The `inspect` subcommand. */
export const command: Command = {
  summary: "print arena reports and draw linear memory as an SVG (built-in scenario or your script)",
  help,
  run,
};
