// reset() [apr_pool_clear]: run every action, free every byte, but stay usable.
import { describe, expect, it } from "vitest";
import { capture, expectCode, fill } from "./helpers.js";
import { emptyStats, expectStats, ok, setup } from "./helpers3.js";

describe("reset", () => {
  it("runs the actions newest-first, frees the memory: stats are zeros except peakBytes", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    arena.add(() => log.push("a"));
    arena.alloc(1000);
    arena.add(() => log.push("b"));
    arena.alloc(50_000);
    arena.openGroup();
    arena.alloc(10, { onRelease: () => log.push("dtor") });
    arena.createChild().add(() => log.push("child"));
    expectStats(arena, { actions: 2, allocations: 3, groups: 1, children: 1, liveBytes: 51_010, peakBytes: 51_010 });
    arena.reset();
    expect(log).toEqual(["child", "dtor", "b", "a"]);
    expect(arena.released).toBe(false);
    expect(arena.stats()).toEqual(emptyStats(51_010));
    expect(arena.resources()).toEqual([]);
    ok(heap);
  });

  it("stays usable: allocate, add and release after a reset", async () => {
    const { heap, arena } = await setup();
    arena.alloc(64);
    arena.reset();
    const log: string[] = [];
    const p = arena.alloc(128);
    fill(arena, p, 2);
    arena.add(() => log.push("after-reset"));
    const g = arena.openGroup();
    arena.closeGroup(g);
    expectStats(arena, { allocations: 1, actions: 1, groups: 1, liveBytes: 128 });
    ok(heap);
    arena.release();
    expect(log).toEqual(["after-reset"]);
    expect(arena.released).toBe(true);
    ok(heap);
  });

  it("repeated reset cycles do not grow reservedBytes or memory beyond the first cycle", async () => {
    const { heap, arena } = await setup();
    const cycle = () => {
      for (let i = 0; i < 200; i++) {
        arena.alloc(1 + ((i * 37) % 3000));
        if (i % 10 === 0) arena.add(() => {});
        if (i % 50 === 0) arena.alloc(70_000);
      }
      const reserved = arena.stats().reservedBytes;
      arena.reset();
      return reserved;
    };
    const first = cycle();
    const memoryAfterFirst = heap.memory.buffer.byteLength;
    for (let n = 0; n < 20; n++) {
      expect(cycle()).toBeLessThanOrEqual(first);
      expect(arena.stats().reservedBytes).toBeLessThanOrEqual(first);
    }
    expect(heap.memory.buffer.byteLength).toBe(memoryAfterFirst);
    expectStats(arena, { allocations: 0, liveBytes: 0 });
    ok(heap);
  });

  it("handles from before the reset are stale; pointers are no longer live", async () => {
    const { heap, arena } = await setup();
    const h = arena.add(() => {});
    const g = arena.openGroup();
    const p = arena.alloc(40);
    arena.reset();
    expect(arena.hasAction(h)).toBe(false);
    expectCode(() => arena.removeAction(h), "ESTALE");
    expectCode(() => arena.releaseAction(h), "ESTALE");
    expectCode(() => arena.releaseGroup(g), "ESTALE");
    expectCode(() => arena.removeGroup(g), "ESTALE");
    expectCode(() => arena.closeGroup(g), "ESTALE");
    expectCode(() => arena.closeGroup(), "EINVAL"); // the open group went with the reset
    expectCode(() => arena.sizeOf(p), "EBADPTR");
    expectCode(() => arena.free(p), "EBADPTR");
    ok(heap);
  });

  it("keeps the reference count", async () => {
    const { heap, arena } = await setup();
    arena.retain();
    arena.reset();
    arena.release();
    expect(arena.released).toBe(false);
    arena.release();
    expect(arena.released).toBe(true);
    ok(heap);
  });

  it("runs every action even if some throw, rethrows like release(), and the arena stays usable", async () => {
    const { heap, arena } = await setup();
    const err = new Error("reset action");
    const log: string[] = [];
    arena.add(() => log.push("a"));
    arena.add(() => {
      throw err;
    });
    arena.alloc(16);
    const r = capture(() => arena.reset());
    expect(r.error).toBe(err);
    expect(log).toEqual(["a"]);
    expect(arena.released).toBe(false);
    expectStats(arena, { allocations: 0, actions: 0, liveBytes: 0 });
    arena.alloc(1);
    ok(heap);
  });

  it("during release -> EBUSY; after release -> ERELEASED", async () => {
    const { heap, arena } = await setup();
    const codes: string[] = [];
    let ran = 0;
    arena.add(() => ran++);
    arena.add(() => codes.push(expectCode(() => arena.reset(), "EBUSY").code));
    arena.release();
    expect(codes).toEqual(["EBUSY"]);
    expect(ran).toBe(1);
    expectCode(() => arena.reset(), "ERELEASED");
    ok(heap);
  });

  it("an empty arena resets to the same empty state", async () => {
    const { heap, arena } = await setup();
    arena.reset();
    expect(arena.stats()).toEqual(emptyStats(0));
    ok(heap);
  });

  it("memory freed by a reset is reused by the next cycle", async () => {
    const { heap, arena } = await setup();
    const cycle = () => {
      for (let i = 0; i < 50; i++) arena.alloc(100);
      arena.alloc(70_000);
      arena.reset();
    };
    cycle();
    const before = heap.memory.buffer.byteLength;
    for (let n = 0; n < 5; n++) cycle();
    expect(heap.memory.buffer.byteLength).toBe(before);
    ok(heap);
  });
});
