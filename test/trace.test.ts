// The trace option [drm_dbg_drmres ADD/DEL/REL]: { op, kind, name, size, ptr,
// arena } for every node added ("add"), removed without running ("del") or
// released ("rel"). Set on Heap.create (every arena of the heap) or on
// createArena (overrides the heap's).
import { describe, expect, it } from "vitest";
import { Arena } from "../src/index.js";
import { bad, capture, expectCode, expectCodeAsync } from "./helpers.js";
import { debugHeap, ok, recorder, setup, shape, type TraceEvent } from "./helpers3.js";

function one() {}
function three() {}

/** A trace event with the given fields (ptr undefined unless given). */
function ev(
  op: TraceEvent["op"],
  kind: TraceEvent["kind"],
  name: string,
  size: number,
  arena: string,
  ptr?: number,
): TraceEvent {
  return { op, kind, name, size, ptr, arena };
}

describe("trace events", () => {
  it("alloc, free, add, removeAction, releaseAction, realloc and release", async () => {
    const { events, trace } = recorder();
    const { heap, arena } = await setup({ trace }, { name: "dev" });
    expect(events).toEqual([]);
    const a = arena.alloc(10);
    const b = arena.alloc(20, { name: "buf" });
    arena.add(one);
    const h2 = arena.add(() => {}, undefined, "two");
    const h3 = arena.add(three);
    expect(shape(events)).toEqual([
      ev("add", "alloc", "alloc", 10, "dev", a),
      ev("add", "alloc", "buf", 20, "dev", b),
      ev("add", "action", "one", 0, "dev"),
      ev("add", "action", "two", 0, "dev"),
      ev("add", "action", "three", 0, "dev"),
    ]);
    events.length = 0;
    arena.free(a);
    arena.removeAction(h2);
    arena.releaseAction(h3);
    const b2 = arena.realloc(b, 40_000); // realloc emits nothing
    expect(shape(events)).toEqual([
      ev("del", "alloc", "alloc", 10, "dev", a),
      ev("del", "action", "two", 0, "dev"),
      ev("rel", "action", "three", 0, "dev"),
    ]);
    events.length = 0;
    arena.release();
    expect(shape(events)).toEqual([ev("rel", "action", "one", 0, "dev"), ev("rel", "alloc", "buf", 40_000, "dev", b2)]);
    ok(heap);
  });

  it("allocZeroed, allocArray, dup and strdup are allocations too", async () => {
    const { events, trace } = recorder();
    const { heap, arena } = await setup({ trace }, { name: "x" });
    const p1 = arena.allocZeroed(3);
    const p2 = arena.allocArray(2, 5);
    const p3 = arena.dup(new Uint8Array(4));
    const p4 = arena.strdup("ab");
    expect(shape(events)).toEqual([
      ev("add", "alloc", "alloc", 3, "x", p1),
      ev("add", "alloc", "alloc", 10, "x", p2),
      ev("add", "alloc", "alloc", 4, "x", p3),
      ev("add", "alloc", "alloc", 3, "x", p4),
    ]);
    ok(heap);
  });

  it("destructors: free emits del for the allocation; release emits rel for it, once each", async () => {
    const { events, trace } = recorder();
    const { heap, arena } = await setup({ trace }, { name: "d" });
    const log: string[] = [];
    const p = arena.alloc(6, { name: "obj", onRelease: () => log.push("dtor p") });
    const q = arena.alloc(7, { name: "obj2", onRelease: () => log.push("dtor q") });
    expect(shape(events)).toEqual([ev("add", "alloc", "obj", 6, "d", p), ev("add", "alloc", "obj2", 7, "d", q)]);
    events.length = 0;
    arena.free(p);
    expect(shape(events)).toEqual([ev("del", "alloc", "obj", 6, "d", p)]);
    events.length = 0;
    arena.release();
    expect(shape(events)).toEqual([ev("rel", "alloc", "obj2", 7, "d", q)]);
    expect(log).toEqual(["dtor p", "dtor q"]);
    ok(heap);
  });

  it("failed calls emit nothing", async () => {
    const { events, trace } = recorder();
    const { heap, arena } = await setup({ trace }, { name: "f", maxBytes: 10 });
    capture(() => arena.alloc(11));
    capture(() => arena.free(bad(arena.alloc(1) + 1)));
    events.length = 0;
    capture(() => arena.alloc(20, { onRelease: () => {} }));
    capture(() => arena.closeGroup());
    capture(() => arena.strdup("0123456789"));
    expect(events).toEqual([]);
    ok(heap);
  });
});

describe("groups", () => {
  it("openGroup adds, closeGroup emits nothing, releaseGroup releases its nodes then the marker, newest first", async () => {
    const { events, trace } = recorder();
    const { heap, arena } = await setup({ trace }, { name: "g" });
    arena.add(one);
    const g = arena.openGroup("probe");
    const p = arena.alloc(5, { name: "regs" });
    const inner = arena.openGroup("inner");
    arena.add(three);
    arena.closeGroup(inner);
    arena.closeGroup(g);
    const q = arena.alloc(9);
    expect(shape(events)).toEqual([
      ev("add", "action", "one", 0, "g"),
      ev("add", "group", "probe", 0, "g"),
      ev("add", "alloc", "regs", 5, "g", p),
      ev("add", "group", "inner", 0, "g"),
      ev("add", "action", "three", 0, "g"),
      ev("add", "alloc", "alloc", 9, "g", q),
    ]);
    events.length = 0;
    arena.releaseGroup(g);
    expect(shape(events)).toEqual([
      ev("rel", "action", "three", 0, "g"),
      ev("rel", "group", "inner", 0, "g"),
      ev("rel", "alloc", "regs", 5, "g", p),
      ev("rel", "group", "probe", 0, "g"),
    ]);
    events.length = 0;
    arena.release();
    expect(shape(events)).toEqual([ev("rel", "alloc", "alloc", 9, "g", q), ev("rel", "action", "one", 0, "g")]);
    ok(heap);
  });

  it("removeGroup emits del for the group only; its resources release later", async () => {
    const { events, trace } = recorder();
    const { heap, arena } = await setup({ trace }, { name: "r" });
    const g = arena.openGroup();
    arena.add(one);
    arena.closeGroup(g);
    events.length = 0;
    arena.removeGroup(g);
    expect(shape(events)).toEqual([ev("del", "group", "group", 0, "r")]);
    events.length = 0;
    arena.release();
    expect(shape(events)).toEqual([ev("rel", "action", "one", 0, "r")]);
    ok(heap);
  });

  it("group(fn) that throws: add events inside, then rel events newest first", async () => {
    const { events, trace } = recorder();
    const { heap, arena } = await setup({ trace }, { name: "p" });
    let ptr = 0;
    capture(() =>
      arena.group(() => {
        ptr = arena.alloc(2);
        arena.add(one);
        throw new Error("x");
      }, "init"),
    );
    expect(shape(events)).toEqual([
      ev("add", "group", "init", 0, "p"),
      ev("add", "alloc", "alloc", 2, "p", ptr),
      ev("add", "action", "one", 0, "p"),
      ev("rel", "action", "one", 0, "p"),
      ev("rel", "alloc", "alloc", 2, "p", ptr),
      ev("rel", "group", "init", 0, "p"),
    ]);
    ok(heap);
  });
});

describe("children, reset and arena-level options", () => {
  it("createChild adds a child node in the parent; the parent's release releases it at its place", async () => {
    const { events, trace } = recorder();
    const { heap, arena } = await setup({ trace }, { name: "parent" });
    arena.add(one);
    const child = arena.createChild({ name: "kid" });
    child.add(three);
    arena.add(one, undefined, "newer");
    expect(shape(events)).toEqual([
      ev("add", "action", "one", 0, "parent"),
      ev("add", "child", "kid", 0, "parent"),
      ev("add", "action", "three", 0, "kid"),
      ev("add", "action", "newer", 0, "parent"),
    ]);
    events.length = 0;
    arena.release();
    expect(shape(events.filter((e) => e.arena === "parent"))).toEqual([
      ev("rel", "action", "newer", 0, "parent"),
      ev("rel", "child", "kid", 0, "parent"),
      ev("rel", "action", "one", 0, "parent"),
    ]);
    expect(shape(events.filter((e) => e.arena === "kid"))).toEqual([ev("rel", "action", "three", 0, "kid")]);
    // The child's nodes are released while the parent is at the child's place.
    const kidAt = events.findIndex((e) => e.arena === "kid");
    const newerAt = events.findIndex((e) => e.name === "newer");
    const oneAt = events.findIndex((e) => e.name === "one");
    expect(kidAt).toBeGreaterThan(newerAt);
    expect(kidAt).toBeLessThan(oneAt);
    ok(heap);
  });

  it("a child's allocations trace with the child's name", async () => {
    const { events, trace } = recorder();
    const { heap, arena } = await setup({ trace }, { name: "parent" });
    const child = arena.createChild({ name: "kid" });
    const p = child.alloc(12, { name: "k-buf" });
    child.free(p);
    expect(shape(events.filter((e) => e.arena === "kid"))).toEqual([
      ev("add", "alloc", "k-buf", 12, "kid", p),
      ev("del", "alloc", "k-buf", 12, "kid", p),
    ]);
    ok(heap);
  });

  it("releasing a child early emits rel for its node in the parent, once", async () => {
    const { events, trace } = recorder();
    const { heap, arena } = await setup({ trace }, { name: "parent" });
    const child = arena.createChild({ name: "kid" });
    events.length = 0;
    child.release();
    expect(shape(events.filter((e) => e.arena === "parent"))).toEqual([ev("rel", "child", "kid", 0, "parent")]);
    events.length = 0;
    arena.release();
    expect(events).toEqual([]);
    ok(heap);
  });

  it("reset emits rel for every node", async () => {
    const { events, trace } = recorder();
    const { heap, arena } = await setup({ trace }, { name: "z" });
    const p = arena.alloc(4);
    arena.add(one);
    const g = arena.openGroup("grp");
    arena.closeGroup(g);
    events.length = 0;
    arena.reset();
    expect(shape(events)).toEqual([
      ev("rel", "group", "grp", 0, "z"),
      ev("rel", "action", "one", 0, "z"),
      ev("rel", "alloc", "alloc", 4, "z", p),
    ]);
    ok(heap);
  });

  it("an arena-level trace overrides the heap's; other arenas keep the heap's", async () => {
    const heapTrace = recorder();
    const arenaTrace = recorder();
    const { heap, arena: plain } = await setup({ trace: heapTrace.trace }, { name: "plain" });
    const own = heap.createArena({ name: "own", trace: arenaTrace.trace });
    const p = plain.alloc(1);
    const q = own.alloc(2);
    own.release();
    plain.release();
    expect(shape(heapTrace.events)).toEqual([
      ev("add", "alloc", "alloc", 1, "plain", p),
      ev("rel", "alloc", "alloc", 1, "plain", p),
    ]);
    expect(shape(arenaTrace.events)).toEqual([
      ev("add", "alloc", "alloc", 2, "own", q),
      ev("rel", "alloc", "alloc", 2, "own", q),
    ]);
    ok(heap);
  });

  it("an arena-level trace works on a heap without one, and arenas without it emit nothing", async () => {
    const t = recorder();
    const { heap, arena: quiet } = await setup({}, { name: "quiet" });
    const loud = heap.createArena({ name: "loud", trace: t.trace });
    quiet.alloc(3);
    quiet.add(one);
    const p = loud.alloc(5);
    quiet.release();
    expect(shape(t.events)).toEqual([ev("add", "alloc", "alloc", 5, "loud", p)]);
    ok(heap);
  });

  it("Arena.create passes trace on: events carry the arena's name", async () => {
    const { events, trace } = recorder();
    const solo = await Arena.create({ debug: true, trace, name: "solo" });
    const p = solo.alloc(3);
    solo.release();
    expect(shape(events)).toEqual([
      ev("add", "alloc", "alloc", 3, "solo", p),
      ev("rel", "alloc", "alloc", 3, "solo", p),
    ]);
    expect(solo.heap.check()).toBe(0);
  });

  it("a non-function trace option -> EINVAL", async () => {
    const { heap } = await setup();
    expectCode(() => heap.createArena({ trace: bad(42) }), "EINVAL");
    await expectCodeAsync(() => debugHeap({ trace: bad("log") }), "EINVAL");
    ok(heap);
  });
});
