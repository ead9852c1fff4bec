// Loaded before every suite (vitest.config.ts, setupFiles): the suites create
// debug heaps (Heap.create({ debug: true }), test/helpers3.ts's debugHeap),
// which need the debug core that the `managed-arena/debug` entry registers.
// test/bundle.test.ts checks what happens without it, on the built package.
import "../src/debug-entry.js";
