// resources() lists an arena's nodes in release order (newest first) with
// kind, name, size and, for allocations, ptr; report() renders a readable
// tree of an arena, its children and totals [talloc_report_full].
import { describe, expect, it } from "vitest";
import { expectCode } from "./helpers.js";
import { ok, setup } from "./helpers3.js";

function namedAction() {}

/** The number of leading spaces (or tree characters) before the first letter of a line. */
function indentOf(line: string): number {
  return line.search(/[A-Za-z0-9"'<[(]/);
}

/** The first line of `text` that contains `needle`. */
function lineWith(text: string, needle: string): string {
  const line = text.split("\n").find((l) => l.includes(needle));
  expect(line, `no line of the report contains ${JSON.stringify(needle)}:\n${text}`).toBeDefined();
  return line as string;
}

describe("resources()", () => {
  it("an empty arena has none", async () => {
    const { arena } = await setup();
    expect(arena.resources()).toEqual([]);
  });

  it("lists every kind newest first, with names, sizes and allocation pointers", async () => {
    const { heap, arena } = await setup();
    const a = arena.alloc(10);
    arena.add(namedAction);
    const b = arena.alloc(300, { name: "frame buffer" });
    arena.add(() => {}, undefined, "custom");
    const g = arena.openGroup("probe");
    const d = arena.alloc(4, { name: "with dtor", onRelease: () => {} });
    const child = arena.createChild({ name: "kid" });
    child.alloc(77);
    child.alloc(3);
    arena.closeGroup(g);
    const s = arena.strdup("hi");
    const unnamed = arena.openGroup();
    expect(arena.resources()).toEqual([
      { kind: "group", name: "group", size: 0, ptr: undefined },
      { kind: "alloc", name: "alloc", size: 3, ptr: s },
      { kind: "child", name: "kid", size: 80, ptr: undefined },
      { kind: "alloc", name: "with dtor", size: 4, ptr: d },
      { kind: "group", name: "probe", size: 0, ptr: undefined },
      { kind: "action", name: "custom", size: 0, ptr: undefined },
      { kind: "alloc", name: "frame buffer", size: 300, ptr: b },
      { kind: "action", name: "namedAction", size: 0, ptr: undefined },
      { kind: "alloc", name: "alloc", size: 10, ptr: a },
    ]);
    arena.closeGroup(unnamed);
    ok(heap);
  });

  it("follows free, removeAction, realloc (new pointer and size, same place) and releaseGroup", async () => {
    const { heap, arena } = await setup();
    const a = arena.alloc(8, { name: "a" });
    const h = arena.add(namedAction);
    const b = arena.alloc(16, { name: "b" });
    const c = arena.alloc(24, { name: "c" });
    const g = arena.openGroup("g");
    arena.alloc(1, { name: "in group" });
    arena.closeGroup(g);
    arena.free(b);
    arena.removeAction(h);
    const a2 = arena.realloc(a, 50_000);
    arena.releaseGroup(g);
    expect(arena.resources()).toEqual([
      { kind: "alloc", name: "c", size: 24, ptr: c },
      { kind: "alloc", name: "a", size: 50_000, ptr: a2 },
    ]);
    ok(heap);
  });

  it("returns a fresh array each call (mutating it changes nothing)", async () => {
    const { arena } = await setup();
    arena.alloc(5);
    const r = arena.resources();
    r.length = 0;
    expect(arena.resources().length).toBe(1);
  });

  it("after release -> ERELEASED", async () => {
    const { arena } = await setup();
    arena.release();
    expectCode(() => arena.resources(), "ERELEASED");
    expectCode(() => arena.report(), "ERELEASED");
  });
});

describe("report()", () => {
  it("names the arena and every resource, and shows the totals", async () => {
    const { arena } = await setup({}, { name: "gpu-device" });
    arena.alloc(1000, { name: "ring buffer" });
    arena.alloc(234, { name: "command queue" });
    arena.add(function unmapRegisters() {});
    arena.openGroup("probe-stage");
    const text = arena.report();
    expect(typeof text).toBe("string");
    for (const needle of ["gpu-device", "ring buffer", "command queue", "unmapRegisters", "probe-stage"]) {
      expect(text).toContain(needle);
    }
    expect(text).toContain("1234"); // liveBytes
    expect(text).toContain("1000");
    expect(text).toContain("234");
    expect(text.split("\n").filter((l) => l.trim() !== "").length).toBeGreaterThanOrEqual(6);
    // Resources are listed newest first, like resources().
    expect(text.indexOf("probe-stage")).toBeLessThan(text.indexOf("unmapRegisters"));
    expect(text.indexOf("unmapRegisters")).toBeLessThan(text.indexOf("command queue"));
    expect(text.indexOf("command queue")).toBeLessThan(text.indexOf("ring buffer"));
  });

  it("indents children and their resources below the parent's", async () => {
    const { arena } = await setup({}, { name: "root" });
    arena.alloc(8, { name: "root-alloc" });
    const child = arena.createChild({ name: "child-arena" });
    child.alloc(4000, { name: "child-alloc" });
    const grandchild = child.createChild({ name: "grandchild-arena" });
    grandchild.add(function grandAction() {});
    const text = arena.report();
    for (const needle of ["root", "root-alloc", "child-arena", "child-alloc", "grandchild-arena", "grandAction"]) {
      expect(text).toContain(needle);
    }
    expect(text).toContain("4000");
    const rootAlloc = indentOf(lineWith(text, "root-alloc"));
    const childAlloc = indentOf(lineWith(text, "child-alloc"));
    const grandAction = indentOf(lineWith(text, "grandAction"));
    expect(childAlloc).toBeGreaterThan(rootAlloc);
    expect(grandAction).toBeGreaterThan(childAlloc);
    expect(indentOf(lineWith(text, "child-arena"))).toBeGreaterThanOrEqual(rootAlloc);
  });

  it("a child's own report starts at the child", async () => {
    const { arena } = await setup({}, { name: "root" });
    const child = arena.createChild({ name: "only-child" });
    child.alloc(1, { name: "leaf" });
    const text = child.report();
    expect(text).toContain("only-child");
    expect(text).toContain("leaf");
    expect(text).not.toContain("root");
  });

  it("changes with the arena: freed resources disappear", async () => {
    const { arena } = await setup({}, { name: "a" });
    const p = arena.alloc(10, { name: "temporary-buffer" });
    expect(arena.report()).toContain("temporary-buffer");
    arena.free(p);
    expect(arena.report()).not.toContain("temporary-buffer");
  });
});
