// What the example computes, the same in both pages: a histogram of 10,000
// samples kept in WebAssembly memory, one arena per "frame" with a cleanup
// action, and the order in which release() runs the cleanups (newest first).
// `Heap` is the class of whichever entry the page imported; `options` are
// Heap.create's (the slim page passes the .wasm URL of the core there).

/** A small deterministic generator (xorshift32), so that the page's numbers can be checked. */
function xorshift(seed) {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

export async function compute(Heap, options) {
  const heap = await Heap.create(options);
  const log = [];

  // A long-lived arena: the histogram, 16 bins of 32-bit counts.
  const app = heap.createArena({ name: "app" });
  const bins = app.allocZeroed(16 * 4);

  // One arena per frame: 10 frames of 1,000 samples as Float64 in wasm memory.
  const random = xorshift(2026);
  let sum = 0;
  for (let frame = 0; frame < 10; frame++) {
    const arena = app.createChild({ name: `frame ${frame}` });
    arena.add(() => log.push(`frame ${frame} released`), undefined, "log");
    const samples = arena.alloc(1000 * 8, { align: 8 });
    const values = arena.view(samples, Float64Array);
    for (let i = 0; i < values.length; i++) values[i] = random();
    // Views are taken anew after anything that allocates (memory may have grown).
    const counts = app.view(bins, Uint32Array);
    for (const value of arena.view(samples, Float64Array)) {
      counts[Math.floor(value * 16)]++;
      sum += value;
    }
    if (frame % 3 !== 2) arena.release(); // frames 2, 5 and 8 stay until the app's release
  }
  const histogram = [...app.view(bins, Uint32Array)];
  const stats = app.stats();
  app.add(() => log.push("app released"), undefined, "log");
  app.release(); // newest first: "app released", then the frames still live, 8, 5 and 2
  return {
    samples: histogram.reduce((a, b) => a + b, 0),
    histogram,
    mean: Math.round((sum / 10_000) * 1000) / 1000,
    children: stats.children,
    log,
    memoryPages: heap.memory.buffer.byteLength / 65536,
  };
}

/** Shows `results` in the page and publishes them as window.results (the test reads them there). */
export function show(results) {
  document.getElementById("output").textContent = JSON.stringify(results, null, 2);
  globalThis.results = results;
}

/** Shows an error the same way. */
export function showError(error) {
  document.getElementById("output").textContent = String(error?.stack ?? error);
  globalThis.results = { error: String(error?.stack ?? error) };
}
