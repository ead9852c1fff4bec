// Memory growth seen from the host (DESIGN §6, src/growth.ts): onGrow(memory)
// runs once, before the call that grew memory returns; views made before
// growth are detached unless the heap is resizable, which needs
// WebAssembly.Memory.prototype.toResizableBuffer (Node 26, Chromium 136+).
// `npm run test:runtimes` runs this file on Node 24 and 26 too, so both
// sides of Heap.canResize are exercised in CI.
import { afterEach, describe, expect, it } from "vitest";
import { type Arena, Heap } from "../src/index.js";
import { bad, expectCodeAsync } from "./helpers.js";

const PAGE = 65536;

/** Bytes of `heap`'s memory now (memory.buffer is re-read: a detached buffer reports 0). */
function size(heap: Heap): number {
  return heap.memory.buffer.byteLength;
}

/**
 * Calls `step` until memory grows (at most `limit` times); asserts that
 * onGrow (whose calls `seen` records, as byte lengths) ran exactly once,
 * during the step that grew memory, and never before it.
 */
function growBy(heap: Heap, seen: number[], step: () => void, limit = 20_000): void {
  for (let i = 0; i < limit; i++) {
    const before = size(heap);
    step();
    const after = size(heap);
    if (after === before) {
      expect(seen).toEqual([]);
      continue;
    }
    expect(seen).toEqual([after]);
    seen.length = 0;
    return;
  }
  throw new Error(`memory did not grow in ${limit} steps`);
}

let unexpected: unknown[] = [];
const onUncaught = (error: unknown) => unexpected.push(error);

afterEach(() => {
  process.off("uncaughtException", onUncaught);
  unexpected = [];
});

describe("onGrow", () => {
  it("runs once, before the growing call returns, with heap.memory; a view made before is detached", async () => {
    const calls: WebAssembly.Memory[] = [];
    const heap = await Heap.create({ onGrow: (memory) => calls.push(memory) });
    const arena = heap.createArena();
    const small = arena.alloc(64);
    // The first arena and allocation take pages (records, a chunk): memory may grow there already.
    calls.length = 0;
    const before = arena.view(small, Float64Array);
    const pages = size(heap) / PAGE;
    const big = arena.alloc(4 * PAGE);
    expect(calls).toEqual([heap.memory]);
    expect(size(heap) / PAGE).toBeGreaterThan(pages + 3);
    expect(before.length).toBe(heap.resizable ? 8 : 0);
    arena.free(big);
    arena.alloc(64);
    expect(calls).toHaveLength(1);
  });

  it("the issue's case: a cached view rebuilt in onGrow keeps writes after growth", async () => {
    let f32 = new Float32Array(0);
    const heap = await Heap.create({
      onGrow: (memory) => {
        f32 = new Float32Array(memory.buffer);
      },
    });
    f32 = new Float32Array(heap.memory.buffer);
    const arena = heap.createArena();
    const ptr = arena.alloc(16);
    arena.alloc(8 * PAGE);
    f32[ptr / 4] = 42;
    expect(arena.view(ptr, Float32Array, 1)[0]).toBe(42);
  });

  const growers: [string, (arena: Arena, heap: Heap) => void][] = [
    ["alloc", (arena) => arena.alloc(1000)],
    ["alloc with options", (arena) => arena.alloc(1000, { align: 64, name: "x" })],
    ["alloc with onRelease", (arena) => arena.alloc(1000, { onRelease: () => {} })],
    ["allocZeroed", (arena) => arena.allocZeroed(1000)],
    ["allocArray", (arena) => arena.allocArray(10, 100)],
    ["dup", (arena) => arena.dup(new Uint8Array(1000))],
    ["strdup", (arena) => arena.strdup("x".repeat(1000))],
    ["add", (arena) => arena.add(() => {})],
    ["openGroup", (arena) => arena.openGroup()],
    ["createChild", (arena) => arena.createChild().alloc(16)],
    ["createArena", (_arena, heap) => heap.createArena()],
  ];
  for (const [name, step] of growers) {
    it(`${name}: onGrow runs in the call that grew memory, once`, async () => {
      const seen: number[] = [];
      const heap = await Heap.create({ onGrow: (memory) => seen.push(memory.buffer.byteLength) });
      const arena = heap.createArena();
      arena.alloc(16);
      seen.length = 0;
      growBy(heap, seen, () => step(arena, heap));
      growBy(heap, seen, () => step(arena, heap));
    });
  }

  it("realloc that grows memory reports it", async () => {
    const seen: number[] = [];
    const heap = await Heap.create({ onGrow: (memory) => seen.push(memory.buffer.byteLength) });
    const arena = heap.createArena();
    let ptr = arena.alloc(16);
    seen.length = 0;
    let bytes = 16;
    growBy(heap, seen, () => {
      bytes *= 2;
      ptr = arena.realloc(ptr, bytes);
    });
  });

  it("may use the heap: growth during onGrow is reported after it returns, not nested", async () => {
    let depth = 0;
    let deepest = 0;
    let calls = 0;
    let other: Arena | undefined;
    const heap = await Heap.create({
      onGrow: () => {
        depth++;
        deepest = Math.max(deepest, depth);
        calls++;
        // The first report allocates enough to grow memory again.
        if (calls === 1) other?.alloc(4 * PAGE);
        depth--;
      },
    });
    other = heap.createArena({ name: "other" });
    other.alloc(16);
    const arena = heap.createArena();
    arena.alloc(16);
    calls = 0;
    const ptr = arena.alloc(2 * PAGE);
    expect(calls).toBe(2);
    expect(deepest).toBe(1);
    expect(arena.sizeOf(ptr)).toBe(2 * PAGE);
    expect(other.stats().allocations).toBe(2);
  });

  it("growth by the host's own memory.grow() is noticed at the next allocating call", async () => {
    const seen: number[] = [];
    const heap = await Heap.create({ onGrow: (memory) => seen.push(memory.buffer.byteLength) });
    const arena = heap.createArena();
    arena.alloc(16);
    seen.length = 0;
    heap.memory.grow(1);
    expect(seen).toEqual([]);
    arena.alloc(16);
    expect(seen).toEqual([size(heap)]);
  });

  it("an error of onGrow does not fail the call: it is rethrown from a microtask", async () => {
    process.on("uncaughtException", onUncaught);
    const failure = new Error("onGrow failed");
    let armed = false;
    const heap = await Heap.create({
      onGrow: () => {
        if (armed) throw failure;
      },
    });
    const arena = heap.createArena();
    arena.alloc(16);
    armed = true;
    const ptr = arena.alloc(4 * PAGE);
    expect(arena.sizeOf(ptr)).toBe(4 * PAGE);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(unexpected).toEqual([failure]);
  });

  it("a heap without onGrow calls nothing; onGrow must be a function", async () => {
    await expectCodeAsync(() => Heap.create({ onGrow: bad(1) }), "EINVAL");
    await expectCodeAsync(() => Heap.create({ onGrow: bad(null) }), "EINVAL");
    await expectCodeAsync(() => Heap.create({ resizable: bad("yes") }), "EINVAL");
  });
});

describe("resizable", () => {
  if (Heap.canResize) {
    it(`on this runtime (Node ${process.versions.node}) views survive growth and keep their writes`, async () => {
      const heap = await Heap.create({ resizable: true });
      expect(heap.resizable).toBe(true);
      expect((heap.memory.buffer as ArrayBuffer & { resizable?: boolean }).resizable).toBe(true);
      const arena = heap.createArena();
      const ptr = arena.alloc(64);
      const f64 = arena.view(ptr, Float64Array);
      const bytes = arena.bytes(ptr);
      const whole = new Uint8Array(heap.memory.buffer);
      const pages = size(heap) / PAGE;
      arena.alloc(8 * PAGE);
      expect(size(heap) / PAGE).toBeGreaterThan(pages + 7);
      expect(f64.length).toBe(8);
      expect(bytes.length).toBe(64);
      f64[0] = 42.5;
      expect(arena.view(ptr, Float64Array, 1)[0]).toBe(42.5);
      // A view made without a length tracks the buffer's length.
      expect(whole.length).toBe(size(heap));
      arena.release();
    });

    it("onGrow also reports the growth of a resizable buffer", async () => {
      const seen: number[] = [];
      const heap = await Heap.create({ resizable: true, onGrow: (memory) => seen.push(memory.buffer.byteLength) });
      const arena = heap.createArena();
      arena.alloc(16);
      seen.length = 0;
      growBy(heap, seen, () => arena.alloc(1000));
    });
  } else {
    it(`on this runtime (Node ${process.versions.node}) resizable: true is EINVAL, and memory is never resizable`, async () => {
      const error = await expectCodeAsync(() => Heap.create({ resizable: true }), "EINVAL");
      expect(error.message).toMatch(/toResizableBuffer/);
      const heap = await Heap.create({ resizable: false });
      expect(heap.resizable).toBe(false);
      expect((heap.memory.buffer as ArrayBuffer & { resizable?: boolean }).resizable ?? false).toBe(false);
    });
  }
});

describe("README", () => {
  it("runs the Memory growth example: the write after growth lands, resizable or not", async () => {
    let floats = new Float32Array(0);
    const heap = await Heap.create({
      onGrow: (memory) => {
        floats = new Float32Array(memory.buffer);
      },
      resizable: Heap.canResize,
    });
    floats = new Float32Array(heap.memory.buffer);
    const arena = heap.createArena();
    const p = arena.alloc(16);
    const pages = size(heap) / PAGE;
    arena.alloc(1 << 20);
    expect(size(heap) / PAGE).toBeGreaterThan(pages);
    floats[p / 4] = 42;
    expect(arena.view(p, Float32Array, 1)[0]).toBe(42);
    expect(heap.resizable).toBe(Heap.canResize);
  });
});
