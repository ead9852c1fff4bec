// The core from a .wasm URL in the page that loads this script: the slim
// entry (dist/slim.js, no core inlined) with Heap.create({ wasm }), under the
// Content-Security-Policy of the page (wasm-url.html: none; wasm-url-strict.html:
// script-src 'self'; wasm-url-wasm.html: the same and 'wasm-unsafe-eval').
// Beside it, what the browser itself answers to compiling that same-origin
// file while it streams in (WebAssembly.instantiateStreaming, no library
// involved) and to compiling bytes. Published as window.results.
import { Heap } from "/dist/slim.js";

/** What `promise` settles to: "ok", or the error's name and message. */
async function outcome(promise) {
  try {
    await promise;
    return { ok: true };
  } catch (error) {
    return { ok: false, name: error?.name, code: error?.code, message: String(error?.message) };
  }
}

const results = {};
try {
  // No core inlined in this entry, and none given: EINVAL.
  results.withoutWasm = await outcome(Heap.create());
  // A path, relative to the page like any URL in it.
  results.heap = await outcome(
    (async () => {
      const heap = await Heap.create({ wasm: "/dist/core.wasm" });
      const arena = heap.createArena();
      const p = arena.alloc(64);
      arena.view(p, Float64Array).set([1.5, 2.5]);
      const sum = arena.view(p, Float64Array, 2).reduce((a, b) => a + b, 0);
      arena.release();
      if (sum !== 4) throw new Error(`sum ${sum}`);
    })(),
  );
  results.debugHeap = await outcome(
    (async () => {
      const heap = await Heap.create({ wasm: new URL("/dist/core.debug.wasm", location.href), debug: true });
      heap.createArena().alloc(16);
      if (heap.check() !== 0) throw new Error("check failed");
    })(),
  );
  results.missing = await outcome(Heap.create({ wasm: "/dist/no-such-core.wasm" }));
  // The browser alone, no library: streaming compilation of the same-origin file, and bytes.
  results.instantiateStreaming = await outcome(
    WebAssembly.instantiateStreaming(fetch("/dist/core.wasm"), {
      env: { memory: new WebAssembly.Memory({ initial: 1 }), abort() {} },
    }),
  );
  const bytes = await (await fetch("/dist/core.wasm")).arrayBuffer();
  results.compileBytes = await outcome(WebAssembly.compile(bytes));
} catch (error) {
  results.error = String(error?.stack ?? error);
}
document.getElementById("output").textContent = JSON.stringify(results, null, 2);
globalThis.results = results;
