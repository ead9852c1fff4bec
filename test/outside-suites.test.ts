// Regression tests for what suites ported from the systems we imitate (KUnit
// devres tests, talloc's testsuite, test262's DisposableStack tests, APR's
// pool tests), adversarial inputs and a new user found. Each failed before
// its fix; the numbers are the defects' numbers in the issue that listed them.
import { describe, expect, it } from "vitest";
import { Arena, ArenaError, Heap, type Ptr, SuppressedError } from "../src/index.js";
import { bad, expectCode, expectCodeAsync, type Suppressed } from "./helpers.js";
import { collectUntil } from "./helpers3.js";

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
    const arena = heap.createArena(bad(options));
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

describe("1. a release() called by an action during reset() counts", () => {
  it("the devm put-in-action pattern: the last reference dropped in a reset tears down when the reset returns", async () => {
    const heap = await Heap.create({ debug: true });
    const a = heap.createArena();
    a.retain();
    const order: string[] = [];
    a.add(() => {
      order.push("put");
      a.release();
      expect(a.released).toBe(false);
    });
    a.alloc(100);
    a.reset();
    expect(order).toEqual(["put"]);
    expect(a.released).toBe(false);
    a.release();
    expect(a.released).toBe(true);
    expect(heap.check()).toBe(0);
  });

  it("dropping the last reference inside reset() releases the arena once the reset is done, chaining errors", async () => {
    const heap = await Heap.create({ debug: true });
    const a = heap.createArena();
    const order: string[] = [];
    a.add(() => order.push("older"));
    a.add(() => {
      order.push("put");
      a.release();
      throw new Error("in reset");
    });
    let thrown: unknown;
    try {
      a.reset();
    } catch (error) {
      thrown = error;
    }
    expect((thrown as Error).message).toBe("in reset");
    expect(order).toEqual(["put", "older"]);
    expect(a.released).toBe(true);
    expectCode(() => a.alloc(1), "ERELEASED");
    expect(heap.check()).toBe(0);
  });
});

describe("6. a failed registration changes nothing, whatever the action's name does", () => {
  it('add() on a traced arena whose action.name getter throws registers exactly once, named ""', async () => {
    const events: string[] = [];
    const heap = await Heap.create({ debug: true });
    const a = heap.createArena({ trace: (e) => events.push(`${e.op} ${e.kind} ${JSON.stringify(e.name)}`) });
    let runs = 0;
    const action = () => {
      runs++;
    };
    Object.defineProperty(action, "name", {
      get() {
        throw new Error("hostile name");
      },
    });
    const handle = a.add(action);
    expect(a.stats().actions).toBe(1);
    expect(a.hasAction(handle)).toBe(true);
    expect(a.resources()).toEqual([{ kind: "action", name: "", size: 0 }]);
    expect(a.report()).toContain("action");
    a.release();
    expect(runs).toBe(1);
    expect(events).toEqual(['add action ""', 'rel action ""']);
    expect(heap.check()).toBe(0);
  });
});

describe("7. group(fn) whose result has a throwing then getter", () => {
  it("unwinds the group and rethrows the getter's error; the group does not stay open", async () => {
    const heap = await Heap.create({ debug: true });
    const a = heap.createArena();
    const ran: string[] = [];
    const boom = new Error("then getter");
    let thrown: unknown;
    try {
      a.group((arena) => {
        arena.add(() => ran.push("inside"));
        arena.alloc(64);
        return {
          // biome-ignore lint/suspicious/noThenProperty: a hostile thenable is what this test is about
          get then() {
            throw boom;
          },
        };
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBe(boom);
    expect(ran).toEqual(["inside"]);
    expect(a.stats()).toMatchObject({ allocations: 0, actions: 0, groups: 0 });
    expectCode(() => a.closeGroup(), "EINVAL");
    expect(heap.check()).toBe(0);
  });

  it("a thenable's then is read once, and only its first settlement counts", async () => {
    const heap = await Heap.create({ debug: true });
    const a = heap.createArena();
    let reads = 0;
    const value = await a.group((arena) => {
      arena.alloc(8);
      return {
        // biome-ignore lint/suspicious/noThenProperty: a thenable whose then is a getter is the point
        get then() {
          reads++;
          if (reads > 1) throw new Error("read twice");
          return (resolve: (v: unknown) => void, reject: (e: unknown) => void) => {
            resolve("done");
            reject(new Error("late"));
          };
        },
      };
    });
    expect(value).toBe("done");
    expect(reads).toBe(1);
    expect(a.stats()).toMatchObject({ allocations: 1, groups: 1 });
    expect(heap.check()).toBe(0);
  });
});

describe("8. inside an onRelease destructor its allocation's memory is readable", () => {
  for (const how of ["free", "release", "releaseGroup", "releaseAsync"] as const) {
    it(`bytes, sizeOf and readString work until the destructor returns (${how})`, async () => {
      const heap = await Heap.create({ debug: true });
      const a = heap.createArena();
      const seen: unknown[] = [];
      const group = a.openGroup();
      const ptr = a.alloc(6, {
        onRelease: (p) => {
          seen.push(a.sizeOf(p), Array.from(a.bytes(p)), a.readString(p), a.bytes(p, 2).length);
          expectCode(() => a.free(p), "EBADPTR");
        },
      });
      a.bytes(ptr).set([104, 105, 0, 1, 2, 3]);
      a.closeGroup(group);
      if (how === "free") a.free(ptr);
      else if (how === "release") a.release();
      else if (how === "releaseGroup") a.releaseGroup(group);
      else await a.releaseAsync();
      expect(seen).toEqual([6, [104, 105, 0, 1, 2, 3], "hi", 2]);
      if (!a.released) expectCode(() => a.sizeOf(ptr), "EBADPTR");
      expect(heap.check()).toBe(0);
    });
  }
});

describe("2. a group walk never frees a block it did not detach itself", () => {
  it("a tracer that frees the reported allocation and allocates again keeps its new block", async () => {
    const heap = await Heap.create({ debug: true });
    let mine = 0;
    const codes: string[] = [];
    const a = heap.createArena({
      trace(event) {
        if (event.op === "rel" && event.kind === "alloc" && mine === 0) {
          try {
            a.free(event.ptr as Ptr);
          } catch (error) {
            codes.push((error as { code: string }).code);
          }
          mine = a.alloc(32);
          a.bytes(mine as never).fill(7);
        }
      },
    });
    let thrown: unknown;
    try {
      a.group(() => {
        a.alloc(32);
        throw 0;
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBe(0);
    // The reported block was already detached: freeing it again is refused, never a second owner.
    expect(codes).toEqual(["EBADPTR"]);
    expect(a.sizeOf(mine as Ptr)).toBe(32);
    expect(a.stats()).toMatchObject({ allocations: 1, liveBytes: 32 });
    const next = a.alloc(32);
    expect(next).not.toBe(mine);
    expect(Array.from(a.bytes(mine as never))).toEqual(new Array(32).fill(7));
    expect(heap.check()).toBe(0);
  });
});

describe("2. check() catches a block owned twice", () => {
  const CLASS_SHIFT = 4;
  const CLASS_MASK = 63 << CLASS_SHIFT;
  it("a block inside the bump range still to be handed out (rule 71)", async () => {
    const heap = await Heap.create({ debug: true });
    const a = heap.createArena();
    const p = a.alloc(16);
    const words = new Uint32Array(heap.memory.buffer);
    const cur = (a.state.record + 12) >>> 2;
    const saved = words[cur];
    words[cur] = p - 16;
    expect(heap.check()).toBe(71);
    words[cur] = saved;
    expect(heap.check()).toBe(0);
  });

  /** The bitmap word and bit of a payload's block-start bit (assembly/nodes.ts, bitWord/bitMask). */
  const startBit = (payload: number) => ({
    word: ((payload & ~0xffff) + 64512 + (((payload & 0xffff) >>> 8) << 2)) >>> 2,
    bit: 1 << ((payload >>> 3) & 31),
  });

  it("a block-start bit in the bump range still to be handed out (rule 58)", async () => {
    const heap = await Heap.create({ debug: true });
    const a = heap.createArena();
    a.alloc(16);
    const words = new Uint32Array(heap.memory.buffer);
    const cur = words[(a.state.record + 12) >>> 2];
    const { word, bit } = startBit(cur + 32);
    words[word] |= bit;
    expect(heap.check()).toBe(58);
    words[word] &= ~bit;
    expect(heap.check()).toBe(0);
  });

  it("a block-start bit inside an allocation, where a forged header says no kind (rule 41), is caught", async () => {
    const heap = await Heap.create({ debug: true });
    const a = heap.createArena();
    const p = a.alloc(64);
    const words = new Uint32Array(heap.memory.buffer);
    // A forged header at p + 16 whose meta (at +12) has kind 15, which the core never writes.
    words[(p + 28) >>> 2] = 15;
    const { word, bit } = startBit(p + 32);
    words[word] |= bit;
    expect(heap.check()).toBe(41);
    // Neither that pointer nor any other inside p can be freed: free reads the kind after the bit.
    expect(() => a.free(bad(p + 32))).toThrow(expect.objectContaining({ code: "EBADPTR" }));
    words[word] &= ~bit;
    expect(heap.check()).toBe(0);
  });

  it("a held block whose start bit is clear: a free block (rule 54), an action's node (rule 73)", async () => {
    const heap = await Heap.create({ debug: true });
    const a = heap.createArena();
    const p = a.alloc(16);
    a.add(() => {});
    const words = new Uint32Array(heap.memory.buffer);
    const action = words[a.state.record >>> 2] + 16;
    const actionBit = startBit(action);
    words[actionBit.word] &= ~actionBit.bit;
    expect(heap.check()).toBe(73);
    words[actionBit.word] |= actionBit.bit;
    a.free(p);
    const freeBit = startBit(p);
    words[freeBit.word] &= ~freeBit.bit;
    expect(heap.check()).toBe(54);
    words[freeBit.word] |= freeBit.bit;
    expect(heap.check()).toBe(0);
  });

  it("a free block whose bytes reach a live allocation's start (rule 72), and check() leaves memory as it was", async () => {
    const heap = await Heap.create({ debug: true });
    const a = heap.createArena({ minAlign: 16 });
    const p = a.alloc(16);
    const q = a.alloc(16);
    expect(q).toBe(p + 32);
    a.free(p);
    const words = new Uint32Array(heap.memory.buffer);
    const node = (p - 16) >>> 2;
    const lists = (a.state.record + 64) >>> 2;
    expect(words[lists + 1]).toBe(p - 16);
    // Move p's free block to the list of class 5 (48 bytes): it now covers q's header and start.
    words[lists + 1] = 0;
    words[lists + 5] = p - 16;
    const meta = words[node + 3];
    words[node + 3] = (meta & ~CLASS_MASK) | (5 << CLASS_SHIFT);
    const before = new Uint8Array(heap.memory.buffer).slice();
    expect(heap.check()).toBe(72);
    expect(new Uint8Array(heap.memory.buffer)).toEqual(before);
    words[node + 3] = meta;
    words[lists + 5] = 0;
    words[lists + 1] = p - 16;
    expect(heap.check()).toBe(0);
  });
});

describe("3. group(fn) unwinds after fn ran out of memory", () => {
  it("every action fn registered runs, the group goes, and fn's ENOMEM is rethrown as is", async () => {
    const heap = await Heap.create({ debug: true, maxPages: 4 });
    const a = heap.createArena();
    let registered = 0;
    let ran = 0;
    let thrown: unknown;
    try {
      a.group((arena) => {
        for (;;) {
          arena.add(() => ran++);
          registered++;
        }
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ArenaError);
    expect((thrown as ArenaError).code).toBe("ENOMEM");
    expect(registered).toBeGreaterThan(1000);
    expect(ran).toBe(registered);
    expect(a.stats()).toMatchObject({ actions: 0, groups: 0, allocations: 0 });
    expect(heap.check()).toBe(0);
    a.release();
  });

  it("releaseGroup of an open group on a full heap needs no memory either", async () => {
    const heap = await Heap.create({ debug: true, maxPages: 3 });
    const a = heap.createArena();
    const outer = a.openGroup("outer");
    a.openGroup("inner");
    let ran = 0;
    for (;;) {
      try {
        a.add(() => ran++);
      } catch {
        break;
      }
    }
    a.releaseGroup(outer);
    expect(ran).toBeGreaterThan(100);
    expect(a.stats()).toMatchObject({ actions: 0, groups: 0 });
    expect(heap.check()).toBe(0);
  });
});

describe("9. releaseAsync({ signal }): a way out of an action that never settles", () => {
  const never = () => new Promise(() => {});

  it("a timeout gives up the hanging action; older actions still run and the memory comes back", async () => {
    const heap = await Heap.create({ debug: true, maxPages: 8 });
    const a = heap.createArena();
    const order: string[] = [];
    a.add(() => order.push("oldest"));
    a.add(async () => {
      order.push("older async");
    });
    a.alloc(200_000);
    a.add(() => {
      order.push("hangs");
      return never();
    });
    a.add(() => order.push("newest"));
    let thrown: unknown;
    try {
      await a.releaseAsync({ signal: AbortSignal.timeout(30) });
    } catch (error) {
      thrown = error;
    }
    expect((thrown as Error).name).toBe("TimeoutError");
    expect(order).toEqual(["newest", "hangs", "older async", "oldest"]);
    expect(a.released).toBe(true);
    expect(heap.check()).toBe(0);
    // The 200 KB came back: a new arena gets them without growing memory past maxPages.
    const b = heap.createArena();
    expect(b.alloc(200_000)).toBeGreaterThan(0);
  });

  it("after the abort, later promises are not awaited, and the reason is thrown once in the chain", async () => {
    const heap = await Heap.create({ debug: true });
    const a = heap.createArena();
    const order: string[] = [];
    const older = new Error("older, sync");
    a.add(() => {
      order.push("older");
      throw older;
    });
    a.add(() => {
      order.push("never awaited");
      return never();
    });
    const controller = new AbortController();
    a.add(() => {
      order.push("hangs");
      setTimeout(() => controller.abort(new Error("user gave up")), 5);
      return never();
    });
    let thrown: unknown;
    try {
      await a.releaseAsync({ signal: controller.signal });
    } catch (error) {
      thrown = error;
    }
    expect(order).toEqual(["hangs", "never awaited", "older"]);
    expect(thrown).toBeInstanceOf(SuppressedError);
    expect((thrown as Suppressed).error).toBe(older);
    expect(((thrown as Suppressed).suppressed as Error).message).toBe("user gave up");
    expect(a.released).toBe(true);
  });

  it("a signal that never aborts changes nothing, and a destructor's memory stays valid until it settles", async () => {
    const heap = await Heap.create({ debug: true });
    const a = heap.createArena();
    const seen: number[] = [];
    a.alloc(4, {
      onRelease: async (p) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        seen.push(a.sizeOf(p));
      },
    });
    await a.releaseAsync({ signal: new AbortController().signal });
    expect(seen).toEqual([4]);
    expect(heap.check()).toBe(0);
  });

  it("a destructor given up on has its memory freed, and a child arena gives up with its parent", async () => {
    const heap = await Heap.create({ debug: true });
    const a = heap.createArena();
    const child = a.createChild({ name: "child" });
    child.alloc(8, { onRelease: never });
    const signal = AbortSignal.abort(new Error("already"));
    await expectRejects(() => a.releaseAsync({ signal }), "already");
    expect(child.released).toBe(true);
    expect(a.released).toBe(true);
    expect(heap.check()).toBe(0);
  });

  it("a bad signal or option is EINVAL and releases nothing", async () => {
    const heap = await Heap.create();
    const a = heap.createArena();
    await expectCodeAsync(() => a.releaseAsync(bad({ signal: {} })), "EINVAL");
    await expectCodeAsync(() => a.releaseAsync(bad({ timeout: 5 })), "EINVAL");
    await expectCodeAsync(() => a.releaseAsync(bad(null)), "EINVAL");
    expect(a.released).toBe(false);
    await a.releaseAsync();
    expect(a.released).toBe(true);
  });
});

async function expectRejects(fn: () => Promise<unknown>, message: string): Promise<void> {
  let thrown: unknown;
  try {
    await fn();
  } catch (error) {
    thrown = error;
  }
  expect((thrown as Error | undefined)?.message).toBe(message);
}

describe("10. an arena garbage-collected without release() gives its memory back", () => {
  /** Fills an arena of its own with `bytes` of allocations, an action and a destructor, and drops it. */
  function leak(heap: Heap, ran: string[], bytes: number): void {
    const arena = heap.createArena({ name: "leaked" });
    arena.alloc(bytes);
    arena.add(() => ran.push("action"));
    arena.alloc(16, { onRelease: () => ran.push("destructor") });
    const child = arena.createChild({ name: "orphan" });
    child.alloc(bytes);
    child.add(() => ran.push("child action"));
  }

  it("its pages come back to the heap, its actions are dropped without running, its children follow", async () => {
    const reports: string[] = [];
    const heap = await Heap.create({ debug: true, maxPages: 24, onLeak: (report) => reports.push(report) });
    const ran: string[] = [];
    // Each round leaks about 9 pages (two arenas of 4 pages and more): without reclaiming, the third fails.
    for (let round = 0; round < 6; round++) {
      leak(heap, ran, 4 * 65536 - 4096);
      const back = await collectUntil(() => reports.length >= 2 * (round + 1), 100);
      expect(back, `round ${round}: the leaked arena and its child were not both reported`).toBe(true);
      expect(heap.check()).toBe(0);
    }
    expect(ran).toEqual([]);
    expect(reports.filter((r) => r.includes('"orphan"')).length).toBeGreaterThanOrEqual(6);
    const survivor = heap.createArena();
    expect(survivor.alloc(8 * 65536)).toBeGreaterThan(0);
    expect(heap.check()).toBe(0);
  });

  it("an onLeak that throws does not keep the memory from coming back", async () => {
    let calls = 0;
    const heap = await Heap.create({
      debug: true,
      maxPages: 16,
      onLeak: () => {
        calls++;
        throw new Error("reporter broke");
      },
    });
    const errors: unknown[] = [];
    const onError = (error: unknown) => errors.push(error);
    process.on("uncaughtException", onError);
    try {
      for (let round = 0; round < 4; round++) {
        heap.createArena().alloc(5 * 65536);
        expect(await collectUntil(() => calls > round, 100)).toBe(true);
      }
      await collectUntil(() => errors.length >= 4, 5);
    } finally {
      process.off("uncaughtException", onError);
    }
    expect(heap.check()).toBe(0);
    expect(heap.createArena().alloc(5 * 65536)).toBeGreaterThan(0);
  });
});

describe("DESIGN §3: realloc(ptr, 0)", () => {
  it("keeps a live zero-size allocation in ptr's place in release order; free frees it", async () => {
    const heap = await Heap.create({ debug: true });
    const a = heap.createArena();
    const first = a.alloc(40, { name: "first" });
    const p = a.alloc(100, { name: "shrunk" });
    a.add(function newer() {});
    const q = a.realloc(p, 0);
    expect(a.sizeOf(q)).toBe(0);
    expect(a.resources().map((r) => `${r.kind} ${r.name} ${r.size}`)).toEqual([
      "action newer 0",
      "alloc shrunk 0",
      "alloc first 40",
    ]);
    expect(a.stats()).toMatchObject({ allocations: 2, liveBytes: 40 });
    a.free(q);
    expectCode(() => a.free(q), "EBADPTR");
    expect(a.sizeOf(first)).toBe(40);
    expect(heap.check()).toBe(0);
  });
});

describe("check() inside the destructor of a large allocation", () => {
  it("holds: a large run whose allocation is dying is no broken invariant", async () => {
    const heap = await Heap.create({ debug: true });
    const a = heap.createArena();
    const codes: number[] = [];
    const big = a.alloc(100_000, { onRelease: () => codes.push(heap.check()) });
    a.free(big);
    a.alloc(100_000, { onRelease: () => codes.push(heap.check()) });
    a.release();
    expect(codes).toEqual([0, 0]);
  });
});
