// heap.free(ptr): a free from a thread that does not own the allocation
// (issue 15), as mimalloc's: validated at the call under the heap lock by the
// rules arena.free uses, queued on the owning arena's remote-free stack and
// applied by the owner at its next operation on that arena. One thread (the
// semantics, bad pointers, releases), then two workers freeing each other's
// blocks concurrently (test/fixtures/remote-free-worker.mjs).
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { type Arena, Heap, type Ptr, type TraceEvent } from "../src/index.js";
import { bad, expectAllBytes, expectCode, pagesInUse, resultOf } from "./helpers.js";

/** The arena's counters as the record holds them, without stats() (which drains the queue). */
function rawAllocations(arena: Arena): number {
  return new Uint32Array(arena.heap.memory.buffer)[(arena.state.record >>> 2) + 7];
}

const sharedHeap = () => Heap.create({ shared: true, debug: true, maxPages: 1024 });

describe("heap.free, one thread", () => {
  it("is EINVAL on a heap that is not shared, changing nothing", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    const ptr = arena.alloc(64);
    expectCode(() => heap.free(ptr), "EINVAL");
    expect(arena.sizeOf(ptr)).toBe(64);
    arena.free(ptr);
    arena.release();
  });

  it("queues the free for the arena's next operation; the block is not live meanwhile", async () => {
    const heap = await sharedHeap();
    const arena = heap.createArena();
    const ptr = arena.alloc(100);
    const keep = arena.alloc(40);
    heap.free(ptr);
    // Queued: still counted until the owner applies it, but not live for anyone.
    expect(rawAllocations(arena)).toBe(2);
    expect(heap.check()).toBe(0);
    expectCode(() => arena.sizeOf(ptr), "EBADPTR");
    expectCode(() => arena.bytes(ptr), "EBADPTR");
    expectCode(() => arena.realloc(ptr, 10), "EBADPTR");
    expectCode(() => arena.free(ptr), "EBADPTR");
    expect(rawAllocations(arena)).toBe(2);
    // The next alloc applies it first (and, the free list being LIFO, gets the block back).
    const again = arena.alloc(100);
    expect(again).toBe(ptr);
    expect(rawAllocations(arena)).toBe(2);
    heap.free(again);
    // stats() applies it too.
    expect(arena.stats()).toMatchObject({ allocations: 1, liveBytes: 40 });
    // And free of another allocation.
    const large = arena.alloc(200_000);
    heap.free(large);
    expect(rawAllocations(arena)).toBe(2);
    arena.free(keep);
    expect(rawAllocations(arena)).toBe(0);
    expect(arena.stats()).toMatchObject({ allocations: 0, liveBytes: 0, reservedBytes: 256 });
    expect(heap.check()).toBe(0);
    arena.release();
    expect(pagesInUse(heap)).toBe(0);
  });

  it("rejects a double free and every pointer that is not a live allocation's start with EBADPTR, changing nothing", async () => {
    const heap = await sharedHeap();
    const arena = heap.createArena();
    const other = heap.createArena();
    const ptr = arena.alloc(100);
    const large = other.alloc(100_000);
    const freed = arena.alloc(24);
    arena.free(freed);
    heap.free(ptr);
    const before = JSON.stringify([rawAllocations(arena), rawAllocations(other)]);
    const bads = [
      ptr, // queued already: a double remote free
      ptr + 16, // interior
      ptr + 1, // unaligned
      freed, // freed by its owner
      large + 64, // inside a large block
      0,
      8,
      arena.state.record, // an arena record (META page)
      heap.memory.buffer.byteLength - 16, // free memory at the top
      0xfffffff0, // past memory
    ];
    for (const p of bads) expectCode(() => heap.free(p as Ptr), "EBADPTR");
    for (const p of [-1, 2 ** 32 + 16, 1.5, Number.NaN, "16"]) expectCode(() => heap.free(bad(p)), "EINVAL");
    expect(JSON.stringify([rawAllocations(arena), rawAllocations(other)])).toBe(before);
    expect(heap.check()).toBe(0);
    // Applied once, by the owner; then a free of it anywhere is EBADPTR.
    expect(arena.stats().allocations).toBe(0);
    expectCode(() => heap.free(ptr), "EBADPTR");
    expectCode(() => arena.free(ptr), "EBADPTR");
    heap.free(large);
    expectCode(() => heap.free(large), "EBADPTR");
    expect(other.stats().allocations).toBe(0);
    expect(heap.check()).toBe(0);
    arena.release();
    other.release();
    expect(pagesInUse(heap)).toBe(0);
  });

  it("an allocation with a destructor is EINVAL (only its arena's thread may free it), changing nothing", async () => {
    const heap = await sharedHeap();
    const arena = heap.createArena();
    const ran: number[] = [];
    const ptr = arena.alloc(32, { onRelease: (p) => ran.push(p) });
    expectCode(() => heap.free(ptr), "EINVAL");
    expect(arena.sizeOf(ptr)).toBe(32);
    arena.free(ptr);
    expect(ran).toEqual([ptr]);
    arena.release();
  });

  it("the owner's drain is traced and forgets names, as its own free", async () => {
    const heap = await sharedHeap();
    const events: TraceEvent[] = [];
    const arena = heap.createArena({ trace: (event) => events.push(event) });
    const ptr = arena.alloc(48, { name: "frame" });
    heap.free(ptr);
    expect(events.map((e) => e.op)).toEqual(["add"]);
    const next = arena.alloc(8);
    expect(events.slice(1).map((e) => [e.op, e.name, e.size, e.ptr])).toEqual([
      ["del", "frame", 48, ptr],
      ["add", "alloc", 8, next],
    ]);
    expect(arena.resources().map((r) => r.name)).toEqual(["alloc"]);
    arena.release();
    expect(heap.check()).toBe(0);
  });

  it("release, reset and releaseGroup apply the queue; a block queued during a release goes with the arena, freed once", async () => {
    const heap = await sharedHeap();
    // Queued before release: applied first.
    const a = heap.createArena();
    heap.free(a.alloc(64));
    a.release();
    expect(heap.check()).toBe(0);
    // Queued by an action while the arena releases: the chunks take it.
    const b = heap.createArena();
    const small = b.alloc(64);
    const large = b.alloc(150_000);
    b.add(() => {
      heap.free(small);
      heap.free(large);
      expect(heap.check()).toBe(0);
    });
    b.release();
    expect(heap.check()).toBe(0);
    expect(pagesInUse(heap)).toBe(0);
    // reset: the same, and the arena is usable and empty after.
    const c = heap.createArena();
    const kept = c.alloc(64);
    c.add(() => heap.free(kept));
    c.reset();
    expect(c.stats()).toMatchObject({ allocations: 0, liveBytes: 0 });
    expect(heap.check()).toBe(0);
    const fresh = c.alloc(64);
    c.free(fresh);
    // releaseGroup: queued blocks in the range stay for the drain, not released twice.
    const g = c.openGroup("g");
    const inGroup = c.alloc(64);
    const later = c.alloc(64);
    c.add(() => heap.free(later));
    c.closeGroup(g);
    heap.free(inGroup);
    c.releaseGroup(g);
    expect(heap.check()).toBe(0);
    expect(c.stats()).toMatchObject({ allocations: 0, groups: 0, actions: 0 });
    expect(heap.check()).toBe(0);
    c.release();
    expect(pagesInUse(heap)).toBe(0);
  });

  it("the drain goes through poison and the quarantine like any free", async () => {
    const heap = await sharedHeap();
    const arena = heap.createArena({ poison: true, quarantine: 4096 });
    const ptr = arena.alloc(64);
    arena.bytes(ptr).fill(1);
    heap.free(ptr);
    expect(arena.stats().allocations).toBe(0);
    // Quarantined and poisoned (the queue's link word included), still not live.
    expect(new Uint8Array(heap.memory.buffer, ptr, 64).every((byte) => byte === 0x6b)).toBe(true);
    expectCode(() => heap.free(ptr), "EBADPTR");
    expectCode(() => arena.free(ptr), "EBADPTR");
    expect(arena.alloc(64)).not.toBe(ptr);
    expect(heap.check()).toBe(0);
    arena.release();
    expect(pagesInUse(heap)).toBe(0);
  });

  it("a block queued through another Heap of the same memory goes to its owner", async () => {
    const heap = await sharedHeap();
    const other = await Heap.attach(heap.share());
    const mine = heap.createArena();
    const theirs = other.createArena();
    const p = theirs.alloc(200);
    heap.free(p);
    expect(theirs.stats().allocations).toBe(0);
    const q = mine.alloc(200);
    other.free(q);
    expect(mine.stats().allocations).toBe(0);
    expect(heap.check()).toBe(0);
    mine.release();
    theirs.release();
    expect(pagesInUse(heap)).toBe(0);
  });
});

type Result = {
  index: number;
  operations: number;
  sent: number;
  remoteFrees: number;
  tempArenas: number;
  held: number;
  failures: string[];
};

describe("heap.free, two threads", () => {
  for (const [debug, ms] of [
    [true, 1000],
    [false, 600],
  ] as const) {
    it(`two workers free each other's blocks concurrently (${debug ? "debug" : "release"} core): patterns hold, the owners' stats after the drain count what they hold, check() is 0`, async () => {
      const heap = await Heap.create({ shared: true, debug, maxPages: 1024 });
      const check = () => (debug ? heap.check() : 0);
      const mine = heap.createArena({ name: "main" });
      const kept = Array.from({ length: 30 }, (_, i) => {
        const ptr = mine.alloc(1 + i * 97);
        mine.bytes(ptr).fill(i + 1);
        return ptr;
      });
      const control = new SharedArrayBuffer(24);
      const rings = [0, 1].map(() => new SharedArrayBuffer(4 * (2 + 3 * 256)));
      const url = new URL("./fixtures/remote-free-worker.mjs", import.meta.url);
      const descriptor = heap.share();
      const workers = [0, 1].map(
        (index) => new Worker(url, { workerData: { descriptor, index, rings, control, seed: 4242 + index * 7919 } }),
      );
      const results = workers.map((worker) => resultOf<Result>(worker));
      const ctl = new Int32Array(control);
      try {
        // The clock starts once both have attached.
        while (Atomics.load(ctl, 4) < 2) await new Promise((resolve) => setTimeout(resolve, 5));
        await new Promise((resolve) => setTimeout(resolve, ms));
        Atomics.store(ctl, 0, 1);
        const done = await Promise.all(results);
        if (process.env.SHARED_LOG) console.log(JSON.stringify(done));
        for (const result of done) expect(result.failures).toEqual([]);
        expect(done[0].remoteFrees).toBe(done[1].sent);
        expect(done[1].remoteFrees).toBe(done[0].sent);
        expect(done[0].sent + done[1].sent).toBeGreaterThan(50);
        for (const [i, ptr] of kept.entries()) expectAllBytes(mine, ptr, i + 1);
        expect(check()).toBe(0);
        mine.release();
        expect(check()).toBe(0);
        expect(pagesInUse(heap)).toBe(0);
      } finally {
        await Promise.all(workers.map((worker) => worker.terminate()));
      }
    });
  }
});

describe("heap.free, a tracer that re-enters its arena during the drain", () => {
  /** Runs a scenario of test/fixtures/drain-reentry-worker.mjs; a worker, so that a spinning alloc fails by timeout. */
  async function scenario(name: string): Promise<Record<string, unknown>> {
    const heap = await sharedHeap();
    const url = new URL("./fixtures/drain-reentry-worker.mjs", import.meta.url);
    const worker = new Worker(url, { workerData: { scenario: name, descriptor: heap.share() } });
    try {
      const message = await new Promise<{ result?: Record<string, unknown>; error?: string }>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${name}: no answer in 10 s (an alloc spinning on EDRAIN?)`)),
          10_000,
        );
        worker.once("message", (value) => {
          clearTimeout(timer);
          resolve(value);
        });
        worker.once("error", reject);
      });
      if (message.error !== undefined) throw new Error(message.error);
      // Every arena of the scenario is released by now: every page is back.
      return { ...message.result, pages: pagesInUse(heap) };
    } finally {
      await worker.terminate();
    }
  }

  it("an alloc in the tracer, with a free queued meanwhile, pops the queue itself and returns", async () => {
    const result = await scenario("allocInTracer");
    expect(result.events).toEqual([
      "add block0 64",
      "add block1 64",
      "add block2 64",
      "add block3 64",
      "del block0 64",
      "del block1 64",
      "add inner 16",
      "add outer 32",
    ]);
    expect(result.stats).toMatchObject({ allocations: 4, liveBytes: 64 + 64 + 16 + 32 });
    expect(result.live).toEqual([64, 64, 16, 32]);
    expect(result.bFreed).toBe("EBADPTR");
    expect(result).toMatchObject({ check: 0, pages: 0 });
  });

  it("release() in the tracer waits for the drain; the alloc that drained then finds the arena released", async () => {
    const result = await scenario("releaseInTracer");
    expect(result).toMatchObject({
      seen: { releasedAtOnce: false },
      alloc: "ERELEASED",
      stats: "ERELEASED",
      check: 0,
      pages: 0,
    });
  });

  it("reset() in the tracer is EBUSY, changing nothing", async () => {
    const result = await scenario("resetInTracer");
    expect(result).toMatchObject({ seen: { reset: "EBUSY" }, check: 0, pages: 0 });
    expect(result.stats).toMatchObject({ allocations: 3, liveBytes: 192 });
  });

  it("release() in the tracer of release()'s own drain is a no-op: one teardown, every page back", async () => {
    const result = await scenario("releaseDuringRelease");
    expect(result).toMatchObject({ stats: "ERELEASED", check: 0, pages: 0 });
  });
});
