// Ownership finer than a page (assembly/layout.ts): small arenas share
// subdivided pages slot by slot, medium blocks are runs of slots, large
// blocks are whole pages and a tail of slots. What a user can count on:
// small arenas cost little linear memory, every size reserves about what it
// asks, a pointer is checked against the owner of its slot (never a guess
// from bytes a user could write), and every page comes back. Memory here is
// counted, not timed: the same figures as the bench's, deterministic.

import { describe, expect, it } from "vitest";
import type { Arena, Heap, Ptr } from "../src/index.js";
import { inUseBytes } from "../tools/bench/small.js";
import { asPtr, expectCode, fill, firstMismatch } from "./helpers.js";
import { debugHeap, ok } from "./helpers3.js";

const PAGE = 65536;
const SLOT = 256;
/** Where a subdivided page's slot table starts, one u32 per slot (assembly/layout.ts). */
const SLOT_TABLE = 248 * SLOT;

function words(heap: Heap): Uint32Array {
  return new Uint32Array(heap.memory.buffer);
}

/** The owner-map entry of the page of `ptr` (mapInfo: owner map address first, capacity fourth). */
function pageOwner(heap: Heap, ptr: number): number {
  const w = words(heap);
  const ownerMap = w[heap.core.mapInfo() >>> 2];
  return w[(ownerMap >>> 2) + Math.floor(ptr / PAGE)];
}

/** The index in a Uint32Array over memory of the slot entry of `ptr`, in its subdivided page. */
function slotEntry(ptr: number): number {
  return (Math.floor(ptr / PAGE) * PAGE + SLOT_TABLE + Math.floor((ptr % PAGE) / SLOT) * 4) >>> 2;
}

function recordOf(arena: Arena): number {
  return (arena as unknown as { state: { record: number } }).state.record;
}

/** Linear memory in use (not free pages) per child, over `count` children made by `make`. */
function perChild(heap: Heap, count: number, make: (child: Arena) => void): number {
  const parent = heap.createArena({ name: "parent" });
  const before = inUseBytes(heap);
  for (let i = 0; i < count; i++) make(parent.createChild({ name: "request" }));
  const each = (inUseBytes(heap) - before) / count;
  ok(heap);
  parent.release();
  ok(heap);
  return each;
}

describe("small arenas cost little linear memory", () => {
  it("a request-scoped child holding 8 x 64 B and 2 actions: at most 2 KiB each (was 64 KiB, a page each)", async () => {
    const heap = await debugHeap();
    const each = perChild(heap, 500, (child) => {
      for (let k = 0; k < 8; k++) child.alloc(64);
      child.add(() => {}, undefined, "close");
      child.add(() => {}, undefined, "log");
    });
    expect(each).toBeLessThanOrEqual(2048);
    expect(each).toBeGreaterThan(8 * 64);
  });

  it("an empty child: at most 512 B (its record and the parent's child node)", async () => {
    const heap = await debugHeap();
    expect(perChild(heap, 500, () => {})).toBeLessThanOrEqual(512);
  });

  it("100,000 live children with one 16-B allocation each fit in 64 MiB (the old layout ran out at 65,175)", async () => {
    const heap = await debugHeap();
    const parent = heap.createArena({ name: "parent" });
    const before = inUseBytes(heap);
    const children: Arena[] = [];
    for (let i = 0; i < 100_000; i++) {
      const child = parent.createChild();
      fill(child, child.alloc(16), i);
      children.push(child);
    }
    expect(inUseBytes(heap) - before).toBeLessThanOrEqual(64 * 1024 * 1024);
    expect(children[99_999].stats().reservedBytes).toBe(SLOT);
    parent.release();
    ok(heap);
  });

  it("a small arena's chunks grow with what it holds: one slot first, then as much again", async () => {
    const heap = await debugHeap();
    const arena = heap.createArena();
    arena.alloc(16);
    expect(arena.stats().reservedBytes).toBe(SLOT);
    for (let i = 0; i < 7; i++) arena.alloc(16);
    expect(arena.stats().reservedBytes).toBe(2 * SLOT);
    for (let i = 0; i < 200; i++) arena.alloc(16);
    // 208 blocks of 32 B: 6.5 KiB in chunks that doubled, never a whole page.
    expect(arena.stats().reservedBytes).toBeLessThan(16 * 1024);
    ok(heap);
  });
});

describe("every size reserves about what it asks", () => {
  it.each([
    [32 * 1024, "a medium block: a run of slots"],
    [48 * 1024, "a medium block: a run of slots"],
    [64 * 1024, "a large block: a page and a tail of one slot (was two pages)"],
    [200_000, "a large block: three pages and a tail"],
  ])("%i B, %s: within 2%", async (size) => {
    const heap = await debugHeap();
    const arena = heap.createArena();
    for (let i = 0; i < 20; i++) arena.alloc(size);
    expect(arena.stats().reservedBytes / (20 * size)).toBeLessThanOrEqual(1.02);
    ok(heap);
  });

  it("a large block's tail page serves others; after the block goes, its like fits again without growing", async () => {
    const heap = await debugHeap({ maxPages: 16 });
    const big = heap.createArena({ name: "big" });
    const small = heap.createArena({ name: "small" });
    const p = big.alloc(5 * PAGE);
    const tail = p + 5 * PAGE; // the page after the block's whole pages holds its tail
    const q = small.alloc(3000);
    fill(small, q, 9);
    expect(Math.floor(q / PAGE)).toBe(Math.floor(tail / PAGE));
    big.free(p);
    ok(heap);
    const bytes = heap.memory.buffer.byteLength;
    expect(big.alloc(5 * PAGE)).toBe(p);
    expect(heap.memory.buffer.byteLength).toBe(bytes);
    expect(firstMismatch(small, q, 9)).toBe(-1);
    ok(heap);
  });
});

describe("a pointer is checked against the owner of its slot", () => {
  it("two arenas in one subdivided page: neither frees the other's block, nor a chunk head or the slot table", async () => {
    const heap = await debugHeap();
    const a = heap.createArena({ name: "a" });
    const b = heap.createArena({ name: "b" });
    const pa = a.alloc(40);
    const pb = b.alloc(40);
    expect(Math.floor(pa / PAGE)).toBe(Math.floor(pb / PAGE));
    expect(words(heap)[slotEntry(pa)]).toBe(recordOf(a));
    expect(words(heap)[slotEntry(pb)]).toBe(recordOf(b));
    const page = Math.floor(pa / PAGE) * PAGE;
    for (const [arena, ptr] of [
      [a, pb],
      [b, pa],
      [a, pa - 16],
      [a, (pa & ~(SLOT - 1)) + 16],
      [a, page + SLOT_TABLE + 64],
      [a, page + PAGE - 512],
    ] as [Arena, number][]) {
      expectCode(() => arena.free(asPtr(ptr)), "EBADPTR");
    }
    ok(heap);
    a.free(pa);
    b.free(pb);
    ok(heap);
  });

  it("a medium block: only its payload frees it, not a pointer into it, its head or a later slot", async () => {
    const heap = await debugHeap();
    const arena = heap.createArena();
    const p = arena.alloc(10_000);
    // A user writes what a chunk head would hold; the slot table, not these bytes, decides.
    const w = words(heap);
    for (let k = 0; k < 10_000 / 4; k++) w[(p >>> 2) + k] = p + 4096;
    for (const ptr of [p + 8, p + 4096, p - 16, p - 32, p + 256]) expectCode(() => arena.free(asPtr(ptr)), "EBADPTR");
    expect(arena.sizeOf(p)).toBe(10_000);
    arena.free(p);
    expectCode(() => arena.free(p), "EBADPTR");
    ok(heap);
  });

  it("a freed slot says nobody: a stale pointer into a released child's chunk is EBADPTR in a new arena on its record", async () => {
    const heap = await debugHeap();
    const parent = heap.createArena();
    const keep = parent.alloc(16); // keeps the subdivided page alive
    const child = parent.createChild();
    const stale = child.alloc(16);
    const record = recordOf(child);
    child.release();
    const next = parent.createChild();
    expect(recordOf(next)).toBe(record);
    expectCode(() => next.free(stale as Ptr), "EBADPTR");
    parent.free(keep);
    ok(heap);
  });
});

describe("every page comes back", () => {
  it("children made and released in any order leave no subdivided page behind", async () => {
    const heap = await debugHeap({ maxPages: 64 });
    const parent = heap.createArena();
    const children: Arena[] = [];
    for (let i = 0; i < 2000; i++) {
      const child = parent.createChild();
      child.alloc(16 + (i % 50) * 24);
      if (i % 7 === 0) child.alloc(5000);
      children.push(child);
    }
    for (let i = 0; i < children.length; i += 2) children[i].release();
    ok(heap);
    for (let i = 1; i < children.length; i += 2) children[i].release();
    ok(heap);
    parent.release();
    ok(heap);
    // Every page is free again, or META (the core's maps and the recycled arena records).
    const pages = heap.memory.buffer.byteLength / PAGE;
    const owners = new Set<number>();
    for (let page = 1; page < pages; page++) owners.add(pageOwner(heap, page * PAGE));
    expect([...owners].sort()).toEqual([0, 2]);
  });

  it("check() names a slot nobody holds (12) and a slot table that lost its own entries (11)", async () => {
    const heap = await debugHeap();
    const arena = heap.createArena();
    const p = arena.alloc(40);
    const w = words(heap);
    const entry = slotEntry(p);
    expect(pageOwner(heap, p)).toBe(8);
    w[entry] = 0;
    expect(heap.check()).toBe(12);
    w[entry] = recordOf(arena);
    const own = slotEntry(Math.floor(p / PAGE) * PAGE + SLOT_TABLE);
    w[own] = 0;
    expect(heap.check()).toBe(11);
    w[own] = 2;
    ok(heap);
  });
});
