// Managed actions, after the kernel's drm_managed/devres KUnit scenarios:
// teardown runs actions, releaseAction runs one at once and never again,
// removeAction drops one unrun, addOrReset runs the action when it cannot be
// registered, stale handles are detected, and release() reports errors the
// way DisposableStack does.
import { describe, expect, it } from "vitest";
import { type ActionHandle, Arena, ArenaError, Heap, SuppressedError } from "../src/index.js";
import { bad, capture, exhaust, exhaustActions, expectCode, type Suppressed, thrownOrder } from "./helpers.js";
import { collectUntil } from "./helpers3.js";

async function debugArena() {
  const heap = await Heap.create({ debug: true });
  return { heap, arena: heap.createArena() };
}

describe("an action runs at teardown", () => {
  it("release() runs a registered action exactly once and marks the arena released", async () => {
    const { heap, arena } = await debugArena();
    let runs = 0;
    arena.alloc(64);
    arena.add(() => runs++);
    arena.alloc(8);
    expect(runs).toBe(0);
    expect(arena.released).toBe(false);
    arena.release();
    expect(runs).toBe(1);
    expect(arena.released).toBe(true);
    expect(heap.check()).toBe(0);
  });

  it("arena[Symbol.dispose]() does the same as release()", async () => {
    const { heap, arena } = await debugArena();
    const log: string[] = [];
    arena.add(() => log.push("first"));
    arena.add(() => log.push("second"));
    expect(typeof arena[Symbol.dispose]).toBe("function");
    // `using arena = ...` is not available on Node 20, so dispose by hand.
    arena[Symbol.dispose]();
    expect(log).toEqual(["second", "first"]);
    expect(arena.released).toBe(true);
    arena[Symbol.dispose]();
    arena.release();
    expect(log).toEqual(["second", "first"]);
    expect(heap.check()).toBe(0);
  });

  it("Arena.create() gives an arena on a private heap whose actions run at release", async () => {
    const arena = await Arena.create({ debug: true });
    expect(arena.heap).toBeInstanceOf(Heap);
    expect(arena.heap.memory).toBeInstanceOf(WebAssembly.Memory);
    let ran = false;
    arena.add(() => {
      ran = true;
    });
    arena.release();
    expect(ran).toBe(true);
    expect(arena.heap.check()).toBe(0);
  });

  it("an arena with no actions releases quietly, and actions of other arenas do not run", async () => {
    const { heap, arena } = await debugArena();
    expect(arena.heap).toBe(heap);
    const other = heap.createArena();
    let otherRuns = 0;
    other.add(() => otherRuns++);
    arena.alloc(100);
    arena.release();
    expect(otherRuns).toBe(0);
    expect(other.released).toBe(false);
    other.release();
    expect(otherRuns).toBe(1);
    expect(heap.check()).toBe(0);
  });
});

describe("releaseAction", () => {
  it("runs the action at once and never again", async () => {
    const { heap, arena } = await debugArena();
    let runs = 0;
    const h = arena.add(() => runs++);
    expect(arena.stats().actions).toBe(1);
    arena.releaseAction(h);
    expect(runs).toBe(1);
    expect(arena.hasAction(h)).toBe(false);
    expect(arena.stats().actions).toBe(0);
    expectCode(() => arena.releaseAction(h), "ESTALE");
    expect(runs).toBe(1);
    arena.release();
    expect(runs).toBe(1);
    expect(heap.check()).toBe(0);
  });

  it("runs only the chosen action and leaves the others in order", async () => {
    const { heap, arena } = await debugArena();
    const log: number[] = [];
    const handles = [0, 1, 2, 3, 4].map((i) => arena.add(() => log.push(i)));
    arena.releaseAction(handles[2]);
    expect(log).toEqual([2]);
    arena.release();
    expect(log).toEqual([2, 4, 3, 1, 0]);
    expect(heap.check()).toBe(0);
  });

  it("propagates the action's exception after unregistering it", async () => {
    const { heap, arena } = await debugArena();
    const boom = new Error("boom");
    let runs = 0;
    const h = arena.add(() => {
      runs++;
      throw boom;
    });
    const r = capture(() => arena.releaseAction(h));
    expect(r.threw).toBe(true);
    expect(r.error).toBe(boom);
    expect(arena.hasAction(h)).toBe(false);
    expect(arena.stats().actions).toBe(0);
    arena.release();
    expect(runs).toBe(1);
    expect(heap.check()).toBe(0);
  });
});

describe("removeAction and hasAction", () => {
  it("removeAction unregisters without running", async () => {
    const { heap, arena } = await debugArena();
    let runs = 0;
    const h = arena.add(() => runs++);
    expect(arena.hasAction(h)).toBe(true);
    arena.removeAction(h);
    expect(runs).toBe(0);
    expect(arena.hasAction(h)).toBe(false);
    expect(arena.stats().actions).toBe(0);
    expectCode(() => arena.removeAction(h), "ESTALE");
    expectCode(() => arena.releaseAction(h), "ESTALE");
    arena.release();
    expect(runs).toBe(0);
    expect(heap.check()).toBe(0);
  });

  it("hasAction tracks registration and counts match stats().actions", async () => {
    const { heap, arena } = await debugArena();
    const handles = Array.from({ length: 20 }, () => arena.add(() => {}));
    expect(arena.stats().actions).toBe(20);
    for (const h of handles) expect(arena.hasAction(h)).toBe(true);
    for (let i = 0; i < 20; i += 2) arena.removeAction(handles[i]);
    for (let i = 1; i < 20; i += 4) arena.releaseAction(handles[i]);
    handles.forEach((h, i) => {
      expect(arena.hasAction(h)).toBe(i % 2 === 1 && i % 4 !== 1);
    });
    expect(arena.stats().actions).toBe(5);
    arena.release();
    expect(heap.check()).toBe(0);
  });

  it("a stale handle is never confused with a newer action at the same place", async () => {
    const { heap, arena } = await debugArena();
    const log: string[] = [];
    for (let round = 0; round < 50; round++) {
      const old = arena.add(() => log.push(`old${round}`));
      arena.removeAction(old);
      const fresh = arena.add(() => log.push(`fresh${round}`));
      expect(arena.hasAction(old)).toBe(false);
      expect(arena.hasAction(fresh)).toBe(true);
      expectCode(() => arena.removeAction(old), "ESTALE");
      expectCode(() => arena.releaseAction(old), "ESTALE");
      expect(arena.hasAction(fresh)).toBe(true);
      arena.releaseAction(fresh);
      expectCode(() => arena.releaseAction(fresh), "ESTALE");
    }
    expect(log).toEqual(Array.from({ length: 50 }, (_, i) => `fresh${i}`));
    expect(arena.stats().actions).toBe(0);
    arena.release();
    expect(heap.check()).toBe(0);
  });

  it("handles of another arena are stale here and stay registered there", async () => {
    const { heap, arena } = await debugArena();
    const other = heap.createArena();
    let otherRuns = 0;
    const foreign = other.add(() => otherRuns++);
    const mine = arena.add(() => {});
    expect(arena.hasAction(foreign)).toBe(false);
    expect(other.hasAction(mine)).toBe(false);
    expectCode(() => arena.removeAction(foreign), "ESTALE");
    expectCode(() => arena.releaseAction(foreign), "ESTALE");
    expect(otherRuns).toBe(0);
    expect(other.hasAction(foreign)).toBe(true);
    expect(arena.hasAction(mine)).toBe(true);
    expect(arena.stats().actions).toBe(1);
    expect(other.stats().actions).toBe(1);

    // Also across heaps.
    const elsewhere = await Arena.create({ debug: true });
    const far = elsewhere.add(() => otherRuns++);
    expect(arena.hasAction(far)).toBe(false);
    expectCode(() => arena.removeAction(far), "ESTALE");
    expectCode(() => arena.releaseAction(far), "ESTALE");
    expect(elsewhere.hasAction(far)).toBe(true);

    other.release();
    elsewhere.release();
    expect(otherRuns).toBe(2);
    arena.release();
    expect(heap.check()).toBe(0);
  });

  it("handles stay stale after their arena is released, even once its memory is reused", async () => {
    const { heap, arena } = await debugArena();
    const h = arena.add(() => {});
    arena.release();
    const next = heap.createArena();
    const newer = next.add(() => {});
    expect(next.hasAction(h)).toBe(false);
    expectCode(() => next.removeAction(h), "ESTALE");
    expect(next.hasAction(newer)).toBe(true);
    next.release();
    expect(heap.check()).toBe(0);
  });
});

describe("addOrReset", () => {
  it("registers like add() when it can, without running the action", async () => {
    const { heap, arena } = await debugArena();
    const log: unknown[] = [];
    const h = arena.addOrReset((d: unknown) => log.push(d), "x");
    expect(log).toEqual([]);
    expect(arena.hasAction(h)).toBe(true);
    arena.release();
    expect(log).toEqual(["x"]);
    expect(heap.check()).toBe(0);
  });

  it("on a released arena runs the action with its data and rethrows ERELEASED", async () => {
    const { heap, arena } = await debugArena();
    arena.release();
    const data = { resource: 1 };
    const received: unknown[] = [];
    expectCode(() => arena.addOrReset((d: unknown) => received.push(d), data), "ERELEASED");
    expect(received.length).toBe(1);
    expect(received[0]).toBe(data);
    expect(heap.check()).toBe(0);
  });

  it("during release runs the action with its data and rethrows EBUSY", async () => {
    const { heap, arena } = await debugArena();
    const received: unknown[] = [];
    const caught: unknown[] = [];
    arena.add(() => {
      try {
        arena.addOrReset((d: unknown) => received.push(d), 99);
      } catch (e) {
        caught.push(e);
      }
    });
    arena.release();
    expect(received).toEqual([99]);
    expect(caught.length).toBe(1);
    expect(caught[0]).toBeInstanceOf(ArenaError);
    expect((caught[0] as ArenaError).code).toBe("EBUSY");
    expect(heap.check()).toBe(0);
  });

  it("when the heap is out of memory runs the action and rethrows ENOMEM, changing nothing", async () => {
    const heap = await Heap.create({ debug: true, maxPages: 16 });
    const arena = heap.createArena();
    const ptrs = exhaust(arena);
    const handles = exhaustActions(arena);
    expect(ptrs.length).toBeGreaterThan(0);
    const stats = arena.stats();
    const received: unknown[] = [];
    const data = { what: "fd" };
    expectCode(() => arena.addOrReset((d: unknown) => received.push(d), data), "ENOMEM");
    expect(received.length).toBe(1);
    expect(received[0]).toBe(data);
    expect(arena.stats()).toEqual(stats);
    expect(heap.check()).toBe(0);

    // Room again: the same call registers instead.
    if (handles.length > 0) arena.removeAction(handles[handles.length - 1]);
    for (const p of ptrs.slice(-16)) arena.free(p);
    const h = arena.addOrReset((d: unknown) => received.push(d), "later");
    expect(received.length).toBe(1);
    expect(arena.hasAction(h)).toBe(true);
    arena.release();
    expect(received).toEqual([data, "later"]);
    expect(heap.check()).toBe(0);
  });

  it("rejects a non-function action with EINVAL and registers nothing", async () => {
    const { heap, arena } = await debugArena();
    for (const action of [undefined, null, 42, "f", {}, Symbol("s")]) {
      expectCode(() => arena.addOrReset(bad<(d: unknown) => void>(action), 1), "EINVAL");
      expectCode(() => arena.add(bad<(d: unknown) => void>(action), 1), "EINVAL");
    }
    expect(arena.stats().actions).toBe(0);
    arena.release();
    expect(heap.check()).toBe(0);
  });
});

describe("release() error semantics", () => {
  it("SuppressedError is exported: the global where there is one, else a compatible Error subclass", () => {
    const global = (globalThis as { SuppressedError?: unknown }).SuppressedError;
    if (global !== undefined) expect(SuppressedError).toBe(global);
    const e = new SuppressedError("newer", "older", "message");
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(SuppressedError);
    expect(e.name).toBe("SuppressedError");
    expect(e.message).toBe("message");
    expect(e.error).toBe("newer");
    expect(e.suppressed).toBe("older");
  });

  it("one throwing action: its error is rethrown as is, after every action ran", async () => {
    const { heap, arena } = await debugArena();
    const log: number[] = [];
    const boom = new TypeError("boom");
    arena.add(() => log.push(0));
    arena.add(() => {
      log.push(1);
      throw boom;
    });
    arena.add(() => log.push(2));
    const r = capture(() => arena.release());
    expect(r.threw).toBe(true);
    expect(r.error).toBe(boom);
    expect(log).toEqual([2, 1, 0]);
    expect(arena.released).toBe(true);
    expect(heap.check()).toBe(0);
  });

  it("a thrown non-Error value (even undefined) is rethrown as is", async () => {
    for (const value of ["text", 42, undefined, null]) {
      const { arena } = await debugArena();
      arena.add(() => {
        throw value;
      });
      const r = capture(() => arena.release());
      expect(r.threw).toBe(true);
      expect(r.error).toBe(value);
    }
  });

  it("two throwing actions: SuppressedError(error = the last thrown, suppressed = the first)", async () => {
    const { arena } = await debugArena();
    const older = new Error("older");
    const newer = new Error("newer");
    arena.add(() => {
      throw older;
    });
    arena.add(() => {
      throw newer;
    });
    const r = capture(() => arena.release());
    expect(r.error).toBeInstanceOf(SuppressedError);
    expect(r.error).toBeInstanceOf(Error);
    const e = r.error as Suppressed;
    // newest-first: `newer` is thrown first, `older` last.
    expect(e.error).toBe(older);
    expect(e.suppressed).toBe(newer);
  });

  it("several throwing actions nest exactly like DisposableStack", async () => {
    const { heap, arena } = await debugArena();
    const errors = [new Error("e0"), new Error("e1"), new Error("e2"), new Error("e3")];
    const log: number[] = [];
    errors.forEach((err, i) => {
      arena.add(() => log.push(i));
      arena.add(() => {
        throw err;
      });
    });
    const r = capture(() => arena.release());
    expect(log).toEqual([3, 2, 1, 0]);
    // Thrown order: e3, e2, e1, e0. DisposableStack builds
    // SuppressedError(e0, SuppressedError(e1, SuppressedError(e2, e3))).
    const outer = r.error as Suppressed;
    expect(outer).toBeInstanceOf(SuppressedError);
    expect(outer.error).toBe(errors[0]);
    const mid = outer.suppressed as Suppressed;
    expect(mid).toBeInstanceOf(SuppressedError);
    expect(mid.error).toBe(errors[1]);
    const inner = mid.suppressed as Suppressed;
    expect(inner).toBeInstanceOf(SuppressedError);
    expect(inner.error).toBe(errors[2]);
    expect(inner.suppressed).toBe(errors[3]);
    expect(thrownOrder(r.error)).toEqual([errors[3], errors[2], errors[1], errors[0]]);
    expect(heap.check()).toBe(0);
  });

  it("matches the chain a DisposableStack-like reference builds", async () => {
    const { arena } = await debugArena();
    const errors = Array.from({ length: 6 }, (_, i) => new RangeError(`r${i}`));
    for (const err of errors) {
      arena.add(() => {
        throw err;
      });
    }
    const r = capture(() => arena.release());
    // Reference: what DisposableStack.dispose() does with the same disposers.
    let expected: unknown;
    let has = false;
    for (let i = errors.length - 1; i >= 0; i--) {
      expected = has ? new SuppressedError(errors[i], expected) : errors[i];
      has = true;
    }
    const shape = (e: unknown): unknown =>
      e instanceof SuppressedError ? { error: shape(e.error), suppressed: shape(e.suppressed) } : e;
    expect(shape(r.error)).toEqual(shape(expected));
  });

  it("every action runs exactly once even if earlier ones throw", async () => {
    const { heap, arena } = await debugArena();
    const runs = new Array(30).fill(0);
    for (let i = 0; i < 30; i++) {
      arena.add(() => {
        runs[i]++;
        if (i % 3 === 0) throw new Error(`a${i}`);
      });
    }
    const r = capture(() => arena.release());
    expect(r.threw).toBe(true);
    expect(runs).toEqual(new Array(30).fill(1));
    expect(thrownOrder(r.error).map((e) => (e as Error).message)).toEqual(
      [27, 24, 21, 18, 15, 12, 9, 6, 3, 0].map((i) => `a${i}`),
    );
    // Second release: a no-op, nothing rethrown, nothing re-run.
    expect(capture(() => arena.release()).threw).toBe(false);
    expect(runs).toEqual(new Array(30).fill(1));
    expect(heap.check()).toBe(0);
  });
});

describe("during release", () => {
  it("add, addOrReset, alloc, allocZeroed, allocArray and realloc throw EBUSY", async () => {
    const { heap, arena } = await debugArena();
    const p = arena.alloc(32);
    const codes: string[] = [];
    let resetRuns = 0;
    const attempt = (fn: () => unknown) => {
      try {
        fn();
        codes.push("ok");
      } catch (e) {
        codes.push(e instanceof ArenaError ? e.code : String(e));
      }
    };
    arena.add(() => {
      attempt(() => arena.add(() => {}));
      attempt(() => arena.addOrReset(() => resetRuns++));
      attempt(() => arena.alloc(16));
      attempt(() => arena.alloc(0));
      attempt(() => arena.allocZeroed(16));
      attempt(() => arena.allocArray(2, 8));
      attempt(() => arena.realloc(p, 64));
    });
    arena.release();
    expect(codes).toEqual(["EBUSY", "EBUSY", "EBUSY", "EBUSY", "EBUSY", "EBUSY", "EBUSY"]);
    expect(resetRuns).toBe(1);
    expect(heap.check()).toBe(0);
  });

  it("an uncaught EBUSY from an action is reported by release() after everything ran", async () => {
    const { heap, arena } = await debugArena();
    let first = 0;
    arena.add(() => first++);
    arena.add(() => arena.alloc(8));
    const r = capture(() => arena.release());
    expect(r.error).toBeInstanceOf(ArenaError);
    expect((r.error as ArenaError).code).toBe("EBUSY");
    expect(first).toBe(1);
    expect(arena.released).toBe(true);
    expect(heap.check()).toBe(0);
  });

  it("free, sizeOf and bytes work on allocations not yet released", async () => {
    const { heap, arena } = await debugArena();
    const p = arena.alloc(40);
    arena.bytes(p).fill(0xab);
    const q = arena.alloc(8);
    const seen: unknown[] = [];
    arena.add(() => {
      seen.push(arena.sizeOf(p));
      seen.push(arena.bytes(p).every((b) => b === 0xab));
      arena.free(p);
      seen.push(capture(() => arena.sizeOf(p)).error instanceof ArenaError);
      arena.free(q);
      seen.push("freed");
    });
    arena.release();
    expect(seen).toEqual([40, true, true, "freed"]);
    expect(heap.check()).toBe(0);
  });

  it("removeAction and releaseAction of pending actions work, and those never run again", async () => {
    const { heap, arena } = await debugArena();
    const log: string[] = [];
    const a = arena.add(() => log.push("a"));
    const b = arena.add(() => log.push("b"));
    const c = arena.add(() => log.push("c"));
    arena.add(() => {
      log.push("d");
      expect(arena.hasAction(a)).toBe(true);
      arena.releaseAction(b);
      arena.removeAction(a);
      expect(arena.hasAction(a)).toBe(false);
      expect(arena.hasAction(b)).toBe(false);
      expect(arena.hasAction(c)).toBe(true);
    });
    arena.release();
    expect(log).toEqual(["d", "b", "c"]);
    expect(heap.check()).toBe(0);
  });

  it("actions still to run stay visible to stats(), resources() and report() (release pops them in batches)", async () => {
    // 200 actions: release pops runs of up to 64 at a time from the core; those popped and not yet
    // run must still count as registered, be listed newest first, and be removable.
    const { heap, arena } = await debugArena();
    const ran: number[] = [];
    const seen: { actions: number; names: string[]; report: number; removed: boolean }[] = [];
    const handles: ActionHandle[] = [];
    for (let i = 0; i < 200; i++) {
      const probe = i === 190 || i === 100 || i === 10;
      handles.push(
        arena.add(
          (n: number) => {
            ran.push(n);
            if (!probe) return;
            // Remove the next-older action before looking: it must vanish from every view.
            arena.removeAction(handles[n - 1]);
            seen.push({
              actions: arena.stats().actions,
              names: arena.resources().map((r) => r.name),
              report: arena
                .report()
                .split("\n")
                .filter((line) => line.includes("action ")).length,
              removed: arena.hasAction(handles[n - 1]),
            });
          },
          i,
          `x${i}`,
        ),
      );
    }
    arena.release();
    const expected = Array.from({ length: 200 }, (_, i) => 199 - i).filter((n) => n !== 189 && n !== 99 && n !== 9);
    expect(ran).toEqual(expected);
    for (const [k, probe] of [190, 100, 10].entries()) {
      // Still registered: every action older than the one just removed.
      const older = Array.from({ length: probe - 1 }, (_, i) => probe - 2 - i);
      const names = older.map((n) => `x${n}`);
      expect(seen[k]).toEqual({ actions: names.length, names, report: names.length, removed: false });
    }
    expect(heap.check()).toBe(0);
  });

  it("actions still to run keep their place among allocations in resources() and report()", async () => {
    // A batched release pops the actions ahead of running them; those waiting must still be listed
    // where they stand in release order, after the allocations made after them.
    const { heap, arena } = await debugArena();
    const seen: { names: string[]; report: string[] }[] = [];
    arena.alloc(1, { name: "a1" });
    arena.add(() => {}, undefined, "first");
    arena.alloc(2, { name: "a2" });
    arena.add(() => {}, undefined, "second");
    arena.alloc(3, { name: "a3" });
    arena.add(
      () => {
        seen.push({
          names: arena.resources().map((r) => r.name),
          report: arena
            .report()
            .split("\n")
            .slice(1)
            .map((line) => line.trim().split(" ").slice(0, 2).join(" ")),
        });
        expect(heap.check()).toBe(0);
      },
      undefined,
      "probe",
    );
    arena.alloc(4, { name: "a4" });
    arena.release();
    const order = ["a4", "a3", "second", "a2", "first", "a1"];
    expect(seen).toEqual([
      {
        names: order,
        report: [
          'alloc "a4"',
          'alloc "a3"',
          'action "second"',
          'alloc "a2"',
          'action "first"',
          'alloc "a1"',
          "total: 4",
        ],
      },
    ]);
  });

  it("handles of actions that already ran in this release are stale", async () => {
    const { heap, arena } = await debugArena();
    const codes: string[] = [];
    let handle: ActionHandle | undefined;
    arena.add(() => {
      if (handle === undefined) return;
      codes.push(arena.hasAction(handle) ? "registered" : "gone");
      for (const op of [
        () => arena.removeAction(handle as ActionHandle),
        () => arena.releaseAction(handle as ActionHandle),
      ]) {
        const r = capture(op);
        codes.push(r.error instanceof ArenaError ? r.error.code : "no error");
      }
    });
    let newerRuns = 0;
    handle = arena.add(() => newerRuns++);
    arena.release();
    expect(newerRuns).toBe(1);
    expect(codes).toEqual(["gone", "ESTALE", "ESTALE"]);
    expect(heap.check()).toBe(0);
  });

  it("release() called again from inside an action does not run anything twice", async () => {
    const { heap, arena } = await debugArena();
    const log: number[] = [];
    arena.add(() => log.push(0));
    arena.add(() => {
      log.push(1);
      capture(() => arena.release());
    });
    arena.add(() => log.push(2));
    capture(() => arena.release());
    expect(log).toEqual([2, 1, 0]);
    expect(arena.released).toBe(true);
    expect(heap.check()).toBe(0);
  });
});

describe("after release", () => {
  it("a second release() and [Symbol.dispose]() are no-ops", async () => {
    const { heap, arena } = await debugArena();
    let runs = 0;
    arena.add(() => runs++);
    arena.release();
    expect(() => arena.release()).not.toThrow();
    expect(() => arena[Symbol.dispose]()).not.toThrow();
    expect(runs).toBe(1);
    expect(arena.released).toBe(true);
    expect(heap.check()).toBe(0);
  });

  it("every other member throws ERELEASED", async () => {
    const { heap, arena } = await debugArena();
    const p = arena.alloc(16);
    const h = arena.add(() => {});
    arena.release();
    const calls: Array<[string, () => unknown]> = [
      ["alloc", () => arena.alloc(8)],
      ["alloc(0)", () => arena.alloc(0)],
      ["allocZeroed", () => arena.allocZeroed(8)],
      ["allocArray", () => arena.allocArray(2, 4)],
      ["realloc", () => arena.realloc(p, 32)],
      ["free", () => arena.free(p)],
      ["sizeOf", () => arena.sizeOf(p)],
      ["bytes", () => arena.bytes(p)],
      ["add", () => arena.add(() => {})],
      ["removeAction", () => arena.removeAction(h)],
      ["releaseAction", () => arena.releaseAction(h)],
      ["hasAction", () => arena.hasAction(h)],
      ["stats", () => arena.stats()],
    ];
    for (const [name, call] of calls) {
      const r = capture(call);
      expect(r.error instanceof ArenaError ? r.error.code : r, name).toBe("ERELEASED");
    }
    let resetRuns = 0;
    expectCode(() => arena.addOrReset(() => resetRuns++), "ERELEASED");
    expect(resetRuns).toBe(1);
    expect(arena.released).toBe(true);
    expect(heap.check()).toBe(0);
  });

  it("other arenas on the heap keep working", async () => {
    const { heap, arena } = await debugArena();
    const other = heap.createArena();
    const q = other.alloc(100);
    other.bytes(q).fill(7);
    arena.alloc(1000);
    arena.release();
    const r = other.alloc(100);
    other.bytes(r).fill(9);
    expect(other.bytes(q).every((b) => b === 7)).toBe(true);
    expect(other.stats().allocations).toBe(2);
    expect(heap.check()).toBe(0);
    other.release();
  });
});

describe("the heap keeps actions without an object per action", () => {
  // The slot table holds an action's function and data in columns, not the handle add() returned
  // (src/handles.ts): what a registration keeps alive, and what a release skips, must not change.

  it("a registered action keeps its data alive without its handle, and lets it go once run or removed", async () => {
    const { heap, arena } = await debugArena();
    const seen: number[] = [];
    // Which data objects were collected. (Not WeakRef.deref(): it keeps its target alive for the
    // rest of the job, and collectUntil() calls gc() in the job that asked.) Registering, removing
    // and releasing happen in plain functions: an async function's frame could keep a local (a data
    // object, a handle) alive across the awaits below.
    const collected = new Set<number>();
    const registry = new FinalizationRegistry<number>((n) => collected.add(n));
    addFour(arena, seen, registry);
    await collectUntil(() => false, 3);
    expect([...collected]).toEqual([]);
    dropTwo(arena);
    expect(seen).toEqual([2]);
    expect(await collectUntil(() => collected.has(2) && collected.has(3))).toBe(true);
    expect([...collected].sort()).toEqual([2, 3]);
    arena.release();
    expect(seen).toEqual([2, 1, 0]);
    expect(await collectUntil(() => collected.size === 4)).toBe(true);
    expect(heap.check()).toBe(0);
  });

  it("a popped action removed by an earlier one stays skipped when another arena takes its slot", async () => {
    // Release pops up to 64 actions before running them. The newest removes an older one of the
    // batch, whose slot another arena's add() then takes: that slot is not this arena's any more.
    const { heap, arena } = await debugArena();
    const other = heap.createArena();
    const log: string[] = [];
    const handles: ActionHandle[] = [];
    let theirs: ActionHandle | undefined;
    for (let i = 0; i < 10; i++) {
      handles.push(
        arena.add(() => {
          log.push(`a${i}`);
          if (i !== 9) return;
          arena.removeAction(handles[5]);
          theirs = other.add(() => log.push("theirs"));
          expect(theirs.generation).toBeGreaterThan(handles[5].generation);
          expect(arena.hasAction(handles[5])).toBe(false);
          expect(other.hasAction(theirs)).toBe(true);
          expect(arena.stats().actions).toBe(8);
          expect(arena.resources().map((r) => r.name)).toEqual(["", "", "", "", "", "", "", ""]);
        }),
      );
    }
    arena.release();
    expect(log).toEqual(["a9", "a8", "a7", "a6", "a4", "a3", "a2", "a1", "a0"]);
    expect(other.stats().actions).toBe(1);
    expect(other.hasAction(theirs as ActionHandle)).toBe(true);
    other.release();
    expect(log.at(-1)).toBe("theirs");
    expect(heap.check()).toBe(0);
  });

  it("200,000 actions in one arena run newest first, each once, with their data", async () => {
    const heap = await Heap.create();
    for (let round = 0; round < 2; round++) {
      const arena = heap.createArena();
      const count = 200_000;
      let expected = count - 1;
      let wrong = 0;
      const check = (n: number) => {
        if (n !== expected) wrong++;
        expected--;
      };
      const handles: ActionHandle[] = [];
      for (let i = 0; i < count; i++) {
        const h = arena.add(check, i);
        if (i % 50_000 === 0) handles.push(h);
      }
      expect(arena.stats().actions).toBe(count);
      expect(handles.every((h) => arena.hasAction(h))).toBe(true);
      arena.release();
      expect({ wrong, left: expected + 1 }).toEqual({ wrong: 0, left: 0 });
      expect(heap.slots.every((entry) => entry === undefined)).toBe(true);
    }
  });
});

const actionHandles = new Map<number, ActionHandle>();

/** Four actions with data { n }, watched by `registry`; the handles of 0 and 1 are dropped at once, 2 and 3 kept aside. */
function addFour(arena: Arena, seen: number[], registry: FinalizationRegistry<number>): void {
  for (let n = 0; n < 4; n++) {
    const data = { n };
    registry.register(data, n);
    const handle = arena.add((d) => seen.push(d.n), data);
    if (n >= 2) actionHandles.set(n, handle);
  }
}

/** Removes action 3 and releases action 2, forgetting their handles. */
function dropTwo(arena: Arena): void {
  arena.removeAction(actionHandles.get(3) as ActionHandle);
  arena.releaseAction(actionHandles.get(2) as ActionHandle);
  actionHandles.clear();
}
