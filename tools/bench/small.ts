// Small arenas and tight memory: what is measured once, after the timed
// scenarios, when chosen (`bench --only` matches these ids too):
//
//   arena-memory-request    linear memory per live child arena holding 8 x 64 B and 2 actions
//   arena-memory-empty      linear memory per live empty child arena
//   many-arenas-100000      whether 100,000 live child arenas with one 16-B allocation fit, and in how much
//   reserved-per-size       reserved / requested bytes of 1,000 allocations of one size, 1 B-1 MiB
//   random-lifetime-memory  linear memory at the end of the random-lifetime workload / its peak live bytes
//
// Every figure is taken on a fresh heap of its own (the timed scenarios are
// over, so a second heap no longer matters to their call sites). "In use" is
// memory.buffer minus the pages of the heap's free runs: what the arenas hold
// with their records, the page maps and everything the core keeps, but not
// what the growth policy grew ahead (memory grows by at least a sixteenth of
// its size), which "memory growth" includes.

import { type Arena, ArenaError, freeRuns, Heap } from "managed-arena";
import { instantiatePeer } from "./peers.js";
import { ARENA, arenaLifetime, arenaLifetimeFill, TLSF, tlsfLifetime, tlsfLifetimeFill } from "./scenarios.js";
import { LIFETIME_LIVE, LIFETIME_STEPS, lifetime } from "./workload.js";

const PAGE = 65536;
/** Live child arenas the per-arena figures are taken over. */
export const ARENA_COUNT = 1000;
/** Child arenas of the many-arenas figure. */
export const MANY_ARENAS = 100_000;
/** Allocations per size of the reserved / requested table. */
export const PER_SIZE = 1000;

/** Linear memory per live child arena. */
export interface ArenaMemory {
  arenas: number;
  /** What each child holds, as shown. */
  holding: string;
  /** Growth of the bytes in use (memory.buffer minus free pages) per arena: records, chunks, maps, the parent's child nodes. */
  inUsePerArena: number;
  /** Growth of memory.buffer.byteLength per arena (includes what the growth policy grew ahead). */
  growthPerArena: number;
  /** The children's `reservedBytes` (their chunks only), per arena. */
  reservedPerArena: number;
}

/** Many live child arenas with one 16-byte allocation each. */
export interface ManyArenas {
  wanted: number;
  /** Children made, each holding its allocation, before the heap ran out (= wanted when they fit). */
  made: number;
  fit: boolean;
  /** Growth of the bytes in use (memory.buffer minus free pages) for the `made` children. */
  inUseBytes: number;
  /** Growth of memory.buffer.byteLength. */
  growthBytes: number;
}

/** reservedBytes / requested bytes of PER_SIZE allocations of one size in a fresh arena. */
export interface SizeRatio {
  size: number;
  reservedPerAlloc: number;
  ratio: number;
}

/** Memory held at the end of the random-lifetime workload. */
export interface LifetimeMemory {
  live: number;
  steps: number;
  /** Highest sum of the requested sizes of live blocks over the run. */
  peakLive: number;
  /**
   * Each allocator's memory.buffer.byteLength at the end, and that / peakLive;
   * for managed-arena also the bytes in use (without its free pages) and the
   * arena's reservedBytes (its chunks).
   */
  memory: { peer: string; bytes: number; ratio: number; inUseBytes: number | null; reservedBytes: number | null }[];
}

export interface SmallFigures {
  request?: ArenaMemory;
  empty?: ArenaMemory;
  many?: ManyArenas;
  sizes?: SizeRatio[];
  lifetime?: LifetimeMemory;
}

/** Takes the figures of the measured scenarios in `ids`. */
export async function measureSmall(ids: readonly string[]): Promise<SmallFigures> {
  const figures: SmallFigures = {};
  const chosen = new Set(ids);
  if (chosen.has("arena-memory-request")) figures.request = await arenaMemory(true);
  if (chosen.has("arena-memory-empty")) figures.empty = await arenaMemory(false);
  if (chosen.has("many-arenas-100000")) figures.many = await manyArenas();
  if (chosen.has("reserved-per-size")) figures.sizes = await reservedPerSize();
  if (chosen.has("random-lifetime-memory")) figures.lifetime = await lifetimeMemory();
  return figures;
}

/** Bytes of memory.buffer not in the heap's free runs of pages (the package's freeRuns). */
export function inUseBytes(heap: Heap): number {
  let free = 0;
  for (const run of freeRuns(heap)) free += run.pages * PAGE;
  return heap.memory.buffer.byteLength - free;
}

function requestAction(data: number): void {
  if (data < 0) throw new Error("unreachable");
}

async function arenaMemory(request: boolean): Promise<ArenaMemory> {
  const heap = await Heap.create();
  const parent = heap.createArena({ name: "parent" });
  const children: Arena[] = [];
  const inUse = inUseBytes(heap);
  const bytes = heap.memory.buffer.byteLength;
  for (let i = 0; i < ARENA_COUNT; i++) {
    const child = parent.createChild({ name: "request" });
    if (request) {
      for (let k = 0; k < 8; k++) child.alloc(64);
      child.add(requestAction, 1, "close");
      child.add(requestAction, 2, "log");
    }
    children.push(child);
  }
  let reserved = 0;
  for (const child of children) reserved += child.stats().reservedBytes;
  const figure: ArenaMemory = {
    arenas: ARENA_COUNT,
    holding: request ? "8 x 64 B, 2 actions" : "nothing",
    inUsePerArena: (inUseBytes(heap) - inUse) / ARENA_COUNT,
    growthPerArena: (heap.memory.buffer.byteLength - bytes) / ARENA_COUNT,
    reservedPerArena: reserved / ARENA_COUNT,
  };
  parent.release();
  return figure;
}

function isNoMemory(error: unknown): boolean {
  return error instanceof ArenaError && error.code === "ENOMEM";
}

async function manyArenas(): Promise<ManyArenas> {
  const heap = await Heap.create();
  const parent = heap.createArena({ name: "parent" });
  const children: Arena[] = [];
  const inUse = inUseBytes(heap);
  const bytes = heap.memory.buffer.byteLength;
  let made = 0;
  try {
    for (; made < MANY_ARENAS; made++) {
      const child = parent.createChild({ name: "connection" });
      children.push(child);
      child.alloc(16);
    }
  } catch (error) {
    if (!isNoMemory(error)) throw error;
  }
  const figure: ManyArenas = {
    wanted: MANY_ARENAS,
    made,
    fit: made === MANY_ARENAS,
    inUseBytes: inUseBytes(heap) - inUse,
    growthBytes: heap.memory.buffer.byteLength - bytes,
  };
  parent.release();
  return figure;
}

/** Every power of two from 1 B to 1 MiB, and 1.5 times each from 3 B to 768 KiB, ascending. */
export function tableSizes(): number[] {
  const sizes: number[] = [];
  for (let k = 0; k <= 20; k++) {
    sizes.push(2 ** k);
    if (k >= 1 && k < 20) sizes.push(3 * 2 ** (k - 1));
  }
  return sizes;
}

async function reservedPerSize(): Promise<SizeRatio[]> {
  const heap = await Heap.create();
  return tableSizes().map((size) => {
    const arena = heap.createArena({ name: `${size} B` });
    for (let i = 0; i < PER_SIZE; i++) arena.alloc(size);
    const { reservedBytes, allocations } = arena.stats();
    if (allocations !== PER_SIZE) throw new Error(`${ARENA}: ${allocations} allocations of ${size} B`);
    arena.release();
    return { size, reservedPerAlloc: reservedBytes / PER_SIZE, ratio: reservedBytes / (PER_SIZE * size) };
  });
}

async function lifetimeMemory(): Promise<LifetimeMemory> {
  const w = lifetime();
  const heap = await Heap.create();
  const arena = heap.createArena({ name: "random lifetimes" });
  const live = new Uint32Array(LIFETIME_LIVE);
  arenaLifetimeFill(arena, live, w.initial);
  arenaLifetime(arena, live, w.sizes, w.indices);
  const stats = arena.stats();
  if (stats.allocations !== LIFETIME_LIVE || stats.peakBytes !== w.peakLive) {
    throw new Error(`${ARENA}: random lifetimes ended with ${stats.allocations} live, peak ${stats.peakBytes}`);
  }
  const arenaBytes = heap.memory.buffer.byteLength;
  const inUse = inUseBytes(heap);
  arena.release();
  const tlsf = instantiatePeer("tlsf");
  tlsfLifetimeFill(tlsf, live, w.initial);
  tlsfLifetime(tlsf, live, w.sizes, w.indices);
  const tlsfBytes = tlsf.memory.buffer.byteLength;
  return {
    live: LIFETIME_LIVE,
    steps: LIFETIME_STEPS,
    peakLive: w.peakLive,
    memory: [
      {
        peer: ARENA,
        bytes: arenaBytes,
        ratio: arenaBytes / w.peakLive,
        inUseBytes: inUse,
        reservedBytes: stats.reservedBytes,
      },
      { peer: TLSF, bytes: tlsfBytes, ratio: tlsfBytes / w.peakLive, inUseBytes: null, reservedBytes: null },
    ],
  };
}
