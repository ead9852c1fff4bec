// A worker of test/browser/shared.js: attaches to the page's shared heap,
// allocates `count` blocks filled with its pattern (index + 1), posts their
// pointers and sizes; on "release", releases its arena.
import { Heap } from "/dist/debug-entry.js";

let arena;
globalThis.onmessage = async (event) => {
  try {
    await handle(event);
  } catch (error) {
    postMessage({ error: String(error?.stack ?? error) });
  }
};

async function handle(event) {
  if (event.data === "release") {
    arena.release();
    postMessage(true);
    return;
  }
  const { descriptor, index, count } = event.data;
  const heap = await Heap.attach(descriptor);
  arena = heap.createArena({ name: `worker ${index}` });
  const blocks = [];
  for (let i = 0; i < count; i++) {
    const size = 1 + ((i * 977 + index * 13) % (i % 50 === 0 ? 100_000 : 2000));
    const ptr = arena.alloc(size);
    new Uint8Array(heap.memory.buffer, ptr, size).fill(index + 1);
    blocks.push([ptr, size]);
    // Free every third one again: pages and slots go back while the others allocate.
    if (i % 3 === 2) {
      const [gone] = blocks.splice(blocks.length - 2, 1);
      arena.free(gone[0]);
    }
  }
  postMessage(blocks);
}
