// One heap, many threads (the shared build: `--enable threads --sharedMemory`).
//
// Every thread instantiates the same core on the same shared memory. A wasm
// module global is per instance, so per thread: the heap state that the
// plain build keeps in module globals is the *thread's copy* here, loaded
// from the heap header below when the thread takes the heap lock and stored
// back when it lets go. So the page allocator's code is the same in both
// builds, and in the plain build (ASC_FEATURE_THREADS false) lock() and
// unlock() compile to nothing: its code is what it was.
//
//   heap header (static data: every instance of the module puts it at the same address)
//   ┌──────┬────────────┬──────────┬──────────┬─────────┬─────────┬───────┐
//   │ lock │ knownPages │ freeRuns │ recycled │ metaCur │ metaEnd │ ready │
//   └──────┴────────────┴──────────┴──────────┴─────────┴─────────┴───────┘
//   0      4            8          12         16        20        24
//   ┌──────────┬──────────┬───────────┬───────────┬─────────────┬──────────────┬──────────┐
//   │ ownerMap │ startMap │ firstPage │ pageLimit │ mapCapacity │ threadBlocks │ acquired │
//   └──────────┴──────────┴───────────┴───────────┴─────────────┴──────────────┴──────────┘
//   28         32         36          40          44            48             52         56
//   (ownerMap .. mapCapacity: written once by init, read by attach)
//
//   lock          0 free, 1 held, 2 held with waiters (a futex mutex, Drepper's "mutex2")
//   threadBlocks  the newest thread's cache block (assembly/cache.ts): each thread's live
//                 arenas and cached records and runs; read and written under the lock
//   acquired      times any thread has taken the lock (lockCount: the tests see what takes it)
//
// What the lock covers: everything that takes or gives back pages, arena
// records or slots of subdivided pages (the owner and start maps, the free
// runs, the slot tables and free-slot lists, the recycled records), and
// check(). What it does not: an arena's own record, chunks, blocks, free
// lists and block-start bitmap words (one bitmap word covers exactly one
// 256-byte slot, so no two arenas share one). Those belong to the thread that
// created the arena, so alloc and free of a small block take no lock and no
// atomic. Nor a thread's cache of records and runs of slots and its list of
// live arenas (assembly/cache.ts): a lock of their own, uncontended but for
// check(), the flushes and heap.free, lets a create/release loop run without
// the heap lock. The maps' addresses never change in the shared build: init sizes
// them for pageLimit (shared memory has a maximum), so a lock-free read of
// an owner entry never goes through a stale map.
//
// Each thread has its own scratch (popActions' batch, mapInfo's words):
// the creator the static ones, every thread attached later a pair carved
// from META pages (never given back: a few hundred bytes per attach).

import { syncArenas } from "./arena";
import { syncPages } from "./chunks";

export const SHARED: bool = ASC_FEATURE_THREADS;

/** The heap header; no static data at all in the plain build. */
export const STATE: usize = SHARED ? memory.data(56, 16) : 0;
export const S_LOCK: u32 = 0;
export const S_KNOWN_PAGES: u32 = 4;
export const S_FREE_RUNS: u32 = 8;
export const S_RECYCLED: u32 = 12;
export const S_META_CUR: u32 = 16;
export const S_META_END: u32 = 20;
export const S_READY: u32 = 24;
export const S_OWNER_MAP: u32 = 28;
export const S_START_MAP: u32 = 32;
export const S_FIRST_PAGE: u32 = 36;
export const S_PAGE_LIMIT: u32 = 40;
export const S_MAP_CAPACITY: u32 = 44;
export const S_THREAD_BLOCKS: u32 = 48;
export const S_ACQUIRED: u32 = 52;

/** Nested lock() calls of this thread: only the outermost takes and lets go of the lock. */
let depth: u32 = 0;
/** Whether this thread may block in atomic.wait (a browser's main thread may not: it would trap); set by the host. */
let canWait: bool = false;

/** Sets whether this thread may block waiting for the lock (else it spins). */
export function setCanWait(value: bool): void {
  canWait = value;
}

/** Takes the heap lock (re-entrant per thread) and loads the heap state. Nothing in the plain build. */
@inline export function lock(): void {
  if (SHARED) {
    if (depth++ == 0) acquire();
  }
}

/** Stores the heap state back and lets go of the lock at the outermost unlock(). Nothing in the plain build. */
@inline export function unlock(): void {
  if (SHARED) {
    if (--depth == 0) releaseLock();
  }
}

function acquire(): void {
  const word = STATE + S_LOCK;
  let state = atomic.cmpxchg<u32>(word, 0, 1);
  if (state != 0) {
    // Spin a little first: the critical sections are short (a few map entries, a free-list walk).
    for (let spin = 0; spin < 100 && state != 0; spin++) {
      state = atomic.load<u32>(word);
      if (state == 0) state = atomic.cmpxchg<u32>(word, 0, 1);
    }
    if (state != 0) {
      if (state != 2) state = atomic.xchg<u32>(word, 2);
      while (state != 0) {
        if (canWait) atomic.wait<u32>(word, 2, -1);
        state = atomic.xchg<u32>(word, 2);
      }
    }
  }
  store<u32>(STATE, load<u32>(STATE, S_ACQUIRED) + 1, S_ACQUIRED);
  syncPages(false);
  syncArenas(false);
}

/** Shared build: how many times any thread has taken the heap lock (read without it: a snapshot). */
export function lockCount(): u32 {
  return atomic.load<u32>(STATE, S_ACQUIRED);
}

function releaseLock(): void {
  syncPages(true);
  syncArenas(true);
  const word = STATE + S_LOCK;
  if (atomic.sub<u32>(word, 1) != 1) {
    atomic.store<u32>(word, 0);
    atomic.notify(word, 1);
  }
}
