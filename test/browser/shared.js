// A shared heap in the browser (test/browser.test.ts): on a cross-origin
// isolated page (shared-isolated.html, served with COOP/COEP), two module
// workers (shared-worker.js, served with COEP) attach to a heap the page
// created, allocate and fill blocks while the page allocates too, post
// their pointers back; the page checks every pattern and the heap
// (check()), the workers release, every page comes back. On a page that is
// not isolated (shared-plain.html), the browser has no SharedArrayBuffer and
// Heap.create({ shared: true }) is EINVAL.
import { Heap } from "/dist/debug-entry.js";

const results = {};
try {
  results.isolated = globalThis.crossOriginIsolated === true;
  // Where SharedArrayBuffer comes from isolation alone (the test asserts it): a browser flag can
  // give it to every page (@sparticuz/chromium's own flags do; test/browser/chromium.ts drops them).
  results.sharedArrayBuffer = typeof SharedArrayBuffer === "function";
  if (!results.sharedArrayBuffer) {
    try {
      await Heap.create({ shared: true });
      results.created = true;
    } catch (error) {
      results.code = error.code;
    }
  } else {
    const heap = await Heap.create({ shared: true, debug: true, maxPages: 2048 });
    results.shared = heap.shared && heap.memory.buffer instanceof SharedArrayBuffer;
    const mine = heap.createArena({ name: "page" });
    const workers = [0, 1].map(() => new Worker(new URL("./shared-worker.js", import.meta.url), { type: "module" }));
    const ask = (worker, message) =>
      new Promise((resolve, reject) => {
        worker.onmessage = (event) =>
          event.data?.error ? reject(new Error(`worker: ${event.data.error}`)) : resolve(event.data);
        worker.onerror = (event) =>
          reject(
            new Error(`worker failed: ${event.message || event.type} ${event.filename ?? ""}:${event.lineno ?? ""}`),
          );
        worker.postMessage(message);
      });
    const filled = workers.map((worker, index) => ask(worker, { descriptor: heap.share(), index, count: 3000 }));
    // The page allocates meanwhile (its lock spins: a page's main thread may not wait).
    const own = [];
    for (let i = 0; i < 3000; i++) {
      const ptr = mine.alloc(1 + ((i * 131) % 9000));
      mine.bytes(ptr).fill(200);
      own.push(ptr);
      if (i % 500 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const answers = await Promise.all(filled);
    const blocks = answers.map((answer) => answer.blocks);
    results.lagged = answers.reduce((sum, answer) => sum + answer.lagged, 0);
    results.workersIsolated = answers.map((answer) => answer.isolated);
    let bad = 0;
    blocks.forEach((list, index) => {
      for (const [ptr, size] of list) {
        const bytes = new Uint8Array(heap.memory.buffer, ptr, size);
        if (!bytes.every((byte) => byte === index + 1)) bad++;
      }
    });
    for (const ptr of own) if (!mine.bytes(ptr).every((byte) => byte === 200)) bad++;
    results.blocks = blocks.reduce((sum, list) => sum + list.length, 0);
    results.bad = bad;
    results.checkDuring = heap.check();
    results.released = await Promise.all(workers.map((worker) => ask(worker, "release")));
    mine.release();
    results.checkAfter = heap.check();
    const words = new Uint32Array(heap.memory.buffer);
    const info = heap.core.mapInfo() >>> 2;
    let used = 0;
    for (let page = words[info + 2]; page < words[info + 6]; page++) {
      const owner = words[(words[info] >>> 2) + page];
      if (owner !== 0 && owner !== 2) used++;
    }
    results.pagesInUse = used;
    for (const worker of workers) worker.terminate();
  }
} catch (error) {
  results.error = String(error?.stack ?? error);
}
document.getElementById("output").textContent = JSON.stringify(results, null, 2);
globalThis.results = results;
