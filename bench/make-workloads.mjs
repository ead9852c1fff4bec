#!/usr/bin/env node
// Writes the workloads shipped in bench/workloads/ (docs/workloads.md): each
// is recorded, with recordWorkload() from managed-arena/workload, from a small
// program that runs on managed-arena, driven by a seeded PRNG, so the files
// are the same on every run and every machine.
//
//   node bench/make-workloads.mjs           writes them
//   node bench/make-workloads.mjs --check   exits 1 if a committed file differs from what it would write
//
// Needs the build (dist/): `npm run workloads` builds first.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Heap } from "../dist/index.js";
import { recordWorkload } from "../dist/workload.js";

const directory = join(dirname(fileURLToPath(import.meta.url)), "workloads");

/** mulberry32, as tools/bench/stats.ts. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const between = (random, lo, hi) => lo + Math.floor(random() * (hi - lo + 1));

/**
 * A request-scoped server: a long-lived arena holds per-connection state; each
 * request gets an arena of its own (headers, a parsed URL, a body buffer,
 * strings), sometimes a child arena for a sub-task (a template render), frees
 * a few scratch blocks early, and is released whole at its end.
 */
function requestScoped(heap, random) {
  const server = heap.createArena({ name: "server" });
  const connections = [];
  for (let i = 0; i < 4; i++) connections.push(server.alloc(between(random, 512, 2048)));
  for (let r = 0; r < 48; r++) {
    const request = heap.createArena({ name: "request" });
    request.alloc(between(random, 200, 900)); // headers
    request.alloc(between(random, 24, 120)); // URL
    const scratch = [];
    for (let i = between(random, 3, 8); i > 0; i--) scratch.push(request.alloc(between(random, 8, 96)));
    let body = request.alloc(between(random, 64, 512));
    if (random() < 0.3) body = request.realloc(body, between(random, 1024, 16384));
    for (const ptr of scratch) if (random() < 0.4) request.free(ptr);
    if (random() < 0.25) {
      const render = request.createChild({ name: "render" });
      for (let i = between(random, 2, 6); i > 0; i--) render.alloc(between(random, 32, 1024));
      render.release();
    }
    request.alloc(between(random, 100, 3000)); // the response
    request.release();
    // Now and then a connection closes and another opens.
    if (random() < 0.1) {
      const k = between(random, 0, connections.length - 1);
      server.free(connections[k]);
      connections[k] = server.alloc(between(random, 512, 2048));
    }
  }
}

/**
 * A sliding window of random lifetimes: 150 blocks live at every moment; each
 * step frees one chosen at random and allocates its replacement. Sizes as the
 * built-in random-lifetime scenario's: 70% 8-64 B, 25% 65-1024 B, 5% 1-64 KiB.
 */
function slidingWindow(heap, random) {
  const arena = heap.createArena({ name: "cache" });
  const size = () => {
    const r = random();
    if (r < 0.7) return between(random, 8, 64);
    if (r < 0.95) return between(random, 65, 1024);
    return between(random, 1025, 65536);
  };
  const live = [];
  for (let i = 0; i < 150; i++) live.push(arena.alloc(size()));
  for (let step = 0; step < 420; step++) {
    const k = between(random, 0, live.length - 1);
    arena.free(live[k]);
    live[k] = arena.alloc(size());
  }
}

/**
 * Growing buffers: documents built in arenas of their own; each holds a few
 * buffers that grow as they are appended to (realloc by half again, as a
 * vector does, up to 16-96 KiB), with small allocations between the steps
 * (the records appended), then the document is released.
 */
function growingBuffers(heap, random) {
  for (let d = 0; d < 10; d++) {
    const doc = heap.createArena({ name: "document" });
    const buffers = [];
    const capacity = [];
    const limit = [];
    for (let i = between(random, 2, 4); i > 0; i--) {
      const size = between(random, 32, 128);
      buffers.push(doc.alloc(size));
      capacity.push(size);
      limit.push(between(random, 16384, 98304));
    }
    for (let step = 0; step < 40; step++) {
      const k = between(random, 0, buffers.length - 1);
      if (capacity[k] < limit[k]) {
        capacity[k] = Math.min(limit[k], Math.ceil(capacity[k] * 1.5));
        buffers[k] = doc.realloc(buffers[k], capacity[k]);
      }
      if (random() < 0.6) doc.alloc(between(random, 16, 256));
    }
    // The finished document is copied out; its largest buffer dropped first.
    doc.free(buffers[0]);
    doc.release();
  }
}

const WORKLOADS = [
  [
    "request-scoped",
    "an arena per request (some with a child arena), released whole; a long-lived server arena",
    0x5e1,
    requestScoped,
  ],
  ["sliding-window", "150 live blocks of 8 B-64 KiB, one freed at random and replaced per step", 0x51d, slidingWindow],
  [
    "growing-buffers",
    "documents whose buffers grow by realloc (x1.5) to 16-96 KiB, small allocations between",
    0x9a0,
    growingBuffers,
  ],
];

const check = process.argv.includes("--check");
let differs = 0;
for (const [name, description, seed, program] of WORKLOADS) {
  const recorder = recordWorkload({ name, description });
  const heap = recorder.attach(await Heap.create({ trace: recorder.trace }));
  program(heap, prng(seed));
  const text = recorder.toString();
  const path = join(directory, `${name}.jsonl`);
  if (check) {
    let committed = "";
    try {
      committed = readFileSync(path, "utf8");
    } catch {}
    if (committed !== text) {
      console.error(`${path}: differs from what bench/make-workloads.mjs writes`);
      differs++;
    }
  } else {
    writeFileSync(path, text);
    console.error(`${path}: ${recorder.ops.length} ops, ${text.length} B`);
  }
}
process.exit(differs === 0 ? 0 : 1);
