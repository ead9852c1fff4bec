#!/usr/bin/env node
// Throughput of 1, 2 and 4 workers on one shared heap (Heap.create({ shared:
// true }), each worker Heap.attach-ed) against each worker on a heap of its
// own (plain, and shared but unshared), on the built library (dist/):
//
//   node bench/shared-threads.mjs [--ms 1000] [--workers 1,2,4] [--repeat 3]
//
// Workloads, per worker, in a loop for --ms milliseconds:
//   alloc+free   alloc(64) then free it, in runs of 100 (the arena-local fast path: no lock)
//   arena cycle  createArena, 8 allocations of 64..1024 B, release (on a shared heap the
//                record and the runs of slots come from the thread's cache and go back
//                there: no heap lock once it is warm; assembly/cache.ts)
// Prints operations per second summed over the workers (median of --repeat).
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

const lib = new URL("../dist/index.js", import.meta.url).href;

if (!isMainThread) {
  const { Heap } = await import(lib);
  const { mode, descriptor, ms, workload } = workerData;
  const heap = mode === "shared" ? await Heap.attach(descriptor) : await Heap.create({ shared: mode === "own-shared" });
  const ptrs = new Array(100);
  let ops = 0;
  const run = (deadline) => {
    if (workload === "alloc+free") {
      const arena = heap.createArena();
      while (performance.now() < deadline) {
        for (let i = 0; i < 100; i++) ptrs[i] = arena.alloc(64);
        for (let i = 0; i < 100; i++) arena.free(ptrs[i]);
        ops += 100;
      }
      arena.release();
    } else {
      while (performance.now() < deadline) {
        for (let k = 0; k < 20; k++) {
          const arena = heap.createArena();
          for (let i = 0; i < 8; i++) arena.alloc(64 << (i & 3));
          arena.release();
        }
        ops += 20;
      }
    }
  };
  run(performance.now() + 100); // warm-up
  ops = 0;
  // Start together: the main thread flips the gate.
  const gate = new Int32Array(workerData.gate);
  Atomics.add(gate, 1, 1);
  Atomics.wait(gate, 0, 0);
  const start = performance.now();
  run(start + ms);
  parentPort.postMessage({ ops, seconds: (performance.now() - start) / 1000 });
} else {
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? args[at + 1] : fallback;
  };
  const ms = Number(option("ms", "1000"));
  const counts = option("workers", "1,2,4").split(",").map(Number);
  const repeat = Number(option("repeat", "3"));
  const { Heap } = await import(lib);

  async function once(mode, count, workload) {
    const heap = mode === "shared" ? await Heap.create({ shared: true }) : undefined;
    const descriptor = heap?.share();
    const gate = new SharedArrayBuffer(8);
    const gateView = new Int32Array(gate);
    const workers = Array.from(
      { length: count },
      () => new Worker(new URL(import.meta.url), { workerData: { mode, descriptor, ms, workload, gate } }),
    );
    const results = workers.map(
      (w) =>
        new Promise((resolve, reject) => {
          w.once("message", resolve);
          w.once("error", reject);
        }),
    );
    while (Atomics.load(gateView, 1) < count) await new Promise((r) => setTimeout(r, 5));
    Atomics.store(gateView, 0, 1);
    Atomics.notify(gateView, 0);
    const done = await Promise.all(results);
    await Promise.all(workers.map((w) => w.terminate()));
    return done.reduce((sum, r) => sum + r.ops / r.seconds, 0);
  }

  const median = (values) => values.sort((a, b) => a - b)[values.length >> 1];
  console.log(
    `ops/s summed over workers, median of ${repeat} runs of ${ms} ms (cores: ${(await import("node:os")).availableParallelism()})`,
  );
  console.log(["workload", "workers", "own plain heap", "own shared heap", "one shared heap"].join("\t"));
  for (const workload of ["alloc+free", "arena cycle"]) {
    for (const count of counts) {
      const row = [];
      for (const mode of ["own-plain", "own-shared", "shared"]) {
        const runs = [];
        for (let i = 0; i < repeat; i++) runs.push(await once(mode, count, workload));
        row.push(median(runs));
      }
      console.log([workload, count, ...row.map((v) => `${(v / 1e6).toFixed(2)} M`)].join("\t"));
    }
  }
}
