// What is measured once rather than timed: linear memory per 16-byte
// allocation, the size of each allocator's wasm, and the figures of the
// measured scenarios chosen (small arenas and tight memory: tools/bench/small.ts).

import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Heap } from "managed-arena";
import { base64Bytes, instantiatePeer, peerBytes, type WasmPeerName } from "./peers.js";
import { ARENA, BUMP, TLSF } from "./scenarios.js";
import { measureSmall, type SmallFigures } from "./small.js";

/** Live 16-byte allocations the memory figures are taken with. */
export const MEMORY_COUNT = 100_000;
const MEMORY_SIZE = 16;

/** Linear memory of one allocator holding MEMORY_COUNT live 16-byte allocations, per allocation. */
export interface MemoryFigure {
  peer: string;
  /**
   * Bytes held for the allocations per allocation: managed-arena's
   * `reservedBytes` (its chunks: headers, bitmaps, blocks, unused tails); for
   * the peers, whose blocks are contiguous, the address span.
   */
  heldPerAlloc: number;
  /** Growth of `memory.buffer.byteLength` per allocation (includes each allocator's growth policy overshoot). */
  growthPerAlloc: number;
}

export interface Footprint {
  count: number;
  size: number;
  memory: MemoryFigure[];
  /** Bytes of each allocator's wasm (managed-arena: the release core as inlined in the package). */
  wasmBytes: Record<string, number>;
  /** First 12 hex digits of the SHA-256 of the release core measured: which build these numbers are of. */
  coreSha256: string;
  /** Figures of the measured scenarios that were chosen (absent in runs saved before they existed). */
  small?: SmallFigures;
}

async function arenaMemory(): Promise<MemoryFigure> {
  const heap = await Heap.create();
  const arena = heap.createArena({ name: "memory" });
  const before = heap.memory.buffer.byteLength;
  for (let i = 0; i < MEMORY_COUNT; i++) arena.alloc(MEMORY_SIZE);
  const { reservedBytes, allocations } = arena.stats();
  if (allocations !== MEMORY_COUNT) throw new Error(`${ARENA}: ${allocations} live, expected ${MEMORY_COUNT}`);
  const figure = {
    peer: ARENA,
    heldPerAlloc: reservedBytes / MEMORY_COUNT,
    growthPerAlloc: (heap.memory.buffer.byteLength - before) / MEMORY_COUNT,
  };
  arena.release();
  return figure;
}

function peerMemory(peer: string, name: WasmPeerName): MemoryFigure {
  const instance = instantiatePeer(name);
  const before = instance.memory.buffer.byteLength;
  const first = instance.alloc(MEMORY_SIZE);
  let last = first;
  for (let i = 1; i < MEMORY_COUNT; i++) last = instance.alloc(MEMORY_SIZE);
  return {
    peer,
    heldPerAlloc: (last - first) / (MEMORY_COUNT - 1),
    growthPerAlloc: (instance.memory.buffer.byteLength - before) / MEMORY_COUNT,
  };
}

/**
 * The release core as the package carries it (inlined as base64 in
 * dist/generated/wasm.js, next to the entry that "managed-arena" resolves to):
 * read as data, the one file of the package the bench opens by its path. The
 * library itself it uses through its entry only.
 */
async function releaseCore(): Promise<Uint8Array> {
  const entry = createRequire(import.meta.url).resolve("managed-arena");
  const module: { releaseWasm?: unknown } = await import(new URL("./generated/wasm.js", pathToFileURL(entry)).href);
  if (typeof module.releaseWasm !== "string") throw new Error(`no release core next to ${entry}`);
  return base64Bytes(module.releaseWasm);
}

/** Takes the memory figures and wasm sizes, and the figures of the measured scenarios `measured` (ids). */
export async function footprint(measured: readonly string[] = []): Promise<Footprint> {
  const core = await releaseCore();
  return {
    count: MEMORY_COUNT,
    size: MEMORY_SIZE,
    memory: [await arenaMemory(), peerMemory(TLSF, "tlsf"), peerMemory(BUMP, "bump")],
    wasmBytes: {
      [ARENA]: core.length,
      [TLSF]: peerBytes("tlsf").length,
      [BUMP]: peerBytes("bump").length,
    },
    coreSha256: createHash("sha256").update(core).digest("hex").slice(0, 12),
    small: await measureSmall(measured),
  };
}
