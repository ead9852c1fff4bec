// The random-lifetime workload: a general-purpose allocator's day, as malloc
// benchmarks model it. LIFETIME_LIVE blocks are live at every moment; each of
// LIFETIME_STEPS steps frees one of them, chosen at random, and allocates its
// replacement. Sizes: 70% 8-64 B, 25% 65-1024 B, 5% 1-64 KiB (uniform within
// each range). The sequence comes from a fixed seed, so every allocator and
// every run sees the same one; it is made once per process.

import { prng } from "./stats.js";

/** Blocks live at every moment. */
export const LIFETIME_LIVE = 10_000;
/** Free-a-random-one + alloc steps. */
export const LIFETIME_STEPS = 1_000_000;
const LIFETIME_SEED = 0x11fe;

export interface Lifetime {
  /** Sizes of the LIFETIME_LIVE blocks allocated first (untimed). */
  initial: Uint32Array;
  /** Size allocated at each step. */
  sizes: Uint32Array;
  /** Index (0..LIFETIME_LIVE-1) of the live block freed at each step, before its replacement is allocated. */
  indices: Uint32Array;
  /** The highest sum of the requested sizes of live blocks over the run, initial fill included. */
  peakLive: number;
}

function lifetimeSize(random: () => number): number {
  const r = random();
  const u = random();
  if (r < 0.7) return 8 + Math.floor(u * 57);
  if (r < 0.95) return 65 + Math.floor(u * 960);
  return 1025 + Math.floor(u * (65536 - 1025 + 1));
}

let made: Lifetime | undefined;

/** The workload (made on first use, then shared). */
export function lifetime(): Lifetime {
  if (made !== undefined) return made;
  const random = prng(LIFETIME_SEED);
  const initial = new Uint32Array(LIFETIME_LIVE);
  const sizes = new Uint32Array(LIFETIME_STEPS);
  const indices = new Uint32Array(LIFETIME_STEPS);
  let live = 0;
  for (let j = 0; j < LIFETIME_LIVE; j++) {
    initial[j] = lifetimeSize(random);
    live += initial[j];
  }
  const current = initial.slice();
  let peakLive = live;
  for (let k = 0; k < LIFETIME_STEPS; k++) {
    const j = Math.floor(random() * LIFETIME_LIVE);
    const size = lifetimeSize(random);
    indices[k] = j;
    sizes[k] = size;
    live += size - current[j];
    current[j] = size;
    if (live > peakLive) peakLive = live;
  }
  made = { initial, sizes, indices, peakLive };
  return made;
}
