// Release order: newest-first across actions and allocations together (onion
// unwinding), at scale and with actions that act on the arena while it is
// being released.
import { describe, expect, it } from "vitest";
import { type ActionHandle, ArenaError, Heap, type Ptr } from "../src/index.js";
import { capture, expectPattern, fill, firstMismatch, mulberry32, type Suppressed, thrownOrder } from "./helpers.js";

describe("newest-first order", () => {
  it("actions interleaved with allocations run newest first", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    const log: number[] = [];
    for (let i = 0; i < 20; i++) {
      arena.alloc(i * 3);
      arena.add(() => log.push(i));
      arena.alloc(5);
    }
    arena.release();
    expect(log).toEqual(Array.from({ length: 20 }, (_, i) => 19 - i));
    expect(heap.check()).toBe(0);
  });

  it("older allocations are still live and intact while each action runs", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    const ptrs: Ptr[] = [];
    const problems: string[] = [];
    for (let i = 0; i < 50; i++) {
      const p = arena.alloc(10 + i);
      fill(arena, p, i);
      ptrs.push(p);
      arena.add(() => {
        // Every allocation made before this action is still pending.
        for (let j = 0; j <= i; j++) {
          if (arena.sizeOf(ptrs[j]) !== 10 + j) problems.push(`size ${j} in ${i}`);
          if (firstMismatch(arena, ptrs[j], j) !== -1) problems.push(`bytes ${j} in ${i}`);
        }
      });
    }
    arena.release();
    expect(problems).toEqual([]);
    expect(heap.check()).toBe(0);
  });

  it("an error thrown through releaseAction inside an action is reported once", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    const inner = new Error("inner");
    const log: string[] = [];
    const target = arena.add(() => {
      log.push("target");
      throw inner;
    });
    arena.add(() => log.push("middle"));
    arena.add(() => {
      log.push("caller");
      arena.releaseAction(target);
    });
    const r = capture(() => arena.release());
    expect(log).toEqual(["caller", "target", "middle"]);
    expect(r.threw).toBe(true);
    expect(r.error).toBe(inner);
    expect(heap.check()).toBe(0);
  });

  it("an action may free older allocations, and remove or release older actions", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    const log: string[] = [];
    const a = arena.alloc(64);
    fill(arena, a, 1);
    const h0 = arena.add(() => log.push("h0"));
    const h1 = arena.add(() => log.push("h1"));
    const b = arena.alloc(128);
    fill(arena, b, 2);
    const h2 = arena.add(() => log.push("h2"));
    arena.add(() => {
      log.push("top");
      expectPattern(arena, b, 2);
      arena.free(b);
      arena.removeAction(h2);
      arena.releaseAction(h0);
      expectPattern(arena, a, 1);
      arena.free(a);
    });
    arena.release();
    expect(log).toEqual(["top", "h0", "h1"]);
    expect(arena.released).toBe(true);
    expect(capture(() => arena.hasAction(h1)).error).toBeInstanceOf(ArenaError);
    expect(heap.check()).toBe(0);
  });
});

interface Block {
  ptr: Ptr;
  size: number;
  seed: number;
}

/** An unordered bag with O(1) removal of a random element. */
class Pool<T> {
  readonly items: T[] = [];
  get size(): number {
    return this.items.length;
  }
  add(item: T): void {
    this.items.push(item);
  }
  take(index: number): T {
    const item = this.items[index];
    const last = this.items.pop() as T;
    if (index < this.items.length) this.items[index] = last;
    return item;
  }
}

type Behaviour =
  | { kind: "plain" }
  | { kind: "throw"; error: Error }
  | { kind: "busy" }
  | { kind: "free"; targets: Block[] }
  | { kind: "remove"; target: number }
  | { kind: "release"; target: number };

describe("at scale", () => {
  const SEED = 0x0de7a11;
  it(`10,000 actions interleaved with 100,000 allocations release newest-first (seed 0x${SEED.toString(16)})`, async () => {
    const rand = mulberry32(SEED);
    const int = (n: number) => Math.floor(rand() * n);
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();

    const live = new Pool<Block>(); // free-able along the way
    const claimed: Block[] = []; // reserved for free-actions, freed by them during release
    const behaviours: Behaviour[] = [];
    const handles: ActionHandle[] = [];
    const data: object[] = [];
    const pending = new Set<number>();
    const plainPending: number[] = []; // candidate targets (may go stale)
    const log: string[] = [];

    const makeAction = (id: number) => (received: unknown) => {
      log.push(`a${id}`);
      if (received !== data[id]) log.push(`wrong data for ${id}`);
      const b = behaviours[id];
      switch (b.kind) {
        case "plain":
          return;
        case "throw":
          throw b.error;
        case "busy":
          for (const call of [
            () => arena.alloc(8),
            () => arena.add(() => log.push("never")),
            () => arena.allocZeroed(8),
            () => arena.allocArray(2, 2),
            () => arena.alloc(0),
          ]) {
            const r = capture(call);
            if (!(r.error instanceof ArenaError) || r.error.code !== "EBUSY") log.push(`not busy in ${id}`);
          }
          log.push(`busy${id}`);
          return;
        case "free":
          for (const t of b.targets) {
            if (arena.sizeOf(t.ptr) !== t.size || firstMismatch(arena, t.ptr, t.seed) !== -1) log.push(`bad ${t.ptr}`);
            arena.free(t.ptr);
          }
          return;
        case "remove": {
          const r = capture(() => arena.removeAction(handles[b.target]));
          log.push(r.threw ? `stale${b.target}:${(r.error as ArenaError).code}` : `rm${b.target}`);
          return;
        }
        case "release": {
          const r = capture(() => arena.releaseAction(handles[b.target]));
          if (r.threw) log.push(`stale${b.target}:${(r.error as ArenaError).code}`);
          return;
        }
      }
    };

    const addAction = () => {
      const id = behaviours.length;
      const roll = rand();
      let b: Behaviour = { kind: "plain" };
      if (roll < 0.02) b = { kind: "throw", error: new Error(`thrown by ${id}`) };
      else if (roll < 0.05) b = { kind: "busy" };
      else if (roll < 0.15 && live.size > 0) {
        const targets: Block[] = [];
        for (let k = 0; k < 3 && live.size > 0; k++) targets.push(live.take(int(live.size)));
        claimed.push(...targets);
        b = { kind: "free", targets };
      } else if (roll < 0.2 && plainPending.length > 0) {
        b = { kind: "remove", target: plainPending[int(plainPending.length)] };
      } else if (roll < 0.25 && plainPending.length > 0) {
        b = { kind: "release", target: plainPending[int(plainPending.length)] };
      }
      behaviours.push(b);
      data.push({ id });
      handles.push(arena.add(makeAction(id), data[id]));
      pending.add(id);
      if (b.kind === "plain") plainPending.push(id);
    };

    const setupLog: string[] = [];
    let allocations = 0;
    for (let i = 0; i < 100_000; i++) {
      const size = rand() < 0.95 ? int(40) : int(2000);
      const ptr = arena.alloc(size);
      const seed = i & 0xffff;
      fill(arena, ptr, seed);
      live.add({ ptr, size, seed });
      allocations++;
      if (rand() < 0.15 && live.size > 100) {
        arena.free(live.take(int(live.size)).ptr);
        allocations--;
      }
      if (i % 10 === 9) addAction();
      if (i % 10 === 9 && rand() < 0.05 && plainPending.length > 10) {
        // Remove or release a plain action along the way.
        const id = plainPending[int(plainPending.length)];
        if (pending.has(id)) {
          if (rand() < 0.5) arena.removeAction(handles[id]);
          else {
            arena.releaseAction(handles[id]);
            setupLog.push(`a${id}`);
          }
          pending.delete(id);
        }
      }
    }
    expect(behaviours.length).toBe(10_000);
    expect(log).toEqual(setupLog);
    log.length = 0;

    const stats = arena.stats();
    expect(stats.allocations).toBe(allocations);
    expect(stats.actions).toBe(pending.size);
    let liveBytes = 0;
    for (const t of [...live.items, ...claimed]) liveBytes += t.size;
    expect(stats.liveBytes).toBe(liveBytes);
    let bad = 0;
    for (const t of [...live.items, ...claimed]) if (firstMismatch(arena, t.ptr, t.seed) !== -1) bad++;
    expect(bad).toBe(0);
    expect(heap.check()).toBe(0);

    // The model: run pending actions newest first, mirroring each behaviour.
    const expected: string[] = [];
    const expectedThrown: Error[] = [];
    const run = (id: number) => {
      pending.delete(id);
      expected.push(`a${id}`);
      const b = behaviours[id];
      if (b.kind === "throw") expectedThrown.push(b.error);
      else if (b.kind === "busy") expected.push(`busy${id}`);
      else if (b.kind === "remove") {
        if (pending.has(b.target)) {
          pending.delete(b.target);
          expected.push(`rm${b.target}`);
        } else expected.push(`stale${b.target}:ESTALE`);
      } else if (b.kind === "release") {
        if (pending.has(b.target)) run(b.target);
        else expected.push(`stale${b.target}:ESTALE`);
      }
    };
    for (let id = behaviours.length - 1; id >= 0; id--) if (pending.has(id)) run(id);

    const r = capture(() => arena.release());
    expect(arena.released).toBe(true);
    expect(log.length).toBe(expected.length);
    expect(log).toEqual(expected);
    expect(expectedThrown.length).toBeGreaterThan(1);
    expect(r.threw).toBe(true);
    const thrown = thrownOrder(r.error);
    expect(thrown.length).toBe(expectedThrown.length);
    thrown.forEach((e, i) => {
      expect(e).toBe(expectedThrown[i]);
    });
    expect((r.error as Suppressed).error).toBe(expectedThrown[expectedThrown.length - 1]);
    expect(heap.check()).toBe(0);

    // The heap is reusable at once.
    const next = heap.createArena();
    const p = next.alloc(1000);
    expect(next.sizeOf(p)).toBe(1000);
    next.release();
    expect(heap.check()).toBe(0);
  });
});
