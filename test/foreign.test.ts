// Pages the core did not grow itself (here: JS calling memory.grow behind its
// back) are foreign: never handed out, never merged into free runs, never
// written, and check() still accounts for every page.
import { describe, expect, it } from "vitest";
import { Heap, type Ptr } from "../src/index.js";

describe("pages grown by someone else", () => {
  it("are never touched, while the core keeps growing around them", async () => {
    const heap = await Heap.create({ debug: true });
    const arena = heap.createArena();
    const kept: number[] = [];
    for (let i = 0; i < 2000; i++) kept.push(arena.alloc(100));
    const first = heap.memory.grow(3);
    new Uint8Array(heap.memory.buffer, first * 65536, 3 * 65536).fill(0xee);
    for (let i = 0; i < 3000; i++) kept.push(arena.alloc(1000 + (i % 5) * 20_000));
    expect(heap.check()).toBe(0);
    for (let i = 0; i < kept.length; i += 2) arena.free(kept[i] as Ptr);
    arena.release();
    const other = heap.createArena();
    for (let i = 0; i < 2000; i++) other.alloc(30_000);
    expect(heap.check()).toBe(0);
    const foreign = new Uint8Array(heap.memory.buffer, first * 65536, 3 * 65536);
    expect(foreign.every((byte) => byte === 0xee)).toBe(true);
    // No allocation of the live arena lies in the foreign pages.
    for (const resource of other.resources()) {
      const ptr = resource.ptr as number;
      expect(ptr + resource.size <= first * 65536 || ptr >= (first + 3) * 65536).toBe(true);
    }
    other.release();
    expect(heap.check()).toBe(0);
  });
});
