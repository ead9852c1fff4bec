// `using` and `await using` with arenas. Node 20 has Symbol.dispose and
// Symbol.asyncDispose but not the syntax; vitest's transform (vite 8, oxc)
// lowers both declarations to try/finally with a disposal helper.
import { describe, expect, it } from "vitest";
import { Arena, Heap, SuppressedError } from "../src/index.js";
import { type Suppressed, thrownOrder } from "./helpers.js";
import { macrotask, ok, setup } from "./helpers3.js";

describe("using", () => {
  it("releases the arena at the end of the block, running its actions", async () => {
    const heap = await Heap.create({ debug: true });
    const log: string[] = [];
    let seen: Arena | undefined;
    {
      using arena = heap.createArena({ name: "scoped" });
      seen = arena;
      arena.add(() => log.push("action"));
      arena.alloc(100);
      expect(arena.released).toBe(false);
      log.push("body");
    }
    expect(log).toEqual(["body", "action"]);
    expect(seen?.released).toBe(true);
    ok(heap);
  });

  it("several declarations dispose in reverse order", async () => {
    const heap = await Heap.create({ debug: true });
    const log: string[] = [];
    {
      using a = heap.createArena({ name: "a" });
      a.add(() => log.push("a"));
      using b = heap.createArena({ name: "b" });
      b.add(() => log.push("b"));
    }
    expect(log).toEqual(["b", "a"]);
    ok(heap);
  });

  it("the arena is released when the block throws, and the block's error propagates", async () => {
    const heap = await Heap.create({ debug: true });
    const err = new Error("body");
    let arenaRef: Arena | undefined;
    let runs = 0;
    let caught: unknown;
    try {
      using arena = heap.createArena();
      arenaRef = arena;
      arena.add(() => runs++);
      throw err;
    } catch (e) {
      caught = e;
    }
    expect(caught).toBe(err);
    expect(runs).toBe(1);
    expect(arenaRef?.released).toBe(true);
    ok(heap);
  });

  it("a release error and the block's error combine into a SuppressedError", async () => {
    const heap = await Heap.create({ debug: true });
    const bodyError = new Error("body");
    const releaseError = new Error("release");
    let caught: unknown;
    try {
      using arena = heap.createArena();
      arena.add(() => {
        throw releaseError;
      });
      throw bodyError;
    } catch (e) {
      caught = e;
    }
    // The disposal error is `error`, the body's is `suppressed` (the helper may use its own SuppressedError).
    expect((caught as Suppressed).error).toBe(releaseError);
    expect((caught as Suppressed).suppressed).toBe(bodyError);
    ok(heap);
  });

  it("a retained arena survives the block and is torn down at the last release", async () => {
    const heap = await Heap.create({ debug: true });
    let runs = 0;
    let kept: Arena | undefined;
    {
      using arena = heap.createArena();
      arena.add(() => runs++);
      kept = arena.retain();
    }
    expect(runs).toBe(0);
    expect(kept?.released).toBe(false);
    kept?.release();
    expect(runs).toBe(1);
    ok(heap);
  });

  it("a per-request arena in a loop: no growth over many iterations", async () => {
    const { heap, arena: parent } = await setup();
    const request = (i: number) => {
      using req = parent.createChild({ name: "request" });
      req.strdup(`request ${i}`);
      req.alloc(200);
      req.alloc(40_000);
      expect(parent.stats().children).toBe(1);
    };
    for (let i = 0; i < 10; i++) request(i);
    const memory = heap.memory.buffer.byteLength;
    const stats = parent.stats();
    for (let i = 10; i < 2000; i++) request(i);
    expect(heap.memory.buffer.byteLength).toBe(memory);
    expect(parent.stats()).toEqual(stats);
    expect(stats.children).toBe(0);
    ok(heap);
  });
});

describe("await using", () => {
  it("Symbol.asyncDispose is available on this Node", () => {
    expect(typeof Symbol.dispose).toBe("symbol");
    expect(typeof Symbol.asyncDispose).toBe("symbol");
  });

  it("awaits the arena's async actions at the end of the block", async () => {
    const heap = await Heap.create({ debug: true });
    const log: string[] = [];
    let ref: Arena | undefined;
    {
      await using arena = heap.createArena();
      ref = arena;
      arena.add(async () => {
        log.push("start old");
        await macrotask();
        log.push("end old");
      });
      arena.add(async () => {
        log.push("start new");
        await macrotask();
        log.push("end new");
      });
      log.push("body");
    }
    expect(log).toEqual(["body", "start new", "end new", "start old", "end old"]);
    expect(ref?.released).toBe(true);
    ok(heap);
  });

  it("await using with Arena.create on a private heap", async () => {
    let runs = 0;
    let ref: Arena | undefined;
    {
      await using arena = await Arena.create({ debug: true });
      ref = arena;
      arena.add(async () => {
        await macrotask();
        runs++;
      });
    }
    expect(runs).toBe(1);
    expect(ref?.released).toBe(true);
    expect(ref?.heap.check()).toBe(0);
  });

  it("a rejection at disposal propagates; with a body error they combine", async () => {
    const heap = await Heap.create({ debug: true });
    const releaseError = new Error("async release");
    const bodyError = new Error("body");
    let caught: unknown;
    try {
      await using arena = heap.createArena();
      arena.add(async () => {
        await macrotask();
        throw releaseError;
      });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBe(releaseError);

    caught = undefined;
    try {
      await using arena = heap.createArena();
      arena.add(() => Promise.reject(releaseError));
      throw bodyError;
    } catch (e) {
      caught = e;
    }
    expect((caught as Suppressed).error).toBe(releaseError);
    expect((caught as Suppressed).suppressed).toBe(bodyError);
    ok(heap);
  });

  it("several action errors inside one arena arrive as the arena's SuppressedError chain", async () => {
    const heap = await Heap.create({ debug: true });
    const e1 = new Error("1");
    const e2 = new Error("2");
    let caught: unknown;
    try {
      await using arena = heap.createArena();
      arena.add(() => Promise.reject(e1));
      arena.add(() => Promise.reject(e2));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(SuppressedError);
    expect(thrownOrder(caught)).toEqual([e2, e1]);
    ok(heap);
  });
});
