// use / adopt / defer / useAsync with DisposableStack's semantics, so that code
// written for a DisposableStack moves to an arena unchanged. A share of
// test262's tests for DisposableStack and AsyncDisposableStack
// (test/built-ins/DisposableStack/prototype/{use,adopt,defer,dispose} and
// test/built-ins/AsyncDisposableStack/prototype/use, tc39/test262), written
// anew against the arena; where the arena answers with an ArenaError (EINVAL,
// ERELEASED) DisposableStack throws a TypeError or ReferenceError.
import { describe, expect, it } from "vitest";
import { SuppressedError } from "../src/index.js";
import { bad, expectCode, expectCodeAsync } from "./helpers.js";
import { ok, setup } from "./helpers3.js";

describe("arena.use (DisposableStack.prototype.use)", () => {
  it("returns its argument and calls its [Symbol.dispose] with it as `this`, no arguments, at release", async () => {
    const { heap, arena } = await setup();
    const calls: { self: unknown; args: number }[] = [];
    const resource = {
      [Symbol.dispose](this: unknown, ...args: unknown[]) {
        calls.push({ self: this, args: args.length });
      },
    };
    expect(arena.use(resource)).toBe(resource);
    expect(calls).toEqual([]);
    arena.release();
    expect(calls).toEqual([{ self: resource, args: 0 }]);
    ok(heap);
  });

  it("null and undefined are returned, nothing registered", async () => {
    const { heap, arena } = await setup();
    expect(arena.use(null)).toBe(null);
    expect(arena.use(undefined)).toBe(undefined);
    expect(arena.stats().actions).toBe(0);
    arena.release();
    ok(heap);
  });

  it("reads the method once, when use is called (a getter, and a method replaced later)", async () => {
    const { heap, arena } = await setup();
    let reads = 0;
    const log: string[] = [];
    const resource = {
      get [Symbol.dispose]() {
        reads++;
        return () => log.push("first");
      },
    };
    arena.use(resource);
    expect(reads).toBe(1);
    const replaced: Disposable = { [Symbol.dispose]: () => log.push("original") };
    arena.use(replaced);
    replaced[Symbol.dispose] = () => log.push("replacement");
    arena.release();
    expect(reads).toBe(1);
    expect(log).toEqual(["original", "first"]);
    ok(heap);
  });

  it("EINVAL for a value that is not an object, or has no callable [Symbol.dispose]; nothing registered", async () => {
    const { heap, arena } = await setup();
    for (const value of [1, "text", true, Symbol("s"), 1n, {}, { [Symbol.dispose]: 1 }, { dispose() {} }]) {
      expectCode(() => arena.use(bad(value)), "EINVAL");
    }
    expect(arena.stats().actions).toBe(0);
    arena.release();
    ok(heap);
  });

  it("a function with [Symbol.dispose] is a resource too", async () => {
    const { arena } = await setup();
    let disposed = false;
    const fn = Object.assign(() => 1, { [Symbol.dispose]: () => (disposed = true) });
    expect(arena.use(fn)).toBe(fn);
    arena.release();
    expect(disposed).toBe(true);
  });
});

describe("arena.adopt and arena.defer", () => {
  it("adopt returns the value and calls onDispose(value) with one argument and no `this`", async () => {
    const { heap, arena } = await setup();
    const calls: { self: unknown; args: unknown[] }[] = [];
    const value = { fd: 3 };
    expect(
      arena.adopt(value, function (this: unknown, ...args: unknown[]) {
        calls.push({ self: this, args });
      }),
    ).toBe(value);
    expect(arena.adopt(undefined, () => calls.push({ self: "second", args: [] }))).toBe(undefined);
    arena.release();
    expect(calls).toEqual([
      { self: "second", args: [] },
      { self: undefined, args: [value] },
    ]);
    ok(heap);
  });

  it("defer returns undefined and calls onDispose with no arguments", async () => {
    const { heap, arena } = await setup();
    const lengths: number[] = [];
    expect(arena.defer((...args: unknown[]) => lengths.push(args.length))).toBe(undefined);
    arena.release();
    expect(lengths).toEqual([0]);
    ok(heap);
  });

  it("EINVAL for an onDispose that is not callable; ERELEASED for all three after release", async () => {
    const { heap, arena } = await setup();
    expectCode(() => arena.adopt(1, bad(undefined)), "EINVAL");
    expectCode(() => arena.defer(bad({})), "EINVAL");
    expect(arena.stats().actions).toBe(0);
    arena.release();
    expectCode(() => arena.use(null), "ERELEASED");
    expectCode(() => arena.adopt(1, () => {}), "ERELEASED");
    expectCode(() => arena.defer(() => {}), "ERELEASED");
    ok(heap);
  });
});

describe("release order and errors, as DisposableStack.prototype.dispose", () => {
  it("runs use, adopt, defer and add newest first, among allocations' destructors", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    arena.use({ [Symbol.dispose]: () => log.push("use") });
    arena.adopt("value", (v) => log.push(`adopt ${v}`));
    arena.alloc(8, { onRelease: () => log.push("destructor") });
    arena.defer(() => log.push("defer"));
    arena.add(() => log.push("add"));
    arena.release();
    expect(log).toEqual(["add", "defer", "destructor", "adopt value", "use"]);
    ok(heap);
  });

  it("runs every one even if some throw; several errors become a SuppressedError chain, the last thrown outermost", async () => {
    const { arena } = await setup();
    const first = new Error("first registered");
    const second = new Error("second registered");
    let ran = false;
    arena.use({
      [Symbol.dispose]() {
        throw first;
      },
    });
    arena.defer(() => {
      ran = true;
    });
    arena.adopt(0, () => {
      throw second;
    });
    let thrown: unknown;
    try {
      arena.release();
    } catch (error) {
      thrown = error;
    }
    expect(ran).toBe(true);
    expect(thrown).toBeInstanceOf(SuppressedError);
    expect((thrown as SuppressedError).error).toBe(first);
    expect((thrown as SuppressedError).suppressed).toBe(second);
  });
});

describe("arena.useAsync (AsyncDisposableStack.prototype.use)", () => {
  it("prefers [Symbol.asyncDispose], awaited in order by releaseAsync", async () => {
    const { heap, arena } = await setup();
    const log: string[] = [];
    const slow = {
      async [Symbol.asyncDispose]() {
        await new Promise((resolve) => setTimeout(resolve, 5));
        log.push("slow");
      },
      [Symbol.dispose]: () => log.push("sync method of slow, never called"),
    };
    expect(arena.useAsync(slow)).toBe(slow);
    arena.useAsync({
      [Symbol.asyncDispose]: async () => {
        log.push("fast");
      },
    });
    await arena.releaseAsync();
    expect(log).toEqual(["fast", "slow"]);
    ok(heap);
  });

  it("falls back to [Symbol.dispose], whose result is not awaited; EINVAL without either", async () => {
    const { heap, arena } = await setup();
    let settled = false;
    const never = new Promise(() => {});
    arena.useAsync({ [Symbol.dispose]: () => never });
    arena.defer(() => {
      settled = true;
    });
    await arena.releaseAsync();
    expect(settled).toBe(true);
    const other = heap.createArena();
    expectCode(() => other.useAsync(bad({ dispose() {} })), "EINVAL");
    await other.releaseAsync();
    await expectCodeAsync(async () => other.useAsync(null), "ERELEASED");
    ok(heap);
  });
});

describe("README", () => {
  it("the DisposableStack example runs as shown", async () => {
    const { heap } = await setup();
    const log: string[] = [];
    const openFile = (path: string) => ({ path, [Symbol.dispose]: () => log.push(`close ${path}`) });
    const startTimer = () => 7;
    const clearTimer = (timer: number) => log.push(`clear ${timer}`);
    const stack = heap.createArena({ name: "request" });
    const file = stack.use(openFile("/tmp/data.bin"));
    const id = stack.adopt(startTimer(), (t) => clearTimer(t));
    stack.defer(() => log.push("request done"));
    const scratch = stack.alloc(4096);
    expect([file.path, id, stack.sizeOf(scratch)]).toEqual(["/tmp/data.bin", 7, 4096]);
    stack.release();
    expect(log).toEqual(["request done", "clear 7", "close /tmp/data.bin"]);
    ok(heap);
  });
});
