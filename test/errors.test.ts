// Every error code of DESIGN §4, reached at least once, and "a failed call
// changes nothing": after each failure the stats, sizes, contents, action
// registrations and heap.check() are as before, and at the end the actions
// still run in their original newest-first order (Fixture.finish()).
import { describe, expect, it } from "vitest";
import { Arena, ArenaError, Heap, type Ptr } from "../src/index.js";
import {
  asPtr,
  bad,
  expectAllBytes,
  expectCode,
  expectCodeAsync,
  expectPattern,
  Fixture,
  fill,
  patternByte,
  type Tracked,
} from "./helpers.js";

const TWO_32 = 2 ** 32;

/** Numbers that are not integers in [0, 2^32-1], and non-numbers: EINVAL as a size or count. */
const INVALID_SIZES: readonly unknown[] = [
  TWO_32,
  TWO_32 + 16,
  TWO_32 + 1,
  2 ** 53,
  2 ** 53 + 2,
  Number.MAX_VALUE,
  -1,
  -16,
  -(2 ** 31),
  1.5,
  0.5,
  16.000001,
  Number.EPSILON,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  "16",
  "0",
  "",
  16n,
  0n,
  null,
  undefined,
  {},
  [],
  [16],
  true,
  false,
  { valueOf: () => 16 },
  new Number(16),
];

const name = (v: unknown) =>
  typeof v === "bigint" ? `${v}n` : typeof v === "string" ? JSON.stringify(v) : Array.isArray(v) ? `[${v}]` : String(v);

async function fixture(
  heapOptions: { maxPages?: number } = {},
  arenaOptions: { minAlign?: number; maxBytes?: number } = {},
): Promise<Fixture> {
  const heap = await Heap.create({ debug: true, ...heapOptions });
  return new Fixture(heap, heap.createArena(arenaOptions));
}

describe("EINVAL: sizes and counts", () => {
  it("valid sizes 0 and 1 allocate exactly that much", async () => {
    const f = await fixture();
    for (const size of [0, 1]) {
      const p = f.arena.alloc(size);
      expect(f.arena.sizeOf(p)).toBe(size);
      expect(f.arena.bytes(p).length).toBe(size);
      fill(f.arena, p, 200 + size);
      expectPattern(f.arena, p, 200 + size);
      f.tracked.push({ ptr: p, size, seed: 200 + size });
    }
    f.rebase();
    f.expectUnchanged();
    f.finish();
  });

  it.each(INVALID_SIZES.map((v) => [name(v), v]))("size %s -> EINVAL everywhere, nothing changes", async (_, size) => {
    const f = await fixture();
    const { arena } = f;
    const victim = f.tracked[5].ptr;
    expectCode(() => arena.alloc(bad(size)), "EINVAL");
    f.expectUnchanged();
    expectCode(() => arena.alloc(bad(size), { align: 64 }), "EINVAL");
    expectCode(() => arena.alloc(bad(size), { zero: true }), "EINVAL");
    expectCode(() => arena.allocZeroed(bad(size)), "EINVAL");
    expectCode(() => arena.allocArray(bad(size), 1), "EINVAL");
    expectCode(() => arena.allocArray(1, bad(size)), "EINVAL");
    expectCode(() => arena.allocArray(bad(size), 0), "EINVAL");
    expectCode(() => arena.allocArray(0, bad(size)), "EINVAL");
    f.expectUnchanged();
    expectCode(() => arena.realloc(victim, bad(size)), "EINVAL");
    f.expectUnchanged();
    if (size !== undefined) expectCode(() => arena.bytes(victim, bad(size)), "EINVAL");
    f.expectUnchanged();
    f.finish();
  });

  it("bytes(ptr, length) past the end of the allocation -> EINVAL; within it works", async () => {
    const f = await fixture();
    const t = f.tracked[5]; // 100 bytes
    expect(f.arena.bytes(t.ptr, 0).length).toBe(0);
    expect(f.arena.bytes(t.ptr, t.size).length).toBe(t.size);
    expect(f.arena.bytes(t.ptr).byteOffset).toBe(t.ptr);
    for (const length of [t.size + 1, t.size + 16, 4096, TWO_32 - 1]) {
      expectCode(() => f.arena.bytes(t.ptr, length), "EINVAL");
    }
    const zero = f.tracked[0]; // 0 bytes
    expect(f.arena.bytes(zero.ptr).length).toBe(0);
    expectCode(() => f.arena.bytes(zero.ptr, 1), "EINVAL");
    f.expectUnchanged();
    f.finish();
  });

  it("heap and arena options out of range -> EINVAL", async () => {
    for (const maxPages of [0, -1, 1.5, 65537, Number.NaN, "16"]) {
      await expectCodeAsync(() => Heap.create({ debug: true, maxPages: bad(maxPages) }), "EINVAL");
    }
    for (const initialPages of [0, -1, 1.5, Number.NaN, "2"]) {
      await expectCodeAsync(() => Heap.create({ debug: true, initialPages: bad(initialPages) }), "EINVAL");
    }
    const roomy = await Heap.create({ debug: true, initialPages: 4, maxPages: 64 });
    expect(roomy.memory.buffer.byteLength).toBeGreaterThanOrEqual(4 * 65536);
    expect(roomy.memory.buffer.byteLength).toBeLessThanOrEqual(64 * 65536);
    expect(roomy.check()).toBe(0);
    await expectCodeAsync(() => Arena.create({ minAlign: 3 }), "EINVAL");
    const f = await fixture();
    for (const maxBytes of [-1, 1.5, TWO_32, Number.NaN, "100", null]) {
      expectCode(() => f.heap.createArena({ maxBytes: bad(maxBytes) }), "EINVAL");
    }
    f.expectUnchanged();
    f.finish();
  });

  it("non-function actions -> EINVAL", async () => {
    const f = await fixture();
    for (const action of [undefined, null, 0, "x", {}, [], Symbol.iterator]) {
      expectCode(() => f.arena.add(bad<() => void>(action)), "EINVAL");
      expectCode(() => f.arena.addOrReset(bad<(d: unknown) => void>(action), 5), "EINVAL");
    }
    f.expectUnchanged();
    f.finish();
  });

  it("heap.check() on a release (non-debug) heap -> EINVAL", async () => {
    const heap = await Heap.create();
    expectCode(() => heap.check(), "EINVAL");
  });
});

describe("alignment", () => {
  const ALIGNS = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
  // Small sizes around the alignment, plus sizes past 32 KiB (large blocks in many allocators).
  const SIZES_FOR = (a: number) => [0, 1, a - 1, a, a + 1, 3 * a + 5, 17, 40_000 + a, 70_001];

  function checkNeighbours(arena: Arena, tracked: readonly Tracked[]): void {
    for (const t of tracked) {
      expect(arena.sizeOf(t.ptr)).toBe(t.size);
      expectPattern(arena, t.ptr, t.seed);
    }
  }

  it.each(ALIGNS)("minAlign %i: every payload aligned, full-size writes disturb nothing", async (align) => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena({ minAlign: align });
    const tracked: Tracked[] = [];
    for (let round = 0; round < 3; round++) {
      for (const size of SIZES_FOR(align)) {
        const ptr = arena.alloc(size);
        expect(ptr % align, `ptr ${ptr} size ${size}`).toBe(0);
        const seed = tracked.length + 1;
        fill(arena, ptr, seed);
        tracked.push({ ptr, size, seed });
      }
      const z = arena.allocZeroed(align + 3);
      expect(z % align).toBe(0);
      expectAllBytes(arena, z, 0);
      const arr = arena.allocArray(3, align + 1);
      expect(arr % align).toBe(0);
      fill(arena, z, 900 + round);
      fill(arena, arr, 950 + round);
      tracked.push(
        { ptr: z, size: align + 3, seed: 900 + round },
        { ptr: arr, size: 3 * (align + 1), seed: 950 + round },
      );
    }
    // Reuse after free keeps alignment too.
    for (let i = 0; i < tracked.length; i += 3) arena.free(tracked[i].ptr);
    const kept = tracked.filter((_, i) => i % 3 !== 0);
    for (const size of SIZES_FOR(align)) {
      const ptr = arena.alloc(size);
      expect(ptr % align).toBe(0);
      const seed = 500 + kept.length;
      fill(arena, ptr, seed);
      kept.push({ ptr, size, seed });
    }
    checkNeighbours(arena, kept);
    expect(heap.check()).toBe(0);
    arena.release();
    expect(heap.check()).toBe(0);
  });

  it.each([1, 2, 4, ...ALIGNS])("per-call align %i on a default arena", async (align) => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    const effective = Math.max(align, 16);
    const tracked: Tracked[] = [];
    for (let round = 0; round < 3; round++) {
      for (const size of SIZES_FOR(align)) {
        // Interleave differently aligned neighbours.
        const small = arena.alloc(round + 1);
        fill(arena, small, tracked.length + 1);
        tracked.push({ ptr: small, size: round + 1, seed: tracked.length + 1 });
        const ptr = arena.alloc(size, { align });
        expect(ptr % effective, `ptr ${ptr} size ${size}`).toBe(0);
        fill(arena, ptr, tracked.length + 1);
        tracked.push({ ptr, size, seed: tracked.length + 1 });
        const z = arena.alloc(size, { align, zero: true });
        expect(z % effective).toBe(0);
        expectAllBytes(arena, z, 0);
        fill(arena, z, tracked.length + 1);
        tracked.push({ ptr: z, size, seed: tracked.length + 1 });
      }
    }
    checkNeighbours(arena, tracked);
    expect(heap.check()).toBe(0);
    arena.release();
    expect(heap.check()).toBe(0);
  });

  it("per-call align above minAlign wins; below it minAlign holds", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena({ minAlign: 256 });
    for (let i = 0; i < 20; i++) {
      expect(arena.alloc(i, { align: 8 }) % 256).toBe(0);
      expect(arena.alloc(i, { align: 4096 }) % 4096).toBe(0);
    }
    expect(heap.check()).toBe(0);
    arena.release();
  });

  it.each([0, 3, 24, 8192, 65536, -8, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "16", TWO_32])(
    "invalid alignment %s -> EINVAL as per-call align, and as minAlign",
    async (align) => {
      const f = await fixture();
      expectCode(() => f.arena.alloc(16, { align: bad(align) }), "EINVAL");
      expectCode(() => f.arena.alloc(0, { align: bad(align) }), "EINVAL");
      expectCode(() => f.heap.createArena({ minAlign: bad(align) }), "EINVAL");
      f.expectUnchanged();
      f.finish();
    },
  );

  it.each([1, 2, 4])("minAlign %i (below 8) -> EINVAL", async (align) => {
    const heap = await Heap.create({ debug: true });
    expectCode(() => heap.createArena({ minAlign: align }), "EINVAL");
    expect(heap.check()).toBe(0);
  });

  it("unknown option values -> EINVAL (zero must be a boolean)", async () => {
    const f = await fixture();
    for (const zero of ["yes", 1, {}]) expectCode(() => f.arena.alloc(8, { zero: bad(zero) }), "EINVAL");
    f.expectUnchanged();
    f.finish();
  });
});

describe("EOVERFLOW and ENOMEM: sizes near 2^32", () => {
  it.each([TWO_32 - 1, TWO_32 - 16, TWO_32 - 8, TWO_32 - 2])(
    "size %i -> EOVERFLOW (header + size overflows)",
    async (size) => {
      const f = await fixture();
      expectCode(() => f.arena.alloc(size), "EOVERFLOW");
      expectCode(() => f.arena.allocZeroed(size), "EOVERFLOW");
      expectCode(() => f.arena.alloc(size, { align: 4096 }), "EOVERFLOW");
      f.expectUnchanged();
      expectCode(() => f.arena.realloc(f.tracked[3].ptr, size), "EOVERFLOW");
      f.expectUnchanged();
      f.finish();
    },
  );

  /** EOVERFLOW exactly when header (16) + worst-case padding (align - 1) + size exceeds 2^32-1, else ENOMEM. */
  const tooBig = (size: number, align: number) => (16 + align - 1 + size > TWO_32 - 1 ? "EOVERFLOW" : "ENOMEM");

  it.each([
    2 ** 31,
    2 ** 31 + 1,
    TWO_32 - 4096 - 17,
    TWO_32 - 4096 - 16,
    TWO_32 - 32,
    TWO_32 - 31,
    TWO_32 - 17,
    TWO_32 - 65536,
  ])("size %i never succeeds on a small heap: ENOMEM, or EOVERFLOW once header + padding overflow", async (size) => {
    const f = await fixture({ maxPages: 64 });
    expectCode(() => f.arena.alloc(size), tooBig(size, 16));
    expectCode(() => f.arena.alloc(size, { align: 4096 }), tooBig(size, 4096));
    expectCode(() => f.arena.realloc(f.tracked[2].ptr, size), tooBig(size, 16));
    f.expectUnchanged();
    expect(f.heap.memory.buffer.byteLength).toBeLessThanOrEqual(64 * 65536);
    f.finish();
  });

  it("allocArray: count * size overflow -> EOVERFLOW, including products that wrap to small numbers", async () => {
    const f = await fixture({ maxPages: 64 });
    const overflowing: Array<[number, number]> = [
      [65536, 65536], // exactly 2^32, wraps to 0
      [65537, 65537], // 2^32 + 2^17 + 1, wraps to 131073
      [2 ** 31 + 1, 2], // wraps to 2
      [2, 2 ** 31], // 2^32
      [3, 2 ** 31], // wraps to 2^31
      [TWO_32 - 1, 2],
      [TWO_32 - 1, TWO_32 - 1], // ~1.8e19, not even exact as a double
      [2 ** 20, 2 ** 12], // 2^32
      [65535, 65537], // exactly 2^32-1: the product fits, the header does not
      [TWO_32 - 1, 1],
      [1, TWO_32 - 1],
    ];
    for (const [count, size] of overflowing) {
      expectCode(() => f.arena.allocArray(count, size), "EOVERFLOW");
      expectCode(() => f.arena.allocArray(size, count), "EOVERFLOW");
      expectCode(() => f.arena.allocArray(count, size, { zero: true }), "EOVERFLOW");
    }
    f.expectUnchanged();
    // Products just below 2^32 (with room for the header) are fine arithmetic, but too big for 64 pages.
    for (const [count, size] of [
      [4095, 2 ** 20],
      [65535, 65535],
      [2 ** 16, 2 ** 15],
    ]) {
      expectCode(() => f.arena.allocArray(count, size), "ENOMEM");
    }
    f.expectUnchanged();
    // Zero products are valid zero-sized allocations.
    for (const [count, size] of [
      [0, TWO_32 - 1],
      [TWO_32 - 1, 0],
      [0, 0],
    ]) {
      const p = f.arena.allocArray(count, size);
      expect(f.arena.sizeOf(p)).toBe(0);
      f.arena.free(p);
    }
    // Small products are exact.
    const p = f.arena.allocArray(7, 9, { zero: true });
    expect(f.arena.sizeOf(p)).toBe(63);
    expectAllBytes(f.arena, p, 0);
    f.arena.free(p);
    f.rebase(); // the successful calls above may raise peakBytes
    f.expectUnchanged();
    f.finish();
  });
});

describe("ENOMEM", () => {
  it("arena over maxBytes -> ENOMEM; exactly at maxBytes is fine", async () => {
    const f = await fixture({}, { maxBytes: 20_000 });
    const used = f.tracked.reduce((s, t) => s + t.size, 0);
    expect(f.arena.stats().liveBytes).toBe(used);
    const room = 20_000 - used;
    expectCode(() => f.arena.alloc(room + 1), "ENOMEM");
    expectCode(() => f.arena.allocZeroed(room + 1), "ENOMEM");
    expectCode(() => f.arena.allocArray(room + 1, 1), "ENOMEM");
    const grown = f.tracked[4]; // 33 bytes
    expectCode(() => f.arena.realloc(grown.ptr, grown.size + room + 1), "ENOMEM");
    f.expectUnchanged();
    const p = f.arena.alloc(room);
    expect(f.arena.stats().liveBytes).toBe(20_000);
    expectCode(() => f.arena.alloc(1), "ENOMEM");
    const z = f.arena.alloc(0); // zero bytes still fit
    f.arena.free(z);
    f.arena.free(p);
    expect(f.arena.stats().peakBytes).toBe(20_000);
    f.rebase();
    f.expectUnchanged();
    f.finish();
  });

  it("maxBytes: 0 allows only zero-sized allocations", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena({ maxBytes: 0 });
    const p = arena.alloc(0);
    expectCode(() => arena.alloc(1), "ENOMEM");
    expectCode(() => arena.realloc(p, 1), "ENOMEM");
    expect(arena.sizeOf(p)).toBe(0);
    expect(arena.stats().liveBytes).toBe(0);
    arena.release();
    expect(heap.check()).toBe(0);
  });

  it("heap at maxPages -> ENOMEM with nothing changed", async () => {
    const f = await fixture({ maxPages: 32 });
    const before = f.heap.memory.buffer.byteLength;
    expectCode(() => f.arena.alloc(32 * 65536), "ENOMEM");
    expectCode(() => f.arena.alloc(8 * 65536 * 5), "ENOMEM");
    f.expectUnchanged();
    expect(f.heap.memory.buffer.byteLength).toBeLessThanOrEqual(32 * 65536);
    expect(f.heap.memory.buffer.byteLength).toBeGreaterThanOrEqual(before);
    f.finish();
  });
});

describe("EBADPTR", () => {
  /** Pointers that are not the start of a live allocation of `f.arena`. */
  function badPointers(f: Fixture, foreign: readonly Ptr[]): number[] {
    const live = new Set<number>(f.tracked.map((t) => t.ptr));
    const big = f.tracked.find((t) => t.size >= 100) as Tracked;
    const large = f.tracked.find((t) => t.size >= 100_000) as Tracked;
    const limit = f.heap.memory.buffer.byteLength;
    const candidates = [
      ...foreign,
      large.ptr + 16,
      large.ptr + 4096,
      large.ptr + 65536,
      large.ptr + large.size - 16,
      large.ptr - 16,
      large.ptr - 65536,
      // The start of the 64 KiB page holding a small allocation, and just after it (chunk metadata in many designs).
      big.ptr - (big.ptr % 65536),
      big.ptr - (big.ptr % 65536) + 16,
      big.ptr - (big.ptr % 65536) + 64,
      big.ptr - (big.ptr % 65536) + 1024,
      // The last granules before the first payload a small chunk can hold (1056): free() finds them by bitmap alone.
      big.ptr - (big.ptr % 65536) + 1040,
      big.ptr - (big.ptr % 65536) + 1048,
      big.ptr + 8,
      big.ptr + 1,
      big.ptr + 16,
      big.ptr + 4,
      big.ptr + big.size - 1,
      big.ptr - 1,
      limit,
      limit + 16,
      limit + 65536 * 16,
      TWO_32 - 16,
      TWO_32 - 1,
      0,
      1,
      8,
      16,
      12345,
    ];
    return candidates.filter((p) => !live.has(p));
  }

  /**
   * Numbers that are not integers: EINVAL, as for every number (DESIGN §4),
   * and nothing changes (ToInt32 would turn ptr + 0.5 into a live pointer).
   */
  function fractionalPointers(f: Fixture): number[] {
    const big = f.tracked.find((t) => t.size >= 100) as Tracked;
    return [big.ptr + 0.5, big.ptr - 0.5, f.tracked[0].ptr + 0.25, Number.NaN, 1.5];
  }

  it("foreign, interior, beyond-memory, zero, unaligned and fractional pointers are rejected everywhere", async () => {
    const f = await fixture();
    // A large allocation (a run of pages of its own) next to the small ones.
    const large = f.arena.alloc(100_000);
    fill(f.arena, large, 77);
    f.tracked.push({ ptr: large, size: 100_000, seed: 77 });
    f.rebase();
    const other = f.heap.createArena();
    const foreign = [other.alloc(100), other.alloc(0), other.alloc(16), other.alloc(70_000)];
    for (const p of foreign) other.bytes(p).fill(0x33);
    for (const p of badPointers(f, foreign)) {
      expectCode(() => f.arena.free(asPtr(p)), "EBADPTR");
      expectCode(() => f.arena.sizeOf(asPtr(p)), "EBADPTR");
      expectCode(() => f.arena.realloc(asPtr(p), 8), "EBADPTR");
      expectCode(() => f.arena.bytes(asPtr(p)), "EBADPTR");
      expectCode(() => f.arena.bytes(asPtr(p), 0), "EBADPTR");
    }
    for (const p of fractionalPointers(f)) {
      expectCode(() => f.arena.free(asPtr(p)), "EINVAL");
      expectCode(() => f.arena.sizeOf(asPtr(p)), "EINVAL");
      expectCode(() => f.arena.realloc(asPtr(p), 8), "EINVAL");
      expectCode(() => f.arena.bytes(asPtr(p)), "EINVAL");
    }
    f.expectUnchanged();
    // The other arena's allocations survived the attempts too.
    for (const p of foreign) expect(other.bytes(p).every((b) => b === 0x33)).toBe(true);
    expect(other.stats().allocations).toBe(4);
    f.finish();
    other.release();
    expect(f.heap.check()).toBe(0);
  });

  it("pointers that wrap to a live allocation modulo 2^32 or are negative are rejected", async () => {
    const f = await fixture();
    for (const t of f.tracked) {
      for (const p of [t.ptr + TWO_32, t.ptr - TWO_32, t.ptr + 2 ** 53, -t.ptr]) {
        expectCode(() => f.arena.free(asPtr(p)), "EINVAL");
        expectCode(() => f.arena.sizeOf(asPtr(p)), "EINVAL");
      }
    }
    f.expectUnchanged();
    f.finish();
  });

  it("non-number pointers -> EINVAL", async () => {
    const f = await fixture();
    const p = f.tracked[3].ptr;
    for (const v of [String(p), BigInt(p), null, undefined, {}, [p], { valueOf: () => p }]) {
      expectCode(() => f.arena.free(bad(v)), "EINVAL");
      expectCode(() => f.arena.sizeOf(bad(v)), "EINVAL");
      expectCode(() => f.arena.realloc(bad(v), 8), "EINVAL");
    }
    f.expectUnchanged();
    f.finish();
  });

  it("double free, and use of a freed pointer, -> EBADPTR", async () => {
    const f = await fixture();
    const extra: Tracked[] = [];
    for (const size of [0, 1, 16, 100, 5000, 40_000, 300_000]) extra.push({ ptr: f.arena.alloc(size), size, seed: 0 });
    for (const e of extra) f.arena.free(e.ptr);
    f.rebase();
    f.expectUnchanged();
    for (const e of extra) {
      expectCode(() => f.arena.free(e.ptr), "EBADPTR");
      expectCode(() => f.arena.sizeOf(e.ptr), "EBADPTR");
      expectCode(() => f.arena.realloc(e.ptr, 10), "EBADPTR");
      expectCode(() => f.arena.bytes(e.ptr), "EBADPTR");
    }
    f.expectUnchanged();
    f.finish();
  });

  it("a pointer freed and then reused is live only through the new allocation", async () => {
    const f = await fixture();
    const p = f.arena.alloc(48);
    f.arena.free(p);
    const reused: Ptr[] = [];
    for (let i = 0; i < 8; i++) reused.push(f.arena.alloc(48));
    // Whether or not p came back, exactly the live ones are accepted.
    for (const q of reused) expect(f.arena.sizeOf(q)).toBe(48);
    for (const q of reused) f.arena.free(q);
    f.rebase();
    for (const q of reused) expectCode(() => f.arena.free(q), "EBADPTR");
    f.expectUnchanged();
    f.finish();
  });

  it("a pointer of an arena on another heap is rejected unless it happens to be a live start here", async () => {
    const f = await fixture();
    const elsewhere = await Arena.create({ debug: true });
    const live = new Set<number>(f.tracked.map((t) => t.ptr));
    for (let i = 0; i < 30; i++) {
      const q = elsewhere.alloc(i * 5);
      if (!live.has(q)) expectCode(() => f.arena.free(q), "EBADPTR");
    }
    f.expectUnchanged();
    f.finish();
    elsewhere.release();
  });
});

describe("alloc(0)", () => {
  it("returns unique, live, freeable pointers", async () => {
    const f = await fixture();
    const ptrs: Ptr[] = [];
    for (let i = 0; i < 1000; i++) ptrs.push(f.arena.alloc(0));
    const all = new Set<number>([...ptrs, ...f.tracked.map((t) => t.ptr)]);
    expect(all.size).toBe(ptrs.length + f.tracked.length);
    for (const p of ptrs) {
      expect(f.arena.sizeOf(p)).toBe(0);
      expect(f.arena.bytes(p).length).toBe(0);
      expect(p % 16).toBe(0);
    }
    expect(f.arena.stats().allocations).toBe(f.tracked.length + 1000);
    expect(f.heap.check()).toBe(0);
    for (const p of ptrs) f.arena.free(p);
    // The chunks taken for them stay the arena's (reservedBytes grew); the rest is as before.
    const { reservedBytes, ...after } = f.arena.stats();
    expect(reservedBytes).toBeGreaterThan(0);
    expect(after).toMatchObject({
      allocations: f.tracked.length,
      liveBytes: f.tracked.reduce((s, t) => s + t.size, 0),
    });
    f.rebase();
    for (const p of ptrs.slice(0, 10)) expectCode(() => f.arena.free(p), "EBADPTR");
    f.expectUnchanged();
    f.finish();
  });
});

describe("ESTALE, ERELEASED and EBUSY leave the state unchanged", () => {
  it("ESTALE", async () => {
    const f = await fixture();
    const h = f.arena.add(() => {});
    f.arena.removeAction(h);
    const g = f.arena.add(() => {});
    f.arena.releaseAction(g);
    f.expectUnchanged();
    for (const stale of [h, g]) {
      expectCode(() => f.arena.removeAction(stale), "ESTALE");
      expectCode(() => f.arena.releaseAction(stale), "ESTALE");
      expect(f.arena.hasAction(stale)).toBe(false);
    }
    for (const garbage of [undefined, null, 0, 12345, {}, "h"]) {
      expectCode(() => f.arena.removeAction(bad(garbage)), "EINVAL");
      expectCode(() => f.arena.releaseAction(bad(garbage)), "EINVAL");
      expectCode(() => f.arena.hasAction(bad(garbage)), "EINVAL");
    }
    f.expectUnchanged();
    f.finish();
  });

  it("ERELEASED on one arena leaves its neighbour arena untouched", async () => {
    const f = await fixture();
    const doomed = f.heap.createArena();
    const p = doomed.alloc(64);
    const h = doomed.add(() => {});
    doomed.release();
    expectCode(() => doomed.alloc(8), "ERELEASED");
    expectCode(() => doomed.free(p), "ERELEASED");
    expectCode(() => doomed.realloc(p, 128), "ERELEASED");
    expectCode(() => doomed.removeAction(h), "ERELEASED");
    expectCode(() => doomed.add(() => {}), "ERELEASED");
    f.expectUnchanged();
    f.finish();
  });

  it("EBUSY during release leaves the release order and memory intact", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    const log: number[] = [];
    const tracked: Tracked[] = [];
    for (let i = 0; i < 6; i++) {
      const ptr = arena.alloc(20 + i);
      fill(arena, ptr, i + 1);
      tracked.push({ ptr, size: 20 + i, seed: i + 1 });
      arena.add(() => {
        log.push(i);
        for (const call of [() => arena.alloc(8), () => arena.add(() => log.push(-1)), () => arena.allocZeroed(4)]) {
          try {
            call();
            log.push(-2);
          } catch (e) {
            if (!(e instanceof ArenaError) || e.code !== "EBUSY") log.push(-3);
          }
        }
        // Older allocations are still intact and live.
        for (const t of tracked.slice(0, i + 1)) {
          if (arena.sizeOf(t.ptr) !== t.size) log.push(-4);
          if (arena.bytes(t.ptr).some((b, j) => b !== patternByte(t.seed, j))) log.push(-5);
        }
      });
    }
    arena.release();
    expect(log).toEqual([5, 4, 3, 2, 1, 0]);
    expect(heap.check()).toBe(0);
  });
});
