// Child arenas [talloc children, APR subpools]: createChild makes an arena on
// the same heap whose release is registered in the parent at creation and
// runs at that place in the parent's newest-first order; releasing the child
// early unregisters it.
import { describe, expect, it } from "vitest";
import type { Arena } from "../src/index.js";
import { bad, capture, expectCode } from "./helpers.js";
import { expectStats, ok, setup } from "./helpers3.js";

function logged(arena: Arena, log: string[], name: string) {
  return arena.add(() => log.push(name), undefined, name);
}

describe("createChild", () => {
  it("is on the same heap and registered in the parent (stats().children, resources())", async () => {
    const { heap, arena } = await setup({}, { name: "parent" });
    const child = arena.createChild({ name: "kid" });
    expect(child.heap).toBe(heap);
    expect(child.heap).toBe(arena.heap);
    expect(child.name).toBe("kid");
    expect(child.released).toBe(false);
    expect(child).not.toBe(arena);
    expectStats(arena, { children: 1, actions: 0, allocations: 0, liveBytes: 0 });
    expectStats(child, { children: 0, allocations: 0, liveBytes: 0 });
    expect(arena.resources()).toEqual([{ kind: "child", name: "kid", size: 0, ptr: undefined }]);
    ok(heap);
  });

  it("a child's allocations are its own: the parent's liveBytes do not include them, resources() shows them as size", async () => {
    const { heap, arena } = await setup();
    arena.alloc(10);
    const child = arena.createChild({ name: "c" });
    const p = child.alloc(300);
    child.alloc(5);
    expect(child.sizeOf(p)).toBe(300);
    expectCode(() => arena.sizeOf(p), "EBADPTR");
    expectStats(child, { allocations: 2, liveBytes: 305 });
    expectStats(arena, { allocations: 1, liveBytes: 10, children: 1 });
    expect(arena.resources()[0]).toEqual({ kind: "child", name: "c", size: 305, ptr: undefined });
    ok(heap);
  });

  it("default name and options are passed on (minAlign)", async () => {
    const { heap, arena } = await setup();
    const child = arena.createChild({ minAlign: 256 });
    expect(child.name).toBe("arena");
    expect(child.alloc(3) % 256).toBe(0);
    const noOptions = arena.createChild();
    expect(noOptions.alloc(1) % 16).toBe(0);
    expectStats(arena, { children: 2 });
    ok(heap);
  });

  it("invalid options -> EINVAL, nothing registered", async () => {
    const { heap, arena } = await setup();
    const before = arena.stats();
    expectCode(() => arena.createChild({ minAlign: 3 }), "EINVAL");
    expectCode(() => arena.createChild(bad(42)), "EINVAL");
    expectCode(() => arena.createChild({ name: bad(7) }), "EINVAL");
    expect(arena.stats()).toEqual(before);
    expect(arena.resources()).toEqual([]);
    ok(heap);
  });

  it("on a released parent -> ERELEASED; during the parent's release -> EBUSY", async () => {
    const { heap, arena } = await setup();
    const codes: string[] = [];
    arena.add(() => codes.push(expectCode(() => arena.createChild(), "EBUSY").code));
    arena.release();
    expect(codes).toEqual(["EBUSY"]);
    expectCode(() => arena.createChild(), "ERELEASED");
    ok(heap);
  });
});

describe("release order", () => {
  it("a child is released at its place in the parent's newest-first order", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    logged(arena, log, "before");
    const child = arena.createChild({ name: "child" });
    logged(child, log, "child-1");
    logged(arena, log, "after");
    logged(child, log, "child-2"); // added to the child later, still runs at the child's place
    arena.release();
    expect(log).toEqual(["after", "child-2", "child-1", "before"]);
    expect(child.released).toBe(true);
    expect(arena.released).toBe(true);
    ok(heap);
  });

  it("the child's memory is still valid while newer parent actions run, and freed afterwards", async () => {
    const { heap, arena } = await setup();
    const child = arena.createChild();
    const p = child.alloc(16);
    child.bytes(p).fill(0xab);
    const seen: number[] = [];
    arena.add(() => {
      expect(child.released).toBe(false);
      seen.push(child.bytes(p)[15]);
    });
    arena.release();
    expect(seen).toEqual([0xab]);
    expectCode(() => child.sizeOf(p), "ERELEASED");
    ok(heap);
  });

  it("the child's own actions run (newest first) when the parent releases; errors reach the parent's release", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const err = new Error("child action");
    const child = arena.createChild();
    logged(child, log, "c1");
    child.add(() => {
      log.push("c2");
      throw err;
    });
    logged(child, log, "c3");
    const r = capture(() => arena.release());
    expect(log).toEqual(["c3", "c2", "c1"]);
    expect(r.error).toBe(err);
    expect(child.released).toBe(true);
    ok(heap);
  });

  it("a child is released by the parent regardless of its reference count", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const child = arena.createChild();
    child.retain();
    child.retain();
    logged(child, log, "c");
    arena.release();
    expect(log).toEqual(["c"]);
    expect(child.released).toBe(true);
    child.release(); // a no-op now
    expect(log).toEqual(["c"]);
    ok(heap);
  });

  it("a child inside a group is released with the group", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    logged(arena, log, "outside");
    const g = arena.openGroup();
    const child = arena.createChild();
    logged(child, log, "c");
    arena.closeGroup(g);
    arena.releaseGroup(g);
    expect(log).toEqual(["c"]);
    expect(child.released).toBe(true);
    expectStats(arena, { children: 0, actions: 1 });
    ok(heap);
  });
});

describe("releasing a child early", () => {
  it("unregisters it: the parent's count drops and its release does not touch the child again", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    logged(arena, log, "p1");
    const child = arena.createChild();
    logged(child, log, "c");
    logged(arena, log, "p2");
    child.release();
    expect(log).toEqual(["c"]);
    expect(child.released).toBe(true);
    expectStats(arena, { children: 0, actions: 2 });
    expect(arena.resources().map((r) => r.kind)).toEqual(["action", "action"]);
    ok(heap);
    arena.release();
    expect(log).toEqual(["c", "p2", "p1"]);
    ok(heap);
  });

  it("a retained child released once stays registered; the last release unregisters it", async () => {
    const { heap, arena } = await setup();
    const child = arena.createChild();
    child.retain();
    child.release();
    expect(child.released).toBe(false);
    expectStats(arena, { children: 1 });
    child.release();
    expect(child.released).toBe(true);
    expectStats(arena, { children: 0 });
    ok(heap);
  });

  it("Symbol.dispose on the child unregisters it too", async () => {
    const { heap, arena } = await setup();
    const child = arena.createChild();
    child[Symbol.dispose]();
    expectStats(arena, { children: 0 });
    ok(heap);
  });

  it("a newer parent action may release the child during the parent's release; it is released once", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const child = arena.createChild();
    logged(child, log, "c");
    arena.add(() => {
      log.push("p");
      child.release();
    });
    arena.release();
    expect(log).toEqual(["p", "c"]);
    expect(child.released).toBe(true);
    ok(heap);
  });

  it("children released early and later ones keep the parent's list consistent", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const kids = Array.from({ length: 6 }, (_, i) => {
      const k = arena.createChild({ name: `k${i}` });
      logged(k, log, `k${i}`);
      return k;
    });
    kids[1].release();
    kids[4].release();
    expectStats(arena, { children: 4 });
    expect(arena.resources().map((r) => r.name)).toEqual(["k5", "k3", "k2", "k0"]);
    ok(heap);
    arena.release();
    expect(log).toEqual(["k1", "k4", "k5", "k3", "k2", "k0"]);
    ok(heap);
  });
});

describe("grandchildren", () => {
  it("nested children release depth-first at their places", async () => {
    const { heap, arena } = await setup({}, { name: "root" });
    const log: string[] = [];
    logged(arena, log, "root-1");
    const child = arena.createChild({ name: "child" });
    logged(child, log, "child-1");
    const grandchild = child.createChild({ name: "grandchild" });
    logged(grandchild, log, "grand-1");
    logged(child, log, "child-2");
    logged(grandchild, log, "grand-2");
    logged(arena, log, "root-2");
    expect(grandchild.heap).toBe(heap);
    expectStats(arena, { children: 1, actions: 2 });
    expectStats(child, { children: 1, actions: 2 });
    expectStats(grandchild, { children: 0, actions: 2 });
    arena.release();
    expect(log).toEqual(["root-2", "child-2", "grand-2", "grand-1", "child-1", "root-1"]);
    expect(child.released).toBe(true);
    expect(grandchild.released).toBe(true);
    ok(heap);
  });

  it("a grandchild released early only changes its own parent's count", async () => {
    const { heap, arena } = await setup();
    const child = arena.createChild();
    const grandchild = child.createChild();
    grandchild.release();
    expectStats(child, { children: 0 });
    expectStats(arena, { children: 1 });
    child.release();
    expectStats(arena, { children: 0 });
    ok(heap);
  });

  it("a middle child released early takes its grandchildren with it", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const child = arena.createChild();
    const grandchild = child.createChild();
    logged(grandchild, log, "g");
    child.release();
    expect(log).toEqual(["g"]);
    expect(grandchild.released).toBe(true);
    expectStats(arena, { children: 0 });
    ok(heap);
  });

  it("reset of the parent releases its children", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const child = arena.createChild();
    logged(child, log, "c");
    arena.reset();
    expect(child.released).toBe(true);
    expect(log).toEqual(["c"]);
    expectStats(arena, { children: 0 });
    ok(heap);
  });
});
