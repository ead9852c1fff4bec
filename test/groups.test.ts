// Groups [devres_open_group / devres_close_group / devres_release_group /
// devres_remove_group] and group(fn), the partial-initialisation unwinding
// that makes them worth having.
import { describe, expect, it } from "vitest";
import { type Arena, type Ptr, SuppressedError } from "../src/index.js";
import { bad, capture, expectCode, expectCodeAsync, type Suppressed, thrownOrder } from "./helpers.js";
import { expectStats, type Group, microtasks, ok, setup } from "./helpers3.js";

/** Registers an action that logs `name` when it runs. */
function logged(arena: Arena, log: string[], name: string) {
  return arena.add(() => log.push(name), undefined, name);
}

describe("openGroup / closeGroup", () => {
  it("closing needs no memory: with the heap full, closeGroup closes the group and the nested ones it must", async () => {
    const { heap, arena } = await setup({ maxPages: 3 });
    const outer = arena.openGroup("outer");
    const inner = arena.openGroup("inner");
    for (;;) {
      try {
        arena.add(() => {});
      } catch {
        break;
      }
    }
    expectCode(() => arena.add(() => {}), "ENOMEM");
    expectCode(() => arena.openGroup("no room"), "ENOMEM");
    arena.closeGroup(outer);
    expectCode(() => arena.closeGroup(inner), "EINVAL");
    expect(arena.report()).not.toContain("(open)");
    ok(heap);
  });

  it("openGroup that cannot have both of its markers (ENOMEM) changes nothing", async () => {
    const { heap, arena } = await setup({ maxPages: 3 });
    const handles = [];
    for (;;) {
      try {
        handles.push(arena.add(() => {}));
      } catch {
        break;
      }
    }
    arena.removeAction(handles.pop() as never); // room for exactly one more node: a group needs two
    const before = { stats: arena.stats(), report: arena.report(), resources: arena.resources() };
    expectCode(() => arena.openGroup("half"), "ENOMEM");
    expect({ stats: arena.stats(), report: arena.report(), resources: arena.resources() }).toEqual(before);
    ok(heap);
    arena.removeAction(handles.pop() as never);
    arena.closeGroup(arena.openGroup("whole"));
    ok(heap);
  });

  it("openGroup counts a group; closeGroup keeps it counted", async () => {
    const { heap, arena } = await setup();
    expectStats(arena, { groups: 0 });
    const g = arena.openGroup("probe");
    expectStats(arena, { groups: 1, actions: 0, allocations: 0 });
    arena.closeGroup(g);
    expectStats(arena, { groups: 1 });
    ok(heap);
  });

  it("closeGroup() without an argument closes the newest open group", async () => {
    const { heap, arena } = await setup();
    const g1 = arena.openGroup("outer");
    const g2 = arena.openGroup("inner");
    arena.closeGroup();
    expectCode(() => arena.closeGroup(g2), "EINVAL"); // g2 is the one that was closed
    arena.closeGroup(); // closes g1
    expectCode(() => arena.closeGroup(g1), "EINVAL");
    expectCode(() => arena.closeGroup(), "EINVAL");
    expectStats(arena, { groups: 2 });
    ok(heap);
  });

  it("closeGroup() with no group open -> EINVAL; closing twice -> EINVAL; nothing changes", async () => {
    const { heap, arena } = await setup();
    expectCode(() => arena.closeGroup(), "EINVAL");
    const g = arena.openGroup();
    arena.closeGroup(g);
    const before = arena.stats();
    expectCode(() => arena.closeGroup(g), "EINVAL");
    expectCode(() => arena.closeGroup(), "EINVAL");
    expect(arena.stats()).toEqual(before);
    ok(heap);
  });

  it("closing an outer group by handle also closes the groups opened after it (groups always nest)", async () => {
    // The design is silent here; the implementation documents that groups stay nested (closeGroup's JSDoc).
    const { heap, arena } = await setup();
    const log: string[] = [];
    const outer = arena.openGroup("outer");
    const inner = arena.openGroup("inner");
    logged(arena, log, "a");
    arena.closeGroup(outer);
    expectCode(() => arena.closeGroup(inner), "EINVAL");
    expectCode(() => arena.closeGroup(), "EINVAL");
    logged(arena, log, "after");
    expectStats(arena, { groups: 2, actions: 2 });
    arena.releaseGroup(inner);
    expect(log).toEqual(["a"]);
    arena.releaseGroup(outer);
    expect(log).toEqual(["a"]);
    expectStats(arena, { groups: 0, actions: 1 });
    ok(heap);
  });

  it("non-handles -> EINVAL; handles of another arena -> ESTALE", async () => {
    const { heap, arena } = await setup();
    const other = heap.createArena();
    const foreign = other.openGroup();
    const mine = arena.openGroup();
    for (const value of [{}, 1, "g", null]) {
      expectCode(() => arena.closeGroup(bad(value)), "EINVAL");
      expectCode(() => arena.releaseGroup(bad(value)), "EINVAL");
      expectCode(() => arena.removeGroup(bad(value)), "EINVAL");
    }
    expectCode(() => arena.closeGroup(foreign), "ESTALE");
    expectCode(() => arena.releaseGroup(foreign), "ESTALE");
    expectCode(() => arena.removeGroup(foreign), "ESTALE");
    expectStats(arena, { groups: 1 });
    expectStats(other, { groups: 1 });
    arena.closeGroup(mine);
    other.closeGroup(foreign);
    ok(heap);
  });

  it("an action handle is not a group handle and vice versa -> EINVAL", async () => {
    const { heap, arena } = await setup();
    const h = arena.add(() => {});
    const g = arena.openGroup();
    expectCode(() => arena.releaseGroup(bad(h)), "EINVAL");
    expectCode(() => arena.removeGroup(bad(h)), "EINVAL");
    expectCode(() => arena.closeGroup(bad(h)), "EINVAL");
    expectCode(() => arena.removeAction(bad(g)), "EINVAL");
    expectCode(() => arena.releaseAction(bad(g)), "EINVAL");
    expect(arena.hasAction(h)).toBe(true);
    expectStats(arena, { groups: 1, actions: 1 });
    ok(heap);
  });

  it("openGroup with a non-string name -> EINVAL, nothing added", async () => {
    const { heap, arena } = await setup();
    expectCode(() => arena.openGroup(bad(42)), "EINVAL");
    expectStats(arena, { groups: 0 });
    expectCode(() => arena.closeGroup(), "EINVAL");
    ok(heap);
  });
});

describe("releaseGroup", () => {
  it("of a closed group releases exactly its range newest-first; nodes before the open and after the close survive", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    logged(arena, log, "before");
    const pBefore = arena.alloc(10);
    const g = arena.openGroup("g");
    logged(arena, log, "in1");
    const pIn = arena.alloc(20);
    logged(arena, log, "in2");
    arena.closeGroup(g);
    logged(arena, log, "after");
    const pAfter = arena.alloc(30);
    expectStats(arena, { actions: 4, allocations: 3, groups: 1, liveBytes: 60 });
    arena.releaseGroup(g);
    expect(log).toEqual(["in2", "in1"]);
    expectCode(() => arena.sizeOf(pIn), "EBADPTR");
    expect(arena.sizeOf(pBefore)).toBe(10);
    expect(arena.sizeOf(pAfter)).toBe(30);
    expectStats(arena, { actions: 2, allocations: 2, groups: 0, liveBytes: 40 });
    ok(heap);
    arena.release();
    expect(log).toEqual(["in2", "in1", "after", "before"]);
    ok(heap);
  });

  it("nested groups are released with the outer one, and their handles go stale", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    logged(arena, log, "x");
    const outer = arena.openGroup("outer");
    logged(arena, log, "o1");
    const inner = arena.openGroup("inner");
    logged(arena, log, "i1");
    const deepest = arena.openGroup("deepest");
    logged(arena, log, "d1");
    arena.closeGroup(deepest);
    arena.closeGroup(inner);
    logged(arena, log, "o2");
    arena.closeGroup(outer);
    logged(arena, log, "y");
    expectStats(arena, { groups: 3, actions: 6 });
    arena.releaseGroup(outer);
    expect(log).toEqual(["o2", "d1", "i1", "o1"]);
    expectStats(arena, { groups: 0, actions: 2 });
    for (const g of [outer, inner, deepest]) {
      expectCode(() => arena.releaseGroup(g), "ESTALE");
      expectCode(() => arena.removeGroup(g), "ESTALE");
      expectCode(() => arena.closeGroup(g), "ESTALE");
    }
    ok(heap);
    arena.release();
    expect(log).toEqual(["o2", "d1", "i1", "o1", "y", "x"]);
    ok(heap);
  });

  it("releasing an inner group leaves the outer one and its other nodes", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const outer = arena.openGroup("outer");
    logged(arena, log, "o1");
    const inner = arena.openGroup("inner");
    logged(arena, log, "i1");
    arena.closeGroup(inner);
    logged(arena, log, "o2");
    arena.releaseGroup(inner);
    expect(log).toEqual(["i1"]);
    expectStats(arena, { groups: 1, actions: 2 });
    arena.closeGroup(); // the outer group is still open
    arena.releaseGroup(outer);
    expect(log).toEqual(["i1", "o2", "o1"]);
    expectStats(arena, { groups: 0, actions: 0 });
    ok(heap);
  });

  it("of an open group releases to the end of the list and closes it", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    logged(arena, log, "before");
    const g = arena.openGroup();
    logged(arena, log, "a");
    const inner = arena.openGroup("inner-still-open");
    logged(arena, log, "b");
    const p = arena.alloc(100);
    arena.releaseGroup(g);
    expect(log).toEqual(["b", "a"]);
    expectCode(() => arena.sizeOf(p), "EBADPTR");
    expectCode(() => arena.releaseGroup(inner), "ESTALE");
    expectCode(() => arena.closeGroup(), "EINVAL"); // neither group is open any more
    expectStats(arena, { groups: 0, actions: 1, allocations: 0, liveBytes: 0 });
    ok(heap);
    logged(arena, log, "later");
    arena.release();
    expect(log).toEqual(["b", "a", "later", "before"]);
    ok(heap);
  });

  it("nodes added by the group's own actions while it releases stay", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const g = arena.openGroup();
    arena.add(() => {
      log.push("in");
      arena.add(() => log.push("added-during"));
      arena.alloc(7);
    });
    arena.releaseGroup(g);
    expect(log).toEqual(["in"]);
    expectStats(arena, { groups: 0, actions: 1, allocations: 1, liveBytes: 7 });
    ok(heap);
    arena.release();
    expect(log).toEqual(["in", "added-during"]);
    ok(heap);
  });

  it("runs every node even if some throw; errors chain like release()", async () => {
    const { heap, arena } = await setup();
    const e1 = new Error("first");
    const e2 = new Error("second");
    const log: string[] = [];
    const g = arena.openGroup();
    arena.add(() => {
      log.push("1");
      throw e1;
    });
    arena.add(() => log.push("2"));
    arena.add(() => {
      log.push("3");
      throw e2;
    });
    arena.closeGroup();
    const r = capture(() => arena.releaseGroup(g));
    expect(log).toEqual(["3", "2", "1"]);
    expect(r.error).toBeInstanceOf(SuppressedError);
    expect((r.error as Suppressed).error).toBe(e1);
    expect(thrownOrder(r.error)).toEqual([e2, e1]);
    expectStats(arena, { groups: 0, actions: 0 });
    expectCode(() => arena.releaseGroup(g), "ESTALE");
    ok(heap);
  });

  it("one error is rethrown as is", async () => {
    const { heap, arena } = await setup();
    const e = new Error("only");
    const g = arena.openGroup();
    arena.add(() => {
      throw e;
    });
    expect(capture(() => arena.releaseGroup(g)).error).toBe(e);
    ok(heap);
  });

  it("releaseGroup and removeGroup after release -> ERELEASED", async () => {
    const { heap, arena } = await setup();
    const g = arena.openGroup();
    arena.release();
    expectCode(() => arena.releaseGroup(g), "ERELEASED");
    expectCode(() => arena.removeGroup(g), "ERELEASED");
    expectCode(() => arena.closeGroup(g), "ERELEASED");
    expectCode(() => arena.openGroup(), "ERELEASED");
    ok(heap);
  });

  it("openGroup during release -> EBUSY", async () => {
    const { heap, arena } = await setup();
    const codes: string[] = [];
    arena.add(() => codes.push(expectCode(() => arena.openGroup(), "EBUSY").code));
    arena.release();
    expect(codes).toEqual(["EBUSY"]);
    ok(heap);
  });
});

describe("removeGroup", () => {
  it("drops the markers and keeps the resources, which release later in their order", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    logged(arena, log, "before");
    const g = arena.openGroup();
    logged(arena, log, "in");
    const p = arena.alloc(12);
    arena.closeGroup(g);
    logged(arena, log, "after");
    arena.removeGroup(g);
    expect(log).toEqual([]);
    expect(arena.sizeOf(p)).toBe(12);
    expectStats(arena, { groups: 0, actions: 3, allocations: 1, liveBytes: 12 });
    expectCode(() => arena.releaseGroup(g), "ESTALE");
    expectCode(() => arena.removeGroup(g), "ESTALE");
    expectCode(() => arena.closeGroup(g), "ESTALE");
    ok(heap);
    arena.release();
    expect(log).toEqual(["after", "in", "before"]);
    ok(heap);
  });

  it("of an open group: it is no longer open", async () => {
    const { heap, arena } = await setup();
    const g = arena.openGroup();
    arena.alloc(1);
    arena.removeGroup(g);
    expectCode(() => arena.closeGroup(), "EINVAL");
    expectStats(arena, { groups: 0, allocations: 1 });
    ok(heap);
  });

  it("of an outer group keeps the nested group usable", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const outer = arena.openGroup("outer");
    logged(arena, log, "o");
    const inner = arena.openGroup("inner");
    logged(arena, log, "i");
    arena.closeGroup(inner);
    arena.closeGroup(outer);
    arena.removeGroup(outer);
    expectStats(arena, { groups: 1 });
    arena.releaseGroup(inner);
    expect(log).toEqual(["i"]);
    expectStats(arena, { groups: 0, actions: 1 });
    ok(heap);
  });
});

describe("group(fn)", () => {
  it("sync success: returns fn's value, fn gets the arena, the group stays marked and closed", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    let got: unknown;
    const value = arena.group((a: Arena) => {
      got = a;
      logged(arena, log, "inside");
      return 42;
    });
    expect(value).toBe(42);
    expect(got).toBe(arena);
    expectStats(arena, { groups: 1, actions: 1 });
    expectCode(() => arena.closeGroup(), "EINVAL");
    ok(heap);
    arena.release();
    expect(log).toEqual(["inside"]);
    ok(heap);
  });

  it("sync throw: exactly what was added inside unwinds, newest first, and the same error is rethrown", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    logged(arena, log, "outside-before");
    const kept = arena.alloc(9);
    const boom = new Error("probe failed");
    let inner: number | undefined;
    const r = capture(() =>
      arena.group(() => {
        logged(arena, log, "step1");
        inner = arena.alloc(100);
        logged(arena, log, "step2");
        throw boom;
      }),
    );
    expect(r.error).toBe(boom);
    expect(log).toEqual(["step2", "step1"]);
    expectCode(() => arena.sizeOf(inner as Ptr), "EBADPTR");
    expect(arena.sizeOf(kept)).toBe(9);
    expectStats(arena, { groups: 0, actions: 1, allocations: 1, liveBytes: 9 });
    expectCode(() => arena.closeGroup(), "EINVAL");
    ok(heap);
    arena.release();
    expect(log).toEqual(["step2", "step1", "outside-before"]);
    ok(heap);
  });

  it("a non-Error thrown value is rethrown as is", async () => {
    const { heap, arena } = await setup();
    const thrown = { reason: "plain object" };
    const r = capture(() =>
      arena.group(() => {
        arena.alloc(1);
        throw thrown;
      }),
    );
    expect(r.error).toBe(thrown);
    expectStats(arena, { allocations: 0, groups: 0 });
    ok(heap);
  });

  it("nested group(fn): the inner failure unwinds the inner group only if the outer catches it", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const value = arena.group(() => {
      logged(arena, log, "outer1");
      const r = capture(() =>
        arena.group(() => {
          logged(arena, log, "inner1");
          throw new Error("inner");
        }),
      );
      expect(r.threw).toBe(true);
      logged(arena, log, "outer2");
      return "ok";
    });
    expect(value).toBe("ok");
    expect(log).toEqual(["inner1"]);
    expectStats(arena, { groups: 1, actions: 2 });
    ok(heap);
  });

  it("async resolve: awaits fn, returns its value, the group is closed afterwards", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const value = await arena.group(async () => {
      logged(arena, log, "a");
      await microtasks(3);
      logged(arena, log, "b");
      return "done";
    });
    expect(value).toBe("done");
    expect(log).toEqual([]);
    expectStats(arena, { groups: 1, actions: 2 });
    expectCode(() => arena.closeGroup(), "EINVAL");
    ok(heap);
    arena.release();
    expect(log).toEqual(["b", "a"]);
  });

  it("async reject: everything added inside, also after an await, unwinds; the same error is rethrown", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    logged(arena, log, "outside");
    const boom = new Error("async probe failed");
    let caught: unknown;
    try {
      await arena.group(async () => {
        logged(arena, log, "a");
        await microtasks(2);
        logged(arena, log, "b");
        arena.alloc(64);
        await new Promise((resolve) => setTimeout(resolve, 1));
        logged(arena, log, "c");
        throw boom;
      });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBe(boom);
    expect(log).toEqual(["c", "b", "a"]);
    expectStats(arena, { groups: 0, actions: 1, allocations: 0, liveBytes: 0 });
    expectCode(() => arena.closeGroup(), "EINVAL");
    ok(heap);
  });

  it("unwinding error + fn error -> SuppressedError(unwindError, fnError)", async () => {
    const { heap, arena } = await setup();
    const fnError = new Error("fn");
    const unwindError = new Error("unwind");
    const r = capture(() =>
      arena.group(() => {
        arena.add(() => {
          throw unwindError;
        });
        throw fnError;
      }),
    );
    expect(r.error).toBeInstanceOf(SuppressedError);
    expect((r.error as Suppressed).error).toBe(unwindError);
    expect((r.error as Suppressed).suppressed).toBe(fnError);
    expectStats(arena, { groups: 0, actions: 0 });
    ok(heap);
  });

  it("async: unwinding error + rejection -> SuppressedError(unwindError, fnError)", async () => {
    const { heap, arena } = await setup();
    const fnError = new Error("fn");
    const unwindError = new Error("unwind");
    let caught: unknown;
    try {
      await arena.group(async () => {
        await microtasks(1);
        arena.add(() => {
          throw unwindError;
        });
        throw fnError;
      });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(SuppressedError);
    expect((caught as Suppressed).error).toBe(unwindError);
    expect((caught as Suppressed).suppressed).toBe(fnError);
    ok(heap);
  });

  it("non-function -> EINVAL, no group left behind; on a released arena -> ERELEASED", async () => {
    const { heap, arena } = await setup();
    expectCode(() => arena.group(bad(42)), "EINVAL");
    expectStats(arena, { groups: 0 });
    expectCode(() => arena.closeGroup(), "EINVAL");
    arena.release();
    expectCode(() => arena.group(() => 1), "ERELEASED");
    await expectCodeAsync(async () => arena.group(async () => 1), "ERELEASED");
    ok(heap);
  });

  it("group handles stay distinct: a stale handle is never confused with a newer group", async () => {
    const { heap, arena } = await setup();
    const stale: Group[] = [];
    for (let i = 0; i < 20; i++) {
      const g = arena.openGroup();
      arena.add(() => {});
      arena.closeGroup(g);
      if (i % 2) arena.releaseGroup(g);
      else arena.removeGroup(g);
      stale.push(g);
    }
    const live = arena.openGroup();
    for (const g of stale) {
      expectCode(() => arena.releaseGroup(g), "ESTALE");
      expectCode(() => arena.closeGroup(g), "ESTALE");
    }
    arena.closeGroup(live);
    expectStats(arena, { groups: 1, actions: 10 });
    ok(heap);
  });
});
