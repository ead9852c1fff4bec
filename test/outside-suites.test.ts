// Regression tests for what suites ported from the systems we imitate (KUnit
// devres tests, talloc's testsuite, test262's DisposableStack tests, APR's
// pool tests), adversarial inputs and a new user found. Each failed before
// its fix; the numbers are the defects' numbers in the issue that listed them.
import { describe, expect, it } from "vitest";
import { Arena, Heap } from "../src/index.js";
import { bad, expectCode, expectCodeAsync } from "./helpers.js";

describe("5. options are read once, own properties only, every name known", () => {
  it("a polluted Object.prototype changes nothing", async () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.maxBytes = 10;
    proto.maxPages = 1;
    proto.align = 4096;
    proto.zero = "yes";
    try {
      const heap = await Heap.create();
      const arena = heap.createArena();
      const ptr = arena.alloc(64, {});
      expect(ptr % 4096).not.toBe(0);
      expect(arena.stats().liveBytes).toBe(64);
      arena.alloc(1000);
      expect(arena.createChild({}).alloc(100)).toBeGreaterThan(0);
      expect(arena.allocArray(4, 4, {})).toBeGreaterThan(0);
    } finally {
      delete proto.maxBytes;
      delete proto.maxPages;
      delete proto.align;
      delete proto.zero;
    }
  });

  it("a getter is read exactly once: it cannot pass validation and then answer something else", async () => {
    let reads = 0;
    const events: string[] = [];
    const options = {
      name: "traced",
      get trace() {
        reads++;
        return reads === 1 ? (event: { op: string }) => events.push(event.op) : 42;
      },
    };
    const heap = await Heap.create();
    const arena = heap.createArena(options);
    arena.free(arena.alloc(8));
    arena.release();
    expect(reads).toBe(1);
    expect(events).toEqual(["add", "del"]);

    let alignReads = 0;
    const allocOptions = {
      get align() {
        alignReads++;
        return alignReads === 1 ? 64 : 3;
      },
    };
    const other = heap.createArena();
    expect(other.alloc(8, allocOptions) % 64).toBe(0);
    expect(alignReads).toBe(1);

    let heapReads = 0;
    await Heap.create({
      get maxPages() {
        heapReads++;
        return heapReads === 1 ? 16 : -1;
      },
    });
    expect(heapReads).toBe(1);
  });

  it("a misspelled name is EINVAL and changes nothing", async () => {
    await expectCodeAsync(() => Heap.create(bad({ maxPage: 4 })), "EINVAL");
    await expectCodeAsync(() => Arena.create(bad({ nme: "x" })), "EINVAL");
    const heap = await Heap.create();
    expectCode(() => heap.createArena(bad({ minAling: 8 })), "EINVAL");
    const arena = heap.createArena();
    arena.alloc(24);
    const before = arena.stats();
    expectCode(() => arena.alloc(16, bad({ aling: 8 })), "EINVAL");
    expectCode(() => arena.allocArray(2, 8, bad({ zeros: true })), "EINVAL");
    expectCode(() => arena.createChild(bad({ maxByte: 8 })), "EINVAL");
    expect(arena.stats()).toEqual(before);
    const error = expectCode(() => arena.alloc(16, bad({ aling: 8 })), "EINVAL");
    expect(error.message).toMatch(/"aling"/);
  });

  it("null and non-object options are EINVAL, for the heap as for everything else", async () => {
    for (const value of [null, 5, "opts", true, () => {}]) {
      await expectCodeAsync(() => Heap.create(bad(value)), "EINVAL");
      await expectCodeAsync(() => Arena.create(bad(value)), "EINVAL");
    }
    const heap = await Heap.create();
    const arena = heap.createArena();
    expectCode(() => heap.createArena(bad(null)), "EINVAL");
    expectCode(() => arena.alloc(8, bad(null)), "EINVAL");
    expectCode(() => arena.createChild(bad(7)), "EINVAL");
    expect(arena.stats().allocations).toBe(0);
  });

  it("options given as undefined, or with undefined values, are the defaults", async () => {
    const heap = await Heap.create({ maxPages: undefined, debug: undefined });
    const arena = heap.createArena({ name: undefined, minAlign: undefined });
    expect(arena.name).toBe("arena");
    expect(arena.alloc(8, { align: undefined, name: undefined })).toBeGreaterThan(0);
    expect(arena.alloc(8, undefined)).toBeGreaterThan(0);
  });
});
