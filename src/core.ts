// Loading the core: both builds are inlined as base64 by scripts/build.mjs, so
// the package needs no file access, fetch or bundler plugin to find its wasm.
// Each build is compiled once per process; every Heap is a fresh instance
// with a fresh memory.

import { debugWasm, releaseWasm } from "./generated/wasm.js";

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

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Instantiates a core on `memory`; `debug` picks the build with assertions and check(). */
export async function instantiateCore(memory: WebAssembly.Memory, debug: boolean): Promise<CoreExports> {
  const key = debug ? "debug" : "release";
  modules[key] ??= WebAssembly.compile(decode(debug ? debugWasm : releaseWasm));
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
