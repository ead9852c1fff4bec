// `managed-arena inspect`: sets up arenas on a fresh heap (the built-in
// scenario, or a user's script, which may make heaps of its own), prints each
// arena's report() and draws each heap's linear memory with renderMemoryMap().

import { writeFileSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
// The library through its public entry, which the bundled bin imports instead
// of bundling it (scripts/build.mjs): a script that imports "managed-arena"
// gets this very module, so its Heap, Arena and ArenaError are the ones used here.
import { Arena, Heap, renderMemoryMap } from "managed-arena";
import type { Command } from "../cli/main.js";
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
  --svg FILE          write the memory map to FILE ("-": to stdout, the reports then go to stderr);
                      when arenas live on several heaps, one picture per heap: FILE for the
                      first, then FILE with -heap2, -heap3, ... before its extension
  --script FILE       an ES module whose default export, async (heap) => {...}, sets up
                      arenas instead of the built-in scenario: on the heap it is given
                      (heap.createArena(...)) or on heaps of its own (Heap.create(),
                      Arena.create()); it may return arenas to report on. It runs on the
                      library it imports ("managed-arena"), which is the one this command uses
  --arena NAME        highlight the arena named NAME (and its children) in the picture of its heap
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
  return values.filter((value): value is Arena => value instanceof Arena);
}

/** The arenas created in this process by Arena#createChild, by parent, in creation order. */
const childrenByParent = new WeakMap<Arena, Arena[]>();

/**
 * Runs `setUp` while recording every arena created with Heap#createArena on
 * any heap (Arena.create() too, which calls it) and every child made with
 * Arena#createChild (by parent). Resolves to the arenas created through
 * createArena, in order. Only public methods are wrapped: the command uses
 * the library as any user of the package does.
 */
async function recording(setUp: () => Arena[] | Promise<Arena[]>): Promise<{ created: Arena[]; returned: Arena[] }> {
  const created: Arena[] = [];
  const createArena = Heap.prototype.createArena;
  const createChild = Arena.prototype.createChild;
  Heap.prototype.createArena = function (this: Heap, options) {
    const arena = createArena.call(this, options);
    created.push(arena);
    return arena;
  };
  Arena.prototype.createChild = function (this: Arena, options) {
    const child = createChild.call(this, options);
    const siblings = childrenByParent.get(this);
    if (siblings === undefined) childrenByParent.set(this, [child]);
    else siblings.push(child);
    return child;
  };
  try {
    return { created, returned: await setUp() };
  } finally {
    Heap.prototype.createArena = createArena;
    Arena.prototype.createChild = createChild;
  }
}

/** The live child arenas of `arena` made while recording, in creation order (a child's parent never changes). */
function childrenOf(arena: Arena): Arena[] {
  return (childrenByParent.get(arena) ?? []).filter((child) => !child.released);
}

/** Every live arena reachable from `roots` through child links, parents first. */
function withChildren(roots: readonly Arena[]): Arena[] {
  const all: Arena[] = [];
  const visit = (arena: Arena) => {
    if (arena.released || all.includes(arena)) return;
    all.push(arena);
    for (const child of childrenOf(arena)) visit(child);
  };
  for (const root of roots) visit(root);
  return all;
}

/** FILE for the first heap, FILE with -heapN before its extension for the N-th. */
function svgFile(file: string, index: number): string {
  if (index === 0) return file;
  const extension = extname(file);
  return join(dirname(file), `${basename(file, extension)}-heap${index + 1}${extension}`);
}

async function run(args: string[]): Promise<number> {
  const options = parse(args);
  if (typeof options === "string") {
    console.error(`managed-arena inspect: ${options}\n\n${help}`);
    return 2;
  }
  const heap = await Heap.create();
  let created: Arena[];
  let returned: Arena[];
  try {
    ({ created, returned } = await recording(() =>
      options.script === undefined ? builtInScenario(heap) : runScript(options.script, heap),
    ));
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
  const arenas = withChildren(roots);
  // Heaps with a live arena: the one given to the script first, then in the order their first arena was made.
  const heaps = [...new Set([heap, ...arenas.map((arena) => arena.heap)])].filter((h) =>
    arenas.some((arena) => arena.heap === h),
  );
  if (heaps.length === 0) heaps.push(heap);
  const log = options.svg === "-" ? console.error : console.log;
  const reports = roots.filter((arena) => !arenas.some((parent) => childrenOf(parent).includes(arena)));
  const sections = heaps.map((h, i) => {
    const text = reports
      .filter((arena) => arena.heap === h)
      .map((arena) => arena.report())
      .join("\n\n");
    return heaps.length > 1 ? `heap ${i + 1} of ${heaps.length}:\n\n${text}` : text;
  });
  log(reports.length === 0 ? "no live arena on the heap" : sections.join("\n\n"));

  if (options.svg === undefined) {
    log("\n(pass --svg FILE to draw the memory map)");
    return 0;
  }
  let targets: (Heap | Arena)[] = heaps;
  if (options.arena !== undefined) {
    const found = arenas.find((arena) => arena.name === options.arena);
    if (found === undefined) {
      const names = arenas.map((arena) => JSON.stringify(arena.name)).join(", ");
      console.error(`managed-arena inspect: no live arena named ${JSON.stringify(options.arena)} (have: ${names})`);
      return 2;
    }
    targets = [found];
  } else if (options.svg === "-" && heaps.length > 1) {
    console.error(
      `managed-arena inspect: arenas live on ${heaps.length} heaps and --svg - writes one picture: pick one with --arena NAME`,
    );
    return 2;
  }
  for (const [i, target] of targets.entries()) {
    const on = target instanceof Arena ? target.heap : target;
    const drawn = arenas.filter((arena) => arena.heap === on);
    const svg = renderMemoryMap(target, { arenas: drawn, bytesPerRow: options.bytesPerRow });
    if (options.svg === "-") {
      process.stdout.write(svg);
      continue;
    }
    const file = svgFile(options.svg, i);
    writeFileSync(file, svg);
    const pages = on.memory.buffer.byteLength / 65536;
    const count = `${drawn.length} arena${drawn.length === 1 ? "" : "s"}`;
    log(`${i === 0 ? "\n" : ""}wrote ${file}: ${count} on ${pages} pages of linear memory`);
  }
  return 0;
}

/** The `inspect` subcommand. */
export const command: Command = {
  summary: "print arena reports and draw linear memory as an SVG (built-in scenario or your script)",
  help,
  run,
};
