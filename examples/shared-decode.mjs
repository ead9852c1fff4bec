// A worker pool that decodes into arena buffers on one shared heap while the
// main thread reads them: `node examples/shared-decode.mjs`.
//
// The main thread creates a shared heap and posts its descriptor to each
// worker. A worker attaches to it and keeps one arena per batch of jobs: it
// decodes each job (run-length encoded bytes here) straight into a buffer of
// that arena and posts back only the pointer and length. The main thread
// reads the bytes where they are (no copy, no transfer), and once it has
// read a whole batch it tells the worker, which releases the batch's arena:
// every buffer of it goes back to the heap at once.
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { Heap } from "../dist/index.js";

const BATCH = 8;

/** Run-length encoding: pairs of (count, byte). */
function encode(bytes) {
  const out = [];
  for (let i = 0; i < bytes.length; ) {
    let run = 1;
    while (i + run < bytes.length && bytes[i + run] === bytes[i] && run < 255) run++;
    out.push(run, bytes[i]);
    i += run;
  }
  return Uint8Array.from(out);
}

if (!isMainThread) {
  const heap = await Heap.attach(workerData.descriptor);
  const batches = new Map(); // batch number -> its arena
  parentPort.on("message", (message) => {
    if (message.type === "release") {
      batches.get(message.batch).release();
      batches.delete(message.batch);
      parentPort.postMessage({ released: message.batch });
      return;
    }
    const { id, batch, encoded } = message;
    if (!batches.has(batch)) batches.set(batch, heap.createArena({ name: `batch ${batch}` }));
    const arena = batches.get(batch);
    let length = 0;
    for (let i = 0; i < encoded.length; i += 2) length += encoded[i];
    const ptr = arena.alloc(length);
    const out = new Uint8Array(heap.memory.buffer, ptr, length);
    for (let i = 0, at = 0; i < encoded.length; i += 2) {
      out.fill(encoded[i + 1], at, at + encoded[i]);
      at += encoded[i];
    }
    parentPort.postMessage({ id, batch, ptr, length });
  });
} else {
  const heap = await Heap.create({ shared: true, maxPages: 1024 });
  const workers = [0, 1].map(() => new Worker(new URL(import.meta.url), { workerData: { descriptor: heap.share() } }));

  // Jobs: images of stripes, compressed; job j goes to worker j % 2, batches of BATCH jobs per worker.
  const jobs = Array.from({ length: 64 }, (_, id) => {
    const image = new Uint8Array(20_000 + id * 500);
    for (let i = 0; i < image.length; i++) image[i] = (Math.floor(i / (50 + id)) * 7) & 255;
    return { id, image, encoded: encode(image) };
  });

  const pending = new Map(); // `${worker}:${batch}` -> jobs still to read
  let read = 0;
  let bytes = 0;
  let released = 0;
  await new Promise((resolve, reject) => {
    workers.forEach((worker, w) => {
      worker.on("error", reject);
      worker.on("message", ({ id, batch, ptr, length, released: done }) => {
        if (done !== undefined) {
          // Every batch released: no worker is in a call on the heap any more.
          if (++released === pending.size) resolve();
          return;
        }
        // Read the decoded bytes in place, in the shared memory.
        const decoded = new Uint8Array(heap.memory.buffer, ptr, length);
        const expected = jobs[id].image;
        if (length !== expected.length || !decoded.every((byte, i) => byte === expected[i])) {
          reject(new Error(`job ${id} decoded wrong`));
          return;
        }
        read++;
        bytes += length;
        const key = `${w}:${batch}`;
        const left = pending.get(key) - 1;
        pending.set(key, left);
        // A batch read to the end: its worker releases all its buffers at once.
        if (left === 0) worker.postMessage({ type: "release", batch });
      });
    });
    jobs.forEach((job, j) => {
      const w = j % workers.length;
      const batch = Math.floor(j / workers.length / BATCH);
      const key = `${w}:${batch}`;
      pending.set(key, (pending.get(key) ?? 0) + 1);
      workers[w].postMessage({ id: job.id, batch, encoded: job.encoded }, []);
    });
  });
  console.log(
    `read ${read} decoded images (${bytes} B) in place from ${workers.length} workers; ` +
      `memory: ${heap.memory.buffer.byteLength / 65536} pages of 64 KiB`,
  );
  await Promise.all(workers.map((worker) => worker.terminate()));
}
