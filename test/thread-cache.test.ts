// Thread caches on a shared heap (assembly/cache.ts): each thread keeps the
// records and small runs of slots of the arenas it releases for its next
// ones, so that a create/release loop takes no heap lock. Workers
// (test/fixtures/cache-worker.mjs) cycling arenas concurrently leave check()
// 0 and, once their caches are flushed (mapInfo), every page back; a thread
// reuses its own cached record, another thread does not get it; a heap out
// of pages takes the cached runs back; check() names a corrupted cache.
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import type { Arena } from "../src/arena.js";
import { Heap, renderMemoryMap } from "../src/index.js";
import type { SharedCoreExports } from "../src/shared-core.js";
import { pagesInUse, resultOf } from "./helpers.js";

type Result = { index: number; cycles: number; failures: string[] };

/** The record of `arena` (its address in memory). */
const recordOf = (arena: Arena) => (arena as unknown as { record: number }).record;
/** How many times any thread has taken the heap lock. */
const lockCount = (heap: Heap) => (heap.core as unknown as SharedCoreExports).lockCount() >>> 0;
/** One arena cycle as the benchmark runs it: 8 blocks of 64..512 B, then release. */
const cycle = (heap: Heap) => {
  const arena = heap.createArena();
  for (let i = 0; i < 8; i++) arena.alloc(64 << (i & 3));
  arena.release();
};

/** Runs `count` cache workers on `heap` for `ms` milliseconds once all have attached. */
async function runWorkers(heap: Heap, count: number, ms: number): Promise<Result[]> {
  const descriptor = heap.share();
  const control = new SharedArrayBuffer(8);
  const ctl = new Int32Array(control);
  const url = new URL("./fixtures/cache-worker.mjs", import.meta.url);
  const workers = Array.from(
    { length: count },
    (_, index) => new Worker(url, { workerData: { descriptor, index, control, seed: 4242 + index * 7919 } }),
  );
  const results = workers.map((worker) => resultOf<Result>(worker));
  try {
    while (Atomics.load(ctl, 1) < count) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, ms));
    Atomics.store(ctl, 0, 1);
    return await Promise.all(results);
  } finally {
    Atomics.store(ctl, 0, 1);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

describe("thread caches", () => {
  it("two workers cycle arenas concurrently: check() is 0 with their caches full, and every page comes back", async () => {
    const heap = await Heap.create({ shared: true, debug: true, maxPages: 4096 });
    const results = await runWorkers(heap, 2, 1000);
    for (const result of results) expect(result.failures).toEqual([]);
    expect(results.reduce((sum, r) => sum + r.cycles, 0)).toBeGreaterThan(500);
    // The workers are gone, their caches still hold records and runs: counted as the caches'.
    expect(heap.check()).toBe(0);
    // mapInfo (pagesInUse reads the maps through it) flushes every cache first.
    expect(pagesInUse(heap)).toBe(0);
    expect(heap.check()).toBe(0);
  });

  it("a steady create/release loop takes no heap lock", async () => {
    const heap = await Heap.create({ shared: true, debug: true });
    cycle(heap);
    const before = lockCount(heap);
    for (let i = 0; i < 200; i++) cycle(heap);
    expect(lockCount(heap) - before).toBe(0);
    expect(heap.check()).toBe(0);
    // Without the caches every cycle takes it several times: a flush empties them.
    expect(pagesInUse(heap)).toBe(0);
    const flushed = lockCount(heap);
    cycle(heap);
    expect(lockCount(heap) - flushed).toBeGreaterThan(1);
  });

  it("a released arena's record is its thread's next, and no other thread's", async () => {
    const heap = await Heap.create({ shared: true, debug: true });
    const other = await Heap.attach(heap.share());
    const first = heap.createArena();
    const record = recordOf(first);
    first.release();
    const elsewhere = other.createArena();
    expect(recordOf(elsewhere)).not.toBe(record);
    const again = heap.createArena();
    expect(recordOf(again)).toBe(record);
    for (const arena of [again, elsewhere]) arena.alloc(100);
    expect(heap.check()).toBe(0);
    for (const arena of [again, elsewhere]) arena.release();
    expect([heap.check(), pagesInUse(heap)]).toEqual([0, 0]);
  });

  it("a memory map finds the live arenas of every thread (each thread lists its own)", async () => {
    const heap = await Heap.create({ shared: true, debug: true });
    const other = await Heap.attach(heap.share());
    const mine = heap.createArena({ name: "mine" });
    const theirs = other.createArena({ name: "theirs" });
    mine.alloc(100);
    theirs.alloc(100);
    // Arenas the host does not name are drawn as arena@0x…, found through the core's lists alone.
    for (const svg of [renderMemoryMap(heap), renderMemoryMap(other)]) {
      expect(svg).toContain("a heap of 2 arenas");
      for (const arena of [mine, theirs]) {
        const at = `0x${recordOf(arena).toString(16)}`;
        expect(svg).toContain(`arena@${at}`);
        // The records stay on their grid in the META page after the cache blocks: each is drawn as one.
        expect(svg).toMatch(new RegExp(`arena record of [^<]* at ${at}`));
      }
    }
    mine.release();
    theirs.release();
  });

  it("a heap out of pages takes back the runs the caches hold", async () => {
    // Blocks of exactly one whole page each (chunk head, header and worst-case padding at the default
    // 16-byte alignment included: no tail of slots), until the heap is out of pages.
    const fill = (heap: Heap) => {
      const arena = heap.createArena();
      let count = 0;
      try {
        for (;;) {
          arena.alloc(65536 - 47);
          count++;
        }
      } catch (error) {
        expect((error as { code: string }).code).toBe("ENOMEM");
      }
      arena.release();
      return count;
    };
    const fresh = await Heap.create({ shared: true, debug: true, maxPages: 48 });
    const cached = await Heap.create({ shared: true, debug: true, maxPages: 48 });
    // A subdivided page held by the cache's runs, and a block in it of the other thread's.
    const other = await Heap.attach(cached.share());
    fresh.createArena().release();
    cycle(cached);
    expect(fill(cached)).toBe(fill(fresh));
    expect(cached.check()).toBe(0);
    expect(other.check()).toBe(0);
    // One block of every page the heap can still have: the flushed page must merge with the growth.
    const low = await Heap.create({ shared: true, debug: true, maxPages: 56 });
    cycle(low);
    const arena = low.createArena();
    arena.alloc(3538880);
    arena.release();
    expect(low.check()).toBe(0);
    expect(pagesInUse(low)).toBe(0);
  });

  it("check() names a corrupted cache", async () => {
    const heap = await Heap.create({ shared: true, debug: true });
    const words = () => new Uint32Array(heap.memory.buffer);
    // The creator's cache block: the newest, the only one (mapInfo's eighth word).
    const block = words()[(heap.core.mapInfo() >>> 2) + 7];
    expect(block % 16).toBe(0);
    cycle(heap);
    const live = heap.createArena();
    live.alloc(64);
    expect(heap.check()).toBe(0);
    const at = (offset: number) => (block + offset) >>> 2;
    const T_RECORDS = 12;
    const T_SLOTS = 20;
    const T_RUNS = 32;
    const LIVE_PREV = 60;
    const CACHE = 276;
    const corrupt = (address: number, value: number, rule: number) => {
      const w = words();
      const old = w[address >>> 2];
      w[address >>> 2] = value;
      expect(heap.check()).toBe(rule);
      w[address >>> 2] = old;
      expect(heap.check()).toBe(0);
    };
    // The cycle's record went back to the cache (live took it) and its runs stayed, but for the one live took.
    const run = words()
      .subarray(at(T_RUNS), at(T_RUNS) + 16)
      .find((head) => head !== 0);
    if (run === undefined) throw new Error("the cache holds no run");
    expect(words()[at(T_SLOTS)]).toBeGreaterThan(0);
    // The cache's slot count disagrees with its runs.
    corrupt(block + T_SLOTS, words()[at(T_SLOTS)] + 1, 83);
    // A run's slot entry is not the cache's (the slot table sits at 63488 in the run's page).
    const entry = (run & ~0xffff) + 63488 + ((run & 0xffff) >>> 8) * 4;
    corrupt(entry, recordOf(live), 82);
    // A live arena in the cache's records: held twice.
    corrupt(block + T_RECORDS, recordOf(live), 81);
    // A live arena that names no cache.
    corrupt(recordOf(live) + CACHE, 0, 80);
    // The cached record's mark gone: a live-list link instead.
    live.release();
    expect(heap.check()).toBe(0);
    corrupt(words()[at(T_RECORDS)] + LIVE_PREV, 0, 81);
  });
});
