// stats(): { allocations, actions, groups, children, liveBytes, peakBytes,
// reservedBytes } exact after every kind of operation. liveBytes is the sum of
// requested sizes; peakBytes the highest liveBytes seen; actions counts add()
// actions only (not destructors); groups counts group markers still present.
import { describe, expect, it } from "vitest";
import { type Arena, ArenaError } from "../src/index.js";
import { asPtr, bad, capture, expectCode } from "./helpers.js";
import { emptyStats, expectStats, ok, type Stats, setup } from "./helpers3.js";

/** Tracks the expected counters (all but reservedBytes) and checks them after each step. */
class Expected {
  s = { allocations: 0, actions: 0, groups: 0, children: 0, liveBytes: 0, peakBytes: 0 };
  constructor(readonly arena: Arena) {}
  change(delta: Partial<Omit<Expected["s"], "peakBytes">>): Stats {
    for (const [k, v] of Object.entries(delta)) this.s[k as keyof Expected["s"]] += v as number;
    this.s.peakBytes = Math.max(this.s.peakBytes, this.s.liveBytes);
    return expectStats(this.arena, this.s);
  }
}

describe("exact stats", () => {
  it("a fresh arena is all zeros", async () => {
    const { heap, arena } = await setup();
    expect(arena.stats()).toEqual(emptyStats(0));
    expect(Object.keys(arena.stats()).sort()).toEqual(
      ["actions", "allocations", "children", "groups", "liveBytes", "peakBytes", "reservedBytes"].sort(),
    );
    ok(heap);
  });

  it("alloc, allocZeroed, allocArray, free", async () => {
    const { heap, arena } = await setup();
    const x = new Expected(arena);
    const a = arena.alloc(100);
    const s1 = x.change({ allocations: 1, liveBytes: 100 });
    expect(s1.reservedBytes).toBeGreaterThan(0);
    const b = arena.allocZeroed(7);
    x.change({ allocations: 1, liveBytes: 7 });
    const c = arena.allocArray(3, 11);
    x.change({ allocations: 1, liveBytes: 33 });
    const z = arena.alloc(0);
    x.change({ allocations: 1, liveBytes: 0 });
    arena.free(a);
    x.change({ allocations: -1, liveBytes: -100 });
    arena.free(z);
    x.change({ allocations: -1 });
    arena.free(b);
    arena.free(c);
    x.change({ allocations: -2, liveBytes: -40 });
    expect(arena.stats().peakBytes).toBe(140);
    ok(heap);
  });

  it("realloc up and down (in place or moving) changes liveBytes by the difference", async () => {
    const { heap, arena } = await setup();
    const x = new Expected(arena);
    let p = arena.alloc(100);
    arena.alloc(10); // a neighbour
    x.change({ allocations: 2, liveBytes: 110 });
    p = arena.realloc(p, 5000);
    x.change({ liveBytes: 4900 });
    expect(arena.stats().peakBytes).toBe(5010);
    p = arena.realloc(p, 50);
    x.change({ liveBytes: -4950 });
    expect(arena.stats().peakBytes).toBe(5010);
    p = arena.realloc(p, 100_000); // a large run of its own
    x.change({ liveBytes: 99_950 });
    p = arena.realloc(p, 0);
    x.change({ liveBytes: -100_000 });
    expect(arena.sizeOf(p)).toBe(0);
    expect(arena.stats().peakBytes).toBe(100_010);
    ok(heap);
  });

  it("large allocations raise reservedBytes by at least their size; freeing lowers liveBytes", async () => {
    const { heap, arena } = await setup();
    const before = arena.stats().reservedBytes;
    const p = arena.alloc(200_000);
    const s = expectStats(arena, { allocations: 1, liveBytes: 200_000 });
    expect(s.reservedBytes - before).toBeGreaterThanOrEqual(200_000);
    arena.free(p);
    expectStats(arena, { allocations: 0, liveBytes: 0, peakBytes: 200_000 });
    ok(heap);
  });

  it("add, removeAction, releaseAction (destructors are not actions)", async () => {
    const { heap, arena } = await setup();
    const x = new Expected(arena);
    const h1 = arena.add(() => {});
    const h2 = arena.add(() => {});
    const h3 = arena.add(() => {});
    x.change({ actions: 3 });
    arena.removeAction(h1);
    x.change({ actions: -1 });
    arena.releaseAction(h2);
    x.change({ actions: -1 });
    const d = arena.alloc(24, { onRelease: () => {} });
    x.change({ allocations: 1, liveBytes: 24 });
    arena.free(d);
    x.change({ allocations: -1, liveBytes: -24 });
    expect(arena.hasAction(h3)).toBe(true);
    ok(heap);
  });

  it("openGroup, closeGroup, removeGroup, releaseGroup, group(fn)", async () => {
    const { heap, arena } = await setup();
    const x = new Expected(arena);
    const g1 = arena.openGroup();
    x.change({ groups: 1 });
    arena.alloc(10);
    arena.add(() => {});
    x.change({ allocations: 1, actions: 1, liveBytes: 10 });
    const g2 = arena.openGroup();
    arena.alloc(5);
    x.change({ groups: 1, allocations: 1, liveBytes: 5 });
    arena.closeGroup(g2);
    x.change({});
    arena.closeGroup(g1);
    x.change({});
    arena.removeGroup(g2);
    x.change({ groups: -1 });
    arena.releaseGroup(g1);
    x.change({ groups: -1, allocations: -2, actions: -1, liveBytes: -15 });
    arena.group(() => arena.alloc(3));
    x.change({ groups: 1, allocations: 1, liveBytes: 3 });
    capture(() =>
      arena.group(() => {
        arena.alloc(1000);
        arena.add(() => {});
        throw new Error("unwind");
      }),
    );
    x.s.peakBytes = 1003; // the unwound group held 3 + 1000 bytes for a moment
    x.change({});
    expect(arena.stats().peakBytes).toBe(1003);
    ok(heap);
  });

  it("createChild and child release; the child's bytes are its own", async () => {
    const { heap, arena } = await setup();
    const x = new Expected(arena);
    const c1 = arena.createChild();
    const c2 = arena.createChild();
    x.change({ children: 2 });
    c1.alloc(500);
    x.change({});
    expectStats(c1, { allocations: 1, liveBytes: 500, peakBytes: 500 });
    c1.release();
    x.change({ children: -1 });
    const g = arena.openGroup();
    arena.createChild();
    x.change({ groups: 1, children: 1 });
    arena.releaseGroup(g);
    x.change({ groups: -1, children: -1 });
    expect(c2.released).toBe(false);
    ok(heap);
  });

  it("dup and strdup count their byte lengths", async () => {
    const { heap, arena } = await setup();
    const x = new Expected(arena);
    arena.dup(new Uint8Array(17));
    x.change({ allocations: 1, liveBytes: 17 });
    arena.strdup("héllo"); // 6 bytes + NUL
    x.change({ allocations: 1, liveBytes: 7 });
    arena.strdup("");
    x.change({ allocations: 1, liveBytes: 1 });
    ok(heap);
  });

  it("allocations made by destructors and actions during releaseGroup are counted", async () => {
    const { heap, arena } = await setup();
    const g = arena.openGroup();
    arena.alloc(8, { onRelease: () => arena.alloc(30) });
    expectStats(arena, { groups: 1, allocations: 1, liveBytes: 8, peakBytes: 8 });
    arena.releaseGroup(g);
    expectStats(arena, { groups: 0, allocations: 1, actions: 0, liveBytes: 30 });
    ok(heap);
  });

  it("failed calls leave every counter (reservedBytes included) unchanged", async () => {
    const { heap, arena } = await setup({ maxPages: 40 }, { maxBytes: 1_000_000 });
    const p = arena.alloc(64);
    const h = arena.add(() => {});
    const g = arena.openGroup();
    arena.closeGroup(g);
    arena.removeGroup(g);
    arena.createChild();
    const before = arena.stats();
    const failures: (() => unknown)[] = [
      () => arena.alloc(-1),
      () => arena.alloc(1_000_001),
      () => arena.alloc(2 ** 32 - 1),
      () => arena.alloc(8, { onRelease: bad(1) }),
      () => arena.allocArray(2 ** 16, 2 ** 16),
      () => arena.realloc(asPtr(p + 16), 8),
      () => arena.realloc(p, 2_000_000),
      () => arena.free(asPtr(p + 1)),
      () => arena.removeAction(bad({})),
      () => arena.removeGroup(g),
      () => arena.releaseGroup(g),
      () => arena.closeGroup(),
      () => arena.openGroup(bad(1)),
      () => arena.createChild({ minAlign: 5 }),
      () => arena.dup(bad("x")),
      () => arena.dup(new Uint8Array(1_000_000)),
      () => arena.strdup(bad(5)),
      () => arena.readString(asPtr(p + 8)),
      () => arena.group(bad(null)),
    ];
    for (const f of failures) {
      const r = capture(f);
      expect(r.threw).toBe(true);
      expect(r.error).toBeInstanceOf(ArenaError);
      expect(arena.stats()).toEqual(before);
      ok(heap);
    }
    expect(arena.hasAction(h)).toBe(true);
    expect(arena.sizeOf(p)).toBe(64);
  });

  it("stats() after release -> ERELEASED", async () => {
    const { heap, arena } = await setup();
    arena.release();
    expectCode(() => arena.stats(), "ERELEASED");
    ok(heap);
  });
});
