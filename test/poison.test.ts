// Slab-style poisoning (option poison: true on Heap.create or createArena):
// freed payloads are filled with 0x6b, fresh non-zeroed ones with 0x5a;
// zeroed allocations still read 0. Off by default.
import { describe, expect, it } from "vitest";
import { bad, expectCode, fill } from "./helpers.js";
import { expectFilled, firstNot, ok, raw, setup } from "./helpers3.js";

const FREED = 0x6b;
const FRESH = 0x5a;

describe("poison: true", () => {
  it("fresh non-zeroed payloads read 0x5a, also on brand-new memory", async () => {
    const { heap, arena } = await setup({ poison: true });
    for (const size of [1, 7, 16, 100, 4096, 40_000, 200_000]) {
      const p = arena.alloc(size);
      expectFilled(arena.bytes(p), FRESH, `alloc(${size})`);
    }
    const q = arena.alloc(64, { align: 256 });
    expectFilled(arena.bytes(q), FRESH, "aligned alloc");
    const r = arena.allocArray(10, 10);
    expectFilled(arena.bytes(r), FRESH, "allocArray");
    ok(heap);
  });

  it("zeroed allocations read 0 (zero: true, allocZeroed, allocArray zero)", async () => {
    const { heap, arena } = await setup({ poison: true });
    const victim = arena.alloc(256);
    arena.free(victim); // leave a 0x6b block to be reused
    expectFilled(arena.bytes(arena.alloc(256, { zero: true })), 0, "alloc zero");
    expectFilled(arena.bytes(arena.allocZeroed(300)), 0, "allocZeroed");
    expectFilled(arena.bytes(arena.allocArray(8, 8, { zero: true })), 0, "allocArray zero");
    ok(heap);
  });

  it("free fills the whole payload with 0x6b", async () => {
    const { heap, arena } = await setup({ poison: true });
    arena.alloc(8); // neighbours stay untouched
    for (const size of [1, 24, 1000, 40_000]) {
      const p = arena.alloc(size);
      fill(arena, p, 1);
      const keep = arena.alloc(16);
      fill(arena, keep, 2);
      arena.free(p);
      expectFilled(raw(heap, p, size), FREED, `freed ${size}`);
      expect(arena.bytes(keep)[0]).not.toBe(FREED);
    }
    ok(heap);
  });

  it("a reused freed block is re-poisoned to 0x5a", async () => {
    const { heap, arena } = await setup({ poison: true });
    const p = arena.alloc(48);
    fill(arena, p, 3);
    arena.free(p);
    const q = arena.alloc(48);
    expectFilled(arena.bytes(q), FRESH, "reused block");
    ok(heap);
  });

  it("realloc that moves: the old block reads 0x6b, the new one keeps the contents and its grown part reads 0x5a", async () => {
    const { heap, arena } = await setup({ poison: true });
    const p = arena.alloc(32);
    fill(arena, p, 4);
    const expected = Array.from(arena.bytes(p));
    arena.alloc(32); // a neighbour: growing to a large size must move
    const q = arena.realloc(p, 50_000);
    expect(q).not.toBe(p);
    expect(Array.from(arena.bytes(q, 32))).toEqual(expected);
    expectFilled(raw(heap, q + 32, 50_000 - 32), FRESH, "grown part");
    expectFilled(raw(heap, p, 32), FREED, "old block");
    ok(heap);
  });

  it("realloc that shrinks: the cut-off tail reads 0x6b (or the whole old block, if it moved)", async () => {
    const { heap, arena } = await setup({ poison: true });
    const p = arena.alloc(200);
    fill(arena, p, 5);
    const head = Array.from(arena.bytes(p, 50));
    const q = arena.realloc(p, 50);
    expect(Array.from(arena.bytes(q))).toEqual(head);
    if (q === p) expectFilled(raw(heap, p + 50, 150), FREED, "shrunk tail");
    else expectFilled(raw(heap, p, 200), FREED, "old block");
    ok(heap);
  });

  it("realloc that grows in place (or not): the grown part reads 0x5a", async () => {
    const { heap, arena } = await setup({ poison: true });
    const p = arena.alloc(10);
    fill(arena, p, 6);
    const head = Array.from(arena.bytes(p));
    const q = arena.realloc(p, 14);
    expect(Array.from(arena.bytes(q, 10))).toEqual(head);
    expectFilled(raw(heap, q + 10, 4), FRESH, "grown bytes");
    ok(heap);
  });

  it("release fills the payloads of released allocations with 0x6b", async () => {
    const { heap, arena } = await setup({ poison: true });
    const small = arena.alloc(100);
    const large = arena.alloc(100_000);
    fill(arena, small, 7);
    fill(arena, large, 8);
    arena.release();
    expectFilled(raw(heap, small, 100), FREED, "small after release");
    expectFilled(raw(heap, large, 100_000), FREED, "large after release");
    ok(heap);
  });

  it("reset fills the payloads with 0x6b too", async () => {
    const { heap, arena } = await setup({ poison: true });
    const p = arena.alloc(500);
    fill(arena, p, 9);
    arena.reset();
    expectFilled(raw(heap, p, 500), FREED, "after reset");
    ok(heap);
  });

  it("a destructor still sees the contents, not the poison", async () => {
    const { heap, arena } = await setup({ poison: true });
    const seen: number[] = [];
    const p = arena.alloc(4, { onRelease: (ptr) => seen.push(...raw(heap, ptr, 4)) });
    arena.bytes(p).set([1, 2, 3, 4]);
    arena.free(p);
    expect(seen).toEqual([1, 2, 3, 4]);
    expectFilled(raw(heap, p, 4), FREED, "after the destructor");
    ok(heap);
  });

  it("dup and strdup copy their bytes (no poison in them)", async () => {
    const { heap, arena } = await setup({ poison: true });
    const p = arena.dup(Uint8Array.from([1, 2, 3]));
    expect(Array.from(arena.bytes(p))).toEqual([1, 2, 3]);
    const s = arena.strdup("ok");
    expect(Array.from(arena.bytes(s))).toEqual([0x6f, 0x6b, 0]);
    expect(arena.readString(s)).toBe("ok");
    ok(heap);
  });

  it("as an arena option on a heap without poison", async () => {
    const { heap, arena: plain } = await setup();
    const poisoned = heap.createArena({ poison: true });
    const p = poisoned.alloc(64);
    expectFilled(poisoned.bytes(p), FRESH, "arena-level poison");
    poisoned.free(p);
    expectFilled(raw(heap, p, 64), FREED, "arena-level poison after free");
    const q = plain.alloc(64);
    expect(firstNot(plain.bytes(q), FRESH)).not.toBe(-1);
    ok(heap);
  });

  it("an arena option poison: false overrides the heap's", async () => {
    const { heap } = await setup({ poison: true });
    const arena = heap.createArena({ poison: false });
    const p = arena.alloc(64);
    expect(firstNot(arena.bytes(p), FRESH)).not.toBe(-1);
    fill(arena, p, 1);
    arena.free(p);
    expect(firstNot(raw(heap, p, 64), FREED)).not.toBe(-1);
    ok(heap);
  });

  it("a non-boolean poison option -> EINVAL", async () => {
    const { heap } = await setup();
    expectCode(() => heap.createArena({ poison: bad(1) }), "EINVAL");
    ok(heap);
  });
});

describe("poison off (the default)", () => {
  it("fresh allocations are not forced to 0x5a, freed ones not to 0x6b", async () => {
    const { heap, arena } = await setup();
    const p = arena.alloc(128);
    expect(firstNot(arena.bytes(p), FRESH)).not.toBe(-1);
    fill(arena, p, 2);
    arena.free(p);
    expect(firstNot(raw(heap, p, 128), FREED)).not.toBe(-1);
    const q = arena.alloc(128); // likely the same block: the old pattern may remain, but not 0x5a
    expect(firstNot(arena.bytes(q), FRESH)).not.toBe(-1);
    ok(heap);
  });

  it("realloc's grown part is not 0x5a and the old block is not 0x6b", async () => {
    const { heap, arena } = await setup();
    const p = arena.alloc(32);
    fill(arena, p, 3);
    arena.alloc(32);
    const q = arena.realloc(p, 50_000);
    expect(firstNot(raw(heap, q + 32, 1000), FRESH)).not.toBe(-1);
    expect(firstNot(raw(heap, p, 32), FREED)).not.toBe(-1);
    ok(heap);
  });
});
