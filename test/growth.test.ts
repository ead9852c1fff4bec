// Regression (found by `managed-arena fuzz`): when memory ends in a free run,
// growing for a larger run must grow only what that free run lacks. At
// maxPages 4 a 2-page allocation used to fail with ENOMEM after every arena
// had been released (page 2 free, page 3 not yet grown).
import { describe, expect, it } from "vitest";
import { Heap } from "../src/index.js";

describe("growth next to a trailing free run", () => {
  it("merges with it instead of asking for the whole run again", async () => {
    const heap = await Heap.create({ maxPages: 4, debug: true });
    const first = heap.createArena({ minAlign: 8 });
    first.alloc(100);
    first.release();
    expect(heap.memory.buffer.byteLength / 65536).toBe(3);
    const second = heap.createArena();
    const ptr = second.alloc(131008); // 2 pages with its chunk head and header
    expect(second.sizeOf(ptr)).toBe(131008);
    expect(heap.memory.buffer.byteLength / 65536).toBe(4);
    expect(heap.check()).toBe(0);
    second.release();
    expect(heap.check()).toBe(0);
  });
});
