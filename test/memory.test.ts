// Linear memory: growth, stale views, running out of pages, realloc and
// zeroing after reuse.
//
// PITFALL (documented by these tests): `memory.grow` detaches the old
// ArrayBuffer. Any Uint8Array taken from `arena.bytes()` (or from
// `heap.memory.buffer`) before an allocation that grows memory becomes a
// zero-length view: reads give `undefined`, writes are silently dropped.
// Always take a fresh `arena.bytes(ptr)` after anything that may allocate.
import { describe, expect, it } from "vitest";
import { ArenaError, Heap, type Ptr } from "../src/index.js";
import { expectAllBytes, expectCode, expectPattern, fill, firstMismatch, type Tracked } from "./helpers.js";

const PAGE = 65536;

/** Allocates pattern-filled blocks, largest first, until even alloc(0) fails with ENOMEM. */
function fillUp(arena: ReturnType<Heap["createArena"]>, first = 1 << 20): Tracked[] {
  const tracked: Tracked[] = [];
  for (let size = first; ; size >>>= 1) {
    for (let n = 0; n < 1_000_000; n++) {
      let ptr: Ptr;
      try {
        ptr = arena.alloc(size);
      } catch (e) {
        if (e instanceof ArenaError && e.code === "ENOMEM") break;
        throw e;
      }
      const seed = tracked.length + 1;
      fill(arena, ptr, seed);
      tracked.push({ ptr, size, seed });
    }
    if (size === 0) return tracked;
  }
}

describe("memory growth", () => {
  it("contents written before many grows read back through fresh views", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    const memory = heap.memory;
    const tracked: Tracked[] = [];
    const startBytes = memory.buffer.byteLength;
    let length = startBytes;
    let grows = 0;
    let total = 0;
    for (let i = 0; total < 64 * 1024 * 1024; i++) {
      const size = 1 + ((i * 7919) % 70_000);
      const ptr = arena.alloc(size);
      fill(arena, ptr, i);
      tracked.push({ ptr, size, seed: i });
      total += size;
      if (memory.buffer.byteLength !== length) {
        grows++;
        length = memory.buffer.byteLength;
        // Spot-check old blocks right after each grow.
        for (const t of [tracked[0], tracked[tracked.length >> 1], tracked[tracked.length - 1]]) {
          expectPattern(arena, t.ptr, t.seed);
        }
      }
    }
    expect(memory.buffer.byteLength).toBeGreaterThan(64 * 1024 * 1024);
    expect(grows).toBeGreaterThanOrEqual(2);
    let bad = 0;
    for (const t of tracked) {
      if (arena.sizeOf(t.ptr) !== t.size || firstMismatch(arena, t.ptr, t.seed) !== -1) bad++;
    }
    expect(bad).toBe(0);
    expect(arena.stats().liveBytes).toBe(total);
    expect(arena.stats().allocations).toBe(tracked.length);
    expect(heap.check()).toBe(0);
    arena.release();
    expect(heap.check()).toBe(0);
  });

  it("a view taken before growth is detached afterwards; a fresh one sees the data", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    const p = arena.alloc(64);
    const stale = arena.bytes(p);
    stale.fill(0x5c);
    const staleBuffer = heap.memory.buffer;
    expect(stale.byteLength).toBe(64);
    // Force growth: ask for more than the whole current memory.
    const big = arena.alloc(staleBuffer.byteLength + PAGE);
    expect(heap.memory.buffer).not.toBe(staleBuffer);
    // The pitfall: the old view is now detached and empty.
    expect(staleBuffer.byteLength).toBe(0);
    expect(stale.byteLength).toBe(0);
    expect(stale.length).toBe(0);
    expect(stale[0]).toBeUndefined();
    stale[0] = 1; // silently dropped
    // Fresh views see the data written before the growth.
    const fresh = arena.bytes(p);
    expect(fresh.byteLength).toBe(64);
    expect(fresh.buffer).toBe(heap.memory.buffer);
    expectAllBytes(arena, p, 0x5c);
    expect(arena.bytes(big).length).toBe(arena.sizeOf(big));
    expect(heap.check()).toBe(0);
    arena.release();
  });

  it("bytes() returns a fresh view over the current buffer on every call", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    const p = arena.alloc(32);
    const a = arena.bytes(p);
    const b = arena.bytes(p);
    expect(a).not.toBe(b);
    expect(a.buffer).toBe(heap.memory.buffer);
    expect(a.byteOffset).toBe(p);
    a[3] = 77;
    expect(b[3]).toBe(77);
    expect(new Uint8Array(heap.memory.buffer, p, 32)[3]).toBe(77);
    arena.release();
  });
});

describe("ENOMEM at a small maxPages", () => {
  it("filling a 16-page heap fails with ENOMEM and leaves everything unchanged", async () => {
    const heap = await Heap.create({ debug: true, maxPages: 16 });
    const arena = heap.createArena();
    const log: number[] = [];
    arena.add(() => log.push(0));
    const tracked = fillUp(arena);
    expect(tracked.length).toBeGreaterThan(0);
    expect(heap.memory.buffer.byteLength).toBeLessThanOrEqual(16 * PAGE);
    const stats = arena.stats();
    const bigIndex = tracked.findIndex((t) => t.size >= 1024);
    expect(bigIndex).toBeGreaterThanOrEqual(0);
    const big = tracked[bigIndex];

    expectCode(() => arena.alloc(1), "ENOMEM");
    expectCode(() => arena.alloc(0), "ENOMEM");
    expectCode(() => arena.alloc(PAGE), "ENOMEM");
    expectCode(() => arena.allocZeroed(64), "ENOMEM");
    expectCode(() => arena.allocArray(16, 16), "ENOMEM");
    expectCode(() => arena.alloc(8, { align: 4096 }), "ENOMEM");
    expectCode(() => arena.realloc(big.ptr, 16 * PAGE), "ENOMEM");

    expect(arena.stats()).toEqual(stats);
    let bad = 0;
    for (const t of tracked) if (arena.sizeOf(t.ptr) !== t.size || firstMismatch(arena, t.ptr, t.seed) !== -1) bad++;
    expect(bad).toBe(0);
    expect(heap.check()).toBe(0);
    expect(heap.memory.buffer.byteLength).toBeLessThanOrEqual(16 * PAGE);

    // Freeing makes room for the same size again.
    arena.free(big.ptr);
    const again = arena.alloc(big.size);
    expect(arena.sizeOf(again)).toBe(big.size);
    tracked[bigIndex] = { ptr: again, size: big.size, seed: big.seed };
    fill(arena, again, big.seed);
    expect(heap.check()).toBe(0);

    const firstTotal = tracked.reduce((s, t) => s + t.size, 0);
    arena.release();
    expect(log).toEqual([0]);
    expect(heap.check()).toBe(0);

    // Release gave the memory back: a new arena on the same heap gets about as much.
    const next = heap.createArena();
    const secondTotal = fillUp(next).reduce((s, t) => s + t.size, 0);
    expect(secondTotal).toBeGreaterThanOrEqual(firstTotal * 0.9);
    expect(heap.check()).toBe(0);
    next.release();
    expect(heap.check()).toBe(0);
  });

  it("two arenas share the pages: one exhausting the heap makes the other fail too, without harm", async () => {
    const heap = await Heap.create({ debug: true, maxPages: 16 });
    const a = heap.createArena();
    const b = heap.createArena();
    const kept = b.alloc(500);
    fill(b, kept, 3);
    const taken = fillUp(a);
    const bStats = b.stats();
    expectCode(() => b.alloc(PAGE), "ENOMEM");
    expect(b.stats()).toEqual(bStats);
    expectPattern(b, kept, 3);
    a.release();
    expect(taken.length).toBeGreaterThan(0);
    const p = b.alloc(PAGE);
    expect(b.sizeOf(p)).toBe(PAGE);
    expect(heap.check()).toBe(0);
    b.release();
    expect(heap.check()).toBe(0);
  });

  it("releasing arenas returns their memory: repeating a workload does not keep growing memory", async () => {
    const heap = await Heap.create({ debug: true });
    const sizes: number[] = [];
    for (let i = 0; i < 3000; i++) sizes.push((i * 131) % 1500);
    const workloadBytes = sizes.reduce((s, n) => s + n, 0);
    const lengths: number[] = [];
    for (let round = 0; round < 6; round++) {
      const arena = heap.createArena();
      for (let i = 0; i < sizes.length; i++) {
        const p = arena.alloc(sizes[i]);
        if (i % 100 === 0) arena.add(() => {});
        if (i % 7 === 0) arena.free(p);
      }
      arena.release();
      lengths.push(heap.memory.buffer.byteLength);
    }
    expect(lengths[5] - lengths[0]).toBeLessThan(workloadBytes / 2);
    expect(heap.check()).toBe(0);
  });
});

describe("realloc", () => {
  it("grow and shrink keep the common prefix and update sizes and stats", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    const neighbours: Tracked[] = [];
    const around = (seed: number) => {
      const ptr = arena.alloc(24);
      fill(arena, ptr, seed);
      neighbours.push({ ptr, size: 24, seed });
    };
    around(101);
    let p = arena.alloc(100);
    fill(arena, p, 7);
    around(102);
    const allocations = arena.stats().allocations;

    let size = 100;
    for (const next of [101, 1000, 5000, 70_000, 200_000, 70_000, 3000, 100, 17, 1, 5000]) {
      const old = p;
      p = arena.realloc(p, next);
      expect(arena.sizeOf(p)).toBe(next);
      expectPattern(arena, p, 7, Math.min(size, next));
      if (p !== old) {
        // The old pointer is no longer a live allocation of its own.
        expectCode(() => arena.sizeOf(old), "EBADPTR");
      }
      fill(arena, p, 7);
      size = next;
      expect(arena.stats().allocations).toBe(allocations);
      expect(arena.stats().liveBytes).toBe(48 + next);
      for (const n of neighbours) expectPattern(arena, n.ptr, n.seed);
      expect(heap.check()).toBe(0);
    }
    expect(arena.stats().peakBytes).toBeGreaterThanOrEqual(48 + 200_000);
    arena.release();
    expect(heap.check()).toBe(0);
  });

  it("realloc to the same size keeps the contents", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    const p = arena.alloc(333);
    fill(arena, p, 9);
    const q = arena.realloc(p, 333);
    expect(arena.sizeOf(q)).toBe(333);
    expectPattern(arena, q, 9);
    expect(heap.check()).toBe(0);
    arena.release();
  });

  it("keeps per-call and arena alignment", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    let p = arena.alloc(100, { align: 1024 });
    fill(arena, p, 4);
    for (const size of [5000, 100_000, 10, 70_000]) {
      const before = Math.min(arena.sizeOf(p), size);
      p = arena.realloc(p, size);
      expect(p % 1024).toBe(0);
      expectPattern(arena, p, 4, before);
      fill(arena, p, 4);
    }
    const wide = heap.createArena({ minAlign: 4096 });
    let q = wide.alloc(10);
    for (const size of [5000, 1, 100_000]) {
      q = wide.realloc(q, size);
      expect(q % 4096).toBe(0);
    }
    expect(heap.check()).toBe(0);
    arena.release();
    wide.release();
  });

  it("keeps its place in release order: a newer action still sees the reallocated block", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    const log: string[] = [];
    arena.add(() => log.push("a0"));
    let p = arena.alloc(50);
    fill(arena, p, 1);
    let q = arena.alloc(5000);
    fill(arena, q, 2);
    arena.add(() => {
      // Both blocks are older than this action, so they are still pending here.
      log.push(`a1 p=${arena.sizeOf(p)} q=${arena.sizeOf(q)}`);
      log.push(`p ${firstMismatch(arena, p, 1)} q ${firstMismatch(arena, q, 2)}`);
      arena.free(p);
      arena.free(q);
    });
    arena.add(() => log.push("a2"));
    p = arena.realloc(p, 80_000);
    fill(arena, p, 1);
    q = arena.realloc(q, 40);
    fill(arena, q, 2);
    arena.add(() => log.push("a3"));
    arena.release();
    expect(log).toEqual(["a3", "a2", "a1 p=80000 q=40", "p -1 q -1", "a0"]);
    expect(heap.check()).toBe(0);
  });

  it("a failing realloc leaves the block where and as it was", async () => {
    const heap = await Heap.create({ debug: true, maxPages: 16 });
    const arena = heap.createArena();
    const p = arena.alloc(3000);
    fill(arena, p, 5);
    const stats = arena.stats();
    expectCode(() => arena.realloc(p, 32 * PAGE), "ENOMEM");
    expect(arena.sizeOf(p)).toBe(3000);
    expectPattern(arena, p, 5);
    expect(arena.stats()).toEqual(stats);
    expect(heap.check()).toBe(0);
    arena.release();
  });
});

describe("zeroing", () => {
  const SIZES = [1, 7, 8, 15, 16, 17, 31, 100, 1000, 4096, 5000, 65_536, 100_000];

  it("allocZeroed is zero even when it reuses freed, dirtied memory", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    for (let round = 0; round < 3; round++) {
      const dirty: Ptr[] = [];
      for (const size of SIZES) {
        const p = arena.alloc(size);
        arena.bytes(p).fill(0xff);
        dirty.push(p);
      }
      for (const p of dirty) arena.free(p);
      const zeroed: Ptr[] = [];
      for (const size of SIZES) {
        const z = arena.allocZeroed(size);
        expect(arena.sizeOf(z)).toBe(size);
        expectAllBytes(arena, z, 0);
        zeroed.push(z);
      }
      for (const z of zeroed) {
        arena.bytes(z).fill(0xff);
        arena.free(z);
      }
      for (const size of SIZES) {
        expectAllBytes(arena, arena.alloc(size, { zero: true }), 0);
        expectAllBytes(arena, arena.allocArray(size, 1, { zero: true }), 0);
      }
      expect(heap.check()).toBe(0);
    }
    arena.release();
  });

  it("one size at a time: write 0xff, free, allocZeroed the same size", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    for (const size of SIZES) {
      const p = arena.alloc(size);
      arena.bytes(p).fill(0xff);
      arena.free(p);
      const z = arena.allocZeroed(size);
      expectAllBytes(arena, z, 0);
      arena.free(z);
    }
    expect(heap.check()).toBe(0);
    arena.release();
  });

  it("memory returned by a released arena is zeroed for the next arena's allocZeroed", async () => {
    const heap = await Heap.create({ debug: true });
    const first = heap.createArena();
    for (const size of SIZES) first.bytes(first.alloc(size)).fill(0xee);
    first.release();
    const second = heap.createArena();
    for (const size of SIZES) expectAllBytes(second, second.allocZeroed(size), 0);
    for (const size of SIZES) expectAllBytes(second, second.allocArray(4, size, { zero: true }), 0);
    expect(heap.check()).toBe(0);
    second.release();
  });
});
