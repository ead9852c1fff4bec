// realloc grows a block where it stands when the memory right after it is
// free (issue 13): a small block at the bump frontier takes more of the bump
// range; a medium block takes the free slots after it in its page; a large
// block takes the free slots after its tail, or free pages after it; a
// medium block alone in its page becomes a large block. What a user can
// count on: the pointer stays, the contents, destructor, poison and release
// order are kept, the stats are exact, a failed call changes nothing, and
// the cases where the memory after the block is not free still move.
// Placements are asserted where a test depends on them (a block at a page's
// start, a neighbour in the same page), so a changed layout fails loudly.

import { describe, expect, it } from "vitest";
import type { Arena, Heap, Ptr } from "../src/index.js";
import { inUseBytes } from "../tools/bench/small.js";
import { expectCode, expectPattern, fill, firstMismatch } from "./helpers.js";
import { debugHeap, expectFilled, expectStats, ok, raw, setup } from "./helpers3.js";

const PAGE = 65536;
const SLOT = 256;
/** Slots of a subdivided page that hold runs; a medium block is at most this many (assembly/layout.ts). */
const SLOTS = 248;
/** A block of its own: its chunk head (16 B) and node header (16 B) stand before its payload. */
const HEADS = 32;
const FRESH = 0x5a;
const FREED = 0x6b;

/** Bytes a block of its own reserves once grown in place to `size` (exact payload offset, as takeLarge's layout). */
function grownBytes(size: number, poison = false): number {
  const bytes = HEADS + size;
  if (bytes <= SLOTS * SLOT) return Math.ceil(bytes / SLOT) * SLOT;
  let whole = Math.floor(bytes / PAGE);
  let rest = bytes % PAGE;
  if (rest > SLOTS * SLOT || poison) {
    whole += rest > 0 ? 1 : 0;
    rest = 0;
  }
  return whole * PAGE + Math.ceil(rest / SLOT) * SLOT;
}

/** Bytes alloc() reserves for a block of its own of `size` (worst-case padding of 15 at the default minAlign, 16). */
function allocBytes(size: number, poison = false): number {
  return grownBytes(size + 15, poison);
}

function pageOf(ptr: number): number {
  return Math.floor(ptr / PAGE);
}

/** Grows linear memory and gives it back, so that free pages follow whatever is allocated next. */
function roomy(heap: Heap, pages = 12): void {
  const arena = heap.createArena({ name: "roomy" });
  arena.alloc(pages * PAGE);
  arena.release();
  ok(heap);
}

/** realloc, asserting that it kept the pointer, the contents and the invariants. */
function growInPlace(heap: Heap, arena: Arena, ptr: Ptr, size: number, seed: number): void {
  const before = arena.sizeOf(ptr);
  expect(arena.realloc(ptr, size)).toBe(ptr);
  expect(arena.sizeOf(ptr)).toBe(size);
  expectPattern(arena, ptr, seed, Math.min(before, size));
  ok(heap);
  fill(arena, ptr, seed);
}

/** realloc, asserting that it moved the allocation and kept its contents and the invariants. */
function growMoving(heap: Heap, arena: Arena, ptr: Ptr, size: number, seed: number): Ptr {
  const before = arena.sizeOf(ptr);
  const moved = arena.realloc(ptr, size);
  expect(moved).not.toBe(ptr);
  expectCode(() => arena.sizeOf(ptr), "EBADPTR");
  expectPattern(arena, moved, seed, before);
  ok(heap);
  fill(arena, moved, seed);
  return moved;
}

describe("(a) a small block at the bump frontier grows in place", () => {
  it("keeps its pointer up to the end of the bump range; stats exact, reservedBytes unchanged", async () => {
    const { heap, arena } = await setup();
    const p = arena.alloc(16);
    fill(arena, p, 1);
    expectStats(arena, { liveBytes: 16, reservedBytes: SLOT });
    // The first chunk is one slot: its head, then the block's header and payload, up to 224 bytes.
    for (const size of [24, 100, 200, 224]) {
      growInPlace(heap, arena, p, size, 1);
      expectStats(arena, { allocations: 1, liveBytes: size, peakBytes: size, reservedBytes: SLOT });
    }
    growMoving(heap, arena, p, 232, 1);
  });

  it("a block not at the frontier moves", async () => {
    const { heap, arena } = await setup();
    const p = arena.alloc(16);
    fill(arena, p, 2);
    const q = arena.alloc(16);
    fill(arena, q, 3);
    growMoving(heap, arena, p, 64, 2);
    expect(firstMismatch(arena, q, 3)).toBe(-1);
  });

  it("reuses a free block of the new class rather than growing into the bump range", async () => {
    const { heap, arena } = await setup();
    const r = arena.alloc(64);
    const p = arena.alloc(16);
    fill(arena, p, 4);
    arena.free(r);
    expect(growMoving(heap, arena, p, 60, 4)).toBe(r);
  });

  it("a block that moves away from the frontier gives its bytes back to the bump range", async () => {
    const { heap, arena } = await setup();
    const p = arena.alloc(16);
    fill(arena, p, 5);
    growInPlace(heap, arena, p, 200, 5);
    growMoving(heap, arena, p, 5000, 5);
    // The next block is bumped where the moved one stood, so the frontier does not creep.
    expect(arena.alloc(16)).toBe(p);
    ok(heap);
  });

  it("with a quarantine, the block that moves away is held instead (a stale pointer stays EBADPTR)", async () => {
    const { heap, arena } = await setup({}, { quarantine: 4096 });
    const p = arena.alloc(16);
    fill(arena, p, 6);
    growInPlace(heap, arena, p, 200, 6);
    growMoving(heap, arena, p, 5000, 6);
    expect(arena.alloc(16)).not.toBe(p);
    expectCode(() => arena.free(p), "EBADPTR");
    ok(heap);
  });

  it("alloc, grow, free in a loop does not creep: reservedBytes and memory settle (16 B -> 1 KiB by 16, and doubling)", async () => {
    const { heap, arena } = await setup();
    const round = (sizes: number[]) => {
      let p = arena.alloc(16);
      for (const size of sizes) p = arena.realloc(p, size);
      arena.free(p);
    };
    const stepping = Array.from({ length: 63 }, (_, i) => 32 + 16 * i);
    const doubling = Array.from({ length: 12 }, (_, i) => 32 << i);
    for (const sizes of [stepping, doubling]) {
      for (let i = 0; i < 20; i++) round(sizes);
      const settled = arena.stats().reservedBytes;
      const bytes = heap.memory.buffer.byteLength;
      for (let i = 0; i < 500; i++) round(sizes);
      expect(arena.stats().reservedBytes).toBe(settled);
      expect(heap.memory.buffer.byteLength).toBe(bytes);
      ok(heap);
    }
  });
});

describe("(b) a medium block takes the free slots after it", () => {
  it("keeps its pointer while the free run after it is long enough; reservedBytes exact", async () => {
    const { heap, arena } = await setup();
    const p = arena.alloc(5000);
    fill(arena, p, 7);
    // A fresh subdivided page: the block at its first slot, every other slot free.
    expect(p % PAGE).toBe(HEADS);
    expectStats(arena, { reservedBytes: allocBytes(5000) });
    for (const size of [5100, 9000, 20_000, 40_000, SLOTS * SLOT - HEADS]) {
      growInPlace(heap, arena, p, size, 7);
      expectStats(arena, { allocations: 1, liveBytes: size, peakBytes: size, reservedBytes: grownBytes(size) });
    }
  });

  it("moves when the free run after it is too short, and takes what it needs when it is long enough", async () => {
    const { heap, arena } = await setup();
    const p = arena.alloc(5000);
    const q = arena.alloc(5000);
    const r = arena.alloc(5000);
    fill(arena, p, 8);
    fill(arena, r, 9);
    expect(q - p).toBe(allocBytes(5000));
    expect(r - q).toBe(allocBytes(5000));
    arena.free(q);
    // 20 free slots after p: 8000 B needs 32 in all (12 more), 12,000 B 47 (27 more).
    growInPlace(heap, arena, p, 8000, 8);
    expectStats(arena, { reservedBytes: grownBytes(8000) + allocBytes(5000) });
    growMoving(heap, arena, p, 12_000, 8);
    expect(firstMismatch(arena, r, 9)).toBe(-1);
    ok(heap);
  });

  it("moves when another arena's slots follow it", async () => {
    const heap = await debugHeap();
    const a = heap.createArena({ name: "a" });
    const b = heap.createArena({ name: "b" });
    const p = a.alloc(5000);
    fill(a, p, 10);
    const q = b.alloc(16);
    fill(b, q, 11);
    expect(pageOf(q)).toBe(pageOf(p));
    expect(q).toBeLessThan(p + allocBytes(5000) + SLOT);
    growMoving(heap, a, p, 8000, 10);
    expect(firstMismatch(b, q, 11)).toBe(-1);
    ok(heap);
  });
});

describe("(c) a large block takes the free slots and pages after it", () => {
  it("a medium block alone in its page becomes a large block in place (a page and a tail)", async () => {
    const heap = await debugHeap();
    roomy(heap);
    const arena = heap.createArena();
    const p = arena.alloc(40_000);
    fill(arena, p, 12);
    expect(p % PAGE).toBe(HEADS);
    for (const size of [SLOTS * SLOT, 70_000, 100_000, 300_000]) {
      growInPlace(heap, arena, p, size, 12);
      expectStats(arena, { allocations: 1, liveBytes: size, peakBytes: size, reservedBytes: grownBytes(size) });
    }
    arena.free(p);
    expectStats(arena, { liveBytes: 0, peakBytes: 300_000, reservedBytes: 0 });
    ok(heap);
  });

  it("a large block's tail takes the free slots after it, then its page becomes whole", async () => {
    const heap = await debugHeap();
    roomy(heap);
    const arena = heap.createArena();
    const p = arena.alloc(70_000);
    fill(arena, p, 13);
    expectStats(arena, { reservedBytes: allocBytes(70_000) });
    for (const size of [75_000, 120_000, 2 * PAGE, 5 * PAGE + 1000]) {
      growInPlace(heap, arena, p, size, 13);
      expectStats(arena, { liveBytes: size, peakBytes: size, reservedBytes: grownBytes(size) });
    }
  });

  it("a large block without a tail gets one in the free page after it", async () => {
    const heap = await debugHeap();
    roomy(heap);
    const arena = heap.createArena();
    // Whole pages exactly: no tail.
    const p = arena.alloc(2 * PAGE - HEADS - 15);
    fill(arena, p, 14);
    expectStats(arena, { reservedBytes: 2 * PAGE });
    growInPlace(heap, arena, p, 2 * PAGE, 14);
    expectStats(arena, { reservedBytes: 2 * PAGE + SLOT });
  });

  it("a large block without a tail gets one in the first free slots of the subdivided page after it", async () => {
    const heap = await debugHeap();
    roomy(heap);
    const arena = heap.createArena();
    const q = arena.alloc(2 * PAGE - HEADS - 15);
    fill(arena, q, 15);
    // The page after q: b's chunk at its first slot, c's right after; then b goes and leaves slot 0 free.
    const b = heap.createArena({ name: "b" });
    const c = heap.createArena({ name: "c" });
    const pb = b.alloc(16);
    const pc = c.alloc(16);
    fill(c, pc, 16);
    expect(pageOf(pb)).toBe(pageOf(q) + 2);
    expect(pc - pb).toBe(SLOT);
    b.release();
    growInPlace(heap, arena, q, 2 * PAGE + 100, 15);
    expect(firstMismatch(c, pc, 16)).toBe(-1);
    // One slot is all there is there: more must move.
    growMoving(heap, arena, q, 2 * PAGE + 300, 15);
    ok(heap);
  });

  it("moves when another arena's blocks are in its tail page", async () => {
    const heap = await debugHeap({ maxPages: 32 });
    const big = heap.createArena({ name: "big" });
    const small = heap.createArena({ name: "small" });
    const p = big.alloc(70_000);
    fill(big, p, 17);
    const q = small.alloc(3000);
    fill(small, q, 18);
    expect(pageOf(q)).toBe(pageOf(p) + 1);
    growMoving(heap, big, p, 3 * PAGE, 17);
    expect(firstMismatch(small, q, 18)).toBe(-1);
  });
});

describe("doubling 16 B -> 64 KiB", () => {
  it("once a block moves to grow past 4 KiB it starts a page, and grows from there to a large block in place", async () => {
    const heap = await debugHeap();
    roomy(heap);
    const arena = heap.createArena();
    let p = arena.alloc(16);
    fill(arena, p, 19);
    const moves: number[] = [];
    for (let size = 32; size <= 65536; size *= 2) {
      const q = arena.realloc(p, size);
      if (q !== p) moves.push(size);
      expectPattern(arena, q, 19, size / 2);
      ok(heap);
      fill(arena, q, 19);
      p = q;
      if (size === 8192) expect(p % PAGE).toBe(HEADS);
    }
    expect(moves).toContain(8192);
    expect(moves.filter((size) => size > 8192)).toEqual([]);
    expectStats(arena, { liveBytes: 65536, reservedBytes: arena.stats().reservedBytes });
  });

  it("one such page at a time: while its block can still grow there, others move to the smallest free run", async () => {
    const heap = await debugHeap();
    const arena = heap.createArena();
    const base = inUseBytes(heap);
    const grow = (to: number) => arena.realloc(arena.alloc(16), to);
    const home = grow(8192);
    expect(home % PAGE).toBe(HEADS);
    const next = grow(8192);
    expect(next).toBe(home + allocBytes(8192));
    // home can no longer grow into a large block there: the next one starts a page again.
    expect(grow(8192) % PAGE).toBe(HEADS);
    ok(heap);
    // 40 blocks of 8 KiB (33 slots each) kept: the pages they fill, not a page each (without the
    // policy: 6 pages; with it, the page the newest may still grow in and a page's worth of free
    // slots left for last, as best fit takes the smallest run first).
    for (let i = 0; i < 37; i++) grow(8192);
    expect(inUseBytes(heap) - base).toBeLessThanOrEqual(8 * PAGE);
    // 40 more that doubled their way there alike (without the policy: 13 pages).
    for (let i = 0; i < 40; i++) {
      let p = arena.alloc(16);
      for (let size = 32; size <= 8192; size *= 2) p = arena.realloc(p, size);
    }
    expect(inUseBytes(heap) - base).toBeLessThanOrEqual(15 * PAGE);
    ok(heap);
  });
});

describe("growing in place keeps what a move keeps", () => {
  it("poison: the grown part of a small block reads 0x5a", async () => {
    const { heap, arena } = await setup({ poison: true });
    const p = arena.alloc(16);
    fill(arena, p, 20);
    expect(arena.realloc(p, 200)).toBe(p);
    expectPattern(arena, p, 20, 16);
    expectFilled(raw(heap, p + 16, 184), FRESH, "grown part");
    ok(heap);
  });

  it("poison: the grown part of a medium and a large block reads 0x5a; a large block grows by whole pages", async () => {
    const heap = await debugHeap({ poison: true });
    roomy(heap);
    const arena = heap.createArena();
    const q = arena.alloc(40_000);
    fill(arena, q, 21);
    expect(q % PAGE).toBe(HEADS);
    for (const [from, to] of [
      [40_000, 60_000],
      [60_000, 100_000],
      [100_000, 250_000],
    ]) {
      expect(arena.realloc(q, to)).toBe(q);
      expectPattern(arena, q, 21, from);
      expectFilled(raw(heap, q + from, to - from), FRESH, "grown part");
      expectStats(arena, { reservedBytes: grownBytes(to, true) });
      ok(heap);
      fill(arena, q, 21);
    }
    expect(grownBytes(250_000, true) % PAGE).toBe(0);
    arena.free(q);
    expectFilled(raw(heap, q, 250_000), FREED, "freed block");
    ok(heap);
  });

  it("a destructor sees the grown block at the same pointer, in its place in release order", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const seen: number[] = [];
    arena.add(() => log.push("A"));
    const small = arena.alloc(16, {
      onRelease: (ptr: Ptr) => {
        seen.push(ptr, firstMismatch(arena, ptr, 22, 100));
        log.push("small");
      },
    });
    fill(arena, small, 22);
    // Its chunk is the arena's first, one slot, holding the action and the destructor's node before it.
    growInPlace(heap, arena, small, 100, 22);
    const medium = arena.alloc(5000, {
      onRelease: (ptr: Ptr) => {
        seen.push(ptr, firstMismatch(arena, ptr, 23, 20_000));
        log.push("medium");
      },
    });
    fill(arena, medium, 23);
    growInPlace(heap, arena, medium, 20_000, 23);
    arena.add(() => log.push("B"));
    expectStats(arena, { allocations: 2, actions: 2, liveBytes: 20_100 });
    arena.release();
    expect(log).toEqual(["B", "medium", "small", "A"]);
    expect(seen).toEqual([medium, -1, small, -1]);
    ok(heap);
  });

  it("a realloc past maxBytes changes nothing, and one within it then grows in place", async () => {
    const { heap, arena } = await setup({}, { maxBytes: 10_000 });
    const p = arena.alloc(5000);
    fill(arena, p, 24);
    const stats = arena.stats();
    expectCode(() => arena.realloc(p, 10_001), "ENOMEM");
    expect(arena.stats()).toEqual(stats);
    expect(arena.sizeOf(p)).toBe(5000);
    expectPattern(arena, p, 24);
    ok(heap);
    growInPlace(heap, arena, p, 10_000, 24);
    expectStats(arena, { liveBytes: 10_000, peakBytes: 10_000, reservedBytes: grownBytes(10_000) });
  });

  it("a realloc that can neither grow in place nor move (out of pages) changes nothing", async () => {
    const heap = await debugHeap({ maxPages: 12 });
    const arena = heap.createArena();
    const other = heap.createArena({ name: "other" });
    const p = arena.alloc(3 * PAGE);
    fill(arena, p, 25);
    // Its tail page is shared, so it cannot grow into it; nor is there room to move.
    const q = other.alloc(5000);
    expect(pageOf(q)).toBe(pageOf(p) + 3);
    const stats = arena.stats();
    const bytes = heap.memory.buffer.byteLength;
    expectCode(() => arena.realloc(p, 8 * PAGE), "ENOMEM");
    expect(arena.stats()).toEqual(stats);
    expect(heap.memory.buffer.byteLength).toBe(bytes);
    expectPattern(arena, p, 25);
    ok(heap);
  });
});
