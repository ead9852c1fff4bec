// Destructors: alloc(size, { onRelease }) runs onRelease(ptr) with the memory
// still valid when the allocation is freed or released (release, reset,
// releaseGroup), at its newest-first place among the actions
// [devres_alloc(release, size), talloc_set_destructor].
import { describe, expect, it } from "vitest";
import type { Ptr } from "../src/index.js";
import { bad, capture, exhaust, expectCode, fill, patternByte, type Suppressed, thrownOrder } from "./helpers.js";
import { expectStats, ok, raw, setup } from "./helpers3.js";

/** The pattern `seed` over `n` bytes, as a plain array. */
function pattern(seed: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => patternByte(seed, i));
}

describe("the destructor sees valid memory", () => {
  it("on free(ptr): called once with ptr, contents readable, then the memory is freed", async () => {
    const { heap, arena } = await setup();
    const calls: { ptr: number; bytes: number[]; args: number }[] = [];
    const p = arena.alloc(40, {
      onRelease: (...args: unknown[]) => {
        const ptr = args[0] as number;
        calls.push({ ptr, bytes: Array.from(raw(heap, ptr, 40)), args: args.length });
      },
    });
    fill(arena, p, 3);
    ok(heap);
    expectStats(arena, { allocations: 1, actions: 0, liveBytes: 40 });
    arena.free(p);
    expect(calls).toEqual([{ ptr: p, bytes: pattern(3, 40), args: 1 }]);
    expectStats(arena, { allocations: 0, actions: 0, liveBytes: 0 });
    expectCode(() => arena.sizeOf(p), "EBADPTR");
    ok(heap);
    arena.release();
    expect(calls.length).toBe(1);
    ok(heap);
  });

  it("on release(): every destructor reads its own contents", async () => {
    const { heap, arena } = await setup();
    const seen: [number, number[]][] = [];
    const ptrs: Ptr[] = [];
    for (let i = 0; i < 5; i++) {
      const size = 10 + i * 100;
      const p = arena.alloc(size, { onRelease: (ptr: Ptr) => seen.push([ptr, Array.from(raw(heap, ptr, size))]) });
      fill(arena, p, i + 1);
      ptrs.push(p);
      arena.alloc(33); // a plain allocation between them
    }
    ok(heap);
    arena.release();
    expect(seen).toEqual(ptrs.map((p, i) => [p, pattern(i + 1, 10 + i * 100)]).reverse());
    ok(heap);
  });

  it("on reset(): destructors run with valid memory and the arena stays usable", async () => {
    const { heap, arena } = await setup();
    const seen: number[][] = [];
    const p = arena.alloc(16, { onRelease: (ptr: Ptr) => seen.push(Array.from(raw(heap, ptr, 16))) });
    fill(arena, p, 9);
    arena.reset();
    expect(seen).toEqual([pattern(9, 16)]);
    expectStats(arena, { allocations: 0, liveBytes: 0 });
    ok(heap);
    const q = arena.alloc(8, { onRelease: () => seen.push([]) });
    expect(arena.sizeOf(q)).toBe(8);
    arena.release();
    expect(seen.length).toBe(2);
    ok(heap);
  });

  it("reset() from a destructor run by free() is EBUSY: the memory stays valid and poison-free until it returns", async () => {
    const { heap, arena } = await setup({}, { poison: true });
    const seen: { code: string; bytes: number[] }[] = [];
    const p = arena.alloc(65, {
      onRelease: (ptr: Ptr) => {
        const code = expectCode(() => arena.reset(), "EBUSY").code;
        seen.push({ code, bytes: Array.from(raw(heap, ptr, 65)) });
      },
    });
    fill(arena, p, 5);
    const keep = arena.alloc(20);
    fill(arena, keep, 6);
    arena.free(p);
    expect(seen).toEqual([{ code: "EBUSY", bytes: pattern(5, 65) }]);
    expectStats(arena, { allocations: 1, liveBytes: 20 });
    expect(Array.from(raw(heap, keep, 20))).toEqual(pattern(6, 20));
    ok(heap);
  });

  it("on releaseGroup(): destructors inside the group run with valid memory; outside ones do not run", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const outside = arena.alloc(8, { onRelease: () => log.push("outside") });
    const g = arena.openGroup();
    const inside = arena.alloc(24, {
      onRelease: (ptr: Ptr) => {
        expect(ptr).toBe(inside);
        log.push(`inside:${Array.from(raw(heap, ptr, 24)).join(",")}`);
      },
    });
    fill(arena, inside, 4);
    arena.closeGroup(g);
    arena.releaseGroup(g);
    expect(log).toEqual([`inside:${pattern(4, 24).join(",")}`]);
    expectCode(() => arena.sizeOf(inside), "EBADPTR");
    expect(arena.sizeOf(outside)).toBe(8);
    expectStats(arena, { allocations: 1, liveBytes: 8, groups: 0 });
    ok(heap);
    arena.release();
    expect(log.at(-1)).toBe("outside");
    ok(heap);
  });

  it("alloc(0, { onRelease }) works and the destructor gets the pointer", async () => {
    const { heap, arena } = await setup();
    const got: number[] = [];
    const p = arena.alloc(0, { onRelease: (ptr: Ptr) => got.push(ptr) });
    expect(arena.sizeOf(p)).toBe(0);
    arena.release();
    expect(got).toEqual([p]);
    ok(heap);
  });
});

describe("place in release order", () => {
  it("a destructor runs at its allocation's newest-first place among actions", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    arena.add(() => log.push("A"));
    arena.alloc(8, { onRelease: () => log.push("D1") });
    arena.alloc(100);
    arena.add(() => log.push("B"));
    arena.alloc(8, { onRelease: () => log.push("D2") });
    arena.add(() => log.push("C"));
    arena.release();
    expect(log).toEqual(["C", "D2", "B", "D1", "A"]);
    ok(heap);
  });

  it("older allocations are still readable while a newer destructor runs", async () => {
    const { heap, arena } = await setup();
    const old = arena.alloc(64);
    fill(arena, old, 7);
    const seen: number[][] = [];
    arena.alloc(4, { onRelease: () => seen.push(Array.from(raw(heap, old, 64))) });
    arena.release();
    expect(seen).toEqual([pattern(7, 64)]);
    ok(heap);
  });

  it("destructors do not count as actions in stats", async () => {
    const { heap, arena } = await setup();
    arena.alloc(10, { onRelease: () => {} });
    arena.add(() => {});
    expectStats(arena, { allocations: 1, actions: 1, liveBytes: 10 });
    ok(heap);
  });
});

describe("inside the destructor", () => {
  it("the pointer is no longer live (free, realloc -> EBADPTR) but its memory is (sizeOf, bytes; DESIGN §6)", async () => {
    const { heap, arena } = await setup();
    const codes: string[] = [];
    const p = arena.alloc(32, {
      onRelease: (ptr: Ptr) => {
        codes.push(expectCode(() => arena.free(ptr), "EBADPTR").code);
        codes.push(expectCode(() => arena.realloc(ptr, 64), "EBADPTR").code);
        codes.push(String(arena.sizeOf(ptr)), String(arena.bytes(ptr).length));
        expect(heap.check()).toBe(0);
      },
    });
    arena.free(p);
    expect(codes).toEqual(["EBADPTR", "EBADPTR", "32", "32"]);
    expectCode(() => arena.sizeOf(p), "EBADPTR");
    expectStats(arena, { allocations: 0, liveBytes: 0 });
    ok(heap);
  });

  it("during release the pointer is not live either, and free of it is rejected", async () => {
    const { heap, arena } = await setup();
    const codes: string[] = [];
    arena.alloc(32, { onRelease: (ptr: Ptr) => codes.push(expectCode(() => arena.free(ptr), "EBADPTR").code) });
    arena.release();
    expect(codes).toEqual(["EBADPTR"]);
    ok(heap);
  });

  it("a destructor may free other live allocations", async () => {
    const { heap, arena } = await setup();
    const other = arena.alloc(50);
    const p = arena.alloc(8, { onRelease: () => arena.free(other) });
    arena.free(p);
    expectCode(() => arena.sizeOf(other), "EBADPTR");
    expectStats(arena, { allocations: 0, liveBytes: 0 });
    ok(heap);
  });
});

describe("errors thrown by a destructor", () => {
  it("free(ptr): the memory is freed (stats), then the destructor's error is rethrown as is", async () => {
    const { heap, arena } = await setup();
    const boom = new Error("boom");
    let runs = 0;
    arena.alloc(5);
    const p = arena.alloc(20, {
      onRelease: () => {
        runs++;
        throw boom;
      },
    });
    const r = capture(() => arena.free(p));
    expect(r.threw).toBe(true);
    expect(r.error).toBe(boom);
    expect(runs).toBe(1);
    expectStats(arena, { allocations: 1, liveBytes: 5 });
    expectCode(() => arena.sizeOf(p), "EBADPTR");
    expectCode(() => arena.free(p), "EBADPTR");
    ok(heap);
    arena.release();
    expect(runs).toBe(1);
    ok(heap);
  });

  it("release(): a throwing destructor does not stop the others; errors chain like DisposableStack", async () => {
    const { heap, arena } = await setup();
    const e1 = new Error("d1");
    const e2 = new Error("action");
    const log: string[] = [];
    arena.alloc(8, {
      onRelease: () => {
        log.push("d1");
        throw e1;
      },
    });
    arena.add(() => {
      log.push("action");
      throw e2;
    });
    arena.alloc(8, { onRelease: () => log.push("d2") });
    const r = capture(() => arena.release());
    expect(log).toEqual(["d2", "action", "d1"]);
    expect(thrownOrder(r.error)).toEqual([e2, e1]);
    expect((r.error as Suppressed).error).toBe(e1);
    expect(arena.released).toBe(true);
    ok(heap);
  });
});

describe("realloc keeps the destructor", () => {
  it("after a move the destructor is called with the new pointer and sees the kept contents", async () => {
    const { heap, arena } = await setup();
    const calls: [number, number[]][] = [];
    const p = arena.alloc(16, { onRelease: (ptr: Ptr) => calls.push([ptr, Array.from(raw(heap, ptr, 16))]) });
    fill(arena, p, 5);
    arena.alloc(16); // a neighbour, so growing is likely to move
    const q = arena.realloc(p, 40_000);
    fill(arena, q, 5, 16);
    expect(calls).toEqual([]);
    expectStats(arena, { allocations: 2, liveBytes: 40_016 });
    ok(heap);
    arena.free(q);
    expect(calls).toEqual([[q, pattern(5, 16)]]);
    ok(heap);
  });

  it("a reallocated allocation keeps its destructor's place in release order, and shrinking keeps it too", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const ptrs: number[] = [];
    arena.add(() => log.push("A"));
    let p = arena.alloc(8, {
      onRelease: (ptr: Ptr) => {
        ptrs.push(ptr);
        log.push("D");
      },
    });
    arena.add(() => log.push("B"));
    p = arena.realloc(p, 5000);
    p = arena.realloc(p, 3);
    expect(arena.sizeOf(p)).toBe(3);
    arena.release();
    expect(log).toEqual(["B", "D", "A"]);
    expect(ptrs).toEqual([p]);
    ok(heap);
  });
});

describe("error paths", () => {
  it("onRelease that is not a function -> EINVAL, nothing allocated or registered", async () => {
    const { heap, arena } = await setup();
    arena.alloc(4);
    const before = arena.stats();
    for (const value of [42, "f", {}, null, true, Symbol("x")]) {
      expectCode(() => arena.alloc(8, { onRelease: bad(value) }), "EINVAL");
      expect(arena.stats()).toEqual(before);
      ok(heap);
    }
    expect(arena.resources().length).toBe(1);
  });

  it("ENOMEM over maxBytes leaves nothing behind, and the destructor never runs", async () => {
    const { heap, arena } = await setup({}, { maxBytes: 100 });
    let runs = 0;
    arena.alloc(60);
    const before = arena.stats();
    expectCode(() => arena.alloc(41, { onRelease: () => runs++ }), "ENOMEM");
    expect(arena.stats()).toEqual(before);
    expect(arena.resources().length).toBe(1);
    ok(heap);
    const p = arena.alloc(40, { onRelease: () => runs++ });
    expect(arena.sizeOf(p)).toBe(40);
    arena.release();
    expect(runs).toBe(1);
    ok(heap);
  });

  it("ENOMEM at the heap's maxPages leaves nothing behind", async () => {
    const { heap, arena } = await setup({ maxPages: 8 });
    exhaust(arena, 1 << 15);
    let runs = 0;
    const before = arena.stats();
    expectCode(() => arena.alloc(1 << 16, { onRelease: () => runs++ }), "ENOMEM");
    expect(arena.stats()).toEqual(before);
    ok(heap);
    arena.release();
    expect(runs).toBe(0);
    ok(heap);
  });

  it("ENOMEM registering the destructor (payload fits, its node does not) changes nothing, peakBytes included", async () => {
    const { heap, arena } = await setup({ maxPages: 8 });
    const big = arena.alloc(1000);
    exhaust(arena, 1 << 15); // no room left for any new block
    arena.free(big); // one free block of 1000's size class
    const before = arena.stats();
    let runs = 0;
    // 1020 bytes fit the freed block (same size class) and would raise liveBytes above the peak;
    // the destructor's node finds no room.
    expectCode(() => arena.alloc(1020, { onRelease: () => runs++ }), "ENOMEM");
    expect(arena.stats()).toEqual(before);
    ok(heap);
    const p = arena.alloc(1000); // the block is free again
    expect(arena.sizeOf(p)).toBe(1000);
    arena.release();
    expect(runs).toBe(0);
    ok(heap);
  });

  it("alloc with onRelease during release -> EBUSY; after release -> ERELEASED", async () => {
    const { heap, arena } = await setup();
    const codes: string[] = [];
    arena.add(() => codes.push(expectCode(() => arena.alloc(8, { onRelease: () => {} }), "EBUSY").code));
    arena.release();
    expect(codes).toEqual(["EBUSY"]);
    expectCode(() => arena.alloc(8, { onRelease: () => {} }), "ERELEASED");
    ok(heap);
  });
});
