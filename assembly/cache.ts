// Thread caches (shared build only): what a steady create/release loop needs
// from the heap, kept by its thread from one arena to the next, so that such
// a loop takes no heap lock (as mimalloc keeps pages per thread). Releasing
// an arena puts its record and its small chunks of slots in its thread's
// cache when they fit; creating an arena and starting its small chunks take
// them from there first. Each thread also keeps its own list of live
// arenas: the heap-wide one would need the heap lock on every create and
// release. In the plain build none of this is compiled (every caller tests
// SHARED first).
//
//   thread block: one per thread, carved from a META page at init or attach (in a record's
//   room: the records stay on their grid), never given back; listed from the heap header
//   (S_THREAD_BLOCKS) for check() and the flushes
//   ┌──────┬──────┬──────┬─────────┬──────────────┬───────┬───────────┬──────────────────────┐
//   │ lock │ next │ live │ records │ record count │ slots │ (padding) │ runs: 16 x u32       │
//   └──────┴──────┴──────┴─────────┴──────────────┴───────┴───────────┴──────────────────────┘
//   0      4      8      12        16             20      24          32                     96
//
//   lock      0 free, 1 held (a spin lock: it is held for a few stores at a time)
//   next      the next thread block of the heap
//   live      the thread's newest live arena; its arenas are linked through the records'
//             liveNext/livePrev, and each names the block in its record (A_CACHE)
//   records   cached arena records (at most CACHE_RECORDS), linked through liveNext, each
//             marked by livePrev = block | RECORD_CACHED: a live arena's link is never odd
//   runs      cached runs of 1..CACHE_RUN_SLOTS slots, list len - 1 linked through the
//             chunk head's next; each keeps its small chunk's shape (pages 0, slots len)
//             and every slot entry of it is block | SLOT_CACHED; `slots`: what they hold,
//             at most CACHE_SLOTS (16 KiB)
//
// Who may touch a cache: its thread, holding the cache lock or the heap lock;
// any thread holding both, always taken in that order (the heap lock, then
// the cache's). The thread's cache-only paths never take the heap lock; the
// paths that need it (a miss, a chunk that does not fit) let go of the cache
// lock first and work under the heap lock alone. So heap.free of a block of
// the thread's (queueRemote, under the heap lock) takes the cache lock to
// keep the chunks of the block's arena where they are while it checks and
// queues the block.
//
// Figures: a cached run is neither free nor an arena's, and keeps its
// subdivided page from the heap. check() counts it as the cache's (rules
// 79-83). Where pages are counted or needed, every cache is flushed back to
// the heap first (flushCaches, under the heap lock): by mapInfo (memory maps,
// the tests' pagesInUse), and by takeRun when the heap is out of pages. So
// "every page back" holds once every arena is released, and a cache never
// costs an allocation. A cache whose lock is taken (its thread is in a
// cache operation, or died in one) is left as it is.

import {
  A_CACHE, A_CHUNKS, A_LIVE_NEXT, A_LIVE_PREV, A_REMOTE, CHUNK_NEXT, CHUNK_PAGES, SLOT_CACHED,
} from "./layout";
import { freeChunk, freeSlots, slotEntry } from "./chunks";
import { field, setField } from "./nodes";
import { lock, S_THREAD_BLOCKS, STATE, unlock } from "./threads";
import { recycleRecord } from "./arena";

/** Arena records a thread's cache holds at most. */
export const CACHE_RECORDS: u32 = 8;
/** The longest run of slots a cache holds (4 KiB): an arena's first small chunks. */
export const CACHE_RUN_SLOTS: u32 = 16;
/** Slots a cache holds at most, in all its runs (16 KiB). */
export const CACHE_SLOTS: u32 = 64;
/** In a cached record's livePrev, with the block's address. */
export const RECORD_CACHED: u32 = 1;

export const T_LOCK: u32 = 0;
export const T_NEXT: u32 = 4;
export const T_LIVE: u32 = 8;
export const T_RECORDS: u32 = 12;
export const T_RECORD_COUNT: u32 = 16;
export const T_SLOTS: u32 = 20;
export const T_RUNS: u32 = 32;
export const THREAD_BLOCK: u32 = T_RUNS + (CACHE_RUN_SLOTS << 2);

/** This thread's block (init for the creator, attach for the others). */
export let threadBlock: usize = 0;

/** Takes the lock of `block`; whoever holds it lets go after a few stores. */
@inline export function holdCache(block: usize): void {
  while (atomic.cmpxchg<u32>(block + T_LOCK, 0, 1)) {}
}

/** Takes the lock of `block` unless it is taken. */
@inline export function tryHoldCache(block: usize): bool {
  return atomic.cmpxchg<u32>(block + T_LOCK, 0, 1) == 0;
}

@inline export function letGoCache(block: usize): void {
  atomic.store<u32>(block + T_LOCK, 0);
}

/** Makes `block` (at least THREAD_BLOCK bytes of a META page) this thread's and lists it in the heap header. Under the heap lock. */
export function adoptBlock(block: usize): void {
  memory.fill(block, 0, THREAD_BLOCK);
  store<u32>(block, load<u32>(STATE, S_THREAD_BLOCKS), T_NEXT);
  store<u32>(STATE, <u32>block, S_THREAD_BLOCKS);
  threadBlock = block;
}

/** The list of cached runs of `len` slots in `block`. */
@inline export function runList(block: usize, len: u32): usize {
  return block + T_RUNS + ((len - 1) << 2);
}

/** Sets the slot entries of the `len` slots at `run` to `owner` (no neighbour merges: none is free). */
@inline function ownRun(run: usize, len: u32, owner: u32): void {
  const entry = slotEntry(run);
  for (let slot: u32 = 0; slot < len; slot++) store<u32>(entry + (slot << 2), owner);
}

/** Pops a record from this thread's cache, or 0. Holding the cache lock. */
export function popCachedRecord(block: usize): usize {
  const arena = <usize>load<u32>(block, T_RECORDS);
  if (arena) {
    store<u32>(block, field(arena, A_LIVE_NEXT), T_RECORDS);
    store<u32>(block, load<u32>(block, T_RECORD_COUNT) - 1, T_RECORD_COUNT);
  }
  return arena;
}

/** Links a new arena (its record zeroed) as the newest live arena of `block`'s thread. Holding the cache lock. */
export function linkThreadArena(block: usize, arena: usize): void {
  const head = load<u32>(block, T_LIVE);
  setField(arena, A_LIVE_NEXT, head);
  if (head) setField(head, A_LIVE_PREV, <u32>arena);
  store<u32>(block, <u32>arena, T_LIVE);
  setField(arena, A_CACHE, <u32>block);
}

/**
 * Takes a released arena off this thread's list of live arenas, and keeps
 * its record in the cache when there is room; else the record goes to the
 * heap's recycled records, under the heap lock.
 */
export function retireThreadArena(arena: usize): void {
  const block = threadBlock;
  holdCache(block);
  const next = field(arena, A_LIVE_NEXT);
  const prev = field(arena, A_LIVE_PREV);
  if (next) setField(next, A_LIVE_PREV, prev);
  if (prev) setField(prev, A_LIVE_NEXT, next);
  else store<u32>(block, next, T_LIVE);
  const count = load<u32>(block, T_RECORD_COUNT);
  const kept = count < CACHE_RECORDS;
  if (kept) {
    setField(arena, A_LIVE_NEXT, load<u32>(block, T_RECORDS));
    setField(arena, A_LIVE_PREV, <u32>block | RECORD_CACHED);
    store<u32>(block, <u32>arena, T_RECORDS);
    store<u32>(block, count + 1, T_RECORD_COUNT);
  }
  letGoCache(block);
  if (kept) return;
  lock();
  recycleRecord(arena);
  unlock();
}

/** The slots of `run` when it is a chunk a cache may hold (a run of at most CACHE_RUN_SLOTS slots), else 0. */
@inline function cacheableSlots(run: usize): u32 {
  const shape = load<u32>(run, CHUNK_PAGES);
  return <u32>(shape & 0xffff) == 0 && shape >> 16 <= CACHE_RUN_SLOTS ? shape >> 16 : 0;
}

/** Puts the run of `len` slots at `run`, a chunk given back, in `block`'s cache. Holding either lock. */
function cacheRun(block: usize, run: usize, len: u32): void {
  ownRun(run, len, <u32>block | SLOT_CACHED);
  const list = runList(block, len);
  store<u32>(run, load<u32>(list), CHUNK_NEXT);
  store<u32>(list, <u32>run);
  store<u32>(block, load<u32>(block, T_SLOTS) + len, T_SLOTS);
}

/**
 * Gives every chunk of a released arena back: all to this thread's cache,
 * holding its lock only, when they all fit; else, under the heap lock,
 * those that fit to the cache and the rest to the heap. Blocks other
 * threads queued for the arena go with the chunks, freed once: its
 * remote-free stack is forgotten, and as they push holding this cache's
 * lock or the heap lock, none lands meanwhile.
 */
export function dropThreadChunks(arena: usize): void {
  const block = threadBlock;
  holdCache(block);
  let room = CACHE_SLOTS - load<u32>(block, T_SLOTS);
  let run = <usize>field(arena, A_CHUNKS);
  while (run) {
    const len = cacheableSlots(run);
    if (!len || len > room) break;
    room -= len;
    run = load<u32>(run, CHUNK_NEXT);
  }
  const fits = run == 0;
  if (!fits) {
    letGoCache(block);
    lock();
  }
  run = field(arena, A_CHUNKS);
  while (run) {
    const next = load<u32>(run, CHUNK_NEXT);
    const len = cacheableSlots(run);
    if (len && load<u32>(block, T_SLOTS) + len <= CACHE_SLOTS) cacheRun(block, run, len);
    else freeChunk(run);
    run = next;
  }
  setField(arena, A_REMOTE, 0);
  if (fits) letGoCache(block);
  else unlock();
}

/** A run of exactly `len` slots from this thread's cache, made `arena`'s small chunk; 0 when it has none. */
export function takeCachedRun(len: u32, arena: usize): usize {
  if (len > CACHE_RUN_SLOTS) return 0;
  const block = threadBlock;
  holdCache(block);
  const list = runList(block, len);
  const run = <usize>load<u32>(list);
  if (run) {
    store<u32>(list, load<u32>(run, CHUNK_NEXT));
    store<u32>(block, load<u32>(block, T_SLOTS) - len, T_SLOTS);
    ownRun(run, len, <u32>arena);
  }
  letGoCache(block);
  return run;
}

/**
 * Gives the runs and records of every thread's cache back to the heap,
 * skipping a cache whose lock is taken; whether any run went back. Under
 * the heap lock.
 */
export function flushCaches(): bool {
  let any = false;
  for (let block = <usize>load<u32>(STATE, S_THREAD_BLOCKS); block; block = load<u32>(block, T_NEXT)) {
    if (!tryHoldCache(block)) continue;
    for (let len: u32 = 1; len <= CACHE_RUN_SLOTS; len++) {
      const list = runList(block, len);
      let run = <usize>load<u32>(list);
      while (run) {
        const next = load<u32>(run, CHUNK_NEXT);
        freeSlots(run, len);
        run = next;
        any = true;
      }
      store<u32>(list, 0);
    }
    store<u32>(block, 0, T_SLOTS);
    let arena = <usize>load<u32>(block, T_RECORDS);
    while (arena) {
      const next = field(arena, A_LIVE_NEXT);
      recycleRecord(arena);
      arena = next;
    }
    store<u32>(block, 0, T_RECORDS);
    store<u32>(block, 0, T_RECORD_COUNT);
    letGoCache(block);
  }
  return any;
}

/** The slot entry a run of `block`'s cache has (check()). */
@inline export function cachedEntry(block: usize): u32 {
  return <u32>block | SLOT_CACHED;
}
