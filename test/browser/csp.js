// Heap.create under the Content-Security-Policy of the page that loads this
// script (csp-strict.html: script-src 'self'; csp-wasm.html: the same and
// 'wasm-unsafe-eval'): what it answers, published as window.results.
import { Heap } from "/dist/index.js";

const results = {};
try {
  const heap = await Heap.create();
  const arena = heap.createArena();
  arena.view(arena.alloc(16), Float32Array)[0] = 1.5;
  arena.release();
  results.created = true;
} catch (error) {
  results.created = false;
  results.errorName = error?.name;
  results.errorMessage = String(error?.message);
}
document.getElementById("results").textContent = JSON.stringify(results, null, 2);
globalThis.results = results;
