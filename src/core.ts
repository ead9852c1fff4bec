// Loading the core: both builds are inlined as base64 by scripts/build.mjs, so
// the package needs no file access, fetch or bundler plugin to find its wasm.
// Each build is compiled once per process; every Heap is a fresh instance
// with a fresh memory.
//
// Only the release core is imported here. The debug core (about 58 KB of
// base64, four times the release one) lives in src/generated/debug-wasm.ts,
// which only the `managed-arena/debug` entry (src/debug-entry.ts) imports: it
// hands it to registerDebugCore. A bundle of the main entry so leaves it out.
// Heap.create({ debug: true }) without that entry loaded throws EINVAL saying
// to import it, rather than importing the debug core dynamically: a bundler
// that does not split code (esbuild's default) would inline a dynamic import
// into every bundle, which is what this split is for.

import { ArenaError } from "./errors.js";
import { releaseWasm } from "./generated/wasm.js";

/** The raw exports of the core (assembly/index.ts); pointers are u32, results u32 or a status below 16. */
export interface CoreExports {
  init(maxPages: number): number;
  createArena(minAlignLog2: number, maxBytes: number, flags: number): number;
  alloc(arena: number, size: number, align: number, zero: number): number;
  allocArray(arena: number, count: number, size: number, align: number, zero: number): number;
  free(arena: number, ptr: number): number;
  find(arena: number, ptr: number): number;
  realloc(arena: number, ptr: number, size: number): number;
  addAction(arena: number, slot: number): number;
  allocWithDestructor(arena: number, size: number, align: number, zero: number, slot: number): number;
  addCallback(arena: number, slot: number, kind: number): number;
  removeCallback(arena: number, node: number): number;
  /** Closes a group with the close marker its open marker reserved: never ENOMEM. */
  closeGroup(arena: number, open: number): number;
  /** Makes a live plain allocation dying (not live, block kept) until dropDying. */
  detach(arena: number, ptr: number): number;
  popCallback(arena: number): number;
  /** Pops up to 64 newest actions (none while the arena has groups); their slots are at batchBuffer(). */
  popActions(arena: number): number;
  batchBuffer(): number;
  popRange(arena: number, open: number, close: number, everyNode: number): number;
  takeDestructor(arena: number, ptr: number): number;
  dropDying(arena: number, ptr: number): number;
  beginRelease(arena: number): number;
  endRelease(arena: number, keep: number): void;
  /** Sets how many bytes of freed blocks the arena holds back from reuse (0: off); returns OK. */
  setQuarantine(arena: number, limit: number): number;
  /** Address of seven u32 describing the page maps (assembly/index.ts), for pictures of memory. */
  mapInfo(): number;
  /** Debug build only: 0, or the number of the first invariant broken. */
  check?(): number;
}

const modules: { release?: Promise<WebAssembly.Module>; debug?: Promise<WebAssembly.Module> } = {};

/** The debug core, base64, once `managed-arena/debug` has registered it. */
let debugWasm: string | undefined;

/** Makes the debug core available to Heap.create({ debug: true }); called by src/debug-entry.ts. @internal */
export function registerDebugCore(base64: string): void {
  debugWasm ??= base64;
}

/** The error of Heap.create({ debug: true }) when the debug core was not registered. */
function debugCoreMissing(): ArenaError {
  return new ArenaError(
    "EINVAL",
    'debug: true needs the debug core: load it by importing "managed-arena/debug" once (it also exports everything "managed-arena" does)',
  );
}

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Instantiates a core on `memory`; `debug` picks the build with assertions and check(). */
export async function instantiateCore(memory: WebAssembly.Memory, debug: boolean): Promise<CoreExports> {
  const key = debug ? "debug" : "release";
  if (debug && debugWasm === undefined) throw debugCoreMissing();
  modules[key] ??= WebAssembly.compile(decode(debug ? (debugWasm as string) : releaseWasm));
  const instance = await WebAssembly.instantiate(await modules[key], {
    env: {
      memory,
      abort: (message: number, file: number, line: number, column: number) => {
        throw new Error(
          `managed-arena core assertion failed: ${readString(memory, message)} at ${readString(memory, file)}:${line}:${column}`,
        );
      },
    },
  });
  return instance.exports as unknown as CoreExports;
}

/** Reads an AssemblyScript static string (UTF-16, byte length at ptr - 4). */
function readString(memory: WebAssembly.Memory, ptr: number): string {
  if (!ptr) return "";
  const length = new Uint32Array(memory.buffer, ptr - 4, 1)[0] >>> 1;
  return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, length));
}
