// releaseAsync() and Symbol.asyncDispose [AsyncDisposableStack]: like
// release(), but each action's promise is awaited before the next (older)
// action starts; errors chain the same way.
import { describe, expect, it } from "vitest";
import { type Arena, SuppressedError } from "../src/index.js";
import { expectCode, type Suppressed, thrownOrder } from "./helpers.js";
import { macrotask, microtasks, ok, setup } from "./helpers3.js";

/** An async action that logs its start, waits (microtasks and a macrotask), then logs its end. */
function slow(arena: Arena, log: string[], name: string) {
  return arena.add(async () => {
    log.push(`start ${name}`);
    await microtasks(3);
    await macrotask();
    log.push(`end ${name}`);
  });
}

/** Captures the rejection of a promise (or undefined if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<{ rejected: boolean; error: unknown }> {
  try {
    await promise;
    return { rejected: false, error: undefined };
  } catch (error) {
    return { rejected: true, error };
  }
}

describe("releaseAsync", () => {
  it("awaits each action's promise newest-first: one finishes before the next starts", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    slow(arena, log, "a");
    arena.alloc(100);
    slow(arena, log, "b");
    slow(arena, log, "c");
    const done = arena.releaseAsync();
    expect(done).toBeInstanceOf(Promise);
    await done;
    expect(log).toEqual(["start c", "end c", "start b", "end b", "start a", "end a"]);
    expect(arena.released).toBe(true);
    ok(heap);
  });

  it("the arena is not released until the last promise settles", async () => {
    const { heap, arena } = await setup();
    let resolveAction: () => void = () => {};
    arena.add(() => new Promise<void>((resolve) => (resolveAction = resolve)));
    const done = arena.releaseAsync();
    await macrotask();
    expect(arena.released).toBe(false);
    let settled = false;
    void done.then(() => (settled = true));
    await macrotask();
    expect(settled).toBe(false);
    resolveAction();
    await done;
    expect(arena.released).toBe(true);
    ok(heap);
  });

  it("sync actions and destructors work too, in the same order", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    arena.add(() => log.push("sync-1"));
    slow(arena, log, "async");
    arena.alloc(4, { onRelease: () => log.push("dtor") });
    arena.add(() => log.push("sync-2"));
    await arena.releaseAsync();
    expect(log).toEqual(["sync-2", "dtor", "start async", "end async", "sync-1"]);
    ok(heap);
  });

  it("allocations stay valid while the actions run, and memory is freed at the end", async () => {
    const { heap, arena } = await setup();
    const p = arena.alloc(32);
    arena.bytes(p).fill(7);
    const seen: number[] = [];
    arena.add(async () => {
      await macrotask();
      seen.push(arena.bytes(p)[31]);
    });
    await arena.releaseAsync();
    expect(seen).toEqual([7]);
    expectCode(() => arena.sizeOf(p), "ERELEASED");
    ok(heap);
  });

  it("one rejection is rethrown as is, after every action ran", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const err = new Error("async failure");
    slow(arena, log, "a");
    arena.add(async () => {
      await macrotask();
      throw err;
    });
    slow(arena, log, "c");
    const r = await rejection(arena.releaseAsync());
    expect(r.rejected).toBe(true);
    expect(r.error).toBe(err);
    expect(log).toEqual(["start c", "end c", "start a", "end a"]);
    expect(arena.released).toBe(true);
    ok(heap);
  });

  it("several errors (rejections and sync throws) chain like AsyncDisposableStack", async () => {
    const { heap, arena } = await setup();
    const e1 = new Error("oldest, sync");
    const e2 = new Error("middle, rejected");
    const e3 = new Error("newest, rejected");
    arena.add(() => {
      throw e1;
    });
    arena.add(async () => {
      await microtasks(1);
      throw e2;
    });
    arena.add(() => Promise.reject(e3));
    const r = await rejection(arena.releaseAsync());
    expect(r.error).toBeInstanceOf(SuppressedError);
    expect((r.error as Suppressed).error).toBe(e1);
    expect(thrownOrder(r.error)).toEqual([e3, e2, e1]);
    ok(heap);
  });

  it("alloc, add, dup, retain and reset during an async release -> EBUSY; release() is a no-op meanwhile", async () => {
    const { heap, arena } = await setup();
    const codes: string[] = [];
    let runs = 0;
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    arena.add(() => runs++);
    arena.add(async () => {
      await gate;
      codes.push(expectCode(() => arena.alloc(8), "EBUSY").code);
      codes.push(expectCode(() => arena.add(() => {}), "EBUSY").code);
      codes.push(expectCode(() => arena.dup(new Uint8Array(1)), "EBUSY").code);
      arena.release();
    });
    const done = arena.releaseAsync();
    await macrotask();
    expect(arena.released).toBe(false);
    expectCode(() => arena.alloc(1), "EBUSY");
    expectCode(() => arena.strdup("x"), "EBUSY");
    expectCode(() => arena.retain(), "EBUSY");
    expectCode(() => arena.reset(), "EBUSY");
    arena.release(); // no-op while releasing
    await arena.releaseAsync(); // no-op too: resolves at once
    expect(arena.released).toBe(false);
    expect(runs).toBe(0);
    open();
    await done;
    expect(codes).toEqual(["EBUSY", "EBUSY", "EBUSY"]);
    expect(runs).toBe(1);
    expect(arena.released).toBe(true);
    ok(heap);
  });

  it("a second releaseAsync after release resolves without running anything", async () => {
    const { heap, arena } = await setup();
    let runs = 0;
    arena.add(() => runs++);
    await arena.releaseAsync();
    await arena.releaseAsync();
    arena.release();
    expect(runs).toBe(1);
    ok(heap);
  });

  it("counts as one release of the reference count", async () => {
    const { heap, arena } = await setup();
    let runs = 0;
    arena.add(() => runs++);
    arena.retain();
    await arena.releaseAsync();
    expect(arena.released).toBe(false);
    expect(runs).toBe(0);
    await arena.releaseAsync();
    expect(arena.released).toBe(true);
    expect(runs).toBe(1);
    ok(heap);
  });

  it("releases children, awaiting their async actions at the child's place", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    slow(arena, log, "parent-old");
    const child = arena.createChild();
    slow(child, log, "child");
    slow(arena, log, "parent-new");
    await arena.releaseAsync();
    expect(log).toEqual([
      "start parent-new",
      "end parent-new",
      "start child",
      "end child",
      "start parent-old",
      "end parent-old",
    ]);
    expect(child.released).toBe(true);
    ok(heap);
  });
});

describe("Symbol.asyncDispose", () => {
  it("exists and does what releaseAsync does", async () => {
    const { heap, arena } = await setup();
    expect(typeof Symbol.asyncDispose).toBe("symbol");
    expect(typeof arena[Symbol.asyncDispose]).toBe("function");
    const log: string[] = [];
    slow(arena, log, "a");
    slow(arena, log, "b");
    await arena[Symbol.asyncDispose]();
    expect(log).toEqual(["start b", "end b", "start a", "end a"]);
    expect(arena.released).toBe(true);
    ok(heap);
  });

  it("rejects with the action's error", async () => {
    const { heap, arena } = await setup();
    const err = new Error("x");
    arena.add(async () => {
      throw err;
    });
    const r = await rejection(arena[Symbol.asyncDispose]());
    expect(r.error).toBe(err);
    ok(heap);
  });
});
