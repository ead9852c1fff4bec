// A worker of test/browser/shared.js: attaches to the page's shared heap,
// allocates `count` blocks filled with its pattern (index + 1), posts their
// pointers and sizes and whether it is cross-origin isolated itself (its
// script comes with COEP: require-corp, as a worker of an isolated page
// needs); on "release", releases its arena.
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
  // How often the engine's own buffer lagged behind the memory (another thread grew it): the
  // library's memory.buffer refreshes it then (src/shared-core.ts).
  const engineBuffer = Object.getOwnPropertyDescriptor(WebAssembly.Memory.prototype, "buffer").get;
  let lagged = 0;
  for (let i = 0; i < count; i++) {
    const size = 1 + ((i * 977 + index * 13) % (i % 50 === 0 ? 100_000 : 2000));
    const ptr = arena.alloc(size);
    if (engineBuffer.call(heap.memory).byteLength < ptr + size) lagged++;
    new Uint8Array(heap.memory.buffer, ptr, size).fill(index + 1);
    blocks.push([ptr, size]);
    // Free every third one again: pages and slots go back while the others allocate.
    if (i % 3 === 2) {
      const [gone] = blocks.splice(blocks.length - 2, 1);
      arena.free(gone[0]);
    }
  }
  postMessage({ blocks, lagged, isolated: globalThis.crossOriginIsolated === true });
}
